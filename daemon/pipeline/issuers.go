package pipeline

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/revokd/revokd/cache"
)

// Issuer is one trusted issuer: the tokens whose iss names it, the keys
// that verify them and the rules they answer to. Exactly one of Keys and
// RemoteKeys gives its keys.
type Issuer struct {
	// Issuer is the iss its tokens carry. Empty only for the one issuer
	// of the one-issuer flags without --issuer: iss is then not checked.
	Issuer string
	Keys   KeyMaterial // keys on disk
	// RemoteKeys fetches the keys from the issuer's identity provider; its
	// Run must be running for its tokens to get a verdict.
	RemoteKeys *RemoteKeys

	Audiences    []string // a token's aud must name one of them; empty: not checked
	Algorithms   []string // empty: every algorithm its keys support
	SubjectClaim string   // empty: Config.SubjectClaim
}

// ScopeSeparator joins an issuer and a claim's value into the value a
// cutoff is stored under when several issuers are trusted: a subject or a
// session is unique only at its issuer. OpenID Connect issuers never
// contain it (they have no fragment), and revokd refuses an issuer that
// does, so the first one splits a stored value unambiguously.
const ScopeSeparator = "#"

// trusted is one Issuer as the pipeline uses it: immutable, one generation
// of its keys; Reload builds new ones.
type trusted struct {
	name         string
	subjectClaim string
	unique       map[string]bool // claims a payload may not repeat
	kc           *keyConfig
	remote       *RemoteKeys
	ring         atomic.Pointer[remoteRing] // the keyring of remote's current set
	// scope prefixes a claim's value to make the value a cutoff at this
	// issuer is stored under when several issuers are trusted: its name
	// and ScopeSeparator; empty for an issuer with no name.
	scope string
	table *issuerTable // the table it belongs to, which a cache hit must still be in use
}

// issuerTable is every trusted issuer, one generation of them.
type issuerTable struct {
	// one is the only issuer, when there is one: every token goes to it
	// whatever its iss, so that golang-jwt judges iss after the signature
	// as it always has, and a file of one entry is the one-issuer flags.
	one    *trusted
	byName map[string]*trusted
	list   []*trusted
}

// lookup returns the issuer whose keys verify token, or nil for a token
// whose iss names no trusted issuer (or has none, or is not a string).
func (t *issuerTable) lookup(token string) *trusted {
	if t.one != nil {
		return t.one
	}
	iss, ok := unverifiedIssuer(token)
	if !ok {
		return nil
	}
	return t.byName[iss]
}

// unverifiedIssuer reads the iss of a token whose shape parseHeader has
// checked, before its signature is: only to choose whose keys to try.
func unverifiedIssuer(token string) (string, bool) {
	_, rest, _ := strings.Cut(token, ".")
	body, _, _ := strings.Cut(rest, ".")
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil {
		return "", false
	}
	c := payload{raw: raw}
	if c.fields, err = splitObject(raw); err != nil {
		return "", false
	}
	iss, err := c.str("iss")
	return iss, err == nil && iss != ""
}

// setInUse is the key set a cached token must have been verified with to
// be answered from the cache: the fetched set, or the keys loaded with t.
func (t *trusted) setInUse() *keySet {
	if t.remote == nil {
		return t.kc.set
	}
	return t.remote.current()
}

// keyring returns the keys to choose from and the set they came from: its
// own, or the fetched set; a nil keyring means no set has been fetched
// yet. A new set's keyring is built once, by whichever validation sees it
// first (two may race to build it; both are the same).
func (t *trusted) keyring() (*keyring, *keySet) {
	if t.remote == nil {
		return t.kc.ring, t.kc.set
	}
	set := t.remote.current()
	if set == nil {
		return nil, nil
	}
	if r := t.ring.Load(); r != nil && r.set == set {
		return r.ring, set
	}
	r := &remoteRing{set: set, ring: newKeyring(set.keys, t.kc.algs)}
	t.ring.Store(r)
	return r.ring, set
}

// cutoffs are the cutoffs a token's claim value answers to: its own
// value, and for a named issuer its value at that issuer as well. So a
// cutoff made without an issuer reaches the subject at every issuer,
// which fails closed for cutoffs made before a second issuer was added;
// and a cutoff scoped to an issuer keeps reaching it when the others are
// removed and it is trusted alone, whose cutoffs are written unscoped. A
// scoped value no store could keep is not looked up: no cutoff can exist
// under it (a scoped write of it is refused), and the unscoped one still
// reaches the token.
func (t *trusted) cutoffs(claim, value string) []ClaimValue {
	own := ClaimValue{Claim: claim, Value: value}
	if t.scope == "" || cache.CheckCutoff(claim, t.scope+value) != nil {
		return []ClaimValue{own}
	}
	return []ClaimValue{own, {Claim: claim, Value: t.scope + value}}
}

