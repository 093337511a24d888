package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/internal/testwait"
)

// idpClientID is the client id the Python identity providers address their
// logout tokens to, and the daemon's --backchannel-client-id.
const idpClientID = "app"

// idpPython returns a Python 3 that can import PyJWT and cryptography, which
// examples/idp/fake_idp.py needs: /usr/bin/python3 first (where Debian's
// python3-jwt and python3-cryptography go, while python3 on PATH may be a
// pyenv shim without them), else python3 on PATH. In CI it is required.
func idpPython(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	var tried []string
	for _, py := range candidates {
		out, err := exec.Command(py, "-c", "import jwt, cryptography").CombinedOutput()
		if err == nil {
			return py
		}
		tried = append(tried, fmt.Sprintf("%s (%v: %s)", py, err, bytes.TrimSpace(out)))
	}
	msg := "examples/idp/fake_idp.py needs Python 3 with PyJWT and cryptography " +
		"(apt-get install -y python3-jwt python3-cryptography); tried " + strings.Join(tried, ", ")
	if os.Getenv("REVOKD_CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// pyIdP is examples/idp/fake_idp.py running as a child process: an OpenID
// provider on 127.0.0.1 whose base URL is its issuer.
type pyIdP struct {
	url    string
	stderr *syncBuffer
	hc     *http.Client
}

// startPyIdP starts fake_idp.py signing with alg (RS256 or ES256) and
// waits for the URL it prints. It is killed when the test ends.
func startPyIdP(t *testing.T, python, alg string) *pyIdP {
	t.Helper()
	cmd := exec.Command(python, "../../examples/idp/fake_idp.py", "--alg", alg, "--client-id", idpClientID)
	stdout := &syncBuffer{}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	p := &pyIdP{stderr: &syncBuffer{}, hc: &http.Client{Transport: tr}}
	cmd.Stdout, cmd.Stderr = stdout, p.stderr
	// The provider stops at end of file on stdin: if this test binary dies,
	// the pipe closes and no provider outlives it.
	if _, err := cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start fake_idp.py: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("fake_idp.py %s (%s) stderr:\n%s", p.url, alg, p.stderr)
		}
	})
	waitFor(t, "fake_idp.py to print its URL", func() bool {
		select {
		case <-exited:
			t.Fatalf("fake_idp.py exited before printing its URL:\n%s", p.stderr)
		default:
		}
		return strings.Contains(stdout.String(), "\n")
	})
	p.url = strings.TrimSpace(strings.SplitN(stdout.String(), "\n", 2)[0])
	if !strings.HasPrefix(p.url, "http://127.0.0.1:") {
		t.Fatalf("fake_idp.py printed %q, want its http://127.0.0.1:port URL", p.url)
	}
	return p
}

// call posts req to one of the provider's control routes and decodes the
// answer into resp.
func (p *pyIdP) call(t *testing.T, route string, req, resp any) {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), testwait.Deadline(t))
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, "POST", p.url+route, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	res, err := p.hc.Do(r)
	if err != nil {
		t.Fatalf("fake_idp.py %s: %v", route, err)
	}
	defer res.Body.Close()
	var raw bytes.Buffer
	raw.ReadFrom(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("fake_idp.py %s %s: %d %s", route, body, res.StatusCode, raw.String())
	}
	if resp != nil {
		if err := json.Unmarshal(raw.Bytes(), resp); err != nil {
			t.Fatalf("fake_idp.py %s: answer %q: %v", route, raw.String(), err)
		}
	}
}

// token mints an access token for sub in session sid (aud "api", iat now
// with microseconds, an hour to live), signed with the current key, or with
// kid's ("ghost": a key under a kid no set has).
func (p *pyIdP) token(t *testing.T, sub, sid string, kid ...string) string {
	t.Helper()
	req := map[string]any{"sub": sub, "sid": sid}
	if len(kid) > 0 {
		req["kid"] = kid[0]
	}
	return p.mint(t, req)
}

// mint mints an access token as req says (see fake_idp.py's /control/token).
func (p *pyIdP) mint(t *testing.T, req map[string]any) string {
	t.Helper()
	var resp struct{ Token string }
	p.call(t, "/control/token", req, &resp)
	return resp.Token
}

// jwks fetches the provider's key set, as a relying party would.
func (p *pyIdP) jwks(t *testing.T) jose.JSONWebKeySet {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), testwait.Deadline(t))
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, "GET", p.url+"/jwks", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.hc.Do(r)
	if err != nil {
		t.Fatalf("GET %s/jwks: %v", p.url, err)
	}
	defer res.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(res.Body).Decode(&set); res.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("GET %s/jwks: %d (%v)", p.url, res.StatusCode, err)
	}
	return set
}

