package client_test

import (
	"bytes"
	"context"
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
