package pipeline

import (
	"encoding/json"
	"time"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
)

// ClaimValue is one configured cutoff claim as it appears in a token, its
// value normalised to a string.
type ClaimValue = cache.ClaimValue

// Verified is what a token's signature and static checks yield: everything
// later checks need, so a token seen again skips decoding and signature work.
// It is immutable once built and shared between requests.
type Verified struct {
	// Every cache hit reads the fields from here to activeJSON, so they come
	// first and share as few cache lines as they can: with many tokens in
	// the cache, each hit finds its entry cold.
	Expires   time.Time
	NotBefore time.Time // zero when absent
	// validFrom is the latest of nbf, iat and the session start: the token
	// is not valid before it (less the leeway). A token issued, or a session
	// started, in the future would otherwise escape every cutoff made until
	// then and every maximum session age.
	validFrom    time.Time
	SessionStart time.Time // the session-start claim, else iat; zero when neither
	Cutoffs      []ClaimValue
	ID           string // jti, or "sha256:" + base64url(SHA-256(token)) when it has none
	// altID is the id of the token's twin when it has no jti and an ECDSA
	// signature: (r, n−s) verifies as well as (r, s), so the same token
	// exists under two spellings with two SHA-256 ids, and a denial of
	// either must cover both.
	altID      string
	activeJSON []byte // the whole active answer, built once
	claimsMet  bool   // whether the claims meet the configured requirements
	// keys is the key set that verified the token, and trust its issuer.
	// A hit verified by a set no longer in use is verified again, so a key
	// dropped from the provider's set, or by a reload, stops validating at
	// once.
	keys  *keySet
	trust *trusted

	Subject      string
	JTI          string          // the jti claim as given; empty when absent
	SessionID    string          // the sid claim; empty when absent
	IssuedAt     time.Time       // zero when absent
	OrigIssuedAt time.Time       // zero when absent
	Claims       json.RawMessage // the token's payload, as signed
}

// Result is the pipeline's answer for one token.
type Result struct {
	Reason string    // empty when the token is active
	Until  time.Time // set when a future cutoff (a ban) rejected the token
	Token  *Verified // set whenever the signature verified, active or not
}

// Active reports whether the token is good right now.
func (r Result) Active() bool { return r.Reason == "" }

// AppendJSON appends the answer's JSON (apitype.ValidateResponse) to b,
// without a trailing newline.
func (r Result) AppendJSON(b []byte) []byte {
	if r.Active() {
		if r.Token != nil && r.Token.activeJSON != nil {
			return append(b, r.Token.activeJSON...)
		}
		// A Verified built outside the pipeline (a test fake) has no
		// precomputed answer: marshal it, off the hot path.
		j, err := json.Marshal(r.Response())
		if err != nil { // cannot happen: the claims came from a verified token
			return append(b, `{"active":false,"reason":"malformed"}`...)
		}
		return append(b, j...)
	}
	b = append(b, `{"active":false,"reason":"`...)
	b = append(b, r.Reason...) // reasons are fixed ASCII words: no escaping needed
	if !r.Until.IsZero() {
		b = append(b, `","until":"`...)
		b = r.Until.UTC().AppendFormat(b, time.RFC3339Nano)
	}
	return append(b, `"}`...)
}

// Response returns the answer as the client's type.
func (r Result) Response() apitype.ValidateResponse {
	if !r.Active() {
		resp := apitype.ValidateResponse{Reason: r.Reason}
		if !r.Until.IsZero() {
			until := r.Until.UTC()
			resp.Until = &until
		}
		return resp
	}
	t := r.Token
	if t == nil {
		return apitype.ValidateResponse{Active: true}
	}
	return apitype.ValidateResponse{
		Active:  true,
		Sub:     t.Subject,
		JTI:     t.JTI,
		SID:     t.SessionID,
		Exp:     t.Expires.Unix(),
		IAT:     unixOrZero(t.IssuedAt),
		OrigIAT: unixOrZero(t.OrigIssuedAt),
		Claims:  t.Claims,
	}
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
