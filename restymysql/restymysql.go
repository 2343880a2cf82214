// Package restymysql provides the Lua module resty.mysql: the
// lua-resty-mysql API (new, connect, set_timeout, send_query, read_result,
// query, set_keepalive, get_reused_times, close, server_ver,
// set_compact_arrays), registered with the engine at init
// (luaplugin.RegisterModule).
//
// The MySQL protocol is spoken here (proto.go), as lua-resty-mysql speaks
// it over a cosocket: the text protocol, multi-statements and
// multi-results ("again"), the OK, ERR and EOF packets with every field
// the library returns, the authentication plugins it supports
// (mysql_native_password, caching_sha2_password, sha256_password,
// mysql_old_password, mysql_clear_password, MariaDB's client_ed25519) and
// TLS. Results have the library's shapes: rows keyed by column name (or
// compact arrays), NULL as ngx.null, integer and float columns but BIGINT
// converted to numbers, errors as nil, err, errcode, sqlstate.
//
// Connections are pooled per Lua pool (a luaplugin Pool resource, see
// pool.go): set_keepalive keeps a connection in its named pool, where the
// next connect of the same name and credentials finds it.
//
// Every wait on the network (waiting for a free connection, the dial, the
// login, each query and each result) runs between Suspend and its resume
// touching no Lua value, so a query that waits frees the Lua state for
// other requests, inside pcall too. A connection the script neither closed
// nor kept alive is closed when the run that connected it ends
// (cosocket.RunEnd), as OpenResty closes a handler's cosockets.
package restymysql

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/cosocket"
	"github.com/caddy-resty/caddy-resty/luaplugin"
)

func init() {
	luaplugin.RegisterModule("resty.mysql", open)
}

// Limits and defaults of resty.mysql.
const (
	// myDefaultTimeout is the timeout of an object that did not call
	// set_timeout (lua_socket_*_timeout).
	myDefaultTimeout = cosocket.DefaultTimeout
	// myDefaultIdleTimeout is how long a kept-alive connection waits for
	// reuse when set_keepalive gives no timeout.
	myDefaultIdleTimeout = cosocket.DefaultKeepaliveTimeout
	// myDefaultMaxPacket is the largest packet accepted from the server
	// when connect's max_packet_size does not say (1 MiB).
	myDefaultMaxPacket = 1 << 20
	// myMaxConnsPerServer bounds the open connections to one server (in
	// use or kept alive) per Caddy. When it is reached, an idle
	// connection is closed to make room, or connect waits (within its
	// timeout) for one to be released. MySQL's default max_connections
	// is 151.
	myMaxConnsPerServer = 128

	myLibVersion = "0.29"
)

// Object states, numbered as lua-resty-mysql numbers them in its errors.
const (
	stateNone        = 0
	stateConnected   = 1
	stateCommandSent = 2
)

// Column types read_result converts to numbers, as lua-resty-mysql does:
// decimal, tiny, short, long, float, double, int24, year and newdecimal
// (not longlong: a BIGINT stays a string).
var numericTypes = [256]bool{0x00: true, 0x01: true, 0x02: true, 0x03: true, 0x04: true, 0x05: true, 0x09: true, 0x0d: true, 0xf6: true}

// restyMysql is a db object's Go side (the "sock" field of its table).
type restyMysql struct {
	timeout   time.Duration
	guard     cosocket.Guard
	runEnd    cosocket.RunEnd
	conn      *myConn // nil: not connected, or closed
	state     int
	serverVer string
	maxPacket int
}

type myModule struct {
	vm    *luaplugin.VM
	pools *myPools
	mt    *lua.LTable
}

func open(vm *luaplugin.VM, L *lua.LState) lua.LValue {
	m := &myModule{
		vm:    vm,
		pools: vm.Resource("resty.mysql", func() any { return newPools() }).(*myPools),
	}
	mod := L.NewTable()
	mod.RawSetString("_VERSION", lua.LString(myLibVersion))
	for name, fn := range map[string]lua.LGFunction{
		"new":                m.new,
		"set_timeout":        m.setTimeout,
		"connect":            m.connect,
		"set_keepalive":      m.setKeepalive,
		"get_reused_times":   m.getReusedTimes,
		"close":              m.close,
		"server_ver":         m.serverVer,
		"send_query":         m.sendQuery,
		"read_result":        m.readResult,
		"query":              m.query,
		"set_compact_arrays": setCompactArrays,
	} {
		mod.RawSetString(name, L.NewFunction(fn))
	}
	m.mt = L.NewTable()
	m.mt.RawSetString("__index", mod)
	return mod
}

