package client

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/revokd/revokd/client/apitype"
)

// Error is a failed call: either the daemon answered with a request error
// (Status is its HTTP status, Code and Message come from the error body) or
// no answer came at all (Status is 0, Code is CodeUnavailable and Err holds
// the cause, such as a refused connection or an expired context).
type Error struct {
	Status  int
	Code    string
	Message string
	Err     error
}

// Sentinel errors to match with errors.Is. A sentinel matches any *Error with
// the same Code.
var (
	ErrBadRequest  = &Error{Code: apitype.CodeBadRequest}
	ErrForbidden   = &Error{Code: apitype.CodeForbidden}
	ErrUnavailable = &Error{Code: apitype.CodeUnavailable}
)

func (e *Error) Error() string {
	switch {
	case e.Status == 0 && e.Err != nil:
		return fmt.Sprintf("revokd: %s: %v", e.Code, e.Err)
	case e.Status == 0:
		return fmt.Sprintf("revokd: %s: %s", e.Code, e.Message)
	default:
		return fmt.Sprintf("revokd: %d %s: %s", e.Status, e.Code, e.Message)
	}
}

// Unwrap returns the cause of a call that got no answer.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Code, and the same
// Status when target sets one. It makes the sentinels work with errors.Is.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return (t.Code == "" || t.Code == e.Code) && (t.Status == 0 || t.Status == e.Status)
}

// IsUnavailable reports whether err means the daemon could not answer: it is
// not running, it could not make a write durable (503), or the call timed out.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

// IsBadRequest reports whether the daemon rejected the request itself (400).
func IsBadRequest(err error) bool { return errors.Is(err, ErrBadRequest) }

// IsForbidden reports whether the daemon refused a write to this caller's
// user or group (403).
func IsForbidden(err error) bool { return errors.Is(err, ErrForbidden) }

// unavailable wraps a failure to get any answer from the daemon. A refusal
// at the connection cap is reported in the daemon's words alone: what the
// call was doing when it arrived (a write, a read) says nothing more.
func unavailable(what string, err error) *Error {
	var refused *refusedError
	if errors.As(err, &refused) {
		return &Error{Code: apitype.CodeUnavailable, Message: refused.msg, Err: refused}
	}
	return &Error{Code: apitype.CodeUnavailable, Message: what, Err: fmt.Errorf("%s: %w", what, err)}
}

// statusForCode maps an error code to its HTTP status, for NDJSON error lines
// that carry only the code.
func statusForCode(code string) int {
	switch code {
	case apitype.CodeBadRequest:
		return http.StatusBadRequest
	case apitype.CodeForbidden:
		return http.StatusForbidden
	case apitype.CodeNotFound:
		return http.StatusNotFound
	case apitype.CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case apitype.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case apitype.CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// codeForStatus maps an HTTP status to an error code, for answers whose body
// is not the JSON error (a proxy, or an old daemon).
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return apitype.CodeBadRequest
	case http.StatusUnauthorized, http.StatusForbidden:
		return apitype.CodeForbidden
	case http.StatusNotFound:
		return apitype.CodeNotFound
	case http.StatusMethodNotAllowed:
		return apitype.CodeMethodNotAllowed
	case http.StatusRequestEntityTooLarge:
		return apitype.CodeTooLarge
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return apitype.CodeUnavailable
	default:
		return apitype.CodeInternal
	}
}
