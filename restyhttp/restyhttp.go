// Package restyhttp provides the Lua module resty.http: the lua-resty-http
// 0.17 API (request_uri, the connect / request / body_reader API,
// keepalive, parse_uri, proxies) on a Go http.Transport shared by every Lua
// state of a pool. It registers the module with the engine at init
// (luaplugin.RegisterModule).
//
// Every connection the transports dial is wrapped in an httpConn, which
// knows which Lua request uses it (set through an httptrace hook when the
// transport hands the connection out) and applies that request's send and
// read timeouts as a deadline on every socket read and write, the way
// cosocket timeouts work. A connection waiting in the transport's idle pool
// has no deadline. The connect timeout is the dialer's.
//
// As OpenResty does with cosockets, a connection the script neither closed
// nor handed to set_keepalive is closed when the run (phase handler or
// timer callback) that connected ends (see cosocket.RunEnd).
//
// Every wait on the network (connect, TLS handshake, sending the request,
// reading the response head and body) runs between vm.Suspend() and its
// resume, touching no Lua value. A response body read whole is capped at
// 64 MiB, or at the pool's MaxStringSize when that is lower.
package restyhttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/cosocket"
	"github.com/caddy-resty/caddy-resty/luaplugin"
)

func init() {
	luaplugin.RegisterModule("resty.http", open)
}

// Limits and defaults of resty.http.
const (
	// httpDefaultTimeout is the connect, send and read timeout of a client
	// that did not set its own.
	httpDefaultTimeout = cosocket.DefaultTimeout
	// httpMaxBodySize caps a response body read whole (request_uri,
	// res:read_body, request_pipeline) and a request body given as a
	// table or an iterator; the pool's MaxStringSize lowers it (see
	// maxBody). A bigger response fails with "response body too large";
	// stream it with res.body_reader instead.
	httpMaxBodySize = 64 << 20
	// httpMaxIdlePerHost bounds the idle keepalive connections kept per
	// host (the per-call pool_size / keepalive_pool arguments are not
	// honoured individually), httpMaxIdle those of a transport.
	httpMaxIdlePerHost = 32
	httpMaxIdle        = 1024
	// httpIdleTimeout is how long an idle connection stays in the pool
	// (lua_socket_keepalive_timeout's default). A shorter keepalive
	// timeout given to set_keepalive or request_uri is honoured per
	// connection; a longer one (or 0, "no limit") is capped to this.
	httpIdleTimeout = cosocket.DefaultKeepaliveTimeout
	// httpMaxTransports bounds the transports (one per set of TLS
	// settings: ssl_verify, ssl_server_name); requests with TLS settings
	// beyond it get a transport without keepalive.
	httpMaxTransports = 32
	// httpChunkSize is what body_reader() without a size returns at most
	// per call when the body length is unknown (chunked encoding).
	httpChunkSize = 64 << 10

	httpLibVersion = "0.17.2"
	httpUserAgent  = "lua-resty-http/" + httpLibVersion + " (Lua) ngx_lua/10025"
)

var errHTTPBodyTooLarge = errors.New("response body too large")

// httpPools is the pool-wide state of resty.http (a Pool resource): the
// transports, one per TLS setting.
type httpPools struct {
	mu         sync.Mutex
	transports map[httpTLSKey]*httpPool
	closed     bool
	token      atomic.Uint64
}

// httpTLSKey selects a transport: connections made with other TLS
// settings, or through a tunnel opened with other proxy credentials, are
// not shared.
type httpTLSKey struct {
	insecure   bool
	serverName string
	proxyAuth  string
}

// Close closes the idle connections of every transport.
func (ps *httpPools) Close() error {
	ps.mu.Lock()
	ps.closed = true
	ts := ps.transports
	ps.transports = nil
	ps.mu.Unlock()
	for _, p := range ts {
		p.t.CloseIdleConnections()
	}
	return nil
}

// get returns the transport for TLS settings k.
func (ps *httpPools) get(k httpTLSKey) *httpPool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p, ok := ps.transports[k]; ok {
		return p
	}
	if ps.closed || len(ps.transports) >= httpMaxTransports {
		return newHTTPPool(k, true)
	}
	if ps.transports == nil {
		ps.transports = make(map[httpTLSKey]*httpPool)
	}
	p := newHTTPPool(k, false)
	ps.transports[k] = p
	return p
}

// httpPool is one transport, plus the count of its idle connections per
// "scheme://host:port" (so that connect can tell whether a kept-alive
// connection is there to reuse).
type httpPool struct {
	t   *http.Transport
	tls *tls.Config

	mu   sync.Mutex
	idle map[string]int
}

func newHTTPPool(k httpTLSKey, transient bool) *httpPool {
	p := &httpPool{idle: make(map[string]int)}
	p.tls = &tls.Config{
		InsecureSkipVerify: k.insecure, //nolint:gosec // ssl_verify = false asks for it
		ServerName:         k.serverName,
		NextProtos:         []string{"http/1.1"},
	}
	p.t = &http.Transport{
		Proxy:                  httpProxyFor,
		GetProxyConnectHeader:  httpProxyConnectHeader,
		DialContext:            p.dial,
		DialTLSContext:         p.dialTLS,
		TLSClientConfig:        p.tls, // used for https through a proxy
		TLSHandshakeTimeout:    httpDefaultTimeout,
		MaxIdleConns:           httpMaxIdle,
		MaxIdleConnsPerHost:    httpMaxIdlePerHost,
		IdleConnTimeout:        httpIdleTimeout,
		DisableCompression:     true,
		DisableKeepAlives:      transient,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
		ForceAttemptHTTP2:      false,
		TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	return p
}

func (p *httpPool) addIdle(key string, d int) {
	p.mu.Lock()
	if n := p.idle[key] + d; n > 0 {
		p.idle[key] = n
	} else {
		delete(p.idle, key)
	}
	p.mu.Unlock()
}

func (p *httpPool) idleCount(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.idle[key]
}

// httpDialKey is the context key of the *httpDialOpts of a request.
type httpDialKey struct{}

// httpDialOpts is what a request tells the transport's dialer.
type httpDialOpts struct {
	connect  time.Duration
	handshk  time.Duration
	read     time.Duration
	send     time.Duration
	unixPath string
	proxy    *url.URL
	proxyHdr http.Header // CONNECT headers (https through a proxy)
	// predial is a connection dialed by connect() for this request.
	predial    atomic.Pointer[httpConn]
	predialKey string
}

func httpOptsFrom(ctx context.Context) *httpDialOpts {
	o, _ := ctx.Value(httpDialKey{}).(*httpDialOpts)
	return o
}

func httpProxyFor(r *http.Request) (*url.URL, error) {
	if o := httpOptsFrom(r.Context()); o != nil {
		return o.proxy, nil
	}
	return nil, nil
}

func httpProxyConnectHeader(ctx context.Context, _ *url.URL, _ string) (http.Header, error) {
	if o := httpOptsFrom(ctx); o != nil {
		return o.proxyHdr, nil
	}
	return nil, nil
}

func (p *httpPool) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return p.dialScheme(ctx, "http", network, addr)
}

