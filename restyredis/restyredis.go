// Package restyredis provides the Lua module resty.redis: the
// lua-resty-redis API on go-redis, registered with the engine at init
// (luaplugin.RegisterModule).
//
// Each Redis server (address and TLS settings) has one go-redis client per
// pool, used to dial and initialise connections and to bound how many are
// open (redisMaxConnsPerServer). connect takes a dedicated connection
// (Client.EphemeralConn, whose Close really closes it). set_keepalive puts
// it in this module's own keepalive pool, named like the cosocket pool
// ("host:port", or the `pool` option), where the next connect finds it.
//
// Connection state never leaks from one user of a pooled connection to
// the next:
//   - the database: a connection remembers the database it has selected;
//     when a connect (to database 0, or to opts.db) gets a pooled
//     connection that selected another one, the next command is sent
//     after a SELECT in the same round trip;
//   - authentication: pooled connections are kept apart by the identity
//     they authenticated as (AUTH from connect's options or from
//     red:auth()); a connect without credentials only gets a connection
//     that never authenticated, or one authenticated by the same
//     red:auth() arguments the caller then sends (the usual "auth if
//     get_reused_times() == 0" pattern keeps working and reuses
//     connections);
//   - other session state (WATCH, CLIENT SETNAME/TRACKING, HELLO,
//     READONLY...): the connection is closed instead of being pooled;
//     set_keepalive refuses a connection inside MULTI ("in transaction").
//
// Timeouts work as cosocket ones: the connect timeout bounds the dial
// (and waiting for a free connection), the send and read timeouts each
// socket write and read. A connection that timed out or failed is closed.
//
// As OpenResty does with cosockets, a connection the script neither closed
// nor handed to set_keepalive is closed when the run (phase handler or
// timer callback) that connected ends (see cosocket.RunEnd).
//
// Every wait on the network (the dial, TLS handshake, AUTH and SELECT of a
// new connection, waiting for a free connection, each command and each
// pipeline) runs between vm.Suspend() and its resume, touching no Lua
// value.
package restyredis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/cosocket"
	"github.com/caddy-resty/caddy-resty/luaplugin"
)

func init() {
	luaplugin.RegisterModule("resty.redis", open)
}

// Limits and defaults of resty.redis.
const (
	// redisDefaultTimeout is the connect, send and read timeout of an
	// object that did not set its own.
	redisDefaultTimeout = cosocket.DefaultTimeout
	// redisMaxConnsPerServer bounds the open connections to one server
	// (in use or kept alive). When it is reached, an idle kept-alive
	// connection is closed to make room, or connect waits (within its
	// connect timeout) for one to be released.
	redisMaxConnsPerServer = 128
	// redisDefaultPoolSize is the number of idle connections a keepalive
	// pool keeps when neither connect's pool_size option nor
	// set_keepalive's pool_size says.
	redisDefaultPoolSize = cosocket.DefaultPoolSize
	// redisDefaultIdleTimeout is how long a kept-alive connection waits
	// for reuse when set_keepalive gives no timeout; 0 means no limit.
	redisDefaultIdleTimeout = cosocket.DefaultKeepaliveTimeout
	// redisMaxServers bounds the distinct servers (address and TLS
	// settings) of a pool.
	redisMaxServers = 256

	redisLibVersion = "0.31"
)

// redisPools is the pool-wide state of resty.redis (a Pool resource).
type redisPools struct {
	mu      sync.Mutex
	clients map[redisServerKey]*redisClient
	// idle maps a pool name, then an identity, to idle connections
	// (oldest first).
	idle    map[string]map[string]*redisIdleList
	closed  bool
	janitor bool
	done    chan struct{}
	claims  map[string]*redisClaim
	token   uint64
}

type redisServerKey struct {
	network, addr string
	tls, verify   bool
	serverName    string
}

type redisClient struct {
	c    *redis.Client
	open int // live connections, under redisPools.mu
}

type redisIdleList struct {
	size  int
	conns []*redisConn
}

// redisConn is one connection to a Redis server.
type redisConn struct {
	rc     *redis.Conn
	client *redisClient
	pools  *redisPools
	net    *redisNetConn

	db       int    // database selected on the connection
	identity string // who it authenticated as ("" never)
	uses     int
	watching bool
	dirty    bool // carries session state that cannot be undone
	expires  time.Time
	closed   bool
}

func (c *redisConn) close() {
	if c.closed {
		return
	}
	c.closed = true
	_ = c.rc.Close()
	c.pools.mu.Lock()
	c.client.open--
	c.pools.mu.Unlock()
}

// setTimeouts sets the send and read timeouts of the next socket I/O.
func (c *redisConn) setTimeouts(send, read time.Duration) {
	if c.net != nil {
		c.net.sendTO.Store(int64(send))
		c.net.readTO.Store(int64(read))
	}
}

