//go:build linux

package integration

// Acceptance tests of the resty handler's own proxy, proxy_pass
// (phases/proxy.go, proxypass/): a real Caddy process (startCaddy) in
// front of backends of this test process (proxypass_backends_test.go).
// Clients never retry: a failure shows as a failure, as with wrk.
//
// PP_VIA=reverse_proxy renders the simple routes with Caddy's
// reverse_proxy instead: a check of the tests and their backends.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestProxyPassBodyFraming: whatever framing the upstream uses
// (Content-Length, chunked, close-delimited, none for HEAD, 204 and 304),
// the client gets the exact body and length.
func TestProxyPassBodyFraming(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	be := ppNewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cl":
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
		case "/chunked":
			for i := 0; i < len(big); i += 100 << 10 {
				w.Write(big[i:min(i+100<<10, len(big))])
				w.(http.Flusher).Flush()
			}
		case "/head":
			w.Header().Set("Content-Length", "1234")
			w.Header().Set("X-Head", "yes")
			if r.Method != http.MethodHead {
				w.Write(make([]byte, 1234))
			}
		case "/204":
			w.Header().Set("X-Empty", "204")
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.Header().Set("ETag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		case "/empty":
			w.Header().Set("Content-Length", "0")
		default:
			http.NotFound(w, r)
		}
	})
	closeBody := bytes.Repeat([]byte("close-delimited "), 8<<10) // 128 KiB
	raw := ppNewRaw(t, func(c net.Conn, br *bufio.Reader, quit <-chan struct{}) {
		line, _, err := ppReadHead(br)
		if err != nil {
			return
		}
		proto := "HTTP/1.1"
		if ppReqPath(line) == "/close10" {
			proto = "HTTP/1.0"
		}
		fmt.Fprintf(c, "%s 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n", proto)
		for i := 0; i < len(closeBody); i += 16 << 10 {
			c.Write(closeBody[i : i+16<<10])
			time.Sleep(time.Millisecond)
		}
	})
	p := ppStart(t, "", ppHandle("/close*", ppPass("http://"+raw.addr))+
		ppHandle("/*", ppPass("http://"+be.addr)))

	c := ppClient(10 * time.Second)
	for _, tc := range []struct {
		method, path string
		status       int
		body         []byte
		length       int64 // the client's resp.ContentLength; -2: don't check
		header       [2]string
	}{
		{"GET", "/cl", 200, big, int64(len(big)), [2]string{}},
		{"GET", "/chunked", 200, big, -2, [2]string{}},
		{"GET", "/close11", 200, closeBody, -2, [2]string{}},
		{"GET", "/close10", 200, closeBody, -2, [2]string{}},
		{"HEAD", "/head", 200, nil, 1234, [2]string{"X-Head", "yes"}},
		{"GET", "/head", 200, make([]byte, 1234), 1234, [2]string{"X-Head", "yes"}},
		{"GET", "/204", 204, nil, -2, [2]string{"X-Empty", "204"}},
		{"GET", "/304", 304, nil, -2, [2]string{"Etag", `"v1"`}},
		{"GET", "/empty", 200, nil, 0, [2]string{}},
	} {
		req, _ := http.NewRequest(tc.method, p.base+tc.path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.path, err)
			continue
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case err != nil:
			t.Errorf("%s %s: reading the body: %v (after %d bytes)", tc.method, tc.path, err, len(got))
		case resp.StatusCode != tc.status:
			t.Errorf("%s %s: status %d, want %d (body %.200q)", tc.method, tc.path, resp.StatusCode, tc.status, got)
		case !bytes.Equal(got, tc.body):
			t.Errorf("%s %s: body of %d bytes (%.60q…), want %d bytes (%.60q…)", tc.method, tc.path, len(got), got, len(tc.body), tc.body)
		}
		if tc.length != -2 && resp.ContentLength != tc.length {
			t.Errorf("%s %s: Content-Length %d, want %d", tc.method, tc.path, resp.ContentLength, tc.length)
		}
		if tc.header[0] != "" && resp.Header.Get(tc.header[0]) != tc.header[1] {
			t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, tc.header[0], resp.Header.Get(tc.header[0]), tc.header[1])
		}
		if (tc.status == 204 || tc.status == 304) && (resp.ContentLength > 0 || len(resp.TransferEncoding) > 0) {
			t.Errorf("%s %s: a %d with framing: Content-Length %d, Transfer-Encoding %v", tc.method, tc.path, tc.status, resp.ContentLength, resp.TransferEncoding)
		}
	}
	// On the wire: a 204 and a HEAD carry no body bytes; the connection
	// stays in sync for the next request.
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	for _, rq := range []struct{ method, path, want string }{
		{"HEAD", "/head", ""}, {"GET", "/204", ""}, {"GET", "/304", ""}, {"GET", "/head", string(make([]byte, 1234))},
	} {
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\n\r\n", rq.method, rq.path, p.addr)
		req, _ := http.NewRequest(rq.method, "/", nil)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("keep-alive %s %s: %v", rq.method, rq.path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != rq.want {
			t.Errorf("keep-alive %s %s: %d, body %d bytes, err %v; want %d bytes", rq.method, rq.path, resp.StatusCode, len(b), err, len(rq.want))
		}
	}
	ppCheckAfter(t, p)
}

