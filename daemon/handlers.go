package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
)

// Backend answers the socket's requests. Service is the production one;
// tests drive the handlers with a map fake.
type Backend interface {
	// Validate holds the token to the configured claim requirements
	// (--require-claim); ValidateExpect to expect instead, unless expect is
	// nil (a validate request's "expect").
	Validate(token string) pipeline.Result
	ValidateExpect(token string, expect map[string]string) pipeline.Result
	Revoke(ctx context.Context, req apitype.RevokeRequest) (apitype.RevokeResponse, error)
	RevokeAll(ctx context.Context, req apitype.RevokeAllRequest) (apitype.RevokeAllResponse, error)
	Unban(ctx context.Context, req apitype.UnbanRequest) (apitype.UnbanResponse, error)
	Status() apitype.StatusResponse
	// Readiness is nil when a validation would get a verdict, not
	// "unavailable": the first snapshot is loaded and, under --stale-after,
	// the store has been heard from recently enough. Otherwise it says why
	// (errNotReady, errStale).
	Readiness() error
}

// bytesValidator is implemented by a Backend that can look a token up
// straight from the request buffer. On a verified-cache hit that saves
// copying the token into a string, the hot path's only allocation.
type bytesValidator interface {
	ValidateBytes(token []byte) pipeline.Result
}

// validateBytes validates a token held in a request buffer, without copying
// it when the backend allows.
func (h *handlers) validateBytes(token []byte) pipeline.Result {
	if b, ok := h.backend.(bytesValidator); ok {
		return b.ValidateBytes(token)
	}
	return h.backend.Validate(string(token))
}

// handlers implements every operation once; the HTTP routes and the NDJSON
// ops are thin adapters over it.
type handlers struct {
	backend Backend
	logout  Logouter // nil: no back-channel logout route
	tokens  Minter   // nil: issue, refresh and jwks are 404
	access  writeAccess
	version string
	maxBody int64
	m       *metrics
	log     *slog.Logger
	metrics http.Handler
}

var jsonContentType = []string{"application/json"}

// bufPool recycles request and answer buffers. A buffer grown by a large
// body is dropped rather than kept, so a burst of 1 MiB bodies does not pin
// memory.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(bp *[]byte, b []byte) {
	if cap(b) > 64<<10 {
		return
	}
	*bp = b[:0]
	bufPool.Put(bp)
}

// The shape checks below are the same for both framings; the backend then
// judges the content (which claims carry cutoffs, whether a token is valid).

// revoke denies one token. With the token in hand it is open to every
// caller: holding a token is the right to end it, and the backend verifies
// it. A bare jti proves nothing, so anyone could log anyone out with one: it
// is a privileged write, like revoke-all.
func (h *handlers) revoke(ctx context.Context, p Peer, req apitype.RevokeRequest) (apitype.RevokeResponse, error) {
	if req.Token == "" && req.JTI != "" {
		if err := h.access.check(p); err != nil {
			return apitype.RevokeResponse{}, err
		}
	}
	switch {
	case req.Token != "" && (req.JTI != "" || req.Exp != 0):
		return apitype.RevokeResponse{}, badRequest(`give "token", or "jti" and "exp", not both`)
	case req.Token == "" && req.JTI == "":
		return apitype.RevokeResponse{}, badRequest(`missing "token" (or "jti" and "exp")`)
	case req.Token == "" && req.Scope != "":
		return apitype.RevokeResponse{}, badRequest(`"scope" needs "token"`)
	case req.Token == "" && req.Exp == 0:
		return apitype.RevokeResponse{}, badRequest(`"jti" needs "exp" (Unix seconds)`)
	case req.Token == "":
		// The caller names the expiry, so a time no store keeps is its
		// mistake to hear about, not one to clamp into a denial until 9999.
		if err := cache.CheckTime("exp", time.Unix(req.Exp, 0)); err != nil {
			return apitype.RevokeResponse{}, badRequest(`"exp" %d is not a time a store keeps: give Unix seconds from %d to %d`,
				req.Exp, cache.MinTime.Unix(), cache.MaxTime.Unix())
		}
	}
	return h.backend.Revoke(ctx, req)
}