// new: db, err = mysql:new()
func (m *myModule) new(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	o := &restyMysql{timeout: myDefaultTimeout, maxPacket: myDefaultMaxPacket}
	ud := L.NewUserData()
	ud.Value = o
	t := L.CreateTable(0, 2)
	t.RawSetString("sock", ud)
	t.Metatable = m.mt
	L.Push(t)
	return 1
}

// object returns the Go side of the db object a method was called on, or
// nil (then the method answers "not initialized", as the library does
// for a table without a socket).
func object(L *lua.LState) *restyMysql {
	if t, ok := L.Get(1).(*lua.LTable); ok {
		if ud, ok := t.RawGetString("sock").(*lua.LUserData); ok {
			if o, ok := ud.Value.(*restyMysql); ok {
				o.guard.Enter(L)
				return o
			}
		}
	}
	return nil
}

func stateText(o *restyMysql) string {
	if o == nil || o.state == stateNone {
		return "nil"
	}
	return strconv.Itoa(o.state)
}

func notInitialized(L *lua.LState) int { return luaplugin.PushFail(L, "not initialized") }

// setTimeout: db:set_timeout(ms)
func (m *myModule) setTimeout(L *lua.LState) int {
	o := object(L)
	if o == nil {
		return notInitialized(L)
	}
	o.timeout = cosocket.Timeout(L.Get(2), myDefaultTimeout)
	return 0
}

// optString reads a string (or number) option; def when absent.
func optString(L *lua.LState, opts *lua.LTable, name, def string) string {
	v := opts.RawGetString(name)
	if v == lua.LNil || v == lua.LFalse {
		return def
	}
	s, ok := cosocket.String(v)
	if !ok {
		L.RaiseError("bad %q option type: %s", name, v.Type())
	}
	return s
}

// optCount reads pool_size (min 1) or backlog (min 0) as the cosocket
// connect does; -1 when absent.
func optCount(L *lua.LState, opts *lua.LTable, name string, least int) int {
	v := opts.RawGetString(name)
	if v == lua.LNil {
		return -1
	}
	n, ok := v.(lua.LNumber)
	if !ok {
		L.RaiseError("bad %q option type: %s", name, v.Type())
	}
	if int(n) < least {
		L.RaiseError("bad %q option value: %d", name, int(n))
	}
	return int(n)
}

// connectJob is a connect's Go side, run while the state is free.
type connectJob struct {
	key       myPoolKey
	poolSize  int
	backlog   int
	network   string
	addr      string
	timeout   time.Duration
	maxPacket int
	params    connectParams

	// results
	conn      *myConn
	reused    bool
	serverVer string
	err       *loginError
	connErr   string
}

func (m *myModule) runConnect(ctx context.Context, j *connectJob) {
	conn, p, err := m.pools.acquire(ctx, j.key, j.poolSize, j.backlog, j.addr, j.timeout)
	if err != nil {
		j.connErr = cosocket.Error(err)
		return
	}
	if conn != nil {
		conn.w.maxPacket = j.maxPacket
		j.conn, j.reused, j.serverVer = conn, true, conn.serverVer
		return
	}
	dctx, cancel := context.WithTimeout(ctx, j.timeout)
	var d net.Dialer
	nc, err := d.DialContext(dctx, j.network, j.addr)
	cancel()
	if err != nil {
		m.pools.release(p, j.addr)
		j.connErr = cosocket.Error(err)
		return
	}
	c := &myConn{w: newWire(nc), raw: nc, pools: m.pools, pool: p, server: j.addr}
	c.w.maxPacket = j.maxPacket
	c.w.readTO, c.w.sendTO = j.timeout, j.timeout
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	ver, lerr := login(c.w, j.params)
	stop()
	c.serverVer = ver
	j.conn, j.serverVer, j.err = c, ver, lerr
}