// TestProxyPassLargeStreams: 256 MiB up and 256 MiB down go through with
// the right sha256 while Caddy's resident memory stays within 64 MiB of
// what it was; and a response the upstream sends in two parts, a pause
// apart, reaches the client in two parts (flushed at the pause).
func TestProxyPassLargeStreams(t *testing.T) {
	var pauseEnd atomic.Int64
	be := ppNewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/up":
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			fmt.Fprintf(w, "%d %s", n, hex.EncodeToString(h.Sum(nil)))
		case "/down":
			w.Header().Set("Content-Length", strconv.Itoa(ppLargeSize))
			io.Copy(w, ppNewPattern(ppLargeSize))
		case "/down-chunked":
			io.Copy(w, ppNewPattern(ppLargeSize))
		case "/pause", "/pause-cl":
			if r.URL.Path == "/pause-cl" {
				w.Header().Set("Content-Length", strconv.Itoa(len("first part;second part")))
			}
			io.WriteString(w, "first part;")
			w.(http.Flusher).Flush()
			time.Sleep(700 * time.Millisecond)
			pauseEnd.Store(time.Now().UnixNano())
			io.WriteString(w, "second part")
		}
	})
	p := ppStart(t, "", ppHandle("/*", ppPass("http://"+be.addr)))
	want := ppPatternSum(ppLargeSize)
	c := ppClient(60 * time.Second)
	if r := do("GET", p.base+"/pause", nil, 5*time.Second); r.status != 200 {
		t.Fatalf("warm-up: %v", r)
	}
	base, err := ppRSS(p.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	const slack = 64 << 20

	stop := ppRSSWatch(p.cmd.Process.Pid)
	start := time.Now()
	req, _ := http.NewRequest("POST", p.base+"/up", ppNewPattern(ppLargeSize))
	req.ContentLength = ppLargeSize
	resp, err := c.Do(req)
	if err != nil {
		t.Errorf("upload: %v", err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != fmt.Sprintf("%d %s", ppLargeSize, want) {
			t.Errorf("upload: %d %q, want 200 %q", resp.StatusCode, b, fmt.Sprintf("%d %s", ppLargeSize, want))
		}
	}
	peak := stop()
	t.Logf("upload of 256 MiB: %s; RSS %d MiB at the start, peak %d MiB", time.Since(start).Round(time.Millisecond), base>>20, peak>>20)
	if peak-base > slack {
		t.Errorf("upload: Caddy's RSS grew by %d MiB (from %d to %d MiB), over %d MiB: the body is buffered", (peak-base)>>20, base>>20, peak>>20, slack>>20)
	}

	// The same, chunked (no Content-Length).
	stop = ppRSSWatch(p.cmd.Process.Pid)
	start = time.Now()
	req, _ = http.NewRequest("POST", p.base+"/up", io.LimitReader(ppNewPattern(ppLargeSize), ppLargeSize))
	req.ContentLength = -1
	resp, err = c.Do(req)
	if err != nil {
		t.Errorf("chunked upload: %v", err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != fmt.Sprintf("%d %s", ppLargeSize, want) {
			t.Errorf("chunked upload: %d %q, want 200 %q", resp.StatusCode, b, fmt.Sprintf("%d %s", ppLargeSize, want))
		}
	}
	peak = stop()
	t.Logf("chunked upload of 256 MiB: %s; RSS peak %d MiB", time.Since(start).Round(time.Millisecond), peak>>20)
	if peak-base > slack {
		t.Errorf("chunked upload: Caddy's RSS grew by %d MiB (from %d to %d MiB), over %d MiB: the body is buffered", (peak-base)>>20, base>>20, peak>>20, slack>>20)
	}

	for _, path := range []string{"/down", "/down-chunked"} {
		stop = ppRSSWatch(p.cmd.Process.Pid)
		start = time.Now()
		resp, err = c.Get(p.base + path)
		if err != nil {
			t.Errorf("download %s: %v", path, err)
			stop()
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		peak = stop()
		got := hex.EncodeToString(h.Sum(nil))
		if err != nil || resp.StatusCode != 200 || n != ppLargeSize || got != want {
			t.Errorf("download %s: status %d, %d bytes, sha256 %s, err %v; want 200, %d bytes, %s", path, resp.StatusCode, n, got, err, ppLargeSize, want)
		}
		if path == "/down" && resp.ContentLength != ppLargeSize {
			t.Errorf("download %s: Content-Length %d, want %d", path, resp.ContentLength, ppLargeSize)
		}
		t.Logf("download %s of 256 MiB: %s; RSS peak %d MiB", path, time.Since(start).Round(time.Millisecond), peak>>20)
		if peak-base > slack {
			t.Errorf("download %s: Caddy's RSS grew by %d MiB (from %d to %d MiB), over %d MiB", path, (peak-base)>>20, base>>20, peak>>20, slack>>20)
		}
	}

	// Flush at the upstream's pause, whatever the framing (chunked, then
	// Content-Length).
	for _, path := range []string{"/pause", "/pause-cl"} {
		pauseEnd.Store(0)
		start = time.Now()
		resp, err = c.Get(p.base + path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		buf := make([]byte, 64)
		n, err := io.ReadAtLeast(resp.Body, buf, len("first part;"))
		firstAt := time.Now()
		if err != nil || string(buf[:n]) != "first part;" {
			t.Errorf("%s: first read %q, %v; want %q", path, buf[:n], err, "first part;")
		}
		rest, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(buf[:n])+string(rest) != "first part;second part" {
			t.Errorf("%s: the body %q, %v; want %q", path, string(buf[:n])+string(rest), err, "first part;second part")
		}
		end := pauseEnd.Load()
		t.Logf("%s (%v): first part after %s, the upstream's pause ended after %s", path, resp.TransferEncoding,
			firstAt.Sub(start).Round(time.Millisecond), time.Unix(0, end).Sub(start).Round(time.Millisecond))
		if end == 0 || !firstAt.Before(time.Unix(0, end)) {
			t.Errorf("%s: the first part reached the client only after the upstream's 700ms pause ended: not flushed at the pause", path)
		}
	}
	ppCheckAfter(t, p)
}

// TestProxyPassTrailers: a chunked response's trailers reach the client,
// and a chunked request's trailers reach the upstream.
func TestProxyPassTrailers(t *testing.T) {
	be := ppNewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Trailer", "X-Checksum, X-Count")
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "got %q, request trailer X-Req-Sum=%q", b, r.Trailer.Get("X-Req-Sum"))
		w.(http.Flusher).Flush()
		w.Header().Set("X-Checksum", "abc123")
		w.Header().Set("X-Count", "42")
	})
	p := ppStart(t, "", ppHandle("/*", ppPass("http://"+be.addr)))
	c := ppClient(10 * time.Second)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", p.base+"/t", pr)
	req.ContentLength = -1 // chunked
	req.Trailer = http.Header{"X-Req-Sum": nil}
	go func() {
		io.WriteString(pw, "part one,")
		io.WriteString(pw, "part two")
		req.Trailer.Set("X-Req-Sum", "s-777")
		pw.Close()
	}()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `got "part one,part two", request trailer X-Req-Sum="s-777"`
	if err != nil || resp.StatusCode != 200 || string(b) != want {
		t.Errorf("got %d %q (%v), want 200 %q", resp.StatusCode, b, err, want)
	}
	if resp.Trailer.Get("X-Checksum") != "abc123" || resp.Trailer.Get("X-Count") != "42" {
		t.Errorf("response trailers %v, want X-Checksum: abc123 and X-Count: 42", resp.Trailer)
	}
	ppCheckAfter(t, p)
}

// TestProxyPassWebSocket: a WebSocket handshake gets its 101 through
// proxy_pass, then frames go both ways (text, a 70,000-byte binary frame,
// ping/pong, close).
func TestProxyPassWebSocket(t *testing.T) {
	var unmasked atomic.Int64
	be := ppNewBackend(t, ppWSEcho(&unmasked))
	p := ppStart(t, "", ppHandle("/ws", ppPass("http://"+be.addr)))
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	key := "dGhlIHNhbXBsZSBub25jZQ=="
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", p.addr, key)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if resp.StatusCode != 101 || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		t.Fatalf("handshake: %d %v %q; want 101 with Upgrade: websocket and Sec-WebSocket-Accept %s", resp.StatusCode, resp.Header, b, wsAccept(key))
	}
	f, masked, err := ppWSRead(br)
	if err != nil || f.op != 1 || string(f.payload) != "hello from the backend" || masked {
		t.Errorf("the backend's greeting: op %d %q masked %v err %v", f.op, f.payload, masked, err)
	}
	big := bytes.Repeat([]byte{0, 1, 2, 3, 250, 251, 252}, 10000)
	for _, out := range []ppWSFrame{
		{1, []byte("hello")},
		{2, big},
		{9, []byte("ping!")},
		{1, []byte(strings.Repeat("x", 300))},
	} {
		if err := ppWSWrite(conn, out, true); err != nil {
			t.Fatalf("writing a frame: %v", err)
		}
		in, _, err := ppWSRead(br)
		wantOp := out.op
		if wantOp == 9 {
			wantOp = 10
		}
		if err != nil || in.op != wantOp || !bytes.Equal(in.payload, out.payload) {
			t.Errorf("echo of a frame (op %d, %d bytes): op %d, %d bytes, err %v", out.op, len(out.payload), in.op, len(in.payload), err)
		}
	}
	if err := ppWSWrite(conn, ppWSFrame{8, []byte{0x03, 0xe8}}, true); err != nil {
		t.Fatal(err)
	}
	if in, _, err := ppWSRead(br); err != nil || in.op != 8 {
		t.Errorf("close: op %d err %v, want the close echoed", in.op, err)
	}
	// The backend closed: so must the client's connection.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := br.Read(make([]byte, 1)); err == nil {
		t.Errorf("after the close, read %d more bytes; want the connection closed", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("the client's connection stayed open after the backend closed")
	}
	if n := unmasked.Load(); n != 0 {
		t.Errorf("the backend got %d unmasked client frames", n)
	}
	ppCheckAfter(t, p)
}

