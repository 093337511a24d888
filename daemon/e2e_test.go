package daemon

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/revokd/revokd/client/apitype"
)

// TestServiceOverSocket runs the revocation flows through both framings
// against the real Service: each framing's write is seen by the other's
// next answer.
func TestServiceOverSocket(t *testing.T) {
	f := newServiceFixture(t, 0)
	ts := startServer(t, Config{Backend: f.svc})
	hc := httpClient(t, ts.path)
	nc := dialNDJSON(t, ts.path)

	validateNDJSON := func(tok string) apitype.ValidateResponse {
		t.Helper()
		var v apitype.ValidateResponse
		if err := json.Unmarshal([]byte(nc.roundTrip(`{"op":"validate","token":"`+tok+`"}`)), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	validateHTTP := func(tok string) apitype.ValidateResponse {
		t.Helper()
		_, body := doHTTP(t, hc, "POST", "/v1/validate", `{"token":"`+tok+`"}`, nil)
		var v apitype.ValidateResponse
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%v: %q", err, body)
		}
		return v
	}

	a := mint(t, "alice", "ja", t0.Add(-time.Minute))
	if v := validateNDJSON(a); !v.Active || v.Sub != "alice" || v.JTI != "ja" {
		t.Fatalf("fresh token over NDJSON: got %+v, want active alice/ja", v)
	}
	_, body := doHTTP(t, hc, "POST", "/v1/revoke", `{"token":"`+a+`"}`, nil)
	if string(body) != `{"stored":true}`+"\n" {
		t.Fatalf("HTTP revoke: got %q", body)
	}
	if v := validateNDJSON(a); v.Active || v.Reason != apitype.ReasonRevoked {
		t.Errorf("after HTTP revoke, NDJSON: got %+v, want revoked", v)
	}

	b := mint(t, "bob", "jb", t0.Add(-time.Minute))
	if v := validateHTTP(b); !v.Active {
		t.Fatalf("fresh token over HTTP: got %+v", v)
	}
	if got := nc.roundTrip(`{"op":"revoke-all","sub":"bob"}`); got != `{"claim":"sub","value":"bob","before":"2027-01-15T12:00:00Z"}`+"\n" {
		t.Fatalf("NDJSON revoke-all: got %q", got)
	}
	if v := validateHTTP(b); v.Active || v.Reason != apitype.ReasonSubjectRevoked {
		t.Errorf("after NDJSON revoke-all, HTTP: got %+v, want subject_revoked", v)
	}
	resp, _ := doHTTP(t, hc, "GET", "/v1/auth", "", map[string]string{"Authorization": "Bearer " + b})
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token", error_description="subject_revoked"` {
		t.Errorf("auth after revoke-all: got %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	var st apitype.StatusResponse
	if err := json.Unmarshal([]byte(nc.roundTrip(`{"op":"status"}`)), &st); err != nil {
		t.Fatal(err)
	}
	if st.Cutoffs != 1 || st.Denials != 1 || st.Version != "test-1" || st.LastVersion != 2 {
		t.Errorf("status: got %+v, want 1 cutoff, 1 denial, version test-1, last version 2", st)
	}
}
