package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
)

// tokenCallerEnv makes this test binary a helper process that calls the
// token service (see TestTokenCallerProcess). Its value is the socket
// path and two tokens to refresh.
const tokenCallerEnv = "REVOKD_TEST_TOKEN_CALLER"

// TestTokenCallerProcess is no test of its own: TestTokenServicePeers runs
// the test binary as another uid with tokenCallerEnv set, and this makes
// each call below, over NDJSON and over HTTP, printing one line per
// answer: the NDJSON answer line, or the HTTP status and body.
func TestTokenCallerProcess(t *testing.T) {
	spec := os.Getenv(tokenCallerEnv)
	if spec == "" {
		return
	}
	f := strings.Fields(spec)
	path, tok1, tok2 := f[0], f[1], f[2]
	nc := dialNDJSON(t, path)
	for _, line := range []string{
		`{"op":"issue","sub":"mallory"}`,
		fmt.Sprintf(`{"op":"refresh","token":%q}`, tok1),
		fmt.Sprintf(`{"op":"validate","token":%q}`, tok1),
		`{"op":"revoke-all","sub":"alice"}`,
	} {
		fmt.Print(nc.roundTrip(line))
	}
	hc := httpClient(t, path)
	code, body := post(t, hc, "/v1/issue", `{"sub":"mallory"}`)
	fmt.Printf("%d %s", code, body)
	code, body = post(t, hc, "/v1/refresh", fmt.Sprintf(`{"token":%q}`, tok2))
	fmt.Printf("%d %s", code, body)
	var next apitype.RefreshResponse
	json.Unmarshal(body, &next)
	code, body = post(t, hc, "/v1/revoke", fmt.Sprintf(`{"token":%q,"scope":"session"}`, next.Token))
	fmt.Printf("%d %s", code, body)
	code, body = post(t, hc, "/v1/unban", `{"sub":"alice"}`)
	fmt.Printf("%d %s", code, body)
}

// Issue is a privileged write: with a signing key and no write lists, only
// the daemon's own uid and root may mint (or revoke-all, or unban), and
// another uid is refused (403, an error line over NDJSON). Refresh, validate and a revoke with the
// token in hand stay open to it.
func TestTokenServicePeers(t *testing.T) {
	if os.Getuid() != 0 {
		const why = "TestTokenServicePeers needs root, to run a helper process as another uid"
		if os.Getenv("REVOKD_CI") != "" {
			t.Fatal(why + "; CI runs the tests as root")
		}
		t.Skip(why)
	}
	f := newTokenFixture(t, pipeline.Config{}, SigningConfig{Rotation: true})
	cfg := f.d.opts.Server
	cfg.Backend, cfg.Tokens = f.svc, f.svc
	ts := startServer(t, cfg)
	dir := filepath.Dir(ts.path)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(ts.path, 0o666); err != nil {
		t.Fatal(err)
	}
	bin := copyTestBinary(t, dir)

	// Root (this process) may mint, by either framing.
	nc := dialNDJSON(t, ts.path)
	var tok1 apitype.IssueResponse
	if err := json.Unmarshal([]byte(nc.roundTrip(`{"op":"issue","sub":"alice"}`)), &tok1); err != nil || tok1.Token == "" {
		t.Fatalf("root's NDJSON issue: %+v, %v", tok1, err)
	}
	code, body := post(t, httpClient(t, ts.path), "/v1/issue", `{"sub":"alice"}`)
	var tok2 apitype.IssueResponse
	if err := json.Unmarshal(body, &tok2); code != http.StatusOK || err != nil {
		t.Fatalf("root's HTTP issue: %d %s", code, body)
	}

	const nobody = 65534
	cmd := exec.Command(bin, "-test.run=^TestTokenCallerProcess$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %s", tokenCallerEnv, ts.path, tok1.Token, tok2.Token))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper process as uid %d: %v\n%s", nobody, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 8 {
		t.Fatalf("helper printed %q, want 8 answers", lines)
	}
	forbidden := fmt.Sprintf(`{"error":{"code":"forbidden","message":"forbidden: uid %d is not allowed to write"}}`, nobody)
	checks := []struct {
		what string
		ok   func(string) bool
	}{
		{"NDJSON issue refused", func(l string) bool { return l == forbidden }},
		{"NDJSON refresh open", func(l string) bool { return strings.HasPrefix(l, `{"token":"`) }},
		{"NDJSON validate open (the refreshed token is revoked)", func(l string) bool { return l == `{"active":false,"reason":"revoked"}` }},
		{"NDJSON revoke-all refused", func(l string) bool { return l == forbidden }},
		{"HTTP issue refused with 403", func(l string) bool { return l == "403 "+forbidden }},
		{"HTTP refresh open", func(l string) bool { return strings.HasPrefix(l, `200 {"token":"`) }},
		{"HTTP revoke of the session with the token in hand open", func(l string) bool { return l == `200 {"stored":true}` }},
		{"HTTP unban refused with 403", func(l string) bool { return l == "403 "+forbidden }},
	}
	for i, c := range checks {
		if !c.ok(lines[i]) {
			t.Errorf("uid %d, %s: got %s", nobody, c.what, lines[i])
		}
	}
}

func post(t testing.TB, hc *http.Client, path, body string) (int, []byte) {
	t.Helper()
	resp, err := hc.Post("http://revokd"+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}
