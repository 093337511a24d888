package pipeline_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/clocktest"
)

// FuzzValidateIssuers feeds arbitrary tokens to a pipeline of several
// issuers, whose keys are chosen by the iss read before any signature is
// checked. It must never panic; only the tokens minted active here may be
// active; and the iss that chose the keys must be the one encoding/json
// reads: a token answered other than malformed or bad_issuer names a
// trusted issuer, and one answered bad_issuer does not.
func FuzzValidateIssuers(f *testing.F) {
	// Fixed secrets, so a failing input saved by the fuzzer replays.
	secrets := map[string][]byte{
		"https://a.example": []byte("issuer A's fuzz secret, 32 bytes"),
		"https://b.example": []byte("issuer B's fuzz secret, 32 bytes"),
		"https://c.example": []byte("issuer C's fuzz secret, 32 bytes"),
	}
	var list []pipeline.Issuer
	for _, iss := range []string{"https://a.example", "https://b.example", "https://c.example"} {
		list = append(list, pipeline.Issuer{Issuer: iss, Keys: pipeline.KeyMaterial{HMACSecret: secrets[iss]}})
	}
	list[2].Audiences, list[2].SubjectClaim = []string{"api", "web"}, "uid"

	header := `{"alg":"HS256","typ":"JWT"}`
	body := fmt.Sprintf(`{"sub":"42","uid":"42","aud":"api","sid":"s-1","iat":%d,"exp":%d`, t0.Unix()-60, t0.Unix()+3600)
	active := map[string]bool{}
	for iss, secret := range secrets {
		good := signHS256(secret, header, body+`,"iss":"`+iss+`"}`)
		active[good] = true
		f.Add(good)
		parts := strings.Split(good, ".")
		f.Add(parts[0] + "." + parts[1] + "A." + parts[2])
		f.Add(parts[0] + "." + parts[1] + ".")
		for other, otherSecret := range secrets {
			if other != iss { // iss names one issuer, another's key signed it
				f.Add(signHS256(otherSecret, header, body+`,"iss":"`+iss+`"}`))
			}
		}
	}
	for _, iss := range []string{
		`"https://nobody.example"`, `""`, `null`, `7`, `["https://a.example"]`, `{"iss":"https://a.example"}`,
		`"https://a.example\u0000"`, `"https://A.example"`, `"https://a.example/"`,
		`"https://a.example","iss":"https://b.example"`, `"https://b.example","\u0069ss":"https://a.example"`,
	} {
		f.Add(signHS256(secrets["https://a.example"], header, body+`,"iss":`+iss+`}`))
	}
	// The same iss, escaped: A's, and active.
	escaped := signHS256(secrets["https://a.example"], header, body+`,"iss":"https:\/\/a.example"}`)
	active[escaped] = true
	f.Add(escaped)
	f.Add(signHS256(secrets["https://a.example"], header, body+`}`))
	f.Add(signHS256(secrets["https://a.example"], header, body+`,"iss":"https://a.example"}{"iss":"https://b.example"}`))
	// A payload that is not JSON, but whose iss a boundary reader finds.
	f.Add(signHS256(secrets["https://c.example"], header, `{"x":=4,"iss":"https://c.example"}`))

	clock := clocktest.New(t0)
	replica := cache.NewReplica(clock, 0, 0)
	replica.SetReady()
	p, err := pipeline.New(pipeline.Config{Issuers: list, Clock: clock, Replica: replica})
	if err != nil {
		f.Fatalf("New: %v", err)
	}
	f.Cleanup(p.Close)

	f.Fuzz(func(t *testing.T, token string) {
		r := p.Validate(token)
		if r.Active() && !active[token] {
			t.Fatalf("token %q is active; only the tokens minted active may be", token)
		}
		iss, ok, valid := issuerByEncodingJSON(token)
		trusted := ok && secrets[iss] != nil
		switch {
		case r.Reason == apitype.ReasonMalformed:
		case !valid:
			// The iss is read before golang-jwt has checked the payload is
			// JSON, by a reader that only finds boundaries: an invalid
			// payload may choose an issuer, and is refused later.
		case r.Reason == apitype.ReasonBadIssuer && trusted:
			t.Fatalf("token %q: bad_issuer, but encoding/json reads iss %q, a trusted issuer", token, iss)
		case r.Reason != apitype.ReasonBadIssuer && !trusted:
			t.Fatalf("token %q: reason %q, but encoding/json reads no trusted iss (%q, %v)", token, r.Reason, iss, ok)
		}
		var resp apitype.ValidateResponse
		if err := json.Unmarshal(r.AppendJSON(nil), &resp); err != nil || resp.Active != r.Active() || resp.Reason != r.Reason {
			t.Fatalf("answer JSON for %q: %+v, %v; result says %v %q", token, resp, err, r.Active(), r.Reason)
		}
	})
}

// issuerByEncodingJSON reads a token's iss as encoding/json does (of two,
// the last), without regard to anything else, and reports whether the
// payload is JSON at all.
func issuerByEncodingJSON(token string) (iss string, ok, valid bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", false, false
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil || !json.Valid(payload) {
		return "", false, false
	}
	// A map, not a struct: encoding/json matches a struct's field names
	// without regard to case, and a claim's name is exact.
	var claims map[string]json.RawMessage
	if json.Unmarshal(payload, &claims) != nil || json.Unmarshal(claims["iss"], &iss) != nil {
		return "", false, true
	}
	return iss, true, true
}