// redisNetConn wraps a dialed connection. go-redis dials on a goroutine
// of its own, so the dialer does not know which connect a connection is
// for: connect sends a token (ECHO caddy-resty-claim:...) in the first
// commands on a new connection, and the wrapper that sees it write the
// token is claimed by that connect. From then on every read and write
// gets the timeout of the object using the connection as its deadline;
// before, the deadlines go-redis derives from connect's context apply.
type redisNetConn struct {
	net.Conn
	pools          *redisPools
	claimed        atomic.Bool
	readTO, sendTO atomic.Int64
}

const redisClaimPrefix = "caddy-resty-claim:"

func (c *redisNetConn) Read(b []byte) (int, error) {
	if c.claimed.Load() {
		if to := c.readTO.Load(); to > 0 {
			_ = c.Conn.SetReadDeadline(time.Now().Add(time.Duration(to)))
		}
	}
	return c.Conn.Read(b)
}

// Close closes the connection without waiting on the network (see
// cosocket.Close).
func (c *redisNetConn) Close() error { return cosocket.Close(c.Conn) }

func (c *redisNetConn) Write(b []byte) (int, error) {
	if !c.claimed.Load() {
		if i := bytes.Index(b, []byte(redisClaimPrefix)); i >= 0 && len(b) >= i+len(redisClaimPrefix)+16 {
			c.pools.claim(string(b[i:i+len(redisClaimPrefix)+16]), c)
		}
	}
	if c.claimed.Load() {
		if to := c.sendTO.Load(); to > 0 {
			_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Duration(to)))
		}
	}
	return c.Conn.Write(b)
}

// redisClaim is a connect waiting to learn its connection.
type redisClaim struct {
	read, send time.Duration
	conn       atomic.Pointer[redisNetConn]
}

// claim hands connection c to the connect that registered token.
func (ps *redisPools) claim(token string, c *redisNetConn) {
	ps.mu.Lock()
	cl := ps.claims[token]
	delete(ps.claims, token)
	ps.mu.Unlock()
	if cl == nil {
		return
	}
	c.readTO.Store(int64(cl.read))
	c.sendTO.Store(int64(cl.send))
	c.claimed.Store(true)
	cl.conn.Store(c)
}

// redisTLSError marks a failed TLS handshake.
type redisTLSError struct{ err error }

func (e *redisTLSError) Error() string { return e.err.Error() }
func (e *redisTLSError) Unwrap() error { return e.err }

func (ps *redisPools) dialer(k redisServerKey) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: redisDefaultTimeout}
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		var c net.Conn = raw
		if k.tls {
			cfg := &tls.Config{InsecureSkipVerify: !k.verify, ServerName: k.serverName} //nolint:gosec // ssl_verify defaults to false in lua-resty-redis
			if cfg.ServerName == "" && network != "unix" {
				cfg.ServerName, _, _ = net.SplitHostPort(addr)
			}
			tc := tls.Client(raw, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, &redisTLSError{err}
			}
			c = tc
		}
		return &redisNetConn{Conn: c, pools: ps}, nil
	}
}

// Close closes the kept-alive connections and the clients.
func (ps *redisPools) Close() error {
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		return nil
	}
	ps.closed = true
	var idle []*redisConn
	for _, byID := range ps.idle {
		for _, l := range byID {
			idle = append(idle, l.conns...)
		}
	}
	ps.idle = nil
	clients := ps.clients
	ps.clients = nil
	if ps.janitor {
		close(ps.done)
	}
	ps.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
	for _, c := range clients {
		_ = c.c.Close()
	}
	return nil
}

// client returns the client of server k.
func (ps *redisPools) client(k redisServerKey) (*redisClient, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil, errors.New("closed")
	}
	if c, ok := ps.clients[k]; ok {
		return c, nil
	}
	if len(ps.clients) >= redisMaxServers {
		return nil, errors.New("too many distinct redis servers")
	}
	if ps.clients == nil {
		ps.clients = make(map[redisServerKey]*redisClient)
	}
	c := &redisClient{c: redis.NewClient(&redis.Options{
		Network:                  k.network,
		Addr:                     k.addr,
		Dialer:                   ps.dialer(k),
		Protocol:                 2,
		DisableIdentity:          true,
		MaxRetries:               -1,
		DialerRetries:            1,
		DialTimeout:              redisDefaultTimeout, // connect waits for the dial within its own timeout
		ReadTimeout:              -1,                  // per-I/O deadlines come from redisNetConn
		WriteTimeout:             -1,
		ContextTimeoutEnabled:    true,
		PoolSize:                 redisMaxConnsPerServer,
		MaxActiveConns:           redisMaxConnsPerServer,
		PoolTimeout:              redisDefaultTimeout,
		ConnMaxIdleTime:          -1,
		PipelinePoolSize:         -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})}
	ps.clients[k] = c
	return c, nil
}