// TestProxyPassTLS: an https:// upstream verified with the CA of
// proxy_ssl_trusted_certificate; without it, verification fails: 502,
// logged.
func TestProxyPassTLS(t *testing.T) {
	be, ca := ppNewTLSBackend(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls %v host %s path %s", r.TLS != nil, r.Host, r.URL.Path)
	})
	_, port, _ := net.SplitHostPort(be.addr)
	p := ppStart(t, "",
		ppHandle("/good", ppPass("https://"+be.addr, "proxy_ssl_trusted_certificate "+ca))+
			ppHandle("/named", ppPass("https://"+be.addr, "proxy_ssl_trusted_certificate "+ca, "proxy_ssl_name example.com"))+
			ppHandle("/wrongname", ppPass("https://"+be.addr, "proxy_ssl_trusted_certificate "+ca, "proxy_ssl_name other.test"))+
			ppHandle("/localhost", ppPass("https://localhost:"+port, "proxy_ssl_trusted_certificate "+ca))+
			ppHandle("/bad", ppPass("https://"+be.addr)))
	for _, path := range []string{"/good", "/named"} {
		r := do("GET", p.base+path, nil, 10*time.Second)
		want := fmt.Sprintf("tls true host %s path %s", p.addr, path)
		if r.err != nil || r.status != 200 || r.body != want {
			t.Errorf("%s: %v, want 200 %q", path, r, want)
		}
	}
	// httptest's certificate has no name localhost: a mismatch.
	for _, path := range []string{"/bad", "/wrongname", "/localhost"} {
		r := do("GET", p.base+path, nil, 10*time.Second)
		if r.err != nil || r.status != 502 {
			t.Errorf("%s (a certificate that does not verify): %v, want 502", path, r)
		}
	}
	// The failures are verification failures, logged naming the server.
	ppExpectErrorLog(t, p, ppAddrField(be.addr), "certificate signed by unknown authority")
	ppExpectErrorLog(t, p, ppAddrField(be.addr), "other.test")
	ppExpectErrorLog(t, p, ppAddrField("localhost:"+port), "localhost")
	ppCheckAfter(t, p)
}

// TestProxyPassTimeouts: a connect that gets no answer, a read that gets
// none, and a send the upstream never reads each end in a 504 soon after
// their timeout, with an error log line naming the server.
func TestProxyPassTimeouts(t *testing.T) {
	full := ppFullBacklog(t)
	slow := ppNewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
		io.WriteString(w, "too late")
	})
	trickle := ppNewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 8; i++ {
			fmt.Fprintf(w, "%d", i)
			w.(http.Flusher).Flush()
			time.Sleep(150 * time.Millisecond)
		}
	})
	deaf := ppNewRaw(t, func(c net.Conn, br *bufio.Reader, quit <-chan struct{}) {
		// Reads the head, never the body, never answers.
		ppReadHead(br)
		<-quit
	})
	p := ppStart(t, "",
		ppHandle("/connect", ppPass("http://"+full, "proxy_connect_timeout 300ms"))+
			ppHandle("/read", ppPass("http://"+slow.addr, "proxy_read_timeout 300ms"))+
			ppHandle("/trickle", ppPass("http://"+trickle.addr, "proxy_read_timeout 500ms"))+
			ppHandle("/send", ppPass("http://"+deaf.addr, "proxy_send_timeout 300ms", "proxy_read_timeout 30s")))

	r := timed(t, 2*time.Second, "connect timeout", func() hreply { return p.get("/connect", 10*time.Second) })
	if r.err != nil || r.status != 504 {
		t.Errorf("connect timeout: %v, want 504", r)
	}
	ppExpectErrorLog(t, p, ppAddrField(full))

	r = timed(t, 2*time.Second, "read timeout", func() hreply { return p.get("/read", 10*time.Second) })
	if r.err != nil || r.status != 504 {
		t.Errorf("read timeout: %v, want 504", r)
	}
	ppExpectErrorLog(t, p, ppAddrField(slow.addr))

	// The read timeout is between two reads, not for the whole response.
	if r := p.get("/trickle", 10*time.Second); r.err != nil || r.status != 200 || r.body != "01234567" {
		t.Errorf("a response of 1.2s, a byte every 150ms, with proxy_read_timeout 500ms: %v, want 200 %q", r, "01234567")
	}

	// 64 MiB, far more than the socket buffers hold: the upstream's
	// window closes and stays closed.
	const n = 64 << 20
	r = timed(t, 4*time.Second, "send timeout", func() hreply {
		return rawDo(p.addr, rawReq{head: postHead(p.addr, "/send", n), body: func(w io.Writer) error {
			_, err := io.Copy(w, ppNewPattern(n))
			return err
		}}, 15*time.Second)
	})
	if r.err != nil || r.status != 504 {
		t.Errorf("send timeout: %v, want 504 (a send timeout is a timeout, phases/proxy.go errorCase)", r)
	}
	ppExpectErrorLog(t, p, ppAddrField(deaf.addr))
	ppCheckAfter(t, p)
}

