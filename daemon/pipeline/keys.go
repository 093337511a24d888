package pipeline

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/client/apitype"
)

// Algorithm families, in the order Algorithms lists them.
var (
	hmacAlgs    = []string{"HS256", "HS384", "HS512"}
	rsaAlgs     = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	ecdsaAlgs   = []string{"ES256", "ES384", "ES512"}
	ed25519Algs = []string{"EdDSA"}
	knownAlgs   = slices.Concat(hmacAlgs, rsaAlgs, ecdsaAlgs, ed25519Algs)
)

// verifyKey is one configured key and the algorithms it may verify.
type verifyKey struct {
	kid    string // empty for the HMAC secret and PEM keys
	algs   []string
	pub    jwt.VerificationKey // []byte, *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	source string              // where it came from, for error messages
}

func (k *verifyKey) allows(alg string) bool { return slices.Contains(k.algs, alg) }

// loadKeys gathers every key of m.
func loadKeys(m KeyMaterial) ([]*verifyKey, error) {
	var keys []*verifyKey
	if len(m.HMACSecret) > 0 {
		keys = append(keys, &verifyKey{algs: hmacAlgs, pub: m.HMACSecret, source: "HMAC secret"})
	}
	for i, data := range m.PublicKeyPEMs {
		pubs, err := ParsePublicKeyPEM(data)
		if err != nil {
			return nil, fmt.Errorf("public key %d: %w", i+1, err)
		}
		for _, pub := range pubs {
			algs, err := publicKeyAlgs(pub)
			if err != nil {
				return nil, fmt.Errorf("public key %d: %w", i+1, err)
			}
			keys = append(keys, &verifyKey{algs: algs, pub: pub, source: fmt.Sprintf("public key %d", i+1)})
		}
	}
	if len(m.JWKS) > 0 {
		jwks, err := loadJWKS(m.JWKS)
		if err != nil {
			return nil, err
		}
		keys = append(keys, jwks...)
	}
	if len(keys) == 0 {
		return nil, errors.New("no verification keys: give an HMAC secret, a public key or a JWKS")
	}
	return keys, nil
}

// ParsePublicKeyPEM reads every public key in PEM data: PKIX "PUBLIC KEY",
// PKCS #1 "RSA PUBLIC KEY" and "CERTIFICATE" blocks. It refuses private keys:
// a validating sidecar has no business holding one.
func ParsePublicKeyPEM(data []byte) ([]jwt.VerificationKey, error) {
	var keys []jwt.VerificationKey
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var (
			pub any
			err error
		)
		switch {
		case block.Type == "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case block.Type == "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case block.Type == "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = cert.PublicKey
			}
		case strings.Contains(block.Type, "PRIVATE KEY"):
			return nil, fmt.Errorf("PEM block %q is a private key: give the public key instead", block.Type)
		default:
			return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("parse PEM block %q: %w", block.Type, err)
		}
		keys = append(keys, pub)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM block found")
	}
	return keys, nil
}

// publicKeyAlgs returns the algorithms a public key can verify. An EC key
// verifies only the algorithm of its curve (RFC 7518 §3.4).
func publicKeyAlgs(pub any) ([]string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		// Go refuses to verify with smaller keys anyway; saying so here beats
		// a stream of bad_signature answers.
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("RSA key of %d bits is too small", k.N.BitLen())
		}
		return rsaAlgs, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return []string{"ES256"}, nil
		case elliptic.P384():
			return []string{"ES384"}, nil
		case elliptic.P521():
			return []string{"ES512"}, nil
		}
		return nil, fmt.Errorf("EC curve %s is not supported (want P-256, P-384 or P-521)", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return ed25519Algs, nil
	}
	return nil, fmt.Errorf("key type %T is not supported (want RSA, EC or Ed25519)", pub)
}

