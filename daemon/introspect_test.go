package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/clocktest"
)

// simplejwtServer serves a real Service set up for
// djangorestframework-simplejwt's tokens: the subject under user_id, and
// --require-claim token_type=access.
func simplejwtServer(t *testing.T) (*testServer, *memSource) {
	t.Helper()
	d, src := openMemDaemon(t, clocktest.New(t0), Options{
		Pipeline: pipeline.Config{HMACSecret: testSecret, Leeway: testLeeway, SubjectClaim: "user_id",
			RequireClaims: map[string]string{"token_type": "access"}},
	})
	d.replica.SetReady()
	d.replica.Touch()
	return startServer(t, Config{Backend: d.svc}), src
}

// mintSimplejwt mints a token as simplejwt does: token_type, user_id (a
// number), a hex jti, iat and exp, plus extra.
func mintSimplejwt(t *testing.T, tokenType string, extra jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{
		"token_type": tokenType,
		"exp":        t0.Add(time.Hour).Unix(),
		"iat":        t0.Add(-time.Minute).Unix(),
		"jti":        "3b5c7d9e0f129f0c8a1e4b2d4c6f8e1a" + tokenType[:1],
		"user_id":    42,
	}
	for k, v := range extra {
		c[k] = v
	}
	return mintClaims(t, c)
}

// TestTokenType runs --require-claim and expect over both framings with
// simplejwt's tokens: access accepted, refresh refused with bad_claim, and
// the other way round under expect {"token_type":"refresh"}; /v1/auth and
// /v1/introspect always apply the configured requirement.
func TestTokenType(t *testing.T) {
	ts, _ := simplejwtServer(t)
	hc := httpClient(t, ts.path)
	nc := dialNDJSON(t, ts.path)
	access, refresh := mintSimplejwt(t, "access", nil), mintSimplejwt(t, "refresh", nil)
	const expectRefresh = `,"expect":{"token_type":"refresh"}`

	tests := []struct {
		name, token, extra string
		want               string // reason; "" for active
	}{
		{"access", access, "", ""},
		{"refresh", refresh, "", apitype.ReasonBadClaim},
		{"refresh, expect refresh", refresh, expectRefresh, ""},
		{"access, expect refresh", access, expectRefresh, apitype.ReasonBadClaim},
		{"refresh, expect null keeps the configured", refresh, `,"expect":null`, apitype.ReasonBadClaim},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Twice each: the second answer comes from the verified-token cache.
			for range 2 {
				_, body := doHTTP(t, hc, "POST", "/v1/validate", `{"token":"`+tc.token+`"`+tc.extra+`}`, nil)
				checkReason(t, "HTTP", body, tc.want)
				checkReason(t, "NDJSON", []byte(nc.roundTrip(`{"op":"validate","token":"`+tc.token+`"`+tc.extra+`}`)), tc.want)
			}
		})
	}
	// expect ahead of the token, and the op last: still not the fast path.
	checkReason(t, "NDJSON, expect first", []byte(nc.roundTrip(`{"expect":{"token_type":"refresh"},"token":"`+refresh+`","op":"validate"}`)), "")

	for _, c := range []struct {
		token  string
		status int
		sub    string
	}{{access, 200, "42"}, {refresh, 401, ""}} {
		resp, _ := doHTTP(t, hc, "GET", "/v1/auth", "", map[string]string{"Authorization": "Bearer " + c.token})
		if resp.StatusCode != c.status || resp.Header.Get("X-Auth-Subject") != c.sub {
			t.Errorf("auth: got %d, subject %q; want %d, %q", resp.StatusCode, resp.Header.Get("X-Auth-Subject"), c.status, c.sub)
		}
		if c.status == 401 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), apitype.ReasonBadClaim) {
			t.Errorf("auth of a refresh token: WWW-Authenticate %q, want bad_claim", resp.Header.Get("WWW-Authenticate"))
		}
	}
	// A logout revokes the refresh token too.
	if _, body := doHTTP(t, hc, "POST", "/v1/revoke", `{"token":"`+refresh+`"}`, nil); string(body) != `{"stored":true}`+"\n" {
		t.Errorf("revoke refresh: got %q, want stored", body)
	}
	_, body := doHTTP(t, hc, "POST", "/v1/validate", `{"token":"`+refresh+`"`+expectRefresh+`}`, nil)
	checkReason(t, "revoked refresh, expect refresh", body, apitype.ReasonRevoked)
}

func checkReason(t *testing.T, what string, body []byte, want string) {
	t.Helper()
	var v apitype.ValidateResponse
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: %v: %q", what, err, body)
	}
	if v.Active != (want == "") || v.Reason != want {
		t.Errorf("%s: got %s, want reason %q", what, body, want)
	}
}

// TestExpectLeavesTheFastPath: a line or body with expect must reach the
// backend's ValidateExpect, never the fast path that drops it.
func TestExpectLeavesTheFastPath(t *testing.T) {
	f := newFake()
	ts := startServer(t, Config{Backend: f})
	nc := dialNDJSON(t, ts.path)
	nc.roundTrip(`{"op":"validate","token":"good","expect":{"token_type":"refresh"}}`)
	_, _ = doHTTP(t, httpClient(t, ts.path), "POST", "/v1/validate", `{"token":"good","expect":{"a":"1"}}`, nil)
	nc.roundTrip(`{"op":"validate","token":"good"}`) // the fast path: no expect to record
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.expects) != 2 || f.expects[0]["token_type"] != "refresh" || f.expects[1]["a"] != "1" {
		t.Errorf("expects reaching the backend: got %v, want [{token_type:refresh} {a:1}]", f.expects)
	}
}

