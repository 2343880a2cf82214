package phases

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/dynupstream"
	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/proxypass"
)

// proxyState is the per-request state of proxy_pass, kept with the
// pooled reqState so that a proxied request allocates little.
type proxyState struct {
	at  dynupstream.Attempts
	out proxypass.Request
	set []proxypass.Field
	// hdr receives the upstream's response fields before they are copied
	// to the client's: a failed attempt leaves nothing behind.
	hdr http.Header
	// tries records the attempts, for ngx.var.upstream_*.
	tries    []tryRecord
	triesBuf [2]tryRecord
	// cluster is the upstream cluster proxied to ("" for an address).
	cluster string
	// used: proxy ran for this request (reset has something to undo).
	used bool
}

// tryRecord is one attempt, as nginx's $upstream_* variables show it.
type tryRecord struct {
	addr    string
	status  int
	connect time.Duration // -1: no connection
	header  time.Duration // -1: no response head
	total   time.Duration
}

func (ps *proxyState) reset() {
	if !ps.used {
		return
	}
	ps.used = false
	ps.at.Reset()
	ps.out = proxypass.Request{}
	clear(ps.set)
	ps.set = ps.set[:0]
	clear(ps.hdr)
	ps.triesBuf = [2]tryRecord{}
	ps.tries = ps.triesBuf[:0]
	ps.cluster = ""
}

// viaValue is the Via field of proxied responses (as reverse_proxy's);
// its capacity is its length, so an append copies it.
var viaValue = []string{"1.1 Caddy"}

// errNoTarget tells ServeHTTP that proxy_pass has no target for this
// request (no URL, and no cluster set by Lua or a route): the request
// goes on to the next handler.
var errNoTarget = errors.New("proxy_pass: no target")

