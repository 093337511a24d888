package pipeline_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
)

// TestAnswerJSON checks that the hot path's precomputed bytes are exactly
// what encoding/json writes for the same apitype.ValidateResponse, active or
// not, with awkward strings and big numbers in the claims.
func TestAnswerJSON(t *testing.T) {
	f := newFixture(t, pipeline.Config{})
	active := hs256(t, with(baseClaims(), claims{
		"sub":      num("12345678901234567890"),
		"sid":      "<script>&\u2028\"x\"",
		"orig_iat": num("1799999000.5"),
		"nested":   claims{"n": num("1e400"), "s": "é\t"},
	}))
	banned := hs256(t, with(baseClaims(), claims{"sid": "ban-me"}))
	f.cutoff("sid", "ban-me", t0.Add(90*time.Minute+123456*time.Microsecond))

	for _, tok := range []string{active, banned, "garbage"} {
		r := f.p.Validate(tok)
		want, err := json.Marshal(r.Response())
		if err != nil {
			t.Fatal(err)
		}
		if got := r.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
		}
	}

	r := f.p.Validate(active)
	var resp apitype.ValidateResponse
	if err := json.Unmarshal(r.AppendJSON(nil), &resp); err != nil {
		t.Fatal(err)
	}
	if !resp.Active || resp.Sub != "12345678901234567890" || resp.SID != "<script>&\u2028\"x\"" ||
		resp.JTI != "jti-1" || resp.Exp != t0.Add(time.Hour).Unix() || resp.OrigIAT != 1799999000 {
		t.Errorf("active answer = %+v", resp)
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(resp.Claims, &c); err != nil || string(c["sub"]) != "12345678901234567890" {
		t.Errorf("claims = %s (%v), want sub kept as the literal 12345678901234567890", resp.Claims, err)
	}

	rb := f.p.Validate(banned)
	if rb.Reason != apitype.ReasonSessionRevoked || rb.Response().Until == nil {
		t.Fatalf("banned: %+v, want %s with until", rb.Response(), apitype.ReasonSessionRevoked)
	}
}

// TestAnswerJSONWithoutPipeline checks that a Result built by hand (as a
// test fake does) still writes its answer.
func TestAnswerJSONWithoutPipeline(t *testing.T) {
	tests := []struct {
		name string
		r    pipeline.Result
		want string
	}{
		{"active", pipeline.Result{Token: &pipeline.Verified{Subject: "alice", JTI: "j1", Expires: t0}},
			fmt.Sprintf(`{"active":true,"sub":"alice","jti":"j1","exp":%d}`, t0.Unix())},
		{"active without token", pipeline.Result{}, `{"active":true}`},
		{"ban", pipeline.Result{Reason: apitype.ReasonSubjectRevoked, Until: t0.Add(time.Microsecond)},
			`{"active":false,"reason":"subject_revoked","until":"2027-01-15T08:00:00.000001Z"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(tc.r.AppendJSON([]byte("x"))); got != "x"+tc.want {
				t.Fatalf("AppendJSON = %s, want x%s", got, tc.want)
			}
		})
	}
}