// take returns an idle connection of pool name authenticated as id.
func (ps *redisPools) take(name, id string) *redisConn {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	l := ps.idle[name][id]
	if l == nil {
		return nil
	}
	now := time.Now()
	for n := len(l.conns); n > 0; n = len(l.conns) {
		c := l.conns[n-1]
		l.conns[n-1] = nil
		l.conns = l.conns[:n-1]
		if c.expires.IsZero() || now.Before(c.expires) {
			return c
		}
		go c.close() // expired; close off the lock
	}
	return nil
}

// hasIdle tells whether pool name has idle connections of any identity.
func (ps *redisPools) hasIdle(name string) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, l := range ps.idle[name] {
		if len(l.conns) > 0 {
			return true
		}
	}
	return false
}

// put keeps c alive in pool name for at most idle (0: no limit). The
// pool keeps at most size connections: the oldest is closed.
func (ps *redisPools) put(name string, c *redisConn, size int, idle time.Duration) {
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		c.close()
		return
	}
	if ps.idle == nil {
		ps.idle = make(map[string]map[string]*redisIdleList)
	}
	byID := ps.idle[name]
	if byID == nil {
		byID = make(map[string]*redisIdleList)
		ps.idle[name] = byID
	}
	l := byID[c.identity]
	if l == nil {
		if size <= 0 {
			size = redisDefaultPoolSize
		}
		l = &redisIdleList{size: size}
		byID[c.identity] = l
	}
	c.expires = time.Time{}
	if idle > 0 {
		c.expires = time.Now().Add(idle)
	}
	l.conns = append(l.conns, c)
	var evicted *redisConn
	if len(l.conns) > l.size {
		evicted = l.conns[0]
		copy(l.conns, l.conns[1:])
		l.conns[len(l.conns)-1] = nil
		l.conns = l.conns[:len(l.conns)-1]
	}
	if idle > 0 && !ps.janitor {
		ps.janitor = true
		ps.done = make(chan struct{})
		go ps.sweep(ps.done)
	}
	ps.mu.Unlock()
	if evicted != nil {
		evicted.close()
	}
}

// makeRoom closes an idle connection of client when it has as many open
// connections as allowed, so that a new one can be dialed.
func (ps *redisPools) makeRoom(client *redisClient) {
	ps.mu.Lock()
	if client.open < redisMaxConnsPerServer {
		ps.mu.Unlock()
		return
	}
	var victim *redisConn
	var from *redisIdleList
	at := -1
	for _, byID := range ps.idle {
		for _, l := range byID {
			for i, c := range l.conns {
				if c.client == client && (victim == nil || c.expires.Before(victim.expires)) {
					victim, from, at = c, l, i
				}
			}
		}
	}
	if victim != nil {
		from.conns = append(from.conns[:at], from.conns[at+1:]...)
	}
	ps.mu.Unlock()
	if victim != nil {
		victim.close()
	}
}

// sweep closes the kept-alive connections whose idle timeout passed.
func (ps *redisPools) sweep(done chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			var expired []*redisConn
			ps.mu.Lock()
			for name, byID := range ps.idle {
				for id, l := range byID {
					kept := l.conns[:0]
					for _, c := range l.conns {
						if !c.expires.IsZero() && !now.Before(c.expires) {
							expired = append(expired, c)
						} else {
							kept = append(kept, c)
						}
					}
					clear(l.conns[len(kept):])
					l.conns = kept
					if len(kept) == 0 {
						delete(byID, id)
					}
				}
				if len(byID) == 0 {
					delete(ps.idle, name)
				}
			}
			ps.mu.Unlock()
			for _, c := range expired {
				c.close()
			}
		}
	}
}

// redisIdentity names the credentials a connection authenticated with.
func redisIdentity(user, password string) string {
	sum := sha256.Sum256([]byte(password))
	return user + "\x00" + hex.EncodeToString(sum[:16])
}

// Object states.
const (
	redisClosed = iota
	// redisPending: connected, but the connection is picked by the first
	// command (see bind).
	redisPending
	redisConnected
)

// restyRedis is a red object.
type restyRedis struct {
	connectTO, sendTO, readTO time.Duration
	guard                     cosocket.Guard

	state    int
	conn     *redisConn
	server   redisServerKey
	poolName string
	poolSize int
	db       int

	pipeline     [][]any
	inPipeline   bool
	inMulti      bool
	inMultiSaved bool
	modPrefix    string

	// runEnd closes the connection at the end of the run that made it.
	runEnd cosocket.RunEnd
}

// closeAtRunEnd closes the object's connection at the end of the current
// run if it is still connected then (see cosocket.RunEnd).
func (o *restyRedis) closeAtRunEnd(vm *luaplugin.VM) {
	o.runEnd.Arm(vm, o.closeIfConnected)
}

func (o *restyRedis) closeIfConnected() {
	if o.state != redisClosed {
		o.release(true)
	}
}

type redisModule struct {
	vm    *luaplugin.VM
	pools *redisPools
	mod   *lua.LTable
	objMT *lua.LTable
}

