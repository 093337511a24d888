package signer

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// Settings say what every minted token carries and how long it lives.
type Settings struct {
	Issuer, Audience  string        // iss and aud of issued tokens; empty: none
	SubjectClaim      string        // the claim that holds the subject (the pipeline's; "sub" by default)
	SessionStartClaim string        // the claim that holds the session start (the pipeline's; "orig_iat" by default)
	TTL               time.Duration // a token's lifetime unless an issue asks for another
	MaxSessionAge     time.Duration // no token outlives its session start by more; 0: unbounded
}

// Signer mints tokens with the key in use, which SetKey swaps. It is safe
// for concurrent use.
type Signer struct {
	set Settings
	key atomic.Pointer[Key]
}

// New returns a Signer minting with k.
func New(set Settings, k *Key) *Signer {
	if set.SubjectClaim == "" {
		set.SubjectClaim = "sub"
	}
	if set.SessionStartClaim == "" {
		set.SessionStartClaim = "orig_iat"
	}
	s := &Signer{set: set}
	s.key.Store(k)
	return s
}

// SetKey makes k the key new tokens are signed with (a rotation).
func (s *Signer) SetKey(k *Key) { s.key.Store(k) }

// Key is the key in use.
func (s *Signer) Key() *Key { return s.key.Load() }

// Token is a minted token and what its holder is told of it.
type Token struct {
	Token string
	JTI   string
	SID   string
	Exp   time.Time // whole seconds, as the token has it
}

// Errors of Issue and Refresh.
var (
	// ErrReservedClaim refuses an issue whose claims would set one the
	// signer sets itself.
	ErrReservedClaim = errors.New(`"claims" may not set a claim revokd sets`)
	// ErrSessionExpired refuses a refresh whose session has reached the
	// maximum session age: the next token would expire at once.
	ErrSessionExpired = errors.New("session has reached the maximum session age")
	// ErrNoSession refuses a refresh of a token without a sid, or whose
	// sid is not a string.
	ErrNoSession = errors.New("token has no sid")
)

// reserved reports whether an issue's claims may not set name.
func (s *Signer) reserved(name string) bool {
	switch name {
	case "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "orig_iat", s.set.SubjectClaim, s.set.SessionStartClaim:
		return true
	}
	return false
}

// Issue mints the first token of a new session for sub, issued now: iat
// and the session start are now, to the microsecond, sid and jti are new,
// and it expires ttl from now (the configured TTL when ttl is 0), or at
// the maximum session age if that comes first. claims are added as given;
// one that names a claim the signer sets is ErrReservedClaim.
func (s *Signer) Issue(sub string, claims map[string]json.RawMessage, ttl time.Duration, now time.Time) (Token, error) {
	for name := range claims {
		if s.reserved(name) {
			return Token{}, fmt.Errorf("%w: %q", ErrReservedClaim, name)
		}
	}
	if ttl == 0 {
		ttl = s.set.TTL
	}
	now = time.UnixMicro(now.UnixMicro())
	exp, err := s.expiry(now, now, ttl)
	if err != nil {
		return Token{}, err
	}
	sid, jti := randomID(), randomID()
	p := newPayload()
	if s.set.Issuer != "" {
		p.set("iss", quote(s.set.Issuer))
	}
	p.set(s.set.SubjectClaim, quote(sub))
	if s.set.Audience != "" {
		p.set("aud", quote(s.set.Audience))
	}
	p.set("iat", numericDate(now))
	p.set(s.set.SessionStartClaim, numericDate(now))
	p.set("exp", numericDate(exp))
	p.set("jti", quote(jti))
	p.set("sid", quote(sid))
	for _, name := range slices.Sorted(maps.Keys(claims)) {
		var c bytes.Buffer
		if err := json.Compact(&c, claims[name]); err != nil {
			return Token{}, fmt.Errorf("claim %q: %w", name, err)
		}
		p.set(name, c.Bytes())
	}
	return s.sign(p, jti, sid, exp)
}

