package daemon

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/clocktest"
)

const (
	testIssuer   = "https://id.example.com"
	testClientID = "app"
	testMaxAge   = 5 * time.Minute
)

// logoutFixture is a daemon with back-channel logout on, over a memSource,
// serving on a socket.
type logoutFixture struct {
	d     *Daemon
	src   *memSource
	clock *clocktest.Clock
	hc    *http.Client
}

func newLogoutFixture(t *testing.T) *logoutFixture {
	t.Helper()
	d, src, clock := newLogoutDaemon(t)
	ts := startServer(t, Config{Backend: d.svc, Logout: d.svc})
	return &logoutFixture{d: d, src: src, clock: clock, hc: httpClient(t, ts.path)}
}

// newLogoutDaemon assembles a daemon at t0 with back-channel logout on,
// over a memSource, its store open and its replica ready.
func newLogoutDaemon(t testing.TB) (*Daemon, *memSource, *clocktest.Clock) {
	t.Helper()
	clock := clocktest.New(t0)
	d, src := openMemDaemon(t, clock, Options{
		Pipeline:    pipeline.Config{HMACSecret: testSecret, Leeway: testLeeway, Issuer: testIssuer},
		Backchannel: &BackchannelConfig{ClientIDs: []string{"other", testClientID}, MaxAge: testMaxAge},
	})
	d.replica.SetReady()
	d.replica.Touch()
	return d, src, clock
}

// logoutClaimsFor are the claims of a good logout token issued at t0.
func logoutClaimsFor(sid, sub, jti string) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss":    testIssuer,
		"aud":    testClientID,
		"iat":    t0.Unix(),
		"exp":    t0.Add(2 * time.Minute).Unix(),
		"jti":    jti,
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}
	if sid != "" {
		c["sid"] = sid
	}
	if sub != "" {
		c["sub"] = sub
	}
	return c
}

