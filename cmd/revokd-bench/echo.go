package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/revokd/revokd/client/apitype"
)

// cannedAnswer is an active validate answer padded to n bytes, so the echo
// servers move as many bytes as the daemon does.
func cannedAnswer(n int) []byte {
	const head, tail = `{"active":true,"pad":"`, `"}`
	pad := max(0, n-len(head)-len(tail))
	b := make([]byte, 0, len(head)+pad+len(tail))
	b = append(b, head...)
	b = append(b, bytes.Repeat([]byte("x"), pad)...)
	return append(b, tail...)
}

// echoHandlers answers every NDJSON line with the canned answer: the
// transport ceiling, with no parsing at all.
func echoHandlers(answer []byte) newHandler {
	h := func(dst, _ []byte) []byte { return append(dst, answer...) }
	return func() (lineHandler, func(), error) { return h, func() {}, nil }
}

// echoHTTPServer is a bare net/http server answering POST /v1/validate with
// the canned answer and the headers the daemon sends.
func echoHTTPServer(answer []byte) *http.Server {
	mux := http.NewServeMux()
	length := strconv.Itoa(len(answer))
	mux.HandleFunc("POST /v1/validate", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", length)
		h.Set(apitype.VersionHeader, "echo")
		w.Write(answer)
	})
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
}

// serveEcho runs the echo server of framing f on ln until ctx is done.
func serveEcho(ctx context.Context, ln net.Listener, f framing, answer []byte, log *slog.Logger) error {
	if f == framingNDJSON {
		return serveNDJSON(ctx, ln, echoHandlers(answer), log)
	}
	srv := echoHTTPServer(answer)
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// runEcho is `revokd-bench echo`: a transport-ceiling baseline in its own
// process, as the daemon is.
func runEcho(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	socket := fs.String("socket", "", "Unix socket to listen on")
	framingName := fs.String("framing", "ndjson", "ndjson or http")
	size := fs.Int("answer-bytes", 300, "size of the canned answer, newline excluded")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := parseFraming(*framingName)
	if err != nil {
		return err
	}
	if *socket == "" {
		return errors.New("echo: --socket is required")
	}
	ln, err := listenUnix(*socket)
	if err != nil {
		return err
	}
	log.Info("echo listening", "socket", *socket, "framing", f.String(), "answer_bytes", *size)
	return serveEcho(ctx, ln, f, cannedAnswer(*size), log)
}
