package proxypass

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// headCapture answers every request with 200 and records its head.
func headCapture(t *testing.T) (*rawBackend, chan string) {
	heads := make(chan string, 16)
	b := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		for {
			var head strings.Builder
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				head.WriteString(line)
				if line == "\r\n" {
					break
				}
			}
			heads <- head.String()
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}
	})
	return b, heads
}

func TestRequestFields(t *testing.T) {
	b, heads := headCapture(t)
	tr := New(Options{})
	defer tr.Close()
	client := http.Header{
		"Connection":          {"X-Secret, keep-alive"},
		"X-Secret":            {"hop"},
		"Keep-Alive":          {"300"},
		"Proxy-Connection":    {"keep-alive"},
		"Te":                  {"gzip, trailers"},
		"Transfer-Encoding":   {"chunked"},
		"Upgrade":             {"h2c"},
		"Proxy-Authorization": {"Basic x"},
		"Trailer":             {"X-T"},
		"Expect":              {"100-continue"},
		"Content-Length":      {"99"},
		"Host":                {"wrong"},
		"X-Multi":             {"1", "2"},
		"X-Replaced":          {"client"},
		"X-Removed":           {"client"},
		"Accept":              {"*/*"},
	}
	orig := client.Clone()
	req := &Request{Method: "GET", URI: "/p?q=%20", Host: "front.example", Header: client,
		Set: []Field{{"X-Replaced", "proxy"}, {"x-removed", ""}, {"X-New", "a"}, {"X-New", "b"}, {"Content-Length", "7"}, {"Host", "no"}}}
	x, _, err := roundTrip(t, tr, b.target(), req)
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	head := <-heads
	lines := strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n")
	if lines[0] != "GET /p?q=%20 HTTP/1.1" || lines[1] != "Host: front.example" {
		t.Fatalf("head %q", head)
	}
	got := map[string]bool{}
	for _, l := range lines[2:] {
		got[l] = true
	}
	want := []string{"X-Multi: 1", "X-Multi: 2", "X-Replaced: proxy", "X-New: a", "X-New: b", "Accept: */*", "TE: trailers"}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing %q in %q", w, head)
		}
	}
	if len(lines) != 2+len(want) {
		t.Errorf("extra fields in %q", head)
	}
	if fmt.Sprint(client) != fmt.Sprint(orig) {
		t.Error("the request's Header was modified")
	}

	// POST without a body: Content-Length: 0; an upgrade: its fields.
	x, _, err = roundTrip(t, tr, b.target(), &Request{Method: "POST", URI: "/", Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	if head := <-heads; head != "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n" {
		t.Fatalf("%q", head)
	}
}

func TestRequestInjectionRefused(t *testing.T) {
	b, _ := headCapture(t)
	tr := New(Options{})
	defer tr.Close()
	for _, req := range []*Request{
		{Method: "GET", URI: "/", Header: http.Header{"X-A": {"a\r\nX-Injected: 1"}}},
		{Method: "GET", URI: "/", Set: []Field{{"X-A", "a\nb"}}},
		{Method: "GET", URI: "/", Set: []Field{{"X A", "a"}}},
		{Method: "GET", URI: "/", Header: http.Header{"X:A": {"a"}}},
		{Method: "GET", URI: "/ HTTP/1.1\r\nX: y"},
		{Method: "GET", URI: "/", Host: "a\r\nb"},
		{Method: "G T", URI: "/"},
		{Method: "GET", URI: "/", Upgrade: "x\r\n"},
	} {
		_, err := tr.Do(context.Background(), b.target(), req, http.Header{}, nil)
		if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%+v: %v", req, err)
		}
	}
	if n := b.accepts.Load(); n != 0 {
		t.Fatalf("%d connections for refused requests", n)
	}
}

// trailerBody fills the request's trailers at its EOF, like a server's
// request body.
type trailerBody struct {
	r       io.Reader
	trailer http.Header
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.trailer.Set("X-Sum", "42")
	}
	return n, err
}