// trustedIssuers returns the issuers cfg trusts: its Issuers, or the one its
// one-issuer fields describe.
func (s *settings) trustedIssuers() ([]Issuer, error) {
	flat := len(s.HMACSecret) > 0 || len(s.PublicKeyPEMs) > 0 || len(s.JWKS) > 0 || s.RemoteKeys != nil ||
		s.Issuer != "" || s.Audience != "" || len(s.Algorithms) > 0
	if len(s.Issuers) == 0 {
		var aud []string
		if s.Audience != "" {
			aud = []string{s.Audience}
		}
		return []Issuer{{
			Issuer: s.Issuer, Keys: s.keyMaterial(), RemoteKeys: s.RemoteKeys,
			Audiences: aud, Algorithms: s.Algorithms,
		}}, nil
	}
	if flat {
		return nil, errors.New("issuers given with keys, an issuer, an audience or algorithms of their own: give each issuer's in its entry")
	}
	return s.Issuers, nil
}

// newTable builds the issuer table of list, loading each issuer's keys.
func (p *Pipeline) newTable(list []Issuer) (*issuerTable, error) {
	if len(list) == 0 {
		return nil, errors.New("no trusted issuer")
	}
	t := &issuerTable{byName: map[string]*trusted{}}
	var errs []error
	for i, is := range list {
		what := fmt.Sprintf("issuer %q", is.Issuer)
		if len(list) > 1 {
			switch {
			case is.Issuer == "":
				errs = append(errs, fmt.Errorf("issuer %d: empty issuer: with several, each needs its iss", i+1))
				continue
			case strings.Contains(is.Issuer, ScopeSeparator):
				errs = append(errs, fmt.Errorf("%s contains %q, which scopes cutoffs by issuer", what, ScopeSeparator))
				continue
			case t.byName[is.Issuer] != nil:
				errs = append(errs, fmt.Errorf("%s is given twice", what))
				continue
			}
		}
		tr, err := p.newTrusted(is)
		if err != nil {
			if len(list) > 1 {
				err = fmt.Errorf("%s: %w", what, err)
			}
			errs = append(errs, err)
			continue
		}
		tr.table = t
		t.list = append(t.list, tr)
		t.byName[is.Issuer] = tr
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(t.list) == 1 {
		t.one = t.list[0]
	}
	return t, nil
}

func (p *Pipeline) newTrusted(is Issuer) (*trusted, error) {
	s := p.cfg
	tr := &trusted{name: is.Issuer, subjectClaim: is.SubjectClaim, remote: is.RemoteKeys, unique: map[string]bool{}}
	if tr.subjectClaim == "" {
		tr.subjectClaim = s.SubjectClaim
	}
	if is.Issuer != "" {
		tr.scope = is.Issuer + ScopeSeparator
	}
	for _, name := range slices.Concat(registeredClaims, []string{tr.subjectClaim, s.SessionStartClaim}, s.CutoffClaims) {
		tr.unique[name] = true
	}
	if slices.Contains(is.Audiences, "") {
		return nil, errors.New("empty audience")
	}
	if is.RemoteKeys != nil {
		m := is.Keys
		if len(m.HMACSecret) > 0 || len(m.PublicKeyPEMs) > 0 || len(m.JWKS) > 0 {
			return nil, errors.New("fetched keys exclude keys given at start")
		}
		algs, err := remoteAlgorithms(is.Algorithms)
		if err != nil {
			return nil, fmt.Errorf("algorithms: %w", err)
		}
		tr.kc = p.newKeyConfig(is, nil, nil, algs)
		return tr, nil
	}
	keys, err := loadKeys(is.Keys)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	algs, err := chooseAlgorithms(is.Algorithms, keys)
	if err != nil {
		return nil, fmt.Errorf("algorithms: %w", err)
	}
	set := &keySet{keys: keys, fetched: p.clock.Now()}
	tr.kc = p.newKeyConfig(is, set, newKeyring(keys, algs), algs)
	return tr, nil
}

// CutoffValue is the value a cutoff on value is stored under for the
// issuer iss: value itself with one issuer, or with iss empty (a cutoff
// that reaches every issuer), else iss, ScopeSeparator and value. An iss
// that is not a trusted issuer is an error wrapping cache.ErrInvalid.
func (p *Pipeline) CutoffValue(iss, value string) (string, error) {
	t := p.trust.Load()
	if iss == "" {
		return value, nil
	}
	if t.one != nil {
		if t.one.name != "" && t.one.name != iss {
			return "", fmt.Errorf("%w: iss %q is not the trusted issuer", cache.ErrInvalid, iss)
		}
		return value, nil
	}
	tr := t.byName[iss]
	if tr == nil {
		return "", fmt.Errorf("%w: iss %q is not a trusted issuer", cache.ErrInvalid, iss)
	}
	return tr.scope + value, nil
}

// Issuer is the name of the trusted issuer whose keys verified v: its
// iss, or empty for the one issuer of the flags without --issuer.
func (v *Verified) Issuer() string {
	if v.trust == nil {
		return ""
	}
	return v.trust.name
}

// Issuers returns the names of the trusted issuers, in the order given;
// one empty name when iss is not checked.
func (p *Pipeline) Issuers() []string {
	var names []string
	for _, t := range p.trust.Load().list {
		names = append(names, t.name)
	}
	return names
}

// Verifier returns what checks signatures with the keys of the trusted
// issuer named iss, and whether there is one.
func (p *Pipeline) Verifier(iss string) (SignatureVerifier, bool) {
	t := p.trust.Load()
	tr := t.byName[iss]
	if tr == nil || iss == "" {
		return nil, false
	}
	return issuerVerifier{p: p, t: tr}, true
}
