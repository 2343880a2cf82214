//go:build linux

package proxypass

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// fullBacklog returns the address of a listener that never accepts and
// whose backlog is full: connecting to it hangs (SYNs are dropped).
func fullBacklog(t *testing.T) string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
		if i > 64 {
			t.Skip("could not fill the listen backlog")
		}
	}
	return addr
}

func TestConnectTimeout(t *testing.T) {
	addr := fullBacklog(t)
	tr := New(Options{ConnectTimeout: 200 * time.Millisecond})
	defer tr.Close()
	t0 := time.Now()
	_, err := tr.Do(context.Background(), Target{Addr: addr}, &Request{Method: "GET", URI: "/"}, http.Header{}, nil)
	if kindOf(err) != KindConnectTimeout {
		t.Fatalf("%v", err)
	}
	if d := time.Since(t0); d < 150*time.Millisecond || d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
	var pe *Error
	if !asError(err, &pe) || !pe.Timeout() || !pe.BeforeResponse() {
		t.Fatalf("%+v", pe)
	}

	// Canceled while connecting.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	tr2 := New(Options{})
	defer tr2.Close()
	t0 = time.Now()
	_, err = tr2.Do(ctx, Target{Addr: addr}, &Request{Method: "GET", URI: "/"}, http.Header{}, nil)
	if kindOf(err) != KindCanceled || time.Since(t0) > time.Second {
		t.Fatalf("%v after %v", err, time.Since(t0))
	}
}
