package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/revokd/revokd/client"
	"github.com/revokd/revokd/client/apitype"
)

// fakeDaemonHTTP answers the HTTP routes the client uses, and echoes what it
// was sent so tests can check the bodies.
func fakeDaemonHTTP(t *testing.T, ready *bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/revoke", func(w http.ResponseWriter, r *http.Request) {
		var req apitype.RevokeRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("decode revoke body: %v", err)
		}
		json.NewEncoder(w).Encode(apitype.RevokeResponse{Stored: req.JTI == "j1" && req.Exp == 1800000000})
	})
	mux.HandleFunc("POST /v1/revoke-all", func(w http.ResponseWriter, r *http.Request) {
		var req apitype.RevokeAllRequest
		json.NewDecoder(r.Body).Decode(&req)
		if req.Sub == "root" {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":"forbidden","message":"uid 1000 may not write"}}`))
			return
		}
		json.NewEncoder(w).Encode(apitype.RevokeAllResponse{Claim: "sub", Value: req.Sub, Before: *req.Before})
	})
	mux.HandleFunc("POST /v1/unban", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":{"code":"unavailable","message":"database down"}}`))
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream broke", http.StatusBadGateway)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !*ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	return mux
}

func TestHTTPCalls(t *testing.T) {
	ready := false
	c := newClient(t, startHTTP(t, fakeDaemonHTTP(t, &ready)))
	ctx := context.Background()
	before := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

	t.Run("revoke", func(t *testing.T) {
		resp, err := c.Revoke(ctx, apitype.RevokeRequest{JTI: "j1", Exp: 1800000000})
		if err != nil || !resp.Stored {
			t.Errorf("Revoke = %+v, %v; want stored", resp, err)
		}
	})
	t.Run("revoke-all", func(t *testing.T) {
		resp, err := c.RevokeAll(ctx, apitype.RevokeAllRequest{Sub: "42", Before: &before})
		if err != nil || resp.Value != "42" || !resp.Before.Equal(before) {
			t.Errorf("RevokeAll = %+v, %v; want 42 before %v", resp, err, before)
		}
	})
	t.Run("ready", func(t *testing.T) {
		for _, want := range []bool{false, true} {
			ready = want
			got, err := c.Ready(ctx)
			if err != nil || got != want {
				t.Errorf("Ready = %v, %v; want %v", got, err, want)
			}
		}
	})
}

func TestHTTPErrors(t *testing.T) {
	ready := true
	c := newClient(t, startHTTP(t, fakeDaemonHTTP(t, &ready)))
	ctx := context.Background()
	tests := []struct {
		name        string
		call        func() error
		wantStatus  int
		wantCode    string
		forbidden   bool
		unavailable bool
	}{
		{
			name: "403 from JSON body",
			call: func() error {
				_, err := c.RevokeAll(ctx, apitype.RevokeAllRequest{Sub: "root"})
				return err
			},
			wantStatus: 403, wantCode: apitype.CodeForbidden, forbidden: true,
		},
		{
			name: "503 from JSON body",
			call: func() error {
				_, err := c.Unban(ctx, apitype.UnbanRequest{Sub: "42"})
				return err
			},
			wantStatus: 503, wantCode: apitype.CodeUnavailable, unavailable: true,
		},
		{
			name: "plain-text 502",
			call: func() error {
				_, err := c.Status(ctx)
				return err
			},
			wantStatus: 502, wantCode: apitype.CodeUnavailable, unavailable: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ce *client.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want *client.Error", err, err)
			}
			if ce.Status != tc.wantStatus || ce.Code != tc.wantCode {
				t.Errorf("got %d %q, want %d %q", ce.Status, ce.Code, tc.wantStatus, tc.wantCode)
			}
			if got := client.IsForbidden(err); got != tc.forbidden {
				t.Errorf("IsForbidden = %v, want %v", got, tc.forbidden)
			}
			if got := client.IsUnavailable(err); got != tc.unavailable {
				t.Errorf("IsUnavailable = %v, want %v", got, tc.unavailable)
			}
		})
	}
}

func TestHTTPNoDaemon(t *testing.T) {
	c := newClient(t, filepath.Join(t.TempDir(), "absent.sock"))
	ready, err := c.Ready(context.Background())
	if ready || !client.IsUnavailable(err) {
		t.Errorf("Ready = %v, %v; want false and an unavailable error", ready, err)
	}
}
