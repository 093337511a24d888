package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/revokd/revokd/cache"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxTokenBytes     = 8192
	DefaultSubjectClaim      = "sub"
	DefaultSessionStartClaim = "orig_iat"
	DefaultTokenCacheBytes   = 64 << 20
)

// DefaultCutoffClaims are the claims that can carry cutoffs unless
// configured otherwise. "sub" always stands for the subject claim.
var DefaultCutoffClaims = []string{"sub", "sid"}

// Config says how tokens are validated. Key material may be given in any
// combination; at least one key is required.
type Config struct {
	HMACSecret    []byte   // the shared secret, for HS256/384/512
	PublicKeyPEMs [][]byte // PEM public keys (RSA, EC P-256/384/521, Ed25519) or certificates
	JWKS          []byte   // a JSON Web Key Set; keys are selected by kid
	// RemoteKeys, instead of the three above, fetches the keys from an
	// identity provider. Its Run must be running for validations to get a
	// verdict; until its first set they answer unavailable.
	RemoteKeys *RemoteKeys

	Algorithms []string // allowed algorithms; empty means all that the configured keys support

	Issuer, Audience string // empty means not checked

	// Issuers, instead of the keys, Algorithms, Issuer and Audience above,
	// trusts several issuers (--issuers-file): a token's iss chooses whose
	// keys and rules apply, and cutoffs are scoped by issuer
	// (Pipeline.CutoffValue). One entry is the same as the fields above.
	Issuers []Issuer

	SubjectClaim      string   // default "sub"
	SessionStartClaim string   // default "orig_iat"; a token without it falls back to "iat"
	CutoffClaims      []string // default {"sub", "sid"}; "sub" means the subject claim

	MaxSessionAge time.Duration // 0 means unbounded
	Leeway        time.Duration // for exp and nbf

	MaxTokenBytes int // default 8192

	// RequireClaims are claim values every token must carry (--require-claim),
	// unless a validate request's expect replaces them; a token whose claim
	// differs or is absent is bad_claim. Nil or empty requires nothing.
	RequireClaims map[string]string

	// RequireJTI rejects a token without a jti as missing_claim. Off, such a
	// token is identified by TokenID (the SHA-256 of its bytes).
	RequireJTI bool

	// TokenCacheBytes bounds the verified-token cache: 0 means
	// DefaultTokenCacheBytes (64 MiB), a negative value turns the cache
	// off (every token is verified in full; benchmarks use this).
	TokenCacheBytes int64

	Clock   cache.Clock    // default cache.SystemClock
	Replica *cache.Replica // required: the revocation state every answer is checked against

	// StaleAfter, when positive, makes every answer "unavailable" once the
	// replica has gone this long without contact with its store
	// (cache.Replica.Stale): it may be missing revocations, and failing
	// closed is the policy. The --stale-after flag.
	StaleAfter time.Duration
}

// KeyMaterial is the keys given at start, in Config, or later to Reload:
// the contents of the key files.
type KeyMaterial struct {
	HMACSecret    []byte
	PublicKeyPEMs [][]byte
	JWKS          []byte
}

func (cfg *Config) keyMaterial() KeyMaterial {
	return KeyMaterial{HMACSecret: cfg.HMACSecret, PublicKeyPEMs: cfg.PublicKeyPEMs, JWKS: cfg.JWKS}
}

// settings is a Config with defaults applied and checked.
type settings struct {
	Config
	required *Requirements
}

func (cfg Config) settle() (*settings, error) {
	s := &settings{Config: cfg}
	if s.MaxTokenBytes == 0 {
		s.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if s.SubjectClaim == "" {
		s.SubjectClaim = DefaultSubjectClaim
	}
	if s.SessionStartClaim == "" {
		s.SessionStartClaim = DefaultSessionStartClaim
	}
	if len(s.CutoffClaims) == 0 {
		s.CutoffClaims = DefaultCutoffClaims
	}
	s.CutoffClaims = dedupe(s.CutoffClaims)
	s.required = NewRequirements(s.RequireClaims)
	if s.Clock == nil {
		s.Clock = cache.SystemClock{}
	}
	var errs []error
	if s.MaxTokenBytes < 0 {
		errs = append(errs, fmt.Errorf("max token bytes %d is negative", s.MaxTokenBytes))
	}
	if s.Leeway < 0 {
		errs = append(errs, fmt.Errorf("leeway %s is negative", s.Leeway))
	}
	if s.StaleAfter < 0 {
		errs = append(errs, fmt.Errorf("stale after %s is negative", s.StaleAfter))
	}
	if s.MaxSessionAge < 0 {
		errs = append(errs, fmt.Errorf("max session age %s is negative", s.MaxSessionAge))
	}
	if s.Replica == nil {
		errs = append(errs, errors.New("no replica"))
	}
	for _, c := range s.CutoffClaims {
		if c == "" {
			errs = append(errs, errors.New("empty cutoff claim name"))
		}
	}
	if _, ok := s.RequireClaims[""]; ok {
		errs = append(errs, errors.New("empty required claim name"))
	}
	return s, errors.Join(errs...)
}

// chooseAlgorithms checks the configured algorithms against the keys, or
// picks every algorithm some key supports.
func chooseAlgorithms(want []string, keys []*verifyKey) ([]string, error) {
	supported := func(alg string) bool {
		return slices.ContainsFunc(keys, func(k *verifyKey) bool { return k.allows(alg) })
	}
	if len(want) == 0 {
		var algs []string
		for _, alg := range knownAlgs {
			if supported(alg) {
				algs = append(algs, alg)
			}
		}
		return algs, nil
	}
	var errs []error
	for _, alg := range want {
		switch {
		case strings.EqualFold(alg, "none"):
			errs = append(errs, errors.New(`algorithm "none" is never allowed`))
		case !slices.Contains(knownAlgs, alg):
			errs = append(errs, fmt.Errorf("algorithm %q is unknown (known: %s)", alg, strings.Join(knownAlgs, ", ")))
		case !supported(alg):
			errs = append(errs, fmt.Errorf("algorithm %s is not supported by any configured key", alg))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return dedupe(want), nil
}

// dedupe returns a copy of list without repeats, in its order.
func dedupe(list []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
