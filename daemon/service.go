package daemon

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
)

// Validator is what the Service needs from the pipeline; *pipeline.Pipeline
// implements it.
type Validator interface {
	Validate(token string) pipeline.Result
	ValidateExpect(token string, req *pipeline.Requirements) pipeline.Result
	Revocable(token string) pipeline.Result
	ValidateBytes(token []byte) pipeline.Result
	Leeway() time.Duration
	CacheHits() uint64
	CutoffValue(iss, value string) (string, error)
	Issuers() []string
}

// Service is the production Backend: answers come from the pipeline, writes
// go to the source (which applies them to the replica before returning), and
// status reads all three.
type Service struct {
	p            Validator
	r            *cache.Replica
	src          cache.Source
	clock        cache.Clock
	staleAfter   time.Duration
	cutoffClaims []string
	fetch        *fetchers     // the fetched key sets; nil in tests that build a Service alone
	reloads      *reloads      // nil with fetched keys, and in tests that build a Service alone
	logout       *backchannel  // nil unless back-channel logout is on
	tokens       *keys         // the signing key and the published keys
	log          *slog.Logger  // discards unless the Daemon sets its own
	reuses       atomic.Uint64 // refreshes refused as reuse
}

// newService returns a Service. staleAfter is the --stale-after policy (0:
// off); cutoffClaims are the claims revoke-all and unban accept, the same
// list as pipeline.Config.CutoffClaims ("sub" is the logical subject; nil:
// pipeline.DefaultCutoffClaims).
func newService(p Validator, r *cache.Replica, src cache.Source, clock cache.Clock, staleAfter time.Duration, cutoffClaims []string) *Service {
	if len(cutoffClaims) == 0 {
		cutoffClaims = pipeline.DefaultCutoffClaims
	}
	return &Service{p: p, r: r, src: src, clock: clock, staleAfter: staleAfter, cutoffClaims: slices.Clone(cutoffClaims),
		log: slog.New(slog.DiscardHandler)}
}

// Validate runs the pipeline.
func (s *Service) Validate(token string) pipeline.Result { return s.p.Validate(token) }

// ValidateExpect runs the pipeline with expect in place of the configured
// claim requirements; nil expect keeps them.
func (s *Service) ValidateExpect(token string, expect map[string]string) pipeline.Result {
	if expect == nil {
		return s.p.Validate(token)
	}
	return s.p.ValidateExpect(token, pipeline.NewRequirements(expect))
}

// ValidateBytes runs the pipeline on a token held in a request buffer; a
// verified-cache hit copies nothing.
func (s *Service) ValidateBytes(token []byte) pipeline.Result { return s.p.ValidateBytes(token) }

// Revoke denies one token. A token is denied when it verifies and has not
// expired, even when its nbf (or iat, or session start) is still ahead: it
// can be revoked before it is ever used. An invalid, expired or already
// revoked token, or one a cutoff covers, stores nothing, as RFC 7009 has
// it. The source is given the token's own exp; each daemon adds its own
// leeway when it reads the denial. A bare jti is stored only while its exp
// plus this daemon's leeway is still ahead.
func (s *Service) Revoke(ctx context.Context, req apitype.RevokeRequest) (apitype.RevokeResponse, error) {
	var (
		id  string
		exp time.Time
	)
	switch {
	case req.Token != "" && req.Scope != "":
		return s.revokeScope(ctx, req)
	case req.Token != "":
		res := s.p.Revocable(req.Token)
		if res.Reason == apitype.ReasonUnavailable {
			// Whether the token is already revoked is unknown; "stored":
			// false would tell the caller its revocation was not needed.
			return apitype.RevokeResponse{}, fmt.Errorf("revoke token: %w", cache.ErrUnavailable)
		}
		if !res.Active() {
			return apitype.RevokeResponse{}, nil
		}
		id, exp = res.Token.ID, res.Token.Expires
	case req.JTI != "" && req.Exp > 0:
		id, exp = req.JTI, time.Unix(req.Exp, 0)
		if !exp.Add(s.p.Leeway()).After(s.clock.Now()) {
			return apitype.RevokeResponse{}, nil
		}
	default:
		return apitype.RevokeResponse{}, badRequest(`give "token", or "jti" and "exp"`)
	}
	// A token with an absurd exp is denied until the last time a store
	// keeps, rather than refused and left active.
	stored, err := s.src.RevokeToken(ctx, id, cache.ClampExpiry(exp))
	if err != nil {
		return apitype.RevokeResponse{}, fmt.Errorf("revoke token: %w", err)
	}
	return apitype.RevokeResponse{Stored: stored}, nil
}

// cutoffKey resolves a request's subject or (claim, value) to a configured
// cutoff claim. The handlers have checked the fields already, but a Service
// may be called without them, so it runs the same check (checkSubject).
func (s *Service) cutoffKey(sub, claim, value, iss string) (string, string, error) {
	if err := checkSubject(sub, claim, value); err != nil {
		return "", "", err
	}
	if sub != "" {
		if claim != "" && claim != "sub" || value != "" && value != sub {
			return "", "", badRequest(`give "sub", or "claim" and "value", not both`)
		}
		claim, value = "sub", sub
	}
	if !slices.Contains(s.cutoffClaims, claim) {
		return "", "", badRequest("claim %q carries no cutoffs; configured: %v", claim, s.cutoffClaims)
	}
	scoped, err := s.p.CutoffValue(iss, value)
	if err != nil {
		return "", "", err
	}
	if err := cache.CheckCutoff(claim, scoped); err != nil {
		return "", "", fmt.Errorf("value at issuer %q: %w", iss, err)
	}
	return claim, scoped, nil
}

