package daemon

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/daemon/signer"
)

// SigningConfig gives the daemon a signing key of its own (--signing-key):
// it then issues and refreshes tokens (POST /v1/issue, POST /v1/refresh),
// which its pipeline verifies with the key's public half (or the HMAC
// secret) like any other, and /v1/jwks publishes that half.
type SigningConfig struct {
	// Key reads the key: a PEM private key, or with an HS Alg the HMAC
	// secret's bytes. New calls it, and so does each Reload, so a SIGHUP
	// after the file changed rotates the key.
	Key func() ([]byte, error)
	// Alg is the algorithm (--signing-alg); empty: the key's default
	// (RS256, ES256/384/512 by curve, EdDSA). An HMAC secret needs one.
	Alg string
	// KID is the kid tokens name (--signing-kid); empty: the RFC 7638
	// thumbprint of an asymmetric key, none for an HMAC secret.
	KID string
	// TTL is a token's lifetime unless an issue asks for another
	// (--token-ttl); 0: DefaultTokenTTL.
	TTL time.Duration
	// Issuer and Audience are iss and aud of issued tokens
	// (--signing-issuer, --signing-audience); empty: the pipeline's
	// Issuer and Audience, which its tokens must name.
	Issuer, Audience string
	// Rotation denies a refreshed token once its successor is minted, and
	// treats a refresh of a denied token as reuse, revoking its session
	// (--refresh-rotation).
	Rotation bool
	// PublicOnly verifies and publishes the key but never mints
	// (--public-keys-only): for a validating daemon that shares the key
	// file with an issuing one.
	PublicOnly bool
}

// DefaultTokenTTL is --token-ttl's default.
const DefaultTokenTTL = 15 * time.Minute

// errNoMinting answers issue and refresh on a daemon that does not mint.
var errNoMinting = fmt.Errorf("%w: this daemon does not issue tokens (it has no --signing-key, or --public-keys-only)", errNotFound)

// keys is a daemon's key generation as the token service sees it: the
// signer (nil without a signing key) and the published key set. Reload
// swaps both, and the pipeline's keys, under mu, so that a token is
// minted and checked by one generation.
type keys struct {
	cfg    *SigningConfig // nil without a signing key
	algs   []string       // the pipeline's configured algorithms; empty: every one its keys support
	signer *signer.Signer // nil without a signing key
	mu     sync.RWMutex   // written while a reload swaps the keys; read while a token is minted and checked
	jwks   atomic.Pointer[[]byte]
}

// newKeys settles the signing settings, reads the signing key and adds its
// verifying half to pc's keys. cfg may be nil.
func newKeys(cfg *SigningConfig, pc *pipeline.Config) (*keys, *signer.Key, error) {
	if cfg == nil {
		return &keys{}, nil, nil
	}
	c := *cfg
	switch {
	case c.Key == nil:
		return nil, nil, errors.New("signing: no key")
	case c.TTL < 0:
		return nil, nil, fmt.Errorf("signing: token TTL %s is negative", c.TTL)
	case pc.RemoteKeys != nil:
		return nil, nil, errors.New("signing: a signing key cannot go with keys fetched from an identity provider, which are the only keys the pipeline then trusts")
	case c.Rotation && !c.PublicOnly && !slices.Contains(cutoffClaimsOf(*pc), "sid"):
		return nil, nil, errors.New("signing: refresh rotation ends a reused session with a cutoff on sid, which must be a cutoff claim")
	}
	if c.TTL == 0 {
		c.TTL = DefaultTokenTTL
	}
	if c.Issuer == "" {
		c.Issuer = pc.Issuer
	}
	if c.Audience == "" {
		c.Audience = pc.Audience
	}
	if len(pc.Issuers) > 0 && c.Issuer == "" {
		return nil, nil, errors.New("signing: with several issuers, the signing issuer (--signing-issuer) names the issuer of the daemon's tokens")
	}
	k, err := readSigningKey(&c)
	if err != nil {
		return nil, nil, err
	}
	ks := &keys{cfg: &c, algs: pc.Algorithms}
	subject := pc.SubjectClaim
	if len(pc.Issuers) > 0 {
		list, i, err := joinIssuer(pc.Issuers, &c, k)
		if err != nil {
			return nil, nil, err
		}
		pc.Issuers = list
		subject = cmp.Or(list[i].SubjectClaim, subject)
	} else {
		if err := ks.check(k); err != nil {
			return nil, nil, err
		}
		m := pipeline.KeyMaterial{HMACSecret: pc.HMACSecret, PublicKeyPEMs: pc.PublicKeyPEMs, JWKS: pc.JWKS}
		if err := k.AddTo(&m); err != nil {
			return nil, nil, fmt.Errorf("signing key: %w", err)
		}
		pc.HMACSecret, pc.PublicKeyPEMs = m.HMACSecret, m.PublicKeyPEMs
	}
	ks.signer = signer.New(signer.Settings{
		Issuer:            c.Issuer,
		Audience:          c.Audience,
		SubjectClaim:      subject,
		SessionStartClaim: pc.SessionStartClaim,
		TTL:               c.TTL,
		MaxSessionAge:     pc.MaxSessionAge,
	}, k)
	return ks, k, nil
}

