package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/client"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/internal/testwait"
)

// httpDo sends one request with a plain net/http client and returns the
// status, a header and the body.
func httpDo(t *testing.T, hc *http.Client, method, path, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://revokd"+path, r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestE2EHTTP(t *testing.T) {
	dir := shortDir(t)
	d := startDaemon(t, filepath.Join(dir, "s.sock"), filepath.Join(dir, "data"))
	hc := unixHTTPClient(t, d.socket)
	one := mint(t, jwt.MapClaims{"sub": "101", "jti": "http-1", "sid": "sess-1"})
	two := mint(t, jwt.MapClaims{"sub": "102", "jti": "http-2"})
	body := func(tok string) string { return fmt.Sprintf(`{"token":%q}`, tok) }

	steps := []struct {
		name       string
		method     string
		path       string
		body       string
		header     []string
		wantStatus int
		wantBody   []string // substrings
		wantHeader [2]string
	}{
		{"validate active", "POST", "/v1/validate", body(one), nil, 200, []string{`"active":true`, `"sub":"101"`, `"sid":"sess-1"`}, [2]string{apitype.VersionHeader, ""}},
		{"auth active", "GET", "/v1/auth", "", []string{"Authorization", "Bearer " + one}, 200, nil, [2]string{"X-Auth-Subject", "101"}},
		{"auth JWT scheme", "GET", "/v1/auth", "", []string{"Authorization", "JWT " + one}, 200, nil, [2]string{"X-Auth-Subject", "101"}},
		{"revoke", "POST", "/v1/revoke", body(one), nil, 200, []string{`{"stored":true}`}, [2]string{}},
		{"revoke again stores nothing", "POST", "/v1/revoke", body(one), nil, 200, []string{`{"stored":false}`}, [2]string{}},
		{"revoke garbage is 200", "POST", "/v1/revoke", body("garbage"), nil, 200, []string{`{"stored":false}`}, [2]string{}},
		{"validate revoked", "POST", "/v1/validate", body(one), nil, 200, []string{`"active":false`, `"reason":"revoked"`}, [2]string{}},
		{"auth revoked", "GET", "/v1/auth", "", []string{"Authorization", "Bearer " + one}, 401, nil, [2]string{"WWW-Authenticate", `Bearer error="invalid_token", error_description="revoked"`}},
		{"revoke-all", "POST", "/v1/revoke-all", `{"sub":"102"}`, nil, 200, []string{`"claim":"sub"`, `"value":"102"`}, [2]string{}},
		{"validate subject revoked", "POST", "/v1/validate", body(two), nil, 200, []string{`"reason":"subject_revoked"`}, [2]string{}},
		{"bad JSON", "POST", "/v1/validate", `{"token":`, nil, 400, []string{`"code":"bad_request"`}, [2]string{}},
		{"unknown route", "GET", "/v1/nope", "", nil, 404, []string{`"code":"not_found"`}, [2]string{}},
		{"wrong method", "GET", "/v1/validate", "", nil, 405, []string{`"code":"method_not_allowed"`}, [2]string{}},
		{"status", "GET", "/v1/status", "", nil, 200, []string{`"ready":true`, `"source":"bolt"`}, [2]string{}},
		{"healthz", "GET", "/healthz", "", nil, 200, nil, [2]string{}},
		{"readyz", "GET", "/readyz", "", nil, 200, nil, [2]string{}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			status, h, got := httpDo(t, hc, s.method, s.path, s.body, s.header...)
			if status != s.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", status, s.wantStatus, got)
			}
			for _, w := range s.wantBody {
				if !strings.Contains(got, w) {
					t.Errorf("body = %s, want it to contain %s", got, w)
				}
			}
			if name := s.wantHeader[0]; name != "" {
				if v := h.Get(name); v == "" || (s.wantHeader[1] != "" && v != s.wantHeader[1]) {
					t.Errorf("header %s = %q, want %q", name, v, s.wantHeader[1])
				}
			}
		})
	}
}

