package daemon

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
)

// BackchannelConfig enables POST /v1/backchannel-logout, OpenID Connect
// Back-Channel Logout 1.0: an identity provider's logout token ends a
// session (sid) or every session of a subject (sub) on every revokd
// sharing the store.
type BackchannelConfig struct {
	// ClientIDs are the aud values a logout token may be addressed to
	// (--backchannel-client-id); at least one.
	ClientIDs []string
	// MaxAge is the oldest a logout token's iat may be
	// (--backchannel-max-age); 0: DefaultBackchannelMaxAge.
	MaxAge time.Duration
}

// DefaultBackchannelMaxAge is --backchannel-max-age's default.
const DefaultBackchannelMaxAge = 5 * time.Minute

// eventBackchannelLogout is the member of a logout token's events claim
// that makes it one (§2.4).
const eventBackchannelLogout = "http://schemas.openid.net/event/backchannel-logout"

// Logouter ends sessions on an identity provider's back-channel logout
// (POST /v1/backchannel-logout); Service implements it. An error that is a
// logoutRefusal refuses the token; any other is the store's (503) or the
// daemon's.
type Logouter interface {
	BackchannelLogout(ctx context.Context, logoutToken string) error
}

// backchannel is a Service's logout settings.
type backchannel struct {
	clientIDs []string
	maxAge    time.Duration
	// issuer returns the keys of the trusted issuer named iss
	// (pipeline.Pipeline.Verifier): a logout token's iss picks its keys
	// before any is tried.
	issuer func(iss string) (pipeline.SignatureVerifier, bool)
	// cutoffValue scopes a cutoff's value to its issuer when several are
	// trusted (pipeline.Pipeline.CutoffValue).
	cutoffValue func(iss, value string) (string, error)
}

// checkBackchannel settles a BackchannelConfig against the validation
// settings: the issuer must be known, and the cutoff claims a logout
// writes must be configured.
func checkBackchannel(b BackchannelConfig, pc pipeline.Config, issuers []Issuer) (BackchannelConfig, error) {
	claims := pc.CutoffClaims
	if len(claims) == 0 {
		claims = pipeline.DefaultCutoffClaims
	}
	named := pc.Issuer != ""
	if len(issuers) > 0 {
		// A table of one issuer may leave its name out, as the flags may;
		// no logout token could then name it.
		named = !slices.ContainsFunc(issuers, func(is Issuer) bool { return is.Issuer.Issuer == "" })
	}
	switch {
	case len(b.ClientIDs) == 0 || slices.Contains(b.ClientIDs, ""):
		return b, errors.New("back-channel logout: give at least one non-empty client id")
	case !named:
		return b, errors.New("back-channel logout needs the issuer (--issuer, --oidc-issuer or --issuers-file): a logout token's iss must name it")
	case b.MaxAge < 0:
		return b, fmt.Errorf("back-channel logout: max age %s is negative", b.MaxAge)
	case !slices.Contains(claims, "sid") || !slices.Contains(claims, "sub"):
		// A logout token carries sid or sub, either of which must be able
		// to carry a cutoff; refusing at start beats refusing a logout.
		return b, fmt.Errorf("back-channel logout writes cutoffs on sid and sub: both must be cutoff claims (configured: %v)", claims)
	}
	if b.MaxAge == 0 {
		b.MaxAge = DefaultBackchannelMaxAge
	}
	b.ClientIDs = slices.Clone(b.ClientIDs)
	return b, nil
}

// logoutRefusal refuses a logout token: 400 invalid_request, its text the
// error_description. It is a bad request, for the metrics.
type logoutRefusal string

func (r logoutRefusal) Error() string { return string(r) }
func (r logoutRefusal) Unwrap() error { return ErrBadRequest }

// The refusals, one per check of §2.6, in the order they are made.
const (
	refuseNoToken    logoutRefusal = "missing logout_token"
	refuseMalformed  logoutRefusal = "logout_token is not a signed JWT whose payload is a JSON object"
	refuseIssuer     logoutRefusal = "iss is not a configured issuer"
	refuseAlg        logoutRefusal = "alg is not allowed"
	refuseUnknownKey logoutRefusal = "kid names no key of the issuer"
	refuseSignature  logoutRefusal = "signature does not verify"
	refuseTyp        logoutRefusal = "typ is not logout+jwt"
	refuseClaims     logoutRefusal = "claims of the wrong type"
	refuseAudience   logoutRefusal = "aud names no configured client id"
	refuseNoIAT      logoutRefusal = "missing iat"
	refuseOld        logoutRefusal = "iat is older than the maximum age"
	refuseFuture     logoutRefusal = "iat is in the future"
	refuseExpired    logoutRefusal = "exp has passed"
	refuseNoJTI      logoutRefusal = "missing jti"
	refuseEvents     logoutRefusal = "events lacks the back-channel logout event"
	refuseNoSubject  logoutRefusal = "missing sid and sub"
	refuseNonce      logoutRefusal = "nonce is not allowed in a logout token"
	refuseTooLong    logoutRefusal = "jti, sid or sub is too long, or not valid UTF-8 text"
	refuseReplay     logoutRefusal = "jti was already used"
	refuseSubject    logoutRefusal = "the issuer's tokens carry their subject in another claim than sub: a logout by sub alone cannot be applied; send sid"
)

