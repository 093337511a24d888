package apitype

import "strings"

// VersionHeader is the response header, on every HTTP route, that carries
// the daemon's version.
const VersionHeader = "Revokd-Version"

// BearerToken takes the token from an Authorization header value (GET
// /v1/auth, and the client's Middleware) of scheme Bearer or JWT (the scheme
// of djangorestframework-jwt), matched case-insensitively as RFC 9110 says.
// ok is false when there is no token.
//
// It is the one function here: which header values carry a token is part of
// the API, and the daemon and the client must read them alike.
func BearerToken(h string) (token string, ok bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return "", false
	}
	if !strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "JWT") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
