package client_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/revokd/revokd/client"
	"github.com/revokd/revokd/client/apitype"
)

func TestErrorMatching(t *testing.T) {
	refused := &client.Error{Code: apitype.CodeUnavailable, Err: fmt.Errorf("dial: %w", syscall.ECONNREFUSED)}
	tests := []struct {
		name                           string
		err                            error
		badRequest, forbidden, unavail bool
		wrapsRefused, wrapsDeadline    bool
	}{
		{name: "400", err: &client.Error{Status: 400, Code: apitype.CodeBadRequest}, badRequest: true},
		{name: "403 wrapped", err: fmt.Errorf("revoke: %w", &client.Error{Status: 403, Code: apitype.CodeForbidden}), forbidden: true},
		{name: "503", err: &client.Error{Status: 503, Code: apitype.CodeUnavailable}, unavail: true},
		{name: "refused", err: refused, unavail: true, wrapsRefused: true},
		{name: "deadline", err: &client.Error{Code: apitype.CodeUnavailable, Err: context.DeadlineExceeded}, unavail: true, wrapsDeadline: true},
		{name: "404", err: &client.Error{Status: 404, Code: apitype.CodeNotFound}},
		{name: "plain error", err: errors.New("boom")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checks := []struct {
				what      string
				got, want bool
			}{
				{"IsBadRequest", client.IsBadRequest(tc.err), tc.badRequest},
				{"IsForbidden", client.IsForbidden(tc.err), tc.forbidden},
				{"IsUnavailable", client.IsUnavailable(tc.err), tc.unavail},
				{"Is ECONNREFUSED", errors.Is(tc.err, syscall.ECONNREFUSED), tc.wrapsRefused},
				{"Is DeadlineExceeded", errors.Is(tc.err, context.DeadlineExceeded), tc.wrapsDeadline},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s(%v) = %v, want %v", c.what, tc.err, c.got, c.want)
				}
			}
		})
	}
}

func TestErrorIsMatchesStatus(t *testing.T) {
	err := &client.Error{Status: 413, Code: apitype.CodeTooLarge, Message: "line over 1 MiB"}
	if !errors.Is(err, &client.Error{Status: 413}) {
		t.Error("errors.Is(413 error, &Error{Status: 413}) = false, want true")
	}
	if errors.Is(err, &client.Error{Status: 400}) {
		t.Error("errors.Is(413 error, &Error{Status: 400}) = true, want false")
	}
	if got, want := err.Error(), "revokd: 413 too_large: line over 1 MiB"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