func open(vm *luaplugin.VM, L *lua.LState) lua.LValue {
	m := &redisModule{
		vm:    vm,
		pools: vm.Resource("resty.redis", func() any { return &redisPools{} }).(*redisPools),
	}
	mod := L.NewTable()
	m.mod = mod
	mod.RawSetString("_VERSION", lua.LString(redisLibVersion))
	fns := map[string]lua.LGFunction{
		"new":                    m.new,
		"set_timeout":            m.setTimeout,
		"set_timeouts":           m.setTimeouts,
		"connect":                m.connect,
		"set_keepalive":          m.setKeepalive,
		"get_reused_times":       m.getReusedTimes,
		"close":                  m.close,
		"init_pipeline":          m.initPipeline,
		"commit_pipeline":        m.commitPipeline,
		"cancel_pipeline":        m.cancelPipeline,
		"hmset":                  m.hmset,
		"hmget":                  m.hmget,
		"array_to_hash":          redisArrayToHash,
		"read_reply":             m.readReply,
		"add_commands":           m.addCommands,
		"register_module_prefix": m.registerModulePrefix,
	}
	for name, fn := range fns {
		mod.RawSetString(name, L.NewFunction(fn))
	}
	// Any other name is a Redis command (methods are made on demand, as
	// in lua-resty-redis).
	modMT := L.NewTable()
	modMT.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		name, ok := L.Get(2).(lua.LString)
		if !ok {
			L.Push(lua.LNil)
			return 1
		}
		fn := m.commandFunc(L, string(name))
		t.RawSetString(string(name), fn)
		L.Push(fn)
		return 1
	}))
	mod.Metatable = modMT
	m.objMT = L.NewTable()
	m.objMT.RawSetString("__index", mod)
	return mod
}

func (m *redisModule) commandFunc(L *lua.LState, name string) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		o := m.object(L)
		return m.command(L, o, name, 2)
	})
}

func (m *redisModule) new(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	o := &restyRedis{
		connectTO: redisDefaultTimeout,
		sendTO:    redisDefaultTimeout,
		readTO:    redisDefaultTimeout,
	}
	return luaplugin.PushObject(L, o, m.objMT)
}

func (m *redisModule) object(L *lua.LState) *restyRedis {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if o, ok := ud.Value.(*restyRedis); ok {
			o.guard.Enter(L)
			return o
		}
	}
	L.ArgError(1, "expecting a redis object (use red:method(), not red.method())")
	return nil
}

func (m *redisModule) setTimeout(L *lua.LState) int {
	o := m.object(L)
	cosocket.SetTimeouts(L, false, redisDefaultTimeout, &o.connectTO, &o.sendTO, &o.readTO)
	return 0
}

func (m *redisModule) setTimeouts(L *lua.LState) int {
	o := m.object(L)
	cosocket.SetTimeouts(L, true, redisDefaultTimeout, &o.connectTO, &o.sendTO, &o.readTO)
	return 0
}

// release detaches the object from its connection, closing it or not.
func (o *restyRedis) release(closeIt bool) {
	if o.conn != nil && closeIt {
		o.conn.close()
	}
	o.conn = nil
	o.state = redisClosed
	o.inMulti = false
}

func (o *restyRedis) attach(c *redisConn) {
	c.uses++
	o.conn = c
	o.state = redisConnected
}

func redisPushErr(L *lua.LState, msg string) int {
	return luaplugin.PushFail(L, msg)
}