func (p *pyIdP) rotate(t *testing.T) string {
	t.Helper()
	var resp struct{ Kid string }
	p.call(t, "/control/rotate", struct{}{}, &resp)
	return resp.Kid
}

// delivery is a logout token the provider posted to the daemon's socket,
// and the answer.
type delivery struct {
	LogoutToken  string `json:"logout_token"`
	JTI          string `json:"jti"`
	Status       int    `json:"status"`
	Body         string `json:"body"`
	CacheControl string `json:"cache_control"`
}

// logout has the provider mint a logout token as req says (sid, sub,
// variant, jti, iss, or a token to send again) and post it to the daemon's
// /v1/backchannel-logout over the Unix socket, from Python.
func (p *pyIdP) logout(t *testing.T, socket string, req map[string]any) delivery {
	t.Helper()
	req["deliver_to"] = socket
	var d delivery
	p.call(t, "/control/logout", req, &d)
	if d.CacheControl != "no-store" {
		t.Errorf("back-channel logout answer %d %s has Cache-Control %q, want no-store", d.Status, d.Body, d.CacheControl)
	}
	return d
}

// failedFetches reads revokd_jwks_fetches_total{result="error"} of iss
// from /metrics.
func failedFetches(t *testing.T, hc *http.Client, iss string) float64 {
	t.Helper()
	_, _, metrics := httpDo(t, hc, "GET", "/metrics", "")
	prefix := fmt.Sprintf(`revokd_jwks_fetches_total{issuer=%q,result="error"} `, iss)
	for line := range strings.Lines(metrics) {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("/metrics line %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("/metrics has no line %q:\n%s", prefix, metrics)
	return 0
}

// TestE2EPythonIdP proves issue 12 against identity providers written in
// Python (examples/idp/fake_idp.py, with PyJWT): two providers, A (RS256)
// and B (ES256), found by OpenID discovery from an issuers file, issue the
// same subjects and sessions; the encryption and symmetric keys they also
// publish are passed over. A rotates its keys (an unknown kid refetches
// them), goes down (the set in use is kept and status shows the failed
// fetch), rotates while down and comes back. Both send back-channel
// logouts to the socket from Python: by sid and by sub, each reaching only
// its own issuer's sessions, a replay refused and harmless, and every kind
// of bad logout token refused with 400 invalid_request.
func TestE2EPythonIdP(t *testing.T) {
	python := idpPython(t)
	a := startPyIdP(t, python, "RS256")
	b := startPyIdP(t, python, "ES256")
	// Keys a relying party must pass over, as RFC 7517 §5 and docs/keys.md
	// say, next to the signing keys: an encryption key, a key for an
	// algorithm that is not a signature's, and a symmetric one.
	encKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	a.call(t, "/control/publish", map[string]any{"jwk": jose.JSONWebKey{Key: encKey.Public(), KeyID: "enc-1", Algorithm: "RSA-OAEP-256", Use: "enc"}}, nil)
	a.call(t, "/control/publish", map[string]any{"jwk": jose.JSONWebKey{Key: encKey.Public(), KeyID: "enc-2", Algorithm: "RSA-OAEP"}}, nil)
	b.call(t, "/control/publish", map[string]any{"jwk": jose.JSONWebKey{Key: []byte("a secret published is no secret"), KeyID: "hs-1"}}, nil)
	if n, m := len(a.jwks(t).Keys), len(b.jwks(t).Keys); n != 3 || m != 2 {
		t.Fatalf("A publishes %d keys and B %d, want 3 and 2", n, m)
	}

	dir := shortDir(t)
	file := filepath.Join(dir, "issuers.json")
	if err := os.WriteFile(file, fmt.Appendf(nil, `{"issuers": [
		{"issuer": %q, "oidc_discovery": true, "audiences": ["api"]},
		{"issuer": %q, "oidc_discovery": true, "audiences": ["api"]}
	]}`, a.url, b.url), 0o600); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "s.sock")
	// --jwks-min-refresh 1s lets an unknown kid refetch again a second
	// after the last one did; --jwks-timeout 1m lets a validation wait for
	// that fetch however busy the machine. --jwks-refresh stays an hour, so
	// every fetch after the first is one an unknown kid asked for.
	d := startProc(t, socket, nil, "serve", "--socket", socket, "--data-dir", filepath.Join(dir, "data"),
		"--issuers-file", file, "--backchannel-client-id", idpClientID,
		"--jwks-min-refresh", "1s", "--jwks-timeout", "1m", "--log-format", "json")
	d.waitReady(t)
	// A validation may wait for a fetch (--jwks-timeout), so the client
	// waits as long as the test may.
	hc := unixHTTPClient(t, socket)
	hc.Timeout = time.Until(testwait.Deadline(t))

	// validate returns the answer, and its JSON for messages.
	validate := func(tok string) (apitype.ValidateResponse, string) {
		t.Helper()
		code, _, body := httpDo(t, hc, "POST", "/v1/validate", fmt.Sprintf(`{"token":%q}`, tok))
		var v apitype.ValidateResponse
		if err := json.Unmarshal([]byte(body), &v); code != http.StatusOK || err != nil {
			t.Fatalf("validate: %d %s (%v)", code, body, err)
		}
		return v, strings.TrimSpace(body)
	}
	expectActive := func(what, tok, sub string) {
		t.Helper()
		if v, body := validate(tok); !v.Active || v.Sub != sub {
			t.Errorf("%s: validate = %s, want active with sub %q", what, body, sub)
		}
	}
	expectReason := func(what, tok, reason string) {
		t.Helper()
		if v, body := validate(tok); v.Active || v.Reason != reason {
			t.Errorf("%s: validate = %s, want inactive, %s", what, body, reason)
		}
	}
	// activeOnceRefetched waits for a token under a kid the daemon has not
	// fetched yet: until a refetch brings it, it is unknown_key, and
	// nothing else.
	activeOnceRefetched := func(what, tok string) {
		t.Helper()
		waitFor(t, what, func() bool {
			v, body := validate(tok)
			if !v.Active && v.Reason != apitype.ReasonUnknownKey {
				t.Fatalf("%s: validate = %s, want active, or unknown_key until a refetch", what, body)
			}
			return v.Active
		})
	}
	keySet := func(iss string) apitype.KeySetStatus {
		t.Helper()
		code, _, body := httpDo(t, hc, "GET", "/v1/status", "")
		var st apitype.StatusResponse
		if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
			t.Fatalf("status: %d %s (%v)", code, body, err)
		}
		for _, ks := range st.Issuers {
			if ks.Issuer == iss {
				return ks
			}
		}
		t.Fatalf("status lists no key set for %s: %s", iss, body)
		return apitype.KeySetStatus{}
	}

	// Two providers, one subject, one session id: both validate.
	a1 := a.token(t, "alice", "s1")
	b1 := b.token(t, "alice", "s1")
	expectActive("A's alice", a1, "alice")
	expectActive("B's alice", b1, "alice")
	// B cannot speak for A: a token claiming A's iss is checked with A's
	// keys only (after a refetch for B's kid, which A has not).
	expectReason("B's token claiming A as issuer", b.mint(t, map[string]any{"sub": "alice", "sid": "s1", "iss": a.url}), apitype.ReasonUnknownKey)
	if ks := keySet(a.url); ks.JWKSURL != a.url+"/jwks" || ks.JWKSError != "" {
		t.Errorf("A's key set: %+v, want jwks_url %s/jwks (from discovery) and no error", ks, a.url)
	}

	// A rotates: a new kid, published next to the old one. A token under
	// it refetches A's set.
	oldKid := kidOf(t, a1)
	newKid := a.rotate(t)
	a2 := a.token(t, "alice", "s2")
	if kidOf(t, a2) != newKid || newKid == oldKid {
		t.Fatalf("A's token after rotate has kid %q, want the new %q (old %q)", kidOf(t, a2), newKid, oldKid)
	}
	activeOnceRefetched("A's token under its new kid", a2)
	expectActive("A's token under the old kid, still published", a1, "alice")

	// A drops the old kid. The daemon learns of it at its next fetch, which
	// a token under a kid no set has (a "ghost") asks for; a1 was verified
	// and cached before, and must be verified again once the set changes.
	a.call(t, "/control/retire", map[string]any{"kid": oldKid}, nil)
	ghost := a.token(t, "mallory", "g", "ghost")
	waitFor(t, "A's dropped kid to stop validating", func() bool {
		expectReason("a token under a kid A never published", ghost, apitype.ReasonUnknownKey)
		v, body := validate(a1)
		if !v.Active && v.Reason != apitype.ReasonUnknownKey {
			t.Fatalf("A's token under its dropped kid: validate = %s, want active until a refetch, then unknown_key", body)
		}
		return !v.Active
	})
	expectActive("A's token under its new kid, after the old one is dropped", a2, "alice")
	expectActive("B's alice, through A's rotation", b1, "alice")

	// A goes down. Its set is kept: its tokens still validate. An unknown
	// kid asks for a fetch, which fails, and status says so.
	a.call(t, "/control/down", struct{}{}, nil)
	expectActive("A's token while A is down", a2, "alice")
	waitFor(t, "status to show A's failed fetch", func() bool {
		expectReason("a ghost kid while A is down", ghost, apitype.ReasonUnknownKey)
		return keySet(a.url).JWKSError != ""
	})
	if ks := keySet(a.url); !strings.Contains(ks.JWKSError, "503") || ks.JWKSErrorAt.IsZero() || ks.JWKSFetched.IsZero() {
		t.Errorf("A's key set while A is down: %+v, want a jwks_error naming the 503, its time, and the set kept", ks)
	}
	if ks := keySet(b.url); ks.JWKSError != "" {
		t.Errorf("B's key set while A is down: %+v, want no error", ks)
	}
	expectActive("A's token after a failed fetch", a2, "alice")
	if n := failedFetches(t, hc, a.url); n == 0 {
		t.Errorf("/metrics counts %v failed fetches for A, want at least one", n)
	}
	if n := failedFetches(t, hc, b.url); n != 0 {
		t.Errorf("/metrics counts %v failed fetches for B, want none", n)
	}
	expectActive("B's alice while A is down", b1, "alice")

	// A logout from A while its keys cannot be fetched: the kept set
	// verifies it.
	down := a.token(t, "dora", "s-down")
	if r := a.logout(t, socket, map[string]any{"sid": "s-down"}); r.Status != http.StatusOK || strings.TrimSpace(r.Body) != "{}" {
		t.Errorf("A's logout while A is down: %d %s, want 200 {}", r.Status, r.Body)
	}
	expectReason("dora's session after A's logout while down", down, apitype.ReasonSessionRevoked)

	// A rotates while down: the new kid cannot be fetched until A is back.
	downKid := a.rotate(t)
	a3 := a.token(t, "alice", "s3")
	expectReason("A's token under a kid made while A is down", a3, apitype.ReasonUnknownKey)
	a.call(t, "/control/up", struct{}{}, nil)
	activeOnceRefetched("A's token under the kid it made while down, once A is back", a3)
	if ks := keySet(a.url); ks.JWKSError != "" {
		t.Errorf("A's key set after a good fetch: %+v, want the error gone", ks)
	}
	if kidOf(t, a3) != downKid {
		t.Errorf("A's token after the rotation while down has kid %q, want %q", kidOf(t, a3), downKid)
	}

	// Back-channel logout by sid: A's session s1 of alice only. B's alice,
	// in a session also named s1, is another issuer's.
	sessionStart := float64(time.Now().UnixMicro()) / 1e6
	aS1 := a.mint(t, map[string]any{"sub": "alice", "sid": "s1", "iat": sessionStart})
	aS2 := a.token(t, "alice", "s2")
	aBob := a.token(t, "bob", "s9")
	bS1 := b.token(t, "alice", "s1")
	bS2 := b.token(t, "alice", "s2")
	first := a.logout(t, socket, map[string]any{"sid": "s1", "sub": "alice"})
	if first.Status != http.StatusOK || strings.TrimSpace(first.Body) != "{}" {
		t.Fatalf("A's logout of s1: %d %s, want 200 {}", first.Status, first.Body)
	}
	expectReason("A's alice in s1 after A's logout of s1", aS1, apitype.ReasonSessionRevoked)
	refreshed := a.mint(t, map[string]any{"sub": "alice", "sid": "s1", "claims": map[string]any{"orig_iat": sessionStart}})
	expectReason("A's alice in s1, refreshed after the logout but keeping its session start", refreshed, apitype.ReasonSessionRevoked)
	expectActive("A's alice in s2 after A's logout of s1", aS2, "alice")
	expectActive("A's bob after A's logout of s1", aBob, "bob")
	expectActive("B's alice in s1 after A's logout of s1", bS1, "alice")
	expectActive("B's alice in s2 after A's logout of s1", bS2, "alice")

	// Replays: the same token again, and a new token with the same jti,
	// are refused, and end nothing, not even a session s1 begun since.
	aS1Since := a.token(t, "alice", "s1")
	refused := func(what string, r delivery, description string) {
		t.Helper()
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if err := json.Unmarshal([]byte(r.Body), &e); r.Status != http.StatusBadRequest || err != nil ||
			e.Error != apitype.LogoutInvalidRequest || e.Description != description {
			t.Errorf("%s: %d %s, want 400 invalid_request %q", what, r.Status, r.Body, description)
		}
	}
	refused("A's logout of s1 sent again", a.logout(t, socket, map[string]any{"token": first.LogoutToken}), "jti was already used")
	refused("a new A logout of s2 reusing the jti", a.logout(t, socket, map[string]any{"sid": "s2", "jti": first.JTI}), "jti was already used")
	expectActive("A's alice in a session s1 begun after the logout, after the replays", aS1Since, "alice")
	expectActive("A's alice in s2 after a replayed jti named s2", aS2, "alice")

	// B's logout of its s1, with the jti A used: jtis are per issuer.
	if r := b.logout(t, socket, map[string]any{"sid": "s1", "jti": first.JTI}); r.Status != http.StatusOK {
		t.Errorf("B's logout of s1 with A's jti: %d %s, want 200", r.Status, r.Body)
	}
	expectReason("B's alice in s1 after B's logout of s1", bS1, apitype.ReasonSessionRevoked)
	expectActive("B's alice in s2 after B's logout of s1", bS2, "alice")
	expectActive("A's alice in s1 (begun since A's logout) after B's logout of s1", aS1Since, "alice")

	// Logout by sub alone: every session of A's alice, none of B's.
	if r := a.logout(t, socket, map[string]any{"sub": "alice"}); r.Status != http.StatusOK {
		t.Errorf("A's logout of alice: %d %s, want 200", r.Status, r.Body)
	}
	expectReason("A's alice in s2 after A's logout of alice", aS2, apitype.ReasonSubjectRevoked)
	expectReason("A's alice in s1 after A's logout of alice", aS1Since, apitype.ReasonSubjectRevoked)
	expectReason("A's alice under the kid made while down after A's logout of alice", a3, apitype.ReasonSubjectRevoked)
	expectActive("A's bob after A's logout of alice", aBob, "bob")
	expectActive("B's alice in s2 after A's logout of alice", bS2, "alice")

	// Bad logout tokens, each aimed at bob's session at A and each
	// refused for its own reason (docs/api.md, in the order checked),
	// leave it alone. Their jti is the same: a refused token records none.
	const badJTI = "bad-logout-jti"
	for _, tc := range []struct {
		name, variant, description string
		from                       *pyIdP
		extra                      map[string]any
	}{
		{"alg none", "alg_none", "alg is not allowed", a, nil},
		{"HS256, an algorithm-confusion attempt", "hs256", "alg is not allowed", a, nil},
		{"an issuer no entry names", "wrong_iss", "iss is not a configured issuer", a, nil},
		{"another key under A's kid", "bad_signature", "signature does not verify", a, nil},
		{"typ JWT", "wrong_typ", "typ is not logout+jwt", a, nil},
		{"aud another client", "wrong_aud", "aud names no configured client id", a, nil},
		{"iat ten minutes old", "old_iat", "iat is older than the maximum age", a, nil},
		{"iat ten minutes ahead", "future_iat", "iat is in the future", a, nil},
		{"exp passed", "expired", "exp has passed", a, nil},
		{"no jti", "no_jti", "missing jti", a, nil},
		{"no events", "no_events", "events lacks the back-channel logout event", a, nil},
		{"the logout event not an object", "event_not_object", "events lacks the back-channel logout event", a, nil},
		{"neither sid nor sub", "no_sid_sub", "missing sid and sub", a, nil},
		{"a nonce", "nonce", "nonce is not allowed in a logout token", a, nil},
	} {
		req := map[string]any{"sid": "s9", "sub": "bob", "variant": tc.variant, "jti": badJTI}
		for k, v := range tc.extra {
			req[k] = v
		}
		refused(tc.name, tc.from.logout(t, socket, req), tc.description)
	}
	// A kid A's set lacks may be a key A has only just published: a 503,
	// which A sends again, not a refusal that would lose the logout.
	for _, tc := range []struct {
		name, variant string
		from          *pyIdP
		extra         map[string]any
	}{
		{"a kid A never published", "ghost_kid", a, nil},
		{"B's key, claiming A as issuer", "good", b, map[string]any{"iss": a.url}},
	} {
		req := map[string]any{"sid": "s9", "sub": "bob", "variant": tc.variant, "jti": badJTI}
		for k, v := range tc.extra {
			req[k] = v
		}
		if r := tc.from.logout(t, socket, req); r.Status != http.StatusServiceUnavailable || !strings.Contains(r.Body, "send it again") {
			t.Errorf("%s: %d %s, want 503 asking for it again", tc.name, r.Status, r.Body)
		}
	}
	expectActive("A's bob after every bad logout token", aBob, "bob")
	if r := a.logout(t, socket, map[string]any{"sid": "s9", "jti": badJTI}); r.Status != http.StatusOK {
		t.Errorf("A's good logout of s9 with the jti the refused ones carried: %d %s, want 200", r.Status, r.Body)
	}
	expectReason("A's bob after A's good logout of s9", aBob, apitype.ReasonSessionRevoked)
	expectActive("B's alice in s2 at the end", bS2, "alice")
}

