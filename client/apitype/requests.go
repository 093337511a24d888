package apitype

import "time"

// ValidateRequest is the body of POST /v1/validate (op validate).
type ValidateRequest struct {
	Token string `json:"token"`
	// Expect, when present, replaces the daemon's --require-claim list for
	// this call: the token is active only if each named claim has the given
	// value (as a string; a number by its decimal text), else it is
	// bad_claim. An issuer's refresh endpoint sends {"token_type":"refresh"}
	// to accept the refresh tokens the daemon refuses as access tokens. An
	// empty object requires nothing.
	Expect map[string]string `json:"expect,omitzero"`
}

// RevokeRequest is the body of POST /v1/revoke (op revoke): either a token,
// or a token id with its expiry (Unix seconds). With a token, Scope widens
// the revocation from the token alone to its session (ScopeSession: a
// cutoff on its sid) or its subject (ScopeSubject: a cutoff on its
// subject).
type RevokeRequest struct {
	Token string `json:"token,omitempty"`
	JTI   string `json:"jti,omitempty"`
	Exp   int64  `json:"exp,omitempty"`
	Scope string `json:"scope,omitempty"`
}

// RevokeAllRequest is the body of POST /v1/revoke-all (op revoke-all): Sub,
// or Claim and Value. Before defaults to now; a future Before is a ban.
// Iss scopes the cutoff to one trusted issuer when the daemon trusts
// several: without it, the cutoff reaches the value at every issuer.
type RevokeAllRequest struct {
	Sub    string     `json:"sub,omitempty"`
	Claim  string     `json:"claim,omitempty"`
	Value  string     `json:"value,omitempty"`
	Iss    string     `json:"iss,omitempty"`
	Before *time.Time `json:"before,omitempty"`
}

// UnbanRequest is the body of POST /v1/unban (op unban): Sub, or Claim and
// Value, and Iss as in RevokeAllRequest.
type UnbanRequest struct {
	Sub   string `json:"sub,omitempty"`
	Claim string `json:"claim,omitempty"`
	Value string `json:"value,omitempty"`
	Iss   string `json:"iss,omitempty"`
}
