package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
	"github.com/revokd/revokd/daemon/pipeline"
	"github.com/revokd/revokd/daemon/signer"
)

// Minter is the token service: POST /v1/issue and /v1/refresh (ops issue
// and refresh) and GET /v1/jwks. Service implements it. Issue and Refresh
// are answered not_found by a daemon that does not mint.
type Minter interface {
	Issue(ctx context.Context, req apitype.IssueRequest) (apitype.IssueResponse, error)
	Refresh(ctx context.Context, req apitype.RefreshRequest) (apitype.RefreshResponse, error)
	// JWKS is the published key set, as JSON.
	JWKS() []byte
}

var _ Minter = (*Service)(nil)

// Issue mints the first token of a new session (signer.Signer.Issue) and
// validates it through the pipeline before handing it out, so a token the
// daemon issues is one it accepts: one that would not validate (too big
// for --max-token-bytes, short of a --require-claim, for a banned
// subject) is refused with the reason.
func (s *Service) Issue(ctx context.Context, req apitype.IssueRequest) (apitype.IssueResponse, error) {
	m := s.tokens.minter()
	if m == nil {
		return apitype.IssueResponse{}, errNoMinting
	}
	if err := cache.CheckCutoff("sub", req.Sub); err != nil {
		return apitype.IssueResponse{}, badRequest(`"sub" must be a non-empty string of at most %d bytes`, cache.MaxValueBytes)
	}
	if req.TTL < 0 || req.TTL > int64(cache.MaxTime.Sub(cache.MinTime)/time.Second) {
		return apitype.IssueResponse{}, badRequest(`"ttl" must be a positive number of seconds (0 or absent: %s)`, s.tokens.cfg.TTL)
	}
	s.tokens.mu.RLock()
	defer s.tokens.mu.RUnlock()
	tok, err := m.Issue(req.Sub, req.Claims, time.Duration(req.TTL)*time.Second, s.clock.Now())
	switch {
	case errors.Is(err, signer.ErrReservedClaim):
		return apitype.IssueResponse{}, badRequest("%v", err)
	case errors.Is(err, signer.ErrSessionExpired):
		return apitype.IssueResponse{}, badRequest(`"ttl" is shorter than a second`)
	case err != nil:
		return apitype.IssueResponse{}, fmt.Errorf("issue: %w", err)
	}
	if err := mintedValid(s.p.Validate(tok.Token)); err != nil {
		return apitype.IssueResponse{}, fmt.Errorf("issue: %w", err)
	}
	return issued(tok), nil
}

// mintedValid checks a freshly minted token's validation: an error unless
// it is active.
func mintedValid(res pipeline.Result) error {
	switch res.Reason {
	case "":
		return nil
	case apitype.ReasonUnavailable:
		return cache.ErrUnavailable
	}
	return badRequest("the token would not validate here: %s", res.Reason)
}

func issued(t signer.Token) apitype.IssueResponse {
	return apitype.IssueResponse{Token: t.Token, Exp: t.Exp.Unix(), JTI: t.JTI, SID: t.SID}
}

// Refresh mints the next token of a token's session. The token must
// validate (a revoked, cut-off or expired token cannot refresh); the new
// one keeps its session start and sid (signer.Signer.Refresh). With
// rotation the presented token is then denied, and the store decides: of
// two refreshes of one token, on one daemon or on two sharing the store,
// only the one that stores the denial gets its new token. The other, and a
// refresh of a token already denied, is reuse: a stolen refresh token, or
// its rightful holder behind a thief. Both are cut off: the session gets a
// cutoff on its sid, taking every token of it, and the refresh is refused
// with session_revoked.
func (s *Service) Refresh(ctx context.Context, req apitype.RefreshRequest) (apitype.RefreshResponse, error) {
	m := s.tokens.minter()
	if m == nil {
		return apitype.RefreshResponse{}, errNoMinting
	}
	res := s.p.Validate(req.Token)
	rotation := s.tokens.cfg.Rotation
	switch {
	case res.Reason == apitype.ReasonUnavailable:
		return apitype.RefreshResponse{}, fmt.Errorf("refresh: %w", cache.ErrUnavailable)
	case res.Reason == apitype.ReasonRevoked && rotation && res.Token.SessionID != "":
		return s.reuse(ctx, res.Token)
	case !res.Active():
		return refused(res), nil
	case res.Token.SessionID == "":
		return apitype.RefreshResponse{Reason: apitype.ReasonMissingClaim}, nil
	}
	tok, err := s.mintNext(m, res.Token)
	switch {
	case errors.Is(err, signer.ErrSessionExpired):
		return apitype.RefreshResponse{Reason: apitype.ReasonSessionExpired}, nil
	case errors.Is(err, signer.ErrNoSession): // a sid that is no string
		return apitype.RefreshResponse{Reason: apitype.ReasonMissingClaim}, nil
	case err != nil:
		return apitype.RefreshResponse{}, fmt.Errorf("refresh: %w", err)
	}
	if rotation {
		stored, err := s.src.RevokeToken(ctx, res.Token.ID, cache.ClampExpiry(res.Token.Expires))
		if err != nil {
			return apitype.RefreshResponse{}, fmt.Errorf("refresh: deny the refreshed token: %w", err)
		}
		if !stored {
			return s.reuse(ctx, res.Token)
		}
	}
	r := issued(tok)
	return apitype.RefreshResponse{Token: r.Token, Exp: r.Exp, JTI: r.JTI, SID: r.SID}, nil
}

