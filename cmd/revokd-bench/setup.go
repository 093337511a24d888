package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/revokd/revokd/client/apitype"
)

// ndjsonBatch sends lines over one NDJSON connection, pipelined, and
// returns the answers in order. The writer runs beside the reader so a
// large batch cannot fill both socket buffers and stall.
func ndjsonBatch(ctx context.Context, socket string, lines [][]byte) ([][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := unixDialer(socket)(ctx)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", socket, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	werr := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(c)
		for _, l := range lines {
			if _, err := w.Write(l); err != nil {
				werr <- err
				return
			}
		}
		werr <- w.Flush()
	}()
	r := bufio.NewReaderSize(c, 64<<10)
	out := make([][]byte, 0, len(lines))
	var scratch []byte
	for range lines {
		line, err := readLine(r, &scratch)
		if err != nil {
			return nil, fmt.Errorf("read answer %d of %d: %w", len(out)+1, len(lines), err)
		}
		out = append(out, append([]byte(nil), line...))
	}
	if err := <-werr; err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	return out, nil
}

// ndjsonOp encodes one NDJSON request.
func ndjsonOp(req any) []byte {
	b, _ := json.Marshal(req) // a struct of strings and numbers cannot fail
	return append(b, '\n')
}

// daemonReady asks the daemon's status over NDJSON and reports an error
// until it says it is ready (its first snapshot is loaded).
func daemonReady(ctx context.Context, socket string) error {
	answers, err := ndjsonBatch(ctx, socket, [][]byte{ndjsonOp(apitype.NDJSONOp{Op: apitype.OpStatus})})
	if err != nil {
		return err
	}
	var st apitype.StatusResponse
	if err := json.Unmarshal(answers[0], &st); err != nil {
		return fmt.Errorf("status answer %q: %w", answers[0], err)
	}
	if !st.Ready {
		return fmt.Errorf("daemon not ready yet")
	}
	return nil
}

// revokeAll revokes tokens on the server and checks each was stored.
func revokeAll(ctx context.Context, socket string, tokens []string) error {
	lines := make([][]byte, len(tokens))
	for i, t := range tokens {
		lines[i] = ndjsonOp(struct {
			apitype.NDJSONOp
			apitype.RevokeRequest
		}{apitype.NDJSONOp{Op: apitype.OpRevoke}, apitype.RevokeRequest{Token: t}})
	}
	answers, err := ndjsonBatch(ctx, socket, lines)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	for i, a := range answers {
		var resp apitype.RevokeResponse
		if err := json.Unmarshal(a, &resp); err != nil {
			return fmt.Errorf("revoke token %d: answer %q: %w", i, a, err)
		}
		// Stored is false when an earlier preparation already revoked it;
		// validateAll below checks the outcome either way.
	}
	return nil
}

// validateAll validates tokens once (so the server has seen them) and
// checks each answer is the one wanted.
func validateAll(ctx context.Context, socket string, tokens []string, wantActive bool) error {
	lines := make([][]byte, len(tokens))
	for i, t := range tokens {
		lines[i] = framingNDJSON.appendValidate(nil, t)
	}
	answers, err := ndjsonBatch(ctx, socket, lines)
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	want := answerActive
	if !wantActive {
		want = answerInactive
	}
	for i, a := range answers {
		if got := classify(200, a); got != want {
			return fmt.Errorf("token %d: answer %q, want active=%t", i, a, wantActive)
		}
	}
	return nil
}
