// Package cosocket holds what the Go-backed network libraries (resty.http,
// resty.redis) share to behave as OpenResty's cosockets do: the timeout
// and string arguments, the error texts a cosocket reports, the defaults
// of the lua_socket_* directives, and closing what a handler left open
// when its run ends.
//
// Every wait on the network must happen between vm.Suspend() and the
// resume it returns, with nothing in between touching Lua (no call into
// Lua, no read or write of a Lua table or of the VM's request): take the
// context (vm.Context()), limits and arguments before suspending, and turn
// the results into Lua values after resuming.
package cosocket

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
)

// Defaults of nginx's cosocket directives.
const (
	// DefaultTimeout is the connect, send and read timeout of an object
	// that did not set its own (lua_socket_connect_timeout,
	// lua_socket_send_timeout and lua_socket_read_timeout: 60 s).
	DefaultTimeout = 60 * time.Second
	// DefaultKeepaliveTimeout is how long a kept-alive connection waits
	// for reuse when set_keepalive gives no timeout
	// (lua_socket_keepalive_timeout: 60 s).
	DefaultKeepaliveTimeout = 60 * time.Second
	// DefaultPoolSize is the number of idle connections a keepalive pool
	// keeps when neither connect nor set_keepalive says
	// (lua_socket_pool_size: 30).
	DefaultPoolSize = 30
)

// Timeout converts a timeout in milliseconds given to set_timeout(s) or
// set_keepalive: 0, a negative number or a value that is not a number
// mean def. As for cosockets, it is at most 2^31-1 ms.
func Timeout(v lua.LValue, def time.Duration) time.Duration {
	n, ok := v.(lua.LNumber)
	if !ok || n <= 0 {
		return def
	}
	if n > math.MaxInt32 {
		n = math.MaxInt32
	}
	return time.Duration(float64(n) * float64(time.Millisecond))
}

// SetTimeouts applies obj:set_timeout(ms) (one value at argument 2 for all
// three timeouts) or, with each, obj:set_timeouts(connect, send, read)
// (arguments 2 to 4) to an object's timeouts; missing or bad values give
// def, as in lua-resty-http and lua-resty-redis.
func SetTimeouts(L *lua.LState, each bool, def time.Duration, connect, send, read *time.Duration) {
	if !each {
		d := Timeout(L.Get(2), def)
		*connect, *send, *read = d, d, d
		return
	}
	*connect = Timeout(L.Get(2), def)
	*send = Timeout(L.Get(3), def)
	*read = Timeout(L.Get(4), def)
}

// String returns v as a string when it is a string or a number (formatted
// as Lua does); ok is false for any other value.
func String(v lua.LValue) (s string, ok bool) {
	switch x := v.(type) {
	case lua.LString:
		return string(x), true
	case lua.LNumber:
		return luaplugin.FormatNumber(float64(x)), true
	}
	return "", false
}

// Error turns a Go network error into the message an OpenResty cosocket
// gives for it: "timeout", "connection refused", "closed", "broken pipe",
// "NAME could not be resolved (3: Host not found)", the TLS verification
// errors of OpenSSL... Errors of other kinds keep their own text.
func Error(err error) string {
	if err == nil {
		return ""
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return "timeout"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		detail := "3: Host not found"
		if dnsErr.IsTimeout {
			detail = "110: Operation timed out"
		} else if !dnsErr.IsNotFound {
			detail = "2: Server failure"
		}
		return fmt.Sprintf("%s could not be resolved (%s)", dnsErr.Name, detail)
	}
	var hostErr x509.HostnameError
	if errors.As(err, &hostErr) {
		return "certificate host mismatch"
	}
	var authErr x509.UnknownAuthorityError
	if errors.As(err, &authErr) {
		return "20: unable to get local issuer certificate"
	}
	var invalidErr x509.CertificateInvalidError
	if errors.As(err, &invalidErr) {
		if invalidErr.Reason == x509.Expired {
			return "10: certificate has expired"
		}
		return "handshake failed"
	}
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	if errors.As(err, &recErr) || errors.As(err, &alert) {
		return "handshake failed"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if errno == syscall.EPIPE {
			return "broken pipe"
		}
		return errno.Error()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, context.Canceled) {
		return "closed"
	}
	msg := err.Error()
	if strings.Contains(msg, "server closed") || strings.Contains(msg, "connection closed") {
		return "closed"
	}
	return msg
}

// Close closes c without waiting on the network, so that it may be called
// while the Lua state is held: a TLS connection sends its close_notify
// alert from a goroutine of its own (tls.Conn.Close waits up to 5 s for
// that write when the peer does not read). Other connections close at
// once.
func Close(c net.Conn) error {
	if tc, ok := c.(*tls.Conn); ok {
		go tc.Close()
		return nil
	}
	return c.Close()
}

// RunEnd closes an object's connection when the Lua run that connected it
// ends, as OpenResty closes the cosockets a handler (or timer callback)
// left open when the handler ends. An object (an httpc, a red) embeds one
// and arms it on every connect; the close is registered once per run
// however often the object connects. The close function must leave alone
// a connection the script closed or handed to set_keepalive by then; an
// object kept across runs (in a module-level table) then reports "closed",
// as a cosocket of an ended handler does.
type RunEnd struct {
	armed bool
}

// Arm registers closeFn to run when the current run of vm ends, unless it
// is registered already.
func (r *RunEnd) Arm(vm *luaplugin.VM, closeFn func()) {
	if r.armed {
		return
	}
	r.armed = true
	vm.AtRunEnd(func() {
		r.armed = false
		closeFn()
	})
}

// Guard keeps two requests from using one cosocket object at the same time.
// A request's network wait frees its Lua state for other requests (see
// luaplugin.VM.Suspend); an object kept where several requests reach it (a
// module-level table) could then be used by a second request while the
// first one's operation is still under way on it, in Go, outside the
// state's lock. OpenResty refuses a cosocket of another request with the
// Lua error "bad request"; so does Enter while the object is busy. An
// object embeds a Guard, calls Enter in every method and Suspend instead
// of vm.Suspend around its waits. Guard is only touched under the state's
// lock, so it needs no synchronization of its own.
type Guard struct {
	busy bool
}

// Enter raises "bad request" when another request's operation is under
// way on the object.
func (g *Guard) Enter(L *lua.LState) {
	if g.busy {
		L.RaiseError("bad request")
	}
}

// Suspend marks the object busy and frees the state for the wait; resume
// takes the state back and clears the mark.
func (g *Guard) Suspend(vm *luaplugin.VM) (resume func()) {
	g.busy = true
	r := vm.Suspend()
	return func() {
		r()
		g.busy = false
	}
}