// checkSubject catches missing fields in revoke-all and unban, for every
// Backend (Service runs it again, as it may be called on its own); which
// claims are allowed, and how "sub" combines with "claim", is the backend's
// call.
func checkSubject(sub, claim, value string) error {
	switch {
	case sub == "" && claim == "":
		return badRequest(`missing "sub" (or "claim" and "value")`)
	case sub == "" && value == "":
		return badRequest(`"claim" needs a non-empty "value"`)
	}
	return nil
}

func (h *handlers) revokeAll(ctx context.Context, p Peer, req apitype.RevokeAllRequest) (apitype.RevokeAllResponse, error) {
	if err := h.access.check(p); err != nil {
		return apitype.RevokeAllResponse{}, err
	}
	if err := checkSubject(req.Sub, req.Claim, req.Value); err != nil {
		return apitype.RevokeAllResponse{}, err
	}
	return h.backend.RevokeAll(ctx, req)
}

func (h *handlers) unban(ctx context.Context, p Peer, req apitype.UnbanRequest) (apitype.UnbanResponse, error) {
	if err := h.access.check(p); err != nil {
		return apitype.UnbanResponse{}, err
	}
	if err := checkSubject(req.Sub, req.Claim, req.Value); err != nil {
		return apitype.UnbanResponse{}, err
	}
	return h.backend.Unban(ctx, req)
}

func (h *handlers) status() apitype.StatusResponse {
	st := h.backend.Status()
	if st.Version == "" {
		st.Version = h.version
	}
	return st
}

// HTTP adapters.

// writeError is the one way an HTTP request error is answered.
func (h *handlers) writeError(w http.ResponseWriter, op string, err error) {
	h.m.request(op, err)
	status, _ := errorOf(err)
	switch {
	case status == http.StatusServiceUnavailable && (op == opReady || op == opAuth):
		// Probes, and a proxy's checks of every request, keep asking while
		// the state loads or is stale; the feed logs the cause once.
		h.log.Debug("cannot vouch for the revocation state", "op", op, "err", err)
	case status == http.StatusServiceUnavailable:
		h.log.Warn("request refused: revocation state unavailable", "op", op, "err", err)
	case status >= 500:
		h.log.Error("request failed", "op", op, "err", err)
	}
	bp := getBuf()
	b, _ := appendError((*bp)[:0], err)
	b = append(b, '\n')
	writeJSON(w, status, b)
	putBuf(bp, b)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	w.Write(body)
}

func (h *handlers) reply(w http.ResponseWriter, op string, v any, err error) {
	if err != nil {
		h.writeError(w, op, err)
		return
	}
	j, err := json.Marshal(v)
	if err != nil {
		h.writeError(w, op, err)
		return
	}
	h.m.request(op, nil)
	writeJSON(w, http.StatusOK, append(j, '\n'))
}

// readBody reads a request body of at most maxBody bytes into b.
func (h *handlers) readBody(w http.ResponseWriter, r *http.Request, b []byte) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, h.maxBody)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return b, ErrTooLarge
			}
			return b, badRequest("read body: %v", err)
		}
	}
}

// decodeHTTP reads a request body and decodes it as decodeNDJSON decodes
// a line, so that a mistake gets the same message by either framing.
func decodeHTTP[Req any](h *handlers, w http.ResponseWriter, r *http.Request) (Req, error) {
	bp := getBuf()
	b, err := h.readBody(w, r, (*bp)[:0])
	defer putBuf(bp, b)
	if err != nil {
		var zero Req
		return zero, err
	}
	return decodeRequest[Req](b)
}

