package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"github.com/revokd/revokd/client"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/internal/pgtest"
)

// Two daemons on one database: a revocation made through one reaches the
// other, and one made by SQL reaches both.
func TestE2EPostgresTwoDaemons(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	dir := shortDir(t)
	a := startDaemon(t, filepath.Join(dir, "a.sock"), filepath.Join(dir, "a"), "--database-url", url, "--migrate")
	b := startDaemon(t, filepath.Join(dir, "b.sock"), filepath.Join(dir, "b"), "--database-url", url)

	token := mint(t, jwt.MapClaims{"sub": "701", "jti": "pg-1"})
	wantReasons(t, b.socket, map[string]string{token: ""})
	ca := &client.Client{Socket: a.socket}
	defer ca.Close()
	if resp, err := ca.Revoke(context.Background(), apitype.RevokeRequest{Token: token}); err != nil || !resp.Stored {
		t.Fatalf("revoke through a = %+v, %v; want stored", resp, err)
	}
	cb := &client.Client{Socket: b.socket}
	defer cb.Close()
	waitFor(t, "b to see the revocation made through a", func() bool {
		resp, err := cb.Validate(context.Background(), token)
		return err == nil && resp.Reason == apitype.ReasonRevoked
	})
}

// --stale-after: with the database gone, answers fail closed once the
// daemon has not heard from it for that long, and recover by themselves
// when it is back.
func TestE2EPostgresStaleAfter(t *testing.T) {
	cluster := pgtest.Start(t) // its own: this test stops it
	url := cluster.NewDatabase(t)
	dir := shortDir(t)
	d := startDaemon(t, filepath.Join(dir, "s.sock"), filepath.Join(dir, "data"),
		"--database-url", url, "--migrate", "--stale-after", "1s", "--heartbeat", "400ms")
	token := mint(t, jwt.MapClaims{"sub": "801"})
	c := &client.Client{Socket: d.socket}
	defer c.Close()
	reason := func() string {
		resp, err := c.Validate(context.Background(), token)
		if err != nil {
			t.Fatalf("validate: %v", err)
		}
		return resp.Reason
	}
	if r := reason(); r != "" {
		t.Fatalf("with the database up: reason %q, want active", r)
	}

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "answers to fail closed", func() bool { return reason() == apitype.ReasonUnavailable })
	waitFor(t, "the log to say so", func() bool { return d.stderr.Contains("every validation answers unavailable") })

	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "answers to recover", func() bool { return reason() == "" })
	waitFor(t, "the log to say so", func() bool { return d.stderr.Contains("in contact with the revocation store again") })
}

// A database without the schema: serve refuses, naming the fix, and leaves
// no socket behind.
func TestE2EPostgresNeedsMigrate(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	dir := shortDir(t)
	socket := filepath.Join(dir, "s.sock")
	p := startProc(t, socket, nil, "serve", "--socket", socket, "--database-url", url, "--hmac-secret-file", writeSecret(t, dir))
	if code := p.wait(t); code != exitFail {
		t.Errorf("exit code = %d, want %d", code, exitFail)
	}
	if !p.stderr.Contains("revokd migrate") {
		t.Errorf("stderr does not name revokd migrate:\n%s", p.stderr)
	}
	if _, err := os.Lstat(socket); !os.IsNotExist(err) {
		t.Errorf("socket left behind (lstat: %v)", err)
	}
}

// A database one migration behind: serve refuses it, naming the fix, before
// it takes the socket, so it never logs "listening".
func TestServeRefusesOldSchemaBeforeListening(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	if code, _, stderr := runCLI(t, "migrate", "--database-url", url); code != exitOK {
		t.Fatalf("migrate: exit %d: %s", code, stderr)
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(),
		"DELETE FROM revokd.schema_version WHERE version = (SELECT max(version) FROM revokd.schema_version)"); err != nil {
		t.Fatal(err)
	}
	dir := shortDir(t)
	socket := filepath.Join(dir, "s.sock")
	code, _, stderr := runCLI(t, "serve", "--socket", socket, "--database-url", url, "--hmac-secret-file", writeSecret(t, dir))
	if code != exitFail {
		t.Errorf("exit code = %d, want %d", code, exitFail)
	}
	if !strings.Contains(stderr, "revokd migrate") {
		t.Errorf("output does not name revokd migrate:\n%s", stderr)
	}
	if strings.Contains(stderr, "listening") {
		t.Errorf("output says listening before refusing the schema:\n%s", stderr)
	}
	if _, err := os.Lstat(socket); !os.IsNotExist(err) {
		t.Errorf("socket made (lstat: %v)", err)
	}
}

// Back-channel logout over two daemons sharing PostgreSQL: the same logout
// token, delivered to both at once, many times, is accepted exactly once
// (the store decides which delivery records its jti), and the session it
// ends is ended on both.
func TestE2EPostgresBackchannelReplay(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	dir := shortDir(t)
	const iss = "https://id.example.com"
	flags := []string{"--database-url", url, "--issuer", iss, "--backchannel-client-id", "app"}
	a := startDaemon(t, filepath.Join(dir, "a.sock"), filepath.Join(dir, "a"), append(flags, "--migrate")...)
	b := startDaemon(t, filepath.Join(dir, "b.sock"), filepath.Join(dir, "b"), flags...)

	session := mint(t, jwt.MapClaims{"sub": "801", "sid": "bc-1", "iss": iss})
	other := mint(t, jwt.MapClaims{"sub": "801", "sid": "bc-2", "iss": iss})
	now := time.Now()
	lt := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": iss, "aud": "app", "iat": now.Unix(), "jti": "bc-jti-1", "sid": "bc-1",
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	})
	lt.Header["typ"] = "logout+jwt"
	logoutToken, err := lt.SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	form := "logout_token=" + logoutToken

	clients := []*http.Client{unixHTTPClient(t, a.socket), unixHTTPClient(t, b.socket)}
	const perDaemon = 4
	statuses := make(chan int, 2*perDaemon)
	var wg sync.WaitGroup
	for _, hc := range clients {
		for range perDaemon {
			wg.Go(func() {
				resp, err := hc.Post("http://revokd/v1/backchannel-logout", "application/x-www-form-urlencoded", strings.NewReader(form))
				if err != nil {
					statuses <- 0
					return
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			})
		}
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[http.StatusOK] != 1 || count[http.StatusBadRequest] != 2*perDaemon-1 {
		t.Errorf("statuses of %d deliveries of one logout token: %v, want one 200 and the rest 400", 2*perDaemon, count)
	}
	code, _, body := httpDo(t, clients[1], "POST", "/v1/backchannel-logout", form, "Content-Type", "application/x-www-form-urlencoded")
	if code != http.StatusBadRequest || !strings.Contains(body, `"error_description":"jti was already used"`) {
		t.Errorf("replay: got %d %s, want 400 jti was already used", code, body)
	}
	for _, d := range []*proc{a, b} {
		c := &client.Client{Socket: d.socket}
		defer c.Close()
		waitFor(t, "the logout to reach "+d.socket, func() bool {
			resp, err := c.Validate(context.Background(), session)
			return err == nil && resp.Reason == apitype.ReasonSessionRevoked
		})
		wantReasons(t, d.socket, map[string]string{other: ""})
	}
}
