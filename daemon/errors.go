package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client"
)

// Request errors. Backends wrap ErrBadRequest for a request that is well
// formed JSON but makes no sense (an unknown cutoff claim, say).
var (
	ErrBadRequest       = errors.New("bad request")
	ErrTooLarge         = errors.New("request too large")
	errNotFound         = errors.New("no such route")
	errMethodNotAllowed = errors.New("method not allowed")
)

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// errorOf maps an error to its HTTP status and the body both framings send.
// It is the one place where errors become answers.
func errorOf(err error) (int, client.ErrorBody) {
	switch {
	case errors.Is(err, ErrBadRequest), errors.Is(err, cache.ErrInvalid):
		return http.StatusBadRequest, client.ErrorBody{Code: client.CodeBadRequest, Message: err.Error()}
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, client.ErrorBody{Code: client.CodeForbidden, Message: err.Error()}
	case errors.Is(err, errNotFound):
		return http.StatusNotFound, client.ErrorBody{Code: client.CodeNotFound, Message: err.Error()}
	case errors.Is(err, errMethodNotAllowed):
		return http.StatusMethodNotAllowed, client.ErrorBody{Code: client.CodeMethodNotAllowed, Message: err.Error()}
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge, client.ErrorBody{Code: client.CodeTooLarge, Message: err.Error()}
	case errors.Is(err, cache.ErrUnavailable), errors.Is(err, errNotReady):
		// The store's own error text may name hosts or SQL: keep it in the log.
		msg := cache.ErrUnavailable.Error()
		if errors.Is(err, errNotReady) {
			msg = errNotReady.Error()
		}
		return http.StatusServiceUnavailable, client.ErrorBody{Code: client.CodeUnavailable, Message: msg}
	default:
		return http.StatusInternalServerError, client.ErrorBody{Code: client.CodeInternal, Message: "internal error"}
	}
}

var errNotReady = errors.New("revocation state not loaded yet")

// errCannotCheck answers /v1/auth when the pipeline says unavailable: the
// replica is not loaded yet, or stale under --stale-after.
var errCannotCheck = fmt.Errorf("%w: revocations cannot be checked now", cache.ErrUnavailable)

// appendError appends err's JSON body (client.ErrorResponse) to b.
func appendError(b []byte, err error) ([]byte, int) {
	status, body := errorOf(err)
	j, jerr := json.Marshal(client.ErrorResponse{Error: body})
	if jerr != nil { // cannot happen for two strings; keep the answer valid anyway
		j = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	return append(b, j...), status
}
