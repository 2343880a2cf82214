package proxypass

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestContentLengthAndReuse(t *testing.T) {
	b := newRaw(t, serveFixed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\nx-lower: c\r\nSet-Cookie: 1\r\nSet-Cookie: 2\r\n\r\nhello"))
	tr := New(Options{})
	defer tr.Close()
	for i := range 3 {
		x, body, err := get(t, tr, b.target(), "/")
		if err != nil {
			t.Fatal(err)
		}
		r := x.Response()
		if r.Status != 200 || body != "hello" || r.ContentLength != 5 {
			t.Fatalf("got %d %q %d", r.Status, body, r.ContentLength)
		}
		if r.Header.Get("Content-Length") != "5" || r.Header.Get("X-A") != "b" || r.Header.Get("X-Lower") != "c" ||
			strings.Join(r.Header["Set-Cookie"], ",") != "1,2" {
			t.Fatalf("header %v", r.Header)
		}
		if x.Reused() != (i > 0) {
			t.Fatalf("request %d: reused %v", i, x.Reused())
		}
		if i == 0 && x.ConnectTime() <= 0 || i > 0 && x.ConnectTime() != 0 {
			t.Fatalf("connect time %v", x.ConnectTime())
		}
		if x.HeaderTime() <= 0 {
			t.Fatal("no header time")
		}
		x.Close()
		x.Close() // idempotent
		if tr.Idle() != 1 {
			t.Fatalf("idle %d", tr.Idle())
		}
	}
	if n := b.accepts.Load(); n != 1 {
		t.Fatalf("%d dials, want 1", n)
	}
}

func TestChunkedResponse(t *testing.T) {
	b := newRaw(t, serveFixed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n"+
		"5;ext=1;name=\"v\"\r\nhello\r\n6 ; e\r\n world\r\n0\r\nX-T: v\r\nx-two: 2\r\n\r\n"))
	tr := New(Options{})
	defer tr.Close()
	for range 2 {
		x, body, err := get(t, tr, b.target(), "/")
		if err != nil {
			t.Fatal(err)
		}
		r := x.Response()
		if body != "hello world" || r.ContentLength != -1 || r.Header["Transfer-Encoding"] != nil || r.Header["Trailer"] != nil {
			t.Fatalf("got %q %d %v", body, r.ContentLength, r.Header)
		}
		if r.Trailer.Get("X-T") != "v" || r.Trailer.Get("X-Two") != "2" {
			t.Fatalf("trailer %v", r.Trailer)
		}
		x.Close()
	}
	if n := b.accepts.Load(); n != 1 {
		t.Fatalf("%d dials, want 1", n)
	}
}

func TestCloseDelimited(t *testing.T) {
	b := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		readReq(br)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
	})
	tr := New(Options{})
	defer tr.Close()
	x, body, err := get(t, tr, b.target(), "/")
	if err != nil || body != "until the end" || x.Response().ContentLength != -1 {
		t.Fatalf("%q %v", body, err)
	}
	x.Close()
	if tr.Idle() != 0 {
		t.Fatal("close-delimited connection pooled")
	}
}

func TestNoBodyResponses(t *testing.T) {
	b := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, _, err := readReq(br)
			if err != nil {
				return
			}
			switch r.URL.Path {
			case "/head":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
			case "/204":
				io.WriteString(c, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
			case "/304":
				io.WriteString(c, "HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\n\r\n")
			default:
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		}
	})
	tr := New(Options{})
	defer tr.Close()
	for _, tc := range []struct{ method, uri, cl string }{
		{"HEAD", "/head", "100"}, {"GET", "/204", ""}, {"GET", "/304", ""}, {"GET", "/", "2"},
	} {
		x, body, err := roundTrip(t, tr, b.target(), &Request{Method: tc.method, URI: tc.uri})
		if err != nil || body != "" && tc.uri != "/" {
			t.Fatalf("%s: %q %v", tc.uri, body, err)
		}
		if got := x.Response().Header.Get("Content-Length"); got != tc.cl {
			t.Fatalf("%s: Content-Length %q", tc.uri, got)
		}
		x.Close()
	}
	if n := b.accepts.Load(); n != 1 {
		t.Fatalf("%d dials, want 1", n)
	}
}

