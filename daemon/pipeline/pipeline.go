package pipeline

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
)

// Pipeline validates tokens. It is safe for concurrent use.
type Pipeline struct {
	cfg     *settings
	clock   cache.Clock
	replica *cache.Replica
	// trust is swapped whole by Reload, so a validation that loads it once
	// sees one generation's issuers, keys, algorithms and parsers, never a
	// mix.
	trust atomic.Pointer[issuerTable]
	cache *verifiedTokens // nil when turned off
	hits  atomic.Uint64
	close sync.Once
}

// New checks cfg, loads its keys and starts the verified-token cache.
func New(cfg Config) (*Pipeline, error) {
	s, err := cfg.settle()
	if err != nil {
		return nil, fmt.Errorf("pipeline config: %w", err)
	}
	p := &Pipeline{cfg: s, clock: s.Clock, replica: s.Replica}
	list, err := s.trustedIssuers()
	if err != nil {
		return nil, fmt.Errorf("pipeline config: %w", err)
	}
	t, err := p.newTable(list)
	if err != nil {
		return nil, fmt.Errorf("pipeline %w", err)
	}
	p.trust.Store(t)
	if s.TokenCacheBytes >= 0 {
		if p.cache, err = newVerifiedTokens(s.TokenCacheBytes); err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
	}
	return p, nil
}

// ErrRemoteKeys is Reload on a pipeline whose keys are fetched: it has no
// key files to read again.
var ErrRemoteKeys = errors.New("keys are fetched from an identity provider, not read from files")

// Reload replaces the keys of the one issuer the one-issuer settings
// describe with m's, as a SIGHUP after the key files changed asks; see
// ReloadIssuers, which it calls.
func (p *Pipeline) Reload(m KeyMaterial) error {
	t := p.trust.Load()
	if len(p.cfg.Issuers) > 0 || t.one == nil {
		return errors.New("pipeline: several issuers are reloaded with ReloadIssuers")
	}
	if t.one.remote != nil {
		return ErrRemoteKeys
	}
	list, err := p.cfg.trustedIssuers()
	if err != nil {
		return err
	}
	list[0].Keys = m
	return p.ReloadIssuers(list)
}

// ReloadIssuers replaces the trusted issuers and their keys with list's,
// as a SIGHUP after the key files or the issuers file changed asks. Keys
// that fail to load, or that leave a configured algorithm without a key,
// are an error and change nothing: a bad file must never leave the daemon
// with no keys. Once it returns nil, no token is answered from what was
// verified under the old keys, so a token signed by a removed key stops
// validating at once; validations under way finish with the keys they
// started with. The issuers' RemoteKeys are the caller's to run.
func (p *Pipeline) ReloadIssuers(list []Issuer) error {
	t, err := p.newTable(list)
	if err != nil {
		return fmt.Errorf("pipeline %w", err)
	}
	p.trust.Store(t)
	return nil
}

// keyConfig is one issuer's keys and what depends on them. It is never
// changed once built: Reload builds a new one.
type keyConfig struct {
	// set stands for this generation in the verified-token cache: a
	// cached token whose set is not the one in use is verified again.
	// With remote keys it is nil and the fetched set plays that part.
	set     *keySet
	ring    *keyring // nil with remote keys
	algs    []string
	allowed map[string]bool
	parser  *jwt.Parser
}

func (p *Pipeline) newKeyConfig(is Issuer, set *keySet, ring *keyring, algs []string) *keyConfig {
	s := p.cfg
	kc := &keyConfig{set: set, ring: ring, algs: algs, allowed: map[string]bool{}}
	for _, alg := range algs {
		kc.allowed[alg] = true
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(s.Leeway),
		jwt.WithTimeFunc(s.Clock.Now),
		// No WithJSONNumber: the payload reads its own numbers from their
		// literals, and without it golang-jwt decodes the payload with
		// json.Unmarshal, which refuses anything after the object. With it,
		// a json.Decoder would stop at the object's end and ignore the rest,
		// so `{...}{"sub":"b"}` or `{...}xyz` would pass as `{...}`.
		// Strict base64: otherwise the unused low bits of a segment's last
		// character could be flipped, making new spellings of one token
		// whose SHA-256 ids were never denied.
		jwt.WithStrictDecoding(),
	}
	if is.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(is.Issuer))
	}
	if len(is.Audiences) > 0 {
		opts = append(opts, jwt.WithAudience(is.Audiences...)) // any one of them
	}
	kc.parser = jwt.NewParser(opts...)
	return kc
}

// Validate answers whether token is good right now, holding it to the
// configured requirements (Config.RequireClaims). Every endpoint calls it,
// or ValidateExpect; it never returns an error, only a Result with a
// reason.
func (p *Pipeline) Validate(token string) Result { return p.validate(token, nil) }

// ValidateExpect is Validate with req in place of the configured
// requirements: a validate request's expect. nil means the configured
// ones.
func (p *Pipeline) ValidateExpect(token string, req *Requirements) Result {
	return p.validate(token, req)
}

func (p *Pipeline) validate(token string, req *Requirements) Result {
	if len(token) > p.cfg.MaxTokenBytes {
		return Result{Reason: apitype.ReasonMalformed}
	}
	if p.cache != nil {
		if v, ok := p.cache.Get(token); ok && p.current(v) {
			p.hits.Add(1)
			return p.check(v, p.clock.Now(), req)
		}
	}
	return p.verify(token, req)
}