func (p *httpPool) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	return p.dialScheme(ctx, "https", network, addr)
}

func (p *httpPool) dialScheme(ctx context.Context, scheme, network, addr string) (net.Conn, error) {
	o := httpOptsFrom(ctx)
	key := scheme + "://" + addr
	if o != nil && o.predialKey == key {
		if c := o.predial.Swap(nil); c != nil {
			return c, nil
		}
	}
	c, err := p.newConn(ctx, o, scheme, network, addr)
	if err != nil {
		return nil, err
	}
	if o != nil && o.proxy != nil {
		// The transport talks to the proxy (CONNECT) before the request
		// gets the connection: apply the request's timeouts already.
		c.mu.Lock()
		c.owner, c.readTO, c.sendTO = httpDialingOwner, o.read, o.send
		c.mu.Unlock()
	}
	return c, nil
}

// httpDialingOwner owns a connection to a proxy until a request gets it.
const httpDialingOwner = math.MaxUint64

// newConn dials addr (with a TLS handshake for https) within the connect
// timeout of o.
func (p *httpPool) newConn(ctx context.Context, o *httpDialOpts, scheme, network, addr string) (*httpConn, error) {
	connectTO, handshakeTO := httpDefaultTimeout, httpDefaultTimeout
	unixPath := ""
	if o != nil {
		connectTO, handshakeTO, unixPath = o.connect, o.handshk, o.unixPath
	}
	d := net.Dialer{Timeout: connectTO}
	var raw net.Conn
	var err error
	if unixPath != "" {
		raw, err = d.DialContext(ctx, "unix", unixPath)
	} else {
		raw, err = d.DialContext(ctx, network, addr)
	}
	if err != nil {
		return nil, err
	}
	c := &httpConn{Conn: raw, pool: p, key: scheme + "://" + addr}
	if scheme == "https" {
		cfg := p.tls
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
		tc := tls.Client(raw, cfg)
		_ = raw.SetDeadline(time.Now().Add(handshakeTO))
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		_ = raw.SetDeadline(time.Time{})
		c.Conn = tc
	}
	return c, nil
}

// httpConn is a connection of a transport. While a request uses it
// (owner != 0), each read and write gets that request's timeout as its
// deadline.
type httpConn struct {
	net.Conn
	pool *httpPool
	key  string

	mu     sync.Mutex
	owner  uint64
	readTO time.Duration
	sendTO time.Duration
	idleTO time.Duration
	uses   int
	idle   bool
	closed bool
	timer  *time.Timer
}

func (c *httpConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if c.owner != 0 && c.readTO > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.readTO))
	}
	c.mu.Unlock()
	return c.Conn.Read(b)
}

func (c *httpConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	if c.owner != 0 && c.sendTO > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.sendTO))
	}
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *httpConn) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		if c.idle {
			c.idle = false
			c.pool.addIdle(c.key, -1)
		}
		if c.timer != nil {
			c.timer.Stop()
		}
	}
	c.mu.Unlock()
	return cosocket.Close(c.Conn)
}

// acquire records that request use u got the connection. It returns how
// many times the connection was handed out before.
func (c *httpConn) acquire(u *httpUse) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.owner = u.token
	c.readTO, c.sendTO, c.idleTO = u.readTO, u.sendTO, u.idleTO
	c.uses++
	if c.idle {
		c.idle = false
		c.pool.addIdle(c.key, -1)
	}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	// The transport may already be reading (waiting for the response)
	// without a deadline.
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.readTO))
	return c.uses - 1
}

// putIdle is called when the transport put the connection back in its
// idle pool after the request with token was done with it.
func (c *httpConn) putIdle(token uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.owner != token || c.closed {
		return
	}
	c.owner = 0
	_ = c.Conn.SetReadDeadline(time.Time{})
	_ = c.Conn.SetWriteDeadline(time.Time{})
	c.idle = true
	c.pool.addIdle(c.key, 1)
	if c.idleTO > 0 && c.idleTO < httpIdleTimeout {
		c.armIdleTimer(c.idleTO)
	}
}

// armIdleTimer closes the connection if it is still idle, unused since,
// after d. c.mu is held.
func (c *httpConn) armIdleTimer(d time.Duration) {
	uses := c.uses
	if c.timer != nil {
		c.timer.Stop()
	}
	c.timer = time.AfterFunc(d, func() {
		c.mu.Lock()
		expired := c.idle && c.owner == 0 && c.uses == uses && !c.closed
		c.mu.Unlock()
		if expired {
			c.Close()
		}
	})
}

// setIdleTimeout sets the keepalive timeout of the connection after the
// use with token (set_keepalive's first argument).
func (c *httpConn) setIdleTimeout(token uint64, uses int, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.owner == token:
		c.idleTO = d
	case c.owner == 0 && c.idle && c.uses == uses && d > 0 && d < httpIdleTimeout:
		c.armIdleTimer(d)
	}
}

// closeIfMine closes the connection unless another request took it since
// the use with token.
func (c *httpConn) closeIfMine(token uint64, uses int) {
	c.mu.Lock()
	mine := c.owner == token || (c.owner == 0 && c.uses == uses)
	c.mu.Unlock()
	if mine {
		c.Close()
	}
}