func TestE2ENDJSONPipelining(t *testing.T) {
	dir := shortDir(t)
	d := startDaemon(t, filepath.Join(dir, "s.sock"), filepath.Join(dir, "data"))
	good := mint(t, jwt.MapClaims{"sub": "201", "jti": "nd-1"})
	conn, err := net.Dial("unix", d.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(testwait.Deadline(t))

	// Every request goes out before any answer is read: the answers must
	// come back in order, one line each, and bad lines must not end the
	// connection.
	lines := []struct {
		req  string
		want []string
	}{
		{fmt.Sprintf(`{"op":"validate","token":%q}`, good), []string{`"active":true`, `"sub":"201"`}},
		{`{"op":"validate","token":"garbage"}`, []string{`"active":false`, `"reason":"malformed"`}},
		{`{"op":"validate","token":`, []string{`"error"`, `"code":"bad_request"`}},
		{`{"op":"frobnicate"}`, []string{`"code":"bad_request"`}},
		{fmt.Sprintf(`{"op":"revoke","token":%q}`, good), []string{`{"stored":true}`}},
		{fmt.Sprintf(`{"op":"validate","token":%q}`, good), []string{`"reason":"revoked"`}},
		{`{"op":"revoke-all","claim":"sid","value":"s-9"}`, []string{`"claim":"sid"`, `"value":"s-9"`}},
		{`{"op":"status"}`, []string{`"ready":true`, `"denials":1`, `"cutoffs":1`}},
	}
	var batch strings.Builder
	for _, l := range lines {
		batch.WriteString(l.req + "\n")
	}
	if _, err := io.WriteString(conn, batch.String()); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	for i, l := range lines {
		got, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		for _, w := range l.want {
			if !strings.Contains(got, w) {
				t.Errorf("answer %d to %.60s = %s, want it to contain %s", i, l.req, strings.TrimSpace(got), w)
			}
		}
	}
	// Still usable after all that.
	fmt.Fprintf(conn, `{"op":"validate","token":"x"}`+"\n")
	if got, err := r.ReadString('\n'); err != nil || !strings.Contains(got, `"reason":"malformed"`) {
		t.Errorf("after the batch: %q, %v; want a malformed answer", got, err)
	}
}

// revokeSome revokes one token by id and one subject through the client.
func revokeSome(t *testing.T, socket, token, sub string) {
	t.Helper()
	c := &client.Client{Socket: socket}
	defer c.Close()
	ctx := context.Background()
	if resp, err := c.Revoke(ctx, apitype.RevokeRequest{Token: token}); err != nil || !resp.Stored {
		t.Fatalf("revoke = %+v, %v; want stored", resp, err)
	}
	if _, err := c.RevokeAll(ctx, apitype.RevokeAllRequest{Sub: sub}); err != nil {
		t.Fatalf("revoke-all: %v", err)
	}
}

// wantReasons validates each token and checks its reason ("" = active).
func wantReasons(t *testing.T, socket string, want map[string]string) {
	t.Helper()
	c := &client.Client{Socket: socket}
	defer c.Close()
	for token, reason := range want {
		resp, err := c.Validate(context.Background(), token)
		if err != nil {
			t.Fatalf("validate: %v", err)
		}
		if resp.Reason != reason || resp.Active != (reason == "") {
			t.Errorf("token %.20s…: active=%v reason=%q, want reason %q", token, resp.Active, resp.Reason, reason)
		}
	}
}

func TestE2ERestartKeepsRevocations(t *testing.T) {
	dir := shortDir(t)
	socket, data := filepath.Join(dir, "s.sock"), filepath.Join(dir, "data")
	denied := mint(t, jwt.MapClaims{"sub": "301", "jti": "restart-1"})
	cutOff := mint(t, jwt.MapClaims{"sub": "302"})
	untouched := mint(t, jwt.MapClaims{"sub": "303"})
	want := map[string]string{denied: apitype.ReasonRevoked, cutOff: apitype.ReasonSubjectRevoked, untouched: ""}

	d := startDaemon(t, socket, data)
	revokeSome(t, socket, denied, "302")
	wantReasons(t, socket, want)

	// SIGTERM drains and removes the socket, exiting 0.
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
	if _, err := os.Lstat(socket); !os.IsNotExist(err) {
		t.Fatalf("socket still there after SIGTERM (lstat: %v)", err)
	}
	if !strings.Contains(d.stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no stopped log line:\n%s", d.stderr)
	}

	startDaemon(t, socket, data)
	wantReasons(t, socket, want)
}

func TestE2ESIGKILLLeavesStaleSocket(t *testing.T) {
	dir := shortDir(t)
	socket, data := filepath.Join(dir, "s.sock"), filepath.Join(dir, "data")
	denied := mint(t, jwt.MapClaims{"sub": "401", "jti": "kill-1"})

	d := startDaemon(t, socket, data)
	revokeSome(t, socket, denied, "402")
	d.stop(t, syscall.SIGKILL)
	fi, err := os.Lstat(socket)
	if err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("after SIGKILL the socket should be left behind: %v, %v", fi, err)
	}

	// The new daemon finds the dial refused, replaces the socket, and still
	// knows the revocation (it was durable before it was acknowledged).
	startDaemon(t, socket, data)
	wantReasons(t, socket, map[string]string{denied: apitype.ReasonRevoked})
}

