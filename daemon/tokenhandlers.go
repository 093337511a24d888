package daemon

import (
	"context"
	"net/http"

	"github.com/revokd/revokd/client/apitype"
)

// issue mints a token: a privileged write, as it makes a session for any
// subject. The write lists decide who may (by default, with a signing key,
// the daemon's own uid and root).
func (h *handlers) issue(ctx context.Context, p Peer, req apitype.IssueRequest) (apitype.IssueResponse, error) {
	if h.tokens == nil {
		return apitype.IssueResponse{}, errNoMinting
	}
	if err := h.access.check(p); err != nil {
		return apitype.IssueResponse{}, err
	}
	if req.Sub == "" {
		return apitype.IssueResponse{}, badRequest(`missing "sub"`)
	}
	return h.tokens.Issue(ctx, req)
}

// refresh is open to every caller, as validate is: the token in hand is
// the authority, and the pipeline judges it.
func (h *handlers) refresh(ctx context.Context, req apitype.RefreshRequest) (apitype.RefreshResponse, error) {
	if h.tokens == nil {
		return apitype.RefreshResponse{}, errNoMinting
	}
	if req.Token == "" {
		return apitype.RefreshResponse{}, badRequest(`missing "token"`)
	}
	return h.tokens.Refresh(ctx, req)
}

func (h *handlers) handleIssue(w http.ResponseWriter, r *http.Request) {
	req, err := decodeHTTP[apitype.IssueRequest](h, w, r)
	if err != nil {
		h.writeError(w, opIssue, err)
		return
	}
	p, _ := PeerFrom(r.Context())
	resp, err := h.issue(r.Context(), p, req)
	w.Header()["Cache-Control"] = noStore
	h.reply(w, opIssue, resp, err)
}

func (h *handlers) handleRefresh(w http.ResponseWriter, r *http.Request) {
	req, err := decodeHTTP[apitype.RefreshRequest](h, w, r)
	if err != nil {
		h.writeError(w, opRefresh, err)
		return
	}
	resp, err := h.refresh(r.Context(), req)
	w.Header()["Cache-Control"] = noStore
	h.reply(w, opRefresh, resp, err)
}

// handleJWKS publishes the verification keys (RFC 7517 §5), for services
// that check revokd's tokens themselves.
func (h *handlers) handleJWKS(w http.ResponseWriter, r *http.Request) {
	h.m.request(opJWKS, nil)
	w.Header()["Content-Type"] = jwksContentType
	w.WriteHeader(http.StatusOK)
	w.Write(h.tokens.JWKS())
}

var jwksContentType = []string{"application/jwk-set+json"}
