//go:build unix

package luatest

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BlackholeAddr returns the address of a listening socket whose accept
// queue is full, so that connecting to it times out (for connect timeout
// tests).
func BlackholeAddr(tb testing.TB) (host string, port int) {
	tb.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		tb.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		tb.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		tb.Fatal(err)
	}
	port = sa.(*syscall.SockaddrInet4).Port
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// Fill the queue: connections beyond it get no SYN-ACK.
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return "127.0.0.1", port
		}
		tb.Cleanup(func() { c.Close() })
	}
	tb.Fatal("could not fill the accept queue")
	return "", 0
}
