package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// The Python example mints its own token (no JWT library, so nothing shared
// with golang-jwt) and talks NDJSON to the real daemon.
func TestE2EPythonExample(t *testing.T) {
	python := needPython(t)
	dir := shortDir(t)
	d := startDaemon(t, filepath.Join(dir, "s.sock"), filepath.Join(dir, "data"))
	out, err := exec.Command(python, "../../examples/python/revokd_client.py",
		"--socket", d.socket, "--secret-file", filepath.Join(dir, "hs256.secret"), "--sub", "12345678901234567890").Output()
	if err != nil {
		t.Fatalf("revokd_client.py: %v\n%s", err, out)
	}
	var got struct {
		Before struct {
			Active bool
			Sub    string
		}
		Stored bool
		After  struct{ Reason string }
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if !got.Before.Active || got.Before.Sub != "12345678901234567890" || !got.Stored || got.After.Reason != "revoked" {
		t.Errorf("got %+v, want active with the 20-digit subject, stored, then revoked", got)
	}
}

// stallOnce is an NDJSON peer whose first connection reads requests and
// never answers; every later connection answers each line with answer.
type stallOnce struct {
	ln     net.Listener
	answer string
	conns  atomic.Int64
	wg     sync.WaitGroup
}

func startStallOnce(t *testing.T, path, answer string) *stallOnce {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &stallOnce{ln: ln, answer: answer}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := s.conns.Add(1)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					if _, err := r.ReadString('\n'); err != nil {
						return // the client hung up
					}
					if n > 1 {
						io.WriteString(c, answer+"\n")
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

// After a timeout the Python client must drop the connection: the answer may
// still come and be read as the next one's, and Python's socket file refuses
// every read after a timeout ("cannot read from timed out object").
func TestE2EPythonClientRecoversFromATimeout(t *testing.T) {
	python := needPython(t)
	const answer = `{"active":true,"sub":"42"}`
	socket := filepath.Join(shortDir(t), "s.sock")
	srv := startStallOnce(t, socket, answer)
	// The first call times out whatever the timeout, since that connection
	// never answers; its length only sets how long the test takes. The
	// calls after it get a timeout no busy machine misses: the connection
	// they open is a fresh one, which takes the client's timeout then.
	script := `
import json, socket, sys
sys.path.insert(0, sys.argv[1])
from revokd_client import Revokd
c = Revokd(sys.argv[2], timeout=0.2)
try:
    c.validate("t")
    first = "answered"
except socket.timeout:
    first = "timeout"
c.timeout = 60.0
second = c.validate("t")
third = c.validate("t")
c.close()
print(json.dumps({"first": first, "second": second, "third": third}))
`
	out, err := exec.Command(python, "-c", script, "../../examples/python", socket).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	var got struct {
		First         string
		Second, Third json.RawMessage
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if got.First != "timeout" || string(got.Second) != `{"active": true, "sub": "42"}` || string(got.Third) != string(got.Second) {
		t.Errorf("got %s, want a timeout, then two answers", out)
	}
	// One fresh connection after the stalled one, kept for the third call.
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("the client opened %d connections, want 2", n)
	}
}

// needPython returns python3's path. CI must have it; elsewhere the test
// is skipped with the install command.
func needPython(t *testing.T) string {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("REVOKD_CI") != "" {
			t.Fatal("python3 is required in CI (apt-get install -y python3)")
		}
		t.Skip("python3 not installed (apt-get install -y python3)")
	}
	return python
}
