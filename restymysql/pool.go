package restymysql

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/caddy-resty/caddy-resty/cosocket"
)

// The connection pools of resty.mysql: one myPools per Lua pool (a
// luaplugin Pool resource), holding the keepalive pools by name, the open
// connections per server and the connects waiting for one.
//
// A keepalive pool is what a cosocket pool is in OpenResty: named by the
// connect's `pool` option or "user:database:host:port" /
// "user:database:path", created with `pool_size` (or set_keepalive's
// size, or 30) idle connections, freed when its last connection closes.
// Unlike a cosocket pool, connections authenticated with other
// credentials (password, charset, TLS) are kept apart under the same
// name, so that a connect never gets a session logged in with a password
// it did not give.
//
// With `backlog`, a pool opens at most pool_size connections; further
// connects queue (at most backlog of them: then "too many waiting connect
// operations") until one is released or kept alive, within their connect
// timeout ("timeout"). Every pool also shares the per-server bound
// (myMaxConnsPerServer): when it is reached, an idle connection of that
// server is closed to make room, or the connect waits likewise.

// myPoolKey names a keepalive pool: the pool name and who the
// connections are logged in as.
type myPoolKey struct {
	name, identity string
}

type myPool struct {
	key     myPoolKey
	size    int
	sized   bool // size fixed (connect's pool_size/backlog, or set_keepalive)
	backlog int  // -1: no limit on open connections
	idle    []*myConn
	open    int
	waiting int
}

type myServer struct {
	open int
}

// myWaiter is a connect waiting for a connection or a slot.
type myWaiter struct {
	pool   *myPool
	server string
	ch     chan myGrant
}

// myGrant is what a waiter gets: an idle connection, or the right to dial
// (conn nil), or an error.
type myGrant struct {
	conn *myConn
	err  error
}

type myPools struct {
	mu       sync.Mutex
	closed   bool
	pools    map[myPoolKey]*myPool
	servers  map[string]*myServer
	waiters  []*myWaiter
	janitor  bool
	done     chan struct{}
	maxConns int
}

// myConn is one connection to a MySQL server.
type myConn struct {
	w         *wire
	raw       net.Conn // the TCP or unix connection under TLS
	pools     *myPools
	pool      *myPool
	server    string
	serverVer string
	reused    int
	inTrans   bool // the last status said a transaction is open
	expires   time.Time
	closed    bool
}

func newPools() *myPools {
	return &myPools{maxConns: myMaxConnsPerServer}
}

// Close closes the idle connections; connections in use are closed when
// released.
func (ps *myPools) Close() error {
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		return nil
	}
	ps.closed = true
	var idle []*myConn
	for _, p := range ps.pools {
		idle = append(idle, p.idle...)
		p.idle = nil
	}
	for _, w := range ps.waiters {
		w.pool.waiting--
		w.ch <- myGrant{err: errors.New("closed")}
	}
	ps.waiters = nil
	if ps.janitor {
		close(ps.done)
	}
	ps.mu.Unlock()
	for _, c := range idle {
		c.close(true)
	}
	return nil
}

// poolFor returns the pool of key, creating it with size and backlog
// (size 0: not fixed yet; backlog -1: none).
func (ps *myPools) poolFor(key myPoolKey, size, backlog int) *myPool {
	if ps.pools == nil {
		ps.pools = make(map[myPoolKey]*myPool)
		ps.servers = make(map[string]*myServer)
	}
	p := ps.pools[key]
	if p == nil {
		p = &myPool{key: key, size: cosocket.DefaultPoolSize, backlog: -1}
		ps.pools[key] = p
	}
	if !p.sized && (size > 0 || backlog >= 0) {
		p.sized = true
		if size > 0 {
			p.size = size
		}
		p.backlog = backlog
	}
	return p
}

func (ps *myPools) server(addr string) *myServer {
	s := ps.servers[addr]
	if s == nil {
		s = &myServer{}
		ps.servers[addr] = s
	}
	return s
}

