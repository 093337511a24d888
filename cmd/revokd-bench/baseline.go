package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/client/apitype"
)

// The baselines are what revokd replaces: every request verifies the token
// with golang-jwt (no cache) and asks a store whether it is revoked.

const baselineLeeway = 30 * time.Second // the daemon's default --leeway

// verifier checks tokens as the daemon does (same library and options).
type verifier struct {
	keys   *Keys
	parser *jwt.Parser
}

func newVerifier(k *Keys) *verifier {
	return &verifier{keys: k, parser: jwt.NewParser(
		jwt.WithValidMethods(algorithms),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(baselineLeeway),
	)}
}

// checked is a verified token's fields that the revocation lookup needs.
type checked struct {
	claims  jwt.MapClaims
	sub     string
	sid     string
	jti     string
	start   time.Time // orig_iat, else iat
	expires time.Time
}

// verify returns the token's fields, or the reason it is not active.
func (v *verifier) verify(token string) (checked, string) {
	var claims jwt.MapClaims
	if tok, err := v.parser.ParseWithClaims(token, &claims, v.keys.verifyKey); err != nil {
		// golang-jwt reports an algorithm outside WithValidMethods as a bad
		// signature; the daemon calls it unsupported_alg.
		if tok != nil && tok.Method != nil && !slices.Contains(algorithms, tok.Method.Alg()) {
			return checked{}, apitype.ReasonUnsupportedAlg
		}
		return checked{}, reasonFor(err)
	}
	c := checked{claims: claims}
	c.sub, _ = claims["sub"].(string)
	c.sid, _ = claims["sid"].(string)
	c.jti, _ = claims["jti"].(string)
	if c.sub == "" || c.jti == "" {
		return checked{}, apitype.ReasonMissingClaim
	}
	start, ok := claims["orig_iat"].(float64)
	if !ok {
		if start, ok = claims["iat"].(float64); !ok {
			return checked{}, apitype.ReasonMissingClaim
		}
	}
	c.start = time.Unix(int64(start), 0)
	exp, _ := claims.GetExpirationTime()
	c.expires = exp.Time
	return c, ""
}

func reasonFor(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return apitype.ReasonExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return apitype.ReasonNotYetValid
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return apitype.ReasonBadSignature
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return apitype.ReasonUnsupportedAlg
	}
	return apitype.ReasonMalformed
}

// appendActive appends the active answer for c, as the daemon shapes it.
func appendActive(dst []byte, c checked) []byte {
	raw, err := json.Marshal(c.claims)
	if err != nil {
		return appendInactive(dst, apitype.ReasonMalformed)
	}
	iat, _ := c.claims["iat"].(float64)
	b, err := json.Marshal(apitype.ValidateResponse{
		Active: true, Sub: c.sub, JTI: c.jti, SID: c.sid, Exp: c.expires.Unix(),
		IAT: int64(iat), OrigIAT: c.start.Unix(), Claims: raw,
	})
	if err != nil {
		return appendInactive(dst, apitype.ReasonMalformed)
	}
	return append(dst, b...)
}

func appendInactive(dst []byte, reason string) []byte {
	dst = append(dst, `{"active":false,"reason":"`...)
	dst = append(dst, reason...)
	return append(dst, `"}`...)
}

func appendRequestError(dst []byte, msg string) []byte {
	b, _ := json.Marshal(apitype.ErrorResponse{Error: apitype.ErrorBody{Code: apitype.CodeBadRequest, Message: msg}})
	return append(dst, b...)
}

func appendStored(dst []byte, stored bool) []byte {
	return fmt.Appendf(dst, `{"stored":%t}`, stored)
}

// store is a baseline's revocation store.
type store interface {
	// revoked returns the reason c is revoked, or "" when it is not; one
	// round trip to the store.
	revoked(c checked) (string, error)
	// revoke denies c until it expires.
	revoke(c checked) error
}

// baselineHandler answers validate and revoke lines against a store.
func baselineHandler(v *verifier, s store) lineHandler {
	return func(dst, line []byte) []byte {
		var req struct { // validate and revoke both read "token"
			apitype.NDJSONOp
			apitype.ValidateRequest
		}
		if err := json.Unmarshal(line, &req); err != nil {
			return appendRequestError(dst, "bad JSON: "+err.Error())
		}
		switch req.Op {
		case apitype.OpValidate:
			c, reason := v.verify(req.Token)
			if reason != "" {
				return appendInactive(dst, reason)
			}
			reason, err := s.revoked(c)
			if err != nil {
				return appendInactive(dst, apitype.ReasonUnavailable)
			}
			if reason != "" {
				return appendInactive(dst, reason)
			}
			return appendActive(dst, c)
		case apitype.OpRevoke:
			c, reason := v.verify(req.Token)
			if reason != "" {
				return appendStored(dst, false)
			}
			if err := s.revoke(c); err != nil {
				return appendRequestError(dst, err.Error())
			}
			return appendStored(dst, true)
		}
		return appendRequestError(dst, fmt.Sprintf("unknown op %q", req.Op))
	}
}