// connect: ok, err, errcode, sqlstate = db:connect(opts)
func (m *myModule) connect(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	o := object(L)
	if o == nil {
		return notInitialized(L)
	}
	self := L.Get(1).(*lua.LTable)
	opts, ok := L.Get(2).(*lua.LTable)
	if !ok {
		L.RaiseError("bad argument #1 to 'connect' (table expected, got %s)", L.Get(2).Type())
	}
	maxPacket := myDefaultMaxPacket
	if v, ok := opts.RawGetString("max_packet_size").(lua.LNumber); ok {
		maxPacket = int(v)
	}
	o.maxPacket = maxPacket
	self.RawSetString("compact", opts.RawGetString("compact_arrays"))

	j := &connectJob{timeout: o.timeout, maxPacket: maxPacket}
	p := &j.params
	p.database = optString(L, opts, "database", "")
	p.user = optString(L, opts, "user", "")
	charset := optString(L, opts, "charset", "_default")
	cs, known := charsets[charset]
	if !known {
		return luaplugin.PushFail(L, "charset '"+charset+"' is not supported")
	}
	p.charset = cs
	p.maxPacket = maxPacket
	p.sslVerify = lua.LVAsBool(opts.RawGetString("ssl_verify"))
	p.ssl = lua.LVAsBool(opts.RawGetString("ssl")) || p.sslVerify
	p.password = optString(L, opts, "password", "")
	pool := optString(L, opts, "pool", "")
	if host := optString(L, opts, "host", ""); host != "" {
		port := optString(L, opts, "port", "3306")
		if pool == "" {
			pool = p.user + ":" + p.database + ":" + host + ":" + port
		}
		n, err := strconv.Atoi(port)
		if err != nil || n <= 0 || n > 65535 {
			return luaplugin.PushFail(L, "failed to connect: bad port number: "+port)
		}
		j.network = "tcp"
		j.addr = net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), strconv.Itoa(n))
		p.serverName = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	} else {
		path := optString(L, opts, "path", "")
		if path == "" {
			return luaplugin.PushFail(L, `neither "host" nor "path" options are specified`)
		}
		if pool == "" {
			pool = p.user + ":" + p.database + ":" + path
		}
		j.network, j.addr = "unix", path
		p.unix = true
	}
	j.poolSize = optCount(L, opts, "pool_size", 1)
	j.backlog = optCount(L, opts, "backlog", 0)
	if j.poolSize < 0 {
		j.poolSize = 0
	}
	j.key = myPoolKey{name: pool, identity: identity(p)}

	if o.conn != nil {
		// connecting a connected cosocket closes its connection first
		o.conn.close(true)
		o.conn = nil
	}
	o.state = stateNone
	ctx := m.vm.Context()
	resume := o.guard.Suspend(m.vm)
	m.runConnect(ctx, j)
	resume()
	if j.connErr != "" {
		return luaplugin.PushFail(L, "failed to connect: "+j.connErr)
	}
	o.conn = j.conn
	o.runEnd.Arm(m.vm, o.closeAtRunEnd)
	if j.serverVer != "" {
		o.serverVer = j.serverVer
	}
	if e := j.err; e != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(e.msg))
		if !e.withCode {
			return 2
		}
		L.Push(lua.LNumber(e.code))
		L.Push(sqlstateValue(e.sqlstate))
		return 4
	}
	o.state = stateConnected
	L.Push(lua.LNumber(1))
	return 1
}

// identity names what a connection is logged in as, beyond the user and
// database of the pool name: the password, the charset and TLS.
func identity(p *connectParams) string {
	sum := sha256.Sum256([]byte(p.user + "\x00" + p.password + "\x00" + p.database))
	return fmt.Sprintf("%s/%d/%t/%t", hex.EncodeToString(sum[:16]), p.charset, p.ssl, p.sslVerify)
}

func sqlstateValue(s string) lua.LValue {
	if s == "" {
		return lua.LNil
	}
	return lua.LString(s)
}