// forget drops a pool and a server record that hold nothing any more.
func (ps *myPools) forget(p *myPool, addr string) {
	if p != nil && p.open == 0 && p.waiting == 0 && len(p.idle) == 0 && ps.pools[p.key] == p {
		delete(ps.pools, p.key)
	}
	if s := ps.servers[addr]; s != nil && s.open == 0 {
		delete(ps.servers, addr)
	}
}

// try gives a connect on pool p to server addr an idle connection, or a
// slot to dial (with evict set to an idle connection closed to make
// room), or nothing; blockedByPool tells that the pool's own limit is
// what stops it. Called with ps.mu held.
func (ps *myPools) try(p *myPool, addr string) (g *myGrant, evict *myConn, blockedByPool bool) {
	now := time.Now()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if c.expires.IsZero() || now.Before(c.expires) {
			return &myGrant{conn: c}, nil, false
		}
		// expired: close it (its slot is freed when the caller closes it)
		return nil, c, false
	}
	if p.backlog >= 0 && p.open >= p.size {
		return nil, nil, true
	}
	s := ps.server(addr)
	if s.open >= ps.maxConns {
		victim := ps.oldestIdle(addr)
		if victim == nil {
			return nil, nil, false
		}
		evict = victim
	}
	p.open++
	s.open++
	return &myGrant{}, evict, false
}

// oldestIdle removes and returns the idle connection to addr that expires
// first (any pool).
func (ps *myPools) oldestIdle(addr string) *myConn {
	var victim *myConn
	var from *myPool
	at := -1
	for _, p := range ps.pools {
		for i, c := range p.idle {
			if c.server == addr && (victim == nil || c.expires.Before(victim.expires)) {
				victim, from, at = c, p, i
			}
		}
	}
	if victim != nil {
		from.idle = append(from.idle[:at], from.idle[at+1:]...)
	}
	return victim
}

// acquire returns an idle connection of pool key (reused), or nil when the
// caller may dial a new one for pool p (when the dial or the login fails,
// the caller calls release(p, addr)). It
// waits within timeout when the pool or the server is full.
func (ps *myPools) acquire(ctx context.Context, key myPoolKey, size, backlog int, addr string, timeout time.Duration) (*myConn, *myPool, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		ps.mu.Lock()
		if ps.closed {
			ps.mu.Unlock()
			return nil, nil, errors.New("closed")
		}
		p := ps.poolFor(key, size, backlog)
		g, evict, byPool := ps.try(p, addr)
		if evict != nil && g == nil {
			// an expired idle connection: close it and look again
			ps.mu.Unlock()
			evict.closeLocked(false)
			continue
		}
		if g != nil {
			ps.mu.Unlock()
			if evict != nil {
				evict.closeLocked(true)
			}
			if g.conn != nil {
				if !alive(g.conn.raw) {
					g.conn.close(false)
					continue
				}
				g.conn.reused++
				return g.conn, p, nil
			}
			return nil, p, nil
		}
		if byPool && p.waiting >= p.backlog {
			ps.forget(p, addr)
			ps.mu.Unlock()
			return nil, nil, errors.New("too many waiting connect operations")
		}
		w := &myWaiter{pool: p, server: addr, ch: make(chan myGrant, 1)}
		p.waiting++
		ps.waiters = append(ps.waiters, w)
		ps.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(timeout)
		}
		var got myGrant
		select {
		case got = <-w.ch:
		case <-timer.C:
			if !ps.unqueue(w) {
				got = <-w.ch
				break
			}
			return nil, nil, errors.New("timeout")
		case <-ctx.Done():
			if !ps.unqueue(w) {
				got = <-w.ch
				break
			}
			return nil, nil, ctx.Err()
		}
		if got.err != nil {
			return nil, nil, got.err
		}
		if got.conn == nil {
			return nil, p, nil
		}
		if alive(got.conn.raw) {
			got.conn.reused++
			return got.conn, p, nil
		}
		got.conn.close(false)
	}
}

