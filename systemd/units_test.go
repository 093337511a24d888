package systemd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unitSettings reads a unit file's Key=Value lines (section.Key → values).
func unitSettings(t *testing.T, name string) map[string][]string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	got := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Errorf("%s: line %q is not Key=Value", name, line)
			}
			got[section+"."+k] = append(got[section+"."+k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return got
}

// TestUnits checks the settings the code relies on: Ready and Watchdog need
// Type=notify and WatchdogSec=, systemctl reload needs ExecReload= to send
// SIGHUP, Listener needs one Unix stream socket, and the socket path is the
// daemon's default.
func TestUnits(t *testing.T) {
	service := unitSettings(t, "revokd.service")
	socket := unitSettings(t, "revokd.socket")
	tests := []struct {
		unit map[string][]string
		key  string
		want string // "" means: present, any value
	}{
		{service, "Service.Type", "notify"},
		{service, "Service.WatchdogSec", ""},
		{service, "Service.ExecReload", "/bin/kill -HUP $MAINPID"},
		{service, "Service.StateDirectory", "revokd"},
		{service, "Service.RuntimeDirectory", "revokd"},
		{service, "Service.RuntimeDirectoryPreserve", "yes"},
		{service, "Service.ProtectSystem", "strict"},
		{service, "Service.User", "revokd"},
		{service, "Unit.Requires", "revokd.socket"},
		{socket, "Socket.ListenStream", "/run/revokd/revokd.sock"},
		{socket, "Socket.SocketMode", "0660"},
		{socket, "Socket.Accept", "no"},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			got := tc.unit[tc.key]
			if len(got) != 1 || (tc.want != "" && got[0] != tc.want) {
				t.Errorf("%s = %q, want one value %q", tc.key, got, tc.want)
			}
		})
	}
	if n := len(socket["Socket.ListenStream"]) + len(socket["Socket.ListenDatagram"]) + len(socket["Socket.ListenSequentialPacket"]); n != 1 {
		t.Errorf("revokd.socket listens on %d sockets, want exactly one (Listener refuses more)", n)
	}
}

// TestUnitsVerify runs systemd's own checker on the units, with ExecStart
// pointed at a binary that exists.
func TestUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("REVOKD_CI") != "" {
			t.Fatal("systemd-analyze is required in CI (apt-get install -y systemd)")
		}
		t.Skip("systemd-analyze not installed; TestUnits still checks the settings the code relies on")
	}
	dir := t.TempDir()
	for _, name := range []string{"revokd.service", "revokd.socket"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		b = []byte(strings.ReplaceAll(string(b), "/usr/local/bin/revokd", "/bin/true"))
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
	}
	out, err := exec.Command(analyze, "verify", filepath.Join(dir, "revokd.socket"), filepath.Join(dir, "revokd.service")).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
