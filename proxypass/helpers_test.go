package proxypass

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawBackend is a TCP server whose connections are served by a script.
type rawBackend struct {
	ln      net.Listener
	addr    string
	accepts atomic.Int32
	mu      sync.Mutex
	conns   []net.Conn
	wg      sync.WaitGroup
}

func newRaw(tb testing.TB, serve func(c net.Conn, br *bufio.Reader)) *rawBackend {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	b := &rawBackend{ln: ln, addr: ln.Addr().String()}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.accepts.Add(1)
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for _, c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

func (b *rawBackend) target() Target { return Target{Addr: b.addr} }

// readReq reads one request (head and body) from br.
func readReq(br *bufio.Reader) (*http.Request, []byte, error) {
	r, err := http.ReadRequest(br)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(r.Body)
	return r, body, err
}

// serveFixed answers every request on the connection with resp.
func serveFixed(resp string) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, br *bufio.Reader) {
		for {
			if _, _, err := readReq(br); err != nil {
				return
			}
			if _, err := io.WriteString(c, resp); err != nil {
				return
			}
		}
	}
}

// get sends a GET and reads the whole body.
func get(t *testing.T, tr *Transport, tg Target, uri string) (*Exchange, string, error) {
	t.Helper()
	return roundTrip(t, tr, tg, &Request{Method: "GET", URI: uri, Host: "example.test"})
}

func roundTrip(t *testing.T, tr *Transport, tg Target, req *Request) (*Exchange, string, error) {
	t.Helper()
	x, err := tr.Do(context.Background(), tg, req, make(http.Header), nil)
	if err != nil {
		return nil, "", err
	}
	var b bytes.Buffer
	_, err = x.CopyBody(&b, nil)
	return x, b.String(), err
}

// kindOf returns the Kind of an *Error, or -1.
func kindOf(err error) Kind {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Kind
	}
	return -1
}

// waitFor polls cond for up to 2s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// patternReader yields n deterministic bytes without holding them.
type patternReader struct {
	n, off int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	if rem := r.n - r.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	for i := range p {
		p[i] = byte((r.off + int64(i)) % 251)
	}
	r.off += int64(len(p))
	return len(p), nil
}

// patternChecker counts and checks bytes of the pattern.
type patternChecker struct {
	off int64
	bad bool
}

func (w *patternChecker) Write(p []byte) (int, error) {
	for i, b := range p {
		if b != byte((w.off+int64(i))%251) {
			w.bad = true
		}
	}
	w.off += int64(len(p))
	return len(p), nil
}

func heapInuse() uint64 {
	var ms runtimeMemStats
	readMemStats(&ms)
	return ms.HeapInuse
}
