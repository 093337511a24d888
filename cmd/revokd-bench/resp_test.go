package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
)

func TestAppendExists(t *testing.T) {
	tests := []struct {
		name, key, want string
	}{
		{"simple", "revokd:deny:abc", "*2\r\n$6\r\nEXISTS\r\n$15\r\nrevokd:deny:abc\r\n"},
		{"empty key", "", "*2\r\n$6\r\nEXISTS\r\n$0\r\n\r\n"},
		{"binary-safe", "a\r\nb", "*2\r\n$6\r\nEXISTS\r\n$4\r\na\r\nb\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(appendExists(nil, tc.key)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadExists(t *testing.T) {
	tests := []struct {
		name    string
		reply   string
		want    int64
		wantErr string
	}{
		{"absent", ":0\r\n", 0, ""},
		{"present", ":1\r\n", 1, ""},
		{"several", ":3\r\n", 3, ""},
		{"error reply", "-ERR unknown command\r\n", 0, "redis: ERR unknown command"},
		{"status instead of integer", "+OK\r\n", 0, "EXISTS answered"},
		{"bulk reply", "$1\r\nx\r\n", 0, "unexpected reply type"},
		{"no CR", ":1\n", 0, "malformed"},
		{"negative", ":-1\r\n", 0, "EXISTS count"},
		{"truncated", ":1", 0, "EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readExists(bufio.NewReader(strings.NewReader(tc.reply)))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
	var re respError
	_, err := readExists(bufio.NewReader(strings.NewReader("-WRONGTYPE x\r\n")))
	if !errors.As(err, &re) {
		t.Errorf("error reply: got %T %v, want a respError", err, err)
	}
}

// fakeRedis answers EXISTS from a set of keys and SET into it, reading real
// RESP arrays, over a real connection.
func fakeRedis(t *testing.T, c net.Conn, keys map[string]bool) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		var n int
		if _, err := fmt.Sscanf(line, "*%d\r\n", &n); err != nil {
			t.Errorf("fake redis: bad array header %q", line)
			return
		}
		args := make([]string, n)
		for i := range args {
			var size int
			hdr, _ := r.ReadString('\n')
			fmt.Sscanf(hdr, "$%d\r\n", &size)
			buf := make([]byte, size+2)
			if _, err := io.ReadFull(r, buf); err != nil {
				return
			}
			args[i] = string(buf[:size])
		}
		switch strings.ToUpper(args[0]) {
		case "EXISTS":
			if keys[args[1]] {
				c.Write([]byte(":1\r\n"))
			} else {
				c.Write([]byte(":0\r\n"))
			}
		case "SET":
			keys[args[1]] = true
			c.Write([]byte("+OK\r\n"))
		default:
			c.Write([]byte("-ERR unknown command '" + args[0] + "'\r\n"))
		}
	}
}

func TestRedisConnRoundTrips(t *testing.T) {
	ln, err := net.Listen("unix", t.TempDir()+"/r.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		fakeRedis(t, c, map[string]bool{"present": true})
	}()
	rc, err := dialRedis(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  string
		want bool
	}{{"present", true}, {"absent", false}} {
		got, err := rc.Exists(tc.key)
		if err != nil || got != tc.want {
			t.Errorf("Exists(%q) = %t, %v; want %t", tc.key, got, err, tc.want)
		}
	}
	if err := rc.SetPX("later", "1", 0); err != nil {
		t.Fatalf("SetPX: %v", err)
	}
	if got, err := rc.Exists("later"); err != nil || !got {
		t.Errorf("Exists after SET = %t, %v; want true", got, err)
	}
	rc.Close()
	<-done
}
