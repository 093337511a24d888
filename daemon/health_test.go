package daemon

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/internal/clocktest"
)

// TestHealthRoutesFollowStaleness steps a real daemon's clock and checks
// that /readyz says 200 exactly when a validation gets a verdict, while
// /healthz (liveness) answers 200 throughout: a probe that restarted the
// daemon for a missing database would drop the revocations it enforces.
func TestHealthRoutesFollowStaleness(t *testing.T) {
	type want struct {
		readyz    int
		readyMsg  string // the error message /readyz gives, when not 200
		validates string // the validation's reason, "" for active
	}
	const staleAfter = time.Minute
	type step struct {
		name string
		do   func(d *Daemon, c *clocktest.Clock)
		want want
	}
	notLoaded := want{readyz: 503, readyMsg: errNotReady.Error(), validates: apitype.ReasonUnavailable}
	ready := want{readyz: 200}
	stale := want{readyz: 503, readyMsg: errStale.Error(), validates: apitype.ReasonUnavailable}
	loadAndTouch := func(d *Daemon, c *clocktest.Clock) { d.replica.SetReady(); d.replica.Touch() }
	cases := []struct {
		name       string
		staleAfter time.Duration
		steps      []step
	}{
		{
			name:       "with --stale-after",
			staleAfter: staleAfter,
			steps: []step{
				{"before the first snapshot", func(*Daemon, *clocktest.Clock) {}, notLoaded},
				{"snapshot loaded", loadAndTouch, ready},
				{"silent exactly --stale-after", func(_ *Daemon, c *clocktest.Clock) { c.Add(staleAfter) }, ready},
				{"silent past --stale-after", func(_ *Daemon, c *clocktest.Clock) { c.Add(time.Microsecond) }, stale},
				{"still silent", func(_ *Daemon, c *clocktest.Clock) { c.Add(time.Hour) }, stale},
				{"contact again", func(d *Daemon, _ *clocktest.Clock) { d.replica.Touch() }, ready},
			},
		},
		{
			name: "loaded but never in contact, with --stale-after",
			// The policy fails closed from the start: no contact yet
			// means no proof the snapshot is current.
			staleAfter: staleAfter,
			steps: []step{
				{"snapshot loaded, no contact", func(d *Daemon, _ *clocktest.Clock) { d.replica.SetReady() }, stale},
				{"first contact", func(d *Daemon, _ *clocktest.Clock) { d.replica.Touch() }, ready},
			},
		},
		{
			name: "without --stale-after",
			steps: []step{
				{"before the first snapshot", func(*Daemon, *clocktest.Clock) {}, notLoaded},
				{"snapshot loaded", loadAndTouch, ready},
				{"silent for a day", func(_ *Daemon, c *clocktest.Clock) { c.Add(24 * time.Hour) }, ready},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, _, clock := newDaemon(t, tc.staleAfter, nil)
			h := NewServer(Config{Backend: d.svc, Version: "t"}).Handler()
			for _, s := range tc.steps {
				s.do(d, clock)
				// Fresh at every step, so only the replica decides.
				tok := mint(t, "alice", "", clock.Now().Add(-time.Second))
				if code, _ := serve(h, "GET", "/healthz", ""); code != http.StatusOK {
					t.Errorf("%s: /healthz = %d, want 200", s.name, code)
				}
				code, body := serve(h, "GET", "/readyz", "")
				if code != s.want.readyz {
					t.Errorf("%s: /readyz = %d %s, want %d", s.name, code, body, s.want.readyz)
				}
				if s.want.readyMsg != "" {
					var e apitype.ErrorResponse
					if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != apitype.CodeUnavailable || e.Error.Message != s.want.readyMsg {
						t.Errorf("%s: /readyz body %s, want code %s and message %q", s.name, body, apitype.CodeUnavailable, s.want.readyMsg)
					}
				}
				code, body = serve(h, "POST", "/v1/validate", `{"token":"`+tok+`"}`)
				var v apitype.ValidateResponse
				if err := json.Unmarshal(body, &v); code != http.StatusOK || err != nil {
					t.Fatalf("%s: validate = %d %s (%v)", s.name, code, body, err)
				}
				if v.Reason != s.want.validates || v.Active != (s.want.validates == "") {
					t.Errorf("%s: validate = active %v reason %q, want reason %q", s.name, v.Active, v.Reason, s.want.validates)
				}
				// /readyz and /v1/auth agree: 200 for an active token
				// when ready, 503 (never 401) when not.
				authWant := http.StatusOK
				if s.want.readyz != http.StatusOK {
					authWant = http.StatusServiceUnavailable
				}
				req := httptest.NewRequest("GET", "/v1/auth", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != authWant {
					t.Errorf("%s: /v1/auth = %d, want %d", s.name, rec.Code, authWant)
				}
			}
		})
	}
}

// serve answers one request in memory.
func serve(h http.Handler, method, url, body string) (int, []byte) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, url, strings.NewReader(body)))
	return rec.Code, rec.Body.Bytes()
}
