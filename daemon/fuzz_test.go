package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/testwait"
)

// panicLog records log lines that report a recovered panic: net/http turns a
// handler's panic into a log line, which a fuzz target must still catch.
type panicLog struct {
	mu     sync.Mutex
	panics []string
}

func (p *panicLog) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		p.mu.Lock()
		p.panics = append(p.panics, r.Message)
		p.mu.Unlock()
	}
	return nil
}
func (p *panicLog) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicLog) WithGroup(string) slog.Handler      { return p }

func (p *panicLog) check(t *testing.T) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.panics) > 0 {
		t.Fatalf("server recovered a panic: %s", p.panics[0])
	}
}

// exchange writes in to a new connection, half-closes it, and returns
// everything the server sent until it closed.
func exchange(t *testing.T, path string, in []byte) []byte {
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(testwait.Deadline(t))
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(in)
		c.(*net.UnixConn).CloseWrite()
		werr <- err
	}()
	out, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("server neither answered nor closed: %v", err)
	}
	<-werr // the server may hang up before reading everything; that is fine
	return out
}

// checkLines fails unless out holds exactly one answer, each one JSON value,
// for every line of in that is not blank (nothing but JSON whitespace). One
// answer missing or extra leaves a pipelining client out of step.
func checkLines(t *testing.T, in, out []byte) {
	if len(out) > 0 && out[len(out)-1] != '\n' {
		t.Fatalf("answer without final newline: %q", out)
	}
	lines := bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
	if len(out) == 0 {
		lines = nil
	}
	if want := answersWanted(in); len(lines) != want {
		t.Fatalf("%d answers for %d non-blank lines in %q", len(lines), want, in)
	}
	for _, l := range lines {
		if !json.Valid(l) {
			t.Fatalf("answer is not JSON: %q", l)
		}
	}
}

// answersWanted counts the lines of in that are not blank. It is written
// apart from the server's blankLine, from the rule itself, so that the fuzz
// target checks the server rather than repeating it.
func answersWanted(in []byte) int {
	n := 0
	for _, l := range bytes.Split(in, []byte("\n")) {
		if len(bytes.Trim(l, " \t\r")) > 0 {
			n++
		}
	}
	return n
}

func FuzzNDJSON(f *testing.F) {
	for _, seed := range []string{
		`{"op":"validate","token":"good"}` + "\n",
		`{"op":"validate","token":"good"}` + "\n" + `{"op":"validate","token":"revoked"}`,
		`{"token":"good","op":"validate"}` + "\r\n\n\n",
		`{"op":"validate","token":"go\u006fd"}` + "\n",
		`{"op":"validate","token":"good","op":"status"}` + "\n",
		`{"op":"revoke","jti":"x","exp":99999999999}` + "\n",
		`{"op":"revoke-all","sub":"1","before":"2030-01-01T00:00:00Z"}` + "\n",
		`{"op":"revoke-all","claim":"sid"}` + "\n",
		`{"op":"unban","sub":"1"}` + "\n" + `{"op":"status"}` + "\n",
		`{"op":` + "\n" + `}}}` + "\n" + `[1,2]` + "\n" + `"x"` + "\n" + `null` + "\n",
		`{"op":"validate","token":"` + "\xff\xfe" + `"}` + "\n",
		`{"op":"validate","token":"a\"b"}`,
		// Only space, tab and CR are blank; every other line gets an answer.
		" \t\r\n\n" + `{"op":"status"}` + "\n",
		"\v\n\f\n" + `{"op":"status"}` + "\n",
		"\u0085\n\u00a0\n \u00a0 \n",
		"\x00\n\x1c\x1d\x1e\x1f\n",
		strings.Repeat(" ", 600) + "\n" + strings.Repeat("\v", 600) + "\n" + `{"op":"status"}`,
		`{"op":"status"}` + "\v\n" + `{"op":"status"}` + "\f",
		`{"op":"validate","token":"good","expect":{"token_type":"refresh"}}` + "\n",
		`{"expect":{},"op":"validate","token":"good"}` + "\n" + `{"op":"validate","token":"good","expect":{"n":1}}` + "\n",
		// iss scopes revoke-all and unban to one issuer.
		`{"op":"revoke-all","sub":"1","iss":"https://a.example"}` + "\n" + `{"op":"unban","claim":"sid","value":"s","iss":"https://b.example"}` + "\n",
		`{"op":"revoke-all","sub":"1","iss":7}` + "\n" + `{"op":"unban","sub":"1","iss":null,"iss":""}` + "\n",
		// The token service: issue bodies good and bad, refresh, scoped revoke.
		`{"op":"issue","sub":"alice"}` + "\n" + `{"op":"issue","sub":"alice","claims":{"role":"admin","n":[1,{"x":null}]},"ttl":60}` + "\n",
		`{"op":"issue","sub":"a","claims":{"sid":"x"}}` + "\n" + `{"op":"issue","sub":"a","claims":{"orig_iat":1}}` + "\n",
		`{"op":"issue","sub":"a","claims":[1]}` + "\n" + `{"op":"issue","sub":"a","claims":"x"}` + "\n" + `{"op":"issue","sub":"a","claims":null}` + "\n",
		`{"op":"issue","sub":"a","ttl":-5}` + "\n" + `{"op":"issue","sub":"a","ttl":1e99}` + "\n" + `{"op":"issue","sub":"a","ttl":9223372036854775807}` + "\n",
		`{"op":"issue"}` + "\n" + `{"op":"issue","sub":""}` + "\n" + `{"op":"issue","sub":1}` + "\n",
		`{"op":"refresh","token":"good"}` + "\n" + `{"op":"refresh"}` + "\n" + `{"op":"refresh","token":"not.a.token"}` + "\n",
		`{"op":"revoke","token":"good","scope":"session"}` + "\n" + `{"op":"revoke","jti":"j","exp":99999999999,"scope":"subject"}` + "\n",
	} {
		f.Add([]byte(seed))
	}
	logs := &panicLog{}
	tf := newTokenFixture(f, pipeline.Config{}, SigningConfig{Rotation: true})
	ts := startServer(f, Config{Logger: slog.New(logs), MaxBodyBytes: 512, Tokens: tf.svc})
	f.Fuzz(func(t *testing.T, data []byte) {
		// The fast path must agree with encoding/json wherever it answers.
		if op, tok, ok := scanTokenObject(data); ok {
			var req struct {
				apitype.NDJSONOp
				apitype.ValidateRequest
			}
			if err := json.Unmarshal(data, &req); err != nil {
				t.Fatalf("fast path accepted what encoding/json rejects (%v): %q", err, data)
			}
			if req.Op != string(op) || req.Token != string(tok) {
				t.Fatalf("fast path read op %q token %q, encoding/json %q %q", op, tok, req.Op, req.Token)
			}
		}
		// Open with a status line so the connection is NDJSON whatever data
		// starts with.
		in := append([]byte(`{"op":"status"}`+"\n"), data...)
		checkLines(t, in, exchange(t, ts.path, in))
		logs.check(t)
	})
}