// closeAtRunEnd closes what the run that connected left open.
func (o *restyMysql) closeAtRunEnd() {
	if o.conn != nil {
		o.conn.close(true)
		o.conn = nil
	}
	o.state = stateNone
}

// setKeepalive: ok, err = db:set_keepalive(max_idle_timeout?, pool_size?)
func (m *myModule) setKeepalive(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	o := object(L)
	if o == nil {
		return notInitialized(L)
	}
	if o.state != stateConnected {
		return luaplugin.PushFail(L, "cannot be reused in the current connection state: "+stateText(o))
	}
	o.state = stateNone
	c := o.conn
	if c == nil {
		return luaplugin.PushFail(L, "closed")
	}
	idle := myDefaultIdleTimeout
	if v, ok := L.Get(2).(lua.LNumber); ok {
		switch {
		case v == 0:
			idle = 0 // no limit
		case v > 0:
			idle = cosocket.Timeout(v, 0)
		}
	}
	size := 0
	if v, ok := L.Get(3).(lua.LNumber); ok {
		if v <= 0 {
			L.RaiseError("bad \"pool_size\" option value: %d", int(v))
		}
		size = int(v)
	}
	o.conn = nil
	if c.inTrans {
		// an open transaction must not pass to the pool's next user
		c.close(true)
		L.Push(lua.LNumber(1))
		return 1
	}
	m.pools.put(c, size, idle)
	L.Push(lua.LNumber(1))
	return 1
}

// getReusedTimes: times, err = db:get_reused_times()
func (m *myModule) getReusedTimes(L *lua.LState) int {
	o := object(L)
	if o == nil {
		return notInitialized(L)
	}
	if o.conn == nil {
		return luaplugin.PushFail(L, "closed")
	}
	L.Push(lua.LNumber(o.conn.reused))
	return 1
}

// close: ok, err = db:close()
func (m *myModule) close(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	o := object(L)
	if o == nil {
		return notInitialized(L)
	}
	o.state = stateNone
	if o.conn == nil {
		return luaplugin.PushFail(L, "closed")
	}
	o.conn.close(true)
	o.conn = nil
	L.Push(lua.LNumber(1))
	return 1
}

// serverVer: str = db:server_ver()
func (m *myModule) serverVer(L *lua.LState) int {
	o := object(L)
	if o == nil || o.serverVer == "" {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LString(o.serverVer))
	return 1
}

// setCompactArrays: db:set_compact_arrays(boolean)
func setCompactArrays(L *lua.LState) int {
	t := L.CheckTable(1)
	t.RawSetString("compact", L.Get(2))
	return 0
}

func queryArg(L *lua.LState, fn string) string {
	q, ok := cosocket.String(L.Get(2))
	if !ok {
		L.RaiseError("bad argument #1 to '%s' (string expected, got %s)", fn, L.Get(2).Type())
	}
	return q
}

// sendQuery: bytes, err = db:send_query(query)
func (m *myModule) sendQuery(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	o := object(L)
	if o == nil || o.state != stateConnected {
		return luaplugin.PushFail(L, "cannot send query in the current context: "+stateText(o))
	}
	q := queryArg(L, "send_query")
	c := o.conn
	if c == nil {
		return luaplugin.PushFail(L, "closed")
	}
	c.w.sendTO = o.timeout
	resume := o.guard.Suspend(m.vm)
	n, err := sendQuery(c.w, q)
	resume()
	if err != nil {
		c.close(false)
		o.conn = nil
		return luaplugin.PushFail(L, err.Error())
	}
	o.state = stateCommandSent
	L.Push(lua.LNumber(n))
	return 1
}

// readResult: res, err, errcode, sqlstate = db:read_result(nrows?)
func (m *myModule) readResult(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	o := object(L)
	if o == nil || o.state != stateCommandSent {
		return luaplugin.PushFail(L, "cannot read result in the current context: "+stateText(o))
	}
	return m.read(L, o)
}

// query: res, err, errcode, sqlstate = db:query(query, nrows?)
func (m *myModule) query(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	o := object(L)
	if o == nil || o.state != stateConnected {
		return luaplugin.PushFail(L, "failed to send query: cannot send query in the current context: "+stateText(o))
	}
	q := queryArg(L, "query")
	return m.read(L, o, q)
}

