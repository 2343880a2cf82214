package proxypass

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// bodyMode is how a response body is delimited.
type bodyMode uint8

const (
	bodyNone    bodyMode = iota // no body
	bodyLength                  // Content-Length
	bodyChunked                 // chunked
	bodyClose                   // until the connection closes
)

// earlyWait bounds the wait for a response after writing the request
// failed (an upstream that answered early, e.g. 413, and closed).
const earlyWait = 100 * time.Millisecond

// watchAfter is how long a small request with no body waits for its
// response head before the request's context is watched (watch). Most
// responses come sooner: they cost no context registration (five
// allocations and two locked map operations). Until then the read
// deadline is this short one; when it passes, the context is checked,
// then watched, and the real deadline set.
const watchAfter = 50 * time.Millisecond

// lazyMaxHead is the largest request head sent without watching the
// context first: one write that fits the pooled writer's buffer and an
// idle socket's send buffer, so it never blocks.
const lazyMaxHead = 4 << 10

// Exchange is one request and its response on an upstream connection.
// Its methods are called from one goroutine. It must be ended with
// Close (or Hijack).
type Exchange struct {
	t   *Transport
	c   *conn // nil once closed or hijacked
	ctx context.Context

	resp     Response
	tlsState *tls.ConnectionState
	stop     func() bool // context.AfterFunc's stop, or nil

	start       time.Time
	connectTime time.Duration
	headerTime  time.Duration

	scratch *[]byte // a long head's buffer, while it is parsed

	remaining int64 // bodyLength: bytes left; bodyChunked: of the chunk
	mode      bodyMode
	reused    bool
	head      bool // a HEAD request
	upgrade   bool // the request asked for an upgrade
	bodySent  bool // a byte of the request body was read
	reqDone   bool // the whole request was written
	keep      bool // the connection may serve another request
	bodyDone  bool // the body was read to its end
	needCRLF  bool // bodyChunked: the CRLF after chunk data is due
	// gotResponse: a response byte was read.
	gotResponse bool
	// readDL: writeRequest set the read deadline for the response head
	// too.
	readDL bool
	// watching: the request's context is watched (watch ran).
	watching bool
	// readUntil is the read deadline the timeouts call for, while the
	// connection has watchAfter's shorter one (see lateWatch).
	readUntil time.Time
}

// watch makes the end of the request's context abort the exchange's I/O
// at once: a deadline in the past on the connection (no goroutine).
func (x *Exchange) watch() {
	x.watching = true
	if x.ctx.Done() != nil {
		x.stop = context.AfterFunc(x.ctx, x.c.cancelFn)
	}
}

// setReadDeadline sets the read deadline ReadTimeout from now, or
// watchAfter's while the context is not watched yet.
func (x *Exchange) setReadDeadline() error {
	now := time.Now()
	x.readUntil = now.Add(x.t.o.ReadTimeout)
	dl := x.readUntil
	if !x.watching && watchAfter < x.t.o.ReadTimeout {
		dl = now.Add(watchAfter)
	}
	return x.setDeadline(dl, false)
}

// setDeadline sets the connection's read (or both) deadline to dl, unless
// the request's context ended meanwhile: the cancel hook's deadline in
// the past is not to be overwritten.
func (x *Exchange) setDeadline(dl time.Time, both bool) error {
	var err error
	if both {
		err = x.c.raw.SetDeadline(dl)
	} else {
		err = x.c.raw.SetReadDeadline(dl)
	}
	if err == nil && x.c.canceled.Load() {
		err = context.Canceled
	}
	return err
}

// lateWatch handles a read that timed out on watchAfter's short
// deadline: unless the request's context ended (the caller then fails as
// canceled) or the real deadline passed, the context is watched from now
// on, the real deadline set, and the read is to be tried again.
func (x *Exchange) lateWatch(err error) bool {
	if x.watching || !isTimeout(err) || x.ctx.Err() != nil {
		return false
	}
	x.watch()
	if !time.Now().Before(x.readUntil) {
		return false
	}
	return x.setDeadline(x.readUntil, false) == nil
}

// unwatch stops watching the context; it reports whether the
// connection's deadlines are still the exchange's (the hook did not run).
func (x *Exchange) unwatch(c *conn) bool {
	ok := true
	if x.stop != nil {
		ok = x.stop()
		x.stop = nil
	}
	return ok && !c.canceled.Load()
}

// abort ends a failed exchange: its connection is closed.
func (x *Exchange) abort() {
	if x.c == nil {
		return
	}
	x.unwatch(x.c)
	x.c.close()
	x.c = nil
}

// roundTrip writes the request and reads the response head.
func (x *Exchange) roundTrip(req *Request, on1xx func(int, http.Header) error) error {
	x.head = req.Method == http.MethodHead
	x.upgrade = req.Upgrade != ""
	werr := x.writeRequest(req)
	if werr == nil {
		return x.readResponse(on1xx, false)
	}
	var pe *Error
	if errors.As(werr, &pe) && (pe.Kind == KindSend || pe.Kind == KindSendTimeout) {
		// The upstream may have answered early (413...) and closed or
		// stopped reading: its response, if there is one, is the answer.
		x.readUntil = time.Time{} // no late watch: earlyWait is the limit
		if x.c.raw.SetReadDeadline(time.Now().Add(min(earlyWait, x.t.o.ReadTimeout))) == nil {
			if x.readResponse(on1xx, true) == nil {
				x.keep = false
				return nil
			}
			clear(x.resp.Header)
			x.releaseHead(0)
		}
	}
	return werr
}

