package pipeline

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
)

// understoodCrit lists the header parameters revokd implements for "crit"
// (RFC 7515 §4.1.11). It implements none: "b64" (RFC 7797) and the like
// change how the signature is computed, and a token that depends on one
// must not be accepted by a verifier that ignores it.
var understoodCrit = map[string]bool{}

// verify runs the full pipeline on a token the cache did not answer for.
// Its stages follow the precedence of reasons (precedence.go): each stops
// at a reason no later stage could beat, and where reasons meet, winner
// picks. req is the claims required of the token (nil: the configured
// ones).
func (p *Pipeline) verify(token string, req *Requirements) Result {
	alg, kid, hasKid, reason := parseHeader(token)
	if reason != "" {
		return Result{Reason: reason}
	}
	// The issuer picks the keys, so with several its name is read before
	// any key is tried: an iss that names none is bad_issuer. Loaded once:
	// a Reload under way must not mix generations.
	t := p.trust.Load().lookup(token)
	if t == nil {
		return Result{Reason: apitype.ReasonBadIssuer}
	}
	keyfunc, set, reason := t.choose(alg, kid, hasKid)
	if reason != "" {
		return Result{Reason: reason}
	}
	kc := t.kc

	var claims payload
	_, err := kc.parser.ParseWithClaims(token, &claims, keyfunc)
	switch { // reason becomes golang-jwt's verdict on the claims
	case err == nil:
	case !errors.Is(err, jwt.ErrTokenInvalidClaims):
		// The signature did not verify, or the token could not be read:
		// nothing in the payload can be trusted, so nothing more is judged.
		if errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			return Result{Reason: apitype.ReasonBadSignature}
		}
		return Result{Reason: apitype.ReasonMalformed}
	default:
		reason = claimsReason(err)
	}

	// The signature verified: from here on the answer carries the token.
	v, policyReason, err := p.build(token, alg, &claims, t)
	if err != nil {
		return Result{Reason: apitype.ReasonMalformed}
	}
	v.keys, v.trust = set, t
	reason = winner(reason, policyReason)
	if reason != "" && !clockReason(reason) {
		return Result{Reason: reason, Token: v}
	}

	if p.cache != nil {
		p.cache.Set(token, v, v.cost())
	}
	r := p.check(v, p.clock.Now(), req)
	if w := winner(reason, r.Reason); w != r.Reason {
		// golang-jwt read the clock a moment earlier; its verdict stands
		// where it wins.
		r = Result{Reason: w, Token: v}
	}
	return r
}