// proxy passes the request to its upstream with px and writes the
// response through the handler's writer (header_filter, body_filter).
// cluster, when not empty, is a route's cluster, which overrides px's
// target.
func (rs *reqState) proxy(px *proxier, cluster string) error {
	r := rs.req.R
	ps := &rs.px
	ps.used = true
	if ps.tries == nil {
		ps.tries = ps.triesBuf[:0]
	}
	var repl *caddy.Replacer
	getRepl := func() *caddy.Replacer {
		if repl == nil {
			repl, _ = r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
			if repl == nil {
				repl = caddy.NewReplacer()
			}
		}
		return repl
	}

	// The target: a cluster of the registry or one address.
	var tg proxypass.Target
	path, query, hasPath, hasQuery := px.path, px.query, px.hasPath, px.hasQuery
	tlsOn, tlsName := px.tls, px.tlsName
	switch {
	case cluster != "":
		hasPath, hasQuery = false, false
	case px.urlTemplate != "":
		t, err := px.expandURL(getRepl().ReplaceAll(px.urlTemplate, ""))
		if err != nil {
			return rs.proxyError(http.StatusBadGateway, "", "", err)
		}
		cluster, tg = t.cluster, t.target
		path, query, hasPath, hasQuery = t.path, t.query, t.hasPath, t.hasQuery
	case px.cluster != "":
		cluster = px.cluster
	case px.addr != "":
		tg = proxypass.Target{Addr: px.addr, TLS: px.tls, ServerName: px.serverName}
		if tlsName != "" {
			tg.ServerName = tlsName
		}
	default:
		cluster, _ = caddyhttp.GetVar(r.Context(), dynupstream.UpstreamVar).(string)
		if cluster == "" {
			return errNoTarget
		}
	}
	ps.cluster = cluster
	if cluster != "" && !px.reg.Begin(&ps.at, cluster) {
		return rs.proxyError(http.StatusBadGateway, cluster, "", fmt.Errorf("unknown upstream cluster %q", cluster))
	}
	if hasPath && px.pathRepl {
		path, query, hasQuery = strings.Cut(getRepl().ReplaceAll(path, ""), "?")
	}

	// The request to send.
	o := &ps.out
	o.Method = r.Method
	o.URI = outURI(r, path, query, hasPath, hasQuery)
	o.Host = r.Host
	if h := px.setHost; h != nil {
		o.Host = h.value
		if h.repl {
			o.Host = getRepl().ReplaceAll(h.value, "")
		}
	}
	o.Header = r.Header
	ps.set = rs.setFields(px, ps.set[:0], getRepl)
	o.Set = ps.set
	o.Upgrade = upgradeType(r.Header)
	o.Body, o.ContentLength = nil, 0
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		o.Body, o.ContentLength = r.Body, r.ContentLength
	}
	o.Trailer = r.Trailer
	if ps.hdr == nil {
		ps.hdr = make(http.Header, 8)
	}

	start := time.Now()
	limit := px.tries
	if limit == 0 && cluster != "" {
		limit = ps.at.Servers()
	}
	var picked *dynupstream.Server
	for n := 1; ; n++ {
		var srv dynupstream.Server
		if cluster != "" {
			if picked != nil {
				srv, picked = *picked, nil
			} else {
				s, ok := ps.at.Next(r)
				if !ok {
					return rs.proxyError(http.StatusServiceUnavailable, cluster, "", errors.New("no available server in upstream cluster"))
				}
				srv = s
			}
			tg = proxypass.Target{Addr: srv.Dial, TLS: tlsOn, ServerName: tlsName}
			if tlsOn && tlsName == "" {
				if h, _, err := net.SplitHostPort(srv.Dial); err == nil && net.ParseIP(h) == nil {
					tg.ServerName = h
				}
			}
		}
		addr := tg.Addr
		t0 := start
		if n > 1 {
			t0 = time.Now()
		}
		clear(ps.hdr)
		x, err := px.tr.Do(r.Context(), tg, o, ps.hdr, rs.on1xx)
		if errors.Is(err, proxypass.ErrInvalidRequest) {
			// A field value with CR or LF (set by Lua or a placeholder):
			// every server would get the same; not the server's doing.
			ps.at.Done(dynupstream.OutcomeNeutral)
			ps.tries = append(ps.tries, tryRecord{addr: addr, connect: -1, header: -1, total: time.Since(t0)})
			return rs.proxyError(http.StatusInternalServerError, cluster, addr, err)
		}
		if err != nil {
			code, c := errorCase(err)
			var pe *proxypass.Error
			errors.As(err, &pe)
			rec := tryRecord{addr: addr, status: code, connect: -1, header: -1, total: time.Since(t0)}
			if pe != nil && pe.Kind != proxypass.KindConnect && pe.Kind != proxypass.KindConnectTimeout {
				rec.connect = 0
			}
			if pe != nil && (pe.Kind == proxypass.KindCanceled || pe.Kind == proxypass.KindClientBody) {
				// The client went away or sent a broken body: not the
				// server's doing.
				ps.at.Done(dynupstream.OutcomeNeutral)
				rec.status = 0
				ps.tries = append(ps.tries, rec)
				return rs.clientGone(err, pe.Kind == proxypass.KindClientBody)
			}
			ps.tries = append(ps.tries, rec)
			ps.at.Done(dynupstream.OutcomeFailure)
			if cluster != "" && rs.mayRetry(px, c, pe, n, limit, start) {
				if s, ok := ps.at.Next(r); ok {
					rs.h.logger.Warn("proxy_pass: upstream failed; trying the next server",
						zap.String("upstream", cluster), zap.String("address", addr), zap.Error(err))
					picked = &s
					continue
				}
			}
			return rs.proxyError(code, cluster, addr, err)
		}
		resp := x.Response()
		rec := tryRecord{addr: addr, status: resp.Status, connect: x.ConnectTime(), header: x.HeaderTime()}
		if c := statusCase(resp.Status); c != 0 && px.next&c != 0 && cluster != "" && rs.mayRetry(px, c, nil, n, limit, start) {
			outcome := dynupstream.OutcomeFailure
			if c == nuHTTP403 || c == nuHTTP404 {
				outcome = dynupstream.OutcomeNeutral
			}
			ps.at.Done(outcome)
			if s, ok := ps.at.Next(r); ok {
				rec.total = time.Since(t0)
				ps.tries = append(ps.tries, rec)
				x.Close()
				picked = &s
				continue
			}
		} else {
			outcome := dynupstream.OutcomeSuccess
			if c != 0 && px.next&c != 0 && c != nuHTTP403 && c != nuHTTP404 {
				outcome = dynupstream.OutcomeFailure
			}
			ps.at.Done(outcome)
		}
		ps.tries = append(ps.tries, rec)
		return rs.writeProxied(px, x, t0)
	}
}

