package proxypass

import (
	"bufio"
	"bytes"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
)

// Response is the final response's head.
type Response struct {
	// Status is the status code.
	Status int
	// Header is the end-to-end fields: the map given to Do. Hop-by-hop
	// fields are removed (Connection and the fields it names, Keep-Alive,
	// Proxy-Connection, Proxy-Authenticate, TE, Transfer-Encoding,
	// Trailer, and Upgrade but in a 101). Content-Length is kept (one
	// value) when the body's length is known from it, and for HEAD and
	// 304 responses, so that the response can be framed the same way
	// downstream; it is removed from 1xx and 204 responses and when the
	// body is chunked.
	Header http.Header
	// ContentLength is the length of the body to read: -1 unknown
	// (chunked or until the connection closes), 0 for the responses
	// without a body (HEAD, 1xx, 204, 304).
	ContentLength int64
	// Trailer is the trailers of a chunked body, filled when CopyBody
	// reaches its end (nil when there are none).
	Trailer http.Header
}

// max1xx bounds the informational responses before the final one.
const max1xx = 16

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 2*readBufSize); return &b }}

// upgradeValue is the Connection field of a 101 (cap = len: appending copies).
var upgradeValue = []string{"Upgrade"}

// readResponse reads the response head (after any 1xx) into x.
func (x *Exchange) readResponse(on1xx func(int, http.Header) error, early bool) error {
	c := x.c
	if !early && !x.readDL {
		if err := x.setReadDeadline(); err != nil {
			return x.ioErr(err, true)
		}
	}
	for n1xx := 0; ; n1xx++ {
		head, consumed, err := x.readHead()
		if err != nil {
			return err
		}
		nl := bytes.IndexByte(head, '\n')
		minor, code, ok := parseStatusLine(head[:nl])
		if !ok {
			return x.badErr("malformed status line %q", head[:min(nl, 64)])
		}
		fields := head[nl+1:]
		if code < 200 && code != http.StatusSwitchingProtocols {
			if n1xx >= max1xx {
				return x.badErr("too many informational responses")
			}
			h := make(http.Header)
			if err := parseFields(fields, h); err != nil {
				return x.badErr("%v", err)
			}
			x.releaseHead(consumed)
			stripHopByHop(h, false)
			if on1xx != nil {
				if err := on1xx(code, h); err != nil {
					return &Error{Kind: KindCanceled, Addr: c.tg.Addr, BodySent: x.bodySent, Err: &clientWriteError{err}, gotResponse: true}
				}
			}
			if err := x.setReadDeadline(); err != nil {
				return x.ioErr(err, true)
			}
			continue
		}
		h := x.resp.Header
		err = parseFields(fields, h)
		x.releaseHead(consumed)
		if err != nil {
			return x.badErr("%v", err)
		}
		return x.frame(minor, code)
	}
}

// releaseHead consumes the head just parsed.
func (x *Exchange) releaseHead(consumed int) {
	if consumed > 0 {
		_, _ = x.c.br.Discard(consumed)
	}
	if x.scratch != nil {
		*x.scratch = (*x.scratch)[:0]
		if cap(*x.scratch) <= 16<<10 {
			scratchPool.Put(x.scratch)
		}
		x.scratch = nil
	}
}

// readHead returns the next head (status line to the empty line),
// unparsed: a slice of the read buffer (consumed bytes to discard once
// parsed) or, for a head longer than the buffer, of a scratch buffer.
func (x *Exchange) readHead() ([]byte, int, error) {
	br := x.c.br
	limit := x.t.o.MaxHeaderBytes
	scanned := 0
	for {
		nb := br.Buffered()
		if nb > 0 {
			x.gotResponse = true
			buf, _ := br.Peek(nb)
			if end := headEnd(buf, scanned); end >= 0 {
				if end > limit {
					return nil, 0, x.badErr("response head over %d bytes", limit)
				}
				return buf[:end], end, nil
			}
			if nb > limit {
				return nil, 0, x.badErr("response head over %d bytes", limit)
			}
			if nb >= br.Size() {
				return x.readLongHead()
			}
			scanned = max(0, nb-3)
		}
		if _, err := br.Peek(nb + 1); err != nil && br.Buffered() <= nb {
			if x.lateWatch(err) {
				continue
			}
			if br.Buffered() > 0 {
				x.gotResponse = true
			}
			return nil, 0, x.ioErr(eofToUnexpectedIf(err, x.gotResponse), true)
		}
	}
}

func eofToUnexpectedIf(err error, cond bool) error {
	if cond {
		return eofToUnexpected(err)
	}
	return err
}