// httpUse is one request's claim on a connection.
type httpUse struct {
	token                  uint64
	readTO, sendTO, idleTO time.Duration
	conn                   atomic.Pointer[httpConn]
	reused                 atomic.Int64
}

func (u *httpUse) gotConn(info httptrace.GotConnInfo) {
	c, ok := info.Conn.(*httpConn)
	if !ok {
		if tc, isTLS := info.Conn.(*tls.Conn); isTLS {
			c, ok = tc.NetConn().(*httpConn)
		}
	}
	if !ok {
		return
	}
	u.reused.Store(int64(c.acquire(u)))
	u.conn.Store(c)
}

func (u *httpUse) putIdleConn(err error) {
	if err != nil {
		return
	}
	if c := u.conn.Load(); c != nil {
		c.putIdle(u.token)
	}
}

// httpTarget is where a client is connected.
type httpTarget struct {
	scheme     string
	host       string // without brackets
	port       int
	unixPath   string
	insecure   bool
	serverName string
	proxy      *url.URL
	proxyAuth  string // Proxy-Authorization for plain http through a proxy
	proxyHdr   http.Header
}

// urlHost is the host[:port] of request URLs to the target.
func (t *httpTarget) urlHost() string {
	if t.unixPath != "" {
		h := fnv.New64a()
		h.Write([]byte(t.unixPath))
		return "unix-" + hex.EncodeToString(h.Sum(nil)) + ".sock:80"
	}
	return net.JoinHostPort(t.host, strconv.Itoa(t.port))
}

// hostHeader is the default Host header, as lua-resty-http makes it.
func (t *httpTarget) hostHeader() string {
	h := t.host
	if strings.IndexByte(h, ':') >= 0 {
		h = "[" + h + "]"
	}
	if (t.scheme == "https" && t.port != 443) || (t.scheme != "https" && t.port != 80) {
		return h + ":" + strconv.Itoa(t.port)
	}
	return h
}

func (t *httpTarget) tlsKey() httpTLSKey {
	if t.scheme != "https" {
		return httpTLSKey{}
	}
	k := httpTLSKey{insecure: t.insecure}
	if t.serverName != "" && t.serverName != t.host {
		k.serverName = t.serverName
	}
	if t.proxyHdr != nil {
		k.proxyAuth = t.proxyHdr.Get("Proxy-Authorization")
	}
	return k
}

// httpClient is an httpc object.
type httpClient struct {
	pools                     *httpPools
	connectTO, sendTO, readTO time.Duration
	proxyOpts                 *lua.LTable

	guard     cosocket.Guard
	connected bool
	target    httpTarget
	keepalive bool // false once a response said the connection must close
	// runEnd closes the connection at the end of the run that made it.
	runEnd cosocket.RunEnd

	// predial is the connection dialed by connect for the first request.
	predial *httpConn
	// last request on this connection
	token  uint64
	uses   int
	conn   *httpConn
	reused int
	resp   *httpResponse
}

// takePredial returns the connection dialed by connect, if it is still
// unused, and forgets it.
func (c *httpClient) takePredial() *httpConn {
	p := c.predial
	c.predial = nil
	return p
}

// closeAtRunEnd closes the client's connection at the end of the current
// run if it is still connected then (see cosocket.RunEnd).
func (c *httpClient) closeAtRunEnd(vm *luaplugin.VM) {
	c.runEnd.Arm(vm, c.closeIfConnected)
}

func (c *httpClient) closeIfConnected() {
	if c.connected {
		c.dropConnection(true)
	}
}

// httpResponse is the state of a response of the connect/request API.
type httpResponse struct {
	r      *http.Response
	method string
	eof    bool
	err    error
	guard  cosocket.Guard
}

// httpModule holds the per-state parts of the module.
type httpModule struct {
	vm       *luaplugin.VM
	pools    *httpPools
	mod      *lua.LTable
	objMT    *lua.LTable
	headerMT *lua.LTable
}

func open(vm *luaplugin.VM, L *lua.LState) lua.LValue {
	m := &httpModule{
		vm:    vm,
		pools: vm.Resource("resty.http", func() any { return &httpPools{} }).(*httpPools),
	}
	mod := L.NewTable()
	m.mod = mod
	mod.RawSetString("_VERSION", lua.LString(httpLibVersion))
	mod.RawSetString("_USER_AGENT", lua.LString(httpUserAgent))
	fns := map[string]lua.LGFunction{
		"new":                    m.new,
		"set_timeout":            m.setTimeout,
		"set_timeouts":           m.setTimeouts,
		"connect":                m.connect,
		"ssl_handshake":          m.sslHandshake,
		"set_keepalive":          m.setKeepalive,
		"get_reused_times":       m.getReusedTimes,
		"close":                  m.close,
		"request":                m.request,
		"request_uri":            m.requestURI,
		"request_pipeline":       m.requestPipeline,
		"parse_uri":              m.parseURI,
		"set_proxy_options":      m.setProxyOptions,
		"get_client_body_reader": m.NotSupported("get_client_body_reader"),
		"proxy_request":          m.NotSupported("proxy_request"),
		"proxy_response":         m.NotSupported("proxy_response"),
	}
	for name, fn := range fns {
		mod.RawSetString(name, L.NewFunction(fn))
	}
	m.objMT = L.NewTable()
	m.objMT.RawSetString("__index", mod)
	m.headerMT = L.NewTable()
	m.headerMT.RawSetString("__index", L.NewFunction(httpHeaderIndex))
	m.headerMT.RawSetString("__newindex", L.NewFunction(httpHeaderNewIndex))
	return mod
}

// maxBody is the longest body read whole: httpMaxBodySize, or the pool's
// MaxStringSize when that is lower.
func (m *httpModule) maxBody() int {
	return min(httpMaxBodySize, m.vm.MaxString())
}

func httpHeaderIndex(L *lua.LState) int {
	t := L.CheckTable(1)
	if k, ok := L.Get(2).(lua.LString); ok {
		L.Push(t.RawGetString(luaplugin.HeaderKey(string(k))))
		return 1
	}
	L.Push(lua.LNil)
	return 1
}

