package apitype

import (
	"encoding/json"
	"time"
)

// ValidateResponse answers POST /v1/validate (op validate) and is the body of
// GET /v1/auth. An inactive token carries a Reason, and Until when a future
// cutoff (a ban) rejected it.
type ValidateResponse struct {
	Active  bool            `json:"active"`
	Reason  string          `json:"reason,omitempty"` // one of Reasons
	Until   *time.Time      `json:"until,omitempty"`
	Sub     string          `json:"sub,omitempty"`
	JTI     string          `json:"jti,omitempty"`
	SID     string          `json:"sid,omitempty"`
	Exp     int64           `json:"exp,omitempty"`
	IAT     int64           `json:"iat,omitempty"`
	OrigIAT int64           `json:"orig_iat,omitempty"`
	Claims  json.RawMessage `json:"claims,omitempty"`
}

// IntrospectResponse answers POST /v1/introspect (RFC 7662, a form body
// with "token"): an inactive token, for whatever reason, is exactly
// {"active":false}. An active one carries the RFC's members that the token
// holds, each as the token has it (aud a string or an array, numbers as
// written); sub is the configured subject claim when the token has no sub.
type IntrospectResponse struct {
	Active    bool            `json:"active"`
	Sub       json.RawMessage `json:"sub,omitempty"`
	Exp       json.RawMessage `json:"exp,omitempty"`
	IAT       json.RawMessage `json:"iat,omitempty"`
	NBF       json.RawMessage `json:"nbf,omitempty"`
	Iss       json.RawMessage `json:"iss,omitempty"`
	Aud       json.RawMessage `json:"aud,omitempty"`
	JTI       json.RawMessage `json:"jti,omitempty"`
	Scope     json.RawMessage `json:"scope,omitempty"`
	ClientID  json.RawMessage `json:"client_id,omitempty"`
	Username  json.RawMessage `json:"username,omitempty"`
	TokenType json.RawMessage `json:"token_type,omitempty"`
}

// RevokeResponse answers POST /v1/revoke (op revoke). Stored is true only
// when a new denial was written.
type RevokeResponse struct {
	Stored bool `json:"stored"`
}

// RevokeAllResponse answers POST /v1/revoke-all (op revoke-all) with the
// cutoff in effect afterwards.
type RevokeAllResponse struct {
	Claim string `json:"claim"`
	Value string `json:"value"`
	Iss   string `json:"iss,omitempty"` // the issuer the cutoff is scoped to, if any
	// Before is the cutoff in force afterwards; an unban of something never
	// revoked leaves none, and the field is absent.
	Before time.Time `json:"before,omitzero"`
}

// UnbanResponse answers POST /v1/unban (op unban): the same body as
// revoke-all's.
type UnbanResponse = RevokeAllResponse

// StatusResponse answers GET /v1/status (op status).
type StatusResponse struct {
	Version     string    `json:"version"`
	Ready       bool      `json:"ready"`
	Source      string    `json:"source"`
	SourceState string    `json:"source_state"`
	LastContact time.Time `json:"last_contact,omitzero"`
	// StaleSeconds is the time since the last contact with the source,
	// rounded to the millisecond; absent before the first contact (and
	// when under half a millisecond).
	StaleSeconds float64 `json:"stale_seconds,omitzero"`
	// Stale is true while the replica cannot be trusted: before its first
	// snapshot, and past --stale-after without contact.
	Stale          bool      `json:"stale"`
	LastVersion    int64     `json:"last_version"`
	LastChange     time.Time `json:"last_change,omitzero"`
	Reconnects     int64     `json:"reconnects"`
	Cutoffs        int       `json:"cutoffs"`
	Denials        int       `json:"denials"`
	TokenCacheHits uint64    `json:"token_cache_hits"`

	// With the keys of one issuer fetched from its identity provider
	// (--jwks-url, --oidc-issuer), their status is given inline.
	KeySetStatus
	// With several issuers (--issuers-file), the status of each fetched
	// key set, by issuer.
	Issuers []KeySetStatus `json:"issuers,omitempty"`
}

// KeySetStatus describes a key set fetched from an identity provider: its
// URL, when the set in use was fetched and how long ago (absent before the
// first), and the last fetch's failure while fetches fail (a failed fetch
// keeps the set in use).
type KeySetStatus struct {
	Issuer         string    `json:"iss,omitempty"` // in StatusResponse.Issuers only
	JWKSURL        string    `json:"jwks_url,omitempty"`
	JWKSFetched    time.Time `json:"jwks_fetched,omitzero"`
	JWKSAgeSeconds float64   `json:"jwks_age_seconds,omitzero"`
	JWKSError      string    `json:"jwks_error,omitempty"`
	JWKSErrorAt    time.Time `json:"jwks_error_at,omitzero"`

	// With a signing key (--signing-key): the kid of the key new tokens
	// are signed with, empty for an HMAC secret without --signing-kid.
	// Minting is false with --public-keys-only.
	SigningAlg string `json:"signing_alg,omitempty"`
	SigningKID string `json:"signing_kid,omitempty"`
	Minting    bool   `json:"minting,omitempty"`
}