// TestIntrospect checks POST /v1/introspect answer by answer: an active
// token with every standard member, and exactly {"active":false} for every
// kind of inactive token and every bad form.
func TestIntrospect(t *testing.T) {
	ts, src := simplejwtServer(t)
	hc := httpClient(t, ts.path)
	exp := t0.Add(time.Hour).Unix()
	full := mintSimplejwt(t, "access", jwt.MapClaims{
		"sub": "alice", "nbf": t0.Add(-2 * time.Minute).Unix(), "iss": "https://issuer.example",
		"aud": []string{"api", "web"}, "scope": "read write", "client_id": "app-1", "username": "ali",
		"email": "ali@example.com",
	})
	revoked := mintSimplejwt(t, "access", jwt.MapClaims{"jti": "denied-1"})
	if _, err := src.RevokeToken(context.Background(), "denied-1", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	banned := mintSimplejwt(t, "access", jwt.MapClaims{"user_id": 7})
	if _, err := src.RevokeAll(context.Background(), "sub", "7", t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	form := func(v url.Values) string { return v.Encode() }

	const inactive = `{"active":false}` + "\n"
	tests := []struct {
		name, body, ctype string
		want              string
	}{
		{name: "active, every member", body: form(url.Values{"token": {full}, "token_type_hint": {"access_token"}}),
			want: `{"active":true,"sub":"alice","exp":` + itoa(exp) + `,"iat":` + itoa(t0.Add(-time.Minute).Unix()) +
				`,"nbf":` + itoa(t0.Add(-2*time.Minute).Unix()) + `,"iss":"https://issuer.example","aud":["api","web"],` +
				`"jti":"3b5c7d9e0f129f0c8a1e4b2d4c6f8e1aa","scope":"read write","client_id":"app-1","username":"ali","token_type":"access"}` + "\n"},
		{name: "active simplejwt access, sub from user_id", body: form(url.Values{"token": {mintSimplejwt(t, "access", nil)}}),
			want: `{"active":true,"sub":"42","exp":` + itoa(exp) + `,"iat":` + itoa(t0.Add(-time.Minute).Unix()) +
				`,"jti":"3b5c7d9e0f129f0c8a1e4b2d4c6f8e1aa","token_type":"access"}` + "\n"},
		{name: "refresh token: bad_claim", body: form(url.Values{"token": {mintSimplejwt(t, "refresh", nil)}}), want: inactive},
		{name: "expired", body: form(url.Values{"token": {mintSimplejwt(t, "access", jwt.MapClaims{"exp": t0.Add(-time.Hour).Unix()})}}), want: inactive},
		{name: "not yet valid", body: form(url.Values{"token": {mintSimplejwt(t, "access", jwt.MapClaims{"nbf": t0.Add(time.Hour).Unix()})}}), want: inactive},
		{name: "revoked", body: form(url.Values{"token": {revoked}}), want: inactive},
		{name: "banned", body: form(url.Values{"token": {banned}}), want: inactive},
		{name: "bad signature", body: form(url.Values{"token": {full[:len(full)-4] + "AAAA"}}), want: inactive},
		{name: "garbage token", body: "token=abc", want: inactive},
		{name: "missing token", body: "token_type_hint=access_token", want: inactive},
		{name: "empty token", body: "token=", want: inactive},
		{name: "empty body", body: "", want: inactive},
		{name: "token twice", body: form(url.Values{"token": {full, full}}), want: inactive},
		{name: "bad percent escape", body: "token=%zz", want: inactive},
		{name: "semicolon separator", body: "token=" + full + ";x=1", want: inactive},
		{name: "JSON body", body: `{"token":"` + full + `"}`, ctype: "application/json", want: inactive},
		{name: "percent-encoded token", body: "token=" + strings.ReplaceAll(full, ".", "%2E"), want: `{"active":true,"sub":"alice"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctype := tc.ctype
			if ctype == "" {
				ctype = "application/x-www-form-urlencoded"
			}
			resp, body := doHTTP(t, hc, "POST", "/v1/introspect", tc.body, map[string]string{"Content-Type": ctype})
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d, want 200", resp.StatusCode)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q, want application/json", got)
			}
			if strings.HasSuffix(tc.want, "\n") && string(body) != tc.want || !strings.HasPrefix(string(body), tc.want) {
				t.Errorf("body:\n got %s\nwant %s", body, tc.want)
			}
		})
	}

	t.Run("too large", func(t *testing.T) {
		resp, body := doHTTP(t, hc, "POST", "/v1/introspect", "token="+strings.Repeat("a", DefaultMaxBodyBytes), nil)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || errorCode(body) != apitype.CodeTooLarge {
			t.Errorf("got %d %q, want 413 too_large", resp.StatusCode, body)
		}
	})
	t.Run("GET is 405", func(t *testing.T) {
		if resp, _ := doHTTP(t, hc, "GET", "/v1/introspect", "", nil); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("got %d, want 405", resp.StatusCode)
		}
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
