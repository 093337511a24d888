package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
)

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
	maxConnsPerUID    int
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
	maxConns := orDefault(c.MaxConns, DefaultMaxConns)
	// Half by default: one user's leak or flood leaves the other half to
	// everyone else. Never more than the cap, never less than one.
	perUID := min(orDefault(c.MaxConnsPerUID, max(maxConns/2, 1)), maxConns)
	return limits{
		maxConns:          maxConns,
		maxConnsPerUID:    perUID,
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

// connSlots caps concurrent connections, in all and per uid.
//
// Over a cap a new connection is refused at once rather than left waiting:
// a client stuck in the accept backlog cannot tell a busy daemon from a dead
// one, while a refused connection fails fast and its pool can retry or
// report. The global cap bounds memory and file descriptors, so a
// legitimate sidecar client with a sane pool never reaches it; the per-uid
// cap stops one local user from taking every slot and locking the others
// out. Exempt uids (the daemon's own, and root) have no share and may go
// ExemptReserve connections past the global cap, so a probe or an admin
// gets in even while other users hold every slot.
type connSlots struct {
	max, perUID int
	exempt      []int

	mu    sync.Mutex
	open  int
	byUID map[int]int // open connections of each uid held to its share
}

// ExemptReserve is how many connections past the cap root and the daemon's
// own uid may open: enough for probes and an admin's commands, few enough to leave the
// cap's bound on file descriptors nearly whole.
const ExemptReserve = 16

func newConnSlots(max, perUID int, exempt ...int) *connSlots {
	return &connSlots{max: max, perUID: perUID, exempt: exempt, byUID: make(map[int]int)}
}

// exempted reports whether p is root or the daemon's own uid.
func (s *connSlots) exempted(p Peer) bool {
	return p.Known && slices.Contains(s.exempt, p.UID)
}

// shared reports whether p's connections count against a per-uid share. A
// peer whose credentials are unknown cannot be told apart from any other,
// so only the global cap holds it.
func (s *connSlots) shared(p Peer) bool { return p.Known && !s.exempted(p) }

// acquire takes a slot for p, or says which cap refuses it.
func (s *connSlots) acquire(p Peer) (refusal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := s.max
	if s.exempted(p) {
		limit += ExemptReserve
	}
	if s.open >= limit {
		return refusal{limit: s.max}, false
	}
	if s.shared(p) {
		if s.byUID[p.UID] >= s.perUID {
			return refusal{limit: s.perUID, perUID: true, uid: p.UID}, false
		}
		s.byUID[p.UID]++
	}
	s.open++
	return refusal{}, true
}

// release gives back a slot acquire gave p.
func (s *connSlots) release(p Peer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open--
	if s.shared(p) {
		if s.byUID[p.UID]--; s.byUID[p.UID] <= 0 {
			delete(s.byUID, p.UID)
		}
	}
}

// refusal is why a connection was refused: the global cap, or its uid's
// share of it.
type refusal struct {
	limit  int
	perUID bool
	uid    int
}

// line is what the refused client reads before the close. It is plain text
// on purpose: it must make sense to either framing's client, and to a human
// with socat; the Go client recognises apitype.TooManyConnections.
func (r refusal) line() string {
	if r.perUID {
		return fmt.Sprintf("%s from uid %d (cap %d)\n", apitype.TooManyConnections, r.uid, r.limit)
	}
	return fmt.Sprintf("%s (cap %d)\n", apitype.TooManyConnections, r.limit)
}

// refuseWriteTimeout bounds the write of the refusal line. A new socket's
// buffer is empty, so the write never waits in practice; the bound only
// keeps the accept loop from ever depending on a client.
const refuseWriteTimeout = time.Second

// refusalLog logs refused connections at most once a second. The refusals
// come exactly when a client floods the daemon, and one line per refusal
// would let that client flood the log as well. The clock is injected so a
// test can step through the second without waiting for it.
type refusalLog struct {
	log     *slog.Logger
	clock   cache.Clock
	mu      sync.Mutex
	last    time.Time // when the last line was logged; zero before the first
	dropped int       // refusals not logged since then
}

func (l *refusalLog) refused(r refusal) {
	now := l.clock.Now()
	l.mu.Lock()
	if !l.last.IsZero() && now.Sub(l.last) < time.Second {
		l.dropped++
		l.mu.Unlock()
		return
	}
	dropped := l.dropped
	l.last, l.dropped = now, 0
	l.mu.Unlock()
	attrs := []any{"cap", r.limit, "suppressed", dropped}
	if r.perUID {
		l.log.Warn("connection refused: too many connections from one uid", append(attrs, "uid", r.uid)...)
		return
	}
	l.log.Warn("connection refused: too many connections", attrs...)
}

// refuse tells nc why it is refused, then closes it. The line is written
// before the close, so a client that writes its request first still reads
// it: the kernel hands over queued data before it reports the reset.
func refuse(nc net.Conn, r refusal) {
	nc.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
	io.WriteString(nc, r.line())
	nc.Close()
}
