package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithms the tool mints keys and tokens for, in the order reports list them.
var algorithms = []string{"HS256", "RS256", "ES256", "EdDSA"}

// Keys is the key material the tool mints for itself: one key per algorithm,
// so one daemon configured with all of them can be driven with any token mix.
type Keys struct {
	HMAC []byte
	RSA  *rsa.PrivateKey
	EC   *ecdsa.PrivateKey
	Ed   ed25519.PrivateKey
}

// Key file names inside a keys directory.
const (
	hmacFile  = "hmac.secret"
	rsaFile   = "rs256.key.pem"
	ecFile    = "es256.key.pem"
	edFile    = "eddsa.key.pem"
	pubSuffix = ".pub.pem"
)

// MintKeys makes fresh keys for every algorithm.
func MintKeys() (*Keys, error) {
	k := &Keys{HMAC: make([]byte, 32)}
	if _, err := rand.Read(k.HMAC); err != nil {
		return nil, fmt.Errorf("hmac secret: %w", err)
	}
	var err error
	if k.RSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, fmt.Errorf("rsa key: %w", err)
	}
	if k.EC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, fmt.Errorf("ec key: %w", err)
	}
	if _, k.Ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, fmt.Errorf("ed25519 key: %w", err)
	}
	return k, nil
}

// KeyFiles names the files a daemon needs to verify the tool's tokens.
type KeyFiles struct {
	HMACSecret string
	PublicKeys []string
}

// ServeArgs returns the `revokd serve` flags that load these keys.
func (f KeyFiles) ServeArgs() []string {
	args := []string{"--hmac-secret-file", f.HMACSecret}
	for _, p := range f.PublicKeys {
		args = append(args, "--public-key", p)
	}
	return args
}

// keyFilesIn returns the names WriteDir uses in dir.
func keyFilesIn(dir string) KeyFiles {
	f := KeyFiles{HMACSecret: filepath.Join(dir, hmacFile)}
	for _, name := range []string{rsaFile, ecFile, edFile} {
		f.PublicKeys = append(f.PublicKeys, filepath.Join(dir, pubName(name)))
	}
	return f
}

func pubName(private string) string {
	return private[:len(private)-len(".key.pem")] + pubSuffix
}

// WriteDir writes the secret, the private keys (so a later run can mint with
// them) and the public keys (for the daemon) into dir, readable by the owner only.
func (k *Keys) WriteDir(dir string) (KeyFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return KeyFiles{}, fmt.Errorf("keys dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, hmacFile), k.HMAC, 0o600); err != nil {
		return KeyFiles{}, fmt.Errorf("write hmac secret: %w", err)
	}
	for _, p := range []struct {
		name string
		key  crypto.Signer
	}{{rsaFile, k.RSA}, {ecFile, k.EC}, {edFile, k.Ed}} {
		der, err := x509.MarshalPKCS8PrivateKey(p.key)
		if err != nil {
			return KeyFiles{}, fmt.Errorf("encode %s: %w", p.name, err)
		}
		if err := writePEM(filepath.Join(dir, p.name), "PRIVATE KEY", der); err != nil {
			return KeyFiles{}, err
		}
		pub, err := x509.MarshalPKIXPublicKey(p.key.Public())
		if err != nil {
			return KeyFiles{}, fmt.Errorf("encode public %s: %w", p.name, err)
		}
		if err := writePEM(filepath.Join(dir, pubName(p.name)), "PUBLIC KEY", pub); err != nil {
			return KeyFiles{}, err
		}
	}
	return keyFilesIn(dir), nil
}

func writePEM(path, typ string, der []byte) error {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// LoadKeys reads keys that WriteDir wrote.
func LoadKeys(dir string) (*Keys, error) {
	k := &Keys{}
	var err error
	if k.HMAC, err = os.ReadFile(filepath.Join(dir, hmacFile)); err != nil {
		return nil, fmt.Errorf("read hmac secret: %w", err)
	}
	for _, name := range []string{rsaFile, ecFile, edFile} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		block, _ := pem.Decode(raw)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM block", name)
		}
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		switch key := key.(type) {
		case *rsa.PrivateKey:
			k.RSA = key
		case *ecdsa.PrivateKey:
			k.EC = key
		case ed25519.PrivateKey:
			k.Ed = key
		default:
			return nil, fmt.Errorf("%s: unexpected key type %T", name, key)
		}
	}
	if k.RSA == nil || k.EC == nil || k.Ed == nil {
		return nil, errors.New("keys dir lacks a key")
	}
	return k, nil
}

// method returns the signing method and the private key for alg.
func (k *Keys) method(alg string) (jwt.SigningMethod, any, error) {
	switch alg {
	case "HS256":
		return jwt.SigningMethodHS256, k.HMAC, nil
	case "RS256":
		return jwt.SigningMethodRS256, k.RSA, nil
	case "ES256":
		return jwt.SigningMethodES256, k.EC, nil
	case "EdDSA":
		return jwt.SigningMethodEdDSA, k.Ed, nil
	}
	return nil, nil, fmt.Errorf("unknown algorithm %q (want one of %v)", alg, algorithms)
}

// verifyKey is the jwt.Keyfunc of the baselines: the key of the token's
// algorithm, as a daemon configured with these keys would pick it.
func (k *Keys) verifyKey(t *jwt.Token) (any, error) {
	switch t.Method.Alg() {
	case "HS256":
		return k.HMAC, nil
	case "RS256":
		return &k.RSA.PublicKey, nil
	case "ES256":
		return &k.EC.PublicKey, nil
	case "EdDSA":
		return k.Ed.Public(), nil
	}
	return nil, fmt.Errorf("no key for %q", t.Method.Alg())
}