// connect: ok, err = red:connect(host, port, opts?) or
// red:connect("unix:/path", opts?)
func (m *redisModule) connect(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	o := m.object(L)
	hostV := L.Get(2)
	host, ok := hostV.(lua.LString)
	if !ok {
		L.RaiseError("bad argument #1 host: string expected, got %s", hostV.Type())
	}
	var k redisServerKey
	var opts *lua.LTable
	defaultPool := ""
	if strings.HasPrefix(string(host), "unix:") {
		switch v := L.Get(3).(type) {
		case *lua.LNilType:
		case *lua.LTable:
			opts = v
		default:
			L.RaiseError("bad argument #2 opts: nil or table expected, got %s", v.Type())
		}
		k.network, k.addr = "unix", strings.TrimPrefix(string(host), "unix:")
		defaultPool = string(host)
	} else {
		portV := L.Get(3)
		port, ok := cosocket.String(portV)
		n, err := strconv.Atoi(port)
		if !ok || err != nil {
			L.RaiseError("bad argument #2 port: number expected, got %s", portV.Type())
		}
		switch v := L.Get(4).(type) {
		case *lua.LNilType:
		case *lua.LTable:
			opts = v
		default:
			L.RaiseError("bad argument #3 opts: nil or table expected, got %s", v.Type())
		}
		k.network = "tcp"
		k.addr = net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(string(host), "["), "]"), strconv.Itoa(n))
		defaultPool = string(host) + ":" + strconv.Itoa(n)
	}
	var db, poolSize int
	var user, password, pool string
	if opts != nil {
		if v, ok := opts.RawGetString("db").(lua.LNumber); ok {
			db = int(v)
		}
		password, _ = cosocket.String(opts.RawGetString("password"))
		if password != "" {
			user, _ = cosocket.String(opts.RawGetString("username"))
		}
		pool, _ = cosocket.String(opts.RawGetString("pool"))
		if v, ok := opts.RawGetString("pool_size").(lua.LNumber); ok {
			poolSize = int(v)
		}
		if lua.LVAsBool(opts.RawGetString("ssl")) {
			k.tls = true
			k.verify = lua.LVAsBool(opts.RawGetString("ssl_verify"))
			k.serverName, _ = cosocket.String(opts.RawGetString("server_name"))
		}
	}
	if pool == "" {
		pool = defaultPool
		if user != "" {
			pool += "/" + user
		}
		if opts != nil && opts.RawGetString("db") != lua.LNil {
			pool += "/" + strconv.Itoa(db)
		}
	}
	if o.state != redisClosed {
		// connecting a connected cosocket closes its connection first
		o.release(true)
	}
	o.server, o.poolName, o.poolSize, o.db = k, pool, poolSize, db
	o.inMulti = false
	identity := ""
	if password != "" {
		identity = redisIdentity(user, password)
	}
	if c := m.pools.take(pool, identity); c != nil {
		o.attach(c)
	} else if identity == "" && m.pools.hasIdle(pool) {
		o.state = redisPending
	} else {
		c, err := m.dial(o, user, password, db)
		if err != nil {
			return redisPushErr(L, err.Error())
		}
		o.attach(c)
	}
	o.closeAtRunEnd(m.vm)
	L.Push(lua.LNumber(1))
	return 1
}

// dial opens a connection for o, authenticated and with db selected.
func (m *redisModule) dial(o *restyRedis, user, password string, db int) (*redisConn, error) {
	client, err := m.pools.client(o.server)
	if err != nil {
		return nil, err
	}
	m.pools.makeRoom(client)
	cl := &redisClaim{read: o.readTO, send: o.sendTO}
	m.pools.mu.Lock()
	m.pools.token++
	token := fmt.Sprintf("%s%016x", redisClaimPrefix, m.pools.token)
	if m.pools.claims == nil {
		m.pools.claims = make(map[string]*redisClaim)
	}
	m.pools.claims[token] = cl
	m.pools.mu.Unlock()
	defer func() {
		m.pools.mu.Lock()
		delete(m.pools.claims, token)
		m.pools.mu.Unlock()
	}()
	// The context bounds waiting for a free connection, the dial and the
	// connection's handshake; the commands below get the read timeout
	// once the connection is claimed.
	ctx, cancel := context.WithTimeout(m.vm.Context(), o.connectTO)
	defer cancel()
	rc := client.c.EphemeralConn()
	var authCmd, selectCmd *redis.Cmd
	resume := o.guard.Suspend(m.vm)
	cmds, err := rc.Pipelined(ctx, func(p redis.Pipeliner) error {
		if password != "" {
			if user != "" {
				authCmd = p.Do(ctx, "AUTH", user, password)
			} else {
				authCmd = p.Do(ctx, "AUTH", password)
			}
		}
		if db != 0 {
			selectCmd = p.Do(ctx, "SELECT", strconv.Itoa(db))
		}
		p.Do(ctx, "ECHO", token)
		return nil
	})
	resume()
	if err != nil && !isRedisError(err) {
		_ = rc.Close()
		var tlsErr *redisTLSError
		if errors.As(err, &tlsErr) {
			return nil, errors.New("failed to do ssl handshake: " + cosocket.Error(tlsErr.err))
		}
		return nil, errors.New(cosocket.Error(err))
	}
	for _, cmd := range cmds {
		if e := cmd.Err(); e != nil && e != redis.Nil && !isRedisError(e) {
			_ = rc.Close()
			return nil, errors.New(cosocket.Error(e))
		}
	}
	if authCmd != nil && authCmd.Err() != nil {
		_ = rc.Close()
		return nil, errors.New("failed to authenticate: " + authCmd.Err().Error())
	}
	if selectCmd != nil && selectCmd.Err() != nil {
		_ = rc.Close()
		return nil, fmt.Errorf("failed to select database %d: %s", db, selectCmd.Err().Error())
	}
	c := &redisConn{rc: rc, client: client, pools: m.pools, net: cl.conn.Load(), db: db}
	if password != "" {
		c.identity = redisIdentity(user, password)
	}
	m.pools.mu.Lock()
	client.open++
	m.pools.mu.Unlock()
	return c, nil
}