// ppSecondsList matches nginx's $upstream_response_time: "0.012, 0.003".
var ppSecondsList = regexp.MustCompile(`^[0-9]+\.[0-9]{3}(, [0-9]+\.[0-9]{3})*$`)

// ppUpHeader is a header_filter that shows the attempts of a request.
const ppUpHeader = `header_filter_by_lua "ngx.header['X-Up'] = (ngx.var.upstream_addr or 'nil') .. ' | ' .. (ngx.var.upstream_status or 'nil')"`

// TestProxyPassRetries: with proxy_next_upstream, a 502 from one server
// and a refused connection to another go on to the good server (and
// ngx.var.upstream_addr/upstream_status show both attempts); a POST whose
// body the first server read is not sent again.
func TestProxyPassRetries(t *testing.T) {
	good := ppNewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "good %s %s", r.Method, b)
	})
	var goodPosts sync.Map
	goodPost := ppNewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		goodPosts.Store(string(b), true)
		fmt.Fprintf(w, "good %s %s", r.Method, b)
	})
	bad := ppNewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(502)
		io.WriteString(w, "bad gateway from the bad server")
	})
	dead := ppClosedAddr(t)
	var bads [3]*ppBackend
	for i := range bads {
		bads[i] = ppNewBackend(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(502)
			fmt.Fprintf(w, "bad %d", i)
		})
	}
	var failPosts sync.Map
	failer := ppNewRaw(t, func(c net.Conn, br *bufio.Reader, quit <-chan struct{}) {
		// Reads the whole request, body included, then closes: no answer.
		_, b, err := ppReadRequest(br)
		if err != nil {
			return
		}
		failPosts.Store(string(b), true)
	})
	global := fmt.Sprintf(`upstream pair {
	server %s max_fails=0
	server %s
}
upstream withdead {
	server %s max_fails=0
	server %s
}
upstream postpair {
	server %s max_fails=0
	server %s
}
upstream allbad {
	server %s max_fails=0
	server %s max_fails=0
	server %s max_fails=0
}`, bad.addr, good.addr, dead, good.addr, failer.addr, goodPost.addr, bads[0].addr, bads[1].addr, bads[2].addr)
	p := ppStart(t, global,
		ppHandle("/pair", ppPass("http://pair", "proxy_next_upstream error timeout http_502", ppUpHeader,
			`log_by_lua "ngx.shared.d:set('pair', ngx.var.upstream_addr .. ' | ' .. ngx.var.upstream_status .. ' | ' .. ngx.var.upstream_response_time .. ' | ' .. ngx.var.upstream_connect_time)"`))+
			ppHandle("/withdead", ppPass("http://withdead", ppUpHeader))+
			ppHandle("/post", ppPass("http://postpair", ppUpHeader))+
			ppHandle("/allbad", ppPass("http://allbad", "proxy_next_upstream http_502", "proxy_next_upstream_tries 2", ppUpHeader)))

	c := ppClient(10 * time.Second)
	get := func(path string) (int, string, string) {
		resp, err := c.Get(p.base + path)
		if err != nil {
			t.Errorf("GET %s: %v", path, err)
			return 0, "", ""
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b), resp.Header.Get("X-Up")
	}
	for _, tc := range []struct{ path, first, firstStatus string }{
		{"/pair", bad.addr, "502"},
		{"/withdead", dead, "502"},
	} {
		twice := 0
		for i := 0; i < 4; i++ {
			status, body, up := get(tc.path)
			if status != 200 || body != "good GET " {
				t.Errorf("GET %s #%d: %d %q (X-Up %q), want 200 %q", tc.path, i, status, body, up, "good GET ")
			}
			switch up {
			case good.addr + " | 200":
			case tc.first + ", " + good.addr + " | " + tc.firstStatus + ", 200":
				twice++
			default:
				t.Errorf("GET %s #%d: X-Up %q, want %q or %q", tc.path, i, up, good.addr+" | 200",
					tc.first+", "+good.addr+" | "+tc.firstStatus+", 200")
			}
		}
		if twice != 2 {
			t.Errorf("GET %s: %d of 4 requests went to the failing server first, want 2 (round robin, max_fails=0)", tc.path, twice)
		}
	}
	if n := bad.reqs.Load(); n != 2 {
		t.Errorf("the bad server got %d requests, want 2", n)
	}

	// The log phase sees the attempts too, with their times (seconds,
	// millisecond precision, one per attempt).
	lastPair := ""
	for i := 0; i < 4; i++ {
		if _, _, up := get("/pair"); strings.Contains(up, ", ") {
			lastPair = up
			break
		}
	}
	logged := strings.Split(p.dict(t, "pair"), " | ")
	if len(logged) != 4 || logged[0]+" | "+logged[1] != lastPair ||
		!ppSecondsList.MatchString(logged[2]) || !ppSecondsList.MatchString(logged[3]) || strings.Count(logged[2], ",") != 1 {
		t.Errorf("log_by_lua saw %q; want %q | two response times | two connect times (like 0.001, 0.002)", logged, lastPair)
	}

	// proxy_next_upstream_tries 2: two servers tried, the last one's
	// answer (its own 502) passed on.
	for i := 0; i < 3; i++ {
		status, body, up := get("/allbad")
		parts := strings.Split(up, " | ")
		if status != 502 || !strings.HasPrefix(body, "bad ") || len(parts) != 2 || parts[1] != "502, 502" ||
			len(strings.Split(parts[0], ", ")) != 2 {
			t.Errorf("GET /allbad #%d: %d %q X-Up %q; want the second server's 502 after two attempts (\"a, b | 502, 502\")", i, status, body, up)
		}
	}
	if n := bads[0].reqs.Load() + bads[1].reqs.Load() + bads[2].reqs.Load(); n != 6 {
		t.Errorf("3 requests with proxy_next_upstream_tries 2 made %d attempts, want 6", n)
	}

	// A POST whose connection was refused never reached a server: it goes
	// on to the next one.
	for i := 0; i < 4; i++ {
		resp, err := c.Post(p.base+"/withdead", "text/plain", strings.NewReader(fmt.Sprintf("refused-%d", i)))
		if err != nil {
			t.Errorf("POST /withdead #%d: %v", i, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("good POST refused-%d", i); resp.StatusCode != 200 || string(b) != want {
			t.Errorf("POST /withdead #%d (X-Up %q): %d %q, want 200 %q", i, resp.Header.Get("X-Up"), resp.StatusCode, b, want)
		}
	}

	// POSTs: the one the failing server read is not sent again.
	failed, served := 0, 0
	for i := 0; i < 4; i++ {
		id := fmt.Sprintf("post-%d", i)
		resp, err := c.Post(p.base+"/post", "text/plain", strings.NewReader(id))
		if err != nil {
			t.Errorf("POST #%d: %v", i, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_, atFailer := failPosts.Load(id)
		_, atGood := goodPosts.Load(id)
		up := resp.Header.Get("X-Up")
		switch {
		case atFailer && atGood:
			t.Errorf("POST %s: sent again after the first server read its body (X-Up %q, status %d)", id, up, resp.StatusCode)
		case atFailer:
			failed++
			if resp.StatusCode != 502 {
				t.Errorf("POST %s (first server read the body, then closed): %d %q, want 502", id, resp.StatusCode, b)
			}
		case atGood:
			served++
			if resp.StatusCode != 200 || string(b) != "good POST "+id {
				t.Errorf("POST %s: %d %q, want 200 %q", id, resp.StatusCode, b, "good POST "+id)
			}
		default:
			t.Errorf("POST %s reached no server: %d %q", id, resp.StatusCode, b)
		}
	}
	if failed != 2 || served != 2 {
		t.Errorf("POSTs: %d failed at the first server, %d served; want 2 and 2 (round robin)", failed, served)
	}
	ppExpectErrorLog(t, p, "postpair", ppAddrField(failer.addr))
	ppCheckAfter(t, p)
}

// TestProxyPassPassiveHealth: a server that fails (max_fails=1) is not
// tried again for fail_timeout: one connection reaches it, every request
// is served by the other server.
func TestProxyPassPassiveHealth(t *testing.T) {
	good := ppNewBackend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "good") })
	slammer := ppNewRaw(t, func(c net.Conn, br *bufio.Reader, quit <-chan struct{}) {}) // accepts, closes at once
	dead1, dead2 := ppClosedAddr(t), ppClosedAddr(t)
	global := fmt.Sprintf(`upstream ph {
	server %s max_fails=1 fail_timeout=30s
	server %s
}
upstream alldead {
	server %s max_fails=1 fail_timeout=30s
	server %s max_fails=1 fail_timeout=30s
}`, slammer.addr, good.addr, dead1, dead2)
	p := ppStart(t, global, ppHandle("/alldead", ppPass("http://alldead", ppUpHeader))+
		ppHandle("/*", ppPass("http://ph", ppUpHeader)))
	c := ppClient(10 * time.Second)
	for i := 0; i < 10; i++ {
		resp, err := c.Get(p.base + "/x")
		if err != nil {
			t.Errorf("GET #%d: %v", i, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		up := resp.Header.Get("X-Up")
		if resp.StatusCode != 200 || string(b) != "good" {
			t.Errorf("GET #%d: %d %q (X-Up %q), want 200 good", i, resp.StatusCode, b, up)
		}
		if i >= 2 && up != good.addr+" | 200" {
			t.Errorf("GET #%d: X-Up %q; want only the good server (%s) once the other failed", i, up, good.addr)
		}
	}
	if n := slammer.accepts.Load(); n != 1 {
		t.Errorf("the failing server accepted %d connections, want 1 (max_fails=1 takes it out for 30s)", n)
	}

	// Both servers of a cluster refused: 502 after trying each; then
	// both are out, and the cluster has no server to offer: 503.
	resp, err := c.Get(p.base + "/alldead")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	up := resp.Header.Get("X-Up")
	if resp.StatusCode != 502 || (up != dead1+", "+dead2+" | 502, 502" && up != dead2+", "+dead1+" | 502, 502") {
		t.Errorf("/alldead, first request: %d, X-Up %q; want 502 after both servers (\"a, b | 502, 502\")", resp.StatusCode, up)
	}
	r := p.get("/alldead", 5*time.Second)
	if r.err != nil || r.status != 503 {
		t.Errorf("/alldead, both servers out: %v, want 503 (README: all servers down gives 503)", r)
	}
	ppExpectErrorLog(t, p, "no available server in upstream cluster", "alldead")
	ppCheckAfter(t, p)
}

// TestProxyPassTrustedProxies: X-Forwarded-For/-Proto/-Host as
// reverse_proxy sets them: a trusted client's are kept (its address
// appended), anyone else's replaced.
func TestProxyPassTrustedProxies(t *testing.T) {
	be := ppNewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "xff=%s proto=%s host=%s seenhost=%s", strings.Join(r.Header.Values("X-Forwarded-For"), ";"),
			r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"), r.Host)
	})
	for _, trusted := range []bool{true, false} {
		global := ""
		if trusted {
			global = ppTrust
		}
		p := ppStart(t, global, ppHandle("/*", ppPass("http://"+be.addr)))
		req, _ := http.NewRequest("GET", p.base+"/xf", nil)
		req.Header.Set("X-Forwarded-For", "1.2.3.4")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", "forged.example")
		resp, err := ppClient(10 * time.Second).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := fmt.Sprintf("xff=127.0.0.1 proto=http host=%s seenhost=%s", p.addr, p.addr)
		if trusted {
			want = fmt.Sprintf("xff=1.2.3.4, 127.0.0.1 proto=https host=forged.example seenhost=%s", p.addr)
		}
		if resp.StatusCode != 200 || string(b) != want {
			t.Errorf("trusted %v: %d %q, want 200 %q", trusted, resp.StatusCode, b, want)
		}
		if trusted && !strings.Contains(p.config, "trusted_proxies") {
			t.Errorf("the config does not trust 127.0.0.1:\n%s", p.config)
		}
		ppCheckAfter(t, p)
		p.stop()
	}
}

