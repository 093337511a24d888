package client

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultMaxIdleConns is how many idle NDJSON connections a Client keeps
// when MaxIdleConns is 0.
const DefaultMaxIdleConns = 4

// Client calls a revokd daemon. Its zero value is ready to use; it is safe
// for concurrent use and must not be copied after first use. Close releases
// its idle connections.
type Client struct {
	// Socket is the daemon's socket path. Empty means DefaultSocket(), read
	// at each new connection.
	Socket string

	// MaxIdleConns caps the idle connections kept for reuse, for NDJSON and
	// HTTP each. 0 means DefaultMaxIdleConns. Calls beyond it in flight at
	// once still run, each on a connection of its own.
	MaxIdleConns int

	mu   sync.Mutex
	idle []*ndConn // NDJSON connections ready for the next call

	httpOnce sync.Once
	http     *http.Client
}

func (c *Client) socket() string {
	if c.Socket != "" {
		return c.Socket
	}
	return DefaultSocket()
}

func (c *Client) maxIdle() int {
	if c.MaxIdleConns > 0 {
		return c.MaxIdleConns
	}
	return DefaultMaxIdleConns
}

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket())
	if err != nil {
		return nil, err
	}
	return &refusalConn{Conn: conn}, nil
}

// httpClient returns the HTTP client that dials the daemon's socket. The
// host in request URLs is only a label.
func (c *Client) httpClient() *http.Client {
	c.httpOnce.Do(func() {
		c.http = &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return c.dial(ctx)
			},
			MaxIdleConns:        c.maxIdle(),
			MaxIdleConnsPerHost: c.maxIdle(),
			// Below the daemon's idle timeout would be ideal; the transport
			// retries a request that races a server-side close anyway.
			IdleConnTimeout:       30 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			DisableCompression:    true,
		}}
	})
	return c.http
}

// Close closes the idle connections. The Client stays usable: later calls
// open new ones.
func (c *Client) Close() error {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, nc := range idle {
		nc.conn.Close()
	}
	c.httpClient().CloseIdleConnections()
	return nil
}
