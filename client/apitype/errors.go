package apitype

// ErrorResponse is the body of every request error, on every route and op.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody says what was wrong with a request (every route and op). Code is
// one of the Code constants.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes of ErrorBody (every route and op), each with its HTTP status.
const (
	CodeBadRequest       = "bad_request"        // 400
	CodeForbidden        = "forbidden"          // 403
	CodeNotFound         = "not_found"          // 404
	CodeMethodNotAllowed = "method_not_allowed" // 405
	CodeTooLarge         = "too_large"          // 413
	CodeInternal         = "internal"           // 500
	CodeUnavailable      = "unavailable"        // 503
)

// TooManyConnections begins the one plain-text line the daemon writes to a
// connection it refuses at its connection cap (any route or op), before it
// closes it: "revokd: too many connections (cap N)", or "… from uid U (cap
// N)" for one uid's share. No answer of either framing begins with it
// (NDJSON answers begin with '{', HTTP ones with "HTTP/").
const TooManyConnections = "revokd: too many connections"

// LogoutError is the body of a refused POST /v1/backchannel-logout: the
// error form of OpenID Connect Back-Channel Logout 1.0 §2.8 (RFC 6749's),
// not ErrorResponse, as the identity provider that calls it expects.
// Error is LogoutInvalidRequest.
type LogoutError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// LogoutInvalidRequest is LogoutError's Error for every refused logout
// token (POST /v1/backchannel-logout).
const LogoutInvalidRequest = "invalid_request"