// mintLogout signs claims with the test secret and typ logout+jwt (or the
// given typ; "-" for none).
func mintLogout(t testing.TB, claims jwt.MapClaims, typ string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	switch typ {
	case "":
		tok.Header["typ"] = "logout+jwt"
	case "-":
		delete(tok.Header, "typ")
	default:
		tok.Header["typ"] = typ
	}
	s, err := tok.SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// post sends body to the logout route and returns the status and the
// answer, checking the answer is never cacheable.
func (f *logoutFixture) post(t *testing.T, body string) (int, []byte) {
	t.Helper()
	resp, b := doHTTP(t, f.hc, "POST", "/v1/backchannel-logout", body, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", cc)
	}
	return resp.StatusCode, b
}

// befores are the cutoffs the store was asked for, in order.
func (f *logoutFixture) befores() []time.Time {
	f.src.mu.Lock()
	defer f.src.mu.Unlock()
	return append([]time.Time(nil), f.src.befores...)
}

func logoutForm(token string) string { return url.Values{"logout_token": {token}}.Encode() }

// with returns a copy of the good claims changed by set (nil deletes).
func with(set map[string]any) jwt.MapClaims {
	c := logoutClaimsFor("s-1", "alice", "jti-x")
	for k, v := range set {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// TestBackchannelLogoutRefusals: each check of §2.6 refuses a token that
// fails it alone, with 400 invalid_request and its own description; the
// tokens that pass every check are logged out.
func TestBackchannelLogoutRefusals(t *testing.T) {
	f := newLogoutFixture(t)
	other := func(c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte("another secret, another issuer!!"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	unsigned := func(c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := mintLogout(t, with(nil), "")
	// A header naming RS256, which no configured key allows, on a good
	// token's payload and signature.
	_, rest, _ := strings.Cut(good, ".")
	rs256 := "eyJhbGciOiJSUzI1NiIsInR5cCI6ImxvZ291dCtqd3QifQ." + rest
	long := strings.Repeat("j", cache.MaxValueBytes)
	numTyp := jwt.NewWithClaims(jwt.SigningMethodHS256, with(nil))
	numTyp.Header["typ"] = 7
	typNumber, err := numTyp.SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		body string
		want string // error_description; "" for a logout
	}{
		{"no body", "", string(refuseNoToken)},
		{"empty token", "logout_token=", string(refuseNoToken)},
		{"token given twice", logoutForm(good) + "&" + logoutForm(good), string(refuseNoToken)},
		{"not a form", "%zz", string(refuseNoToken)},
		{"not a JWT", logoutForm("abc"), string(refuseMalformed)},
		{"payload not JSON", logoutForm("eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln"), string(refuseMalformed)},
		{"other issuer", logoutForm(mintLogout(t, with(map[string]any{"iss": "https://evil.example"}), "")), string(refuseIssuer)},
		{"no issuer", logoutForm(mintLogout(t, with(map[string]any{"iss": nil}), "")), string(refuseIssuer)},
		{"alg none", logoutForm(unsigned(with(nil))), string(refuseAlg)},
		{"alg not allowed", logoutForm(rs256), string(refuseAlg)},
		{"signed with another key", logoutForm(other(with(nil))), string(refuseSignature)},
		{"typ JWT", logoutForm(mintLogout(t, with(nil), "JWT")), string(refuseTyp)},
		{"typ not a string", logoutForm(typNumber), string(refuseTyp)},
		{"other audience", logoutForm(mintLogout(t, with(map[string]any{"aud": "someone-else"}), "")), string(refuseAudience)},
		{"no audience", logoutForm(mintLogout(t, with(map[string]any{"aud": nil}), "")), string(refuseAudience)},
		{"audience list without ours", logoutForm(mintLogout(t, with(map[string]any{"aud": []string{"x", "y"}}), "")), string(refuseAudience)},
		{"no iat", logoutForm(mintLogout(t, with(map[string]any{"iat": nil}), "")), string(refuseNoIAT)},
		{"iat a string", logoutForm(mintLogout(t, with(map[string]any{"iat": "1"}), "")), string(refuseClaims)},
		{"iat at the maximum age", logoutForm(mintLogout(t, with(map[string]any{"iat": t0.Add(-testMaxAge).Unix()}), "")), string(refuseOld)},
		{"iat in the future beyond the leeway", logoutForm(mintLogout(t, with(map[string]any{"iat": t0.Add(testLeeway + time.Second).Unix()}), "")), string(refuseFuture)},
		{"exp passed beyond the leeway", logoutForm(mintLogout(t, with(map[string]any{"exp": t0.Add(-testLeeway).Unix()}), "")), string(refuseExpired)},
		{"no jti", logoutForm(mintLogout(t, with(map[string]any{"jti": nil}), "")), string(refuseNoJTI)},
		{"no events", logoutForm(mintLogout(t, with(map[string]any{"events": nil}), "")), string(refuseEvents)},
		{"events without the logout event", logoutForm(mintLogout(t, with(map[string]any{"events": map[string]any{"http://schemas.openid.net/event/other": map[string]any{}}}), "")), string(refuseEvents)},
		{"logout event not an object", logoutForm(mintLogout(t, with(map[string]any{"events": map[string]any{eventBackchannelLogout: true}}), "")), string(refuseEvents)},
		{"events an array", logoutForm(mintLogout(t, with(map[string]any{"events": []string{eventBackchannelLogout}}), "")), string(refuseEvents)},
		{"neither sid nor sub", logoutForm(mintLogout(t, with(map[string]any{"sid": nil, "sub": nil}), "")), string(refuseNoSubject)},
		{"nonce", logoutForm(mintLogout(t, with(map[string]any{"nonce": "n"}), "")), string(refuseNonce)},
		{"jti too long", logoutForm(mintLogout(t, with(map[string]any{"jti": long}), "")), string(refuseTooLong)},

		{"good", logoutForm(good), ""},
		{"replayed", logoutForm(good), string(refuseReplay)},
		{"no typ", logoutForm(mintLogout(t, with(map[string]any{"jti": "j-notyp"}), "-")), ""},
		{"typ application/logout+jwt, any case", logoutForm(mintLogout(t, with(map[string]any{"jti": "j-app"}), "Application/Logout+JWT")), ""},
		{"audience list with ours", logoutForm(mintLogout(t, with(map[string]any{"jti": "j-list", "aud": []string{"x", testClientID}}), "")), ""},
		{"no exp", logoutForm(mintLogout(t, with(map[string]any{"jti": "j-noexp", "exp": nil}), "")), ""},
		{"iat in the future within the leeway", logoutForm(mintLogout(t, with(map[string]any{"jti": "j-ahead", "iat": t0.Add(testLeeway).Unix()}), "")), ""},
		{"same jti from a token that differs", logoutForm(mintLogout(t, with(map[string]any{"sid": "s-other"}), "")), string(refuseReplay)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.post(t, tc.body)
			if tc.want == "" {
				if status != http.StatusOK || strings.TrimSpace(string(body)) != "{}" {
					t.Errorf("got %d %s, want 200 {}", status, body)
				}
				return
			}
			var e apitype.LogoutError
			if err := json.Unmarshal(body, &e); err != nil || status != http.StatusBadRequest ||
				e.Error != apitype.LogoutInvalidRequest || e.Description != tc.want {
				t.Errorf("got %d %s, want 400 invalid_request %q", status, body, tc.want)
			}
		})
	}
}

// TestBackchannelLogoutSession: a logout by sid ends that session's tokens
// only; the subject's other session, and other subjects, stay active.
func TestBackchannelLogoutSession(t *testing.T) {
	f := newLogoutFixture(t)
	iat := t0.Add(-time.Minute)
	s1 := mintClaims(t, jwt.MapClaims{"sub": "alice", "sid": "s-1", "iat": iat.Unix(), "exp": iat.Add(time.Hour).Unix(), "iss": testIssuer})
	s2 := mintClaims(t, jwt.MapClaims{"sub": "alice", "sid": "s-2", "iat": iat.Unix(), "exp": iat.Add(time.Hour).Unix(), "iss": testIssuer})
	bob := mintClaims(t, jwt.MapClaims{"sub": "bob", "sid": "s-3", "iat": iat.Unix(), "exp": iat.Add(time.Hour).Unix(), "iss": testIssuer})

	if status, body := f.post(t, logoutForm(mintLogout(t, logoutClaimsFor("s-1", "alice", "j-1"), ""))); status != http.StatusOK {
		t.Fatalf("logout: got %d %s, want 200", status, body)
	}
	for tok, want := range map[string]string{s1: apitype.ReasonSessionRevoked, s2: "", bob: ""} {
		if got := f.d.svc.Validate(tok).Reason; got != want {
			t.Errorf("token of %s: got reason %q, want %q", tok[len(tok)-8:], got, want)
		}
	}
	if befores := f.befores(); len(befores) != 1 || !befores[0].IsZero() {
		t.Errorf("cutoffs asked: %v, want one, at the store's now (zero)", befores)
	}
}

// TestBackchannelLogoutSubject: a logout naming sub alone ends every session
// of that subject, and no one else's.
func TestBackchannelLogoutSubject(t *testing.T) {
	f := newLogoutFixture(t)
	iat := t0.Add(-time.Minute)
	s1 := mintClaims(t, jwt.MapClaims{"sub": "alice", "sid": "s-1", "iat": iat.Unix(), "exp": iat.Add(time.Hour).Unix(), "iss": testIssuer})
	s2 := mintClaims(t, jwt.MapClaims{"sub": "alice", "sid": "s-2", "iat": iat.Unix(), "exp": iat.Add(time.Hour).Unix(), "iss": testIssuer})
	bob := mintClaims(t, jwt.MapClaims{"sub": "bob", "sid": "s-3", "iat": iat.Unix(), "exp": iat.Add(time.Hour).Unix(), "iss": testIssuer})

	if status, body := f.post(t, logoutForm(mintLogout(t, logoutClaimsFor("", "alice", "j-1"), ""))); status != http.StatusOK {
		t.Fatalf("logout: got %d %s, want 200", status, body)
	}
	for tok, want := range map[string]string{s1: apitype.ReasonSubjectRevoked, s2: apitype.ReasonSubjectRevoked, bob: ""} {
		if got := f.d.svc.Validate(tok).Reason; got != want {
			t.Errorf("token of %s: got reason %q, want %q", tok[len(tok)-8:], got, want)
		}
	}
}

// TestBackchannelLogoutReplayRecord: the jti is denied in the store until
// the token could no longer be accepted (iat plus the maximum age, or exp
// when that comes first), so a replay is refused by every daemon sharing
// the store; a replay writes no second cutoff.
func TestBackchannelLogoutReplayRecord(t *testing.T) {
	f := newLogoutFixture(t)
	for _, tc := range []struct {
		name   string
		claims jwt.MapClaims
		until  time.Time
	}{
		{"exp first", logoutClaimsFor("s-1", "", "j-exp"), t0.Add(2 * time.Minute)},
		{"max age first", with(map[string]any{"jti": "j-age", "exp": t0.Add(time.Hour).Unix()}), t0.Add(testMaxAge)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := mintLogout(t, tc.claims, "")
			if status, body := f.post(t, logoutForm(tok)); status != http.StatusOK {
				t.Fatalf("logout: got %d %s", status, body)
			}
			cutoffs := len(f.befores())
			if status, _ := f.post(t, logoutForm(tok)); status != http.StatusBadRequest {
				t.Errorf("replay: got %d, want 400", status)
			}
			if len(f.befores()) != cutoffs {
				t.Errorf("a replay wrote a cutoff")
			}
			id := replayID(testIssuer, tc.claims["jti"].(string))
			f.src.mu.Lock()
			got := f.src.denials[id]
			f.src.mu.Unlock()
			if !got.Equal(tc.until) {
				t.Errorf("jti denied until %v, want %v", got, tc.until)
			}
		})
	}
}

// TestBackchannelLogoutStoreDown: a store that cannot take the write is a
// 503, which the identity provider may retry, and no cutoff is claimed.
func TestBackchannelLogoutStoreDown(t *testing.T) {
	f := newLogoutFixture(t)
	f.src.mu.Lock()
	f.src.down = true
	f.src.mu.Unlock()
	status, body := f.post(t, logoutForm(mintLogout(t, logoutClaimsFor("s-1", "", "j-1"), "")))
	if status != http.StatusServiceUnavailable || errorCode(body) != apitype.CodeUnavailable {
		t.Errorf("got %d %s, want 503 unavailable", status, body)
	}
}

// TestBackchannelLogoutOff: without client ids the route does not exist.
func TestBackchannelLogoutOff(t *testing.T) {
	d, _, _ := newDaemon(t, 0, nil)
	ts := startServer(t, Config{Backend: d.svc})
	resp, body := doHTTP(t, httpClient(t, ts.path), "POST", "/v1/backchannel-logout", logoutForm(mintLogout(t, with(nil), "")), nil)
	if resp.StatusCode != http.StatusNotFound || errorCode(body) != apitype.CodeNotFound {
		t.Errorf("got %d %s, want 404 not_found", resp.StatusCode, body)
	}
	if err := d.svc.BackchannelLogout(context.Background(), "x"); !errors.Is(err, errNotFound) {
		t.Errorf("Service.BackchannelLogout with logout off: got %v, want errNotFound", err)
	}
}

// TestBackchannelConfig: New refuses a logout setup that could not work.
func TestBackchannelConfig(t *testing.T) {
	src := func(r *cache.Replica) (cache.Source, error) { return newMemSource(r, clocktest.New(t0)), nil }
	tests := []struct {
		name    string
		pc      pipeline.Config
		bc      BackchannelConfig
		wantErr string
	}{
		{"no issuer", pipeline.Config{HMACSecret: testSecret}, BackchannelConfig{ClientIDs: []string{"a"}}, "needs the issuer"},
		{"no client id", pipeline.Config{HMACSecret: testSecret, Issuer: testIssuer}, BackchannelConfig{}, "at least one non-empty client id"},
		{"empty client id", pipeline.Config{HMACSecret: testSecret, Issuer: testIssuer}, BackchannelConfig{ClientIDs: []string{""}}, "at least one non-empty client id"},
		{"negative max age", pipeline.Config{HMACSecret: testSecret, Issuer: testIssuer}, BackchannelConfig{ClientIDs: []string{"a"}, MaxAge: -1}, "negative"},
		{"sid carries no cutoffs", pipeline.Config{HMACSecret: testSecret, Issuer: testIssuer, CutoffClaims: []string{"sub"}}, BackchannelConfig{ClientIDs: []string{"a"}}, "both must be cutoff claims"},
		{"good", pipeline.Config{HMACSecret: testSecret, Issuer: testIssuer}, BackchannelConfig{ClientIDs: []string{"a"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New(Options{Pipeline: tc.pc, Backchannel: &tc.bc, Source: src})
			if err == nil {
				d.Close()
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("New: got %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestBackchannelLogoutUnknownKey: with keys chosen by kid, a logout token
// whose kid names none of the issuer's keys is refused as such, and one
// whose kid names a key is verified by it.
func TestBackchannelLogoutUnknownKey(t *testing.T) {
	jwks := fmt.Sprintf(`{"keys":[{"kty":"oct","kid":"k1","alg":"HS256","k":%q}]}`, base64.RawURLEncoding.EncodeToString(testSecret))
	src := func(r *cache.Replica) (cache.Source, error) { return newMemSource(r, clocktest.New(t0)), nil }
	d, err := New(Options{
		Pipeline:    pipeline.Config{JWKS: []byte(jwks), Issuer: testIssuer, Leeway: testLeeway},
		Backchannel: &BackchannelConfig{ClientIDs: []string{testClientID}},
		Clock:       clocktest.New(t0),
		Source:      src,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.open(context.Background()); err != nil {
		t.Fatal(err)
	}
	for kid, want := range map[string]error{"k2": refuseUnknownKey, "k1": nil} {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, with(map[string]any{"jti": "j-" + kid}))
		tok.Header["kid"], tok.Header["typ"] = kid, "logout+jwt"
		s, err := tok.SignedString(testSecret)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.svc.BackchannelLogout(context.Background(), s); !errors.Is(got, want) {
			t.Errorf("kid %s: got %v, want %v", kid, got, want)
		}
	}
}
