package signer

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/json"
	"fmt"

	"github.com/go-jose/go-jose/v4"

	"github.com/revokd/revokd/daemon/pipeline"
)

// JWKS is the JSON Web Key Set of GET /v1/jwks: the public keys that
// verify tokens, so that other services can check revokd's tokens on
// their own. It holds the signing key's public half first (nil signing:
// none), then the public keys of m that are not that key: each PEM public
// key, its kid its RFC 7638 thumbprint (the kid revokd's tokens carried
// while it was the signing key, unless --signing-kid named another), and
// each public key of the JWKS file as the file has it. A key set is
// public, never a private member nor a secret: HMAC secrets and "oct"
// keys are left out, so with HMAC keys alone the set is empty.
func JWKS(m pipeline.KeyMaterial, signing *Key) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	seen := map[string]bool{} // thumbprint + " " + kid
	keys := map[string]bool{} // thumbprint: a key published under any kid
	// add publishes k, unless it is there already under its kid, or, with
	// anyKid, under any (a PEM key has no kid of its own; the signing key
	// sits in m as a PEM too, by AddTo).
	add := func(k jose.JSONWebKey, anyKid bool) error {
		tp, err := Thumbprint(k.Key)
		if err != nil {
			return err
		}
		if seen[tp+" "+k.KeyID] || anyKid && keys[tp] {
			return nil
		}
		seen[tp+" "+k.KeyID], keys[tp] = true, true
		set.Keys = append(set.Keys, k)
		return nil
	}
	if signing != nil && signing.public != nil {
		if err := add(*signing.public, false); err != nil {
			return nil, err
		}
	}
	for i, data := range m.PublicKeyPEMs {
		pubs, err := pipeline.ParsePublicKeyPEM(data)
		if err != nil {
			return nil, fmt.Errorf("public key %d: %w", i+1, err)
		}
		for _, pub := range pubs {
			kid, err := Thumbprint(pub)
			if err != nil {
				return nil, fmt.Errorf("public key %d: %w", i+1, err)
			}
			if err := add(jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: onlyAlg(pub), Use: "sig"}, true); err != nil {
				return nil, fmt.Errorf("public key %d: %w", i+1, err)
			}
		}
	}
	if len(m.JWKS) > 0 {
		if err := addFileKeys(m.JWKS, add); err != nil {
			return nil, err
		}
	}
	return json.Marshal(set)
}

// addFileKeys adds the public signature keys of a JWKS file. The pipeline
// has read the file already: keys it skips (of a type go-jose does not
// know, or for encryption) are skipped here too.
func addFileKeys(data []byte, add func(jose.JSONWebKey, bool) error) error {
	var file struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return fmt.Errorf("parse JWKS: %w", err)
	}
	for i, raw := range file.Keys {
		var k jose.JSONWebKey
		if k.UnmarshalJSON(raw) != nil || k.Use == "enc" {
			continue
		}
		if _, secret := k.Key.([]byte); secret {
			continue
		}
		pub := k.Public()
		if !pub.Valid() {
			continue
		}
		if err := add(pub, false); err != nil {
			return fmt.Errorf("JWKS key %d: %w", i, err)
		}
	}
	return nil
}

// onlyAlg is the one algorithm a public key verifies, when it has one: an
// EC key's curve decides it, and Ed25519 is EdDSA. An RSA key verifies
// RS* and PS* alike, so it names none.
func onlyAlg(pub any) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return curveAlg(k.Curve)
	case ed25519.PublicKey:
		return "EdDSA"
	}
	return ""
}