// joinIssuer adds k's verifying half to the keys of the trusted issuer
// its tokens name (the signing issuer), or trusts that issuer, with k
// alone, when list lacks it. It returns the new list and the issuer's
// index. An issuer whose keys are fetched cannot take the key: its
// provider's set is all it trusts.
func joinIssuer(list []pipeline.Issuer, c *SigningConfig, k *signer.Key) ([]pipeline.Issuer, int, error) {
	out := slices.Clone(list)
	i := slices.IndexFunc(out, func(is pipeline.Issuer) bool { return is.Issuer == c.Issuer })
	if i < 0 {
		is := pipeline.Issuer{Issuer: c.Issuer}
		if c.Audience != "" {
			is.Audiences = []string{c.Audience}
		}
		out, i = append(out, is), len(out)
	}
	is := &out[i]
	switch {
	case is.RemoteKeys != nil:
		return nil, 0, fmt.Errorf("signing: the keys of issuer %q are fetched from its identity provider, which cannot hold the signing key: give the daemon's tokens an issuer of their own", c.Issuer)
	case len(is.Algorithms) > 0 && !slices.Contains(is.Algorithms, k.Alg()):
		return nil, 0, fmt.Errorf("signing: algorithm %s is not among issuer %q's algorithms %v", k.Alg(), c.Issuer, is.Algorithms)
	}
	if err := k.AddTo(&is.Keys); err != nil {
		return nil, 0, fmt.Errorf("signing key: %w", err)
	}
	return out, i, nil
}

// published is the key material /v1/jwks publishes: the one-issuer keys
// of pc, or with several issuers those of the signing issuer.
func (ks *keys) published(pc *pipeline.Config) pipeline.KeyMaterial {
	if len(pc.Issuers) == 0 || ks.cfg == nil {
		return pipeline.KeyMaterial{HMACSecret: pc.HMACSecret, PublicKeyPEMs: pc.PublicKeyPEMs, JWKS: pc.JWKS}
	}
	for _, is := range pc.Issuers {
		if is.Issuer == ks.cfg.Issuer {
			return is.Keys
		}
	}
	return pipeline.KeyMaterial{}
}

func cutoffClaimsOf(pc pipeline.Config) []string {
	if len(pc.CutoffClaims) == 0 {
		return pipeline.DefaultCutoffClaims
	}
	return pc.CutoffClaims
}

func readSigningKey(c *SigningConfig) (*signer.Key, error) {
	data, err := c.Key()
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	k, err := signer.ParseKey(data, c.Alg, c.KID)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return k, nil
}

// check holds a signing key to the pipeline's algorithms: its algorithm
// must be among those tokens may use (--algorithms). Without a list, the
// pipeline allows every algorithm of its keys, the signing key's among
// them.
func (ks *keys) check(k *signer.Key) error {
	if len(ks.algs) > 0 && !slices.Contains(ks.algs, k.Alg()) {
		return fmt.Errorf("signing: algorithm %s is not among the allowed algorithms %v", k.Alg(), ks.algs)
	}
	return nil
}

// publish makes m and the signing key k the published key set.
func (ks *keys) publish(m pipeline.KeyMaterial, k *signer.Key) error {
	b, err := signer.JWKS(m, k)
	if err != nil {
		return fmt.Errorf("publish keys: %w", err)
	}
	ks.jwks.Store(&b)
	return nil
}

// minter is the signer when the daemon mints, else nil.
func (ks *keys) minter() *signer.Signer {
	if ks == nil || ks.cfg == nil || ks.cfg.PublicOnly {
		return nil
	}
	return ks.signer
}

// reload reads the signing key again and swaps the pipeline's keys for m
// with the key's verifying half, then the signer's key and the published
// set: all or nothing.
func (ks *keys) reload(p *pipeline.Pipeline, m pipeline.KeyMaterial) error {
	var k *signer.Key
	if ks.cfg != nil {
		var err error
		if k, err = readSigningKey(ks.cfg); err != nil {
			return err
		}
		if err := ks.check(k); err != nil {
			return err
		}
		if err := k.AddTo(&m); err != nil {
			return fmt.Errorf("signing key: %w", err)
		}
	}
	jwks, err := signer.JWKS(m, k)
	if err != nil {
		return fmt.Errorf("publish keys: %w", err)
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if err := p.Reload(m); err != nil {
		return err
	}
	if k != nil {
		ks.signer.SetKey(k)
	}
	ks.jwks.Store(&jwks)
	return nil
}

// reloadIssuers reads the signing key again and makes list, with the
// key's verifying half joined to the signing issuer's keys, the trusted
// issuers, then swaps the signer's key and the published set: all or
// nothing. It returns the issuers in use.
func (ks *keys) reloadIssuers(p *pipeline.Pipeline, list []pipeline.Issuer) ([]pipeline.Issuer, error) {
	if ks.cfg == nil {
		return list, p.ReloadIssuers(list)
	}
	k, err := readSigningKey(ks.cfg)
	if err != nil {
		return nil, err
	}
	list, i, err := joinIssuer(list, ks.cfg, k)
	if err != nil {
		return nil, err
	}
	jwks, err := signer.JWKS(list[i].Keys, k)
	if err != nil {
		return nil, fmt.Errorf("publish keys: %w", err)
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if err := p.ReloadIssuers(list); err != nil {
		return nil, err
	}
	ks.signer.SetKey(k)
	ks.jwks.Store(&jwks)
	return list, nil
}

// defaultWriters is the write lists of a daemon with a signing key that
// was given none: the daemon's own uid and root.
func defaultWriters() []int {
	return slices.Compact([]int{0, os.Getuid()})
}

// status reports the signing key in use, if any, in st.
func (ks *keys) status(st *apitype.StatusResponse) {
	if ks == nil || ks.signer == nil {
		return
	}
	k := ks.signer.Key()
	st.SigningAlg, st.SigningKID, st.Minting = k.Alg(), k.KID(), ks.minter() != nil
}