// ValidateBytes is Validate for a token held in a request buffer. A cache
// hit neither copies nor keeps token; a miss copies it once into a string
// and runs Validate. token may be reused as soon as it returns. It holds
// the token to the configured requirements, as the requests whose token
// it reads in place carry no expect.
func (p *Pipeline) ValidateBytes(token []byte) Result {
	if len(token) > p.cfg.MaxTokenBytes {
		return Result{Reason: apitype.ReasonMalformed}
	}
	if p.cache != nil {
		if v, ok := p.cache.GetBytes(token); ok && p.current(v) {
			p.hits.Add(1)
			return p.check(v, p.clock.Now(), nil)
		}
	}
	return p.verify(string(token), nil)
}

// current reports whether a cached token was verified with keys still in
// use: its issuer's in this generation of issuers, and, for fetched keys,
// the set fetched last.
func (p *Pipeline) current(v *Verified) bool {
	return v.trust.table == p.trust.Load() && v.keys == v.trust.setInUse()
}

// check decides a verified token's answer from everything that can change
// after it was verified: the clock, the staleness of the replica and the
// replica's cutoffs and denials, and the claims req requires (nil: the
// configured ones). It is the whole of a cache hit's work.
func (p *Pipeline) check(v *Verified, now time.Time, req *Requirements) Result {
	return p.decide(v, now, false, req)
}

// decide is check; with early set it judges a token that is not yet valid
// as it will be judged once its time comes, by everything else.
//
// Its tests run in the precedence order of their reasons (precedence.go),
// so the first that applies wins without calling winner: a hit does no
// work its answer does not need, and takes the replica's lock only when
// nothing outranks revocation.
func (p *Pipeline) decide(v *Verified, now time.Time, early bool, req *Requirements) Result {
	// Judged here rather than when the token is verified, so that a token
	// cached for one caller's requirements answers another's rightly. The
	// configured requirements were judged once, when it was built.
	if req == nil && !v.claimsMet || req != nil && !req.metBy(v) {
		return Result{Reason: apitype.ReasonBadClaim, Token: v}
	}
	// The same comparisons golang-jwt makes for exp and nbf, so a hit and a
	// miss always agree. iat and the session start are held to the same
	// rule as nbf: a token cannot be valid before it was issued.
	if !now.Before(v.Expires.Add(p.cfg.Leeway)) {
		return Result{Reason: apitype.ReasonExpired, Token: v}
	}
	if !early && now.Before(v.validFrom.Add(-p.cfg.Leeway)) {
		return Result{Reason: apitype.ReasonNotYetValid, Token: v}
	}
	if p.cfg.MaxSessionAge > 0 && now.Sub(v.SessionStart) > p.cfg.MaxSessionAge {
		return Result{Reason: apitype.ReasonSessionExpired, Token: v}
	}
	// Before the first snapshot the replica knows of no revocation at all:
	// answering from it would let every revoked token through.
	if p.replica.Stale(now, p.cfg.StaleAfter) {
		return Result{Reason: apitype.ReasonUnavailable, Token: v}
	}
	rej := p.replica.Reject(v.Cutoffs, v.SessionStart.UnixMicro(), v.ID, v.altID, now.UnixMicro())
	switch {
	case rej.Claim != "":
		r := Result{Reason: cutoffReason(rej.Claim), Token: v}
		if until := time.UnixMicro(rej.Before); until.After(now) {
			r.Until = until
		}
		return r
	case rej.Denied:
		return Result{Reason: apitype.ReasonRevoked, Token: v}
	}
	return Result{Token: v}
}

// Revocable answers whether a revocation of token would mean anything: as
// Validate, except that a verified token that is not yet valid (its nbf,
// iat or session start still ahead) is judged as it will be once its time
// comes: by its expiry, its session age and the replica. So it can be
// revoked before it is ever used, and is not stored again when a denial or
// a cutoff already covers it. No claim is required of it: a logout must be
// able to end a refresh token that --require-claim refuses as an access
// token.
func (p *Pipeline) Revocable(token string) Result {
	r := p.validate(token, noRequirements)
	if r.Reason != apitype.ReasonNotYetValid || r.Token == nil {
		return r
	}
	return p.decide(r.Token, p.clock.Now(), true, noRequirements)
}

func cutoffReason(claim string) string {
	switch claim {
	case "sub":
		return apitype.ReasonSubjectRevoked
	case "sid":
		return apitype.ReasonSessionRevoked
	}
	return apitype.ReasonClaimRevoked
}

// Leeway is the clock skew allowed on exp and nbf. A denial must outlive the
// token's exp by it.
func (p *Pipeline) Leeway() time.Duration { return p.cfg.Leeway }

// Algorithms returns the algorithms tokens may be signed with, at any
// trusted issuer.
func (p *Pipeline) Algorithms() []string {
	var algs []string
	for _, t := range p.trust.Load().list {
		algs = append(algs, t.kc.algs...)
	}
	return dedupe(algs)
}

// CacheHits counts the answers served from the verified-token cache.
func (p *Pipeline) CacheHits() uint64 { return p.hits.Load() }

// Close stops the verified-token cache's goroutines. Validate must not be
// called during or after Close.
func (p *Pipeline) Close() {
	p.close.Do(func() {
		if p.cache != nil {
			p.cache.Close()
		}
	})
}
