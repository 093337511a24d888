package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/revokd/revokd/cache"
)

// Config configures a Server. Zero limits take the Default constants.
type Config struct {
	Backend Backend // required
	// Logout serves POST /v1/backchannel-logout; nil: the route is 404,
	// as back-channel logout is off.
	Logout Logouter
	// Tokens serves POST /v1/issue, POST /v1/refresh and GET /v1/jwks,
	// and ops issue and refresh; nil: they are 404 (an error line over
	// NDJSON).
	Tokens  Minter
	Logger  *slog.Logger // nil: discard
	Version string       // sent in apitype.VersionHeader and in status

	// Metrics receives the server's collectors and is what /metrics serves.
	// nil: a private registry, with the Go runtime and process collectors
	// added. Never the global default, so tests can build many servers.
	Metrics *prometheus.Registry

	// WriteUIDs and WriteGIDs limit revoke-all, unban, issue and a revoke
	// by bare jti to callers whose peer credentials (SO_PEERCRED; the GID
	// may be primary or supplementary) are listed. Both empty: anyone who
	// can open the socket (daemon.New fills in the daemon's own uid and
	// root when it has a signing key). A refresh, and a revoke with the token in hand,
	// are open to all.
	WriteUIDs, WriteGIDs []int

	// MaxConns caps concurrent connections; over it a new one reads one
	// line (apitype.TooManyConnections) and is closed at once.
	MaxConns int
	// MaxConnsPerUID caps one uid's share of MaxConns (default half), so
	// one local user cannot take every connection. The daemon's own uid and
	// root are exempt: probes and admins always count only against MaxConns.
	MaxConnsPerUID int
	MaxBodyBytes   int64 // an HTTP body or NDJSON line; larger gets too_large (413)

	// Clock paces the log of refused connections (at most a line a second).
	// nil: the system clock.
	Clock cache.Clock

	FirstByteTimeout time.Duration // from accept to the first byte
	LineTimeout      time.Duration // NDJSON: from a line's first byte to its newline
	IdleTimeout      time.Duration // between requests, both framings

	ReadHeaderTimeout time.Duration // HTTP
	ReadTimeout       time.Duration // HTTP: a whole request, body included
	WriteTimeout      time.Duration // HTTP: a whole answer; NDJSON: each write
	MaxHeaderBytes    int           // HTTP

	// ShutdownTimeout bounds the drain when Serve's context ends; after it
	// the remaining connections are closed.
	ShutdownTimeout time.Duration
}

// Server serves the socket API on any number of connections.
type Server struct {
	log     *slog.Logger
	lim     limits
	access  writeAccess
	m       *metrics
	h       *handlers
	httpSrv *http.Server
	httpLn  *chanListener
	slots   *connSlots
	refused *refusalLog

	// baseCtx is every request's context; it ends only when the drain is
	// given up on, so in-flight writes finish during a graceful shutdown.
	baseCtx    context.Context
	cancelBase context.CancelFunc

	done      chan struct{} // closed when shutdown begins
	startOnce sync.Once
	stopOnce  sync.Once
	wg        sync.WaitGroup // the accept loop, net/http's Serve, and every open connection

	mu    sync.Mutex
	ln    net.Listener
	conns map[*conn]struct{} // open connections not handed to net/http, woken at shutdown
}

// NewServer returns a server for cfg. It panics if cfg.Backend is nil.
func NewServer(cfg Config) *Server {
	if cfg.Backend == nil {
		panic("daemon: Config.Backend is nil")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := cfg.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	lim := limitsOf(cfg)
	clock := cfg.Clock
	if clock == nil {
		clock = cache.SystemClock{}
	}
	s := &Server{
		log:    log,
		lim:    lim,
		access: writeAccess{uids: cfg.WriteUIDs, gids: cfg.WriteGIDs},
		m:      newMetrics(reg, cfg.Backend, log),
		httpLn: newChanListener(),
		// Root and the daemon's own uid are exempt from the per-uid share:
		// health checks and operators must get in while one user misbehaves.
		slots:   newConnSlots(lim.maxConns, lim.maxConnsPerUID, 0, os.Getuid()),
		refused: &refusalLog{log: log, clock: clock},
		done:    make(chan struct{}),
		conns:   make(map[*conn]struct{}),
	}
	s.baseCtx, s.cancelBase = context.WithCancel(context.Background())
	s.h = &handlers{
		backend: cfg.Backend,
		logout:  cfg.Logout,
		tokens:  cfg.Tokens,
		access:  s.access,
		version: cfg.Version,
		maxBody: lim.maxBodyBytes,
		m:       s.m,
		log:     log,
		metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}),
	}
	s.httpSrv = &http.Server{
		Handler:           newRouter(s.h),
		ReadHeaderTimeout: lim.readHeaderTimeout,
		ReadTimeout:       lim.readTimeout,
		WriteTimeout:      lim.writeTimeout,
		IdleTimeout:       lim.idleTimeout,
		MaxHeaderBytes:    lim.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return s.baseCtx },
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if cc, ok := c.(*conn); ok && cc.peer.Known {
				return withPeer(ctx, cc.peer)
			}
			return ctx
		},
	}
	return s
}

