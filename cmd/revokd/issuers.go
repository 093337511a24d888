package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/revokd/revokd/daemon"
	"github.com/revokd/revokd/daemon/pipeline"
)

// issuersFile is --issuers-file: the trusted issuers, each with one source
// of keys and rules of its own.
type issuersFile struct {
	Issuers []issuerEntry `json:"issuers"`
}

// issuerEntry is one trusted issuer. Exactly one of OIDCDiscovery,
// JWKSURL, JWKSFile and PublicKeys gives its keys; files are relative to
// the issuers file's directory.
type issuerEntry struct {
	Issuer        string   `json:"issuer"`
	OIDCDiscovery bool     `json:"oidc_discovery"`
	JWKSURL       string   `json:"jwks_url"`
	JWKSFile      string   `json:"jwks_file"`
	PublicKeys    []string `json:"public_keys"` // PEM files, or PEM text itself
	Audiences     []string `json:"audiences"`
	Algorithms    []string `json:"algorithms"`
	SubjectClaim  string   `json:"subject_claim"`
}

// readIssuers reads --issuers-file and every key file it names: at start,
// and again on SIGHUP.
func readIssuers(o *serveOptions) ([]daemon.Issuer, error) {
	data, err := os.ReadFile(o.issuersFile)
	if err != nil {
		return nil, fmt.Errorf("--issuers-file: %w", err)
	}
	list, err := parseIssuers(data, filepath.Dir(o.issuersFile), o.fetchConfig)
	if err != nil {
		return nil, fmt.Errorf("--issuers-file %s: %w", o.issuersFile, err)
	}
	return list, nil
}

// parseIssuers reads an issuers file's contents; dir is where its relative
// file names start, and fetch makes the fetch settings of a URL, one of
// the JWKS URL and the OIDC issuer set.
func parseIssuers(data []byte, dir string, fetch func(jwksURL, oidcIssuer string) *pipeline.RemoteKeysConfig) ([]daemon.Issuer, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a misspelt "audience" must not pass unchecked
	var f issuersFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parse: data after the JSON object")
	}
	if len(f.Issuers) == 0 {
		return nil, errors.New(`no issuers: give {"issuers": [{"issuer": ..., and one of "oidc_discovery", "jwks_url", "jwks_file" or "public_keys"}, ...]}`)
	}
	var (
		list []daemon.Issuer
		errs []error
	)
	for i, e := range f.Issuers {
		is, err := e.issuer(dir, fetch)
		if err != nil {
			errs = append(errs, fmt.Errorf("issuer %d (%q): %w", i+1, e.Issuer, err))
			continue
		}
		list = append(list, is)
	}
	return list, errors.Join(errs...)
}

// issuer checks e and reads its key files.
func (e issuerEntry) issuer(dir string, fetch func(jwksURL, oidcIssuer string) *pipeline.RemoteKeysConfig) (daemon.Issuer, error) {
	is := daemon.Issuer{Issuer: pipeline.Issuer{
		Issuer: e.Issuer, Audiences: e.Audiences, Algorithms: e.Algorithms, SubjectClaim: e.SubjectClaim,
	}}
	sources := btoi(e.OIDCDiscovery) + btoi(e.JWKSURL != "") + btoi(e.JWKSFile != "") + btoi(len(e.PublicKeys) > 0)
	switch {
	case e.Issuer == "":
		return is, errors.New(`"issuer" is required`)
	case sources != 1:
		return is, errors.New(`give exactly one of "oidc_discovery": true, "jwks_url", "jwks_file" and "public_keys"`)
	case e.OIDCDiscovery:
		if err := pipeline.CheckKeysURL(e.Issuer); err != nil {
			return is, fmt.Errorf("oidc_discovery: %w", err)
		}
		is.Fetch = fetch("", e.Issuer)
	case e.JWKSURL != "":
		if err := pipeline.CheckKeysURL(e.JWKSURL); err != nil {
			return is, fmt.Errorf("jwks_url: %w", err)
		}
		is.Fetch = fetch(e.JWKSURL, "")
	case e.JWKSFile != "":
		b, err := os.ReadFile(under(dir, e.JWKSFile))
		if err != nil {
			return is, fmt.Errorf("jwks_file: %w", err)
		}
		is.Keys.JWKS = b
	default:
		for _, k := range e.PublicKeys {
			b := []byte(k)
			if !strings.HasPrefix(strings.TrimSpace(k), "-----BEGIN") {
				var err error
				if b, err = os.ReadFile(under(dir, k)); err != nil {
					return is, fmt.Errorf("public_keys: %w", err)
				}
			}
			if _, err := pipeline.ParsePublicKeyPEM(b); err != nil {
				return is, fmt.Errorf("public_keys %s: %w", pemName(k), err)
			}
			is.Keys.PublicKeyPEMs = append(is.Keys.PublicKeyPEMs, b)
		}
	}
	return is, nil
}

// fetchConfig is how the keys at jwksURL, or those named by oidcIssuer's
// discovery document, are fetched: by the --jwks-* flags, which apply to
// every issuer whose keys are fetched.
func (o *serveOptions) fetchConfig(jwksURL, oidcIssuer string) *pipeline.RemoteKeysConfig {
	return &pipeline.RemoteKeysConfig{
		JWKSURL:    jwksURL,
		OIDCIssuer: oidcIssuer,
		Refresh:    o.jwksRefresh,
		MinRefresh: o.jwksMinRefresh,
		Timeout:    o.jwksTimeout,
	}
}

// under is where the issuers file's name for a file points: an absolute
// name as it is, a relative one from dir, the issuers file's directory.
func under(dir, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}

// pemName names a public_keys entry in an error: the file, or "(inline
// PEM)".
func pemName(k string) string {
	if strings.HasPrefix(strings.TrimSpace(k), "-----BEGIN") {
		return "(inline PEM)"
	}
	return k
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