// parseHeader checks a token's shape (three base64url segments, within the
// size limit already checked) and reads its header. It returns a reason
// when the token is malformed.
func parseHeader(token string) (alg, kid string, hasKid bool, reason string) {
	head, rest, ok1 := strings.Cut(token, ".")
	body, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || head == "" || body == "" ||
		!base64url(head) || !base64url(body) || !base64url(sig) {
		return "", "", false, apitype.ReasonMalformed
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(head)
	if err != nil || !json.Valid(raw) {
		return "", "", false, apitype.ReasonMalformed
	}
	// Members read as encoding/json would read them into a map, which is
	// how golang-jwt reads the header: names match exactly, the last of a
	// repeated name wins.
	h := payload{raw: raw}
	if h.fields, err = splitObject(raw); err != nil {
		return "", "", false, apitype.ReasonMalformed
	}
	// Present at all, even as null, "crit" must list what we understand.
	if v, _ := h.get("crit"); v != nil {
		var crit []string
		if json.Unmarshal(v, &crit) != nil || len(crit) == 0 {
			return "", "", false, apitype.ReasonMalformed
		}
		for _, name := range crit {
			if !understoodCrit[name] {
				return "", "", false, apitype.ReasonMalformed
			}
		}
	}
	if alg, err = h.str("alg"); err != nil || alg == "" {
		return "", "", false, apitype.ReasonMalformed
	}
	if kid, err = h.str("kid"); err != nil {
		return "", "", false, apitype.ReasonMalformed
	}
	_, hasKid = h.get("kid")
	return alg, kid, hasKid, ""
}

func base64url(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

var errSessionAfterIat = errors.New("session starts after the token was issued")

// build turns a token whose signature verified into a Verified. It returns
// an error when a claim it needs has the wrong type, and a policy reason
// when a claim is missing (the token is still returned, as the signature
// verified).
func (p *Pipeline) build(token, alg string, c *payload, t *trusted) (*Verified, string, error) {
	if err := c.duplicate(t.unique); err != nil {
		return nil, "", err
	}
	v := &Verified{Claims: c.raw}
	var reason string
	missing := func() {
		if reason == "" {
			reason = apitype.ReasonMissingClaim
		}
	}

	exp, err := c.GetExpirationTime()
	if err != nil {
		return nil, "", err
	}
	if exp == nil {
		missing()
	} else {
		v.Expires = exp.Time
	}
	if nbf, err := c.GetNotBefore(); err != nil {
		return nil, "", err
	} else if nbf != nil {
		v.NotBefore = nbf.Time
	}

	var ok bool
	if v.Subject, ok, err = c.value(t.subjectClaim); err != nil {
		return nil, "", err
	} else if !ok {
		missing()
	}
	if v.JTI, ok, err = c.value("jti"); err != nil {
		return nil, "", err
	}
	if ok {
		v.ID = v.JTI
	} else {
		if p.cfg.RequireJTI {
			missing()
		}
		v.ID = TokenID(token)
		v.altID = ecdsaTwinID(token, alg)
	}
	if v.SessionID, _, err = c.value("sid"); err != nil {
		return nil, "", err
	}
	for _, name := range p.cfg.CutoffClaims {
		var value string
		switch name {
		case "sub":
			value, ok = v.Subject, v.Subject != ""
		case "sid":
			value, ok = v.SessionID, v.SessionID != ""
		default:
			if value, ok, err = c.value(name); err != nil {
				return nil, "", err
			}
		}
		if ok {
			v.Cutoffs = append(v.Cutoffs, t.cutoffs(name, value)...)
		}
	}
	// A token must stay revocable: an id or a cutoff value that no store
	// can keep (too long, or with a NUL) would make a token nothing could
	// deny or cut off.
	if err := cache.CheckTokenID(v.ID); err != nil {
		return nil, "", fmt.Errorf("jti: %w", err)
	}
	for _, cv := range v.Cutoffs {
		if err := cache.CheckCutoff(cv.Claim, cv.Value); err != nil {
			return nil, "", fmt.Errorf("claim %s: %w", cv.Claim, err)
		}
	}

	// Issue times keep microseconds: a cutoff in the same second as a
	// token's issue must tell before from after.
	iat, hasIat, err := c.micros("iat")
	if err != nil {
		return nil, "", err
	}
	if hasIat {
		v.IssuedAt = time.UnixMicro(iat)
	}
	origIat, hasOrigIat, err := c.micros("orig_iat")
	if err != nil {
		return nil, "", err
	}
	if hasOrigIat {
		v.OrigIssuedAt = time.UnixMicro(origIat)
	}
	start, hasStart, err := c.micros(p.cfg.SessionStartClaim)
	if err != nil {
		return nil, "", err
	}
	switch {
	case hasStart:
		// A session cannot start after the token that carries it was
		// issued; a second's grace covers an iat cut to whole seconds.
		if hasIat && start-iat > int64(time.Second/time.Microsecond) {
			return nil, "", fmt.Errorf("claim %s: %w", p.cfg.SessionStartClaim, errSessionAfterIat)
		}
		v.SessionStart = time.UnixMicro(start)
	case hasIat:
		v.SessionStart = v.IssuedAt
	case len(v.Cutoffs) > 0 || p.cfg.MaxSessionAge > 0:
		// Without a session start no cutoff could be compared, and
		// accepting the token would let it outlive every revoke-all.
		missing()
	}

	v.claimsMet = p.cfg.required.met(c)

	v.validFrom = v.NotBefore
	for _, t := range []time.Time{v.IssuedAt, v.SessionStart} {
		if t.After(v.validFrom) {
			v.validFrom = t
		}
	}

	if reason == "" {
		if v.activeJSON, err = json.Marshal(Result{Token: v}.Response()); err != nil {
			return nil, "", err
		}
	}
	return v, reason, nil
}

// cost is the heap a cached Verified holds, as the allocator rounds it
// (heapBytes): the struct, its cutoff array and each string and
// slice built for it (the cache adds the token's copy and its own
// overhead). A string shared by two fields (jti and ID, sub and its
// cutoff value) is counted for each: a few bytes too many keeps the cache
// under its budget, too few let it grow past it.
func (v *Verified) cost() int64 {
	n := heapBytes(int(unsafe.Sizeof(*v))) +
		heapBytes(cap(v.Cutoffs)*int(unsafe.Sizeof(ClaimValue{}))) +
		heapBytes(cap(v.Claims)) + heapBytes(cap(v.activeJSON))
	for _, s := range [...]string{v.Subject, v.ID, v.altID, v.JTI, v.SessionID} {
		n += heapBytes(len(s))
	}
	for _, c := range v.Cutoffs {
		n += heapBytes(len(c.Value))
	}
	return n
}
