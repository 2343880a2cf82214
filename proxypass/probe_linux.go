//go:build linux

package proxypass

import (
	"net"
	"syscall"
)

// prober checks an idle TCP connection with a non-blocking
// recv(MSG_PEEK) on its socket: no deadline, no timer, one system call.
type prober struct {
	rc     syscall.RawConn
	fn     func(fd uintptr)
	buf    [1]byte
	n      int
	errno  error
	probed bool
}

func (p *prober) init(raw net.Conn) {
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	p.rc = rc
	p.fn = p.peek
}

func (p *prober) peek(fd uintptr) {
	p.n, _, p.errno = syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	p.probed = true
}

// alive reports whether the socket is alive (no data, no EOF, no error
// pending); known is false when it could not be probed.
func (p *prober) alive() (ok, known bool) {
	if p.rc == nil {
		return false, false
	}
	p.probed = false
	if err := p.rc.Control(p.fn); err != nil || !p.probed {
		return false, true
	}
	if p.errno == syscall.EAGAIN || p.errno == syscall.EWOULDBLOCK {
		return true, true
	}
	return false, true // data, EOF (n == 0) or an error
}