func httpHeaderNewIndex(L *lua.LState) int {
	t := L.CheckTable(1)
	if k, ok := L.Get(2).(lua.LString); ok {
		t.RawSetString(luaplugin.HeaderKey(string(k)), L.Get(3))
		return 0
	}
	t.RawSet(L.Get(2), L.Get(3))
	return 0
}

func (m *httpModule) NotSupported(name string) lua.LGFunction {
	return func(L *lua.LState) int {
		return luaplugin.PushFail(L, name+" is not supported by caddy-resty")
	}
}

func (m *httpModule) new(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	c := &httpClient{
		pools:     m.pools,
		connectTO: httpDefaultTimeout,
		sendTO:    httpDefaultTimeout,
		readTO:    httpDefaultTimeout,
	}
	return luaplugin.PushObject(L, c, m.objMT)
}

func (m *httpModule) client(L *lua.LState) *httpClient {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if c, ok := ud.Value.(*httpClient); ok {
			c.guard.Enter(L)
			return c
		}
	}
	L.ArgError(1, "expecting an httpc object (use httpc:method(), not httpc.method())")
	return nil
}

func (m *httpModule) setTimeout(L *lua.LState) int {
	c := m.client(L)
	cosocket.SetTimeouts(L, false, httpDefaultTimeout, &c.connectTO, &c.sendTO, &c.readTO)
	return 0
}

func (m *httpModule) setTimeouts(L *lua.LState) int {
	c := m.client(L)
	cosocket.SetTimeouts(L, true, httpDefaultTimeout, &c.connectTO, &c.sendTO, &c.readTO)
	return 0
}

func (m *httpModule) setProxyOptions(L *lua.LState) int {
	c := m.client(L)
	c.proxyOpts = L.OptTable(2, nil)
	return 0
}

// discardResponse closes the body of the current response if it was not
// read to the end (its connection cannot be reused then); reading on with
// that response's body_reader or read_body reports "closed".
func (c *httpClient) discardResponse() {
	if hr := c.resp; hr != nil && !hr.eof {
		hr.r.Body.Close()
		if hr.err == nil {
			hr.err = net.ErrClosed
		}
	}
	c.resp = nil
}

// dropConnection forgets the current connection; close says whether to
// close it (close(), errors) rather than leave it to the pool.
func (c *httpClient) dropConnection(closeIt bool) {
	c.discardResponse()
	if p := c.takePredial(); p != nil {
		p.Close()
	}
	if closeIt && c.conn != nil {
		c.conn.closeIfMine(c.token, c.uses)
	}
	c.conn = nil
	c.connected = false
}

// connect: httpc:connect(options) or the deprecated
// httpc:connect(host, port?, options?) / httpc:connect("unix:/path").
func (m *httpModule) connect(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	c := m.client(L)
	if c.connected {
		c.dropConnection(true)
	}
	var t httpTarget
	if opts, ok := L.Get(2).(*lua.LTable); ok {
		host, _ := cosocket.String(opts.RawGetString("host"))
		scheme, _ := cosocket.String(opts.RawGetString("scheme"))
		portV := opts.RawGetString("port")
		port := 0
		if pv, ok := cosocket.String(portV); ok {
			p, err := strconv.Atoi(pv)
			if err != nil {
				return luaplugin.PushFail(L, "invalid port: "+pv)
			}
			port = p
		}
		switch {
		case scheme != "" && port == 0:
			port = 80
			if scheme == "https" {
				port = 443
			}
		case port != 0 && scheme == "":
			return luaplugin.PushFail(L, "'scheme' is required when providing a port")
		}
		if scheme != "" && scheme != "http" && scheme != "https" {
			return luaplugin.PushFail(L, "unsupported scheme: "+scheme)
		}
		if host == "" {
			L.ArgError(2, "host is required")
		}
		if scheme == "" {
			if !strings.HasPrefix(host, "unix:") {
				return luaplugin.PushFail(L, "'scheme' is required unless connecting to a unix domain socket")
			}
			t.scheme = "http"
			t.unixPath = strings.TrimPrefix(host, "unix:")
			t.host = host
		} else {
			t.scheme, t.host, t.port = scheme, strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), port
		}
		t.insecure = opts.RawGetString("ssl_verify") == lua.LFalse
		t.serverName, _ = cosocket.String(opts.RawGetString("ssl_server_name"))
		proxy := c.proxyOpts
		if po, ok := opts.RawGetString("proxy_opts").(*lua.LTable); ok {
			proxy = po
		}
		if msg := c.applyProxy(&t, proxy); msg != "" {
			return luaplugin.PushFail(L, msg)
		}
	} else {
		host := L.CheckString(2)
		t.scheme = "http"
		if strings.HasPrefix(host, "unix:") {
			t.unixPath = strings.TrimPrefix(host, "unix:")
			t.host = host
		} else {
			port := 80
			if pv, ok := cosocket.String(L.Get(3)); ok {
				p, err := strconv.Atoi(pv)
				if err != nil {
					L.ArgError(3, "bad port number")
				}
				port = p
			}
			t.host, t.port = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), port
		}
	}
	if t.unixPath == "" && (t.port <= 0 || t.port > 65535) {
		return luaplugin.PushFail(L, "invalid port: "+strconv.Itoa(t.port))
	}
	if err := c.open(m.vm, t); err != nil {
		return luaplugin.PushFail(L, cosocket.Error(err))
	}
	L.Push(lua.LTrue)
	return 1
}