func isRedisError(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// bind gives a pending object its connection: one authenticated as
// authID if there is one (then the AUTH need not be sent: bind returns
// true), else one that never authenticated, else a new one.
func (m *redisModule) bind(o *restyRedis, authID string) (skipAuth bool, err error) {
	if authID != "" {
		if c := m.pools.take(o.poolName, authID); c != nil {
			o.attach(c)
			return true, nil
		}
	}
	if c := m.pools.take(o.poolName, ""); c != nil {
		o.attach(c)
		return false, nil
	}
	c, err := m.dial(o, "", "", o.db)
	if err != nil {
		o.state = redisClosed
		return false, err
	}
	o.attach(c)
	return false, nil
}

// Commands that would break the request/reply flow of a pooled connection.
var redisUnsupported = map[string]string{
	"subscribe":    "Pub/Sub",
	"psubscribe":   "Pub/Sub",
	"ssubscribe":   "Pub/Sub",
	"unsubscribe":  "Pub/Sub",
	"punsubscribe": "Pub/Sub",
	"sunsubscribe": "Pub/Sub",
	"monitor":      "MONITOR",
	"sync":         "SYNC",
	"psync":        "PSYNC",
}

// Commands not preceded by the SELECT that brings a reused connection to
// the object's database (they do not depend on it, or must come first).
var redisNoSelect = map[string]bool{"select": true, "auth": true, "hello": true, "reset": true, "quit": true}

// redisArg converts a command argument as lua-resty-redis does.
func redisArg(v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		f := float64(x)
		if (f >= 1e14 || f <= -1e14) && f == math.Floor(f) && math.Abs(f) <= 1<<63 {
			return strconv.FormatFloat(f, 'f', 0, 64)
		}
		return luaplugin.FormatNumber(f)
	}
	return luaplugin.ToString(v)
}

// redisArgs collects the arguments from index from on, without the
// trailing nils.
func redisArgs(L *lua.LState, name string, from int) []any {
	top := L.GetTop()
	for top >= from && L.Get(top) == lua.LNil {
		top--
	}
	args := make([]any, 0, top-from+2)
	args = append(args, name)
	for i := from; i <= top; i++ {
		args = append(args, redisArg(L.Get(i)))
	}
	return args
}

// command runs Redis command name with the arguments from index from on.
func (m *redisModule) command(L *lua.LState, o *restyRedis, name string, from int) int {
	if o.modPrefix != "" {
		name = o.modPrefix + "." + name
		o.modPrefix = ""
	}
	return m.run(L, o, redisArgs(L, name, from))
}

// run runs one command (or queues it in a pipeline) and pushes its result.
func (m *redisModule) run(L *lua.LState, o *restyRedis, args []any) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	name := strings.ToLower(args[0].(string))
	if what, ok := redisUnsupported[name]; ok {
		return redisPushErr(L, what+" is not supported by caddy-resty")
	}
	if name == "client" && len(args) > 1 && strings.EqualFold(args[1].(string), "reply") {
		return redisPushErr(L, "CLIENT REPLY is not supported by caddy-resty")
	}
	if o.inPipeline {
		o.pipeline = append(o.pipeline, args)
		return 0
	}
	switch o.state {
	case redisClosed:
		return redisPushErr(L, "closed")
	case redisPending:
		authID := ""
		if name == "auth" {
			authID = redisAuthIdentity(args)
		}
		skip, err := m.bind(o, authID)
		if err != nil {
			return redisPushErr(L, err.Error())
		}
		if skip {
			L.Push(lua.LString("OK"))
			return 1
		}
	}
	c := o.conn
	c.setTimeouts(o.sendTO, o.readTO)
	ctx := m.vm.Context()
	var cmd *redis.Cmd
	var selCmd *redis.Cmd
	resume := o.guard.Suspend(m.vm)
	if c.db != o.db && !redisNoSelect[name] {
		// the pooled connection selected another database
		_, _ = c.rc.Pipelined(ctx, func(p redis.Pipeliner) error {
			selCmd = p.Do(ctx, "SELECT", strconv.Itoa(o.db))
			cmd = p.Do(ctx, args...)
			return nil
		})
	} else {
		cmd = c.rc.Do(ctx, args...)
	}
	resume()
	if selCmd != nil {
		if err := selCmd.Err(); err != nil {
			if !isRedisError(err) {
				o.release(true)
				return redisPushErr(L, cosocket.Error(err))
			}
			L.Push(lua.LFalse)
			L.Push(lua.LString(err.Error()))
			return 2
		}
		c.db = o.db
	}
	val, err := cmd.Result()
	if err != nil && err != redis.Nil && !isRedisError(err) {
		o.release(true)
		return redisPushErr(L, cosocket.Error(err))
	}
	if err == nil || err == redis.Nil {
		m.track(o, name, args)
	}
	return pushRedisResult(L, val, err)
}

