package daemon

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// ndjsonReadBuffer holds a few pipelined requests; longer lines are
// assembled across refills.
const ndjsonReadBuffer = 16 << 10

// conn is one accepted connection. Its Close is the only way it ends, so the
// connection slot, the open-connections gauge and the server's wait group are
// released exactly once, whichever framing (or net/http) closes it.
type conn struct {
	net.Conn
	srv  *Server
	br   *bufio.Reader // holds the peeked first byte and whatever came with it
	peer Peer          // read at accept, for the per-uid cap and the write checks
	once sync.Once
}

// Read replays what the framing peek buffered, then reads the socket
// directly so the HTTP path is not double-buffered.
func (c *conn) Read(p []byte) (int, error) {
	if c.br.Buffered() > 0 {
		return c.br.Read(p)
	}
	return c.Conn.Read(p)
}

func (c *conn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		err = c.Conn.Close()
		c.srv.connDone(c)
	})
	return err
}

// serve picks the framing from the first byte and hands the connection on.
// It runs in the connection's own goroutine, so a client that connects and
// says nothing holds only its own slot, and only until the first-byte
// deadline.
func (c *conn) serve() {
	s := c.srv
	c.Conn.SetReadDeadline(time.Now().Add(s.lim.firstByteTimeout))
	if s.shuttingDown() {
		c.Close()
		return
	}
	first, err := c.br.Peek(1)
	if err != nil {
		c.Close()
		return
	}
	if first[0] == '{' {
		s.m.connsNDJSON.Inc()
		s.serveNDJSON(c)
		c.Close()
		return
	}
	s.m.connsHTTP.Inc()
	// net/http sets its own deadlines per request; start it with none.
	c.Conn.SetReadDeadline(time.Time{})
	s.untrack(c)
	select {
	case s.httpLn.conns <- c:
	case <-s.done:
		c.Close()
	}
}

// chanListener feeds connections the framing peek judged to be HTTP to a
// net/http.Server.
type chanListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
	addr   net.Addr
}

func newChanListener() *chanListener {
	return &chanListener{
		conns:  make(chan net.Conn),
		closed: make(chan struct{}),
		addr:   &net.UnixAddr{Name: "revokd", Net: "unix"},
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