// TestProxyPassClientDisconnect: a client that goes away cancels its
// upstream request: the backend sees its request's context end soon
// after.
func TestProxyPassClientDisconnect(t *testing.T) {
	arrived := make(chan struct{}, 1)
	canceled := make(chan time.Time, 1)
	writeFailed := make(chan time.Time, 1)
	be := ppNewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			chunk := bytes.Repeat([]byte("s"), 64<<10)
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				if _, err := w.Write(chunk); err != nil {
					writeFailed <- time.Now()
					return
				}
				w.(http.Flusher).Flush()
			}
			return
		}
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
			canceled <- time.Now()
		case <-time.After(20 * time.Second):
		}
	})
	p := ppStart(t, "", ppHandle("/*", ppPass("http://"+be.addr)))
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /hang HTTP/1.1\r\nHost: %s\r\n\r\n", p.addr)
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		conn.Close()
		t.Fatalf("the request never reached the backend; log:\n%s", p.logTail(2000))
	}
	closedAt := time.Now()
	conn.Close()
	select {
	case at := <-canceled:
		t.Logf("the backend saw the cancellation %s after the client left", at.Sub(closedAt).Round(time.Millisecond))
		if d := at.Sub(closedAt); d > 2*time.Second {
			t.Errorf("the backend saw the cancellation only %s after the client left", d.Round(time.Millisecond))
		}
	case <-time.After(5 * time.Second):
		t.Errorf("the client left 5s ago and the upstream request is still open")
	}

	// A client that leaves half-way through a streamed response: the
	// upstream connection is closed (the backend's writes fail).
	conn, err = net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /stream HTTP/1.1\r\nHost: %s\r\n\r\n", p.addr)
	if _, err := io.ReadFull(conn, make([]byte, 1<<20)); err != nil {
		t.Fatalf("reading the first MiB of /stream: %v", err)
	}
	closedAt = time.Now()
	conn.Close()
	select {
	case at := <-writeFailed:
		t.Logf("the streaming backend's write failed %s after the client left", at.Sub(closedAt).Round(time.Millisecond))
		if d := at.Sub(closedAt); d > 2*time.Second {
			t.Errorf("the streaming backend saw the client leave only %s later", d.Round(time.Millisecond))
		}
	case <-time.After(5 * time.Second):
		t.Errorf("the client left a streamed response 5s ago and the upstream still streams")
	}
	ppCheckAfter(t, p)
}

