package main

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestGroup(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		failing func(ctx context.Context) error // runs beside a task that waits for the end
		cancel  bool                            // cancel the parent instead
		wantErr string                          // "" for nil
	}{
		{name: "a task fails", failing: func(context.Context) error { return boom }, wantErr: "second: boom"},
		{name: "a task stops early", failing: func(context.Context) error { return nil }, wantErr: "second stopped unexpectedly"},
		{name: "parent cancelled", failing: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, cancel: true},
		{name: "failure after cancel still counts", failing: func(ctx context.Context) error { <-ctx.Done(); return boom }, cancel: true, wantErr: "second: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent, cancel := context.WithCancel(context.Background())
			defer cancel()
			g := newGroup(parent)
			stopped := make(chan struct{})
			g.Go("first", func(ctx context.Context) error {
				<-ctx.Done()
				close(stopped)
				return nil
			})
			g.Go("second", tc.failing)
			if tc.cancel {
				cancel()
			}
			err := g.Wait()
			select {
			case <-stopped:
			default:
				t.Error("Wait returned before every task stopped")
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("Wait() = %q, want %q", got, tc.wantErr)
			}
			if tc.wantErr != "" && !strings.Contains(got, "second") {
				t.Errorf("error %q does not name the failing task", got)
			}
		})
	}
}