func TestE2ESecondDaemonOnLiveSocket(t *testing.T) {
	dir := shortDir(t)
	socket, data := filepath.Join(dir, "s.sock"), filepath.Join(dir, "data")
	first := startDaemon(t, socket, data)
	token := mint(t, jwt.MapClaims{"sub": "501"})

	second := startProc(t, socket, nil, "serve", "--socket", socket, "--data-dir", filepath.Join(dir, "data2"),
		"--hmac-secret-file", writeSecret(t, dir))
	if code := second.wait(t); code == 0 {
		t.Fatalf("second daemon exited 0, want non-zero")
	}
	if want := "another revokd is already serving on " + socket; !second.stderr.Contains(want) {
		t.Errorf("second daemon's stderr = %q, want it to contain %q", second.stderr, want)
	}
	if first.hasExited() {
		t.Fatal("the first daemon exited")
	}
	wantReasons(t, socket, map[string]string{token: ""})
}

func TestE2ECLIExitCodes(t *testing.T) {
	dir := shortDir(t)
	socket := filepath.Join(dir, "s.sock")
	startDaemon(t, socket, filepath.Join(dir, "data"))
	token := mint(t, jwt.MapClaims{"sub": "601", "jti": "cli-1"})
	env := []string{"REVOKD_SOCKET=" + socket}
	steps := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{[]string{"healthcheck"}, 0, "ready"},
		{[]string{"validate", token}, 0, `"active":true`},
		{[]string{"revoke", token}, 0, `{"stored":true}`},
		{[]string{"validate", token}, 1, `"reason":"revoked"`},
		{[]string{"revoke-all", "--sub", "601"}, 0, `"value":"601"`},
		{[]string{"status"}, 0, `"ready": true`},
		{[]string{"validate", "--socket", filepath.Join(dir, "none.sock"), token}, 2, ""},
		{[]string{"healthcheck", "--socket", filepath.Join(dir, "none.sock")}, 1, ""},
		{[]string{"revoke-all"}, 2, ""},
	}
	for _, s := range steps {
		t.Run(strings.Join(s.args[:1], " "), func(t *testing.T) {
			p := startProc(t, socket, env, s.args...)
			if code := p.wait(t); code != s.wantCode {
				t.Errorf("revokd %v: exit %d, want %d; stdout %q stderr %q", s.args, code, s.wantCode, p.stdout, p.stderr)
			}
			if !strings.Contains(p.stdout.String(), s.wantOut) {
				t.Errorf("revokd %v: stdout %q, want it to contain %q", s.args, p.stdout, s.wantOut)
			}
		})
	}
}

// HTTP typed by hand on a raw connection, two requests pipelined, as a
// client without an HTTP library (or a proxy) would send them.
func TestE2ERawHTTP(t *testing.T) {
	dir := shortDir(t)
	d := startDaemon(t, filepath.Join(dir, "s.sock"), filepath.Join(dir, "data"))
	token := mint(t, jwt.MapClaims{"sub": "901"})
	conn, err := net.Dial("unix", d.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(testwait.Deadline(t))
	body := fmt.Sprintf(`{"token":%q}`, token)
	req := fmt.Sprintf("POST /v1/validate HTTP/1.1\r\nHost: revokd\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	req += "GET /v1/auth HTTP/1.1\r\nHost: revokd\r\nAuthorization: Bearer garbage\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	wants := []struct {
		status int
		body   string
	}{
		{200, `"sub":"901"`},
		{401, ""},
	}
	for i, w := range wants {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != w.status || !strings.Contains(string(b), w.body) {
			t.Errorf("response %d: %d %s; want %d containing %s", i, resp.StatusCode, b, w.status, w.body)
		}
	}
}
