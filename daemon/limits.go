package daemon

import "time"

// Defaults for the limits in Config. Each applies when its field is zero.
const (
	DefaultMaxConns          = 1024
	DefaultMaxBodyBytes      = 1 << 20 // a request body or NDJSON line
	DefaultFirstByteTimeout  = 10 * time.Second
	DefaultLineTimeout       = 10 * time.Second
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultShutdownTimeout   = 15 * time.Second
)

// limits are Config's limits with the defaults filled in.
type limits struct {
	maxConns          int
	maxBodyBytes      int64
	firstByteTimeout  time.Duration
	lineTimeout       time.Duration
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	maxHeaderBytes    int
	shutdownTimeout   time.Duration
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func limitsOf(c Config) limits {
	return limits{
		maxConns:          orDefault(c.MaxConns, DefaultMaxConns),
		maxBodyBytes:      orDefault(c.MaxBodyBytes, DefaultMaxBodyBytes),
		firstByteTimeout:  orDefault(c.FirstByteTimeout, DefaultFirstByteTimeout),
		lineTimeout:       orDefault(c.LineTimeout, DefaultLineTimeout),
		readHeaderTimeout: orDefault(c.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		readTimeout:       orDefault(c.ReadTimeout, DefaultReadTimeout),
		writeTimeout:      orDefault(c.WriteTimeout, DefaultWriteTimeout),
		idleTimeout:       orDefault(c.IdleTimeout, DefaultIdleTimeout),
		maxHeaderBytes:    orDefault(c.MaxHeaderBytes, DefaultMaxHeaderBytes),
		shutdownTimeout:   orDefault(c.ShutdownTimeout, DefaultShutdownTimeout),
	}
}

// connSlots caps concurrent connections.
//
// Over the cap a new connection is closed at once rather than left waiting:
// a client stuck in the accept backlog cannot tell a busy daemon from a dead
// one, while a closed connection fails fast and its pool can retry or report.
// The cap exists to bound memory and file descriptors, so a legitimate
// sidecar client with a sane pool never reaches it.
type connSlots chan struct{}

func (s connSlots) tryAcquire() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s connSlots) release() { <-s }
