package client_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/revokd/revokd/client"
	"github.com/revokd/revokd/client/apitype"
)

func TestMiddleware(t *testing.T) {
	s := startNDJSON(t, func(req ndRequest) (string, bool) {
		if req.Token == "stale" {
			return `{"active":false,"reason":"unavailable"}`, false
		}
		return answerByToken(req)
	})
	c := newClient(t, s.path)
	down := newClient(t, filepath.Join(t.TempDir(), "absent.sock"))
	protected := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, ok := client.FromContext(r.Context())
		if !ok {
			t.Error("FromContext found no answer in a request the middleware let through")
		}
		io.WriteString(w, "hello "+resp.Sub)
	})

	tests := []struct {
		name       string
		client     *client.Client
		auth       string
		wantStatus int
		wantBody   string // the whole body for 200, the "error" field otherwise
		wantWWW    bool
	}{
		{name: "bearer", client: c, auth: "Bearer good", wantStatus: 200, wantBody: "hello 42"},
		{name: "JWT scheme, any case", client: c, auth: "jwt good", wantStatus: 200, wantBody: "hello 42"},
		{name: "missing", client: c, auth: "", wantStatus: 401, wantBody: client.ReasonMissingToken, wantWWW: true},
		{name: "other scheme", client: c, auth: "Basic Zm9vOmJhcg==", wantStatus: 401, wantBody: client.ReasonMissingToken, wantWWW: true},
		{name: "empty bearer", client: c, auth: "Bearer ", wantStatus: 401, wantBody: client.ReasonMissingToken, wantWWW: true},
		{name: "inactive", client: c, auth: "Bearer banned", wantStatus: 401, wantBody: apitype.ReasonSubjectRevoked, wantWWW: true},
		{name: "stale daemon fails closed", client: c, auth: "Bearer stale", wantStatus: 503, wantBody: apitype.ReasonUnavailable},
		{name: "daemon down fails closed", client: down, auth: "Bearer good", wantStatus: 503, wantBody: apitype.ReasonUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/private", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			tc.client.Middleware(protected).ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tc.wantStatus, rec.Body)
			}
			got := rec.Body.String()
			if tc.wantStatus != 200 {
				var body struct{ Error string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("body %q is not JSON: %v", got, err)
				}
				got = body.Error
			}
			if got != tc.wantBody {
				t.Errorf("body = %q, want %q", got, tc.wantBody)
			}
			if www := rec.Header().Get("WWW-Authenticate"); (www != "") != tc.wantWWW {
				t.Errorf("WWW-Authenticate = %q, want present=%v", www, tc.wantWWW)
			}
		})
	}
}

func TestFromContextEmpty(t *testing.T) {
	if _, ok := client.FromContext(httptest.NewRequest("GET", "/", nil).Context()); ok {
		t.Error("FromContext on a bare request = ok, want not ok")
	}
}
