package daemon

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/cache/bolt"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
)

// TestErrorMessagesSameByBothFramings sends each mistake over HTTP and as
// an NDJSON line, the same bytes, and checks that the two answers carry the
// same message, in the API's words: no Go struct fields, no time layouts,
// no prefix twice.
//
// It runs over the test's memSource and over a bolt store, whose errors
// name their operation as Service's do ("revoke all: …").
func TestErrorMessagesSameByBothFramings(t *testing.T) {
	t.Run("memSource", func(t *testing.T) {
		d, _, _ := newDaemon(t, 0, nil)
		d.replica.SetReady()
		d.replica.Touch()
		testErrorMessages(t, d.svc)
	})
	t.Run("bolt", func(t *testing.T) {
		d, err := New(Options{
			Pipeline: pipeline.Config{HMACSecret: testSecret, Leeway: testLeeway},
			Source: func(r *cache.Replica) (cache.Source, error) {
				return bolt.Open(filepath.Join(t.TempDir(), "revokd.db"), r, nil, nil)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		if err := d.open(context.Background()); err != nil {
			t.Fatal(err)
		}
		d.replica.SetReady()
		d.replica.Touch()
		testErrorMessages(t, d.svc)
	})
}

func testErrorMessages(t *testing.T, backend Backend) {
	ts := startServer(t, Config{Backend: backend})
	hc := httpClient(t, ts.path)
	nc := dialNDJSON(t, ts.path)

	tests := []struct {
		name string
		url  string // "": NDJSON only
		op   string // the NDJSON op, also sent (and ignored) over HTTP
		body string // members after "op"
		want string // a part of the message
	}{
		{"token as a number", "/v1/validate", "validate", `"token":42}`, `"token" must be a string`},
		{"expect with a number", "/v1/validate", "validate", `"token":"x","expect":{"aud":1}}`, `"expect" must be an object whose values are strings`},
		{"before as a number", "/v1/revoke-all", "revoke-all", `"sub":"alice","before":1700000000}`, `"before" must be an RFC 3339 time such as 2030-01-01T00:00:00Z`},
		{"before not RFC 3339", "/v1/revoke-all", "revoke-all", `"sub":"alice","before":"2030-01-01 00:00"}`, `"before" must be an RFC 3339 time`},
		{"sub as an object", "/v1/revoke-all", "revoke-all", `"sub":{"id":1}}`, `"sub" must be a string`},
		{"sub as an object in unban", "/v1/unban", "unban", `"sub":{}}`, `"sub" must be a string`},
		{"bad JSON", "/v1/revoke-all", "revoke-all", `"sub":}`, `body is not valid JSON: invalid character '}'`},
		{"truncated JSON", "/v1/validate", "validate", `"token":`, `body is not valid JSON`},
		{"trailing garbage", "/v1/validate", "validate", `"token":"x"} x`, `body is not valid JSON: invalid character 'x' after top-level value (at byte`},
		{"claim that carries no cutoffs", "/v1/revoke-all", "revoke-all", `"claim":"tenant","value":"t1"}`, `claim "tenant" carries no cutoffs`},
		{"exp as a string", "/v1/revoke", "revoke", `"jti":"j-1","exp":"1700000000"}`, `"exp" must be an integer`},
		{"before outside what a store keeps", "/v1/revoke-all", "revoke-all", `"sub":"alice","before":"0001-01-01T00:00:00Z"}`, `"before" 0001-01-01T00:00:00Z is outside`},
		{"sub too long", "/v1/revoke-all", "revoke-all", `"sub":"` + strings.Repeat("s", 600) + `"}`, `too long`},
		{"sub too long in unban", "/v1/unban", "unban", `"sub":"` + strings.Repeat("s", 600) + `"}`, `too long`},
		{"token id too long", "/v1/revoke", "revoke", `"jti":"` + strings.Repeat("j", 600) + `","exp":99999999999}`, `too long`},
		{"unknown op", "", "frobnicate", `"token":"x"}`, `unknown op "frobnicate"`},
		{"op as a number", "", "", `"op":7}`, `"op" must be a string`},
		{"not an object", "", "", `[1]`, `body must be`},
	}
	forbidden := []string{"Go struct field", "2006-01-02", "bad request: bad request", "json: ", "apitype.", "time.Time", "int64"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			line := `{"op":"` + tc.op + `",` + tc.body
			if tc.op == "" {
				line = tc.body
				if strings.HasPrefix(line, `"`) {
					line = "{" + line
				}
			}
			ndjson := message(t, []byte(nc.roundTrip(line)))
			check := func(framing, msg string) {
				t.Helper()
				if !strings.Contains(msg, tc.want) {
					t.Errorf("%s: message %q lacks %q", framing, msg, tc.want)
				}
				for _, f := range forbidden {
					if strings.Contains(msg, f) {
						t.Errorf("%s: message %q contains %q", framing, msg, f)
					}
				}
				for _, p := range []string{"revoke all:", "revoke token:", "unban:", "invalid revocation:", "bad request:", "body is not valid JSON:"} {
					if n := strings.Count(msg, p); n > 1 {
						t.Errorf("%s: message %q has %q %d times", framing, msg, p, n)
					}
				}
				parts := strings.Split(msg, ": ")
				for i := 1; i < len(parts); i++ {
					if parts[i] == parts[i-1] {
						t.Errorf("%s: message %q repeats prefix %q", framing, msg, parts[i])
					}
				}
			}
			check("ndjson", ndjson)
			if tc.url == "" {
				return
			}
			resp, b := doHTTP(t, hc, "POST", tc.url, line, nil)
			if resp.StatusCode != 400 {
				t.Errorf("http: status %d, want 400: %s", resp.StatusCode, b)
			}
			h := message(t, b)
			check("http", h)
			if h != ndjson {
				t.Errorf("messages differ:\nhttp:   %q\nndjson: %q", h, ndjson)
			}
		})
	}
}

// message returns a bad_request answer's message.
func message(t *testing.T, b []byte) string {
	t.Helper()
	var e apitype.ErrorResponse
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code != apitype.CodeBadRequest {
		t.Fatalf("not a bad_request answer (%v): %s", err, b)
	}
	return e.Error.Message
}