// applyProxy sets the proxy of t from lua-resty-http proxy options.
func (c *httpClient) applyProxy(t *httpTarget, opts *lua.LTable) string {
	if opts == nil || t.unixPath != "" {
		return ""
	}
	field := func(k string) string { s, _ := cosocket.String(opts.RawGetString(k)); return s }
	var proxyURI, auth string
	if t.scheme == "https" {
		proxyURI, auth = field("https_proxy"), field("https_proxy_authorization")
	} else {
		proxyURI, auth = field("http_proxy"), field("http_proxy_authorization")
	}
	if proxyURI == "" {
		return ""
	}
	if np := field("no_proxy"); np != "" {
		if np == "*" {
			return ""
		}
		host := t.host
		for {
			for _, h := range strings.Split(np, ",") {
				if strings.TrimPrefix(strings.TrimSpace(h), ".") == host {
					return ""
				}
			}
			i := strings.IndexByte(host, '.')
			if i < 0 || strings.IndexByte(host[i+1:], '.') < 0 {
				break
			}
			host = host[i+1:]
		}
	}
	pu, msg := parseHTTPURI(proxyURI, "")
	if msg != "" {
		return "uri parse error: " + msg
	}
	if pu.scheme != "http" {
		return "protocol " + pu.scheme + " not supported for proxy connections"
	}
	t.proxy = &url.URL{Scheme: "http", Host: net.JoinHostPort(pu.host, strconv.Itoa(pu.port))}
	if t.scheme == "https" {
		if auth != "" {
			t.proxyHdr = http.Header{"Proxy-Authorization": {auth}}
		}
	} else {
		t.proxyAuth = auth
	}
	return ""
}

// open connects the client to t: a kept-alive connection of the pool is
// reused if there is one, otherwise one is dialed now so that connection
// errors are reported by connect.
func (c *httpClient) open(vm *luaplugin.VM, t httpTarget) error {
	c.target = t
	c.keepalive = true
	c.conn = nil
	c.resp = nil
	c.reused = 0
	pool := c.pools.get(t.tlsKey())
	key := t.scheme + "://" + t.urlHost()
	if t.proxy == nil && pool.idleCount(key) == 0 {
		o := &httpDialOpts{connect: c.connectTO, handshk: c.readTO, unixPath: t.unixPath}
		ctx, addr := vm.Context(), t.urlHost()
		resume := c.guard.Suspend(vm)
		conn, err := pool.newConn(ctx, o, t.scheme, "tcp", addr)
		resume()
		if err != nil {
			return err
		}
		c.predial = conn
	} else if t.proxy == nil {
		c.reused = 1
	}
	c.connected = true
	c.closeAtRunEnd(vm)
	return nil
}

// sslHandshake is the deprecated httpc:ssl_handshake(session, server_name,
// verify) after a TCP-only connect.
func (m *httpModule) sslHandshake(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	c := m.client(L)
	if !c.connected {
		return luaplugin.PushFail(L, "closed")
	}
	t := c.target
	t.scheme = "https"
	if t.port == 0 {
		t.port = 443
	}
	t.serverName, _ = cosocket.String(L.Get(3))
	t.insecure = L.Get(4) == lua.LFalse
	c.dropConnection(true)
	if err := c.open(m.vm, t); err != nil {
		return luaplugin.PushFail(L, cosocket.Error(err))
	}
	L.Push(lua.LTrue)
	return 1
}

func (m *httpModule) setKeepalive(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	c := m.client(L)
	if !c.connected {
		return luaplugin.PushFail(L, "closed")
	}
	if c.resp != nil && !c.resp.eof && c.resp.r.Body != http.NoBody {
		c.dropConnection(true)
		return luaplugin.PushFail(L, "unread data in buffer")
	}
	if !c.keepalive {
		c.dropConnection(true)
		L.Push(lua.LNumber(2))
		L.Push(lua.LString("connection must be closed"))
		return 2
	}
	if c.conn != nil {
		if d := cosocket.Timeout(L.Get(2), 0); d > 0 {
			c.conn.setIdleTimeout(c.token, c.uses, d)
		}
	}
	c.dropConnection(false)
	L.Push(lua.LNumber(1))
	return 1
}

func (m *httpModule) getReusedTimes(L *lua.LState) int {
	c := m.client(L)
	if !c.connected {
		return luaplugin.PushFail(L, "closed")
	}
	L.Push(lua.LNumber(c.reused))
	return 1
}

func (m *httpModule) close(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	c := m.client(L)
	if !c.connected {
		return luaplugin.PushFail(L, "closed")
	}
	c.dropConnection(true)
	L.Push(lua.LNumber(1))
	return 1
}

// httpRequest is a request built from a lua-resty-http params table.
type httpRequest struct {
	method  string
	path    string
	query   string
	header  http.Header
	host    string
	body    []byte
	hasBody bool
	chunked bool
}

// parseHTTPParams reads method, path, query, headers and body of params.
// A body given as a table or an iterator is at most maxBody bytes long.
func parseHTTPParams(L *lua.LState, params *lua.LTable, defPath, defQuery string, maxBody int) (*httpRequest, string) {
	r := &httpRequest{method: "GET", path: defPath, query: defQuery, header: make(http.Header, 4)}
	if params == nil {
		return r, ""
	}
	if v, ok := cosocket.String(params.RawGetString("method")); ok {
		r.method = strings.ToUpper(v)
	}
	if v, ok := cosocket.String(params.RawGetString("path")); ok {
		r.path = v
	}
	switch q := params.RawGetString("query").(type) {
	case lua.LString:
		r.query = strings.TrimPrefix(string(q), "?")
	case *lua.LTable:
		r.query = luaplugin.EncodeArgs(L, q)
	}
	if hs, ok := params.RawGetString("headers").(*lua.LTable); ok {
		hs.ForEach(func(k, v lua.LValue) {
			name, ok := cosocket.String(k)
			if !ok {
				return
			}
			canon := luaplugin.HeaderKey(name)
			add := func(v lua.LValue) {
				s, ok := cosocket.String(v)
				if !ok {
					if b, isBool := v.(lua.LBool); isBool {
						s = strconv.FormatBool(bool(b))
					} else {
						return
					}
				}
				switch canon {
				case "Host":
					r.host = s
				case "Content-Length":
					// computed from the body
				case "Transfer-Encoding":
					if strings.EqualFold(s, "chunked") {
						r.chunked = true
					}
				default:
					r.header[canon] = append(r.header[canon], s)
				}
			}
			if arr, ok := v.(*lua.LTable); ok {
				n := arr.Len()
				for i := 1; i <= n; i++ {
					add(arr.RawGetInt(i))
				}
				return
			}
			add(v)
		})
	}
	switch b := params.RawGetString("body").(type) {
	case *lua.LNilType:
	case lua.LString:
		r.body, r.hasBody = []byte(b), true
	case lua.LNumber:
		r.body, r.hasBody = []byte(luaplugin.FormatNumber(float64(b))), true
	case *lua.LTable:
		var buf bytes.Buffer
		n := b.Len()
		for i := 1; i <= n; i++ {
			buf.WriteString(luaplugin.ToString(b.RawGetInt(i)))
			if buf.Len() > maxBody {
				return nil, "request body too large"
			}
		}
		r.body, r.hasBody = buf.Bytes(), true
	case *lua.LFunction:
		var buf bytes.Buffer
		for {
			L.Push(b)
			L.Call(0, 2)
			chunk, err := L.Get(-2), L.Get(-1)
			L.Pop(2)
			if chunk == lua.LNil {
				if err != lua.LNil {
					return nil, luaplugin.ToString(err)
				}
				break
			}
			buf.WriteString(luaplugin.ToString(chunk))
			if buf.Len() > maxBody {
				return nil, "request body too large"
			}
		}
		r.body, r.hasBody = buf.Bytes(), true
	default:
		return nil, "bad body type: " + b.Type().String()
	}
	if _, ok := r.header["User-Agent"]; !ok {
		r.header["User-Agent"] = []string{httpUserAgent}
	}
	return r, ""
}

