// Package signer mints the tokens revokd issues and refreshes (POST
// /v1/issue, POST /v1/refresh): it reads the signing key (--signing-key,
// a PEM private key or an HMAC secret), builds each token's payload with
// the session rules the validation pipeline enforces (orig_iat and sid
// kept across refreshes, exp bounded by the maximum session age, issue
// times to the microsecond), signs it, and publishes the public
// verification keys as a JSON Web Key Set (GET /v1/jwks).
//
// It judges no token: the daemon validates what it presents and what it
// mints through the one pipeline.
package signer