// logoutClaims are the members of a logout token's payload that §2.4
// names. Those whose type varies, or whose mere presence counts, are kept
// raw.
type logoutClaims struct {
	Iss    string          `json:"iss"`
	Aud    json.RawMessage `json:"aud"`
	IAT    *float64        `json:"iat"`
	Exp    *float64        `json:"exp"`
	JTI    string          `json:"jti"`
	Events json.RawMessage `json:"events"`
	SID    string          `json:"sid"`
	Sub    string          `json:"sub"`
	Nonce  json.RawMessage `json:"nonce"`
}

// logout is a logout token that passed every check: the cutoff it asks
// for, and the denial that records its jti against replays.
type logout struct {
	claim, value string
	replayID     string
	replayUntil  time.Time
}

// checkLogout makes the checks of §2.6 on a logout token, in one order,
// and returns the logout it asks for or the refusal. now and leeway are the
// daemon's clock and its allowed skew. An issuer whose keys have not been
// fetched yet is cache.ErrUnavailable: the token may be good.
func (b *backchannel) checkLogout(token string, now time.Time, leeway time.Duration) (logout, error) {
	if token == "" {
		return logout{}, refuseNoToken
	}
	// The issuer picks the keys, so iss is read before the signature is
	// checked; every claim is judged only on the verified payload, the
	// same bytes read the same way.
	var unverified struct {
		Iss string `json:"iss"`
	}
	if payload, ok := unverifiedPayload(token); !ok || json.Unmarshal(payload, &unverified) != nil {
		return logout{}, refuseMalformed
	}
	keys, ok := b.issuer(unverified.Iss)
	if !ok {
		return logout{}, refuseIssuer
	}
	signed, reason := keys.VerifySignature(token)
	switch reason {
	case "":
	case apitype.ReasonUnsupportedAlg:
		return logout{}, refuseAlg
	case apitype.ReasonUnknownKey:
		return logout{}, refuseUnknownKey
	case apitype.ReasonBadSignature:
		return logout{}, refuseSignature
	case apitype.ReasonUnavailable:
		return logout{}, fmt.Errorf("back-channel logout: %w: %w", cache.ErrUnavailable, errIssuerKeys)
	default:
		return logout{}, refuseMalformed
	}
	var header struct {
		Typ *string `json:"typ"`
	}
	if json.Unmarshal(signed.Header, &header) != nil || header.Typ != nil && !logoutTyp(*header.Typ) {
		return logout{}, refuseTyp
	}
	var c logoutClaims
	if json.Unmarshal(signed.Payload, &c) != nil || c.Iss != unverified.Iss {
		return logout{}, refuseClaims
	}
	if !audienceHas(c.Aud, b.clientIDs) {
		return logout{}, refuseAudience
	}
	if c.IAT == nil {
		return logout{}, refuseNoIAT
	}
	iat, ok := numericDate(*c.IAT)
	switch {
	case !ok:
		return logout{}, refuseClaims
	case !now.Before(iat.Add(b.maxAge)):
		return logout{}, refuseOld
	case iat.After(now.Add(leeway)):
		return logout{}, refuseFuture
	}
	// The replay record must outlast every moment the token is accepted:
	// until iat plus the maximum age, or exp if that comes first (the store
	// adds the leeway, as exp is accepted within it).
	until := iat.Add(b.maxAge)
	if c.Exp != nil {
		exp, ok := numericDate(*c.Exp)
		switch {
		case !ok:
			return logout{}, refuseClaims
		case !now.Before(exp.Add(leeway)):
			return logout{}, refuseExpired
		}
		if exp.Before(until) {
			until = exp
		}
	}
	if c.JTI == "" {
		return logout{}, refuseNoJTI
	}
	if !backchannelEvent(c.Events) {
		return logout{}, refuseEvents
	}
	if c.SID == "" && c.Sub == "" {
		return logout{}, refuseNoSubject
	}
	if len(c.Nonce) > 0 {
		// Present at all, even null: §2.4 prohibits it, so that an ID
		// token can never pass as a logout token.
		return logout{}, refuseNonce
	}
	if c.SID == "" && keys.SubjectClaim() != "sub" {
		// A cutoff on "sub" compares the configured subject claim, not the
		// token's sub: it would end another user's sessions and not this
		// one's.
		return logout{}, refuseSubject
	}
	l := logout{claim: "sid", value: c.SID, replayID: replayID(c.Iss, c.JTI), replayUntil: until}
	if c.SID == "" {
		l.claim, l.value = "sub", c.Sub
	}
	var err error
	if l.value, err = b.cutoffValue(c.Iss, l.value); err != nil {
		return logout{}, refuseIssuer
	}
	if cache.CheckTokenID(l.replayID) != nil || cache.CheckCutoff(l.claim, l.value) != nil {
		return logout{}, refuseTooLong
	}
	return l, nil
}