// RevokeAll raises the cutoff for a subject or claim value to Before; a
// Before in the future is a ban. Without one the source takes now by its
// own clock, when it makes the write (PostgreSQL's clock_timestamp()), so
// every writer, through SQL or the socket, shares one clock. A Before that
// no store keeps is a bad request, whatever the store. It answers with the
// cutoff in effect, which may be later than asked.
func (s *Service) RevokeAll(ctx context.Context, req apitype.RevokeAllRequest) (apitype.RevokeAllResponse, error) {
	claim, stored, err := s.cutoffKey(req.Sub, req.Claim, req.Value, req.Iss)
	if err != nil {
		return apitype.RevokeAllResponse{}, err
	}
	var before time.Time // zero: now, by the source's clock
	if req.Before != nil {
		if err := cache.CheckTime(`"before"`, *req.Before); err != nil {
			return apitype.RevokeAllResponse{}, fmt.Errorf("revoke all: %w", err)
		}
		before = *req.Before
	}
	eff, err := s.src.RevokeAll(ctx, claim, stored, before)
	if err != nil {
		return apitype.RevokeAllResponse{}, opError("revoke all", err)
	}
	return apitype.RevokeAllResponse{Claim: claim, Value: cmp.Or(req.Sub, req.Value), Iss: req.Iss, Before: eff.UTC()}, nil
}

// Unban lowers a future cutoff to now and answers with the cutoff in effect
// (zero when there is none).
func (s *Service) Unban(ctx context.Context, req apitype.UnbanRequest) (apitype.UnbanResponse, error) {
	claim, stored, err := s.cutoffKey(req.Sub, req.Claim, req.Value, req.Iss)
	if err != nil {
		return apitype.UnbanResponse{}, err
	}
	eff, err := s.src.Unban(ctx, claim, stored)
	if err != nil {
		return apitype.UnbanResponse{}, opError("unban", err)
	}
	if !eff.IsZero() {
		eff = eff.UTC()
	}
	return apitype.UnbanResponse{Claim: claim, Value: cmp.Or(req.Sub, req.Value), Iss: req.Iss, Before: eff}, nil
}

// opError prefixes a source's error with the operation, unless the source
// has said it already (the stores do), so the message reads it once.
func opError(op string, err error) error {
	if strings.HasPrefix(err.Error(), op+": ") {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Status describes the replica and the source. Version is left for the
// server to fill in.
func (s *Service) Status() apitype.StatusResponse {
	cutoffs, denials := s.r.Sizes()
	ss := s.src.Status()
	now := s.clock.Now()
	lastContact := s.r.LastContact()
	st := apitype.StatusResponse{
		Ready:          s.r.Ready(),
		Source:         ss.Kind,
		SourceState:    ss.State,
		LastContact:    utc(lastContact),
		LastVersion:    s.r.Version(),
		LastChange:     utc(s.r.LastChange()),
		Reconnects:     ss.Reconnects,
		Cutoffs:        cutoffs,
		Denials:        denials,
		TokenCacheHits: s.p.CacheHits(),
		Stale:          s.r.Stale(now, s.staleAfter),
	}
	if !lastContact.IsZero() {
		st.StaleSeconds = staleSeconds(now.Sub(lastContact))
	}
	s.tokens.status(&st)
	for _, ks := range s.KeysStatus() {
		k := apitype.KeySetStatus{
			Issuer:  ks.Issuer,
			JWKSURL: ks.URL, JWKSError: ks.LastError,
			JWKSFetched: utc(ks.Fetched), JWKSErrorAt: utc(ks.LastErrorAt),
		}
		if !ks.Fetched.IsZero() {
			k.JWKSAgeSeconds = staleSeconds(now.Sub(ks.Fetched))
		}
		st.Issuers = append(st.Issuers, k)
	}
	// Inline for the one issuer only: with several, the one set fetched
	// among them must still say whose it is.
	if len(st.Issuers) == 1 && len(s.p.Issuers()) == 1 {
		st.KeySetStatus, st.Issuers = st.Issuers[0], nil
		st.KeySetStatus.Issuer = ""
	}
	return st
}

// staleSeconds is d in seconds, rounded to the millisecond: a person or a
// probe reads 2.451, not 2.4508610920000002 or 2.5e-7. Dividing whole
// milliseconds by 1000 gives the float nearest the decimal, which JSON then
// prints as written. Under half a millisecond rounds to 0, which omitzero
// leaves out of the answer.
func staleSeconds(d time.Duration) float64 {
	return float64(max(d, 0).Round(time.Millisecond).Milliseconds()) / 1000
}

// utc keeps status times in one zone whatever the host's, and the zero time
// zero (so omitzero drops it).
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// Readiness says whether validations get a verdict now: the same test the
// pipeline makes (cache.Replica.Stale), so /readyz and the answers agree.
func (s *Service) Readiness() error {
	switch {
	case !s.r.Ready():
		return errNotReady
	case s.r.OutOfTouch(s.clock.Now(), s.staleAfter):
		return errStale
	}
	return nil
}

var _ Backend = (*Service)(nil)
