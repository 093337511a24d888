// Package daemon assembles and serves revokd. New builds a Daemon from one
// Options (pipeline, replica, store, service, server: the wiring is written
// here once, for serve, the load tool and the tests), and Run serves its
// Unix socket: it picks each connection's framing from its first byte
// (NDJSON for the fast path, HTTP/1.1 for everything else), routes requests
// to a Backend, enforces limits, timeouts and peer credentials, and exports
// metrics. Service is the production Backend: it glues the validation
// pipeline, the replica and the source.
package daemon
