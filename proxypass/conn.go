package proxypass

import (
	"bufio"
	"crypto/tls"
	"net"
	"sync/atomic"
	"time"
)

// readBufSize is the size of a connection's read buffer: response heads
// are parsed in it (longer lines are assembled elsewhere); body reads of
// a whole buffer bypass it.
const readBufSize = 4 << 10

// aLongTimeAgo is a deadline in the past: it makes blocked I/O return.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one upstream connection. It is used by one goroutine at a time
// (its exchange's); only the cancel hook runs elsewhere, and touches only
// raw and canceled.
type conn struct {
	t  *Transport
	tg Target
	// raw is the TCP (or dialed) connection; nc is what is read and
	// written: raw, or the tls.Conn over it.
	raw net.Conn
	nc  net.Conn
	br  *bufio.Reader

	tlsState    *tls.ConnectionState
	connectTime time.Duration
	idleAt      time.Time

	// canceled is set by the cancel hook (the request's context ended),
	// before it sets a deadline in the past.
	canceled atomic.Bool
	// cancelFn is the hook given to context.AfterFunc, made once.
	cancelFn func()

	probe prober
}

func newConn(t *Transport, tg Target, raw net.Conn) *conn {
	c := &conn{t: t, tg: tg, raw: raw, nc: raw}
	c.br = bufio.NewReaderSize(raw, readBufSize)
	c.cancelFn = c.onCancel
	c.probe.init(raw)
	return c
}

// setNetConn makes nc (a tls.Conn over raw) the connection read and
// written.
func (c *conn) setNetConn(nc net.Conn) {
	c.nc = nc
	c.br.Reset(nc)
}

// onCancel aborts the I/O in progress: the request's context ended.
func (c *conn) onCancel() {
	c.canceled.Store(true)
	_ = c.raw.SetDeadline(aLongTimeAgo)
}

// close closes the connection (the TCP one: a TLS close_notify could
// block on an upstream that does not read).
func (c *conn) close() {
	_ = c.raw.Close()
}

// alive reports whether an idle connection can be used: nothing was
// received on it (no data, no EOF, no reset) while it was idle.
func (c *conn) alive() bool {
	if c.br.Buffered() != 0 {
		return false
	}
	if ok, known := c.probe.alive(); known {
		return ok
	}
	// No raw socket: a read that must time out at once.
	_ = c.raw.SetReadDeadline(time.Now().Add(time.Microsecond))
	_, err := c.br.Peek(1)
	return err != nil && isTimeout(err) && c.br.Buffered() == 0
}