// ioErr wraps an I/O error of the upstream connection.
func (x *Exchange) ioErr(err error, reading bool) error {
	k := KindReset
	switch {
	case x.c.canceled.Load() || x.ctx.Err() != nil:
		k = KindCanceled
		if cerr := x.ctx.Err(); cerr != nil {
			err = fmt.Errorf("%w (%v)", cerr, err)
		}
	case isTimeout(err):
		k = KindReadTimeout
		if !reading {
			k = KindSendTimeout
		}
	case !reading:
		k = KindSend
	}
	return &Error{Kind: k, Addr: x.c.tg.Addr, BodySent: x.bodySent, Err: err, gotResponse: x.gotResponse}
}

// badErr is the error of a malformed response.
func (x *Exchange) badErr(format string, args ...any) error {
	return &Error{Kind: KindBadResponse, Addr: x.c.tg.Addr, BodySent: x.bodySent,
		Err: badResponse(fmt.Sprintf(format, args...)), gotResponse: true}
}

// Response returns the final response's head.
func (x *Exchange) Response() *Response { return &x.resp }

// Reused reports whether the exchange ran on an idle connection.
func (x *Exchange) Reused() bool { return x.reused }

// ConnectTime is the time dialing and the TLS handshake took (0 on a
// reused connection).
func (x *Exchange) ConnectTime() time.Duration { return x.connectTime }

// HeaderTime is the time from the start of Do to the response head.
func (x *Exchange) HeaderTime() time.Duration { return x.headerTime }

// TLSState returns the TLS state of the connection (nil without TLS).
func (x *Exchange) TLSState() *tls.ConnectionState { return x.tlsState }

// Close ends the exchange: the connection goes back to the pool when the
// body was read to its end and the connection can serve another request
// (HTTP/1.1 without `Connection: close`, or HTTP/1.0 with keep-alive;
// the whole request sent; the framing fully consumed; nothing more
// received); else it is closed. Close may be called more than once.
func (x *Exchange) Close() {
	c := x.c
	if c == nil {
		return
	}
	x.c = nil
	ok := x.unwatch(c)
	if !x.bodyDone && x.mode == bodyLength && x.remaining <= int64(c.br.Buffered()) {
		// The rest of the body is here already: skip it.
		_, _ = c.br.Discard(int(x.remaining))
		x.remaining = 0
		x.bodyDone = true
	}
	if ok && x.keep && x.bodyDone && c.br.Buffered() == 0 {
		x.t.put(c)
		return
	}
	c.close()
}

// Hijack takes the connection out of the Transport, for a 101 Switching
// Protocols response: it returns the connection and a reader holding the
// bytes already received after the head. No deadline is left on the
// connection; the caller closes it. The Exchange is ended.
func (x *Exchange) Hijack() (net.Conn, *bufio.Reader) {
	c := x.c
	if c == nil {
		return nil, nil
	}
	x.c = nil
	if x.unwatch(c) {
		_ = c.raw.SetDeadline(time.Time{})
	}
	return c.nc, c.br
}

// errExchangeClosed is CopyBody's error after Close or Hijack.
var errExchangeClosed = errors.New("proxypass: exchange closed")

// CopyBody streams the response body to w through a pooled buffer. It
// calls flush (when not nil) whenever the upstream pauses (the read
// buffer is empty before the next read from the network), but not at the
// end: the caller ends its response then, and net/http writes what is
// left with the end of the response (a chunked response's last chunk in
// the same write).
// Errors of w or flush wrap ErrClientWrite; the upstream's are *Error.
// At the end of a chunked body, Response().Trailer holds its trailers;
// at the end of any body, the connection is released as Close does.
func (x *Exchange) CopyBody(w io.Writer, flush func() error) (int64, error) {
	if x.c == nil {
		return 0, errExchangeClosed
	}
	var total int64
	if x.bodyDone {
		return 0, nil
	}
	bp := bufPool.Get().(*[bodyBufSize]byte)
	defer bufPool.Put(bp)
	buf := bp[:]
	pending := false
	for {
		if !x.watching && x.willWait() {
			// The body is not all here: the client going away must
			// cut the wait short.
			x.watch()
		}
		if pending && flush != nil && x.willWait() {
			if err := flush(); err != nil {
				x.keep = false
				return total, &clientWriteError{err}
			}
			pending = false
		}
		n, err := x.readBody(buf)
		if n > 0 {
			wn, werr := w.Write(buf[:n])
			total += int64(wn)
			if werr == nil && wn < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				x.keep = false
				return total, &clientWriteError{werr}
			}
			pending = true
		}
		if err == io.EOF {
			x.bodyDone = true
			// The connection goes back to the pool now, before the
			// last flush lets the client send its next request: that
			// request finds it idle instead of dialing a new one.
			x.Close()
			break
		}
		if err != nil {
			x.keep = false
			return total, err
		}
	}
	return total, nil
}

