package pipeline_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/daemon/pipeline"
)

// BenchmarkValidate measures one Validate per algorithm:
//   - cold: the verified-token cache is turned off (TokenCacheBytes < 0), so
//     every iteration does the whole pipeline on the same token: shape,
//     header, base64, JSON, signature, claims, revocation;
//   - cached: the token is in the cache, so an iteration is the hit path
//     (ristretto Get, clock, exp/nbf/session age, cutoff and denial lookups).
//
// The system clock is used, as in production, and the replica holds a
// thousand cutoffs and denials that do not match, so lookups hit real maps.
func BenchmarkValidate(b *testing.B) {
	k := keys()
	now := time.Now()
	c := claims{
		"sub": "user-42", "sid": "s-1", "jti": "j-1",
		"iss": "https://issuer.example", "aud": "revokd",
		"iat": now.Unix(), "orig_iat": now.Unix() - 3600, "exp": now.Add(time.Hour).Unix(),
		"name": "Ana", "roles": []string{"reader", "writer"},
	}
	algs := []struct {
		name   string
		method jwt.SigningMethod
		key    any
	}{
		{"HS256", jwt.SigningMethodHS256, k.hmac},
		{"RS256", jwt.SigningMethodRS256, k.rsa},
		{"ES256", jwt.SigningMethodES256, k.ec256},
		{"EdDSA", jwt.SigningMethodEdDSA, k.ed},
	}
	for _, alg := range algs {
		tok := mint(b, alg.method, alg.key, c, nil)
		for _, mode := range []string{"cold", "cached"} {
			b.Run(alg.name+"/"+mode, func(b *testing.B) {
				cfg := allKeysConfig(b)
				cfg.Issuer, cfg.Audience = "https://issuer.example", "revokd"
				cfg.MaxSessionAge = 24 * time.Hour
				cfg.Leeway = 30 * time.Second
				cfg.Clock = cache.SystemClock{}
				cfg.Replica = busyReplica()
				if mode == "cold" {
					cfg.TokenCacheBytes = -1
				}
				p, err := pipeline.New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				if r := p.Validate(tok); !r.Active() {
					b.Fatalf("benchmark token is inactive: %s", r.Reason)
				}
				if mode == "cached" {
					for p.CacheHits() == 0 {
						p.WaitCache()
						p.Validate(tok)
					}
				}
				hits := p.CacheHits()
				b.ReportAllocs()
				for b.Loop() {
					if !p.Validate(tok).Active() {
						b.Fatal("inactive")
					}
				}
				if mode == "cached" && p.CacheHits()-hits < uint64(b.N) {
					b.Fatalf("only %d of %d iterations were cache hits", p.CacheHits()-hits, b.N)
				}
			})
		}
	}
}

// busyReplica holds a thousand cutoffs and denials that match nothing.
func busyReplica() *cache.Replica {
	r := cache.NewReplica(cache.SystemClock{}, 0, 0)
	r.SetReady()
	for i := range 1000 {
		r.ApplyCutoff(cache.Cutoff{Claim: "sub", Value: fmt.Sprintf("user-%d", 1000+i), Before: time.Now(), Version: int64(2*i + 1)})
		r.ApplyDenial(cache.Denial{ID: fmt.Sprintf("j-%d", 1000+i), ExpiresAt: time.Now().Add(time.Hour), Version: int64(2*i + 2)})
	}
	return r
}

// BenchmarkValidateParallel measures cache hits from every core at once,
// each goroutine on its own token, to show contention on the cache and the
// replica's lock.
func BenchmarkValidateParallel(b *testing.B) {
	cfg := allKeysConfig(b)
	cfg.Clock = cache.SystemClock{}
	cfg.Replica = busyReplica()
	p, err := pipeline.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	now := time.Now()
	var toks []string
	for i := range 64 {
		tok := mint(b, jwt.SigningMethodHS256, keys().hmac, claims{
			"sub": fmt.Sprintf("user-%d", i), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}, nil)
		// Until the token is served from the cache.
		for hits := p.CacheHits(); p.CacheHits() == hits; p.WaitCache() {
			if !p.Validate(tok).Active() {
				b.Fatal("benchmark token is inactive")
			}
		}
		toks = append(toks, tok)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		tok := toks[next.Add(1)%int64(len(toks))]
		for pb.Next() {
			if !p.Validate(tok).Active() {
				b.Error("inactive")
				return
			}
		}
	})
}