// readLongHead assembles a head longer than the read buffer, line by
// line, in a scratch buffer.
func (x *Exchange) readLongHead() ([]byte, int, error) {
	br := x.c.br
	limit := x.t.o.MaxHeaderBytes
	x.scratch = scratchPool.Get().(*[]byte)
	b := (*x.scratch)[:0]
	lineStart := 0
	for {
		line, err := br.ReadSlice('\n')
		if len(b)+len(line) > limit {
			*x.scratch = b
			return nil, 0, x.badErr("response head over %d bytes", limit)
		}
		b = append(b, line...)
		*x.scratch = b
		switch err {
		case nil:
			l := b[lineStart:]
			if len(l) == 1 || (len(l) == 2 && l[0] == '\r') {
				if lineStart == 0 {
					return nil, 0, x.badErr("malformed status line")
				}
				return b, 0, nil
			}
			lineStart = len(b)
		case bufio.ErrBufferFull:
			// The line goes on.
		default:
			return nil, 0, x.ioErr(eofToUnexpected(err), true)
		}
	}
}

// headEnd returns the length of the head in buf (up to and including the
// empty line), or -1; the search starts at from.
func headEnd(buf []byte, from int) int {
	i := from
	for {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if i < len(buf) && buf[i] == '\n' {
			return i + 1
		}
		if i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n' {
			return i + 2
		}
	}
}

// parseStatusLine parses `HTTP/1.x NNN[ reason]`.
func parseStatusLine(l []byte) (minor, code int, ok bool) {
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	if len(l) < 12 || string(l[:7]) != "HTTP/1." || l[7] < '0' || l[7] > '9' || l[8] != ' ' {
		return 0, 0, false
	}
	if len(l) > 12 && l[12] != ' ' {
		return 0, 0, false
	}
	for _, b := range l[9:12] {
		if b < '0' || b > '9' {
			return 0, 0, false
		}
		code = code*10 + int(b-'0')
	}
	if code < 100 {
		return 0, 0, false
	}
	for _, b := range l[12:] {
		if b < ' ' && b != '\t' || b == 0x7f {
			return 0, 0, false
		}
	}
	return int(l[7] - '0'), code, true
}

// parseFields parses the field lines of a head (ending with its empty
// line) into h: one string holds all the names and values, one slice all
// the values.
func parseFields(b []byte, h http.Header) error {
	n := bytes.Count(b, nlByte)
	if n <= 1 {
		return nil
	}
	s := string(b)
	vals := make([]string, n-1)
	i := 0
	for s != "" {
		nl := strings.IndexByte(s, '\n')
		if nl < 0 {
			break
		}
		line := s[:nl]
		s = s[nl+1:]
		if k := len(line); k > 0 && line[k-1] == '\r' {
			line = line[:k-1]
		}
		if line == "" {
			break
		}
		name, value, err := splitField(line)
		if err != nil {
			return err
		}
		vals[i] = value
		if old, ok := h[name]; ok {
			h[name] = append(old, value)
		} else {
			h[name] = vals[i : i+1 : i+1]
		}
		i++
	}
	return nil
}

var nlByte = []byte{'\n'}

// splitField splits and checks a field line, interning its name.
func splitField(line string) (name, value string, err error) {
	if line[0] == ' ' || line[0] == '\t' {
		return "", "", errorString("obsolete line folding")
	}
	colon := strings.IndexByte(line, ':')
	if colon <= 0 {
		return "", "", errorString("malformed field line")
	}
	raw := line[:colon]
	if !isToken(raw) {
		return "", "", errorString("malformed field name")
	}
	v := line[colon+1:]
	for v != "" && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for v != "" && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\r' || c == 0 {
			return "", "", errorString("malformed field value")
		}
	}
	return canonicalName(raw), v, nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

// commonNames interns the canonical names of common response fields.
var commonNames = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept-Ranges", "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers",
		"Access-Control-Allow-Methods", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
		"Access-Control-Max-Age", "Age", "Allow", "Alt-Svc", "Cache-Control", "Connection",
		"Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
		"Content-Location", "Content-Range", "Content-Security-Policy", "Content-Type", "Date",
		"Etag", "Expires", "Keep-Alive", "Last-Modified", "Link", "Location", "Pragma",
		"Proxy-Authenticate", "Proxy-Connection", "Referrer-Policy", "Retry-After", "Server",
		"Server-Timing", "Set-Cookie", "Strict-Transport-Security", "Te", "Timing-Allow-Origin",
		"Trailer", "Transfer-Encoding", "Upgrade", "Vary", "Via", "Www-Authenticate",
		"X-Content-Type-Options", "X-Frame-Options", "X-Powered-By", "X-Request-Id", "X-Xss-Protection",
		"X-Cache", "X-Accel-Redirect", "X-Accel-Buffering", "X-Accel-Expires", "X-Accel-Charset",
		"X-Accel-Limit-Rate", "Grpc-Status", "Grpc-Message", "Cross-Origin-Opener-Policy",
		"Cross-Origin-Resource-Policy", "Cross-Origin-Embedder-Policy", "Permissions-Policy",
		"Sec-Websocket-Accept", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions",
	} {
		m[k] = k
	}
	return m
}()

