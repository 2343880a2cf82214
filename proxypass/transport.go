package proxypass

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Transport. Zero values select nginx's defaults.
type Options struct {
	// ConnectTimeout bounds dialing plus the TLS handshake; SendTimeout
	// bounds each write to the upstream (a stall longer than it fails the
	// request); ReadTimeout bounds each wait for the upstream (the
	// response head, then every read of the body). 0 means 60s each.
	ConnectTimeout, SendTimeout, ReadTimeout time.Duration
	// MaxIdlePerTarget is the number of idle connections kept per Target
	// (the most recently used are kept): 0 means 32, a negative value
	// keeps none (every connection is closed after its exchange).
	MaxIdlePerTarget int
	// IdleTimeout is how long an idle connection is kept: older ones are
	// closed and never reused. 0 means 4s.
	IdleTimeout time.Duration
	// MaxHeaderBytes limits the size of a response head (and of the
	// trailers of a chunked body). 0 means 64 KiB.
	MaxHeaderBytes int
	// TLS is the base configuration of TLS targets (nil: the default, with
	// verification against the system roots). It is cloned per server
	// name, with ServerName set from the Target and NextProtos set to
	// http/1.1 only.
	TLS *tls.Config
	// DialContext dials the upstream (nil: a net.Dialer's).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

const (
	defaultTimeout     = 60 * time.Second
	defaultMaxIdle     = 32
	defaultIdleTimeout = 4 * time.Second
	defaultMaxHeader   = 64 << 10
)

// Transport sends requests to upstreams over HTTP/1.1 and keeps their
// connections alive for later requests. All the I/O of an exchange runs
// on the goroutine that calls Do and the Exchange's methods. A Transport
// is safe for concurrent use.
type Transport struct {
	o    Options
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu       sync.Mutex
	closed   bool
	isClosed atomic.Bool // closed, read without mu
	pools    map[Target]*idleList
	nidle    int
	reaping  bool
	reaper   *time.Timer
	tlsCfgs  map[string]*tls.Config

	// probeAfter: a connection idle for less is reused without the
	// liveness probe by a request with no body (see take).
	probeAfter time.Duration
}

// defaultProbeAfter is Transport.probeAfter. Servers close idle
// connections after seconds (nginx 75 s, Node 5 s, Apache 5 s), and one
// that closes after a response says so (Connection: close): a connection
// idle for less than this is very unlikely to be dead, and if it is, a
// request with no body is sent again on a new one (Do). Under load,
// connections are reused within milliseconds and skip the probe's system
// call.
const defaultProbeAfter = 200 * time.Millisecond

// idleList is the idle connections of one Target, oldest first (taken
// from the end: LIFO).
type idleList struct {
	conns []*conn
}

// Target is an upstream server: the pool of idle connections is per
// Target (all its fields).
type Target struct {
	// Addr is host:port.
	Addr string
	// TLS selects https.
	TLS bool
	// ServerName is the TLS server name (SNI and verification); empty
	// means the host of Addr (an IP address is verified against the
	// certificate's IP addresses and sends no SNI).
	ServerName string
}

// New returns a Transport with the options o.
func New(o Options) *Transport {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = defaultTimeout
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = defaultTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = defaultTimeout
	}
	if o.MaxIdlePerTarget == 0 {
		o.MaxIdlePerTarget = defaultMaxIdle
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = defaultIdleTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = defaultMaxHeader
	}
	t := &Transport{o: o, pools: make(map[Target]*idleList), tlsCfgs: make(map[string]*tls.Config), probeAfter: defaultProbeAfter}
	t.dial = o.DialContext
	if t.dial == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second}
		t.dial = d.DialContext
	}
	return t
}

// Close closes the idle connections and marks the Transport closed:
// connections in use are closed when their exchange ends, and later calls
// of Do fail with ErrClosed.
func (t *Transport) Close() error {
	t.mu.Lock()
	t.closed = true
	t.isClosed.Store(true)
	var dead []*conn
	for k, l := range t.pools {
		dead = append(dead, l.conns...)
		delete(t.pools, k)
	}
	t.nidle = 0
	if t.reaper != nil {
		t.reaper.Stop()
	}
	t.reaping = false
	t.mu.Unlock()
	for _, c := range dead {
		c.close()
	}
	return nil
}