// unqueue removes a waiter that gave up; false means it was granted
// something meanwhile (in its channel).
func (ps *myPools) unqueue(w *myWaiter) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for i, x := range ps.waiters {
		if x == w {
			ps.waiters = append(ps.waiters[:i], ps.waiters[i+1:]...)
			w.pool.waiting--
			ps.forget(w.pool, w.server)
			return true
		}
	}
	return false
}

// dispatch hands freed slots and idle connections to the waiters, first
// come first served. Called with ps.mu held; it returns connections to
// close once the lock is released.
func (ps *myPools) dispatch() (toClose []*myConn) {
	for i := 0; i < len(ps.waiters); {
		w := ps.waiters[i]
		g, evict, _ := ps.try(w.pool, w.server)
		if evict != nil {
			if g == nil {
				// expired idle connection: free its slot now and retry
				evict.pool.open--
				ps.server(evict.server).open--
				evict.closed = true
				toClose = append(toClose, evict)
				continue
			}
			ep := evict.pool
			ep.open--
			ps.server(evict.server).open--
			evict.closed = true
			toClose = append(toClose, evict)
			ps.forget(ep, evict.server)
		}
		if g == nil {
			i++
			continue
		}
		ps.waiters = append(ps.waiters[:i], ps.waiters[i+1:]...)
		w.pool.waiting--
		w.ch <- *g
	}
	return toClose
}

// release frees the slot of a connection that is closed.
func (ps *myPools) release(p *myPool, addr string) {
	ps.mu.Lock()
	p.open--
	if s := ps.servers[addr]; s != nil {
		s.open--
	}
	toClose := ps.dispatch()
	ps.forget(p, addr)
	ps.mu.Unlock()
	for _, c := range toClose {
		c.shut(true)
	}
}

// put keeps c alive in its pool for at most idle (0: no limit); size is
// set_keepalive's pool size (0: the pool's).
func (ps *myPools) put(c *myConn, size int, idle time.Duration) {
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		c.close(true)
		return
	}
	p := c.pool
	if !p.sized {
		p.sized = true
		if size > 0 {
			p.size = size
		}
	}
	c.expires = time.Time{}
	if idle > 0 {
		c.expires = time.Now().Add(idle)
	}
	p.idle = append(p.idle, c)
	var evicted *myConn
	if len(p.idle) > p.size {
		evicted = p.idle[0]
		copy(p.idle, p.idle[1:])
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
	}
	toClose := ps.dispatch()
	if idle > 0 && !ps.janitor {
		ps.janitor = true
		ps.done = make(chan struct{})
		go ps.sweep(ps.done)
	}
	ps.mu.Unlock()
	if evicted != nil {
		evicted.close(true)
	}
	for _, c := range toClose {
		c.shut(true)
	}
}

// sweep closes the kept-alive connections whose idle timeout passed.
func (ps *myPools) sweep(done chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			var expired []*myConn
			ps.mu.Lock()
			for _, p := range ps.pools {
				kept := p.idle[:0]
				for _, c := range p.idle {
					if !c.expires.IsZero() && !now.Before(c.expires) {
						expired = append(expired, c)
					} else {
						kept = append(kept, c)
					}
				}
				clear(p.idle[len(kept):])
				p.idle = kept
			}
			ps.mu.Unlock()
			for _, c := range expired {
				c.close(true)
			}
		}
	}
}

// close closes the connection (sending COM_QUIT first when polite) and
// frees its slot.
func (c *myConn) close(polite bool) {
	c.pools.mu.Lock()
	if c.closed {
		c.pools.mu.Unlock()
		return
	}
	c.closed = true
	c.pools.mu.Unlock()
	c.shut(polite)
	c.pools.release(c.pool, c.server)
}

// closeLocked closes a connection already taken out of its pool's idle
// list by the caller (under the lock, now released).
func (c *myConn) closeLocked(polite bool) { c.close(polite) }

// shut closes the network connection without waiting on it.
func (c *myConn) shut(polite bool) {
	if polite {
		go quit(c.w.nc)
		return
	}
	_ = cosocket.Close(c.w.nc)
}
