package client_test

import (
	"context"
	"testing"

	"github.com/revokd/revokd/client"
)

// BenchmarkValidate measures one Validate round trip through the pool to the
// real daemon TestMain starts (NDJSON, verified-token cache warm), serially
// and from parallel goroutines.
func BenchmarkValidate(b *testing.B) {
	token := exampleToken("bench")
	b.Run("serial", func(b *testing.B) {
		var c client.Client
		defer c.Close()
		for b.Loop() {
			if resp, err := c.Validate(context.Background(), token); err != nil || !resp.Active {
				b.Fatalf("Validate = %+v, %v", resp, err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var c client.Client
		defer c.Close()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if resp, err := c.Validate(context.Background(), token); err != nil || !resp.Active {
					b.Errorf("Validate = %+v, %v", resp, err)
					return
				}
			}
		})
	})
}
