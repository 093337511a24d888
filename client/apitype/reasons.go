package apitype

// Reasons a token is not active, in ValidateResponse.Reason (POST
// /v1/validate, op validate, GET /v1/auth; POST /v1/introspect answers
// only that a token is not active, without its reason). They are stable: part of the API.
const (
	ReasonMalformed      = "malformed"       // not a JWT revokd can read, or a claim it reads has the wrong type
	ReasonUnsupportedAlg = "unsupported_alg" // alg none, or one no configured key allows
	ReasonUnknownKey     = "unknown_key"     // kid names no configured key
	ReasonBadSignature   = "bad_signature"   // the signature does not verify
	ReasonMissingClaim   = "missing_claim"   // exp, the subject, a needed session start, or a required iss, aud or jti is absent
	ReasonBadIssuer      = "bad_issuer"      // iss is not the configured issuer
	ReasonBadAudience    = "bad_audience"    // aud does not name the configured audience
	ReasonBadClaim       = "bad_claim"       // a claim required by --require-claim or the request's expect differs or is absent
	ReasonExpired        = "expired"         // exp has passed
	ReasonNotYetValid    = "not_yet_valid"   // nbf, iat or the session start is still ahead
	ReasonSessionExpired = "session_expired" // the session is older than max_session_age
	ReasonUnavailable    = "unavailable"     // the revocation state is not loaded, or stale under --stale-after
	ReasonSubjectRevoked = "subject_revoked" // a cutoff on the subject covers the token
	ReasonSessionRevoked = "session_revoked" // a cutoff on sid covers the token
	ReasonClaimRevoked   = "claim_revoked"   // a cutoff on another configured claim covers the token
	ReasonRevoked        = "revoked"         // the token's id is denied
)

// Reasons is every reason, once, in precedence order: when several apply to
// one token, the answer names the one listed first (daemon/pipeline's winner
// applies the order). Its place in the list is part of the API as much as
// the string is. The three cutoff reasons never compete: the replica reports
// one cutoff, the latest, so that a ban is answered with its end.
var Reasons = []string{
	ReasonMalformed,
	ReasonUnsupportedAlg,
	ReasonUnknownKey,
	ReasonBadSignature,
	ReasonMissingClaim,
	ReasonBadIssuer,
	ReasonBadAudience,
	ReasonBadClaim,
	ReasonExpired,
	ReasonNotYetValid,
	ReasonSessionExpired,
	ReasonUnavailable,
	ReasonSubjectRevoked,
	ReasonSessionRevoked,
	ReasonClaimRevoked,
	ReasonRevoked,
}
