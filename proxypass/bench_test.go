package proxypass

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
)

const benchResponse = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n" +
	"Date: Sun, 06 Dec 2026 12:00:00 GMT\r\nServer: bench\r\nCache-Control: no-cache\r\n\r\nhello, world\n"

// benchBackend answers each request head (no body expected) with
// benchResponse, as cheaply as possible.
func benchBackend(b testing.TB) *rawBackend {
	return newRaw(b, func(c net.Conn, br *bufio.Reader) {
		resp := []byte(benchResponse)
		for {
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 {
					break
				}
			}
			if br.Buffered() > 0 {
				// Pipelined heads: the loop answers them in turn.
				if _, err := c.Write(resp); err != nil {
					return
				}
				continue
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	})
}

// BenchmarkExchange compares a proxied GET with a small response through
// this package and through net/http.Transport, against the same local
// backend, with a cancelable context (as a server request's).
func BenchmarkExchange(b *testing.B) {
	be := benchBackend(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	header := http.Header{"Accept": {"*/*"}, "User-Agent": {"bench"}}

	b.Run("proxypass", func(b *testing.B) {
		tr := New(Options{})
		defer tr.Close()
		req := &Request{Method: "GET", URI: "/index.html", Host: "example.test", Header: header,
			Set: []Field{{"X-Forwarded-For", "192.0.2.1"}, {"X-Forwarded-Proto", "http"}}}
		hdr := make(http.Header, 8)
		tg := be.target()
		b.ReportAllocs()
		for b.Loop() {
			clear(hdr)
			x, err := tr.Do(ctx, tg, req, hdr, nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := x.CopyBody(io.Discard, nil); err != nil {
				b.Fatal(err)
			}
			x.Close()
		}
	})
	b.Run("nethttp", func(b *testing.B) {
		tr := &http.Transport{MaxIdleConnsPerHost: 32}
		defer tr.CloseIdleConnections()
		url := "http://" + be.addr + "/index.html"
		b.ReportAllocs()
		for b.Loop() {
			req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Host = "example.test"
			req.Header = header.Clone()
			req.Header.Set("X-Forwarded-For", "192.0.2.1")
			req.Header.Set("X-Forwarded-Proto", "http")
			resp, err := tr.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// BenchmarkExchangeParallel is BenchmarkExchange from several goroutines
// (GOMAXPROCS×4), over a pool of connections.
func BenchmarkExchangeParallel(b *testing.B) {
	be := benchBackend(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	header := http.Header{"Accept": {"*/*"}, "User-Agent": {"bench"}}
	b.Run("proxypass", func(b *testing.B) {
		tr := New(Options{})
		defer tr.Close()
		tg := be.target()
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			req := &Request{Method: "GET", URI: "/index.html", Host: "example.test", Header: header}
			hdr := make(http.Header, 8)
			for pb.Next() {
				clear(hdr)
				x, err := tr.Do(ctx, tg, req, hdr, nil)
				if err != nil {
					b.Fatal(err)
				}
				x.CopyBody(io.Discard, nil)
				x.Close()
			}
		})
	})
	b.Run("nethttp", func(b *testing.B) {
		tr := &http.Transport{MaxIdleConnsPerHost: 32}
		defer tr.CloseIdleConnections()
		url := "http://" + be.addr + "/index.html"
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
				req.Host = "example.test"
				req.Header = header.Clone()
				resp, err := tr.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	})
}

// TestExchangeAllocs checks the allocation budget of a proxied GET.
func TestExchangeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	be := benchBackend(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := New(Options{})
	defer tr.Close()
	req := &Request{Method: "GET", URI: "/", Host: "h", Header: http.Header{"Accept": {"*/*"}},
		Set: []Field{{"X-Forwarded-For", "192.0.2.1"}}}
	hdr := make(http.Header, 8)
	var body bytes.Buffer
	run := func() {
		clear(hdr)
		body.Reset()
		x, err := tr.Do(ctx, be.target(), req, hdr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.CopyBody(&body, nil); err != nil {
			t.Fatal(err)
		}
		x.Close()
	}
	run()
	if n := testing.AllocsPerRun(200, run); n > 6 {
		t.Fatalf("%v allocations per exchange, want ≤ 6", n)
	}
	if !bytes.Equal(body.Bytes(), []byte("hello, world\n")) {
		t.Fatalf("%q", body.Bytes())
	}
}