// Handler returns the HTTP API, for tests and for embedding.
func (s *Server) Handler() http.Handler { return s.httpSrv.Handler }

// Serve accepts connections on ln until ctx is done or Shutdown is called,
// then drains in-flight requests (for at most Config.ShutdownTimeout) and
// closes ln, which removes a socket made by Listen. It returns nil after a
// clean drain. ln may be any net.Listener, such as one systemd passed.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	started := false
	s.startOnce.Do(func() { started = true })
	if !started {
		return errors.New("daemon: Serve called more than once")
	}
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	default:
	}
	s.ln = ln
	s.wg.Add(2)
	s.mu.Unlock()

	go func() {
		defer s.wg.Done()
		s.httpSrv.Serve(s.httpLn) // returns when httpLn closes, at shutdown
	}()
	acceptErr := make(chan error, 1)
	go func() {
		defer s.wg.Done()
		acceptErr <- s.acceptLoop(ln)
	}()

	var err error
	select {
	case <-ctx.Done():
	case <-s.done:
	case err = <-acceptErr:
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.lim.shutdownTimeout)
	defer cancel()
	if serr := s.Shutdown(sctx); err == nil {
		err = serr
	}
	return err
}

// acceptLoop runs until the listener is closed. Over a connection cap a new
// connection is refused at once (see connSlots).
func (s *Server) acceptLoop(ln net.Listener) error {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return nil
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("accept: %w", err)
			}
			// Out of file descriptors and the like: back off, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "err", err, "backoff", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.done:
				t.Stop()
				return nil
			}
			continue
		}
		backoff = 0
		// The peer is read here, before anything else, because the per-uid
		// cap needs it; the write checks use the same reading.
		peer, err := readPeer(nc)
		if err != nil {
			s.log.Warn("read peer credentials", "err", err)
		}
		if r, ok := s.slots.acquire(peer); !ok {
			s.m.connsRejected.Inc()
			s.refused.refused(r)
			refuse(nc, r)
			continue
		}
		s.wg.Add(1) // safe: this loop's own count keeps the group above zero
		s.m.connsOpen.Inc()
		c := &conn{Conn: nc, srv: s, peer: peer, br: bufio.NewReaderSize(nc, ndjsonReadBuffer)}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go c.serve()
	}
}

// connDone is called once per connection, by conn.Close.
func (s *Server) connDone(c *conn) {
	s.untrack(c)
	s.m.connsOpen.Dec()
	s.slots.release(c.peer)
	s.wg.Done()
}

// untrack forgets c: it has closed, or net/http owns it now and its
// Shutdown handles it.
func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// shuttingDown reports whether shutdown has begun.
func (s *Server) shuttingDown() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Shutdown stops accepting, lets requests in flight finish and closes every
// connection, then returns. When ctx ends first it closes the remaining
// connections, waits for their goroutines, and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		close(s.done)
		ln := s.ln
		// A reader waiting for a first byte or an NDJSON line is woken by an
		// expired deadline; it then sees done and closes. Requests already
		// read are answered first. Whoever sets a deadline later checks done
		// after setting it, so none is missed.
		for c := range s.conns {
			c.Conn.SetReadDeadline(time.Unix(1, 0))
		}
		s.mu.Unlock()
		if ln != nil {
			if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				s.log.Warn("close listener", "err", err)
			}
		}
	})

	httpDone := make(chan error, 1)
	go func() { httpDone <- s.httpSrv.Shutdown(ctx) }()
	drained := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(drained)
	}()

	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = fmt.Errorf("shutdown: drain cut short: %w", ctx.Err())
		s.cancelBase()
		s.httpSrv.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Conn.Close()
		}
		s.mu.Unlock()
		<-drained
	}
	<-httpDone
	s.cancelBase()
	return err
}
