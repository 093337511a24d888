package daemon

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/revokd/revokd/client/apitype"
)

func TestNDJSONAnswers(t *testing.T) {
	ts := startServer(t, Config{})
	nc := dialNDJSON(t, ts.path)
	tests := []struct {
		name, req string
		want      string // exact answer for validate; error code for errors
		isErr     bool
	}{
		{name: "active", req: `{"op":"validate","token":"good"}`,
			want: goodAnswer},
		{name: "members reordered, spaced", req: ` { "token" : "revoked" , "op":"validate" } `,
			want: `{"active":false,"reason":"revoked"}`},
		{name: "escaped token goes the slow way", req: `{"op":"validate","token":"go\u006fd"}`,
			want: goodAnswer},
		{name: "ban carries until", req: `{"op":"validate","token":"banned"}`,
			want: `{"active":false,"reason":"subject_revoked","until":"2027-01-16T12:00:00Z"}`},
		{name: "unknown token", req: `{"op":"validate","token":"x.y.z"}`,
			want: `{"active":false,"reason":"malformed"}`},
		{name: "bad JSON", req: `{"op":"validate","token":`, want: apitype.CodeBadRequest, isErr: true},
		{name: "unknown op", req: `{"op":"frobnicate"}`, want: apitype.CodeBadRequest, isErr: true},
		{name: "missing op", req: `{"token":"good"}`, want: apitype.CodeBadRequest, isErr: true},
		{name: "missing token", req: `{"op":"validate"}`, want: apitype.CodeBadRequest, isErr: true},
		{name: "revoke without exp", req: `{"op":"revoke","jti":"j9"}`, want: apitype.CodeBadRequest, isErr: true},
		{name: "revoke-all without subject", req: `{"op":"revoke-all"}`, want: apitype.CodeBadRequest, isErr: true},
		{name: "revoke", req: `{"op":"revoke","token":"good"}`, want: `{"stored":true}`},
		{name: "revoke-all", req: `{"op":"revoke-all","sub":"42","before":"2027-02-01T00:00:00Z"}`,
			want: `{"claim":"sub","value":"42","before":"2027-02-01T00:00:00Z"}`},
		{name: "unban", req: `{"op":"unban","sub":"42"}`,
			want: `{"claim":"sub","value":"42","before":"2027-01-15T12:00:00Z"}`},
		{name: "still usable after errors", req: `{"op":"validate","token":"good"}`,
			want: goodAnswer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := nc.roundTrip(tc.req)
			if !strings.HasSuffix(got, "\n") {
				t.Fatalf("answer %q has no newline", got)
			}
			got = strings.TrimSuffix(got, "\n")
			if tc.isErr {
				if code := errorCode([]byte(got)); code != tc.want {
					t.Errorf("error code: got %s, want %s", code, tc.want)
				}
				return
			}
			if got != tc.want {
				t.Errorf("got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestNDJSONStatus(t *testing.T) {
	ts := startServer(t, Config{Version: "v9"})
	nc := dialNDJSON(t, ts.path)
	var st apitype.StatusResponse
	if err := json.Unmarshal([]byte(nc.roundTrip(`{"op":"status"}`)), &st); err != nil {
		t.Fatal(err)
	}
	if st.Version != "v9" || st.Cutoffs != 2 || st.Denials != 3 || !st.Ready {
		t.Errorf("status: got %+v, want version v9, 2 cutoffs, 3 denials, ready", st)
	}
}

func TestNDJSONPipelining(t *testing.T) {
	ts := startServer(t, Config{})
	nc := dialNDJSON(t, ts.path)
	tokens := []string{"good", "revoked", "nope", "banned"}
	want := map[string]string{
		"good":    goodAnswer,
		"revoked": `{"active":false,"reason":"revoked"}`,
		"nope":    `{"active":false,"reason":"malformed"}`,
		"banned":  `{"active":false,"reason":"subject_revoked","until":"2027-01-16T12:00:00Z"}`,
	}
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, `{"op":"validate","token":%q}`+"\n", tokens[i%len(tokens)])
	}
	nc.send(b.String()) // all 100 in one write
	for i := range 100 {
		tok := tokens[i%len(tokens)]
		if got := strings.TrimSuffix(nc.line(), "\n"); got != want[tok] {
			t.Fatalf("answer %d (token %s): got %s, want %s", i, tok, got, want[tok])
		}
	}
}

func TestNDJSONTooLargeLine(t *testing.T) {
	tests := []struct {
		name    string
		maxBody int64
		size    int
	}{
		{name: "default 1 MiB limit", size: DefaultMaxBodyBytes + 1},
		{name: "within the read buffer", maxBody: 100, size: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{MaxBodyBytes: tc.maxBody})
			nc := dialNDJSON(t, ts.path)
			big := `{"op":"validate","token":"` + strings.Repeat("a", tc.size) + `"}`
			// The writer runs apart: the server answers while it still reads.
			done := make(chan error, 1)
			go func() {
				_, err := nc.c.Write([]byte(big + "\n" + `{"op":"validate","token":"good"}` + "\n"))
				done <- err
			}()
			if code := errorCode([]byte(nc.line())); code != apitype.CodeTooLarge {
				t.Errorf("oversized line: got %s, want %s", code, apitype.CodeTooLarge)
			}
			if got, want := nc.line(), goodAnswer+"\n"; got != want {
				t.Errorf("line after the oversized one: got %q, want %q", got, want)
			}
			if err := <-done; err != nil {
				t.Fatalf("write: %v", err)
			}
		})
	}
}