func TestChunkedRequestWithTrailers(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %v %q %s", r.TransferEncoding, r.ContentLength, body, r.Trailer.Get("X-Sum"))
	}))
	defer ts.Close()
	tr := New(Options{})
	defer tr.Close()
	trailer := http.Header{"X-Sum": nil}
	req := &Request{Method: "PUT", URI: "/", Host: "h", ContentLength: -1, Trailer: trailer,
		Body: &trailerBody{r: io.MultiReader(strings.NewReader("hello "), strings.NewReader("world")), trailer: trailer}}
	x, body, err := roundTrip(t, tr, Target{Addr: ts.Listener.Addr().String()}, req)
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	if body != `[chunked] -1 "hello world" 42` {
		t.Fatalf("%q", body)
	}

	// Known length.
	x, body, err = roundTrip(t, tr, Target{Addr: ts.Listener.Addr().String()},
		&Request{Method: "POST", URI: "/", Body: strings.NewReader("abc"), ContentLength: 3})
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	if body != `[] 3 "abc" ` || !x.Reused() {
		t.Fatalf("%q %v", body, x.Reused())
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		n := min(r.n, len(p))
		r.n -= n
		return n, nil
	}
	return 0, errors.New("client reset")
}

func TestClientBodyErrors(t *testing.T) {
	b, _ := headCapture(t)
	tr := New(Options{})
	defer tr.Close()
	for _, req := range []*Request{
		{Method: "POST", URI: "/", Body: &failingReader{n: 10}, ContentLength: -1},
		{Method: "POST", URI: "/", Body: strings.NewReader("short"), ContentLength: 10},
	} {
		_, err := tr.Do(context.Background(), b.target(), req, http.Header{}, nil)
		var pe *Error
		if !errors.As(err, &pe) || pe.Kind != KindClientBody || !pe.BodySent {
			t.Fatalf("%v", err)
		}
	}
	if tr.Idle() != 0 {
		t.Fatal("pooled after a broken request")
	}
}

func TestEarlyResponse(t *testing.T) {
	// The upstream refuses the body at once and closes.
	b := newRaw(t, func(c net.Conn, br *bufio.Reader) {
		http.ReadRequest(br)
		io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig")
		c.(*net.TCPConn).CloseWrite()
		time.Sleep(50 * time.Millisecond)
	})
	tr := New(Options{})
	defer tr.Close()
	x, body, err := roundTrip(t, tr, b.target(), &Request{Method: "POST", URI: "/", Body: &patternReader{n: 64 << 20}, ContentLength: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	if x.Response().Status != 413 || body != "big" || tr.Idle() != 0 {
		t.Fatalf("%d %q", x.Response().Status, body)
	}
}

func TestLargeBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB each way")
	}
	const size = 64 << 20
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" {
			n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
			if r.URL.Query().Get("chunked") == "" {
				w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
			}
			io.CopyBuffer(w, &patternReader{n: n}, make([]byte, 64<<10))
			return
		}
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	}))
	defer ts.Close()
	tg := Target{Addr: ts.Listener.Addr().String()}
	tr := New(Options{})
	defer tr.Close()

	h := sha256.New()
	io.Copy(h, &patternReader{n: size})
	wantUp := fmt.Sprintf("%d %x", size, h.Sum(nil))

	var ms0 runtimeMemStats
	readMemStats(&ms0)
	before := ms0.HeapInuse
	var peak uint64
	for _, cl := range []int64{size, -1} {
		x, body, err := roundTrip(t, tr, tg, &Request{Method: "POST", URI: "/", Body: &patternReader{n: size}, ContentLength: cl})
		if err != nil {
			t.Fatal(err)
		}
		x.Close()
		if body != wantUp {
			t.Fatalf("upload (length %d): %q", cl, body)
		}
		peak = max(peak, heapInuse())
	}
	for _, q := range []string{"", "&chunked=1"} {
		x, err := tr.Do(context.Background(), tg, &Request{Method: "GET", URI: "/?n=" + strconv.Itoa(size) + q}, http.Header{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var pc patternChecker
		flushes := 0
		n, err := x.CopyBody(&pc, func() error { flushes++; return nil })
		x.Close()
		if err != nil || n != size || pc.off != size || pc.bad || flushes == 0 {
			t.Fatalf("download %q: %d %v bad=%v flushes=%d", q, n, err, pc.bad, flushes)
		}
		peak = max(peak, heapInuse())
	}
	if grow := int64(peak) - int64(before); grow > 4<<20 {
		t.Fatalf("heap grew by %d bytes streaming 64 MiB bodies", grow)
	}
	// Bounded memory: what was allocated in all (client and server) is
	// far less than the 256 MiB streamed.
	var ms1 runtimeMemStats
	readMemStats(&ms1)
	if total := ms1.TotalAlloc - ms0.TotalAlloc; total > 8<<20 {
		t.Fatalf("%d bytes allocated streaming 4×64 MiB", total)
	}
	_ = bytes.MinRead
}