// mayRetry reports whether a failed attempt (case c; pe, the transport's
// error, if any) may go on to another server: proxy_next_upstream lists
// the case, tries and time are left, and the request is safe to send
// again (no body byte read, and a non-idempotent method only if it never
// reached the server or non_idempotent is listed).
func (rs *reqState) mayRetry(px *proxier, c nextUpstream, pe *proxypass.Error, n, limit int, start time.Time) bool {
	if px.next&c == 0 || n >= limit {
		return false
	}
	if px.tryLimit > 0 && time.Since(start) >= px.tryLimit {
		return false
	}
	if pe != nil && pe.BodySent {
		return false
	}
	sent := pe == nil || (pe.Kind != proxypass.KindConnect && pe.Kind != proxypass.KindConnectTimeout)
	if sent {
		if rs.px.out.Body != nil {
			return false // the body went out and cannot be read again
		}
		switch rs.req.R.Method {
		case http.MethodPost, http.MethodPatch, "LOCK":
			return px.next&nuNonIdempotent != 0
		}
	}
	return true
}

// errorCase maps a transport error to the status of the response and its
// proxy_next_upstream case.
func errorCase(err error) (int, nextUpstream) {
	var pe *proxypass.Error
	if !errors.As(err, &pe) {
		return http.StatusBadGateway, nuError
	}
	switch {
	case pe.Timeout():
		return http.StatusGatewayTimeout, nuTimeout
	case pe.Kind == proxypass.KindBadResponse:
		return http.StatusBadGateway, nuInvalidHeader
	}
	return http.StatusBadGateway, nuError
}

// proxyError ends a request proxy_pass could not serve: an error log line
// naming the cluster, the server and the cause, then the status through
// Caddy's error handling (handle_errors) or the handler's writer.
func (rs *reqState) proxyError(code int, cluster, addr string, err error) error {
	if ce := rs.errLogger().Check(zap.ErrorLevel, "proxy_pass: upstream failed"); ce != nil {
		fields := make([]zap.Field, 0, 4)
		if cluster != "" {
			fields = append(fields, zap.String("upstream", cluster))
		}
		if addr != "" {
			fields = append(fields, zap.String("address", addr))
		}
		fields = append(fields, zap.Int("status", code), zap.Error(err))
		ce.Write(fields...)
	}
	return rs.exitResponse(code, fmt.Errorf("proxy_pass: %w", err))
}

// clientGone ends a request whose client went away (or whose body could
// not be read) while it was being proxied.
func (rs *reqState) clientGone(err error, badBody bool) error {
	if badBody {
		rs.h.logger.Debug("proxy_pass: reading the request body failed", zap.Error(err))
		return rs.exitResponse(http.StatusBadRequest, err)
	}
	rs.h.logger.Debug("proxy_pass: the client went away", zap.Error(err))
	rs.rw.status = 499 // nginx's "client closed request", for the log phase
	rs.rw.finished = true
	return nil
}

// on1xx forwards an informational response (102, 103) to the client.
// 100 Continue is not: Go's server sends its own when the handler reads
// the body of a request that expects it. The fields of the 1xx are set on
// the client's header map only while it is written; what was there
// before (fields set by Lua) is put back.
func (rs *reqState) on1xx(code int, h http.Header) error {
	if rs.rw.wroteHeader || code == http.StatusContinue {
		return nil
	}
	hdr := rs.rw.Header()
	type kept struct {
		k string
		v []string
	}
	saved := make([]kept, 0, 4)
	for k, v := range h {
		if old := hdr[k]; old != nil {
			saved = append(saved, kept{k, old})
		}
		hdr[k] = v
	}
	rs.rw.ResponseWriter.WriteHeader(code)
	for k := range h {
		delete(hdr, k)
	}
	for _, s := range saved {
		hdr[s.k] = s.v
	}
	return nil
}

// writeProxied sends the upstream's response to the client: its fields,
// its body streamed (flushed whenever the upstream pauses), its trailers.
func (rs *reqState) writeProxied(px *proxier, x *proxypass.Exchange, t0 time.Time) error {
	defer x.Close()
	w := &rs.rw
	resp := x.Response()
	hdr := w.Header()
	delete(hdr, "Server")
	if v := hdr["Via"]; v == nil {
		hdr["Via"] = viaValue
	} else {
		hdr["Via"] = append(v, viaValue[0])
	}
	for k, v := range rs.px.hdr {
		if ex := hdr[k]; ex == nil {
			hdr[k] = v
		} else {
			hdr[k] = append(ex, v...)
		}
	}
	for _, k := range px.hide {
		delete(hdr, k)
	}
	if resp.Status == http.StatusSwitchingProtocols {
		return rs.upgrade(x)
	}
	w.status = resp.Status
	w.sendHeaders()
	if w.aborted {
		panic(http.ErrAbortHandler)
	}
	if !w.discard {
		var dst io.Writer = w
		if !rs.hasPhase(rs.h.bodyFilter, luaplugin.PhaseBodyFilter) {
			dst = countingWriter{w}
		}
		_, err := x.CopyBody(dst, w.FlushError)
		rs.recordTotal(t0)
		if err != nil {
			if errors.Is(err, proxypass.ErrClientWrite) {
				rs.h.logger.Debug("proxy_pass: the client went away", zap.Error(err))
				w.finished = true
				return nil
			}
			if ce := rs.errLogger().Check(zap.ErrorLevel, "proxy_pass: upstream failed while sending the body; the response is cut short"); ce != nil {
				ce.Write(zap.String("address", rs.lastAddr()), zap.Error(err))
			}
			w.aborted = true
			x.Close()
			panic(http.ErrAbortHandler)
		}
		if len(resp.Trailer) > 0 {
			for k, v := range resp.Trailer {
				hdr[http.TrailerPrefix+k] = v
			}
			// net/http frames a response that is still unsent when the
			// handler returns with a Content-Length, which has no room
			// for trailers: sent now, it is chunked.
			if err := w.FlushError(); err != nil {
				w.finished = true
				return nil
			}
		}
	} else {
		rs.recordTotal(t0)
	}
	return w.finish()
}

