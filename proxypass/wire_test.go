package proxypass

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestChunkedRequestWire(t *testing.T) {
	got := make(chan string, 1)
	b := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		var sb strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			sb.WriteString(line)
			if strings.HasSuffix(sb.String(), "0\r\nX-Sum: 42\r\n\r\n") {
				break
			}
		}
		got <- sb.String()
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	})
	tr := New(Options{})
	defer tr.Close()
	trailer := http.Header{"X-Sum": nil}
	req := &Request{Method: "POST", URI: "/up", Host: "h", ContentLength: -1, Trailer: trailer,
		Body: &trailerBody{r: strings.NewReader("hello"), trailer: trailer}}
	x, _, err := roundTrip(t, tr, b.target(), req)
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	want := "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n"
	if s := <-got; s != want {
		t.Fatalf("got  %q\nwant %q", s, want)
	}
}

func TestBareLFResponse(t *testing.T) {
	b := newRaw(t, serveFixed("HTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\n\nok"))
	tr := New(Options{})
	defer tr.Close()
	x, body, err := get(t, tr, b.target(), "/")
	if err != nil || body != "ok" || x.Response().Header.Get("X-A") != "b" {
		t.Fatalf("%q %v", body, err)
	}
	x.Close()
}

func TestCloseUnreadBody(t *testing.T) {
	b := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, _, err := readReq(br)
			if err != nil {
				return
			}
			if r.URL.Path == "/big" {
				io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("x", 100000))
			} else {
				io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 5\r\n\r\nerror")
			}
		}
	})
	tr := New(Options{})
	defer tr.Close()
	// A short body already received is skipped: the connection is reused.
	x, err := tr.Do(context.Background(), b.target(), &Request{Method: "GET", URI: "/"}, http.Header{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	if tr.Idle() != 1 {
		t.Fatal("not pooled")
	}
	// A long one is not read: the connection is closed.
	x, err = tr.Do(context.Background(), b.target(), &Request{Method: "GET", URI: "/big"}, http.Header{}, nil)
	if err != nil || !x.Reused() {
		t.Fatal(err)
	}
	x.Close()
	if tr.Idle() != 0 {
		t.Fatal("pooled with an unread body")
	}
	if _, err := x.CopyBody(io.Discard, nil); err == nil {
		t.Fatal("CopyBody after Close")
	}
}

func TestNoKeepAliveSaysClose(t *testing.T) {
	b, heads := headCapture(t)
	tr := New(Options{MaxIdlePerTarget: -1})
	defer tr.Close()
	x, _, err := get(t, tr, b.target(), "/")
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	if h := <-heads; h != "GET / HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n" {
		t.Fatalf("%q", h)
	}
}

// wrappedConn hides the socket: the liveness probe falls back to a read
// with a 1µs deadline.
type wrappedConn struct{ net.Conn }

func TestDialContextAndFallbackProbe(t *testing.T) {
	var served int32
	done := make(chan struct{}, 8)
	b := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		if _, _, err := readReq(br); err != nil {
			return
		}
		served++
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		if served == 1 {
			// Keep the first connection: it is reused.
			if _, _, err := readReq(br); err == nil {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		}
		done <- struct{}{}
	})
	var dials int
	tr := New(Options{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials++
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		return wrappedConn{c}, err
	}})
	tr.probeAfter = 0 // every reuse probes
	defer tr.Close()
	for i, wantReused := range []bool{false, true, false} {
		x, body, err := get(t, tr, b.target(), "/")
		if err != nil || body != "ok" || x.Reused() != wantReused {
			t.Fatalf("%d: %q %v reused=%v", i, body, err, x.Reused())
		}
		x.Close()
		if i == 1 {
			<-done // the server closed the connection: the probe sees EOF
			time.Sleep(20 * time.Millisecond)
		}
	}
	if dials != 2 {
		t.Fatalf("%d dials", dials)
	}
}