// willWait reports whether the next piece of the body needs a read from
// the network: the read buffer is empty, or, in a chunked body between
// two chunks, it lacks the end of the chunk or the next size line.
func (x *Exchange) willWait() bool {
	br := x.c.br
	n := br.Buffered()
	if n == 0 {
		return true
	}
	if x.mode != bodyChunked || x.remaining > 0 {
		return false
	}
	b, _ := br.Peek(n)
	lines := 1
	if x.needCRLF {
		lines = 2
	}
	for ; lines > 0; lines-- {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return true
		}
		b = b[i+1:]
	}
	return false
}

// fill reads from the connection into p, with the read deadline set when
// the read buffer is empty (a read from the network follows).
func (x *Exchange) fill(p []byte) (int, error) {
	br := x.c.br
	if br.Buffered() == 0 {
		if err := x.setReadDeadline(); err != nil {
			return 0, err
		}
	}
	return br.Read(p)
}

// readLine reads a line of chunked framing (up to the read buffer's size).
func (x *Exchange) readLine() ([]byte, error) {
	br := x.c.br
	if br.Buffered() == 0 {
		if err := x.setReadDeadline(); err != nil {
			return nil, x.ioErr(err, true)
		}
	}
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, x.badErr("chunked framing: line too long")
	}
	if err != nil {
		return nil, x.ioErr(eofToUnexpected(err), true)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// readBody reads the next piece of the body into p; io.EOF (possibly
// with data) ends it; other errors are *Error.
func (x *Exchange) readBody(p []byte) (int, error) {
	switch x.mode {
	case bodyLength:
		if x.remaining == 0 {
			return 0, io.EOF
		}
		if int64(len(p)) > x.remaining {
			p = p[:x.remaining]
		}
		n, err := x.fill(p)
		x.remaining -= int64(n)
		if x.remaining == 0 {
			return n, io.EOF
		}
		if err != nil {
			return n, x.ioErr(eofToUnexpected(err), true)
		}
		return n, nil
	case bodyClose:
		n, err := x.fill(p)
		if err == io.EOF {
			return n, io.EOF
		}
		if err != nil {
			return n, x.ioErr(err, true)
		}
		return n, nil
	case bodyChunked:
		if x.remaining == 0 {
			if x.needCRLF {
				line, err := x.readLine()
				if err != nil {
					return 0, err
				}
				if len(line) != 0 {
					return 0, x.badErr("chunked framing: no CRLF after chunk data")
				}
				x.needCRLF = false
			}
			line, err := x.readLine()
			if err != nil {
				return 0, err
			}
			size, ok := parseChunkSize(line)
			if !ok {
				return 0, x.badErr("chunked framing: bad chunk size line %q", line[:min(len(line), 64)])
			}
			if size == 0 {
				if err := x.readTrailers(); err != nil {
					return 0, err
				}
				x.mode = bodyNone
				return 0, io.EOF
			}
			x.remaining = size
		}
		if int64(len(p)) > x.remaining {
			p = p[:x.remaining]
		}
		n, err := x.fill(p)
		x.remaining -= int64(n)
		if x.remaining == 0 {
			x.needCRLF = true
		}
		if err != nil {
			return n, x.ioErr(eofToUnexpected(err), true)
		}
		return n, nil
	}
	return 0, io.EOF
}

// parseChunkSize parses `HEX[;ext]` (whitespace before the extensions
// tolerated).
func parseChunkSize(line []byte) (int64, bool) {
	var n int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			goto rest
		}
		if n >= 1<<59 {
			return 0, false // overflow
		}
		n = n<<4 | int64(d)
	}
rest:
	if i == 0 {
		return 0, false
	}
	for ; i < len(line) && (line[i] == ' ' || line[i] == '\t'); i++ {
	}
	if i < len(line) && line[i] != ';' {
		return 0, false
	}
	for ; i < len(line); i++ {
		if c := line[i]; c < ' ' && c != '\t' || c == 0x7f {
			return 0, false
		}
	}
	return n, true
}

// readTrailers reads the trailer section of a chunked body into
// Response().Trailer (framing and hop-by-hop fields are dropped).
func (x *Exchange) readTrailers() error {
	total := 0
	for {
		line, err := x.readLine()
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		total += len(line) + 2
		if total > x.t.o.MaxHeaderBytes {
			return x.badErr("trailers over %d bytes", x.t.o.MaxHeaderBytes)
		}
		name, value, err := splitField(string(line))
		if err != nil {
			return x.badErr("trailer: %v", err)
		}
		switch name {
		case "Content-Length", "Transfer-Encoding", "Trailer", "Connection", "Keep-Alive",
			"Proxy-Connection", "Te", "Upgrade", "Host":
			continue
		}
		if x.resp.Trailer == nil {
			x.resp.Trailer = make(http.Header)
		}
		x.resp.Trailer[name] = append(x.resp.Trailer[name], value)
	}
}