// loadJWKS reads a JSON Web Key Set. A key's "alg" limits it to that
// algorithm; without one, the algorithms follow from its kty and crv. Keys
// meant for encryption ("use":"enc"), of a type go-jose does not know, or
// naming an algorithm revokd does not verify with are skipped, as RFC 7517 §5
// asks; a key whose "alg" contradicts its type is an error.
func loadJWKS(data []byte) ([]*verifyKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	var keys []*verifyKey
	for i, raw := range set.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			if errors.Is(err, jose.ErrUnsupportedKeyType) {
				continue
			}
			return nil, fmt.Errorf("parse JWKS key %d: %w", i, err)
		}
		if jwk.Use == "enc" {
			continue
		}
		pub := jwk.Key
		if _, secret := pub.([]byte); !secret && !jwk.IsPublic() {
			pub = jwk.Public().Key
		}
		k, err := jwkVerifyKey(fmt.Sprintf("JWKS key %d (kid %q)", i, jwk.KeyID), jwk.KeyID, jwk.Algorithm, pub)
		if err != nil {
			return nil, err
		}
		if k != nil {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS holds no usable signature-verification key")
	}
	return keys, nil
}

// jwkVerifyKey makes the verifyKey of one JWK's public key (or secret), the
// rule for a JWKS file and a fetched one alike. A key naming an algorithm
// revokd does not verify with is skipped (nil, nil); one whose alg
// contradicts its type is an error.
func jwkVerifyKey(source, kid, alg string, pub any) (*verifyKey, error) {
	var algs []string
	if _, ok := pub.([]byte); ok {
		algs = hmacAlgs
	} else {
		var err error
		if algs, err = publicKeyAlgs(pub); err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
	}
	if alg != "" {
		if !slices.Contains(knownAlgs, alg) {
			return nil, nil // not a JWS algorithm revokd verifies with
		}
		if !slices.Contains(algs, alg) {
			return nil, fmt.Errorf("%s: alg %s does not fit a %s key", source, alg, keyKind(pub))
		}
		algs = []string{alg}
	}
	return &verifyKey{kid: kid, algs: algs, pub: pub, source: source}, nil
}

func keyKind(pub any) string {
	switch pub.(type) {
	case []byte:
		return "symmetric"
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "EC"
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// keyChoice maps an algorithm to the keyfunc that hands golang-jwt every
// candidate key for it. Built once, so the request path allocates nothing to
// pick a key.
type keyChoice map[string]jwt.Keyfunc

func newKeyChoice(keys []*verifyKey, algs []string) keyChoice {
	kc := keyChoice{}
	for _, alg := range algs {
		var set []jwt.VerificationKey
		for _, k := range keys {
			if k.allows(alg) {
				set = append(set, k.pub)
			}
		}
		switch len(set) {
		case 0:
		case 1:
			one := set[0]
			kc[alg] = func(*jwt.Token) (any, error) { return one, nil }
		default:
			ks := jwt.VerificationKeySet{Keys: set}
			kc[alg] = func(*jwt.Token) (any, error) { return ks, nil }
		}
	}
	return kc
}

// keyring selects keys by kid.
type keyring struct {
	byKid   map[string]keyChoice
	kidless keyChoice // keys without a kid: tried when a token's kid names no key
	all     keyChoice // every key: tried for a token without a kid
}

func newKeyring(keys []*verifyKey, algs []string) *keyring {
	groups := map[string][]*verifyKey{}
	var kidless []*verifyKey
	for _, k := range keys {
		if k.kid == "" {
			kidless = append(kidless, k)
		} else {
			groups[k.kid] = append(groups[k.kid], k)
		}
	}
	r := &keyring{byKid: map[string]keyChoice{}, all: newKeyChoice(keys, algs)}
	for kid, ks := range groups {
		r.byKid[kid] = newKeyChoice(ks, algs)
	}
	if len(kidless) > 0 {
		r.kidless = newKeyChoice(kidless, algs)
	}
	return r
}

// choose returns the keyfunc for a token's kid and alg, or the reason there
// is none: a kid that names no key is unknown_key (unless keys without a
// kid exist, since an issuer may label a shared secret or a lone PEM key any
// way it likes); a key that exists but does not allow alg is
// unsupported_alg, which is what stops an HS256 token signed with an RSA
// public key's bytes.
func (r *keyring) choose(kid string, hasKid bool, alg string) (jwt.Keyfunc, string) {
	choice := r.all
	if hasKid {
		var ok bool
		if choice, ok = r.byKid[kid]; !ok {
			if r.kidless == nil {
				return nil, apitype.ReasonUnknownKey
			}
			choice = r.kidless
		}
	}
	kf := choice[alg]
	if kf == nil {
		return nil, apitype.ReasonUnsupportedAlg
	}
	return kf, ""
}
