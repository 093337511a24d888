package daemon

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/revokd/revokd/client/apitype"
)

func TestHTTPRoutes(t *testing.T) {
	ts := startServer(t, Config{Version: "v1.2.3"})
	hc := httpClient(t, ts.path)
	tests := []struct {
		name, method, url, body string
		hdr                     map[string]string
		status                  int
		code                    string // error code, for error answers
		body200                 string // exact body, when checked
		wantHdr                 map[string]string
	}{
		{name: "validate active", method: "POST", url: "/v1/validate", body: `{"token":"good"}`,
			status: 200, body200: goodAnswer + "\n"},
		{name: "validate inactive", method: "POST", url: "/v1/validate", body: `{"token":"revoked"}`,
			status: 200, body200: `{"active":false,"reason":"revoked"}` + "\n"},
		{name: "validate escaped", method: "POST", url: "/v1/validate", body: `{"token":"\u0067ood"}`,
			status: 200, body200: goodAnswer + "\n"},
		{name: "validate bad JSON", method: "POST", url: "/v1/validate", body: `{"token":`, status: 400, code: apitype.CodeBadRequest},
		{name: "validate missing token", method: "POST", url: "/v1/validate", body: `{}`, status: 400, code: apitype.CodeBadRequest},
		{name: "validate too large", method: "POST", url: "/v1/validate",
			body: `{"token":"` + strings.Repeat("a", DefaultMaxBodyBytes) + `"}`, status: 413, code: apitype.CodeTooLarge},
		{name: "not found", method: "GET", url: "/v2/nothing", status: 404, code: apitype.CodeNotFound},
		{name: "method not allowed", method: "GET", url: "/v1/validate", status: 405, code: apitype.CodeMethodNotAllowed,
			wantHdr: map[string]string{"Allow": "POST"}},
		{name: "revoke", method: "POST", url: "/v1/revoke", body: `{"token":"good"}`, status: 200, body200: `{"stored":true}` + "\n"},
		{name: "revoke garbage is 200", method: "POST", url: "/v1/revoke", body: `{"token":"junk"}`, status: 200, body200: `{"stored":false}` + "\n"},
		{name: "revoke empty", method: "POST", url: "/v1/revoke", body: `{}`, status: 400, code: apitype.CodeBadRequest},
		{name: "revoke-all", method: "POST", url: "/v1/revoke-all", body: `{"claim":"sid","value":"s1"}`,
			status: 200, body200: `{"claim":"sid","value":"s1","before":"2027-01-15T12:00:00Z"}` + "\n"},
		{name: "unban", method: "POST", url: "/v1/unban", body: `{"sub":"7"}`,
			status: 200, body200: `{"claim":"sub","value":"7","before":"2027-01-15T12:00:00Z"}` + "\n"},
		{name: "healthz", method: "GET", url: "/healthz", status: 200},
		{name: "readyz", method: "GET", url: "/readyz", status: 200},
		{name: "status", method: "GET", url: "/v1/status", status: 200},
		{name: "metrics", method: "GET", url: "/metrics", status: 200},
		{name: "auth bearer", method: "GET", url: "/v1/auth", hdr: map[string]string{"Authorization": "Bearer good"},
			status: 200, wantHdr: map[string]string{"X-Auth-Subject": "alice"}},
		{name: "auth JWT scheme", method: "GET", url: "/v1/auth", hdr: map[string]string{"Authorization": "jwt good"},
			status: 200, wantHdr: map[string]string{"X-Auth-Subject": "alice"}},
		{name: "auth revoked", method: "GET", url: "/v1/auth", hdr: map[string]string{"Authorization": "Bearer revoked"},
			status: 401, wantHdr: map[string]string{"WWW-Authenticate": `Bearer error="invalid_token", error_description="revoked"`}},
		{name: "auth missing", method: "GET", url: "/v1/auth",
			status: 401, wantHdr: map[string]string{"WWW-Authenticate": `Bearer realm="revokd"`}},
		{name: "auth as ext_authz: original method and path", method: "DELETE", url: "/v1/auth/api/orders/7",
			hdr: map[string]string{"Authorization": "Bearer good"}, status: 200, wantHdr: map[string]string{"X-Auth-Subject": "alice"}},
		{name: "auth as ext_authz: POST revoked", method: "POST", url: "/v1/auth/", body: `ignored`,
			hdr: map[string]string{"Authorization": "Bearer revoked"}, status: 401},
		{name: "auth unavailable is 503, not 401", method: "GET", url: "/v1/auth",
			hdr: map[string]string{"Authorization": "Bearer unchecked"}, status: 503, code: apitype.CodeUnavailable,
			wantHdr: map[string]string{"WWW-Authenticate": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := doHTTP(t, hc, tc.method, tc.url, tc.body, tc.hdr)
			if resp.StatusCode != tc.status {
				t.Fatalf("status: got %d, want %d (body %q)", resp.StatusCode, tc.status, body)
			}
			if got := resp.Header.Get(apitype.VersionHeader); got != "v1.2.3" {
				t.Errorf("%s: got %q, want %q", apitype.VersionHeader, got, "v1.2.3")
			}
			if tc.url != "/metrics" {
				if got := resp.Header.Get("Content-Type"); got != "application/json" {
					t.Errorf("Content-Type: got %q, want application/json", got)
				}
				if !json.Valid(body) {
					t.Errorf("body is not JSON: %q", body)
				}
			}
			if tc.code != "" {
				if got := errorCode(body); got != tc.code {
					t.Errorf("error code: got %s, want %s", got, tc.code)
				}
			}
			if tc.body200 != "" && string(body) != tc.body200 {
				t.Errorf("body: got %q, want %q", body, tc.body200)
			}
			for k, v := range tc.wantHdr {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: got %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestHTTPMetricsCount(t *testing.T) {
	ts := startServer(t, Config{})
	hc := httpClient(t, ts.path)
	doHTTP(t, hc, "POST", "/v1/validate", `{"token":"revoked"}`, nil)
	nc := dialNDJSON(t, ts.path)
	nc.roundTrip(`{"op":"validate","token":"good"}`)
	_, body := doHTTP(t, hc, "GET", "/metrics", "", nil)
	for _, want := range []string{
		`revokd_validate_results_total{result="revoked"} 1`,
		`revokd_validate_results_total{result="active"} 1`,
		`revokd_requests_total{op="validate",outcome="ok"} 2`,
		`revokd_replica_cutoffs 2`,
		`revokd_replica_denials 3`,
		`revokd_connections_open 2`,
		`go_goroutines `,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestHandlerTable drives the HTTP API in memory, with httptest.
func TestHandlerTable(t *testing.T) {
	tests := []struct {
		name   string
		ready  bool
		err    error
		method string
		url    string
		body   string
		status int
		code   string
	}{
		{name: "readyz before snapshot", ready: false, method: "GET", url: "/readyz", status: 503, code: apitype.CodeUnavailable},
		{name: "readyz after snapshot", ready: true, method: "GET", url: "/readyz", status: 200},
		{name: "healthz before snapshot", ready: false, method: "GET", url: "/healthz", status: 200},
		{name: "store down", ready: true, err: errUnavailableForTest, method: "POST", url: "/v1/revoke-all", body: `{"sub":"1"}`,
			status: 503, code: apitype.CodeUnavailable},
		{name: "backend says bad request", ready: true, err: badRequest("claim %q carries no cutoffs", "x"), method: "POST",
			url: "/v1/revoke-all", body: `{"claim":"x","value":"1"}`, status: 400, code: apitype.CodeBadRequest},
		{name: "unknown failure", ready: true, err: errPlainForTest, method: "POST", url: "/v1/unban", body: `{"sub":"1"}`,
			status: 500, code: apitype.CodeInternal},
		{name: "trailing garbage", ready: true, method: "POST", url: "/v1/revoke", body: `{"token":"a"} x`, status: 400, code: apitype.CodeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.ready, f.err = tc.ready, tc.err
			h := NewServer(Config{Backend: f, Version: "t"}).Handler()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.url, strings.NewReader(tc.body)))
			if rec.Code != tc.status {
				t.Fatalf("status: got %d, want %d (body %q)", rec.Code, tc.status, rec.Body)
			}
			if tc.code != "" {
				if got := errorCode(rec.Body.Bytes()); got != tc.code {
					t.Errorf("error code: got %s, want %s", got, tc.code)
				}
			}
			if got := rec.Header().Get(apitype.VersionHeader); got != "t" {
				t.Errorf("version header: got %q, want t", got)
			}
		})
	}
}

func TestHTTPKeepAliveThenNDJSONFramingPerConnection(t *testing.T) {
	// Each connection picks its framing once: an HTTP connection serves
	// several requests, and a new connection may speak NDJSON.
	ts := startServer(t, Config{})
	c := dial(t, ts.path)
	req := "POST /v1/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n{\"token\":\"good\"}\n"
	if _, err := c.Write([]byte(req + req)); err != nil {
		t.Fatal(err)
	}
	r := newRespReader(c)
	for i := range 2 {
		resp, body := r.next(t)
		if resp.StatusCode != http.StatusOK || string(body) != goodAnswer+"\n" {
			t.Fatalf("response %d: got %d %q, want 200 %q", i, resp.StatusCode, body, goodAnswer+"\n")
		}
	}
	nc := dialNDJSON(t, ts.path)
	if got := nc.roundTrip(`{"op":"validate","token":"good"}`); got != goodAnswer+"\n" {
		t.Errorf("NDJSON: got %q", got)
	}
}