// lastAddr is the address of the request's last attempt.
func (rs *reqState) lastAddr() string {
	if n := len(rs.px.tries); n > 0 {
		return rs.px.tries[n-1].addr
	}
	return ""
}

// recordTotal sets the last attempt's total time.
func (rs *reqState) recordTotal(t0 time.Time) {
	if n := len(rs.px.tries); n > 0 {
		rs.px.tries[n-1].total = time.Since(t0)
	}
}

// countingWriter writes body bytes straight to the client (no
// body_filter), counting them.
type countingWriter struct{ rw *responseWriter }

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.rw.ResponseWriter.Write(p)
	c.rw.bytes += int64(n)
	return n, err
}

// upgrade completes a 101 Switching Protocols response (WebSocket and
// other upgrades): header_filter runs, then both connections are
// hijacked and copied full duplex until one side ends.
func (rs *reqState) upgrade(x *proxypass.Exchange) error {
	w := &rs.rw
	up, upr := x.Hijack()
	w.status = http.StatusSwitchingProtocols
	w.sendHeaders()
	if w.aborted || w.discard {
		up.Close()
		if w.aborted {
			panic(http.ErrAbortHandler)
		}
		return w.finish()
	}
	down, downrw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		up.Close()
		rs.h.logger.Error("proxy_pass: upgrade: hijacking the client connection", zap.Error(err))
		w.finished = true
		return nil
	}
	w.finished = true
	if err := downrw.Flush(); err != nil {
		up.Close()
		down.Close()
		return nil
	}
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			up.Close()
			down.Close()
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(up, downrw.Reader) // what the client sent after the head, then its connection
		closeBoth()
	}()
	n, _ := io.Copy(down, upr)
	w.bytes += n
	closeBoth()
	<-done
	return nil
}

// upgradeType returns the protocol a request asks to upgrade to
// (`Connection: upgrade` and `Upgrade: websocket`), or "".
func upgradeType(h http.Header) string {
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				if u := h["Upgrade"]; len(u) > 0 {
					return u[0]
				}
				return ""
			}
		}
	}
	return ""
}

// outURI is the request-target sent upstream: the request's (after
// rewrites), or the URL's path with the request's query (or the URL's).
func outURI(r *http.Request, path, query string, hasPath, hasQuery bool) string {
	if !hasPath {
		p := r.URL.EscapedPath()
		if p == "" {
			p = "/"
		}
		if r.URL.RawQuery == "" && !r.URL.ForceQuery {
			return p
		}
		return p + "?" + r.URL.RawQuery
	}
	path = escapeTarget(path)
	q := r.URL.RawQuery
	if hasQuery {
		q = query
	}
	if q == "" {
		return path
	}
	return path + "?" + q
}