// track updates the session state after command name succeeded.
func (m *redisModule) track(o *restyRedis, name string, args []any) {
	c := o.conn
	if c == nil {
		return
	}
	switch name {
	case "select":
		if len(args) > 1 {
			if n, err := strconv.Atoi(args[1].(string)); err == nil {
				c.db, o.db = n, n
			}
		}
	case "auth":
		c.identity = redisAuthIdentity(args)
	case "multi":
		o.inMulti = true
	case "exec", "discard":
		o.inMulti = false
		c.watching = false
	case "watch":
		c.watching = true
	case "unwatch":
		c.watching = false
	case "reset":
		c.db, o.db, c.identity, c.watching, o.inMulti = 0, 0, "", false, false
	case "quit":
		o.release(true)
	case "hello", "readonly", "readwrite", "asking":
		c.dirty = true
	case "client":
		if len(args) > 1 {
			switch strings.ToLower(args[1].(string)) {
			case "setname", "tracking", "no-evict", "no-touch", "setinfo", "caching":
				c.dirty = true
			}
		}
	}
}

// redisAuthIdentity is the identity AUTH args authenticate as.
func redisAuthIdentity(args []any) string {
	switch len(args) {
	case 2:
		return redisIdentity("", args[1].(string))
	case 3:
		return redisIdentity(args[1].(string), args[2].(string))
	}
	return "\x00invalid"
}

// pushRedisResult pushes a reply as lua-resty-redis returns it: the value
// (ngx.null for a nil reply), or false and the message of an error reply.
func pushRedisResult(L *lua.LState, val any, err error) int {
	if err == redis.Nil {
		L.Push(luaplugin.Null)
		return 1
	}
	if err != nil {
		L.Push(lua.LFalse)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(redisValue(L, val))
	return 1
}

// redisValue converts a reply value.
func redisValue(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case nil:
		return luaplugin.Null
	case string:
		return lua.LString(x)
	case int64:
		return lua.LNumber(x)
	case []any:
		t := L.CreateTable(len(x), 0)
		for i, e := range x {
			t.RawSetInt(i+1, redisValue(L, e))
		}
		return t
	case redis.Error:
		t := L.CreateTable(2, 0)
		t.RawSetInt(1, lua.LFalse)
		t.RawSetInt(2, lua.LString(x.Error()))
		return t
	case float64:
		return lua.LNumber(x)
	case bool:
		if x {
			return lua.LNumber(1)
		}
		return lua.LNumber(0)
	case map[any]any:
		// RESP3 maps (after a HELLO 3) come back flat, as RESP2 sends them
		t := L.CreateTable(2*len(x), 0)
		i := 1
		for k, e := range x {
			t.RawSetInt(i, redisValue(L, k))
			t.RawSetInt(i+1, redisValue(L, e))
			i += 2
		}
		return t
	case *big.Int:
		return lua.LString(x.String())
	case []byte:
		return lua.LString(x)
	}
	return lua.LString(fmt.Sprint(v))
}

// hmset: red:hmset(key, {field = value, ...}) or red:hmset(key, f, v, ...)
func (m *redisModule) hmset(L *lua.LState) int {
	o := m.object(L)
	if t, ok := L.Get(3).(*lua.LTable); ok && L.GetTop() == 3 {
		args := []any{"hmset", redisArg(L.Get(2))}
		t.ForEach(func(k, v lua.LValue) {
			args = append(args, redisArg(k), redisArg(v))
		})
		return m.run(L, o, args)
	}
	return m.command(L, o, "hmset", 2)
}

// hmget: red:hmget(key, {f1, f2}) or red:hmget(key, f1, f2, ...)
func (m *redisModule) hmget(L *lua.LState) int {
	o := m.object(L)
	if t, ok := L.Get(3).(*lua.LTable); ok && L.GetTop() == 3 {
		args := []any{"hmget", redisArg(L.Get(2))}
		n := t.Len()
		for i := 1; i <= n; i++ {
			args = append(args, redisArg(t.RawGetInt(i)))
		}
		return m.run(L, o, args)
	}
	return m.command(L, o, "hmget", 2)
}

// redisArrayToHash: hash = red:array_to_hash(array)
func redisArrayToHash(L *lua.LState) int {
	t := L.CheckTable(2)
	n := t.Len()
	h := L.CreateTable(0, n/2)
	for i := 1; i+1 <= n; i += 2 {
		k := t.RawGetInt(i)
		if k != lua.LNil {
			h.RawSet(k, t.RawGetInt(i+1))
		}
	}
	L.Push(h)
	return 1
}

func (m *redisModule) readReply(L *lua.LState) int {
	m.object(L)
	return redisPushErr(L, "not subscribed")
}

// addCommands: redis.add_commands(name, ...) (deprecated in the library:
// every name is a command anyway).
func (m *redisModule) addCommands(L *lua.LState) int {
	for i := 1; i <= L.GetTop(); i++ {
		if name, ok := L.Get(i).(lua.LString); ok {
			m.mod.RawSetString(string(name), m.commandFunc(L, string(name)))
		}
	}
	return 0
}

