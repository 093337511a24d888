package main

import (
	"bufio"
	"strings"
	"testing"
)

func TestReadHTTPResponse(t *testing.T) {
	tests := []struct {
		name       string
		raw        string
		wantStatus int
		wantBody   string
		wantErr    bool
	}{
		{"content length", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 15\r\n\r\n{\"active\":true}", 200, `{"active":true}`, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"act\r\na;ext=1\r\nive\":true}\r\n0\r\nTrailer: x\r\n\r\n", 200, `{"active":true}`, false},
		{"error status", "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 2\r\n\r\n{}", 413, "{}", false},
		{"empty body", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", 204, "", false},
		{"not HTTP", "{\"active\":true}\n", 0, "", true},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", 0, "", true},
		{"close-delimited", "HTTP/1.1 200 OK\r\n\r\nbody", 0, "", true},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, "", true},
		{"header without colon", "HTTP/1.1 200 OK\r\nnonsense\r\n\r\n", 0, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var scratch []byte
			status, body, err := readHTTPResponse(bufio.NewReader(strings.NewReader(tc.raw)), &scratch)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %t", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if status != tc.wantStatus || string(body) != tc.wantBody {
				t.Errorf("got %d %q, want %d %q", status, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}

func TestReadHTTPResponsesBackToBack(t *testing.T) {
	one := "HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n{\"active\":false}"
	r := bufio.NewReader(strings.NewReader(one + one))
	var scratch []byte
	for i := range 2 {
		if _, body, err := readHTTPResponse(r, &scratch); err != nil || classify(200, body) != answerInactive {
			t.Fatalf("response %d: body %q, err %v", i, body, err)
		}
	}
}

func TestReadLineLongerThanBuffer(t *testing.T) {
	long := strings.Repeat("x", 100)
	r := bufio.NewReaderSize(strings.NewReader(long+"\nshort\n"), 16)
	var scratch []byte
	for _, want := range []string{long, "short"} {
		got, err := readLine(r, &scratch)
		if err != nil || string(got) != want {
			t.Errorf("got %q, %v; want %q", got, err, want)
		}
	}
}

func TestAppendValidate(t *testing.T) {
	tests := []struct {
		f    framing
		want string
	}{
		{framingNDJSON, "{\"op\":\"validate\",\"token\":\"a.b.c\"}\n"},
		{framingHTTP, "POST /v1/validate HTTP/1.1\r\nHost: revokd\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"token\":\"a.b.c\"}"},
	}
	for _, tc := range tests {
		t.Run(tc.f.String(), func(t *testing.T) {
			if got := string(tc.f.appendValidate(nil, "a.b.c")); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   answer
	}{
		{"active", 200, `{"active":true,"sub":"u"}`, answerActive},
		{"inactive", 200, `{"active":false,"reason":"revoked"}`, answerInactive},
		{"request error", 200, `{"error":{"code":"bad_request","message":"x"}}`, answerError},
		{"http error", 400, `{"active":true}`, answerError},
		{"empty", 200, ``, answerError},
		{"active not at the start is not trusted", 200, `{"claims":{"x":"` + strings.Repeat("y", 60) + `"},"active":true}`, answerError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.status, []byte(tc.body)); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
