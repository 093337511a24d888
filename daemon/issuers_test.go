package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/clocktest"
)

// The two issuers of these tests, with the same subjects and sessions: A
// signs with the tests' HMAC secret, B with an EC key.
const (
	issA = "https://a.example"
	issB = "https://b.example"
)

var keyB = sync.OnceValue(func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

func pemB(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&keyB().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// twoIssuers are A and B as Options gives them.
func twoIssuers(t testing.TB) []Issuer {
	return []Issuer{
		{Issuer: pipeline.Issuer{Issuer: issA, Keys: pipeline.KeyMaterial{HMACSecret: testSecret}}},
		{Issuer: pipeline.Issuer{Issuer: issB, Keys: pipeline.KeyMaterial{PublicKeyPEMs: [][]byte{pemB(t)}}}},
	}
}

// newTwoIssuerDaemon assembles a daemon at t0 trusting A and B over a
// memSource, its replica ready; bc, if not nil, turns back-channel logout
// on.
func newTwoIssuerDaemon(t testing.TB, bc *BackchannelConfig) (*Daemon, *memSource) {
	t.Helper()
	d, src := openMemDaemon(t, clocktest.New(t0), Options{
		Pipeline:    pipeline.Config{Leeway: testLeeway},
		Issuers:     twoIssuers(t),
		Backchannel: bc,
	})
	d.replica.SetReady()
	d.replica.Touch()
	return d, src
}

// accessToken is a token of sub in session sid at iss (A or B, each with
// its own key), issued a minute before t0.
func accessToken(t testing.TB, iss, sub, sid string) string {
	t.Helper()
	c := jwt.MapClaims{"iss": iss, "sub": sub, "sid": sid, "iat": t0.Add(-time.Minute).Unix(), "exp": t0.Add(time.Hour).Unix()}
	if iss == issB {
		return mintES256(t, keyB(), c, nil)
	}
	return mintClaims(t, c)
}

func mintES256(t testing.TB, k *ecdsa.PrivateKey, c jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	for name, v := range header {
		tok.Header[name] = v
	}
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// reasons validates each named token and returns the reasons, "active"
// for an active one.
func reasons(svc *Service, tokens map[string]string) map[string]string {
	out := map[string]string{}
	for name, tok := range tokens {
		r := svc.Validate(tok)
		out[name] = r.Reason
		if r.Active() {
			out[name] = "active"
		}
	}
	return out
}

func checkReasons(t *testing.T, svc *Service, tokens, want map[string]string) {
	t.Helper()
	got := reasons(svc, tokens)
	for name := range tokens {
		w := want[name]
		if w == "" {
			w = "active"
		}
		if got[name] != w {
			t.Errorf("%s: reason %q, want %q", name, got[name], w)
		}
	}
}

// cutoffKeys lists the (claim, value) pairs the store holds cutoffs for.
func (m *memSource) cutoffKeys() map[[2]string]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[[2]string]bool{}
	for k := range m.cutoffs {
		out[k] = true
	}
	return out
}

// writeFraming sends a write by HTTP or as an NDJSON line and returns the
// status (NDJSON: 200, or 400 for a bad_request error) and the answer.
type writeFraming struct {
	name string
	send func(t *testing.T, path, op, body string) (int, string)
}

// messageOf is an error answer's message, or the answer as is.
func messageOf(answer string) string {
	var e apitype.ErrorResponse
	if json.Unmarshal([]byte(answer), &e) != nil || e.Error.Message == "" {
		return answer
	}
	return e.Error.Message
}

var writeFramings = []writeFraming{
	{"HTTP", func(t *testing.T, path, op, body string) (int, string) {
		resp, b := doHTTP(t, httpClient(t, path), "POST", "/v1/"+op, body, nil)
		return resp.StatusCode, string(b)
	}},
	{"NDJSON", func(t *testing.T, path, op, body string) (int, string) {
		line := dialNDJSON(t, path).roundTrip(`{"op":"` + op + `",` + strings.TrimPrefix(body, "{"))
		if strings.Contains(line, `"error"`) {
			if errorCode([]byte(line)) != apitype.CodeBadRequest {
				return 0, line
			}
			return http.StatusBadRequest, line
		}
		return http.StatusOK, line
	}},
}

// TestIssuersRevokeAll: with two issuers, revoke-all's iss scopes the
// cutoff to that issuer's subject or session by both framings; without
// it, the cutoff reaches both; an iss that names no trusted issuer is a
// 400 that says so, and writes nothing.
func TestIssuersRevokeAll(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		answer string            // the whole answer; "" for a refusal
		msg    string            // a piece of the refusal's message
		stored [2]string         // the cutoff the store holds
		want   map[string]string // token name -> reason; absent is active
	}{
		{
			name:   "sub at A",
			body:   `{"sub":"42","iss":"https://a.example"}`,
			answer: `{"claim":"sub","value":"42","iss":"https://a.example","before":"2027-01-15T12:00:00Z"}`,
			stored: [2]string{"sub", issA + "#42"},
			want:   map[string]string{"A 42 s-1": apitype.ReasonSubjectRevoked, "A 42 s-2": apitype.ReasonSubjectRevoked},
		},
		{
			name:   "sub at B as claim and value",
			body:   `{"claim":"sub","value":"42","iss":"https://b.example"}`,
			answer: `{"claim":"sub","value":"42","iss":"https://b.example","before":"2027-01-15T12:00:00Z"}`,
			stored: [2]string{"sub", issB + "#42"},
			want:   map[string]string{"B 42 s-1": apitype.ReasonSubjectRevoked},
		},
		{
			name:   "sid at A",
			body:   `{"claim":"sid","value":"s-1","iss":"https://a.example"}`,
			answer: `{"claim":"sid","value":"s-1","iss":"https://a.example","before":"2027-01-15T12:00:00Z"}`,
			stored: [2]string{"sid", issA + "#s-1"},
			want:   map[string]string{"A 42 s-1": apitype.ReasonSessionRevoked},
		},
		{
			name:   "sub at every issuer",
			body:   `{"sub":"42"}`,
			answer: `{"claim":"sub","value":"42","before":"2027-01-15T12:00:00Z"}`,
			stored: [2]string{"sub", "42"},
			want: map[string]string{"A 42 s-1": apitype.ReasonSubjectRevoked, "A 42 s-2": apitype.ReasonSubjectRevoked,
				"B 42 s-1": apitype.ReasonSubjectRevoked},
		},
		{
			name:   "sid at every issuer",
			body:   `{"claim":"sid","value":"s-1","iss":""}`,
			answer: `{"claim":"sid","value":"s-1","before":"2027-01-15T12:00:00Z"}`,
			stored: [2]string{"sid", "s-1"},
			want:   map[string]string{"A 42 s-1": apitype.ReasonSessionRevoked, "B 42 s-1": apitype.ReasonSessionRevoked},
		},
		{name: "unknown iss", body: `{"sub":"42","iss":"https://evil.example"}`, msg: `iss "https://evil.example" is not a trusted issuer`},
		{name: "iss with a trailing slash", body: `{"sub":"42","iss":"https://a.example/"}`, msg: `iss "https://a.example/" is not a trusted issuer`},
		{name: "value too long at its issuer", body: `{"sub":"` + strings.Repeat("x", cache.MaxValueBytes-2) + `","iss":"https://a.example"}`, msg: `value at issuer "https://a.example"`},
		{name: "iss not a string", body: `{"sub":"42","iss":7}`, msg: `"iss" must be a string`},
	}
	for _, fr := range writeFramings {
		for _, tc := range tests {
			t.Run(fr.name+"/"+tc.name, func(t *testing.T) {
				d, src := newTwoIssuerDaemon(t, nil)
				ts := startServer(t, Config{Backend: d.svc})
				tokens := map[string]string{
					"A 42 s-1": accessToken(t, issA, "42", "s-1"),
					"A 42 s-2": accessToken(t, issA, "42", "s-2"),
					"A 43 s-3": accessToken(t, issA, "43", "s-3"),
					"B 42 s-1": accessToken(t, issB, "42", "s-1"),
				}
				checkReasons(t, d.svc, tokens, nil) // and cached
				status, answer := fr.send(t, ts.path, "revoke-all", tc.body)
				if tc.answer == "" {
					if status != http.StatusBadRequest || !strings.Contains(messageOf(answer), tc.msg) {
						t.Errorf("answer %d %s, want 400 with %q", status, answer, tc.msg)
					}
					if n := len(src.cutoffKeys()); n != 0 {
						t.Errorf("a refused revoke-all stored %d cutoffs", n)
					}
				} else {
					if status != http.StatusOK || answer != tc.answer+"\n" {
						t.Errorf("answer %d %s, want 200 %s", status, answer, tc.answer)
					}
					if keys := src.cutoffKeys(); len(keys) != 1 || !keys[tc.stored] {
						t.Errorf("store holds cutoffs %v, want only %v", keys, tc.stored)
					}
				}
				checkReasons(t, d.svc, tokens, tc.want)
			})
		}
	}
}

// TestIssuersUnban: unban's iss lifts the ban at that issuer only.
func TestIssuersUnban(t *testing.T) {
	for _, fr := range writeFramings {
		t.Run(fr.name, func(t *testing.T) {
			d, _ := newTwoIssuerDaemon(t, nil)
			ts := startServer(t, Config{Backend: d.svc})
			for _, iss := range []string{issA, issB} {
				body := fmt.Sprintf(`{"sub":"42","iss":%q,"before":"2027-01-16T12:00:00Z"}`, iss)
				if status, answer := fr.send(t, ts.path, "revoke-all", body); status != http.StatusOK {
					t.Fatalf("ban at %s: %d %s", iss, status, answer)
				}
			}
			status, answer := fr.send(t, ts.path, "unban", `{"sub":"42","iss":"https://a.example"}`)
			if want := `{"claim":"sub","value":"42","iss":"https://a.example","before":"2027-01-15T12:00:00Z"}` + "\n"; status != http.StatusOK || answer != want {
				t.Errorf("unban at A: %d %s, want 200 %s", status, answer, want)
			}
			// Tokens issued after the unban's now, as a user logging in
			// again gets.
			later := func(iss string) string {
				c := jwt.MapClaims{"iss": iss, "sub": "42", "iat": t0.Add(time.Second).Unix(), "exp": t0.Add(time.Hour).Unix()}
				if iss == issB {
					return mintES256(t, keyB(), c, nil)
				}
				return mintClaims(t, c)
			}
			checkReasons(t, d.svc, map[string]string{"A": later(issA), "B": later(issB)},
				map[string]string{"B": apitype.ReasonSubjectRevoked})
			status, answer = fr.send(t, ts.path, "unban", `{"sub":"42","iss":"https://c.example"}`)
			if status != http.StatusBadRequest || !strings.Contains(messageOf(answer), `iss "https://c.example" is not a trusted issuer`) {
				t.Errorf("unban at an unknown issuer: %d %s, want 400 naming it", status, answer)
			}
		})
	}
}

// TestOneIssuerRevokeAllIss: a daemon of one issuer stores cutoffs as it
// always has; an iss naming that issuer is accepted, another is a 400,
// and without --issuer any iss is the one issuer.
func TestOneIssuerRevokeAllIss(t *testing.T) {
	tests := []struct {
		name   string
		issuer string // --issuer
		body   string
		answer string // "" for a 400
	}{
		{"its iss", testIssuer, `{"sub":"42","iss":"https://id.example.com"}`,
			`{"claim":"sub","value":"42","iss":"https://id.example.com","before":"2027-01-15T12:00:00Z"}`},
		{"no iss", testIssuer, `{"sub":"42"}`, `{"claim":"sub","value":"42","before":"2027-01-15T12:00:00Z"}`},
		{"another iss", testIssuer, `{"sub":"42","iss":"https://a.example"}`, ""},
		{"any iss without --issuer", "", `{"sub":"42","iss":"https://a.example"}`,
			`{"claim":"sub","value":"42","iss":"https://a.example","before":"2027-01-15T12:00:00Z"}`},
	}
	for _, fr := range writeFramings {
		for _, tc := range tests {
			t.Run(fr.name+"/"+tc.name, func(t *testing.T) {
				d, src := openMemDaemon(t, clocktest.New(t0), Options{
					Pipeline: pipeline.Config{HMACSecret: testSecret, Leeway: testLeeway, Issuer: tc.issuer},
				})
				d.replica.SetReady()
				d.replica.Touch()
				ts := startServer(t, Config{Backend: d.svc})
				tok := mintClaims(t, jwt.MapClaims{"iss": testIssuer, "sub": "42", "iat": t0.Add(-time.Minute).Unix(), "exp": t0.Add(time.Hour).Unix()})
				status, answer := fr.send(t, ts.path, "revoke-all", tc.body)
				if tc.answer == "" {
					if status != http.StatusBadRequest || !strings.Contains(messageOf(answer), `iss "https://a.example" is not the trusted issuer`) {
						t.Errorf("answer %d %s, want 400 naming the iss", status, answer)
					}
					checkReasons(t, d.svc, map[string]string{"token": tok}, nil)
					if status, answer := fr.send(t, ts.path, "unban", tc.body); status != http.StatusBadRequest {
						t.Errorf("unban: %d %s, want 400", status, answer)
					}
					return
				}
				if status != http.StatusOK || answer != tc.answer+"\n" {
					t.Errorf("answer %d %s, want 200 %s", status, answer, tc.answer)
				}
				if keys := src.cutoffKeys(); len(keys) != 1 || !keys[[2]string{"sub", "42"}] {
					t.Errorf("store holds %v, want the unscoped cutoff on sub 42", keys)
				}
				checkReasons(t, d.svc, map[string]string{"token": tok}, map[string]string{"token": apitype.ReasonSubjectRevoked})
			})
		}
	}
}

// mintLogoutWith signs a logout token's claims with method and key, typ
// logout+jwt.
func mintLogoutWith(t testing.TB, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	tok.Header["typ"] = "logout+jwt"
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// logoutAt is a good logout token of iss for sid and sub (either may be
// empty), signed with that issuer's key.
func logoutAt(t testing.TB, iss, sid, sub, jti string) string {
	c := logoutClaimsFor(sid, sub, jti)
	c["iss"] = iss
	if iss == issB {
		return mintLogoutWith(t, jwt.SigningMethodES256, keyB(), c)
	}
	return mintLogoutWith(t, jwt.SigningMethodHS256, testSecret, c)
}

// TestIssuersBackchannelLogout: with two issuers, a logout token is
// verified with its own issuer's keys only, and its cutoff reaches that
// issuer's session or subject only, never the same sid or sub at the other.
func TestIssuersBackchannelLogout(t *testing.T) {
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	withIss := func(iss, jti string) jwt.MapClaims {
		c := logoutClaimsFor("s-1", "alice", jti)
		c["iss"] = iss
		return c
	}
	tests := []struct {
		name   string
		logout string
		err    error             // the refusal; nil for a logout
		stored [2]string         // the cutoff written
		want   map[string]string // token name -> reason; absent is active
	}{
		{
			name: "sid at A", logout: logoutAt(t, issA, "s-1", "alice", "j-1"),
			stored: [2]string{"sid", issA + "#s-1"},
			want:   map[string]string{"A alice s-1": apitype.ReasonSessionRevoked},
		},
		{
			name: "sub at A", logout: logoutAt(t, issA, "", "alice", "j-1"),
			stored: [2]string{"sub", issA + "#alice"},
			want:   map[string]string{"A alice s-1": apitype.ReasonSubjectRevoked, "A alice s-2": apitype.ReasonSubjectRevoked},
		},
		{
			name: "sid at B", logout: logoutAt(t, issB, "s-1", "alice", "j-1"),
			stored: [2]string{"sid", issB + "#s-1"},
			want:   map[string]string{"B alice s-1": apitype.ReasonSessionRevoked},
		},
		{
			name: "sub at B", logout: logoutAt(t, issB, "", "alice", "j-1"),
			stored: [2]string{"sub", issB + "#alice"},
			want:   map[string]string{"B alice s-1": apitype.ReasonSubjectRevoked, "B alice s-2": apitype.ReasonSubjectRevoked},
		},
		{name: "B's, signed with A's secret", logout: mintLogoutWith(t, jwt.SigningMethodHS256, testSecret, withIss(issB, "j-2")), err: refuseAlg},
		{name: "B's, signed with another EC key", logout: mintLogoutWith(t, jwt.SigningMethodES256, other, withIss(issB, "j-3")), err: refuseSignature},
		{name: "A's, signed with B's key", logout: mintLogoutWith(t, jwt.SigningMethodES256, keyB(), withIss(issA, "j-4")), err: refuseAlg},
		{name: "unknown issuer, signed with A's secret", logout: mintLogoutWith(t, jwt.SigningMethodHS256, testSecret, withIss("https://evil.example", "j-5")), err: refuseIssuer},
		{name: "no issuer", logout: mintLogoutWith(t, jwt.SigningMethodHS256, testSecret, func() jwt.MapClaims { c := withIss("", "j-6"); delete(c, "iss"); return c }()), err: refuseIssuer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, src := newTwoIssuerDaemon(t, &BackchannelConfig{ClientIDs: []string{testClientID}, MaxAge: testMaxAge})
			tokens := map[string]string{
				"A alice s-1": accessToken(t, issA, "alice", "s-1"),
				"A alice s-2": accessToken(t, issA, "alice", "s-2"),
				"A bob s-3":   accessToken(t, issA, "bob", "s-3"),
				"B alice s-1": accessToken(t, issB, "alice", "s-1"),
				"B alice s-2": accessToken(t, issB, "alice", "s-2"),
			}
			checkReasons(t, d.svc, tokens, nil) // and cached
			err := d.svc.BackchannelLogout(context.Background(), tc.logout)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Errorf("logout: got %v, want %v", err, tc.err)
				}
				if n := len(src.cutoffKeys()); n != 0 {
					t.Errorf("a refused logout stored %d cutoffs", n)
				}
			} else {
				if err != nil {
					t.Fatalf("logout: %v", err)
				}
				if keys := src.cutoffKeys(); len(keys) != 1 || !keys[tc.stored] {
					t.Errorf("store holds cutoffs %v, want only %v", keys, tc.stored)
				}
			}
			checkReasons(t, d.svc, tokens, tc.want)
		})
	}
	t.Run("the same jti at both issuers is no replay", func(t *testing.T) {
		d, _ := newTwoIssuerDaemon(t, &BackchannelConfig{ClientIDs: []string{testClientID}, MaxAge: testMaxAge})
		ts := startServer(t, Config{Backend: d.svc, Logout: d.svc})
		f := &logoutFixture{d: d, hc: httpClient(t, ts.path)}
		for _, iss := range []string{issA, issB} {
			if status, body := f.post(t, logoutForm(logoutAt(t, iss, "s-1", "", "j-same"))); status != http.StatusOK {
				t.Errorf("logout at %s: %d %s, want 200", iss, status, body)
			}
		}
		if status, _ := f.post(t, logoutForm(logoutAt(t, issB, "s-2", "", "j-same"))); status != http.StatusBadRequest {
			t.Errorf("the jti again at B: %d, want 400 (replay)", status)
		}
	})
}