// Idle returns the number of idle connections the Transport keeps.
func (t *Transport) Idle() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nidle
}

// take returns an idle connection of tg, or nil. A connection idle for
// probeAfter or longer, or one that is to carry a body (which could not
// be sent again), must pass the liveness probe first.
func (t *Transport) take(tg Target, hasBody bool, now time.Time) *conn {
	for {
		t.mu.Lock()
		l := t.pools[tg]
		if l == nil || len(l.conns) == 0 {
			t.mu.Unlock()
			return nil
		}
		n := len(l.conns) - 1
		c := l.conns[n]
		l.conns[n] = nil
		l.conns = l.conns[:n]
		t.nidle--
		var dead []*conn
		idle := now.Sub(c.idleAt)
		if idle > t.o.IdleTimeout {
			// The newest is too old: so are all the others.
			dead = append(dead, c)
			dead = append(dead, l.conns...)
			clear(l.conns)
			t.nidle -= len(l.conns)
			l.conns = l.conns[:0]
			c = nil
		}
		t.mu.Unlock()
		for _, d := range dead {
			d.close()
		}
		if c == nil {
			return nil
		}
		if (!hasBody && idle < t.probeAfter) || c.alive() {
			return c
		}
		c.close()
	}
}

// put keeps c idle for later requests, or closes it.
func (t *Transport) put(c *conn) {
	max := t.o.MaxIdlePerTarget
	if max < 0 {
		c.close()
		return
	}
	now := time.Now()
	c.idleAt = now
	var dead *conn
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		c.close()
		return
	}
	l := t.pools[c.tg]
	if l == nil {
		l = &idleList{conns: make([]*conn, 0, min(max, 8))}
		t.pools[c.tg] = l
	}
	if len(l.conns) >= max {
		dead = l.conns[0]
		copy(l.conns, l.conns[1:])
		l.conns[len(l.conns)-1] = c
	} else {
		l.conns = append(l.conns, c)
		t.nidle++
	}
	if !t.reaping {
		t.reaping = true
		if t.reaper == nil {
			t.reaper = time.AfterFunc(t.o.IdleTimeout, t.reap)
		} else {
			t.reaper.Reset(t.o.IdleTimeout)
		}
	}
	t.mu.Unlock()
	if dead != nil {
		dead.close()
	}
}

// reap closes the connections idle for longer than IdleTimeout; it runs
// on one timer per Transport, armed while there are idle connections.
func (t *Transport) reap() {
	now := time.Now()
	var dead []*conn
	t.mu.Lock()
	for k, l := range t.pools {
		i := 0
		for i < len(l.conns) && now.Sub(l.conns[i].idleAt) > t.o.IdleTimeout {
			i++
		}
		if i > 0 {
			dead = append(dead, l.conns[:i]...)
			n := copy(l.conns, l.conns[i:])
			clear(l.conns[n:])
			l.conns = l.conns[:n]
			t.nidle -= i
		}
		if len(l.conns) == 0 {
			delete(t.pools, k)
		}
	}
	if t.nidle > 0 && !t.closed {
		// The oldest may expire sooner; a quarter of the timeout bounds
		// how long an expired connection lingers.
		t.reaper.Reset(max(t.o.IdleTimeout/4, 10*time.Millisecond))
	} else {
		t.reaping = false
	}
	t.mu.Unlock()
	for _, c := range dead {
		c.close()
	}
}

// tlsConfig returns the configuration for the server name, cached.
func (t *Transport) tlsConfig(name string) *tls.Config {
	t.mu.Lock()
	defer t.mu.Unlock()
	if cfg := t.tlsCfgs[name]; cfg != nil {
		return cfg
	}
	var cfg *tls.Config
	if t.o.TLS != nil {
		cfg = t.o.TLS.Clone()
	} else {
		cfg = &tls.Config{}
	}
	cfg.ServerName = name
	cfg.NextProtos = []string{"http/1.1"}
	if len(t.tlsCfgs) > 1024 {
		clear(t.tlsCfgs)
	}
	t.tlsCfgs[name] = cfg
	return cfg
}

