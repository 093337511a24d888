package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/revokd/revokd/client"
	"github.com/revokd/revokd/client/apitype"
)

func ExampleClient_Validate() {
	// The zero Client finds the daemon through REVOKD_SOCKET, else at the
	// default path. Keep one Client for the whole program: it pools its
	// connections.
	var c client.Client
	defer c.Close()

	resp, err := c.Validate(context.Background(), exampleToken("42"))
	if err != nil {
		log.Fatal(err) // the daemon is down, or the request was bad
	}
	fmt.Println(resp.Active, resp.Sub)

	// A token that fails is not an error: the answer says why, with one of
	// apitype.Reasons (apitype.ReasonMalformed here).
	resp, err = c.Validate(context.Background(), "not-a-jwt")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Active, resp.Reason)
	// Output:
	// true 42
	// false malformed
}

func ExampleClient_Revoke() {
	var c client.Client
	defer c.Close()
	ctx := context.Background()
	token := exampleToken("43")

	// Logout on one device: deny this one token until it expires.
	resp, err := c.Revoke(ctx, apitype.RevokeRequest{Token: token})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored:", resp.Stored)

	v, err := c.Validate(ctx, token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Active, v.Reason)
	// Output:
	// stored: true
	// false revoked
}

func ExampleClient_RevokeAll() {
	var c client.Client
	defer c.Close()
	ctx := context.Background()
	phone, laptop := exampleToken("44"), exampleToken("44")

	// Logout everywhere (a password change): every token of subject 44
	// issued before now is rejected.
	cutoff, err := c.RevokeAll(ctx, apitype.RevokeAllRequest{Sub: "44"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("cutoff on", cutoff.Claim, cutoff.Value)

	for _, token := range []string{phone, laptop} {
		v, err := c.Validate(ctx, token)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(v.Active, v.Reason)
	}
	// Output:
	// cutoff on sub 44
	// false subject_revoked
	// false subject_revoked
}

func ExampleClient_Middleware() {
	var c client.Client
	defer c.Close()

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := client.FromContext(r.Context())
		fmt.Fprintf(w, "hello, user %s", token.Sub)
	})
	h := c.Middleware(hello) // in a server: http.ListenAndServe(addr, c.Middleware(mux))

	for _, auth := range []string{"Bearer " + exampleToken("45"), "Bearer not-a-jwt", ""} {
		req := httptest.NewRequest("GET", "/profile", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		fmt.Printf("%d %s\n", rec.Code, bytes.TrimSpace(body))
	}
	// Output:
	// 200 hello, user 45
	// 401 {"error":"malformed"}
	// 401 {"error":"missing_token"}
}

func ExampleIsUnavailable() {
	c := client.Client{Socket: filepath.Join(os.TempDir(), "no-revokd-here.sock")}
	defer c.Close()

	_, err := c.Validate(context.Background(), exampleToken("46"))
	// Fail closed: without an answer, treat the token as not active.
	fmt.Println(client.IsUnavailable(err))
	// Output: true
}

func ExampleClient_Issue() {
	var c client.Client
	defer c.Close()
	ctx := context.Background()

	// At login, the application asks revokd for the session's first
	// token. Only the daemon's own user and root may, unless it was
	// started with --write-uids or --write-gids.
	tok, err := c.Issue(ctx, apitype.IssueRequest{
		Sub:    "47",
		Claims: map[string]json.RawMessage{"role": json.RawMessage(`"editor"`)},
	})
	if err != nil {
		log.Fatal(err)
	}
	v, err := c.Validate(ctx, tok.Token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Active, v.Sub, v.SID == tok.SID, v.JTI == tok.JTI)
	// Output: true 47 true true
}

func ExampleClient_Refresh() {
	var c client.Client
	defer c.Close()
	ctx := context.Background()
	first, err := c.Issue(ctx, apitype.IssueRequest{Sub: "48"})
	if err != nil {
		log.Fatal(err)
	}

	// The next token keeps the session: its sid, and its start (orig_iat).
	next, err := c.Refresh(ctx, first.Token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(next.Reason == "", next.SID == first.SID, next.JTI != first.JTI)

	// The refreshed token was rotated out. Presented again, it is taken
	// for a stolen copy: the refresh is refused and the session ends.
	again, err := c.Refresh(ctx, first.Token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.Reason)
	v, err := c.Validate(ctx, next.Token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Active, v.Reason)
	// Output:
	// true true true
	// session_revoked
	// false session_revoked
}

func ExampleClient_RevokeSession() {
	var c client.Client
	defer c.Close()
	ctx := context.Background()
	phone, err := c.Issue(ctx, apitype.IssueRequest{Sub: "49"})
	if err != nil {
		log.Fatal(err)
	}
	laptop, err := c.Issue(ctx, apitype.IssueRequest{Sub: "49"})
	if err != nil {
		log.Fatal(err)
	}
	refreshed, err := c.Refresh(ctx, phone.Token)
	if err != nil {
		log.Fatal(err)
	}

	// Logout on the phone: its session ends, refreshed tokens included;
	// the laptop's session goes on.
	resp, err := c.RevokeSession(ctx, refreshed.Token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored:", resp.Stored)
	for _, token := range []string{refreshed.Token, laptop.Token} {
		v, err := c.Validate(ctx, token)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(v.Active, v.Reason)
	}
	// Output:
	// stored: true
	// false session_revoked
	// true
}