func TestInformational(t *testing.T) {
	b := newRaw(t, serveFixed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nConnection: x-h\r\nX-H: 1\r\n\r\n"+
		"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200\r\nContent-Length: 1\r\n\r\nz"))
	tr := New(Options{})
	defer tr.Close()
	var seen []string
	on1xx := func(code int, h http.Header) error {
		seen = append(seen, http.StatusText(code)+":"+h.Get("Link")+h.Get("X-H"))
		return nil
	}
	x, err := tr.Do(context.Background(), b.target(), &Request{Method: "GET", URI: "/"}, http.Header{}, on1xx)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got := strings.Join(seen, ","); got != "Continue:,Early Hints:</a.css>; rel=preload,Processing:" {
		t.Fatalf("1xx: %s", got)
	}
	var buf bytes.Buffer
	if _, err := x.CopyBody(&buf, nil); err != nil || buf.String() != "z" || x.Response().Status != 200 {
		t.Fatalf("%q %v", buf.String(), err)
	}

	// A failing on1xx is the client's failure.
	_, err = tr.Do(context.Background(), b.target(), &Request{Method: "GET", URI: "/"}, http.Header{},
		func(int, http.Header) error { return io.ErrClosedPipe })
	if !errors.Is(err, ErrClientWrite) || kindOf(err) != KindCanceled {
		t.Fatalf("on1xx failure: %v", err)
	}
}

