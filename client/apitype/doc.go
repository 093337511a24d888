// Package apitype holds the wire types of revokd's socket API and nothing
// else: the request and answer bodies, the NDJSON op names, the reasons a
// token is refused with, the error codes and the header names. The daemon,
// its validation pipeline and the Go client all import it, so the core never
// imports the client and each body is defined once for both framings (HTTP
// and NDJSON send the same JSON).
//
// It is modelled on tailscale's client/tailscale/apitype: types and constants
// only, so importing it links no client and no daemon.
package apitype
