package systemd

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// childEnv, when set, makes the test binary act as a socket-activated
// daemon instead of running tests; see activation_test.go.
const childEnv = "REVOKD_SYSTEMD_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(activatedChild())
	}
	goleak.VerifyTestMain(m)
}
