// Package pipeline is revokd's one validation path: size and shape, header,
// signature, claims, session age and revocation, in that order, for every
// endpoint. Verified tokens are cached here (tokencache.go) so a token seen
// again skips decoding and signature work, while every answer is still
// decided against the clock and the replica.
package pipeline
