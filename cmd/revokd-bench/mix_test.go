package main

import (
	"fmt"
	"testing"
)

func TestFeederSpreadsTheMix(t *testing.T) {
	wires := func(prefix string, n int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = []byte(fmt.Sprintf("%s%d", prefix, i))
		}
		return out
	}
	tests := []struct {
		name                     string
		m                        mix
		wantSeen, wantRev, fresh int // out of 1000 requests
	}{
		{"all seen", mix{Seen: 1}, 1000, 0, 0},
		{"all fresh", mix{Seen: 0}, 0, 0, 1000},
		{"half fresh", mix{Seen: 0.5}, 500, 0, 500},
		{"a tenth revoked, rest seen", mix{Seen: 1, Revoked: 0.1}, 900, 100, 0},
		{"a fifth revoked, half the rest fresh", mix{Seen: 0.5, Revoked: 0.2}, 400, 200, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := &wireSet{seen: wires("s", 7), revoked: wires("r", 3), fresh: &freshPool{wires: wires("f", 300)}}
			f := newFeeder(set, tc.m, true, 2)
			counts := map[byte]int{}
			wants := map[byte]expect{}
			for range 1000 {
				w, e := f.next()
				counts[w[0]]++
				if prev, ok := wants[w[0]]; ok && prev != e {
					t.Fatalf("kind %c expects both %v and %v", w[0], prev, e)
				}
				wants[w[0]] = e
			}
			got := [3]int{counts['s'], counts['r'], counts['f']}
			want := [3]int{tc.wantSeen, tc.wantRev, tc.fresh}
			for i := range got {
				if d := got[i] - want[i]; d < -1 || d > 1 { // accumulators may round one request either way
					t.Errorf("seen/revoked/fresh = %v, want %v", got, want)
					break
				}
			}
			if counts['r'] > 0 && wants['r'] != expectInactive {
				t.Errorf("revoked tokens expect %v, want inactive", wants['r'])
			}
			if tc.fresh > 0 {
				if got, want := set.fresh.reused(), int64(counts['f']-300); got != max(0, want) {
					t.Errorf("fresh reused = %d, want %d", got, max(0, want))
				}
			}
		})
	}
}

func TestFeederWithoutCheckExpectsAnything(t *testing.T) {
	set := &wireSet{seen: [][]byte{[]byte("s")}, revoked: [][]byte{[]byte("r")}}
	f := newFeeder(set, mix{Seen: 1, Revoked: 0.5}, false, 0)
	for range 10 {
		if _, e := f.next(); e != expectAny {
			t.Fatalf("got %v, want expectAny", e)
		}
	}
}

func TestMixValidate(t *testing.T) {
	for _, m := range []mix{{Seen: -0.1}, {Seen: 1.1}, {Revoked: 2}} {
		if m.validate() == nil {
			t.Errorf("%+v: want an error", m)
		}
	}
	if err := (mix{Seen: 0.3, Revoked: 0.7}).validate(); err != nil {
		t.Errorf("valid mix: %v", err)
	}
}
