// Package daemon serves revokd's Unix socket: it picks each connection's
// framing from its first byte (NDJSON for the fast path, HTTP/1.1 for
// everything else), routes requests to a Backend, enforces limits, timeouts
// and peer credentials, and exports metrics. Service is the production
// Backend: it glues the validation pipeline, the replica and the source.
package daemon