// TestIssuersBackchannelConfig: back-channel logout needs an issuer to
// name, which a table of issuers gives.
func TestIssuersBackchannelConfig(t *testing.T) {
	d, err := New(Options{
		Pipeline:    pipeline.Config{Leeway: testLeeway},
		Issuers:     twoIssuers(t),
		Backchannel: &BackchannelConfig{ClientIDs: []string{testClientID}},
		Source:      func(r *cache.Replica) (cache.Source, error) { return newMemSource(r, clocktest.New(t0)), nil },
	})
	if err != nil {
		t.Fatalf("New with issuers and logout: %v", err)
	}
	d.Close()
	unnamed := twoIssuers(t)[:1]
	unnamed[0].Issuer.Issuer = ""
	d, err = New(Options{
		Pipeline:    pipeline.Config{Leeway: testLeeway},
		Issuers:     unnamed,
		Backchannel: &BackchannelConfig{ClientIDs: []string{testClientID}},
		Source:      func(r *cache.Replica) (cache.Source, error) { return newMemSource(r, clocktest.New(t0)), nil },
	})
	if err == nil {
		d.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "needs the issuer") {
		t.Errorf("New with logout and one issuer without a name, which no logout token could name: %v, want an error", err)
	}
	_, err = New(Options{
		Pipeline:   pipeline.Config{Leeway: testLeeway},
		Issuers:    twoIssuers(t),
		RemoteKeys: &pipeline.RemoteKeysConfig{JWKSURL: "http://127.0.0.1:1/jwks"},
		Source:     func(r *cache.Replica) (cache.Source, error) { return newMemSource(r, clocktest.New(t0)), nil },
	})
	if err == nil || !strings.Contains(err.Error(), "Issuers or RemoteKeys") {
		t.Errorf("New with issuers and remote keys: %v, want an error", err)
	}
}