// escapeRequestTarget percent-encodes the bytes that cannot appear in a
// request line.
func escapeRequestTarget(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// roundTrip sends r to the target of c and returns the response with
// the body still to read.
func (c *httpClient) roundTrip(vm *luaplugin.VM, r *httpRequest, closeConn bool, idleTO time.Duration) (*http.Response, *httpUse, error) {
	t := &c.target
	if r.host == "" {
		if t.unixPath != "" {
			return nil, nil, errors.New("Unable to generate a useful Host header for a unix domain socket. Please provide one.")
		}
		r.host = t.hostHeader()
	}
	path := r.path
	if path == "" {
		path = "/"
	}
	if t.proxy != nil && t.scheme == "http" {
		// absolute-form request target through a plain http proxy
		path = "http://" + t.hostHeader() + path
	}
	u := &url.URL{Scheme: t.scheme, Host: t.urlHost(), Opaque: escapeRequestTarget(path), RawQuery: escapeRequestTarget(r.query)}
	if strings.HasPrefix(u.Opaque, "//") {
		u.Opaque = "/" + strings.TrimLeft(u.Opaque, "/")
	}
	use := &httpUse{token: c.pools.token.Add(1), readTO: c.readTO, sendTO: c.sendTO, idleTO: idleTO}
	o := &httpDialOpts{connect: c.connectTO, handshk: c.readTO, read: c.readTO, send: c.sendTO,
		unixPath: t.unixPath, proxy: t.proxy, proxyHdr: t.proxyHdr}
	predial := c.takePredial()
	if predial != nil {
		o.predialKey = predial.key
		o.predial.Store(predial)
	}
	trace := &httptrace.ClientTrace{GotConn: use.gotConn, PutIdleConn: use.putIdleConn}
	ctx := context.WithValue(httptrace.WithClientTrace(vm.Context(), trace), httpDialKey{}, o)
	var body io.Reader
	if r.hasBody {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, "", body)
	if err != nil {
		if predial != nil {
			predial.Close()
		}
		return nil, nil, err
	}
	req.URL = u
	req.Host = r.host
	req.Header = r.header
	if t.proxyAuth != "" && req.Header.Get("Proxy-Authorization") == "" {
		req.Header.Set("Proxy-Authorization", t.proxyAuth)
	}
	if r.hasBody && r.chunked {
		req.TransferEncoding = []string{"chunked"}
		req.ContentLength = -1
	}
	req.Close = closeConn
	pool := c.pools.get(t.tlsKey())
	resume := c.guard.Suspend(vm)
	resp, err := pool.t.RoundTrip(req)
	resume()
	if p := o.predial.Swap(nil); p != nil {
		// The transport found another connection.
		p.Close()
	}
	if err != nil {
		return nil, use, err
	}
	return resp, use, nil
}

// hasBody tells whether a response to method with status has a body
// (lua-resty-http's _should_receive_body).
func httpHasBody(method string, status int) bool {
	return method != "HEAD" && status != 204 && status != 304 && (status < 100 || status >= 200)
}

// responseTable builds the res table (status, reason, headers, has_body).
func (m *httpModule) responseTable(L *lua.LState, resp *http.Response, method string) *lua.LTable {
	res := L.CreateTable(0, 8)
	res.RawSetString("status", lua.LNumber(resp.StatusCode))
	reason := strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode))
	res.RawSetString("reason", lua.LString(strings.TrimPrefix(reason, " ")))
	res.RawSetString("headers", m.headerTable(L, resp.Header, resp.TransferEncoding))
	res.RawSetString("has_body", lua.LBool(httpHasBody(method, resp.StatusCode)))
	return res
}

func (m *httpModule) headerTable(L *lua.LState, h http.Header, te []string) *lua.LTable {
	t := L.CreateTable(0, len(h)+1)
	for k, vs := range h {
		if len(vs) == 1 {
			t.RawSetString(k, lua.LString(vs[0]))
			continue
		}
		arr := L.CreateTable(len(vs), 0)
		for i, v := range vs {
			arr.RawSetInt(i+1, lua.LString(v))
		}
		t.RawSetString(k, arr)
	}
	if len(te) > 0 {
		t.RawSetString("Transfer-Encoding", lua.LString(strings.Join(te, ", ")))
	}
	t.Metatable = m.headerMT
	return t
}

// readWhole reads a response body whole (up to maxBody) and closes it;
// the wait does not count against the Lua time budget.
func (m *httpModule) readWhole(g *cosocket.Guard, resp *http.Response) ([]byte, error) {
	limit := m.maxBody()
	resume := g.Suspend(m.vm)
	body, err := readAllCapped(resp.Body, resp.ContentLength, limit)
	resume()
	resp.Body.Close()
	return body, err
}