// canonicalName returns the canonical form of the token raw: interned
// when common, raw itself when already canonical, else a new string.
func canonicalName(raw string) string {
	var kb [64]byte
	if len(raw) > len(kb) {
		return textproto.CanonicalMIMEHeaderKey(raw)
	}
	same := true
	upper := true
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		kb[i] = c
		if c != raw[i] {
			same = false
		}
		upper = c == '-'
	}
	if k, ok := commonNames[string(kb[:len(raw)])]; ok {
		return k
	}
	if same {
		return raw
	}
	return string(kb[:len(raw)])
}

// stripHopByHop removes the hop-by-hop fields of a response head (and
// those its Connection field names); it reports the Connection tokens
// close and keep-alive.
func stripHopByHop(h http.Header, keepUpgrade bool) (connClose, keepAlive bool) {
	if cv, ok := h["Connection"]; ok {
		for _, v := range cv {
			for v != "" {
				var t string
				t, v, _ = strings.Cut(v, ",")
				t = strings.TrimSpace(t)
				switch {
				case t == "":
				case strings.EqualFold(t, "close"):
					connClose = true
				case strings.EqualFold(t, "keep-alive"):
					keepAlive = true
				case strings.EqualFold(t, "upgrade"):
					if !keepUpgrade {
						delete(h, "Upgrade")
					}
				default:
					if isToken(t) {
						delete(h, canonicalName(t))
					}
				}
			}
		}
		delete(h, "Connection")
	}
	delete(h, "Keep-Alive")
	delete(h, "Proxy-Connection")
	delete(h, "Proxy-Authenticate")
	delete(h, "Te")
	delete(h, "Trailer")
	if !keepUpgrade {
		delete(h, "Upgrade")
	}
	return connClose, keepAlive
}

// frame decides, from the final head, how the body is delimited and
// whether the connection may be reused.
func (x *Exchange) frame(minor, code int) error {
	h := x.resp.Header
	x.resp.Status = code
	if code == http.StatusSwitchingProtocols && !x.upgrade {
		return x.badErr("101 Switching Protocols to a request without Upgrade")
	}
	te, hasTE := h["Transfer-Encoding"]
	connClose, keepAlive := stripHopByHop(h, code == http.StatusSwitchingProtocols)
	x.keep = !connClose && (minor >= 1 || keepAlive) && x.reqDone
	chunked := false
	if hasTE {
		delete(h, "Transfer-Encoding")
		if !isChunked(te) {
			return x.badErr("unsupported Transfer-Encoding %q", strings.Join(te, ", "))
		}
		chunked = true
		if minor == 0 {
			x.keep = false // RFC 9112 6.1: HTTP/1.0 framing is not to be trusted
		}
		if _, ok := h["Content-Length"]; ok {
			// Both: a response built to be read two ways (smuggling).
			// RFC 9112 6.3 lets chunked win; nginx refuses it, and so
			// do we.
			return x.badErr("both Content-Length and Transfer-Encoding")
		}
	}
	length := int64(-1)
	if cl, ok := h["Content-Length"]; ok {
		n, ok := parseContentLength(cl)
		if !ok {
			return x.badErr("invalid Content-Length %q", strings.Join(cl, ", "))
		}
		if len(cl) > 1 || strings.IndexByte(cl[0], ',') >= 0 || strings.TrimSpace(cl[0]) != cl[0] {
			h["Content-Length"] = []string{strconv.FormatInt(n, 10)}
		}
		length = n
	}
	switch {
	case code == http.StatusSwitchingProtocols:
		x.mode = bodyNone
		x.keep = false
		x.resp.ContentLength = 0
		h["Connection"] = upgradeValue
	case x.head || code == http.StatusNotModified:
		x.mode = bodyNone
		x.resp.ContentLength = 0
	case code == http.StatusNoContent || code < 200:
		delete(h, "Content-Length")
		x.mode = bodyNone
		x.resp.ContentLength = 0
	case chunked:
		x.mode = bodyChunked
		x.resp.ContentLength = -1
	case length >= 0:
		x.mode = bodyLength
		x.remaining = length
		x.resp.ContentLength = length
		if length == 0 {
			x.mode = bodyNone
		}
	default:
		x.mode = bodyClose
		x.keep = false
		x.resp.ContentLength = -1
	}
	if x.mode == bodyNone {
		x.bodyDone = true
	}
	return nil
}

// isChunked reports whether the Transfer-Encoding values are exactly
// "chunked" (other codings are not supported, as in net/http).
func isChunked(te []string) bool {
	n := 0
	for _, v := range te {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if !strings.EqualFold(t, "chunked") {
				return false
			}
			n++
		}
	}
	return n == 1
}

// parseContentLength parses Content-Length values: all must be the same
// decimal number (RFC 9110 8.6).
func parseContentLength(vs []string) (int64, bool) {
	var n int64 = -1
	for _, v := range vs {
		for {
			t, rest, more := strings.Cut(v, ",")
			m, ok := parseDecimal(strings.TrimSpace(t))
			if !ok || (n >= 0 && m != n) {
				return 0, false
			}
			n = m
			if !more {
				break
			}
			v = rest
		}
	}
	return n, n >= 0
}

func parseDecimal(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
