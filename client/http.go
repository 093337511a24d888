package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/revokd/revokd/client/apitype"
)

// baseURL is the scheme and host of every request. The host is only a label:
// the transport always dials the socket.
const baseURL = "http://revokd"

// Revoke denies one token: req carries the token, or its jti and exp. The
// answer says whether a new denial was stored; like RFC 7009, an invalid or
// expired token is not an error (Stored is false).
//
// With the token in hand anyone who can open the socket may revoke it. A
// bare jti is a privileged write, like RevokeAll: a daemon started with
// --write-uids or --write-gids refuses it to other callers, and the error
// then satisfies IsForbidden.
func (c *Client) Revoke(ctx context.Context, req apitype.RevokeRequest) (apitype.RevokeResponse, error) {
	var resp apitype.RevokeResponse
	err := c.doJSON(ctx, http.MethodPost, "/v1/revoke", req, &resp)
	return resp, err
}

// RevokeAll raises the cutoff for a subject (req.Sub) or another claim
// (req.Claim and req.Value) to req.Before (nil means now; a future time is a
// ban) and returns the cutoff in effect afterwards.
// It is a privileged write (see Revoke).
func (c *Client) RevokeAll(ctx context.Context, req apitype.RevokeAllRequest) (apitype.RevokeAllResponse, error) {
	var resp apitype.RevokeAllResponse
	err := c.doJSON(ctx, http.MethodPost, "/v1/revoke-all", req, &resp)
	return resp, err
}

// Unban lowers a future cutoff (a ban) to now and returns the cutoff in
// effect afterwards.
func (c *Client) Unban(ctx context.Context, req apitype.UnbanRequest) (apitype.UnbanResponse, error) {
	var resp apitype.UnbanResponse
	err := c.doJSON(ctx, http.MethodPost, "/v1/unban", req, &resp)
	return resp, err
}

// Status describes the daemon: its replica, its source and how current it is.
func (c *Client) Status(ctx context.Context) (apitype.StatusResponse, error) {
	var resp apitype.StatusResponse
	err := c.doJSON(ctx, http.MethodGet, "/v1/status", nil, &resp)
	return resp, err
}

// Ready reports whether validations get a verdict: the daemon has loaded
// its first snapshot and, with --stale-after, has heard from its store
// within that time (GET /readyz). A daemon that answers "not ready" is not
// an error; one that cannot be reached is.
func (c *Client) Ready(ctx context.Context) (bool, error) {
	resp, err := c.send(ctx, http.MethodGet, "/readyz", nil)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusServiceUnavailable:
		return false, nil
	default:
		return false, &Error{Status: resp.StatusCode, Code: codeForStatus(resp.StatusCode), Message: "GET /readyz: " + resp.Status}
	}
}

func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, baseURL+path, body)
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		// url.Error repeats the method and the label URL; the cause is enough.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, unavailable(fmt.Sprintf("%s %s on %s", method, path, c.socket()), err)
	}
	return resp, nil
}

func (c *Client) doJSON(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxLine))
	if err != nil {
		return unavailable(fmt.Sprintf("read %s %s answer", method, path), err)
	}
	if resp.StatusCode/100 != 2 {
		return httpError(method, path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return &Error{Status: resp.StatusCode, Code: apitype.CodeInternal, Message: fmt.Sprintf("decode %s %s answer: %v", method, path, err)}
	}
	return nil
}

// httpError turns a non-2xx answer into an *Error, from the JSON error body
// when there is one.
func httpError(method, path string, status int, body []byte) *Error {
	var er apitype.ErrorResponse
	if json.Unmarshal(body, &er) == nil && er.Error.Code != "" {
		return &Error{Status: status, Code: er.Error.Code, Message: er.Error.Message}
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &Error{Status: status, Code: codeForStatus(status), Message: fmt.Sprintf("%s %s: %s", method, path, msg)}
}

// Issue mints the first token of a new session for req.Sub, with
// req.Claims added and a lifetime of req.TTL seconds (0: the daemon's
// --token-ttl). It needs a daemon with a signing key, and is a privileged
// write (see Revoke): by default only the daemon's own uid and root may
// issue, and the error of another caller satisfies IsForbidden.
func (c *Client) Issue(ctx context.Context, req apitype.IssueRequest) (apitype.IssueResponse, error) {
	var resp apitype.IssueResponse
	err := c.doJSON(ctx, http.MethodPost, "/v1/issue", req, &resp)
	return resp, err
}

// Refresh mints the next token of token's session: the same sid and
// session start, a new jti, exp no later than the session's maximum age.
// A token that cannot refresh is not an error: the answer carries a
// Reason instead of a Token (one of apitype.Reasons; session_revoked when
// the token had been refreshed already, which ends its session). Anyone
// holding a token may refresh it.
func (c *Client) Refresh(ctx context.Context, token string) (apitype.RefreshResponse, error) {
	var resp apitype.RefreshResponse
	err := c.doJSON(ctx, http.MethodPost, "/v1/refresh", apitype.RefreshRequest{Token: token}, &resp)
	return resp, err
}

// RevokeSession logs out the device that holds token: every token of its
// session (its sid), the token's refreshed descendants among them, is
// revoked. Stored is false when the token was no longer valid. Anyone
// holding a token may end its session.
func (c *Client) RevokeSession(ctx context.Context, token string) (apitype.RevokeResponse, error) {
	return c.Revoke(ctx, apitype.RevokeRequest{Token: token, Scope: apitype.ScopeSession})
}