func (h *handlers) handleValidate(w http.ResponseWriter, r *http.Request) {
	bp := getBuf()
	b, err := h.readBody(w, r, (*bp)[:0])
	if err != nil {
		putBuf(bp, b)
		h.writeError(w, opValidate, err)
		return
	}
	// The fast scan knows only "op" and "token": a body with "expect" (or
	// anything else) is decoded in full.
	op, tok, ok := scanTokenObject(b)
	var expect map[string]string
	if !ok || op != nil {
		req, err := decodeRequest[apitype.ValidateRequest](b)
		if err != nil {
			putBuf(bp, b)
			h.writeError(w, opValidate, err)
			return
		}
		tok, expect = []byte(req.Token), req.Expect
	}
	if len(tok) == 0 {
		putBuf(bp, b)
		h.writeError(w, opValidate, badRequest(`missing "token"`))
		return
	}
	var res pipeline.Result
	if expect != nil {
		res = h.backend.ValidateExpect(string(tok), expect)
	} else {
		res = h.validateBytes(tok)
	}
	h.m.result(res.Reason)
	h.m.validateOK.Inc()
	out := append(res.AppendJSON(b[:0]), '\n')
	writeJSON(w, http.StatusOK, out)
	putBuf(bp, out)
}

func (h *handlers) handleAuth(w http.ResponseWriter, r *http.Request) {
	tok, given := apitype.BearerToken(r.Header.Get("Authorization"))
	res := h.backend.Validate(tok)
	h.m.result(res.Reason)
	if res.Reason == apitype.ReasonUnavailable {
		// The token may well be good: a 401 would make a proxy's client
		// throw its session away. A 503 fails closed without saying so.
		h.writeError(w, opAuth, errCannotCheck)
		return
	}
	h.m.authOK.Inc()
	bp := getBuf()
	out := append(res.AppendJSON((*bp)[:0]), '\n')
	defer putBuf(bp, out)
	hdr := w.Header()
	if res.Active() {
		hdr["X-Auth-Subject"] = []string{res.Token.Subject}
		writeJSON(w, http.StatusOK, out)
		return
	}
	if given {
		// Reasons are fixed ASCII words, safe inside the quoted string.
		hdr["Www-Authenticate"] = []string{`Bearer error="invalid_token", error_description="` + res.Reason + `"`}
	} else {
		// RFC 6750 §3.1: no error code when the request carried no token.
		hdr["Www-Authenticate"] = []string{`Bearer realm="revokd"`}
	}
	writeJSON(w, http.StatusUnauthorized, out)
}

// handleIntrospect is RFC 7662 token introspection, for OAuth libraries
// that speak it (Spring Security's opaque tokens, Authlib). The token comes
// in a form body (token_type_hint is ignored: revokd knows one kind of
// token), and is held to the configured requirements. Whatever is wrong,
// with the token or with the form, the answer is 200 {"active":false}: the
// RFC (§2.2) tells a caller nothing more, and gives no error for a bad
// form. A body over the size limit still gets its 413, as every route's
// does. The socket's permissions stand in for the RFC's client
// authentication.
func (h *handlers) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	bp := getBuf()
	b, err := h.readBody(w, r, (*bp)[:0])
	defer putBuf(bp, b)
	if errors.Is(err, ErrTooLarge) {
		h.writeError(w, opIntrospect, err)
		return
	}
	var res pipeline.Result
	if form, ferr := url.ParseQuery(string(b)); err == nil && ferr == nil && len(form["token"]) == 1 && form["token"][0] != "" {
		// A token given twice is refused (RFC 6749 §3.2: no parameter more
		// than once), as revokd cannot tell which one the caller meant.
		res = h.backend.Validate(form["token"][0])
		h.m.result(res.Reason)
	}
	out, err := json.Marshal(res.Introspection())
	if err != nil {
		h.writeError(w, opIntrospect, err)
		return
	}
	h.m.request(opIntrospect, nil)
	w.Header()["Cache-Control"] = noStore
	writeJSON(w, http.StatusOK, append(out, '\n'))
}

var noStore = []string{"no-store"}

func (h *handlers) handleRevoke(w http.ResponseWriter, r *http.Request) {
	req, err := decodeHTTP[apitype.RevokeRequest](h, w, r)
	if err != nil {
		h.writeError(w, opRevoke, err)
		return
	}
	p, _ := PeerFrom(r.Context())
	resp, err := h.revoke(r.Context(), p, req)
	h.reply(w, opRevoke, resp, err)
}