// TestProxyPassHandleErrors: 502 and 504 go through handle_errors.
func TestProxyPassHandleErrors(t *testing.T) {
	slow := ppNewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	dead := ppClosedAddr(t)
	p := ppStart(t, "",
		ppHandle("/refused", ppPass("http://"+dead))+
			ppHandle("/slow", ppPass("http://"+slow.addr, "proxy_read_timeout 300ms"))+
			"\thandle_errors {\n\t\trespond \"oops {err.status_code}\" {err.status_code}\n\t}\n")
	for _, tc := range []struct {
		path   string
		status int
	}{{"/refused", 502}, {"/slow", 504}} {
		r := p.get(tc.path, 10*time.Second)
		if want := fmt.Sprintf("oops %d", tc.status); r.err != nil || r.status != tc.status || r.body != want {
			t.Errorf("%s: %v, want %d %q", tc.path, r, tc.status, want)
		}
	}
	ppExpectErrorLog(t, p, ppAddrField(dead))
	ppExpectErrorLog(t, p, ppAddrField(slow.addr))
	ppCheckAfter(t, p)
}

// TestProxyPassBadUpstreamInput: responses no server should send are
// 502s (logged), a response that stops half-way is cut short after the
// read timeout, and a second response smuggled after the first is never
// served; Caddy survives all of it.
func TestProxyPassBadUpstreamInput(t *testing.T) {
	var smuggledServed atomic.Int64
	raw := ppNewRaw(t, func(c net.Conn, br *bufio.Reader, quit <-chan struct{}) {
		for {
			line, _, err := ppReadHead(br)
			if err != nil {
				return
			}
			path := ppReqPath(line)
			switch path {
			case "/badstatus":
				io.WriteString(c, "HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok")
				return
			case "/garbage":
				io.WriteString(c, "\x00\x01\x02 not http at all\r\n\r\n")
				return
			case "/twocl":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
				return
			case "/clte":
				// Both framings: refused, as nginx does.
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
			case "/small/head2k", "/small/head8k":
				n := 2 << 10
				if path == "/small/head8k" {
					n = 8 << 10
				}
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nX-Big: %s\r\nContent-Length: 2\r\n\r\nok", strings.Repeat("h", n))
				return
			case "/bighead":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("a", 100<<10)+"\r\nContent-Length: 2\r\n\r\nok")
				return
			case "/neverends":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
				<-quit
				return
			case "/smuggle":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"+
					"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled")
				smuggledServed.Add(1)
			default:
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\nanswer:%s", len("answer:")+len(path), path)
			}
		}
	})
	p := ppStart(t, "", ppHandle("/small/*", ppPass("http://"+raw.addr, "proxy_buffer_size 4k"))+
		ppHandle("/*", ppPass("http://"+raw.addr, "proxy_read_timeout 1s")))
	if r := p.get("/small/head2k", 10*time.Second); r.err != nil || r.status != 200 || r.body != "ok" {
		t.Errorf("/small/head2k (a 2 KiB head, proxy_buffer_size 4k): %v, want 200 ok", r)
	}
	bad := []string{"/badstatus", "/garbage", "/twocl", "/bighead", "/small/head8k"}
	for _, path := range bad {
		r := p.get(path, 10*time.Second)
		if r.err != nil || r.status != 502 {
			t.Errorf("%s: %v, want 502", path, r)
		}
	}
	ppExpectErrorLog(t, p, "proxy_pass", ppAddrField(raw.addr))
	if n := len(ppLogLines(p, `"level":"error"`, ppAddrField(raw.addr))); n < len(bad) {
		t.Errorf("%d error log lines name the upstream, want one per bad response (%d)", n, len(bad))
	}

	// Content-Length and chunked at once: a 502 (nginx's answer), and
	// that connection is not reused.
	before := raw.accepts.Load()
	if r := p.get("/clte", 10*time.Second); r.err != nil || r.status != 502 {
		t.Errorf("/clte: %v, want 502 (both framings)", r)
	}
	if r := p.get("/after-clte", 10*time.Second); r.err != nil || r.status != 200 || r.body != "answer:/after-clte" {
		t.Errorf("/after-clte: %v, want 200 %q", r, "answer:/after-clte")
	}
	if n := raw.accepts.Load() - before; n != 2 {
		t.Errorf("/clte and the request after it used %d new upstream connections, want 2 (a response with both framings must not leave its connection for reuse)", n)
	}

	// Cut short, not hung.
	r := timed(t, 4*time.Second, "a body that never ends", func() hreply { return p.get("/neverends", 15*time.Second) })
	if r.err == nil || r.status != 200 || r.body != "0123456789" {
		t.Errorf("a body that never ends: %v; want 200, the 10 bytes sent, then the connection cut (an error)", r)
	}

	// The smuggled response is never served: two requests on one client
	// connection, each gets its own answer.
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	for i, rq := range []struct{ path, want string }{
		{"/smuggle", "first"}, {"/next", "answer:/next"}, {"/smuggle", "first"}, {"/again", "answer:/again"},
	} {
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", rq.path, p.addr)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d %s: %v", i, rq.path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != rq.want {
			t.Errorf("request %d %s: %d %q (%v), want 200 %q", i, rq.path, resp.StatusCode, b, err, rq.want)
		}
	}
	if smuggledServed.Load() == 0 {
		t.Errorf("the smuggling backend never answered")
	}
	ppCheckAfter(t, p)
}

