package client

import (
	"encoding/json"
	"time"
)

// VersionHeader is the response header that carries the daemon's version.
const VersionHeader = "Revokd-Version"

// Reasons a token is not active. They are stable: part of the API.
const (
	ReasonMalformed      = "malformed"
	ReasonUnsupportedAlg = "unsupported_alg"
	ReasonUnknownKey     = "unknown_key"
	ReasonBadSignature   = "bad_signature"
	ReasonExpired        = "expired"
	ReasonNotYetValid    = "not_yet_valid"
	ReasonBadIssuer      = "bad_issuer"
	ReasonBadAudience    = "bad_audience"
	ReasonMissingClaim   = "missing_claim"
	ReasonSessionExpired = "session_expired"
	ReasonRevoked        = "revoked"
	ReasonSubjectRevoked = "subject_revoked"
	ReasonSessionRevoked = "session_revoked"
	ReasonClaimRevoked   = "claim_revoked"
	ReasonUnavailable    = "unavailable"
)

// NDJSON operations. Each NDJSON line is one of the request bodies below
// with an "op" field added.
const (
	OpValidate  = "validate"
	OpRevoke    = "revoke"
	OpRevokeAll = "revoke-all"
	OpUnban     = "unban"
	OpStatus    = "status"
)

// Request is one NDJSON line: an op and the union of the request bodies'
// fields.
type Request struct {
	Op     string     `json:"op"`
	Token  string     `json:"token,omitempty"`
	JTI    string     `json:"jti,omitempty"`
	Exp    int64      `json:"exp,omitempty"`
	Sub    string     `json:"sub,omitempty"`
	Claim  string     `json:"claim,omitempty"`
	Value  string     `json:"value,omitempty"`
	Before *time.Time `json:"before,omitempty"`
}

// ValidateRequest is the body of POST /v1/validate.
type ValidateRequest struct {
	Token string `json:"token"`
}

// ValidateResponse answers POST /v1/validate. An inactive token carries a
// Reason, and Until when a future cutoff (a ban) rejected it.
type ValidateResponse struct {
	Active  bool            `json:"active"`
	Reason  string          `json:"reason,omitempty"`
	Until   *time.Time      `json:"until,omitempty"`
	Sub     string          `json:"sub,omitempty"`
	JTI     string          `json:"jti,omitempty"`
	SID     string          `json:"sid,omitempty"`
	Exp     int64           `json:"exp,omitempty"`
	IAT     int64           `json:"iat,omitempty"`
	OrigIAT int64           `json:"orig_iat,omitempty"`
	Claims  json.RawMessage `json:"claims,omitempty"`
}

// RevokeRequest is the body of POST /v1/revoke: either a token, or a token
// id with its expiry (Unix seconds).
type RevokeRequest struct {
	Token string `json:"token,omitempty"`
	JTI   string `json:"jti,omitempty"`
	Exp   int64  `json:"exp,omitempty"`
}

// RevokeResponse answers POST /v1/revoke. Stored is true only when a new
// denial was written.
type RevokeResponse struct {
	Stored bool `json:"stored"`
}

// RevokeAllRequest is the body of POST /v1/revoke-all: Sub, or Claim and
// Value. Before defaults to now; a future Before is a ban.
type RevokeAllRequest struct {
	Sub    string     `json:"sub,omitempty"`
	Claim  string     `json:"claim,omitempty"`
	Value  string     `json:"value,omitempty"`
	Before *time.Time `json:"before,omitempty"`
}

// RevokeAllResponse answers POST /v1/revoke-all and POST /v1/unban with the
// cutoff in effect afterwards.
type RevokeAllResponse struct {
	Claim string `json:"claim"`
	Value string `json:"value"`
	// Before is the cutoff in force afterwards; an unban of something never
	// revoked leaves none, and the field is absent.
	Before time.Time `json:"before,omitzero"`
}

// UnbanRequest is the body of POST /v1/unban: Sub, or Claim and Value.
type UnbanRequest struct {
	Sub   string `json:"sub,omitempty"`
	Claim string `json:"claim,omitempty"`
	Value string `json:"value,omitempty"`
}

// UnbanResponse answers POST /v1/unban.
type UnbanResponse = RevokeAllResponse

// StatusResponse answers GET /v1/status.
type StatusResponse struct {
	Version     string    `json:"version"`
	Ready       bool      `json:"ready"`
	Source      string    `json:"source"`
	SourceState string    `json:"source_state"`
	LastContact time.Time `json:"last_contact,omitzero"`
	// StaleSeconds is the time since the last contact with the source;
	// absent before the first contact.
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
}

// ErrorResponse is the body of every request error, over HTTP and NDJSON.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// TooManyConnections begins the one plain-text line the daemon writes to a
// connection it refuses at its connection cap, before it closes it:
// "revokd: too many connections (cap N)", or "… from uid U (cap N)" for one
// uid's share. No answer of either framing begins with it (NDJSON answers
// begin with '{', HTTP ones with "HTTP/").
const TooManyConnections = "revokd: too many connections"

// ErrorBody says what was wrong with a request. Code is one of the Code
// constants.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes of ErrorBody, each with its HTTP status.
const (
	CodeBadRequest       = "bad_request"        // 400
	CodeForbidden        = "forbidden"          // 403
	CodeNotFound         = "not_found"          // 404
	CodeMethodNotAllowed = "method_not_allowed" // 405
	CodeTooLarge         = "too_large"          // 413
	CodeInternal         = "internal"           // 500
	CodeUnavailable      = "unavailable"        // 503
)
