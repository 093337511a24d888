package client

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/revokd/revokd/client/apitype"
)

// ReasonMissingToken is the error Middleware answers when a request carries
// no token at all. It is not a daemon reason: the daemon is never asked.
const ReasonMissingToken = "missing_token"

type contextKey struct{}

// Middleware lets through only requests that carry an active token in their
// Authorization header ("Bearer <token>", or "JWT <token>" as the original
// Django app sent it). The handler finds the daemon's answer, with the
// subject and claims, through FromContext.
//
// Other requests get a JSON body {"error": "<reason>"}:
//   - 401 with a WWW-Authenticate header when the token is missing
//     ("missing_token") or not active (the daemon's reason, such as "expired"
//     or "revoked");
//   - 503 when the daemon cannot be reached, or answers "unavailable"
//     because its state is too old to trust. It fails closed.
func (c *Client) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := apitype.BearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="revokd"`)
			writeJSONError(w, http.StatusUnauthorized, ReasonMissingToken)
			return
		}
		resp, err := c.Validate(r.Context(), token)
		switch {
		case err != nil, resp.Reason == apitype.ReasonUnavailable:
			writeJSONError(w, http.StatusServiceUnavailable, apitype.ReasonUnavailable)
		case !resp.Active:
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+resp.Reason+`"`)
			writeJSONError(w, http.StatusUnauthorized, resp.Reason)
		default:
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), contextKey{}, resp)))
		}
	})
}

// FromContext returns the answer Middleware put into a request's context,
// and false when there is none.
func FromContext(ctx context.Context) (apitype.ValidateResponse, bool) {
	resp, ok := ctx.Value(contextKey{}).(apitype.ValidateResponse)
	return resp, ok
}

func writeJSONError(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{reason})
}
