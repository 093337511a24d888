package pipeline_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/internal/clocktest"
)

// FuzzValidate feeds the pipeline arbitrary tokens, seeded with the shared
// vectors and mutations of them. It must never panic, and a token whose
// signature did not verify must never be active: every seed that is not an
// active vector, and every mutation, must come back inactive. An input that
// is exactly an active vector is the only one allowed to pass.
func FuzzValidate(f *testing.F) {
	vf := loadVectors(f)
	now := time.Unix(vf.Now, 0)
	active := map[string]bool{}
	for _, v := range vf.Vectors {
		if v.Profile != "seed" {
			continue
		}
		if v.Expect.Active {
			active[v.Token] = true
		}
		f.Add(v.Token)
		parts := strings.Split(v.Token, ".")
		f.Add(v.Token + "x")
		f.Add(strings.Join(parts[:min(2, len(parts))], "."))
		if len(parts) == 3 {
			f.Add(parts[0] + "." + parts[1] + ".")
			f.Add(parts[0] + ".." + parts[2])
			f.Add(parts[1] + "." + parts[0] + "." + parts[2])
			f.Add(parts[0] + "." + parts[1] + "A." + parts[2])
		}
	}
	for _, s := range []string{"", ".", "..", "...", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", strings.Repeat("A", 9000)} {
		f.Add(s)
	}
	cfg := profileConfig(f, vf.Profiles["seed"])
	// Correctly signed shapes that must never be active: data after the
	// payload, a claim revokd reads given twice, and a token issued or a
	// session started in the future (or after its iat).
	valid := fmt.Sprintf(`{"id":7,"username":"ana","exp":%d,"orig_iat":%d`, vf.Now+3600, vf.Now-60)
	for _, payload := range []string{
		valid + `}{"id":8}`,
		valid + `}xyz`,
		valid + `} {}`,
		valid + `,"id":8}`,
		valid + `,"\u0069d":8}`,
		valid + fmt.Sprintf(`,"exp":%d}`, vf.Now+7200),
		valid + `,"orig_iat":1}`,
		valid + `,"username":"a","username":"b","id":8}`,
		fmt.Sprintf(`{"id":7,"exp":%d,"iat":%d}`, vf.Now+3600, vf.Now+120),
		fmt.Sprintf(`{"id":7,"exp":%d,"orig_iat":%d}`, vf.Now+3600, vf.Now+10*365*86400),
		fmt.Sprintf(`{"id":7,"exp":%d,"orig_iat":253402300800}`, vf.Now+3600),
		fmt.Sprintf(`{"id":7,"exp":%d,"iat":%d,"orig_iat":%d}`, vf.Now+3600, vf.Now-60, vf.Now-58),
		fmt.Sprintf(`{"id":7,"exp":%d,"iat":%d,"orig_iat":%d.5}`, vf.Now+3600, vf.Now+5, vf.Now+5),
	} {
		f.Add(signHS256(cfg.HMACSecret, `{"alg":"HS256","typ":"JWT"}`, payload))
	}
	// An iss that names no issuer, or is not a string, on a token signed
	// by someone else: this profile trusts one issuer, which every token
	// goes to, so the signature decides (FuzzValidateIssuers reads iss
	// before any key is tried).
	other := []byte("not the seed profile's secret, no")
	for _, iss := range []string{`"https://nobody.example"`, `7`, `["https://nobody.example"]`, `null`, `""`} {
		f.Add(signHS256(other, `{"alg":"HS256","typ":"JWT"}`, valid+`,"iss":`+iss+`}`))
	}
	clock := clocktest.New(now)
	cfg.Clock = clock
	cfg.Replica = cache.NewReplica(clock, cfg.MaxSessionAge, cfg.Leeway)
	cfg.Replica.SetReady()
	p, err := pipeline.New(cfg)
	if err != nil {
		f.Fatalf("New: %v", err)
	}
	f.Cleanup(p.Close)

	f.Fuzz(func(t *testing.T, token string) {
		r := p.Validate(token)
		if r.Active() && !active[token] {
			t.Fatalf("token %q is active; only the seed profile's active vectors may be", token)
		}
		if r.Active() && (r.Token == nil || r.Token.Subject == "") {
			t.Fatalf("active answer without a subject for %q", token)
		}
		// The answer's JSON must always be valid and say the same thing.
		var resp apitype.ValidateResponse
		if err := json.Unmarshal(r.AppendJSON(nil), &resp); err != nil {
			t.Fatalf("answer JSON for %q: %v", token, err)
		}
		if resp.Active != r.Active() || resp.Reason != r.Reason {
			t.Fatalf("answer JSON says active=%v reason=%q, result says %v %q", resp.Active, resp.Reason, r.Active(), r.Reason)
		}
	})
}

// signHS256 signs header and payload JSON exactly as written.
func signHS256(secret []byte, header, payload string) string {
	b64 := base64.RawURLEncoding.EncodeToString
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + b64(mac.Sum(nil))
}
