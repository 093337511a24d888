// Package client talks to a revokd daemon over its Unix socket. The request
// and answer bodies, reasons and error codes it sends and returns are those
// of package apitype, which the daemon imports too; the daemon never imports
// this package.
//
// The zero Client works: it finds the socket in its Socket field, else in the
// REVOKD_SOCKET environment variable, else at the default path (see
// DefaultSocket). Validate goes over NDJSON on a small pool of persistent
// connections, the daemon's fast path; the writes and status calls go over
// HTTP on the same socket. Failures are *Error values, tested with errors.Is
// against ErrUnavailable, ErrBadRequest and ErrForbidden or with the
// IsUnavailable, IsBadRequest and IsForbidden helpers; a connection the daemon
// refused at its connection cap is unavailable and IsTooManyConnections. An inactive token is not
// an error: Validate returns the answer with Active false and a Reason.
//
// Middleware guards an http.Handler with Validate and hands the answer to the
// handler through the request context (FromContext).
package client
