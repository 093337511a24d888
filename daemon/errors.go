package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
)

// Request errors. Backends wrap ErrBadRequest for a request that is well
// formed JSON but makes no sense (an unknown cutoff claim, say).
var (
	ErrBadRequest       = errors.New("bad request")
	ErrTooLarge         = errors.New("request too large")
	errNotFound         = errors.New("no such route")
	errMethodNotAllowed = errors.New("method not allowed")
)

// badRequest is a request error whose text is the message the client
// reads. It is ErrBadRequest (errors.Is), but does not repeat "bad request":
// the answer's code already says so.
func badRequest(format string, args ...any) error {
	return requestError(fmt.Sprintf(format, args...))
}

type requestError string

func (e requestError) Error() string        { return string(e) }
func (e requestError) Is(target error) bool { return target == ErrBadRequest }

// clientMessage is err's text as a client reads it: a prefix that several
// layers each added ("revoke token: revoke token: …", "invalid revocation:
// … invalid revocation: too long") is kept once, at its first place.
func clientMessage(err error) string {
	parts := strings.Split(err.Error(), ": ")
	out := make([]string, 0, len(parts))
	for i, p := range parts {
		if i > 0 && slices.Contains(parts[:i], p) {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ": ")
}

// errorOf maps an error to its HTTP status and the body both framings send.
// It is the one place where errors become answers.
func errorOf(err error) (int, apitype.ErrorBody) {
	switch {
	case errors.Is(err, ErrBadRequest), errors.Is(err, cache.ErrInvalid):
		return http.StatusBadRequest, apitype.ErrorBody{Code: apitype.CodeBadRequest, Message: clientMessage(err)}
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, apitype.ErrorBody{Code: apitype.CodeForbidden, Message: err.Error()}
	case errors.Is(err, errNotFound):
		return http.StatusNotFound, apitype.ErrorBody{Code: apitype.CodeNotFound, Message: err.Error()}
	case errors.Is(err, errMethodNotAllowed):
		return http.StatusMethodNotAllowed, apitype.ErrorBody{Code: apitype.CodeMethodNotAllowed, Message: err.Error()}
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge, apitype.ErrorBody{Code: apitype.CodeTooLarge, Message: err.Error()}
	case errors.Is(err, cache.ErrUnavailable), errors.Is(err, errNotReady), errors.Is(err, errStale):
		// The store's own error text may name hosts or SQL: keep it in the log.
		msg := cache.ErrUnavailable.Error()
		switch {
		case errors.Is(err, errNotReady):
			msg = errNotReady.Error()
		case errors.Is(err, errStale):
			msg = errStale.Error()
		case errors.Is(err, errIssuerKeys):
			msg = errIssuerKeys.Error()
		}
		return http.StatusServiceUnavailable, apitype.ErrorBody{Code: apitype.CodeUnavailable, Message: msg}
	default:
		return http.StatusInternalServerError, apitype.ErrorBody{Code: apitype.CodeInternal, Message: "internal error"}
	}
}

var errNotReady = errors.New("revocation state not loaded yet")

// errIssuerKeys answers a logout token whose issuer's fetched keys do not
// hold its key yet: not fetched at all, or not its kid, which the provider
// may have only just published. The provider should send it again.
var errIssuerKeys = errors.New("the issuer's fetched keys do not hold the token's key yet; send it again later")

// errStale answers /readyz once --stale-after has passed without contact
// with the store: validations answer "unavailable" until it is back.
var errStale = errors.New("no contact with the revocation store for longer than --stale-after")

// errCannotCheck answers /v1/auth when the pipeline says unavailable: the
// replica is not loaded yet, or stale under --stale-after.
var errCannotCheck = fmt.Errorf("%w: revocations cannot be checked now", cache.ErrUnavailable)

// appendError appends err's JSON body (apitype.ErrorResponse) to b.
func appendError(b []byte, err error) ([]byte, int) {
	status, body := errorOf(err)
	j, jerr := json.Marshal(apitype.ErrorResponse{Error: body})
	if jerr != nil { // cannot happen for two strings; keep the answer valid anyway
		j = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	return append(b, j...), status
}
