package pipeline

import (
	"errors"
	"slices"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revokd/revokd/client/apitype"
)

// Which reason a token is refused for, when several apply, is decided here.
//
// The order is apitype.Reasons: the reason listed first wins. winner applies
// it wherever reasons meet (golang-jwt's several claim errors, the pipeline's
// own claim rules, the clock), and check runs its tests in the same order so
// that the first to apply is the winner without looking further: a cache hit
// then does no work the answer does not need. TestPrecedence holds both
// verify and check to the order.
//
// One rule stands above the order: nothing in a payload whose signature did
// not verify is judged, as none of it can be trusted. So such a token is
// bad_signature even when its payload would be malformed.

// winner returns whichever of a and b comes first in apitype.Reasons. ""
// (no reason: active) loses to every reason, and a reason missing from the
// list loses to every listed one.
func winner(a, b string) string {
	if rank(b) < rank(a) {
		return b
	}
	return a
}

func rank(reason string) int {
	if reason == "" {
		return len(apitype.Reasons) + 1
	}
	if i := slices.Index(apitype.Reasons, reason); i >= 0 {
		return i
	}
	return len(apitype.Reasons)
}

// clockReason reports whether reason may change as the clock moves. A
// token refused only for such a reason is still cached: once its time comes,
// or as it has passed, a hit answers from the clock.
func clockReason(reason string) bool {
	return reason == apitype.ReasonExpired || reason == apitype.ReasonNotYetValid
}

// claimErrors are the claim errors golang-jwt reports, with their reasons.
// It joins every one that applies into one error.
var claimErrors = []struct {
	err    error
	reason string
}{
	{jwt.ErrInvalidType, apitype.ReasonMalformed}, // a claim golang-jwt reads has the wrong type
	{jwt.ErrTokenRequiredClaimMissing, apitype.ReasonMissingClaim},
	{jwt.ErrTokenInvalidIssuer, apitype.ReasonBadIssuer},
	{jwt.ErrTokenInvalidAudience, apitype.ReasonBadAudience},
	{jwt.ErrTokenExpired, apitype.ReasonExpired},
	{jwt.ErrTokenNotValidYet, apitype.ReasonNotYetValid},
}

// claimsReason is the winning reason of golang-jwt's claim errors in err
// (an ErrTokenInvalidClaims), malformed when it reports none revokd knows.
func claimsReason(err error) string {
	var reason string
	for _, c := range claimErrors {
		if errors.Is(err, c.err) {
			reason = winner(reason, c.reason)
		}
	}
	if reason == "" {
		return apitype.ReasonMalformed
	}
	return reason
}