// mintNext mints v's successor and validates it, under one key generation.
func (s *Service) mintNext(m *signer.Signer, v *pipeline.Verified) (signer.Token, error) {
	s.tokens.mu.RLock()
	defer s.tokens.mu.RUnlock()
	tok, err := m.Refresh(v.Claims, v.SessionStart, s.clock.Now())
	if err != nil {
		return tok, err
	}
	return tok, mintedValid(s.p.Validate(tok.Token))
}

// reuse ends the session of a refresh token presented again, and logs it:
// someone may hold a stolen token.
func (s *Service) reuse(ctx context.Context, v *pipeline.Verified) (apitype.RefreshResponse, error) {
	if err := s.cutoffNow(ctx, v, "sid", v.SessionID); err != nil {
		return apitype.RefreshResponse{}, fmt.Errorf("refresh: revoke the session of a reused token: %w", err)
	}
	s.log.Warn("refresh of a token already refreshed: session revoked", "sid", v.SessionID, "sub", v.Subject, "token_id", v.ID)
	s.reuses.Add(1)
	return apitype.RefreshResponse{Reason: apitype.ReasonSessionRevoked}, nil
}

// reuseCounter is a Backend that counts refresh-token reuse.
type reuseCounter interface{ Reuses() uint64 }

// Reuses counts the refreshes refused as reuse, each of which ended a
// session.
func (s *Service) Reuses() uint64 { return s.reuses.Load() }

// refused is the answer to a refresh of a token that does not validate.
func refused(res pipeline.Result) apitype.RefreshResponse {
	r := res.Response()
	return apitype.RefreshResponse{Reason: r.Reason, Until: r.Until}
}

// cutoffNow raises the cutoff on (claim, value) at v's issuer to now, by
// the store's clock: every token of it issued so far is revoked. With
// several issuers the cutoff is scoped to v's (pipeline.CutoffValue),
// unless the scoped value is too long for a store: then it reaches the
// value at every issuer, as ending too much beats ending nothing.
func (s *Service) cutoffNow(ctx context.Context, v *pipeline.Verified, claim, value string) error {
	if scoped, err := s.p.CutoffValue(v.Issuer(), value); err == nil && cache.CheckCutoff(claim, scoped) == nil {
		value = scoped
	}
	_, err := s.src.RevokeAll(ctx, claim, value, time.Time{})
	return err
}

// revokeScope ends the session (a cutoff on sid) or every session of the
// subject (a cutoff on the subject) of a token in hand. As for a revoke of
// the token alone, only a token that could be revoked counts, and anyone
// holding one may: stored is false for any other.
func (s *Service) revokeScope(ctx context.Context, req apitype.RevokeRequest) (apitype.RevokeResponse, error) {
	claim := map[string]string{apitype.ScopeSession: "sid", apitype.ScopeSubject: "sub"}[req.Scope]
	if claim == "" {
		return apitype.RevokeResponse{}, badRequest(`"scope" must be %q or %q`, apitype.ScopeSession, apitype.ScopeSubject)
	}
	if !slices.Contains(s.cutoffClaims, claim) {
		return apitype.RevokeResponse{}, badRequest("scope %q needs %q among the cutoff claims; configured: %v", req.Scope, claim, s.cutoffClaims)
	}
	res := s.p.Revocable(req.Token)
	if res.Reason == apitype.ReasonUnavailable {
		return apitype.RevokeResponse{}, fmt.Errorf("revoke %s: %w", req.Scope, cache.ErrUnavailable)
	}
	if !res.Active() {
		return apitype.RevokeResponse{}, nil
	}
	value := res.Token.SessionID
	if claim == "sub" {
		value = res.Token.Subject
	}
	if value == "" {
		return apitype.RevokeResponse{}, badRequest("scope %q: the token has no %s", req.Scope, claim)
	}
	if err := s.cutoffNow(ctx, res.Token, claim, value); err != nil {
		return apitype.RevokeResponse{}, opError("revoke "+req.Scope, err)
	}
	return apitype.RevokeResponse{Stored: true}, nil
}

// JWKS is the published key set (signer.JWKS); empty for a Service built
// without keys.
func (s *Service) JWKS() []byte {
	if s.tokens == nil {
		return []byte(`{"keys":[]}`)
	}
	return *s.tokens.jwks.Load()
}
