package proxypass

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Field is a request field set over the client's: see Request.Set.
type Field struct {
	// Name is the field's canonical name (as textproto.CanonicalMIMEHeaderKey).
	Name string
	// Value is the field's value; empty removes the field.
	Value string
}

// Request is what is sent upstream. The Transport never modifies it
// (nor its Header or Trailer).
type Request struct {
	// Method is the request method; URI the request-target exactly as
	// sent (already escaped; empty means "/"); Host the Host field
	// (empty: Target.Addr).
	Method, URI, Host string
	// Header is the client's fields. Hop-by-hop fields are not sent:
	// Connection and the fields it names, Keep-Alive, Proxy-Connection,
	// TE (but `TE: trailers`), Transfer-Encoding, Upgrade, Trailer,
	// Proxy-Authenticate, Proxy-Authorization; nor Host and
	// Content-Length (the Transport writes its own), nor Expect (the body
	// is sent without waiting for 100 Continue). Keys must be canonical,
	// as a net/http server makes them.
	Header http.Header
	// Set is applied over Header: a field of Header whose name is in Set
	// is not sent; each entry of Set with a non-empty Value is sent (in
	// order, several entries of one name are all sent). Entries naming
	// Host, Content-Length, Transfer-Encoding, Connection, Upgrade, TE or
	// Trailer are ignored: the Transport owns those.
	Set []Field
	// Upgrade, when not empty, asks the upstream to switch protocols:
	// `Connection: Upgrade` and `Upgrade: <Upgrade>` are sent. (Else
	// `Connection: close` is sent when the Transport keeps no idle
	// connection, nothing otherwise: HTTP/1.1 keeps connections alive.)
	Upgrade string
	// Body is the request body (nil: none).
	Body io.Reader
	// ContentLength is the length of Body: -1 means unknown (the body is
	// sent chunked), 0 no body (Body is not read).
	ContentLength int64
	// Trailer is the client's trailers, read after Body's EOF: when Body
	// is sent chunked and Trailer has keys, the trailers with values are
	// sent after the last chunk (keys are announced in a Trailer field).
	Trailer http.Header
}

const bodyBufSize = 32 << 10

var (
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
	bufPool    = sync.Pool{New: func() any { return new([bodyBufSize]byte) }}
)

// validate refuses a request that cannot be written safely; size is
// about the size of its head.
func (req *Request) validate() (size int, err error) {
	if req.Method == "" || !isToken(req.Method) {
		return 0, fmt.Errorf("%w: method %q", ErrInvalidRequest, req.Method)
	}
	for i := 0; i < len(req.URI); i++ {
		if b := req.URI[i]; b <= ' ' || b == 0x7f {
			return 0, fmt.Errorf("%w: URI %q", ErrInvalidRequest, req.URI)
		}
	}
	for i := 0; i < len(req.Host); i++ {
		if b := req.Host[i]; b <= ' ' || b == 0x7f {
			return 0, fmt.Errorf("%w: Host %q", ErrInvalidRequest, req.Host)
		}
	}
	if !validValue(req.Upgrade) {
		return 0, fmt.Errorf("%w: Upgrade %q", ErrInvalidRequest, req.Upgrade)
	}
	size = len(req.Method) + len(req.URI) + len(req.Host) + len(req.Upgrade) + 64
	for k, vs := range req.Header {
		size += len(k) + 4
		if !isToken(k) {
			return 0, fmt.Errorf("%w: field name %q", ErrInvalidRequest, k)
		}
		for _, v := range vs {
			size += len(k) + len(v) + 4
			if !validValue(v) {
				return 0, fmt.Errorf("%w: field %s: value %q", ErrInvalidRequest, k, v)
			}
		}
	}
	for _, f := range req.Set {
		size += len(f.Name) + len(f.Value) + 4
		if !isToken(f.Name) || !validValue(f.Value) {
			return 0, fmt.Errorf("%w: field %q: value %q", ErrInvalidRequest, f.Name, f.Value)
		}
	}
	return size, nil
}

// validValue reports whether v may be sent as a field value: no CR, LF
// or NUL.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\r', '\n', 0:
			return false
		}
	}
	return true
}

// tokenTable marks the bytes of an RFC 9110 token.
var tokenTable = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenTable[s[i]] {
			return false
		}
	}
	return true
}

// skipRequestField reports whether the client's field k is never sent
// as is.
func skipRequestField(k string) bool {
	switch k {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Transfer-Encoding", "Upgrade",
		"Proxy-Authenticate", "Proxy-Authorization", "Trailer", "Host", "Content-Length", "Expect":
		return true
	}
	return false
}

// reservedSet reports whether a Set entry's name is the Transport's own.
func reservedSet(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Te", "Trailer":
		return true
	}
	return false
}

// hasToken reports whether the comma-separated lists vs hold tok (case
// insensitive).
func hasToken(vs []string, tok string) bool {
	for _, v := range vs {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}

// noBodyMethod reports whether a request of method m without a body is
// sent without Content-Length.
func noBodyMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT":
		return true
	}
	return false
}