// Refresh mints the next token of the session whose verified token has
// payload and session start start: the same claims, the session start
// (orig_iat, written from start when the token had only iat) and sid
// kept, a new jti, iat now, and exp the configured TTL from now or the
// session's maximum age, whichever comes first. A session already at its
// maximum age is ErrSessionExpired; a token without a sid, ErrNoSession.
func (s *Signer) Refresh(payload []byte, start, now time.Time) (Token, error) {
	members := map[string]json.RawMessage{}
	if err := json.Unmarshal(payload, &members); err != nil {
		return Token{}, fmt.Errorf("refresh: payload: %w", err)
	}
	var sid string
	if json.Unmarshal(members["sid"], &sid) != nil || sid == "" {
		return Token{}, ErrNoSession
	}
	now = time.UnixMicro(now.UnixMicro())
	exp, err := s.expiry(time.UnixMicro(start.UnixMicro()), now, s.set.TTL)
	if err != nil {
		return Token{}, err
	}
	if _, ok := members[s.set.SessionStartClaim]; !ok {
		members[s.set.SessionStartClaim] = numericDate(start)
	}
	delete(members, "nbf")
	jti := randomID()
	members["iat"] = numericDate(now)
	members["exp"] = numericDate(exp)
	members["jti"] = quote(jti)
	p := newPayload()
	// The claims in a fixed order, the issue's, then the rest by name.
	for _, name := range []string{"iss", s.set.SubjectClaim, "aud", "iat", s.set.SessionStartClaim, "exp", "jti", "sid"} {
		if v, ok := members[name]; ok {
			p.set(name, v)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(members)) {
		p.set(name, members[name])
	}
	return s.sign(p, jti, sid, exp)
}

// expiry is a token's exp, in whole seconds: ttl from now, but never past
// the session's maximum age from start, and after now.
func (s *Signer) expiry(start, now time.Time, ttl time.Duration) (time.Time, error) {
	exp := now.Add(ttl)
	if s.set.MaxSessionAge > 0 {
		if end := start.Add(s.set.MaxSessionAge); end.Before(exp) {
			exp = end
		}
	}
	exp = time.Unix(exp.Unix(), 0)
	if !exp.After(now) {
		return time.Time{}, ErrSessionExpired
	}
	return exp, nil
}

func (s *Signer) sign(p *payload, jti, sid string, exp time.Time) (Token, error) {
	tok, err := s.Key().sign(p.bytes())
	if err != nil {
		return Token{}, err
	}
	return Token{Token: tok, JTI: jti, SID: sid, Exp: exp}, nil
}

// payload is a JSON object built member by member: the first set of a
// name decides its place, so the registered claims come first.
type payload struct {
	names  []string
	values map[string]json.RawMessage
}

func newPayload() *payload { return &payload{values: map[string]json.RawMessage{}} }

func (p *payload) set(name string, v json.RawMessage) {
	if _, ok := p.values[name]; ok {
		return
	}
	p.names = append(p.names, name)
	p.values[name] = v
}

// bytes is the object, its members in the order they were first set.
func (p *payload) bytes() []byte {
	b := []byte{'{'}
	for i, name := range p.names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, quote(name)...)
		b = append(b, ':')
		b = append(b, p.values[name]...)
	}
	return append(b, '}')
}

// numericDate is t as an RFC 7519 NumericDate, to the microsecond: a
// token issued in the same second as a cutoff, but after it, must not
// fall under it. Whole seconds are written without a fraction.
func numericDate(t time.Time) json.RawMessage {
	us := t.UnixMicro()
	b := strconv.AppendInt(nil, us/1e6, 10)
	if frac := us % 1e6; frac != 0 {
		b = append(b, '.')
		digits := strconv.AppendInt(nil, 1e6+frac, 10)[1:] // six digits, leading zeros kept
		b = append(b, bytes.TrimRight(digits, "0")...)
	}
	return b
}

func quote(s string) json.RawMessage {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

// randomID is 128 random bits, base64url: a jti or a sid.
func randomID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand: it crashes the program rather)
	return base64.RawURLEncoding.EncodeToString(b)
}
