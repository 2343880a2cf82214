package proxypass

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func asError(err error, pe **Error) bool { return errors.As(err, pe) }

func TestConnectRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	tr := New(Options{})
	defer tr.Close()
	_, err := tr.Do(context.Background(), Target{Addr: addr}, &Request{Method: "GET", URI: "/"}, http.Header{}, nil)
	if kindOf(err) != KindConnect {
		t.Fatalf("%v", err)
	}
}

func TestSendTimeout(t *testing.T) {
	stop := make(chan struct{})
	b := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		<-stop // never reads
	})
	t.Cleanup(func() { close(stop) })
	tr := New(Options{SendTimeout: 200 * time.Millisecond})
	defer tr.Close()
	t0 := time.Now()
	_, err := tr.Do(context.Background(), b.target(), &Request{Method: "POST", URI: "/", Body: &patternReader{n: 256 << 20}, ContentLength: -1}, http.Header{}, nil)
	var pe *Error
	if !errors.As(err, &pe) || pe.Kind != KindSendTimeout || !pe.BodySent || !pe.Timeout() {
		t.Fatalf("%v", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}

	// The context ends while a write is blocked: it returns at once.
	tr2 := New(Options{})
	defer tr2.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	t0 = time.Now()
	_, err = tr2.Do(ctx, b.target(), &Request{Method: "POST", URI: "/", Body: &patternReader{n: 256 << 20}, ContentLength: 256 << 20}, http.Header{}, nil)
	if kindOf(err) != KindCanceled {
		t.Fatalf("%v", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("cancel took %v", d)
	}
}

func TestReadTimeoutAndCancel(t *testing.T) {
	b := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		readReq(br)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
		io.Copy(io.Discard, br) // then silence
	})
	tr := New(Options{ReadTimeout: 200 * time.Millisecond})
	defer tr.Close()
	x, err := tr.Do(context.Background(), b.target(), &Request{Method: "GET", URI: "/"}, http.Header{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	_, err = x.CopyBody(&sb, nil)
	x.Close()
	if kindOf(err) != KindReadTimeout || sb.String() != "abc" {
		t.Fatalf("%q %v", sb.String(), err)
	}

	// The context ends while a read is blocked: it returns at once.
	slow := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		readReq(br)
		io.Copy(io.Discard, br)
	})
	tr2 := New(Options{})
	defer tr2.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	t0 := time.Now()
	_, err = tr2.Do(ctx, slow.target(), &Request{Method: "GET", URI: "/"}, http.Header{}, nil)
	if kindOf(err) != KindCanceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("cancel took %v", d)
	}

	// ... and while the body is read.
	ctx, cancel = context.WithCancel(context.Background())
	x, err = tr2.Do(ctx, b.target(), &Request{Method: "GET", URI: "/"}, http.Header{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = x.CopyBody(io.Discard, nil)
	x.Close()
	if kindOf(err) != KindCanceled {
		t.Fatalf("%v", err)
	}
	if tr2.Idle() != 0 {
		t.Fatal("canceled connection pooled")
	}
}

func TestStaleConnections(t *testing.T) {
	// The server closes idle connections after each response: the probe
	// finds it out.
	var served atomic.Int32
	b := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		readReq(br)
		served.Add(1)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	tr := New(Options{})
	tr.probeAfter = 0 // every reuse probes
	defer tr.Close()
	for i := range 3 {
		x, body, err := get(t, tr, b.target(), "/")
		if err != nil || body != "ok" {
			t.Fatalf("%d: %q %v", i, body, err)
		}
		x.Close()
		waitFor(t, "the server's close", func() bool { return served.Load() == int32(i+1) })
		time.Sleep(20 * time.Millisecond)
	}
	if n := b.accepts.Load(); n != 3 {
		t.Fatalf("%d dials", n)
	}

	// Within probeAfter no probe runs: a request with no body finds the
	// dead connection by sending on it, and is sent again on a new one.
	tr0 := New(Options{})
	defer tr0.Close()
	served.Store(0)
	before := b.accepts.Load()
	for i := range 3 {
		x, body, err := get(t, tr0, b.target(), "/")
		if err != nil || body != "ok" || x.Reused() {
			t.Fatalf("no probe, %d: %q %v reused=%v", i, body, err, x.Reused())
		}
		x.Close()
		waitFor(t, "the server's close", func() bool { return served.Load() == int32(i+1) })
	}
	if n := b.accepts.Load() - before; n != 3 {
		t.Fatalf("no probe: %d dials", n)
	}

	// The server takes the next request and closes without answering: it
	// is sent again on a new connection, once.
	var conns atomic.Int32
	b2 := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		n := conns.Add(1)
		for i := 0; ; i++ {
			if _, _, err := readReq(br); err != nil {
				return
			}
			if n == 1 && i == 1 {
				c.(*net.TCPConn).SetLinger(0)
				return // reset
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	for i := range 2 {
		x, body, err := get(t, tr, b2.target(), "/")
		if err != nil || body != "ok" {
			t.Fatalf("%d: %q %v", i, body, err)
		}
		if i == 1 && x.Reused() {
			t.Fatal("the retry reports a reused connection")
		}
		x.Close()
	}
	if n := b2.accepts.Load(); n != 2 {
		t.Fatalf("%d dials", n)
	}

	// Not when a body byte was sent.
	b3 := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		readReq(br)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		readReq(br)
	})
	x, _, err := get(t, tr, b3.target(), "/")
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	_, _, err = roundTrip(t, tr, b3.target(), &Request{Method: "POST", URI: "/", Body: strings.NewReader("abc"), ContentLength: 3})
	var pe *Error
	if !errors.As(err, &pe) || pe.Kind != KindReset || !pe.BodySent || !pe.BeforeResponse() {
		t.Fatalf("%v", err)
	}
}

func TestIdleTimeoutAndCap(t *testing.T) {
	b := newRaw(t, serveFixed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	tr := New(Options{IdleTimeout: 100 * time.Millisecond, MaxIdlePerTarget: 2})
	defer tr.Close()
	// Four at once (CopyBody releases a connection at the end of its
	// body), then back to a pool that keeps two.
	var xs []*Exchange
	for range 4 {
		x, err := tr.Do(context.Background(), b.target(), &Request{Method: "GET", URI: "/"}, http.Header{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, x)
	}
	for _, x := range xs {
		if _, err := x.CopyBody(io.Discard, nil); err != nil {
			t.Fatal(err)
		}
		x.Close()
	}
	if tr.Idle() != 2 {
		t.Fatalf("idle %d, want 2", tr.Idle())
	}
	waitFor(t, "the reaper", func() bool { return tr.Idle() == 0 })
	x, _, err := get(t, tr, b.target(), "/")
	if err != nil || x.Reused() {
		t.Fatalf("%v reused=%v", err, x.Reused())
	}
	x.Close()

	// Expired on take (before the reaper runs).
	tr2 := New(Options{IdleTimeout: 50 * time.Millisecond})
	defer tr2.Close()
	x, _, _ = get(t, tr2, b.target(), "/")
	x.Close()
	tr2.mu.Lock()
	tr2.pools[b.target()].conns[0].idleAt = time.Now().Add(-time.Second)
	tr2.mu.Unlock()
	x, _, err = get(t, tr2, b.target(), "/")
	if err != nil || x.Reused() {
		t.Fatalf("%v reused=%v", err, x.Reused())
	}
	x.Close()

	// No pooling at all.
	tr3 := New(Options{MaxIdlePerTarget: -1})
	defer tr3.Close()
	x, _, _ = get(t, tr3, b.target(), "/")
	x.Close()
	if tr3.Idle() != 0 {
		t.Fatal("pooled with MaxIdlePerTarget < 0")
	}
}

func TestTransportClose(t *testing.T) {
	var closed atomic.Int32
	b := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		defer closed.Add(1)
		serveFixed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")(c, br)
	})
	tr := New(Options{})
	do := func() *Exchange {
		x, err := tr.Do(context.Background(), b.target(), &Request{Method: "GET", URI: "/"}, http.Header{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	x2 := do() // its body unread: busy when tr closes
	x1 := do()
	if _, err := x1.CopyBody(io.Discard, nil); err != nil { // back to the pool
		t.Fatal(err)
	}
	if tr.Idle() != 1 {
		t.Fatalf("idle %d, want 1", tr.Idle())
	}
	tr.Close()
	waitFor(t, "the idle connection's close", func() bool { return closed.Load() == 1 })
	x2.Close() // in use at Close: closed now
	waitFor(t, "the busy connection's close", func() bool { return closed.Load() == 2 })
	_, err := tr.Do(context.Background(), b.target(), &Request{Method: "GET", URI: "/"}, http.Header{}, nil)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("%v", err)
	}
}

func TestClientWriteError(t *testing.T) {
	b := newRaw(t, serveFixed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	tr := New(Options{})
	defer tr.Close()
	x, err := tr.Do(context.Background(), b.target(), &Request{Method: "GET", URI: "/"}, http.Header{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = x.CopyBody(failWriter{}, nil)
	x.Close()
	if !errors.Is(err, ErrClientWrite) || !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("%v", err)
	}
	if tr.Idle() != 0 {
		t.Fatal("pooled after a failed copy")
	}
	// A flush fails when the upstream pauses mid-body (there is none at
	// the end).
	paused := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		readReq(br)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n")
		time.Sleep(50 * time.Millisecond)
		io.WriteString(c, "0\r\n\r\n")
	})
	x, err = tr.Do(context.Background(), paused.target(), &Request{Method: "GET", URI: "/"}, http.Header{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = x.CopyBody(io.Discard, func() error { return io.ErrClosedPipe })
	x.Close()
	if !errors.Is(err, ErrClientWrite) {
		t.Fatalf("flush: %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestTLS(t *testing.T) {
	var sni atomic.Value
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto+" "+r.Host)
	}))
	ts.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sni.Store(h.ServerName)
		return nil, nil
	}}
	ts.StartTLS()
	defer ts.Close()
	roots := x509.NewCertPool()
	roots.AddCert(ts.Certificate())
	addr := ts.Listener.Addr().String()

	tr := New(Options{TLS: &tls.Config{RootCAs: roots}})
	defer tr.Close()
	tg := Target{Addr: addr, TLS: true, ServerName: "example.com"}
	for i := range 2 {
		x, body, err := get(t, tr, tg, "/")
		if err != nil {
			t.Fatal(err)
		}
		if body != "HTTP/1.1 example.test" || x.TLSState() == nil || x.TLSState().NegotiatedProtocol != "http/1.1" || x.Reused() != (i == 1) {
			t.Fatalf("%q %v", body, x.Reused())
		}
		x.Close()
	}
	if sni.Load() != "example.com" {
		t.Fatalf("SNI %v", sni.Load())
	}

	// An IP address: no SNI, verified against the IP SAN.
	x, _, err := get(t, tr, Target{Addr: addr, TLS: true}, "/")
	if err != nil {
		t.Fatal(err)
	}
	x.Close()

	// Unknown CA: verification fails.
	tr2 := New(Options{})
	defer tr2.Close()
	_, err = tr2.Do(context.Background(), tg, &Request{Method: "GET", URI: "/"}, http.Header{}, nil)
	if kindOf(err) != KindConnect {
		t.Fatalf("%v", err)
	}
	// Wrong name.
	_, err = tr.Do(context.Background(), Target{Addr: addr, TLS: true, ServerName: "other.test"}, &Request{Method: "GET", URI: "/"}, http.Header{}, nil)
	if kindOf(err) != KindConnect {
		t.Fatalf("%v", err)
	}
}

func TestKindStrings(t *testing.T) {
	for k := KindConnect; k <= KindCanceled; k++ {
		if s := k.String(); s == "" || strings.HasPrefix(s, "Kind(") {
			t.Errorf("%d: %q", k, s)
		}
	}
	e := &Error{Kind: KindReset, Addr: "a:1", Err: io.EOF}
	if e.Error() != "proxypass: connection reset (a:1): EOF" || !errors.Is(e, io.EOF) {
		t.Fatal(e.Error())
	}
}

// TestLateWatch: a small request with no body watches its context only
// once its response is later than watchAfter. A response after that still
// arrives; the head's read timeout is the real one; a context ended
// before watchAfter is noticed when it passes.
func TestLateWatch(t *testing.T) {
	b := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, _, err := readReq(br)
			if err != nil {
				return
			}
			switch r.URL.Path {
			case "/late":
				time.Sleep(3 * watchAfter)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate")
			case "/never":
				io.Copy(io.Discard, br)
				return
			default:
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnow")
			}
		}
	})
	tr := New(Options{ReadTimeout: 6 * watchAfter})
	defer tr.Close()
	x, body, err := get(t, tr, b.target(), "/now")
	if err != nil || body != "now" || x.watching {
		t.Fatalf("%q %v watching=%v (a prompt answer needs no watch)", body, err, x.watching)
	}
	x.Close()
	x, body, err = get(t, tr, b.target(), "/late")
	if err != nil || body != "late" || !x.watching {
		t.Fatalf("%q %v watching=%v (a late answer is read after the watch starts)", body, err, x.watching)
	}
	x.Close()
	t0 := time.Now()
	_, _, err = get(t, tr, b.target(), "/never")
	if d := time.Since(t0); kindOf(err) != KindReadTimeout || d < 6*watchAfter || d > 6*watchAfter+time.Second {
		t.Fatalf("%v after %v, want a read timeout after %v", err, d, 6*watchAfter)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(watchAfter/5, cancel)
	t0 = time.Now()
	_, err = tr.Do(ctx, b.target(), &Request{Method: "GET", URI: "/never"}, http.Header{}, nil)
	if d := time.Since(t0); kindOf(err) != KindCanceled || !errors.Is(err, context.Canceled) || d > watchAfter+time.Second {
		t.Fatalf("%v after %v, want canceled by watchAfter", err, d)
	}
}