func TestUpgradeHijack(t *testing.T) {
	b := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		r, _, err := readReq(br)
		if err != nil || r.Header.Get("Upgrade") != "websocket" || r.Header.Get("Connection") != "Upgrade" {
			io.WriteString(c, "HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: k\r\n\r\nearly|")
		io.Copy(c, br) // echo
	})
	tr := New(Options{ReadTimeout: 100 * time.Millisecond})
	defer tr.Close()
	h := http.Header{}
	x, err := tr.Do(context.Background(), b.target(), &Request{Method: "GET", URI: "/ws", Upgrade: "websocket",
		Header: http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if x.Response().Status != 101 || h.Get("Upgrade") != "websocket" || h.Get("Connection") != "Upgrade" || h.Get("Sec-Websocket-Accept") != "k" {
		t.Fatalf("%d %v", x.Response().Status, h)
	}
	nc, br := x.Hijack()
	defer nc.Close()
	x.Close()
	time.Sleep(200 * time.Millisecond) // longer than ReadTimeout: no deadline is left
	if _, err := io.WriteString(nc, "ping"); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("early|ping"))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "early|ping" {
		t.Fatalf("%q %v", got, err)
	}
	if tr.Idle() != 0 {
		t.Fatal("hijacked connection pooled")
	}

	// A 101 the request did not ask for is malformed.
	b2 := newRaw(t, serveFixed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"))
	if _, err := tr.Do(context.Background(), b2.target(), &Request{Method: "GET", URI: "/"}, http.Header{}, nil); kindOf(err) != KindBadResponse {
		t.Fatalf("unrequested 101: %v", err)
	}
}

func TestKeepAliveRules(t *testing.T) {
	for _, tc := range []struct {
		name, resp string
		pooled     bool
	}{
		{"close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na", false},
		{"1.0", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na", false},
		{"1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 1\r\n\r\na", true},
		{"1.1", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", true},
		{"extra bytes", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nabc", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newRaw(t, serveFixed(tc.resp))
			tr := New(Options{})
			defer tr.Close()
			x, body, err := get(t, tr, b.target(), "/")
			if err != nil || body != "a" {
				t.Fatalf("%q %v", body, err)
			}
			h := x.Response().Header
			if h["Connection"] != nil || h["Keep-Alive"] != nil || h["Transfer-Encoding"] != nil {
				t.Fatalf("hop-by-hop fields left: %v", h)
			}
			x.Close()
			if (tr.Idle() == 1) != tc.pooled {
				t.Fatalf("pooled %v", tr.Idle() == 1)
			}
		})
	}
}

func TestHopByHopResponseFields(t *testing.T) {
	b := newRaw(t, serveFixed("HTTP/1.1 200 OK\r\nConnection: X-Hop, keep-alive\r\nX-Hop: 1\r\nProxy-Connection: x\r\nUpgrade: h2c\r\nTrailer: X-T\r\nX-Keep: y\r\nContent-Length: 0, 0\r\nContent-Length: 0\r\n\r\n"))
	tr := New(Options{})
	defer tr.Close()
	x, _, err := get(t, tr, b.target(), "/")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	h := x.Response().Header
	if len(h) != 2 || h.Get("X-Keep") != "y" || len(h["Content-Length"]) != 1 || h.Get("Content-Length") != "0" {
		t.Fatalf("fields %v", h)
	}
}

func TestMalformedResponses(t *testing.T) {
	long := "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("a", 70<<10) + "\r\nContent-Length: 0\r\n\r\n"
	for _, tc := range []struct {
		name, resp string
		kind       Kind
		inBody     bool
	}{
		{"status line", "HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n", KindBadResponse, false},
		{"not http", "SSH-2.0-OpenSSH\r\n\r\n", KindBadResponse, false},
		{"version", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", KindBadResponse, false},
		{"conflicting length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", KindBadResponse, false},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", KindBadResponse, false},
		{"oversized head", long, KindBadResponse, false},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n", KindBadResponse, false},
		{"space before colon", "HTTP/1.1 200 OK\r\nX-A : a\r\nContent-Length: 0\r\n\r\n", KindBadResponse, false},
		{"no colon", "HTTP/1.1 200 OK\r\nX-A\r\nContent-Length: 0\r\n\r\n", KindBadResponse, false},
		{"transfer-encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", KindBadResponse, false},
		{"length and chunked", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n", KindBadResponse, false},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", KindBadResponse, true},
		{"chunk without crlf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n", KindBadResponse, true},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", KindReset, true},
		{"short chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nhello", KindReset, true},
		{"closed before head", "", KindReset, false},
		{"closed in head", "HTTP/1.1 200 OK\r\nContent-", KindReset, false},
		{"never ends", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", KindReadTimeout, true},
		{"no head", "", KindReadTimeout, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hold := strings.HasPrefix(tc.name, "never") || tc.name == "no head"
			b := newRaw(t, func(c net.Conn, br *bufio.Reader) {
				if _, _, err := readReq(br); err != nil {
					return
				}
				io.WriteString(c, tc.resp)
				if hold {
					io.Copy(io.Discard, br)
				}
			})
			tr := New(Options{ReadTimeout: 200 * time.Millisecond})
			defer tr.Close()
			x, err := tr.Do(context.Background(), b.target(), &Request{Method: "GET", URI: "/"}, http.Header{}, nil)
			if tc.inBody {
				if err != nil {
					t.Fatalf("head: %v", err)
				}
				_, err = x.CopyBody(io.Discard, nil)
				x.Close()
			}
			if kindOf(err) != tc.kind {
				t.Fatalf("got %v, want kind %v", err, tc.kind)
			}
			var pe *Error
			errors.As(err, &pe)
			wantBefore := tc.resp == ""
			if pe.BeforeResponse() != wantBefore {
				t.Fatalf("BeforeResponse %v", pe.BeforeResponse())
			}
			if pe.Timeout() != (tc.kind == KindReadTimeout) || pe.Addr != b.addr {
				t.Fatalf("error %+v", pe)
			}
			if tr.Idle() != 0 {
				t.Fatal("connection pooled")
			}
		})
	}
}

func TestParseHelpers(t *testing.T) {
	for _, tc := range []struct {
		line        string
		minor, code int
		ok          bool
	}{
		{"HTTP/1.1 200 OK", 1, 200, true}, {"HTTP/1.1 200", 1, 200, true}, {"HTTP/1.0 404 Not Found\r", 0, 404, true},
		{"HTTP/1.1 200 ", 1, 200, true}, {"HTTP/1.1 99 x", 0, 0, false}, {"HTTP/1.1 2000", 0, 0, false},
		{"http/1.1 200 OK", 0, 0, false}, {"HTTP/1.1  200 OK", 0, 0, false},
	} {
		minor, code, ok := parseStatusLine([]byte(tc.line))
		if ok != tc.ok || ok && (minor != tc.minor || code != tc.code) {
			t.Errorf("%q: %d %d %v", tc.line, minor, code, ok)
		}
	}
	for _, tc := range []struct {
		line string
		n    int64
		ok   bool
	}{{"a", 10, true}, {"A;x=y", 10, true}, {"10 ;x", 16, true}, {"", 0, false}, {"x", 0, false}, {"1 2", 0, false},
		{"fffffffffffffffffff", 0, false}} {
		n, ok := parseChunkSize([]byte(tc.line))
		if ok != tc.ok || n != tc.n && ok {
			t.Errorf("chunk %q: %d %v", tc.line, n, ok)
		}
	}
	for _, tc := range []struct {
		vs []string
		n  int64
		ok bool
	}{{[]string{"5"}, 5, true}, {[]string{"5, 5", "5"}, 5, true}, {[]string{"5", "6"}, 0, false}, {[]string{""}, 0, false},
		{[]string{"5", ""}, 0, false}, {[]string{"+5"}, 0, false}, {[]string{"99999999999999999999"}, 0, false}} {
		n, ok := parseContentLength(tc.vs)
		if ok != tc.ok || ok && n != tc.n {
			t.Errorf("length %q: %d %v", tc.vs, n, ok)
		}
	}
	for raw, want := range map[string]string{"content-type": "Content-Type", "X-Foo-BAR": "X-Foo-Bar", "Etag": "Etag", "x-my": "X-My"} {
		if got := canonicalName(raw); got != want {
			t.Errorf("%q: %q", raw, got)
		}
	}
}