// readAllCapped reads the rest of body, up to limit bytes.
func readAllCapped(body io.Reader, sizeHint int64, limit int) ([]byte, error) {
	if sizeHint > int64(limit) {
		return nil, errHTTPBodyTooLarge
	}
	n := 512
	if sizeHint > 0 {
		n = int(sizeHint) + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, n))
	_, err := buf.ReadFrom(io.LimitReader(body, int64(limit)+1))
	if err != nil {
		return buf.Bytes(), err
	}
	if buf.Len() > limit {
		return nil, errHTTPBodyTooLarge
	}
	return buf.Bytes(), nil
}

// send runs one request on the client's connection and adopts the
// connection the transport used (for get_reused_times and close).
func (c *httpClient) send(vm *luaplugin.VM, r *httpRequest) (*http.Response, error) {
	resp, use, err := c.roundTrip(vm, r, false, 0)
	if use != nil {
		c.token = use.token
		if conn := use.conn.Load(); conn != nil {
			c.conn = conn
			c.reused = int(use.reused.Load())
			c.uses = c.reused + 1
		}
	}
	return resp, err
}

// request: res, err = httpc:request(params)
func (m *httpModule) request(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	c := m.client(L)
	params := L.CheckTable(2)
	if !c.connected {
		return luaplugin.PushFail(L, "closed")
	}
	// A previous body that was not read: its connection cannot be reused.
	c.discardResponse()
	r, msg := parseHTTPParams(L, params, "/", "", m.maxBody())
	if msg != "" {
		return luaplugin.PushFail(L, msg)
	}
	resp, err := c.send(m.vm, r)
	if err != nil {
		return luaplugin.PushFail(L, cosocket.Error(err))
	}
	c.keepalive = !resp.Close
	hr := &httpResponse{r: resp, method: r.method}
	c.resp = hr
	res := m.responseTable(L, resp, r.method)
	res.RawSetString("body_reader", L.NewFunction(func(L *lua.LState) int {
		return m.bodyReader(L, hr)
	}))
	res.RawSetString("read_body", L.NewFunction(func(L *lua.LState) int {
		return m.readBody(L, hr)
	}))
	res.RawSetString("read_trailers", L.NewFunction(func(L *lua.LState) int {
		if hr.eof && len(hr.r.Trailer) > 0 {
			if hs, ok := res.RawGetString("headers").(*lua.LTable); ok {
				for k, vs := range hr.r.Trailer {
					hs.RawSetString(k, lua.LString(strings.Join(vs, ", ")))
				}
			}
		}
		return 0
	}))
	L.Push(res)
	return 1
}

// bodyReader: chunk, err = res.body_reader(max_chunk_size?)
func (m *httpModule) bodyReader(L *lua.LState, hr *httpResponse) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	if hr.eof {
		L.Push(lua.LNil)
		return 1
	}
	if hr.err != nil {
		return luaplugin.PushFail(L, cosocket.Error(hr.err))
	}
	size := 0
	if n, ok := L.Get(1).(lua.LNumber); ok && n > 0 {
		size = int(n)
	} else if n, ok := L.Get(2).(lua.LNumber); ok && n > 0 {
		// res:body_reader(n) called as a method
		size = int(n)
	}
	var buf []byte
	var err error
	limit := m.maxBody()
	hr.guard.Enter(L)
	resume := hr.guard.Suspend(m.vm)
	switch {
	case size > 0 && hr.r.ContentLength >= 0:
		// known length: exactly size bytes (less at the end)
		size = min(size, limit)
		buf = make([]byte, size)
		var n int
		n, err = io.ReadFull(hr.r.Body, buf)
		buf = buf[:n]
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
	case hr.r.ContentLength >= 0 && hr.r.ContentLength <= int64(limit):
		// no size, known length: the whole (rest of the) body
		buf, err = readAllCapped(hr.r.Body, hr.r.ContentLength, limit)
		if err == nil {
			err = io.EOF
		}
	default:
		// unknown length (chunked), or too long to return at once: what
		// arrives, up to size
		if chunk := min(httpChunkSize, limit); size <= 0 || size > chunk {
			size = chunk
		}
		buf = make([]byte, size)
		var n int
		for n == 0 && err == nil {
			n, err = hr.r.Body.Read(buf)
		}
		buf = buf[:n]
	}
	resume()
	if err == io.EOF {
		hr.eof = true
		hr.r.Body.Close()
		if len(buf) == 0 {
			L.Push(lua.LNil)
			return 1
		}
	} else if err != nil {
		hr.err = err
		hr.r.Body.Close()
		if len(buf) == 0 {
			return luaplugin.PushFail(L, cosocket.Error(err))
		}
	}
	L.Push(lua.LString(buf))
	return 1
}

// readBody: body, err = res:read_body()
func (m *httpModule) readBody(L *lua.LState, hr *httpResponse) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	hr.guard.Enter(L)
	if hr.eof {
		L.Push(lua.LString(""))
		return 1
	}
	if hr.err != nil {
		return luaplugin.PushFail(L, cosocket.Error(hr.err))
	}
	body, err := m.readWhole(&hr.guard, hr.r)
	if err != nil {
		hr.err = err
		L.Push(lua.LNil)
		L.Push(lua.LString(cosocket.Error(err)))
		L.Push(lua.LString(body))
		return 3
	}
	hr.eof = true
	L.Push(lua.LString(body))
	return 1
}