func (h *handlers) handleRevokeAll(w http.ResponseWriter, r *http.Request) {
	req, err := decodeHTTP[apitype.RevokeAllRequest](h, w, r)
	if err != nil {
		h.writeError(w, opRevokeAll, err)
		return
	}
	p, _ := PeerFrom(r.Context())
	resp, err := h.revokeAll(r.Context(), p, req)
	h.reply(w, opRevokeAll, resp, err)
}

func (h *handlers) handleUnban(w http.ResponseWriter, r *http.Request) {
	req, err := decodeHTTP[apitype.UnbanRequest](h, w, r)
	if err != nil {
		h.writeError(w, opUnban, err)
		return
	}
	p, _ := PeerFrom(r.Context())
	resp, err := h.unban(r.Context(), p, req)
	h.reply(w, opUnban, resp, err)
}

func (h *handlers) handleStatus(w http.ResponseWriter, r *http.Request) {
	h.reply(w, opStatus, h.status(), nil)
}

// handleHealthz is liveness: the process answers. It never looks at the
// store, so a liveness probe cannot restart a daemon whose database is away
// (the restart would drop the revocations it still enforces).
func (h *handlers) handleHealthz(w http.ResponseWriter, r *http.Request) {
	h.m.request(opHealth, nil)
	writeJSON(w, http.StatusOK, []byte("{\"status\":\"ok\"}\n"))
}

// handleReadyz is readiness: 200 exactly when a validation would get a
// verdict rather than "unavailable", so a proxy or a Service sends traffic
// only to a daemon that can judge it.
func (h *handlers) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if err := h.backend.Readiness(); err != nil {
		h.writeError(w, opReady, err)
		return
	}
	h.m.request(opReady, nil)
	writeJSON(w, http.StatusOK, []byte("{\"ready\":true}\n"))
}

func (h *handlers) handleMetrics(w http.ResponseWriter, r *http.Request) {
	h.m.request(opMetrics, nil)
	h.metrics.ServeHTTP(w, r)
}

// handleBackchannelLogout is OpenID Connect Back-Channel Logout 1.0: the
// identity provider posts a form with logout_token. A refused token is
// answered in the spec's error form (§2.8), not revokd's; a store that
// cannot take the write is a 503, so the provider may retry. No answer may
// be cached (§2.8). It is open to every caller that can reach the socket,
// like a revoke with the token in hand: the logout token, signed by the
// issuer, is the authority, whichever uid the proxy that relays it runs
// as.
func (h *handlers) handleBackchannelLogout(w http.ResponseWriter, r *http.Request) {
	w.Header()["Cache-Control"] = noStore
	bp := getBuf()
	b, err := h.readBody(w, r, (*bp)[:0])
	defer putBuf(bp, b)
	if errors.Is(err, ErrTooLarge) {
		h.writeError(w, opLogout, err)
		return
	}
	var token string
	if form, ferr := url.ParseQuery(string(b)); err == nil && ferr == nil && len(form["logout_token"]) == 1 {
		// Given twice, the token is refused (RFC 6749 §3.2), as for
		// introspection: which one was meant is unknown.
		token = form["logout_token"][0]
	}
	err = h.logout.BackchannelLogout(r.Context(), token)
	var refusal logoutRefusal
	switch {
	case errors.As(err, &refusal):
		h.m.request(opLogout, err)
		h.log.Info("back-channel logout refused", "reason", string(refusal))
		out, _ := json.Marshal(apitype.LogoutError{Error: apitype.LogoutInvalidRequest, Description: string(refusal)})
		writeJSON(w, http.StatusBadRequest, append(out, '\n'))
	case err != nil:
		h.writeError(w, opLogout, err)
	default:
		h.m.request(opLogout, nil)
		writeJSON(w, http.StatusOK, []byte("{}\n"))
	}
}
