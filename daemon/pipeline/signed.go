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

// VerifySignature checks token's signature with the keys and algorithms
// access tokens are verified with ("none" never among them), and judges
// nothing else: no claim, no time, no revocation. It is for tokens that are
// not access tokens, such as an OpenID Connect logout token, whose claims
// follow rules of their own that the caller applies. The reason is "" when
// the signature verified; otherwise malformed, unsupported_alg,
// unknown_key, bad_signature, or unavailable before a fetched key set
// has arrived.
func (p *Pipeline) VerifySignature(token string) (Signed, string) {
	if len(token) > p.cfg.MaxTokenBytes {
		return Signed{}, apitype.ReasonMalformed
	}
	alg, kid, hasKid, reason := parseHeader(token)
	if reason != "" {
		return Signed{}, reason
	}
	kc := p.keys.Load() // once: a Reload under way must not mix generations
	if alg == "none" || !kc.allowed[alg] {
		return Signed{}, apitype.ReasonUnsupportedAlg
	}
	ring, set := p.keyring(kc)
	if ring == nil {
		return Signed{}, apitype.ReasonUnavailable
	}
	keyfunc, reason := ring.choose(kid, hasKid, alg)
	if reason == apitype.ReasonUnknownKey && p.remote != nil && p.remote.refetch(set) {
		ring, _ = p.keyring(kc)
		keyfunc, reason = ring.choose(kid, hasKid, alg)
	}
	if reason != "" {
		return Signed{}, reason
	}
	// A parser of its own, built per call (logouts are rare): the shared
	// one requires exp, iss and aud as access tokens have them.
	parser := jwt.NewParser(jwt.WithValidMethods(kc.algs), jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding())
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

// Issuer is the issuer tokens must name (Config.Issuer); empty when it is
// not checked.
func (p *Pipeline) Issuer() string { return p.cfg.Issuer }
