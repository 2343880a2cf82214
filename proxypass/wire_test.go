package proxypass

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
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