// requestURI: res, err = httpc:request_uri(uri, params)
func (m *httpModule) requestURI(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	c := m.client(L)
	uri := L.CheckString(2)
	params := L.OptTable(3, nil)
	if c.connected {
		c.dropConnection(true)
	}
	pu, msg := parseHTTPURI(uri, m.schemeOfRequest())
	if msg != "" {
		return luaplugin.PushFail(L, msg)
	}
	r, msg := parseHTTPParams(L, params, pu.path, pu.query, m.maxBody())
	if msg != "" {
		return luaplugin.PushFail(L, msg)
	}
	t := httpTarget{scheme: pu.scheme, host: pu.host, port: pu.port}
	keepalive := true
	var idleTO time.Duration
	if params != nil {
		t.insecure = params.RawGetString("ssl_verify") == lua.LFalse
		t.serverName, _ = cosocket.String(params.RawGetString("ssl_server_name"))
		keepalive = params.RawGetString("keepalive") != lua.LFalse
		idleTO = cosocket.Timeout(params.RawGetString("keepalive_timeout"), 0)
	}
	proxy := c.proxyOpts
	if params != nil {
		if po, ok := params.RawGetString("proxy_opts").(*lua.LTable); ok {
			proxy = po
		}
	}
	if msg := c.applyProxy(&t, proxy); msg != "" {
		return luaplugin.PushFail(L, msg)
	}
	c.target = t
	resp, _, err := c.roundTrip(m.vm, r, !keepalive, idleTO)
	if err != nil {
		return luaplugin.PushFail(L, cosocket.Error(err))
	}
	body, err := m.readWhole(new(cosocket.Guard), resp)
	if err != nil {
		return luaplugin.PushFail(L, cosocket.Error(err))
	}
	res := m.responseTable(L, resp, r.method)
	res.RawSetString("body", lua.LString(body))
	L.Push(res)
	return 1
}

// requestPipeline: responses, err = httpc:request_pipeline(requests). The
// requests are sent one after another on the connection (not pipelined
// on the wire); each response's body is read whole and served by its
// body_reader / read_body.
func (m *httpModule) requestPipeline(L *lua.LState) int {
	m.vm.CheckPhase(L, luaplugin.PhasesCosocket)
	c := m.client(L)
	reqs := L.CheckTable(2)
	if !c.connected {
		return luaplugin.PushFail(L, "closed")
	}
	out := L.NewTable()
	n := reqs.Len()
	for i := 1; i <= n; i++ {
		params, ok := reqs.RawGetInt(i).(*lua.LTable)
		if !ok {
			L.ArgError(2, "expecting a table of request params tables")
		}
		r, msg := parseHTTPParams(L, params, "/", "", m.maxBody())
		if msg != "" {
			return luaplugin.PushFail(L, msg)
		}
		resp, err := c.send(m.vm, r)
		if err != nil {
			return luaplugin.PushFail(L, cosocket.Error(err))
		}
		body, err := m.readWhole(new(cosocket.Guard), resp)
		if err != nil {
			return luaplugin.PushFail(L, cosocket.Error(err))
		}
		c.keepalive = !resp.Close
		res := m.responseTable(L, resp, r.method)
		hr := &httpResponse{r: &http.Response{Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}, method: r.method}
		res.RawSetString("body_reader", L.NewFunction(func(L *lua.LState) int { return m.bodyReader(L, hr) }))
		res.RawSetString("read_body", L.NewFunction(func(L *lua.LState) int { return m.readBody(L, hr) }))
		out.RawSetInt(i, res)
	}
	L.Push(out)
	return 1
}

func (m *httpModule) schemeOfRequest() string {
	if req := m.vm.Request(); req != nil && req.R != nil {
		s, _ := luaplugin.Variable(req, "scheme")
		return s
	}
	return ""
}

// parsedURI is the result of parse_uri.
type parsedURI struct {
	scheme, host, path, query string
	port                      int
	bracketed                 bool
	hasQuery                  bool
}

// parseHTTPURI splits uri as lua-resty-http's parse_uri does:
// [scheme:]//host[:port][path][?query]. A URI without scheme takes
// reqScheme (the scheme of the current request).
func parseHTTPURI(uri, reqScheme string) (parsedURI, string) {
	var p parsedURI
	s := uri
	switch {
	case strings.HasPrefix(s, "http://"):
		p.scheme, s = "http", s[5:]
	case strings.HasPrefix(s, "https://"):
		p.scheme, s = "https", s[6:]
	}
	if !strings.HasPrefix(s, "//") {
		return p, "bad uri: " + uri
	}
	s = s[2:]
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 2 {
			return p, "bad uri: " + uri
		}
		p.host, p.bracketed, s = s[1:end], true, s[end+1:]
	} else {
		end := strings.IndexAny(s, ":/?")
		if end < 0 {
			end = len(s)
		}
		if end == 0 || strings.ContainsAny(s[:end], "[]") {
			return p, "bad uri: " + uri
		}
		p.host, s = s[:end], s[end:]
	}
	if strings.HasPrefix(s, ":") {
		end := 1
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		if end == 1 {
			return p, "bad uri: " + uri
		}
		port, err := strconv.Atoi(s[1:end])
		if err != nil || port > 65535 {
			return p, "bad uri: " + uri
		}
		p.port, s = port, s[end:]
		if s != "" && s[0] != '/' && s[0] != '?' {
			return p, "bad uri: " + uri
		}
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		p.path, p.query, p.hasQuery = s[:i], s[i+1:], true
	} else {
		p.path = s
	}
	if p.scheme == "" {
		if reqScheme != "http" && reqScheme != "https" {
			return p, "schemaless URIs require a request context: " + uri
		}
		p.scheme = reqScheme
	}
	if p.port == 0 {
		p.port = 80
		if p.scheme == "https" {
			p.port = 443
		}
	}
	if p.path == "" {
		p.path = "/"
	}
	return p, ""
}

// parseURI: parts, err = httpc:parse_uri(uri, query_in_path?)
func (m *httpModule) parseURI(L *lua.LState) int {
	uri := L.CheckString(2)
	queryInPath := L.Get(3) != lua.LFalse
	p, msg := parseHTTPURI(uri, m.schemeOfRequest())
	if msg != "" {
		return luaplugin.PushFail(L, msg)
	}
	t := L.CreateTable(5, 0)
	host := p.host
	if p.bracketed {
		host = "[" + host + "]"
	}
	path := p.path
	t.RawSetInt(1, lua.LString(p.scheme))
	t.RawSetInt(2, lua.LString(host))
	t.RawSetInt(3, lua.LNumber(p.port))
	if queryInPath {
		if p.query != "" {
			path += "?" + p.query
		}
		t.RawSetInt(4, lua.LString(path))
	} else {
		t.RawSetInt(4, lua.LString(path))
		t.RawSetInt(5, lua.LString(p.query))
	}
	L.Push(t)
	return 1
}

// Interface guards.
var (
	_ io.Closer = (*httpPools)(nil)
	_ net.Conn  = (*httpConn)(nil)
)