// TestE2EPythonIdPDownAtStart: with B down when the daemon starts, the
// daemon is not ready and B's tokens are unavailable, not refused; B's
// logout token is a 503, which the provider may send again, not a 400.
// Once B answers, the retries fetch its keys, the daemon is ready, and the
// same logout token, sent again, ends the session.
func TestE2EPythonIdPDownAtStart(t *testing.T) {
	python := idpPython(t)
	a := startPyIdP(t, python, "RS256")
	b := startPyIdP(t, python, "ES256")
	b.call(t, "/control/down", struct{}{}, nil)

	dir := shortDir(t)
	file := filepath.Join(dir, "issuers.json")
	if err := os.WriteFile(file, fmt.Appendf(nil, `{"issuers": [
		{"issuer": %q, "oidc_discovery": true},
		{"issuer": %q, "oidc_discovery": true}
	]}`, a.url, b.url), 0o600); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "s.sock")
	d := startProc(t, socket, nil, "serve", "--socket", socket, "--data-dir", filepath.Join(dir, "data"),
		"--issuers-file", file, "--backchannel-client-id", idpClientID,
		"--jwks-min-refresh", "1s", "--jwks-timeout", "1m", "--log-format", "json")
	hc := unixHTTPClient(t, socket)
	hc.Timeout = time.Until(testwait.Deadline(t))
	status := func() (apitype.StatusResponse, bool) {
		c, err := hc.Get("http://revokd/v1/status")
		if err != nil {
			return apitype.StatusResponse{}, false
		}
		defer c.Body.Close()
		var st apitype.StatusResponse
		return st, c.StatusCode == http.StatusOK && json.NewDecoder(c.Body).Decode(&st) == nil
	}
	waitFor(t, "status to show B's failed discovery", func() bool {
		if d.hasExited() {
			t.Fatalf("revokd exited (%v):\n%s", d.err, d.stderr)
		}
		st, ok := status()
		if !ok {
			return false
		}
		for _, ks := range st.Issuers {
			if ks.Issuer == b.url && ks.JWKSError != "" {
				return true
			}
		}
		return false
	})
	if code, _, body := httpDo(t, hc, "GET", "/readyz", ""); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before B's keys: %d %s, want 503", code, body)
	}
	tok := b.token(t, "alice", "s1")
	if _, _, body := httpDo(t, hc, "POST", "/v1/validate", fmt.Sprintf(`{"token":%q}`, tok)); !strings.Contains(body, `"reason":"unavailable"`) {
		t.Errorf("B's token before B's keys: %s, want unavailable", body)
	}
	first := b.logout(t, socket, map[string]any{"sid": "s1"})
	if first.Status != http.StatusServiceUnavailable {
		t.Errorf("B's logout before B's keys: %d %s, want 503", first.Status, first.Body)
	}

	b.call(t, "/control/up", struct{}{}, nil)
	d.waitReady(t)
	if _, _, body := httpDo(t, hc, "POST", "/v1/validate", fmt.Sprintf(`{"token":%q}`, tok)); !strings.Contains(body, `"active":true`) {
		t.Errorf("B's token once B's keys are fetched: %s, want active", body)
	}
	if r := b.logout(t, socket, map[string]any{"token": first.LogoutToken}); r.Status != http.StatusOK {
		t.Errorf("B's logout sent again once B's keys are fetched: %d %s, want 200", r.Status, r.Body)
	}
	if _, _, body := httpDo(t, hc, "POST", "/v1/validate", fmt.Sprintf(`{"token":%q}`, tok)); !strings.Contains(body, `"reason":"session_revoked"`) {
		t.Errorf("B's token after B's logout: %s, want session_revoked", body)
	}
}
