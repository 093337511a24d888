package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/revokd/revokd/client/apitype"
)

func TestStatusCommand(t *testing.T) {
	d := startInProcess(t)
	if code, _, stderr := runCLI(t, "revoke-all", "--socket", d.socket, "--sub", "frank"); code != exitOK {
		t.Fatalf("revoke-all: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "status", "--socket", d.socket)
	if code != exitOK {
		t.Fatalf("status: exit %d: %s", code, stderr)
	}
	var st apitype.StatusResponse
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("status stdout %q: %v", stdout, err)
	}
	if !st.Ready || st.Source != "bolt" || st.Cutoffs != 1 || st.LastVersion == 0 {
		t.Errorf("status = %+v, want ready, bolt, 1 cutoff and a version", st)
	}

	code, _, _ = runCLI(t, "status", "--socket", filepath.Join(t.TempDir(), "absent.sock"))
	if code != exitFail {
		t.Errorf("status without a daemon: exit %d, want %d", code, exitFail)
	}
}
