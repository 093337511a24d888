package main

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenClaims are the claims of one minted token: the shape of the shared
// vectors (subject, session id, token id, session start, expiry).
type tokenClaims struct {
	User    int
	Session int
	JTI     string
	Issued  time.Time
	Expires time.Time
	Pad     string // when set, a "pad" claim that makes the token this much larger
}

// Mint signs a token with alg's key.
func (k *Keys) Mint(alg string, c tokenClaims) (string, error) {
	m, key, err := k.method(alg)
	if err != nil {
		return "", err
	}
	claims := jwt.MapClaims{
		"sub":      fmt.Sprintf("user-%d", c.User),
		"sid":      fmt.Sprintf("sess-%d", c.Session),
		"jti":      c.JTI,
		"iat":      c.Issued.Unix(),
		"orig_iat": c.Issued.Unix(),
		"exp":      c.Expires.Unix(),
		"scope":    "read write",
	}
	if c.Pad != "" {
		claims["pad"] = c.Pad
	}
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign %s token: %w", alg, err)
	}
	return s, nil
}

// mintN signs n tokens for alg whose token ids start with prefix; users and
// sessions cycle over a small population, as a real app's would.
func (k *Keys) mintN(alg, prefix string, n int, now time.Time) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		t, err := k.Mint(alg, tokenClaims{
			User:    i % 997,
			Session: i,
			JTI:     fmt.Sprintf("%s-%d", prefix, i),
			Issued:  now.Add(-time.Minute),
			Expires: now.Add(2 * time.Hour),
		})
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}
