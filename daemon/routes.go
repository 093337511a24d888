package daemon

import (
	"net/http"

	"github.com/revokd/revokd/client/apitype"
)

// route is one entry of the HTTP API: a Go 1.22 method pattern and the
// handler behind it.
type route struct {
	pattern string
	handler http.HandlerFunc
}

// routes is the whole HTTP API in one table. GET patterns also answer HEAD;
// a pattern without a method answers every method.
func (h *handlers) routes() []route {
	rs := []route{
		{"POST /v1/validate", h.handleValidate},
		// Any method and any path below: Envoy's ext_authz sends the
		// original request's method and appends its path. Only the
		// Authorization header is read.
		{"/v1/auth", h.handleAuth},
		{"/v1/auth/", h.handleAuth},
		{"POST /v1/introspect", h.handleIntrospect},
		{"POST /v1/revoke", h.handleRevoke},
		{"POST /v1/revoke-all", h.handleRevokeAll},
		{"POST /v1/unban", h.handleUnban},
		{"GET /v1/status", h.handleStatus},
		{"GET /healthz", h.handleHealthz},
		{"GET /readyz", h.handleReadyz},
		{"GET /metrics", h.handleMetrics},
	}
	if h.tokens != nil {
		rs = append(rs,
			route{"POST /v1/issue", h.handleIssue},
			route{"POST /v1/refresh", h.handleRefresh},
			route{"GET /v1/jwks", h.handleJWKS},
		)
	}
	if h.logout != nil {
		// Only when enabled: otherwise the mux's 404, as for any path.
		rs = append(rs, route{"POST /v1/backchannel-logout", h.handleBackchannelLogout})
	}
	return rs
}

// router serves the route table. Every answer carries the version header,
// and the mux's own 404 and 405 (plain text) become JSON errors.
type router struct {
	h       *handlers
	mux     *http.ServeMux
	version []string
}

func newRouter(h *handlers) *router {
	mux := http.NewServeMux()
	for _, r := range h.routes() {
		mux.Handle(r.pattern, r.handler)
	}
	return &router{h: h, mux: mux, version: []string{h.version}}
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header()[apitype.VersionHeader] = rt.version
	// Handler does the same matching ServeHTTP would; no route has
	// wildcards, so calling the matched handler directly loses nothing.
	handler, pattern := rt.mux.Handler(r)
	if pattern != "" {
		handler.ServeHTTP(w, r)
		return
	}
	handler.ServeHTTP(&muxErrorWriter{ResponseWriter: w, h: rt.h}, r)
}

// muxErrorWriter turns the mux's plain-text 404 and 405 into JSON errors,
// keeping the headers it set (Allow, for a 405).
type muxErrorWriter struct {
	http.ResponseWriter
	h       *handlers
	swallow bool
}

func (m *muxErrorWriter) WriteHeader(status int) {
	var err error
	switch status {
	case http.StatusNotFound:
		err = errNotFound
	case http.StatusMethodNotAllowed:
		err = errMethodNotAllowed
	default:
		m.ResponseWriter.WriteHeader(status)
		return
	}
	hdr := m.ResponseWriter.Header()
	hdr.Del("X-Content-Type-Options")
	m.swallow = true
	m.h.writeError(m.ResponseWriter, opNone, err)
}

func (m *muxErrorWriter) Write(b []byte) (int, error) {
	if m.swallow {
		return len(b), nil
	}
	return m.ResponseWriter.Write(b)
}