// escapeTarget percent-encodes the bytes a request-target's path may
// not hold (spaces, controls, non-ASCII…), which an unescaped
// placeholder such as {http.request.uri.path} can bring; '%' is kept.
func escapeTarget(p string) string {
	i := 0
	for i < len(p) && targetByte(p[i]) {
		i++
	}
	if i == len(p) {
		return p
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(p)+16)
	b = append(b, p[:i]...)
	for ; i < len(p); i++ {
		if c := p[i]; targetByte(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

// targetByte reports whether c may appear as is in a request-target's
// path (RFC 3986 pchar and '/', plus '%' of escapes).
func targetByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/%", c) >= 0
}

// setFields builds the fields proxy_pass sets: proxy_set_header's, then
// X-Forwarded-For, -Proto and -Host as Caddy's reverse_proxy sets them
// (unless proxy_set_header sets them): a client that is one of the
// server's trusted_proxies keeps its X-Forwarded-For (the client address
// appended), -Proto and -Host; any other client's are replaced.
func (rs *reqState) setFields(px *proxier, set []proxypass.Field, repl func() *caddy.Replacer) []proxypass.Field {
	r := rs.req.R
	var own [3]bool
	for _, f := range px.set {
		v := f.value
		if f.repl {
			v = repl().ReplaceAll(v, "")
		}
		set = append(set, proxypass.Field{Name: f.name, Value: v})
		for i, n := range xfNames {
			if n == f.name {
				own[i] = true
			}
		}
	}
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	if !own[0] {
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = ""
		}
		ip, _, _ = strings.Cut(ip, "%")
		prior := r.Header["X-Forwarded-For"]
		switch {
		case trusted && len(prior) > 0 && prior[0] != "":
			v := strings.Join(prior, ", ")
			if ip != "" {
				v += ", " + ip
			}
			set = append(set, proxypass.Field{Name: "X-Forwarded-For", Value: v})
		case ip != "":
			set = append(set, proxypass.Field{Name: "X-Forwarded-For", Value: ip})
		default:
			set = append(set, proxypass.Field{Name: "X-Forwarded-For"}) // removed
		}
	}
	if !own[1] {
		proto := "http"
		if r.TLS != nil {
			proto = "https"
		}
		if v := r.Header["X-Forwarded-Proto"]; trusted && len(v) > 0 && v[len(v)-1] != "" {
			proto = v[len(v)-1]
		}
		set = append(set, proxypass.Field{Name: "X-Forwarded-Proto", Value: proto})
	}
	if !own[2] {
		host := r.Host
		if v := r.Header["X-Forwarded-Host"]; trusted && len(v) > 0 && v[len(v)-1] != "" {
			host = v[len(v)-1]
		}
		set = append(set, proxypass.Field{Name: "X-Forwarded-Host", Value: host})
	}
	return set
}

// urlTarget is a URL with placeholders, expanded for one request.
type urlTarget struct {
	cluster           string
	target            proxypass.Target
	path, query       string
	hasPath, hasQuery bool
}

// expandURL parses an expanded URL: its host names a cluster when the
// registry has one by that name.
func (px *proxier) expandURL(raw string) (urlTarget, error) {
	var t urlTarget
	_, rest, _ := strings.Cut(raw, "://")
	host, path, hasPath := strings.Cut(rest, "/")
	if hasPath {
		t.path, t.query, t.hasQuery = strings.Cut("/"+path, "?")
		t.hasPath = true
	}
	if px.reg != nil && px.reg.Has(host) {
		t.cluster = host
		return t, nil
	}
	addr, name, err := hostPort(host, px.tls)
	if err != nil {
		return t, fmt.Errorf("url %q: %w", raw, err)
	}
	t.target = proxypass.Target{Addr: addr, TLS: px.tls, ServerName: name}
	if px.tlsName != "" {
		t.target.ServerName = px.tlsName
	}
	return t, nil
}

// UpstreamVar implements luaplugin.UpstreamVars: nginx's $upstream_*
// variables of the request's proxy_pass attempts.
func (rw *responseWriter) UpstreamVar(name string) (string, bool) {
	tries := rw.rs.px.tries
	if len(tries) == 0 {
		return "", false
	}
	var b strings.Builder
	for i, t := range tries {
		if i > 0 {
			b.WriteString(", ")
		}
		switch name {
		case "upstream_addr":
			b.WriteString(t.addr)
		case "upstream_status":
			if t.status == 0 {
				b.WriteByte('-')
			} else {
				b.WriteString(strconv.Itoa(t.status))
			}
		case "upstream_response_time":
			writeSeconds(&b, t.total)
		case "upstream_connect_time":
			writeSeconds(&b, t.connect)
		case "upstream_header_time":
			writeSeconds(&b, t.header)
		default:
			return "", false
		}
	}
	return b.String(), true
}

// writeSeconds writes d as nginx writes times: seconds with millisecond
// precision, "-" when unknown.
func writeSeconds(b *strings.Builder, d time.Duration) {
	if d < 0 {
		b.WriteByte('-')
		return
	}
	ms := d.Milliseconds()
	b.WriteString(strconv.FormatInt(ms/1000, 10))
	b.WriteByte('.')
	frac := strconv.FormatInt(ms%1000, 10)
	b.WriteString("000"[len(frac):])
	b.WriteString(frac)
}
