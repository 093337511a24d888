package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestE2ENginxExample runs examples/nginx/nginx.conf, as shipped but for
// its three addresses, with Debian's nginx in front of a real daemon and a
// tiny app that echoes the subject nginx forwards.
func TestE2ENginxExample(t *testing.T) {
	nginx := findNginx(t)
	dir := shortDir(t)
	d := startDaemon(t, filepath.Join(dir, "s.sock"), filepath.Join(dir, "data"))
	app := startEchoApp(t)
	port := freeLoopbackPort(t)
	startNginx(t, nginx, filepath.Join(dir, "nginx"), map[string]string{
		"unix:/run/revokd/revokd.sock": "unix:" + d.socket,
		"server 127.0.0.1:8000;":       "server " + app.addr + ";",
		"listen 127.0.0.1:8080;":       "listen " + port + ";",
	})
	url := "http://" + port + "/api/page"

	active := mint(t, jwt.MapClaims{"sub": "alice", "jti": "nginx-active"})
	revoked := mint(t, jwt.MapClaims{"sub": "bob", "jti": "nginx-revoked"})
	resp, err := unixHTTPClient(t, d.socket).Post("http://revokd/v1/revoke", "application/json",
		strings.NewReader(`{"token":"`+revoked+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || !strings.Contains(string(b), `"stored":true`) {
		t.Fatalf("revoke: %d %s, want 200 and stored", resp.StatusCode, b)
	}
	resp.Body.Close()

	tests := []struct {
		name       string
		header     http.Header
		status     int
		body       string // the app's answer, when it is reached
		wwwAuth    string // the one WWW-Authenticate header's value, when 401
		stopDaemon bool
	}{
		{name: "active token reaches the app with its subject",
			// The client's own X-Auth-Subject must not survive.
			header: http.Header{"Authorization": {"Bearer " + active}, "X-Auth-Subject": {"mallory"}},
			status: 200, body: "subject=alice"},
		{name: "no token", status: 401, wwwAuth: `Bearer realm="revokd"`},
		{name: "revoked token", header: http.Header{"Authorization": {"Bearer " + revoked}},
			status: 401, wwwAuth: `Bearer error="invalid_token", error_description="revoked"`},
		{name: "daemon stopped", header: http.Header{"Authorization": {"Bearer " + active}},
			status: 503, stopDaemon: true},
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.stopDaemon {
				if code := d.stop(t, syscall.SIGTERM); code != 0 {
					t.Fatalf("revokd exited %d on SIGTERM", code)
				}
			}
			before := app.hits()
			req, _ := http.NewRequest("GET", url, nil)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d (body %q)", resp.StatusCode, tc.status, body)
			}
			if reached := app.hits() > before; reached != (tc.status == 200) {
				t.Errorf("app reached = %v, want %v", reached, tc.status == 200)
			}
			if tc.body != "" && string(body) != tc.body {
				t.Errorf("body = %q, want %q", body, tc.body)
			}
			got := resp.Header.Values("WWW-Authenticate")
			switch {
			case tc.wwwAuth != "" && (len(got) != 1 || got[0] != tc.wwwAuth):
				t.Errorf("WWW-Authenticate = %q, want exactly [%q]", got, tc.wwwAuth)
			case tc.wwwAuth == "" && len(got) != 0:
				t.Errorf("WWW-Authenticate = %q, want none", got)
			}
			if tc.status == 503 && resp.Header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After; headers %v", resp.Header)
			}
		})
	}
}

// findNginx returns nginx's path. In CI (REVOKD_CI set) a missing nginx
// fails the test; elsewhere the test skips and says what to install.
func findNginx(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("nginx")
	if err != nil {
		// Debian puts it in /usr/sbin, which a user's PATH may lack.
		if _, serr := os.Stat("/usr/sbin/nginx"); serr == nil {
			return "/usr/sbin/nginx"
		}
		if os.Getenv("REVOKD_CI") != "" {
			t.Fatal("nginx is required in CI (apt-get install -y nginx-light)")
		}
		t.Skip("nginx not installed; apt-get install -y nginx-light to run the nginx example's test")
	}
	return path
}

// echoApp is the app behind nginx: it answers with the subject nginx
// forwarded and counts the requests that reach it.
type echoApp struct {
	addr string
	n    chan struct{} // one send per request, buffered
}

