package pipeline

import (
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
)

// TokenID is the id a token without a jti is denied under:
// "sha256:" + base64url, unpadded, of the SHA-256 of the token's bytes.
// Apps and SQL compute the same thing, so it must not change.
func TokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// ecdsaTwinID returns the TokenID of token with its ECDSA signature (r, s)
// replaced by (r, n−s), which verifies just as well. Without it, whoever
// holds a revoked jti-less token could flip s and present a token whose
// SHA-256 id was never denied. It returns "" for other algorithms or a
// signature of the wrong size (which cannot have verified).
func ecdsaTwinID(token, alg string) string {
	var curve elliptic.Curve
	switch alg {
	case "ES256":
		curve = elliptic.P256()
	case "ES384":
		curve = elliptic.P384()
	case "ES512":
		curve = elliptic.P521()
	default:
		return ""
	}
	dot := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.Strict().DecodeString(token[dot+1:])
	size := (curve.Params().BitSize + 7) / 8
	if err != nil || len(sig) != 2*size {
		return ""
	}
	s := new(big.Int).SetBytes(sig[size:])
	s.Sub(curve.Params().N, s)
	if s.Sign() <= 0 {
		return ""
	}
	twin := make([]byte, 2*size)
	copy(twin, sig[:size])
	s.FillBytes(twin[size:])
	return TokenID(token[:dot+1] + base64.RawURLEncoding.EncodeToString(twin))
}