// TestProxyPassPhases: Lua phases around proxy_pass: access denies
// before the upstream, header_filter and body_filter change the proxied
// response, rewrite picks the cluster.
func TestProxyPassPhases(t *testing.T) {
	mk := func(name string) *ppBackend {
		return ppNewBackend(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Backend", name)
			w.Header().Set("X-Secret", "s3cr3t")
			fmt.Fprintf(w, "hello from %s at %s", name, r.URL.Path)
		})
	}
	a, b := mk("a"), mk("b")
	global := fmt.Sprintf("upstream ca {\n\tserver %s\n}\nupstream cb {\n\tserver %s\n}", a.addr, b.addr)
	site := ppHandle("/deny", ppPass("http://"+a.addr, `access_by_lua "ngx.exit(403)"`)) +
		ppHandle("/hf", ppPass("http://"+a.addr,
			`header_filter_by_lua "ngx.header['X-Added'] = 'from ' .. (ngx.header['X-Backend'] or 'nil'); ngx.header['X-Secret'] = nil"`)) +
		ppHandle("/bf", ppPass("http://"+a.addr, `body_filter_by_lua "if ngx.arg[1] then ngx.arg[1] = string.upper(ngx.arg[1]) end"`)) +
		"\thandle /pick {\n\t\troute {\n\t\t\tresty {\n\t\t\t\tproxy_pass\n" +
		"\t\t\t\trewrite_by_lua \"if ngx.var.arg_c then ngx.var.resty_upstream = ngx.var.arg_c end\"\n\t\t\t}\n" +
		"\t\t\trespond \"no cluster chosen\" 200\n\t\t}\n\t}\n"
	p := ppStart(t, global, site)

	r := p.get("/deny", 5*time.Second)
	if r.err != nil || r.status != 403 {
		t.Errorf("/deny: %v, want 403", r)
	}
	if n := a.reqs.Load(); n != 0 {
		t.Errorf("/deny: the backend got %d requests, want none", n)
	}

	resp, err := ppClient(5 * time.Second).Get(p.base + "/hf")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello from a at /hf" || resp.Header.Get("X-Added") != "from a" ||
		resp.Header.Get("X-Secret") != "" || resp.Header.Get("X-Backend") != "a" {
		t.Errorf("/hf: %d %q, X-Added %q X-Secret %q X-Backend %q; want 200, X-Added \"from a\", no X-Secret, X-Backend a",
			resp.StatusCode, body, resp.Header.Get("X-Added"), resp.Header.Get("X-Secret"), resp.Header.Get("X-Backend"))
	}

	r = p.get("/bf", 5*time.Second)
	if r.err != nil || r.status != 200 || r.body != "HELLO FROM A AT /BF" {
		t.Errorf("/bf: %v, want 200 %q", r, "HELLO FROM A AT /BF")
	}

	for _, tc := range []struct{ query, want string }{
		{"?c=ca", "hello from a at /pick"}, {"?c=cb", "hello from b at /pick"}, {"", "no cluster chosen"},
	} {
		r = p.get("/pick"+tc.query, 5*time.Second)
		if r.err != nil || r.status != 200 || r.body != tc.want {
			t.Errorf("/pick%s: %v, want 200 %q", tc.query, r, tc.want)
		}
	}
	r = p.get("/pick?c=nosuch", 5*time.Second)
	if r.err != nil || r.status != 502 {
		t.Errorf("/pick?c=nosuch (an unknown cluster): %v, want 502", r)
	}
	ppCheckAfter(t, p)
}

// TestProxyPassKeepalive: 100 sequential requests reuse a few pooled
// upstream connections.
func TestProxyPassKeepalive(t *testing.T) {
	be := ppNewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "n=%s", r.URL.Query().Get("n"))
	})
	p := ppStart(t, "", ppHandle("/*", ppPass("http://"+be.addr)))
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 100; i++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/k?n=%d", p.base, i), nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != fmt.Sprintf("n=%d", i) {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
	}
	first := be.conns.Load()
	// And 100 from clients that close their connection each time.
	for i := 0; i < 100; i++ {
		if r := p.get(fmt.Sprintf("/k?n=%d", i), 5*time.Second); r.err != nil || r.status != 200 || r.body != fmt.Sprintf("n=%d", i) {
			t.Fatalf("request %d (new client connection): %v", i, r)
		}
	}
	n := be.conns.Load()
	t.Logf("200 sequential requests, %d upstream connections (%d for the 100 on one client connection)", n, first)
	// On one client connection, each request starts after the previous
	// one's handler returned: one upstream connection serves them all.
	if first > 2 {
		t.Errorf("100 sequential requests on one client connection opened %d upstream connections, want 1 (pooled)", first)
	}
	// From new client connections too: the upstream connection goes back
	// to the pool at the end of its body, before the client has the
	// whole response and can send its next request.
	if n > 2 {
		t.Errorf("200 sequential requests opened %d upstream connections (%d for the first 100), want 1 (pooled)", n, first)
	}

	// 8 keep-alive clients at once, 100 requests each, none may fail;
	// the pool (32 idle per server) bounds the connections.
	before := be.conns.Load()
	stats := newLatStats("8 parallel keep-alive clients")
	parallel(8, func(w int) {
		kc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
		for i := 0; i < 100; i++ {
			start := time.Now()
			resp, err := kc.Get(fmt.Sprintf("%s/k?n=%d-%d", p.base, w, i))
			if err != nil {
				stats.add(time.Since(start), err.Error())
				continue
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			stats.check(hreply{status: resp.StatusCode, body: string(b), err: err, dur: time.Since(start)}, 200, fmt.Sprintf("n=%d-%d", w, i))
		}
	})
	stats.expectNoFailures(t)
	par := be.conns.Load() - before
	t.Logf("%s; %d new upstream connections", stats, par)
	if par > 32 {
		t.Errorf("800 requests from 8 parallel clients opened %d upstream connections, want at most 32 (the pool's size)", par)
	}
	ppCheckAfter(t, p)
}