// replayID is the denial that records a logout token's jti. OpenID issuers
// have no fragment (OpenID Connect Discovery 1.0 §3), so the "#" after
// iss cannot be part of it, and no two (iss, jti) pairs share an id.
func replayID(iss, jti string) string { return "logout-jti:" + iss + "#" + jti }

// unverifiedPayload decodes a token's payload without checking anything
// else: only to learn which issuer's keys to check it with.
func unverifiedPayload(token string) ([]byte, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	return payload, err == nil
}

// logoutTyp reports whether a typ header names a logout token: logout+jwt,
// with or without the application/ prefix (RFC 7515 §4.1.9), compared
// without regard to case as media types are (RFC 8725 §3.11).
func logoutTyp(typ string) bool {
	if len(typ) > len("application/") && strings.EqualFold(typ[:len("application/")], "application/") {
		typ = typ[len("application/"):]
	}
	return strings.EqualFold(typ, "logout+jwt")
}

// audienceHas reports whether aud, a string or an array of strings, names
// one of ids.
func audienceHas(aud json.RawMessage, ids []string) bool {
	var one string
	if json.Unmarshal(aud, &one) == nil {
		return slices.Contains(ids, one)
	}
	var many []string
	if json.Unmarshal(aud, &many) != nil {
		return false
	}
	return slices.ContainsFunc(many, func(a string) bool { return slices.Contains(ids, a) })
}

// backchannelEvent reports whether events is a JSON object whose
// back-channel logout member is itself an object (§2.4).
func backchannelEvent(events json.RawMessage) bool {
	var members map[string]json.RawMessage
	if json.Unmarshal(events, &members) != nil || members == nil {
		return false
	}
	var event map[string]json.RawMessage
	return json.Unmarshal(members[eventBackchannelLogout], &event) == nil && event != nil
}

// numericDate turns a JSON NumericDate into a time, if a store could keep
// it.
func numericDate(secs float64) (time.Time, bool) {
	if math.IsNaN(secs) || secs < float64(cache.MinTime.Unix()) || secs > float64(cache.MaxTime.Unix()) {
		return time.Time{}, false
	}
	whole, frac := math.Modf(secs)
	return time.Unix(int64(whole), int64(frac*1e9)), true
}

// BackchannelLogout checks a logout token (§2.6), records its jti so that
// no revokd sharing the store accepts it again, and writes the cutoff it
// asks for, taken now by the store's clock: on its sid, or on its subject
// when it names no session.
//
// The jti is recorded first, as a denial: the store decides atomically
// which of two concurrent deliveries stores it, and only that one goes on.
// Recording it after the cutoff would let a replay end sessions begun
// since the first delivery. The price: should the store fail between the
// two writes, the answer is a 503 and the same token is refused as a
// replay afterwards; the identity provider has to send a new one.
func (s *Service) BackchannelLogout(ctx context.Context, logoutToken string) error {
	if s.logout == nil {
		return errNotFound
	}
	l, err := s.logout.checkLogout(logoutToken, s.clock.Now(), s.p.Leeway())
	if err != nil {
		return err
	}
	stored, err := s.src.RevokeToken(ctx, l.replayID, l.replayUntil)
	if err != nil {
		return fmt.Errorf("back-channel logout: record jti: %w", err)
	}
	if !stored {
		return refuseReplay
	}
	if _, err := s.src.RevokeAll(ctx, l.claim, l.value, time.Time{}); err != nil {
		return fmt.Errorf("back-channel logout: cutoff on %s: %w", l.claim, err)
	}
	return nil
}