// registerModulePrefix: redis.register_module_prefix("bf") makes
// red:bf():add(...) send BF.ADD.
func (m *redisModule) registerModulePrefix(L *lua.LState) int {
	prefix := L.CheckString(1)
	m.mod.RawSetString(prefix, L.NewFunction(func(L *lua.LState) int {
		o := m.object(L)
		o.modPrefix = prefix
		L.Push(L.Get(1))
		return 1
	}))
	return 0
}

func (m *redisModule) initPipeline(L *lua.LState) int {
	o := m.object(L)
	n := 4
	if v, ok := L.Get(2).(lua.LNumber); ok && v > 0 && v < 1<<16 {
		n = int(v)
	}
	o.pipeline = make([][]any, 0, n)
	o.inPipeline = true
	o.inMultiSaved = o.inMulti
	return 0
}

func (m *redisModule) cancelPipeline(L *lua.LState) int {
	o := m.object(L)
	o.pipeline = nil
	o.inPipeline = false
	o.inMulti = o.inMultiSaved
	return 0
}

// commitPipeline: results, err = red:commit_pipeline()
func (m *redisModule) commitPipeline(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	o := m.object(L)
	if !o.inPipeline {
		return redisPushErr(L, "no pipeline")
	}
	reqs := o.pipeline
	o.pipeline, o.inPipeline = nil, false
	switch o.state {
	case redisClosed:
		return redisPushErr(L, "closed")
	case redisPending:
		if _, err := m.bind(o, ""); err != nil {
			return redisPushErr(L, err.Error())
		}
	}
	if len(reqs) == 0 {
		L.Push(L.NewTable())
		return 1
	}
	c := o.conn
	c.setTimeouts(o.sendTO, o.readTO)
	ctx := m.vm.Context()
	needSelect := c.db != o.db
	resume := o.guard.Suspend(m.vm)
	cmds, _ := c.rc.Pipelined(ctx, func(p redis.Pipeliner) error {
		if needSelect {
			p.Do(ctx, "SELECT", strconv.Itoa(o.db))
		}
		for _, args := range reqs {
			p.Do(ctx, args...)
		}
		return nil
	})
	resume()
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil && err != redis.Nil && !isRedisError(err) {
			o.release(true)
			return redisPushErr(L, cosocket.Error(err))
		}
	}
	if needSelect {
		if err := cmds[0].Err(); err == nil {
			c.db = o.db
		}
		cmds = cmds[1:]
	}
	out := L.CreateTable(len(cmds), 0)
	for i, cmd := range cmds {
		val, err := cmd.(*redis.Cmd).Result()
		switch {
		case err == redis.Nil:
			out.RawSetInt(i+1, luaplugin.Null)
		case err != nil:
			t := L.CreateTable(2, 0)
			t.RawSetInt(1, lua.LFalse)
			t.RawSetInt(2, lua.LString(err.Error()))
			out.RawSetInt(i+1, t)
		default:
			out.RawSetInt(i+1, redisValue(L, val))
		}
		if (err == nil || err == redis.Nil) && o.conn != nil {
			m.track(o, strings.ToLower(reqs[i][0].(string)), reqs[i])
		}
	}
	L.Push(out)
	return 1
}

// setKeepalive: ok, err = red:set_keepalive(max_idle_timeout?, pool_size?)
func (m *redisModule) setKeepalive(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	o := m.object(L)
	if o.inMulti && o.state == redisConnected {
		return redisPushErr(L, "in transaction")
	}
	switch o.state {
	case redisClosed:
		return redisPushErr(L, "closed")
	case redisPending:
		o.release(false)
		L.Push(lua.LNumber(1))
		return 1
	}
	c := o.conn
	o.release(false)
	if c.dirty || c.watching {
		c.close()
		L.Push(lua.LNumber(1))
		return 1
	}
	idle := redisDefaultIdleTimeout
	if v, ok := L.Get(2).(lua.LNumber); ok {
		switch {
		case v == 0:
			idle = 0 // no limit
		case v > 0:
			idle = cosocket.Timeout(v, 0)
		}
	}
	size := o.poolSize
	if v, ok := L.Get(3).(lua.LNumber); ok && v > 0 {
		size = int(v)
	}
	m.pools.put(o.poolName, c, size, idle)
	L.Push(lua.LNumber(1))
	return 1
}

func (m *redisModule) getReusedTimes(L *lua.LState) int {
	o := m.object(L)
	switch o.state {
	case redisClosed:
		return redisPushErr(L, "closed")
	case redisPending:
		L.Push(lua.LNumber(0))
		return 1
	}
	L.Push(lua.LNumber(o.conn.uses - 1))
	return 1
}

func (m *redisModule) close(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	o := m.object(L)
	if o.state == redisClosed {
		return redisPushErr(L, "closed")
	}
	o.release(true)
	L.Push(lua.LNumber(1))
	return 1
}

// Interface guards.
var (
	_ io.Closer = (*redisPools)(nil)
	_ net.Conn  = (*redisNetConn)(nil)
)
