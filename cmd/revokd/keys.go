package main

import (
	"bytes"
	"cmp"
	"fmt"
	"log/slog"
	"os"

	"github.com/revokd/revokd/daemon/pipeline"
)

// loadKeys reads the key files named by the options into cfg.
func loadKeys(o *serveOptions, cfg *pipeline.Config, log *slog.Logger) error {
	m, err := readKeyFiles(o, log)
	if err != nil {
		return err
	}
	cfg.HMACSecret, cfg.PublicKeyPEMs, cfg.JWKS = m.HMACSecret, m.PublicKeyPEMs, m.JWKS
	return nil
}

// readKeyFiles reads the key files named by the options: at start, and
// again on SIGHUP.
func readKeyFiles(o *serveOptions, log *slog.Logger) (pipeline.KeyMaterial, error) {
	var m pipeline.KeyMaterial
	if o.hmacSecretFile != "" {
		b, err := os.ReadFile(o.hmacSecretFile)
		if err != nil {
			return m, fmt.Errorf("--hmac-secret-file: %w", err)
		}
		if len(b) == 0 {
			return m, fmt.Errorf("--hmac-secret-file: %s is empty", o.hmacSecretFile)
		}
		if bytes.HasSuffix(b, []byte("\n")) {
			// The file's bytes are the secret, newline included; an editor
			// may have added it. Say so, since it is the likeliest cause of
			// every token failing bad_signature.
			log.Warn("the HMAC secret file ends with a newline, which is part of the secret", "file", o.hmacSecretFile)
		}
		m.HMACSecret = b
	}
	for _, path := range o.publicKeys {
		b, err := os.ReadFile(path)
		if err != nil {
			return m, fmt.Errorf("--public-key: %w", err)
		}
		// Parsed here too, so that an error names the file.
		if _, err := pipeline.ParsePublicKeyPEM(b); err != nil {
			return m, fmt.Errorf("--public-key %s: %w", path, err)
		}
		m.PublicKeyPEMs = append(m.PublicKeyPEMs, b)
	}
	if o.jwksFile != "" {
		b, err := os.ReadFile(o.jwksFile)
		if err != nil {
			return m, fmt.Errorf("--jwks-file: %w", err)
		}
		m.JWKS = b
	}
	return m, nil
}

// pipelineConfig is the validation policy the options describe, without
// keys, clock and replica.
func pipelineConfig(o *serveOptions) pipeline.Config {
	cacheBytes := int64(o.tokenCacheMB) << 20
	if o.tokenCacheMB == 0 {
		cacheBytes = -1 // off; the pipeline reads 0 as its default size
	}
	return pipeline.Config{
		Algorithms:        o.algorithms,
		Issuer:            cmp.Or(o.oidcIssuer, o.issuer), // --oidc-issuer sets --issuer
		Audience:          o.audience,
		SubjectClaim:      o.subjectClaim,
		SessionStartClaim: o.sessionStartClaim,
		CutoffClaims:      o.cutoffClaims.list,
		MaxSessionAge:     o.maxSessionAge,
		Leeway:            o.leeway,
		MaxTokenBytes:     o.maxTokenBytes,
		RequireJTI:        o.requireJTI,
		RequireClaims:     o.requireClaims,
		TokenCacheBytes:   cacheBytes,
	}
}
