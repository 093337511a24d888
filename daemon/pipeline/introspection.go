package pipeline

import (
	"bytes"
	"encoding/json"

	"github.com/revokd/revokd/client/apitype"
)

// introspectionMembers are RFC 7662's members (§2.2) that revokd copies
// from an active token's claims.
var introspectionMembers = []string{"sub", "exp", "iat", "nbf", "iss", "aud", "jti", "scope", "client_id", "username", "token_type"}

// Introspection is the RFC 7662 answer for r: exactly {"active":false}
// unless the token is active, whatever the reason, as the RFC keeps reasons
// from whoever asks.
func (r Result) Introspection() apitype.IntrospectResponse {
	if !r.Active() || r.Token == nil {
		return apitype.IntrospectResponse{}
	}
	fields, err := splitObject(r.Token.Claims)
	if err != nil { // cannot happen: the claims split when the token was verified
		return apitype.IntrospectResponse{}
	}
	c := payload{raw: r.Token.Claims, fields: fields}
	resp := apitype.IntrospectResponse{Active: true}
	dst := []*json.RawMessage{&resp.Sub, &resp.Exp, &resp.IAT, &resp.NBF, &resp.Iss, &resp.Aud,
		&resp.JTI, &resp.Scope, &resp.ClientID, &resp.Username, &resp.TokenType}
	for i, name := range introspectionMembers {
		if v, ok := c.get(name); ok {
			*dst[i] = bytes.Clone(v)
		}
	}
	// The RFC's sub is the token's subject: under --subject-claim user_id
	// (simplejwt's), a token without sub still has one, and clients such
	// as Spring Security name their principal by it.
	if resp.Sub == nil && r.Token.Subject != "" {
		resp.Sub, _ = json.Marshal(r.Token.Subject)
	}
	return resp
}
