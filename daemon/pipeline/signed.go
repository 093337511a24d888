package pipeline

import (
	"encoding/base64"
	"errors"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/client/apitype"
)

// Signed is a token whose signature verified, its header and payload as
// the JSON they are; nothing else about it has been judged.
type Signed struct {
	Header, Payload []byte
}

// SignatureVerifier checks a token's signature with one issuer's keys.
type SignatureVerifier interface {
	// VerifySignature checks token's signature with the keys and
	// algorithms the issuer's access tokens are verified with ("none"
	// never among them), and judges nothing else: no claim, no time, no
	// revocation. It is for tokens that are not access tokens, such as an
	// OpenID Connect logout token, whose claims follow rules of their own
	// that the caller applies. The reason is "" when the signature
	// verified; otherwise malformed, unsupported_alg, unknown_key,
	// bad_signature, or unavailable before a fetched key set has arrived
	// or when it lacks the token's kid.
	VerifySignature(token string) (Signed, string)
	// SubjectClaim is the claim the issuer's tokens carry their subject
	// in, which a cutoff on "sub" compares.
	SubjectClaim() string
}

// issuerVerifier is the SignatureVerifier of one trusted issuer.
type issuerVerifier struct {
	p *Pipeline
	t *trusted
}

func (v issuerVerifier) SubjectClaim() string { return v.t.subjectClaim }

func (v issuerVerifier) VerifySignature(token string) (Signed, string) {
	if len(token) > v.p.cfg.MaxTokenBytes {
		return Signed{}, apitype.ReasonMalformed
	}
	alg, kid, hasKid, reason := parseHeader(token)
	if reason != "" {
		return Signed{}, reason
	}
	keyfunc, _, reason := v.t.choose(alg, kid, hasKid)
	if reason == apitype.ReasonUnknownKey && v.t.remote != nil {
		// A kid the fetched set still lacks may be a key the provider
		// has only just added (its refetch rate-limited, say): unknown,
		// not refused, so that a logout signed with it is sent again
		// rather than lost.
		return Signed{}, apitype.ReasonUnavailable
	}
	if reason != "" {
		return Signed{}, reason
	}
	// A parser of its own, built per call (logouts are rare): the shared
	// one requires exp, iss and aud as access tokens have them.
	parser := jwt.NewParser(jwt.WithValidMethods(v.t.kc.algs), jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding())
	if _, err := parser.Parse(token, keyfunc); err != nil {
		if errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			return Signed{}, apitype.ReasonBadSignature
		}
		return Signed{}, apitype.ReasonMalformed
	}
	// parseHeader and the parser have checked the three segments' shape.
	parts := strings.SplitN(token, ".", 3)
	header, err1 := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	payload, err2 := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err1 != nil || err2 != nil {
		return Signed{}, apitype.ReasonMalformed
	}
	return Signed{Header: header, Payload: payload}, ""
}

// choose returns the keyfunc for a token's alg and kid among t's keys,
// and the set it came from, or the reason there is none. A kid the
// fetched set lacks refetches it once (RemoteKeys.refetch) and tries again.
func (t *trusted) choose(alg, kid string, hasKid bool) (jwt.Keyfunc, *keySet, string) {
	if alg == "none" || !t.kc.allowed[alg] {
		return nil, nil, apitype.ReasonUnsupportedAlg
	}
	ring, set := t.keyring()
	if ring == nil {
		// No key set fetched yet: whether the token is good is unknown, not
		// refused.
		return nil, nil, apitype.ReasonUnavailable
	}
	keyfunc, reason := ring.choose(kid, hasKid, alg)
	if reason == apitype.ReasonUnknownKey && t.remote != nil && t.remote.refetch(set) {
		ring, set = t.keyring()
		keyfunc, reason = ring.choose(kid, hasKid, alg)
	}
	return keyfunc, set, reason
}
