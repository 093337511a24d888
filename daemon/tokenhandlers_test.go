package daemon

import (
	"net/http"
	"testing"

	"github.com/revokd/revokd/daemon/pipeline"
)

// Each mistake in an issue, refresh or scoped revoke gets a 400 with one
// message, the same by HTTP and NDJSON, in the API's words.
func TestTokenRequestErrors(t *testing.T) {
	f := newTokenFixture(t, pipeline.Config{}, SigningConfig{Rotation: true})
	ts := startServer(t, Config{Backend: f.svc, Tokens: f.svc})
	hc := httpClient(t, ts.path)
	nc := dialNDJSON(t, ts.path)
	tests := []struct {
		name, url, op, body, want string
	}{
		{"claims not an object", "/v1/issue", "issue", `"sub":"a","claims":[1]}`, `"claims" must be a JSON object`},
		{"ttl as a duration", "/v1/issue", "issue", `"sub":"a","ttl":"15m"}`, `"ttl" must be an integer`},
		{"negative ttl", "/v1/issue", "issue", `"sub":"a","ttl":-1}`, `"ttl" must be a positive number of seconds (0 or absent: 15m0s)`},
		{"no sub", "/v1/issue", "issue", `"claims":{}}`, `missing "sub"`},
		{"reserved claim", "/v1/issue", "issue", `"sub":"a","claims":{"orig_iat":1}}`, `"claims" may not set a claim revokd sets: "orig_iat"`},
		{"refresh without a token", "/v1/refresh", "refresh", `"tok":"x"}`, `missing "token"`},
		{"scope without a token", "/v1/revoke", "revoke", `"jti":"j","exp":99999999999,"scope":"session"}`, `"scope" needs "token"`},
		{"unknown scope", "/v1/revoke", "revoke", `"token":"x","scope":"device"}`, `"scope" must be "session" or "subject"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			line := `{"op":"` + tc.op + `",` + tc.body
			ndjson := message(t, []byte(nc.roundTrip(line)))
			resp, b := doHTTP(t, hc, "POST", tc.url, line, nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("http: status %d, want 400: %s", resp.StatusCode, b)
			}
			if h := message(t, b); h != ndjson || ndjson != tc.want {
				t.Errorf("messages: http %q, ndjson %q; want both %q", h, ndjson, tc.want)
			}
		})
	}
}
