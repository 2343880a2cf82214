//go:build unix

package restymysql

import (
	"errors"
	"net"
	"syscall"
)

// alive tells whether a kept-alive connection is still open: the server
// has sent nothing on it (an idle MySQL connection gets nothing but the
// close, or an error packet before it, when the server times it out or
// shuts down). It peeks without blocking.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	up := true
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n > 0, n == 0 && err == nil:
			up = false // data or EOF
		case err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EWOULDBLOCK):
			up = false
		}
		return true
	})
	return up && err == nil
}