func TestNDJSONLongLineWithinLimit(t *testing.T) {
	// A line longer than the read buffer but under the limit is assembled.
	ts := startServer(t, Config{})
	nc := dialNDJSON(t, ts.path)
	tok := strings.Repeat("b", 3*ndjsonReadBuffer)
	done := make(chan error, 1)
	go func() {
		_, err := nc.c.Write([]byte(`{"op":"validate","token":"` + tok + `"}` + "\n"))
		done <- err
	}()
	if got, want := nc.line(), `{"active":false,"reason":"malformed"}`+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestNDJSONLastLineWithoutNewline(t *testing.T) {
	ts := startServer(t, Config{})
	nc := dialNDJSON(t, ts.path)
	nc.send(`{"op":"validate","token":"revoked"}`)
	nc.c.(interface{ CloseWrite() error }).CloseWrite()
	if got, want := nc.line(), `{"active":false,"reason":"revoked"}`+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	waitClosed(t, nc.c)
}

func TestNDJSONBlankLines(t *testing.T) {
	// Each line is pipelined ahead of a validate: a skipped line must leave
	// the validate's answer first, and any other line must get exactly one
	// answer of its own before it.
	tests := []struct {
		name, line string
		skipped    bool
	}{
		{name: "empty", line: "", skipped: true},
		{name: "JSON whitespace", line: " \t\r \t", skipped: true},
		{name: "spaces over the line limit", line: strings.Repeat(" ", 600), skipped: true},
		{name: "vertical tab", line: "\v"},
		{name: "form feed", line: "\f"},
		{name: "NEL", line: "\u0085"},
		{name: "no-break space", line: " \u00a0 "},
		{name: "NUL", line: "\x00"},
		{name: "vertical tabs over the line limit", line: strings.Repeat("\v", 600)},
		{name: "request then vertical tab", line: `{"op":"status"}` + "\v"},
	}
	ts := startServer(t, Config{MaxBodyBytes: 512})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A connection each, so that one case out of step spoils no other.
			nc := dialNDJSON(t, ts.path)
			nc.roundTrip(`{"op":"status"}`) // the first byte makes it NDJSON
			nc.send(tc.line + "\n" + `{"op":"validate","token":"good"}` + "\n")
			if !tc.skipped {
				got := nc.line()
				if code := errorCode([]byte(got)); code != apitype.CodeBadRequest && code != apitype.CodeTooLarge {
					t.Fatalf("line %q: got %s, want an error answer (bad_request or too_large)", tc.line, got)
				}
			}
			if got := nc.line(); got != goodAnswer+"\n" {
				t.Fatalf("after line %q: got %q, want the validate answer", tc.line, got)
			}
		})
	}
}
