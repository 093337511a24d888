package apitype

import (
	"encoding/json"
	"time"
)

// IssueRequest is the body of POST /v1/issue (op issue): mint the first
// token of a new session for Sub. Claims are added to the token as given;
// they may not name a registered claim (iss, sub, aud, exp, nbf, iat,
// jti), sid, orig_iat, the subject claim or the session-start claim. TTL
// is the token's lifetime in seconds (0: the daemon's --token-ttl).
type IssueRequest struct {
	Sub    string                     `json:"sub"`
	Claims map[string]json.RawMessage `json:"claims,omitempty"`
	TTL    int64                      `json:"ttl,omitempty"`
}

// IssueResponse answers POST /v1/issue (op issue): the token, its exp
// (Unix seconds), its jti and its session's sid.
type IssueResponse struct {
	Token string `json:"token"`
	Exp   int64  `json:"exp"`
	JTI   string `json:"jti"`
	SID   string `json:"sid"`
}

// RefreshRequest is the body of POST /v1/refresh (op refresh): the token
// to refresh.
type RefreshRequest struct {
	Token string `json:"token"`
}

// RefreshResponse answers POST /v1/refresh (op refresh): the next token of
// the session, with its exp, jti and sid, as IssueResponse. A refused
// refresh carries only Reason, one of Reasons (and Until for a ban), as a
// validate answer would: a token that cannot refresh is no request error.
type RefreshResponse struct {
	Token  string     `json:"token,omitempty"`
	Exp    int64      `json:"exp,omitempty"`
	JTI    string     `json:"jti,omitempty"`
	SID    string     `json:"sid,omitempty"`
	Reason string     `json:"reason,omitempty"`
	Until  *time.Time `json:"until,omitempty"`
}

// Scopes of a RevokeRequest with a token (POST /v1/revoke, op revoke).
const (
	ScopeSession = "session" // every token of the token's session: its refreshed descendants too
	ScopeSubject = "subject" // every token of the token's subject: logout everywhere
)