func (a *echoApp) hits() int { return len(a.n) }

func startEchoApp(t *testing.T) *echoApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &echoApp{addr: ln.Addr().String(), n: make(chan struct{}, 1000)}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.n <- struct{}{}
		fmt.Fprintf(w, "subject=%s", strings.Join(r.Header.Values("X-Auth-Subject"), ","))
	})}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("app: %v", err)
		}
	})
	return a
}

// freeLoopbackPort returns a 127.0.0.1 address no one listens on now. Another
// process could take it before nginx does; nginx then fails to start and the
// test says so, with nginx's error.
func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startNginx renders the shipped example with each key of subst (which
// must occur exactly once, so the test cannot drift from the example)
// replaced by its value, runs nginx on it in the foreground under prefix,
// and waits until its port answers. Cleanup stops it and waits.
func startNginx(t *testing.T, nginx, prefix string, subst map[string]string) {
	t.Helper()
	src, err := os.ReadFile("../../examples/nginx/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(src)
	var listen string
	for from, to := range subst {
		if n := strings.Count(conf, from); n != 1 {
			t.Fatalf("examples/nginx/nginx.conf has %q %d times, want once", from, n)
		}
		conf = strings.Replace(conf, from, to, 1)
		if strings.HasPrefix(from, "listen ") {
			listen = strings.TrimSuffix(strings.TrimPrefix(to, "listen "), ";")
		}
	}
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	global := "daemon off;"
	if os.Geteuid() == 0 {
		// For the test only: as root, nginx would run its workers as
		// www-data, which cannot reach the daemon's socket in the test's
		// private 0700 directory. In real use the workers run as a user in
		// the socket's group (see the `user` comment in the example).
		global += " user root;"
	}
	var out bytes.Buffer
	cmd := exec.Command(nginx, "-p", prefix, "-e", "error.log", "-c", confPath, "-g", global)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	errorLog := func() string {
		b, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
		return out.String() + string(b)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT) // graceful: workers finish, then the master exits
		<-exited
		if t.Failed() {
			t.Logf("nginx output and error.log:\n%s", errorLog())
		}
	})
	// Wait for the port to answer, or for nginx to give up; the go test
	// timeout bounds the wait.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, err := net.Dial("tcp", listen); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("nginx exited before listening (%v):\n%s", err, errorLog())
		case <-tick.C:
		}
	}
}

// TestE2ENginxFailOpen runs the example with its commented fail-open lines
// switched on: revokd still decides while it answers, and requests go
// through, with no subject, once it is down.
func TestE2ENginxFailOpen(t *testing.T) {
	nginx := findNginx(t)
	dir := shortDir(t)
	d := startDaemon(t, filepath.Join(dir, "s.sock"), filepath.Join(dir, "data"))
	app := startEchoApp(t)
	port := freeLoopbackPort(t)
	startNginx(t, nginx, filepath.Join(dir, "nginx"), map[string]string{
		"unix:/run/revokd/revokd.sock":                 "unix:" + d.socket,
		"server 127.0.0.1:8000;":                       "server " + app.addr + ";",
		"listen 127.0.0.1:8080;":                       "listen " + port + ";",
		"#proxy_intercept_errors on;":                  "proxy_intercept_errors on;",
		"#error_page 502 503 504 = @revokd_fail_open;": "error_page 502 503 504 = @revokd_fail_open;",
	})
	url := "http://" + port + "/api/page"
	active := mint(t, jwt.MapClaims{"sub": "alice"})
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(token string) (int, string, []string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header.Values("WWW-Authenticate")
	}
	if code, body, _ := get(active); code != 200 || body != "subject=alice" {
		t.Errorf("daemon up, active token: %d %q, want 200 subject=alice", code, body)
	}
	if code, _, www := get(""); code != 401 || len(www) != 1 {
		t.Errorf("daemon up, no token: %d with WWW-Authenticate %q, want 401 with one", code, www)
	}
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("revokd exited %d on SIGTERM", code)
	}
	if code, body, _ := get(active); code != 200 || body != "subject=" {
		t.Errorf("daemon down, fail open: %d %q, want 200 with no subject", code, body)
	}
}
