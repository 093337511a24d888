package signer

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/daemon/pipeline"
)

// Algorithms a signing key may sign with, by kind of key. The first of
// each list is the default for that kind.
var (
	hmacAlgs    = []string{"HS256", "HS384", "HS512"}
	rsaAlgs     = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	ed25519Algs = []string{"EdDSA"}
)

// minRSABits is the smallest RSA key revokd signs with (NIST SP 800-57).
const minRSABits = 2048

// Key is a signing key: the private key (or the HMAC secret), the
// algorithm it signs with and the kid its tokens name. It is never
// changed once parsed; a rotation parses a new one.
type Key struct {
	alg     string
	kid     string
	method  jwt.SigningMethod
	private any              // *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey or []byte
	public  *jose.JSONWebKey // nil for an HMAC secret
	pemPub  []byte           // the public key as PEM; nil for an HMAC secret
}

// ParseKey reads a signing key. With an HS algorithm, data is the HMAC
// secret, every byte of it, and must be at least as long as the hash
// (RFC 7518 §3.2). Otherwise data is a PEM private key (PKCS #8, PKCS #1
// or SEC 1): RSA of 2048 bits or more (alg RS256 by default, or RS384,
// RS512, PS256, PS384, PS512), EC P-256, P-384 or P-521 (ES256, ES384,
// ES512: the curve decides), or Ed25519 (EdDSA). kid, when empty, is the
// key's RFC 7638 thumbprint (SHA-256, base64url) for an asymmetric key,
// and no kid at all for an HMAC secret.
func ParseKey(data []byte, alg, kid string) (*Key, error) {
	if slices.Contains(hmacAlgs, alg) {
		return hmacKey(data, alg, kid)
	}
	if strings.HasPrefix(alg, "HS") {
		return nil, fmt.Errorf("signing algorithm %q is unknown (HMAC: %s)", alg, strings.Join(hmacAlgs, ", "))
	}
	private, err := parsePrivatePEM(data)
	if err != nil {
		return nil, err
	}
	pub := private.(crypto.Signer).Public()
	algs, err := signingAlgs(pub)
	if err != nil {
		return nil, err
	}
	if alg == "" {
		alg = algs[0]
	} else if !slices.Contains(algs, alg) {
		return nil, fmt.Errorf("signing algorithm %s does not fit a %s key (it signs %s)", alg, kindOf(pub), strings.Join(algs, ", "))
	}
	jwk := &jose.JSONWebKey{Key: pub, Algorithm: alg, Use: "sig"}
	if kid == "" {
		if kid, err = Thumbprint(pub); err != nil {
			return nil, err
		}
	}
	jwk.KeyID = kid
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return &Key{
		alg: alg, kid: kid, method: jwt.GetSigningMethod(alg), private: private, public: jwk,
		pemPub: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
	}, nil
}

func hmacKey(secret []byte, alg, kid string) (*Key, error) {
	method := jwt.GetSigningMethod(alg).(*jwt.SigningMethodHMAC)
	if n := method.Hash.Size(); len(secret) < n {
		return nil, fmt.Errorf("an %s secret must be at least %d bytes, got %d", alg, n, len(secret))
	}
	if bytes.HasPrefix(bytes.TrimSpace(secret), []byte("-----BEGIN")) {
		return nil, fmt.Errorf("--signing-alg %s takes an HMAC secret, and the file holds a PEM key: give no --signing-alg, or one that fits the key", alg)
	}
	return &Key{alg: alg, kid: kid, method: method, private: bytes.Clone(secret)}, nil
}

// parsePrivatePEM reads the first PEM block of data as a private key.
func parsePrivatePEM(data []byte) (any, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block: give a PEM private key, or an HMAC secret with --signing-alg HS256, HS384 or HS512")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse PEM block %q: %w", block.Type, err)
	}
	return key, nil
}

// signingAlgs returns the algorithms a key of pub's kind signs with.
func signingAlgs(pub crypto.PublicKey) ([]string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA signing key of %d bits is too small (want %d or more)", k.N.BitLen(), minRSABits)
		}
		return rsaAlgs, nil
	case *ecdsa.PublicKey:
		if alg := curveAlg(k.Curve); alg != "" {
			return []string{alg}, nil
		}
		return nil, fmt.Errorf("EC curve %s is not supported (want P-256, P-384 or P-521)", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return ed25519Algs, nil
	}
	return nil, fmt.Errorf("key type %T is not supported (want RSA, EC or Ed25519)", pub)
}

// curveAlg is the one algorithm an EC key of curve c signs with (RFC
// 7518 §3.4), or "" for another curve.
func curveAlg(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	case elliptic.P521():
		return "ES512"
	}
	return ""
}

func kindOf(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "EC"
	}
	return "Ed25519"
}

// Thumbprint is pub's RFC 7638 thumbprint, SHA-256, base64url: the kid a
// signing key gets by default, and the kid /v1/jwks gives a --public-key.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// Alg is the algorithm the key signs with.
func (k *Key) Alg() string { return k.alg }

// KID is the kid the key's tokens carry; empty for an HMAC secret given
// no --signing-kid.
func (k *Key) KID() string { return k.kid }

// AddTo adds the key's verifying half to m, the keys the pipeline verifies
// with, so the tokens it signs validate like any other: the public key as
// one more PEM, or the HMAC secret. The pipeline holds one HMAC secret: a
// different one already in m is an error (older secrets belong in the
// JWKS file, as "oct" keys).
func (k *Key) AddTo(m *pipeline.KeyMaterial) error {
	if k.public == nil {
		secret := k.private.([]byte)
		if len(m.HMACSecret) > 0 && !bytes.Equal(m.HMACSecret, secret) {
			return errors.New("the HMAC signing key differs from the HMAC secret file: give one of them (older secrets go in the JWKS file, as oct keys with their kid)")
		}
		m.HMACSecret = secret
		return nil
	}
	m.PublicKeyPEMs = append(slices.Clone(m.PublicKeyPEMs), k.pemPub)
	return nil
}

// sign signs payload, a JSON object, as a compact JWS: header, payload
// and signature, each base64url.
func (k *Key) sign(payload []byte) (string, error) {
	header := struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid,omitempty"`
	}{k.alg, "JWT", k.kid}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(payload)
	sig, err := k.method.Sign(signing, k.private)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}
