package main

import (
	"strings"
	"testing"
	"time"
)

func TestVerifierAsTheDaemon(t *testing.T) {
	keys, err := MintKeys()
	if err != nil {
		t.Fatal(err)
	}
	other, err := MintKeys()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := tokenClaims{User: 7, Session: 3, JTI: "j1", Issued: now.Add(-time.Minute), Expires: now.Add(time.Hour)}
	mint := func(k *Keys, alg string, c tokenClaims) string {
		t.Helper()
		s, err := k.Mint(alg, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	expired := good
	expired.Expires = now.Add(-time.Hour)
	tests := []struct {
		name, token, reason string
	}{
		{"HS256", mint(keys, "HS256", good), ""},
		{"RS256", mint(keys, "RS256", good), ""},
		{"ES256", mint(keys, "ES256", good), ""},
		{"EdDSA", mint(keys, "EdDSA", good), ""},
		{"other key", mint(other, "ES256", good), "bad_signature"},
		{"expired", mint(keys, "HS256", expired), "expired"},
		{"garbage", "a.b.c", "malformed"},
		{"alg none", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "unsupported_alg"},
	}
	v := newVerifier(keys)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, reason := v.verify(tc.token)
			if reason != tc.reason {
				t.Fatalf("reason = %q, want %q", reason, tc.reason)
			}
			if reason == "" && (c.sub != "user-7" || c.sid != "sess-3" || c.jti != "j1" || !c.start.Equal(good.Issued.Truncate(time.Second))) {
				t.Errorf("got %+v, want user-7/sess-3/j1 from %v", c, good.Issued)
			}
		})
	}
	c, _ := v.verify(mint(keys, "HS256", good))
	if ans := string(appendActive(nil, c)); !strings.HasPrefix(ans, `{"active":true,"sub":"user-7"`) || classify(200, []byte(ans)) != answerActive {
		t.Errorf("active answer %s", ans)
	}
}

func TestKeysRoundTripThroughDir(t *testing.T) {
	k, err := MintKeys()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files, err := k.WriteDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(files.ServeArgs()); got != 8 {
		t.Errorf("serve args %v: want --hmac-secret-file and three --public-key", files.ServeArgs())
	}
	back, err := LoadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(back)
	for _, alg := range algorithms {
		tok, err := k.Mint(alg, tokenClaims{User: 1, JTI: "x", Issued: time.Now(), Expires: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, reason := v.verify(tok); reason != "" {
			t.Errorf("%s token minted before the round trip: %s after it", alg, reason)
		}
	}
}