// writeRequest writes the request: the head, then the body streamed
// through a pooled buffer. Small requests go out in one write.
func (x *Exchange) writeRequest(req *Request) error {
	c := x.c
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(c.nc)
	defer func() {
		bw.Reset(nil)
		writerPool.Put(bw)
	}()
	sendTimeout := x.t.o.SendTimeout
	hasBody := req.Body != nil && req.ContentLength != 0
	if !hasBody && sendTimeout == x.t.o.ReadTimeout {
		// The request goes out in one write, and the wait for the
		// response follows at once: one deadline for both (one timer
		// update instead of two); watchAfter's while the context is
		// not watched (the write cannot block: see lazyMaxHead).
		now := time.Now()
		x.readUntil = now.Add(sendTimeout)
		dl := x.readUntil
		if !x.watching && watchAfter < sendTimeout {
			dl = now.Add(watchAfter)
		}
		if err := x.setDeadline(dl, true); err != nil {
			return x.ioErr(err, false)
		}
		x.readDL = true
	} else if err := c.raw.SetWriteDeadline(time.Now().Add(sendTimeout)); err != nil {
		return x.ioErr(err, false)
	}

	chunked := hasBody && req.ContentLength < 0
	uri := req.URI
	if uri == "" {
		uri = "/"
	}
	host := req.Host
	if host == "" {
		host = c.tg.Addr
	}
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	bw.WriteString(uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")

	connFields := req.Header["Connection"]
	teTrailers := false
	for k, vs := range req.Header {
		if skipRequestField(k) {
			if k == "Te" && hasToken(vs, "trailers") {
				teTrailers = true
			}
			continue
		}
		if connFields != nil && hasToken(connFields, k) {
			continue
		}
		if inSet(req.Set, k) {
			continue
		}
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	for _, f := range req.Set {
		if f.Value == "" || reservedSet(f.Name) {
			continue
		}
		bw.WriteString(f.Name)
		bw.WriteString(": ")
		bw.WriteString(f.Value)
		bw.WriteString("\r\n")
	}
	if teTrailers {
		bw.WriteString("TE: trailers\r\n")
	}
	if req.Upgrade != "" {
		bw.WriteString("Connection: Upgrade\r\nUpgrade: ")
		bw.WriteString(req.Upgrade)
		bw.WriteString("\r\n")
	} else if x.t.o.MaxIdlePerTarget < 0 {
		bw.WriteString("Connection: close\r\n") // no keep-alive: say so
	}
	switch {
	case chunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		first := true
		for k := range req.Trailer {
			if !isToken(k) || skipRequestField(k) {
				continue
			}
			if first {
				bw.WriteString("Trailer: ")
			} else {
				bw.WriteString(", ")
			}
			first = false
			bw.WriteString(k)
		}
		if !first {
			bw.WriteString("\r\n")
		}
	case hasBody:
		b := bw.AvailableBuffer()
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, req.ContentLength, 10)
		b = append(b, "\r\n"...)
		bw.Write(b)
	case !noBodyMethod(req.Method):
		bw.WriteString("Content-Length: 0\r\n")
	}
	bw.WriteString("\r\n")
	if !hasBody {
		if err := bw.Flush(); err != nil {
			return x.ioErr(err, false)
		}
		x.reqDone = true
		return nil
	}

	bp := bufPool.Get().(*[bodyBufSize]byte)
	defer bufPool.Put(bp)
	remaining := req.ContentLength
	for {
		p := bp[:]
		if !chunked && remaining < int64(len(p)) {
			p = p[:remaining]
		}
		n, rerr := req.Body.Read(p)
		if n > 0 {
			x.bodySent = true
			if err := c.raw.SetWriteDeadline(time.Now().Add(sendTimeout)); err != nil {
				return x.ioErr(err, false)
			}
			if chunked {
				b := bw.AvailableBuffer()
				b = strconv.AppendInt(b, int64(n), 16)
				b = append(b, "\r\n"...)
				bw.Write(b)
				bw.Write(p[:n])
				bw.WriteString("\r\n")
			} else {
				bw.Write(p[:n])
				remaining -= int64(n)
			}
		}
		if rerr == io.EOF || (!chunked && remaining == 0) {
			break
		}
		if rerr != nil {
			return x.clientBodyErr(rerr)
		}
		if n > 0 {
			// Stream: what the client sent goes on at once.
			if err := bw.Flush(); err != nil {
				return x.ioErr(err, false)
			}
		}
	}
	if !chunked && remaining > 0 {
		return x.clientBodyErr(io.ErrUnexpectedEOF)
	}
	if chunked {
		bw.WriteString("0\r\n")
		for k, vs := range req.Trailer {
			if !isToken(k) || skipRequestField(k) {
				continue
			}
			for _, v := range vs {
				if !validValue(v) {
					continue
				}
				bw.WriteString(k)
				bw.WriteString(": ")
				bw.WriteString(v)
				bw.WriteString("\r\n")
			}
		}
		bw.WriteString("\r\n")
	}
	if err := c.raw.SetWriteDeadline(time.Now().Add(sendTimeout)); err != nil {
		return x.ioErr(err, false)
	}
	if err := bw.Flush(); err != nil {
		return x.ioErr(err, false)
	}
	x.reqDone = true
	return nil
}

// inSet reports whether set has an entry named k.
func inSet(set []Field, k string) bool {
	for i := range set {
		if set[i].Name == k || strings.EqualFold(set[i].Name, k) {
			return true
		}
	}
	return false
}

// clientBodyErr is the error of a failed read of the request body.
func (x *Exchange) clientBodyErr(err error) error {
	k := KindClientBody
	if x.ctx.Err() != nil {
		k = KindCanceled
	}
	return &Error{Kind: k, Addr: x.c.tg.Addr, BodySent: true, Err: err}
}