// TestProxyPassHeaders: proxy_set_header (placeholders, "" removes),
// proxy_hide_header, hop-by-hop fields removed both ways, Host kept,
// Via added, the upstream's Server passed on, and a URL path that
// replaces the request's.
func TestProxyPassHeaders(t *testing.T) {
	be := ppNewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hints" {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			io.WriteString(w, "after the hints")
			return
		}
		w.Header().Set("Server", "upstream-server/1.0")
		w.Header().Set("X-Internal", "secret")
		w.Header().Set("X-Public", "shown")
		w.Header().Set("Connection", "X-Resp-Hop")
		w.Header().Set("X-Resp-Hop", "must go")
		w.Header().Set("Keep-Alive", "timeout=5")
		var hop []string
		for _, k := range []string{"Connection", "X-Hop", "Keep-Alive", "Proxy-Connection", "Upgrade", "Proxy-Authorization"} {
			if v := r.Header.Get(k); v != "" {
				hop = append(hop, k+"="+v)
			}
		}
		te := strings.Join(r.TransferEncoding, ",")
		fmt.Fprintf(w, "uri=%s host=%s realip=%s drop=%q keep=%s hop=%v te=%s", r.RequestURI, r.Host,
			r.Header.Get("X-Real-Ip"), r.Header.Get("X-Drop"), r.Header.Get("X-Keep"), hop, te)
	})
	p := ppStart(t, "",
		ppHandle("/h", ppPass("http://"+be.addr, "proxy_set_header X-Real-IP {remote_host}", `proxy_set_header X-Drop ""`,
			"proxy_hide_header X-Internal"))+
			ppHandle("/hints", ppPass("http://"+be.addr))+
			ppHandle("/sethost", ppPass("http://"+be.addr, "proxy_set_header Host upstream.example"))+
			ppHandle("/rewrite/*", ppPass("http://"+be.addr+"/v2{path}"))+
			ppHandle("/uri/*", ppPass("http://"+be.addr+"/v2{uri}"))) // the README's example

	req, _ := http.NewRequest("GET", p.base+"/h?q=1", nil)
	req.Header.Set("X-Drop", "client value")
	req.Header.Set("X-Keep", "kept")
	req.Header.Set("Connection", "X-Hop, keep-alive")
	req.Header.Set("X-Hop", "hop value")
	req.Header.Set("Proxy-Connection", "keep-alive")
	req.Header.Set("Proxy-Authorization", "Basic Zm9vOmJhcg==")
	resp, err := ppClient(5 * time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf(`uri=/h?q=1 host=%s realip=127.0.0.1 drop="" keep=kept hop=[] te=`, p.addr)
	if resp.StatusCode != 200 || string(b) != want {
		t.Errorf("/h: %d %q, want 200 %q", resp.StatusCode, b, want)
	}
	for k, v := range map[string]string{"X-Internal": "", "X-Public": "shown", "X-Resp-Hop": "", "Keep-Alive": "",
		"Via": "1.1 Caddy", "Server": "upstream-server/1.0"} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("/h: response field %s = %q, want %q", k, got, v)
		}
	}

	// 103 Early Hints reach the client before the response.
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
		return nil
	}}
	req, _ = http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", p.base+"/hints", nil)
	resp, err = ppClient(5 * time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "after the hints" || len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload; as=style" {
		t.Errorf("/hints: %d %q, 1xx responses %q; want 200 %q after one 103 with the Link", resp.StatusCode, b, hints, "after the hints")
	}

	for _, tc := range []struct{ path, want string }{
		{"/sethost", "uri=/sethost host=upstream.example"},
		{"/rewrite/a/b?x=1", "uri=/v2/rewrite/a/b?x=1 host=" + p.addr},
		{"/uri/a?x=1", "uri=/v2/uri/a?x=1 host=" + p.addr},
	} {
		r := p.get(tc.path, 5*time.Second)
		if r.err != nil || r.status != 200 || !strings.HasPrefix(r.body, tc.want+" ") {
			t.Errorf("%s: %v, want 200 %q…", tc.path, r, tc.want)
		}
	}
	ppCheckAfter(t, p)
}

// TestProxyPassStaleConnections: a pooled connection the upstream closed
// while idle is not used for a request with a body, and a request without
// one that fails on a reused connection before any response byte goes
// again once on a new one: no request fails because the pool held a
// connection the server was done with.
func TestProxyPassStaleConnections(t *testing.T) {
	// Answers the first request of each connection (keep-alive), then
	// closes the connection 30ms later.
	closer := ppNewRaw(t, func(c net.Conn, br *bufio.Reader, quit <-chan struct{}) {
		line, body, err := ppReadRequest(br)
		if err != nil {
			return
		}
		msg := "closer " + ppReqPath(line) + " " + string(body)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg)
		time.Sleep(30 * time.Millisecond)
	})
	// Answers the first request of each connection; at the second, reads
	// it and closes without a word (a server closing an idle connection
	// just as a request arrives).
	var dropped atomic.Int64
	dropper := ppNewRaw(t, func(c net.Conn, br *bufio.Reader, quit <-chan struct{}) {
		line, _, err := ppReadHead(br)
		if err != nil {
			return
		}
		msg := "dropper " + ppReqPath(line)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg)
		if _, _, err := ppReadHead(br); err == nil {
			dropped.Add(1)
		}
	})
	p := ppStart(t, "", ppHandle("/closer/*", ppPass("http://"+closer.addr))+
		ppHandle("/dropper/*", ppPass("http://"+dropper.addr)))
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	for i := 0; i < 6; i++ {
		time.Sleep(100 * time.Millisecond) // the closer has closed the last connection
		method, body := "GET", ""
		if i%2 == 1 {
			method, body = "POST", fmt.Sprintf("body-%d", i)
		}
		req, _ := http.NewRequest(method, fmt.Sprintf("%s/closer/%d", p.base, i), strings.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			t.Errorf("%s /closer/%d: %v", method, i, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("closer /closer/%d %s", i, body); resp.StatusCode != 200 || string(b) != want {
			t.Errorf("%s /closer/%d, after the upstream closed the pooled connection: %d %q, want 200 %q", method, i, resp.StatusCode, b, want)
		}
	}
	for i := 0; i < 6; i++ {
		r := p.get(fmt.Sprintf("/dropper/%d", i), 5*time.Second)
		if want := fmt.Sprintf("dropper /dropper/%d", i); r.err != nil || r.status != 200 || r.body != want {
			t.Errorf("GET /dropper/%d (the reused connection is closed as the request arrives): %v, want 200 %q", i, r, want)
		}
	}
	if dropped.Load() == 0 {
		t.Errorf("no request was sent on a reused connection of the dropper: the test did not test anything")
	}
	t.Logf("closer: %d connections for 6 requests; dropper: %d connections, %d requests dropped", closer.accepts.Load(), dropper.accepts.Load(), dropped.Load())
	ppCheckAfter(t, p)
}
