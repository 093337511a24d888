package pipeline_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/daemon/pipeline"
)

// TestCostCoversWhatVerifiedHolds verifies many distinct tokens of each
// shape, keeps what the pipeline built for them, and compares the heap they
// hold with the sum of their costs: the cost must cover it (the cache
// budget is counted in costs, so an undercount lets the heap outgrow the
// budget) and not by a wide margin. Counting over many entries and with a
// generous upper factor keeps it steady whatever else the runtime holds.
func TestCostCoversWhatVerifiedHolds(t *testing.T) {
	k := keys()
	shapes := []struct {
		name    string
		changes func(i int) claims
		cfg     pipeline.Config
	}{
		{"small", func(i int) claims { return nil }, pipeline.Config{}},
		{"no jti (sha256 id)", func(i int) claims { return claims{"jti": nil} }, pipeline.Config{}},
		{"no jti, ES256 twin id", func(i int) claims { return claims{"jti": nil} }, pipeline.Config{}},
		{"numeric subject, extra cutoff claim", func(i int) claims {
			return claims{"sub": 100_000 + i, "tenant": fmt.Sprintf("tenant-%d", i)}
		}, pipeline.Config{CutoffClaims: []string{"sub", "sid", "tenant"}}},
		{"1 KB of claims", func(i int) claims { return claims{"pad": strings.Repeat("x", 1000)} }, pipeline.Config{}},
		{"4 KB of claims", func(i int) claims { return claims{"pad": strings.Repeat("y", 4000)} }, pipeline.Config{}},
	}
	const n, warm = 2000, 50
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			cfg := sh.cfg
			cfg.TokenCacheBytes = -1 // hold the results here, not in the cache
			f := newFixture(t, cfg)
			method, key := jwt.SigningMethod(jwt.SigningMethodHS256), any(k.hmac)
			if strings.Contains(sh.name, "ES256") {
				method, key = jwt.SigningMethodES256, k.ec256
			}
			tokens := make([]string, warm+n)
			for i := range tokens {
				c := with(baseClaims(), claims{
					"jti": fmt.Sprintf("jti-%d", i), "sid": fmt.Sprintf("sess-%d", i),
					"orig_iat": t0.Add(-time.Hour).Unix(), "scope": "read write",
				})
				tokens[i] = mint(t, method, key, with(c, sh.changes(i)), nil)
			}
			// The first validations may set up what every later one shares
			// (parser and key state); they are not what an entry holds.
			for _, tok := range tokens[:warm] {
				f.p.Validate(tok)
			}
			tokens = tokens[warm:]
			held := make([]*pipeline.Verified, n)
			before := pipeline.LiveHeap()
			for i, tok := range tokens {
				r := f.p.Validate(tok)
				if !r.Active() {
					t.Fatalf("token %d: %s, want active", i, r.Reason)
				}
				held[i] = r.Token
			}
			grown := float64(int64(pipeline.LiveHeap()) - int64(before))
			var cost float64
			for _, v := range held {
				cost += float64(v.Cost())
			}
			t.Logf("%d tokens of %d B: heap grew %.0f B per token, cost %.0f B", n, len(tokens[0]), grown/n, cost/n)
			// noise is what the runtime may allocate meanwhile for itself
			// (a few KiB); an undercount of even 8 B a token is 16 KiB.
			const noise = 4 << 10
			if cost+noise < grown {
				t.Errorf("costs sum to %.0f B, but what they describe holds %.0f B", cost, grown)
			}
			if cost > 2*grown {
				t.Errorf("costs sum to %.0f B, over twice the %.0f B held", cost, grown)
			}
			runtime.KeepAlive(held)
		})
	}
}