// read sends the query (when one is given) and reads one result, then
// pushes it as lua-resty-mysql's read_result returns it.
func (m *myModule) read(L *lua.LState, o *restyMysql, q ...string) int {
	c := o.conn
	if c == nil {
		if len(q) > 0 {
			return luaplugin.PushFail(L, "failed to send query: closed")
		}
		return luaplugin.PushFail(L, "failed to receive packet header: closed")
	}
	c.w.readTO, c.w.sendTO = o.timeout, o.timeout
	ctx := m.vm.Context()
	var sendErr error
	var r *result
	resume := o.guard.Suspend(m.vm)
	stop := context.AfterFunc(ctx, func() { _ = c.w.nc.SetDeadline(time.Unix(1, 0)) })
	if len(q) > 0 {
		_, sendErr = sendQuery(c.w, q[0])
	}
	if sendErr == nil {
		r = readResult(c.w)
	}
	stop()
	resume()
	if sendErr != nil {
		c.close(false)
		o.conn = nil
		return luaplugin.PushFail(L, "failed to send query: "+sendErr.Error())
	}
	o.state = stateCommandSent
	if r.fatal || ctx.Err() != nil {
		c.close(false)
		o.conn = nil
	}
	if r.hasStatus {
		c.inTrans = r.status&serverStatusInTrans != 0
	}
	if !r.keep {
		o.state = stateConnected
	}
	if r.fail != "" {
		L.Push(lua.LNil)
		L.Push(lua.LString(r.fail))
		if r.code == 0 {
			return 2
		}
		L.Push(lua.LNumber(r.code))
		L.Push(sqlstateValue(r.sqlstate))
		return 4
	}
	if r.isOK {
		t := L.CreateTable(0, 5)
		t.RawSetString("affected_rows", lua.LNumber(r.ok.affectedRows))
		t.RawSetString("insert_id", lua.LNumber(r.ok.insertID))
		t.RawSetString("server_status", lua.LNumber(r.ok.status))
		t.RawSetString("warning_count", lua.LNumber(r.ok.warnings))
		if r.ok.hasMessage {
			t.RawSetString("message", lua.LString(r.ok.message))
		}
		L.Push(t)
	} else {
		self := L.Get(1).(*lua.LTable)
		compact := lua.LVAsBool(L.GetField(self, "compact"))
		L.Push(m.rows(L, r, compact))
	}
	if r.more {
		L.Push(lua.LString("again"))
		return 2
	}
	return 1
}

// rows converts a result set.
func (m *myModule) rows(L *lua.LState, r *result, compact bool) *lua.LTable {
	names := make([]lua.LString, len(r.cols))
	for i, c := range r.cols {
		names[i] = lua.LString(c.name)
	}
	out := L.CreateTable(len(r.rows), 0)
	for n, row := range r.rows {
		if n&1023 == 1023 {
			m.vm.CheckBudget(L)
		}
		var t *lua.LTable
		if compact {
			t = L.CreateTable(len(row), 0)
		} else {
			t = L.CreateTable(0, len(row))
		}
		for i, v := range row {
			var lv lua.LValue = luaplugin.Null
			if v != nil {
				if numericTypes[r.cols[i].typ] {
					lv = toNumber(v)
				} else {
					lv = lua.LString(v)
				}
			}
			if compact {
				t.RawSetInt(i+1, lv)
			} else {
				t.RawSetString(string(names[i]), lv)
			}
		}
		out.RawSetInt(n+1, t)
	}
	return out
}

// toNumber converts a numeric column's text as Lua's tonumber does (nil
// when it is not a number).
func toNumber(v []byte) lua.LValue {
	if f, err := strconv.ParseFloat(string(v), 64); err == nil {
		return lua.LNumber(f)
	}
	if f, ok := luaplugin.ToNumber(lua.LString(v)); ok {
		return lua.LNumber(f)
	}
	return lua.LNil
}

// Interface guards.
var _ io.Closer = (*myPools)(nil)