func FuzzHTTP(f *testing.F) {
	for _, seed := range []string{
		"POST /v1/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n{\"token\":\"good\"}",
		"GET /v1/auth HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n\r\n",
		"GET /v1/auth HTTP/1.1\r\nHost: x\r\nAuthorization: JWT\r\n\r\n",
		"GET /v1/validate HTTP/1.1\r\nHost: x\r\n\r\n",
		"DELETE /nope HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /v1/revoke HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"tok\r\n0\r\n\r\n",
		"POST /v1/revoke-all HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"sub\":",
		"HEAD /healthz HTTP/1.0\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GARBAGE\r\n\r\n",
		"POST /v1/unban HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n{\"sub\":\"1\"}GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /v1/revoke-all HTTP/1.1\r\nHost: x\r\nContent-Length: 37\r\n\r\n{\"sub\":\"1\",\"iss\":\"https://a.example\"}",
		"{\"op\":\"status\"}\n",
		"POST /v1/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"token\":\"good\",\"expect\":{\"token_type\":\"access\"}}",
		// RFC 7662 form bodies: every one is answered 200 with JSON.
		introspect("token=good&token_type_hint=access_token"),
		introspect("token=revoked"),
		introspect("token=good&token=good"),
		introspect("token=%zz"),
		introspect("token=good;x=1"),
		introspect("token"),
		introspect("=&&=&token=%67ood"),
		introspect(""),
		introspect("token=" + strings.Repeat("a", 600)),
		// The token service.
		postRequest("/v1/issue", `{"sub":"alice","claims":{"role":"admin"},"ttl":60}`),
		postRequest("/v1/issue", `{"sub":"alice","claims":{"jti":"x"}}`),
		postRequest("/v1/issue", `{"sub":"alice","claims":[]}`),
		postRequest("/v1/issue", `{"sub":"alice","ttl":"15m"}`),
		postRequest("/v1/refresh", `{"token":"not.a.token"}`),
		"GET /v1/jwks HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	// Back-channel logout form bodies and logout tokens: a logout, then a
	// replay, or a refusal in the spec's form.
	good := mintLogout(f, logoutClaimsFor("s-1", "alice", "fuzz-1"), "")
	head, payload, _ := strings.Cut(good, ".")
	payload, sig, _ := strings.Cut(payload, ".")
	for _, form := range []string{
		"logout_token=" + good,
		"logout_token=" + mintLogout(f, logoutClaimsFor("", "bob", "fuzz-2"), "JWT"),
		"logout_token=" + mintLogout(f, with(map[string]any{"nonce": "n", "jti": "fuzz-3"}), ""),
		// A second issuer's logout tokens, which this daemon does not
		// trust: signed with the trusted issuer's secret, and with a key
		// of the second issuer's own.
		"logout_token=" + mintLogout(f, with(map[string]any{"iss": "https://b.example", "jti": "fuzz-4"}), ""),
		"logout_token=" + mintLogoutWith(f, jwt.SigningMethodES256, keyB(), with(map[string]any{"iss": "https://b.example", "jti": "fuzz-5"})),
		"logout_token=" + mintLogout(f, with(map[string]any{"iss": testIssuer + "#b", "jti": "fuzz-6"}), ""),
		"logout_token=" + good + "&logout_token=" + good,
		"logout_token=" + head + "." + payload,
		"logout_token=" + head + ".." + sig,
		"logout_token=eyJhbGciOiJub25lIn0." + payload + ".",
		"logout_token=" + strings.Repeat("a", 600),
		"logout_token=%zz",
		"logout_token",
		"",
	} {
		f.Add([]byte(backchannelLogout(form)))
	}
	logs := &panicLog{}
	d, _, _ := newLogoutDaemon(f)
	tf := newTokenFixture(f, pipeline.Config{}, SigningConfig{Rotation: true})
	ts := startServer(f, Config{Logger: slog.New(logs), MaxBodyBytes: 512, MaxHeaderBytes: 4096, Logout: d.svc, Tokens: tf.svc})
	f.Fuzz(func(t *testing.T, data []byte) {
		out := exchange(t, ts.path, data)
		logs.check(t)
		if len(data) > 0 && data[0] == '{' {
			checkLines(t, data, out)
			return
		}
		if len(out) == 0 {
			return
		}
		// The first answer must parse; one from our handlers that reports an
		// error must be a JSON error.
		var req *http.Request
		if bytes.HasPrefix(data, []byte("HEAD ")) {
			req = &http.Request{Method: "HEAD"}
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), req)
		if err != nil {
			t.Fatalf("unparsable answer (%v): %q", err, out)
		}
		body, _ := io.ReadAll(resp.Body)
		if bytes.HasPrefix(data, []byte("POST /v1/introspect ")) && resp.StatusCode == http.StatusOK {
			// Active or not, and whatever the form: an introspection answer.
			var ir apitype.IntrospectResponse
			if err := json.Unmarshal(body, &ir); err != nil || (!ir.Active && string(body) != "{\"active\":false}\n") {
				t.Fatalf("introspection answer %q (%v)", body, err)
			}
		}
		if bytes.HasPrefix(data, []byte("POST /v1/backchannel-logout ")) && resp.Header.Get(apitype.VersionHeader) != "" {
			// A logout, or a refusal in the spec's error form.
			var le apitype.LogoutError
			switch {
			case resp.StatusCode == http.StatusOK && string(body) != "{}\n":
				t.Fatalf("logout answer %q", body)
			case resp.StatusCode == http.StatusBadRequest && (json.Unmarshal(body, &le) != nil || le.Error != apitype.LogoutInvalidRequest || le.Description == ""):
				t.Fatalf("logout refusal %q", body)
			case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusBadRequest:
				return
			}
		}
		if resp.Header.Get(apitype.VersionHeader) == "" || resp.StatusCode < 400 || req != nil {
			return
		}
		if resp.StatusCode == http.StatusUnauthorized { // /v1/auth: a validate answer
			if !json.Valid(body) {
				t.Fatalf("401 body is not JSON: %q", body)
			}
			return
		}
		if code := errorCode(body); !knownCodes[code] {
			t.Fatalf("error answer %d is not a JSON error: %s", resp.StatusCode, code)
		}
	})
}

// postRequest is a POST request of path with a JSON body.
func postRequest(path, body string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
}

// introspect is a POST /v1/introspect request with body as its form.
func introspect(body string) string {
	return fmt.Sprintf("POST /v1/introspect HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// backchannelLogout is a POST /v1/backchannel-logout request with body as
// its form.
func backchannelLogout(body string) string {
	return fmt.Sprintf("POST /v1/backchannel-logout HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

var knownCodes = map[string]bool{
	apitype.CodeBadRequest: true, apitype.CodeForbidden: true, apitype.CodeNotFound: true,
	apitype.CodeMethodNotAllowed: true, apitype.CodeTooLarge: true, apitype.CodeInternal: true,
	apitype.CodeUnavailable: true,
}