// connect dials tg (and shakes hands for TLS) within ConnectTimeout.
func (t *Transport) connect(ctx context.Context, tg Target) (*conn, error) {
	t0 := time.Now()
	dctx, cancel := context.WithTimeout(ctx, t.o.ConnectTimeout)
	defer cancel()
	raw, err := t.dial(dctx, "tcp", tg.Addr)
	if err != nil {
		return nil, t.connectErr(ctx, dctx, tg, err)
	}
	c := newConn(t, tg, raw)
	if tg.TLS {
		name := tg.ServerName
		if name == "" {
			// An IP address is verified against the certificate's IP
			// addresses, and sent without SNI (crypto/tls's rule).
			host, _, err := net.SplitHostPort(tg.Addr)
			if err != nil {
				host = tg.Addr
			}
			name = host
		}
		tc := tls.Client(raw, t.tlsConfig(name))
		if err := tc.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, t.connectErr(ctx, dctx, tg, err)
		}
		st := tc.ConnectionState()
		c.tlsState = &st
		c.setNetConn(tc)
	}
	c.connectTime = time.Since(t0)
	return c, nil
}

func (t *Transport) connectErr(ctx, dctx context.Context, tg Target, err error) error {
	k := KindConnect
	dl, hasDL := ctx.Deadline()
	switch {
	case ctx.Err() != nil || hasDL && !time.Now().Before(dl):
		// The request's own context ended (the dialer may see its
		// deadline before the context is marked done).
		k = KindCanceled
	case dctx.Err() != nil || isTimeout(err):
		k = KindConnectTimeout
	}
	return &Error{Kind: k, Addr: tg.Addr, Err: err}
}

// Do sends req to tg and reads the response head. into receives the
// final response's end-to-end fields (it is Response().Header); on1xx,
// when not nil, is called for each informational response but 101 (its h
// is valid only during the call). A request that is safe to send again
// (no byte of its body read yet) and fails on a reused connection before
// any response byte is sent again once, on a new connection.
//
// On success the caller must end the Exchange with Close (or Hijack). On
// failure the error is an *Error, or wraps ErrInvalidRequest.
func (t *Transport) Do(ctx context.Context, tg Target, req *Request, into http.Header, on1xx func(code int, h http.Header) error) (*Exchange, error) {
	start := time.Now()
	size, err := req.validate()
	if err != nil {
		return nil, err
	}
	// A small request with no body is sent without watching the context
	// first (see watchAfter); any other is watched from the start.
	lazy := size <= lazyMaxHead && (req.Body == nil || req.ContentLength == 0)
	if into == nil {
		into = make(http.Header)
	}
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, &Error{Kind: KindCanceled, Addr: tg.Addr, Err: err}
		}
		if t.isClosed.Load() {
			return nil, &Error{Kind: KindConnect, Addr: tg.Addr, Err: ErrClosed}
		}
		var c *conn
		reused := false
		if attempt == 0 {
			c = t.take(tg, req.Body != nil && req.ContentLength != 0, start)
			reused = c != nil
		}
		if c == nil {
			var err error
			if c, err = t.connect(ctx, tg); err != nil {
				return nil, err
			}
		}
		x := &Exchange{t: t, c: c, ctx: ctx, reused: reused, start: start, tlsState: c.tlsState}
		x.resp.Header = into
		if !reused {
			x.connectTime = c.connectTime
		}
		if !lazy {
			x.watch()
		}
		err := x.roundTrip(req, on1xx)
		if err == nil {
			x.headerTime = time.Since(start)
			return x, nil
		}
		x.abort()
		var pe *Error
		if reused && attempt == 0 && errors.As(err, &pe) && !pe.gotResponse && !pe.BodySent &&
			(pe.Kind == KindSend || pe.Kind == KindReset) && ctx.Err() == nil {
			clear(into)
			continue // a stale connection: once more on a new one
		}
		return nil, err
	}
}