// TestIssuersReloadMismatch: each daemon reloads what it was started with.
func TestIssuersReloadMismatch(t *testing.T) {
	d, _ := newTwoIssuerDaemon(t, nil)
	if err := d.Reload(func() (pipeline.KeyMaterial, error) { return pipeline.KeyMaterial{HMACSecret: testSecret}, nil }); err == nil {
		t.Error("Reload of a daemon of issuers succeeded, want an error")
	}
	flat, _, _ := newDaemon(t, 0, nil)
	if err := flat.ReloadIssuers(func() ([]Issuer, error) { return twoIssuers(t), nil }); err == nil {
		t.Error("ReloadIssuers of a one-issuer daemon succeeded, want an error")
	}
	if ok, failed := flat.svc.Reloads(); ok != 0 || failed != 0 {
		t.Errorf("reloads counted: %d ok, %d failed; want none", ok, failed)
	}
}

// statusJSON is the status answer as a client decodes it.
func statusJSON(t *testing.T, svc *Service) apitype.StatusResponse {
	t.Helper()
	b, err := json.Marshal(svc.Status())
	if err != nil {
		t.Fatal(err)
	}
	var st apitype.StatusResponse
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestIssuersRevokeScope: a logout from a token in hand ("scope" session
// or subject) is scoped to the token's issuer: the same sid or sub at the
// other issuer stays active.
func TestIssuersRevokeScope(t *testing.T) {
	for _, tc := range []struct {
		scope, claim string
		killed       []string // of a1 (sub 42, s1 at A), a2 (sub 42, s2 at A), b1 (sub 42, s1 at B)
	}{
		{apitype.ScopeSession, "sid", []string{"a1"}},
		{apitype.ScopeSubject, "sub", []string{"a1", "a2"}},
	} {
		t.Run(tc.scope, func(t *testing.T) {
			d, src := newTwoIssuerDaemon(t, nil)
			tokens := map[string]string{
				"a1": accessToken(t, issA, "42", "s1"),
				"a2": accessToken(t, issA, "42", "s2"),
				"b1": accessToken(t, issB, "42", "s1"),
			}
			resp, err := d.svc.Revoke(context.Background(), apitype.RevokeRequest{Token: tokens["a1"], Scope: tc.scope})
			if err != nil || !resp.Stored {
				t.Fatalf("Revoke scope %s: %+v, %v", tc.scope, resp, err)
			}
			want := map[string]string{"a1": "", "a2": "", "b1": ""}
			for _, name := range tc.killed {
				want[name] = map[string]string{"sid": apitype.ReasonSessionRevoked, "sub": apitype.ReasonSubjectRevoked}[tc.claim]
			}
			checkReasons(t, d.svc, tokens, want)
			value := map[string]string{"sid": "s1", "sub": "42"}[tc.claim]
			if keys := src.cutoffKeys(); !keys[[2]string{tc.claim, issA + "#" + value}] || len(keys) != 1 {
				t.Errorf("cutoffs stored: %v, want only (%s, %s#%s)", keys, tc.claim, issA, value)
			}
		})
	}
}

// TestBackchannelLogoutSubjectClaim: an issuer whose tokens carry their
// subject in another claim than sub cannot apply a logout by sub alone (a
// cutoff on "sub" compares that claim, and would end another user's
// sessions): it is refused and nothing is written. A logout by sid works.
func TestBackchannelLogoutSubjectClaim(t *testing.T) {
	issuers := twoIssuers(t)
	issuers[0].SubjectClaim = "uid"
	d, src := openMemDaemon(t, clocktest.New(t0), Options{
		Pipeline:    pipeline.Config{Leeway: testLeeway},
		Issuers:     issuers,
		Backchannel: &BackchannelConfig{ClientIDs: []string{testClientID}, MaxAge: testMaxAge},
	})
	d.replica.SetReady()
	d.replica.Touch()
	ctx := context.Background()
	err := d.svc.BackchannelLogout(ctx, logoutAt(t, issA, "", "8f14e45f", "j1"))
	if !errors.Is(err, refuseSubject) {
		t.Fatalf("logout by sub at an issuer whose subject claim is uid: %v, want %q", err, refuseSubject)
	}
	if keys := src.cutoffKeys(); len(keys) != 0 {
		t.Errorf("cutoffs written by the refused logout: %v", keys)
	}
	if err := d.svc.BackchannelLogout(ctx, logoutAt(t, issA, "s1", "8f14e45f", "j2")); err != nil {
		t.Errorf("logout by sid at the same issuer: %v", err)
	}
	if err := d.svc.BackchannelLogout(ctx, logoutAt(t, issB, "", "8f14e45f", "j3")); err != nil {
		t.Errorf("logout by sub at an issuer whose subject claim is sub: %v", err)
	}
}
