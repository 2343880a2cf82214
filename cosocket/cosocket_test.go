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
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/luaplugin/luatest"
)

func TestTimeout(t *testing.T) {
	const def = 7 * time.Second
	for _, c := range []struct {
		v    lua.LValue
		want time.Duration
	}{
		{lua.LNil, def},
		{lua.LString("100"), def},
		{lua.LNumber(0), def},
		{lua.LNumber(-5), def},
		{lua.LNumber(150), 150 * time.Millisecond},
		{lua.LNumber(0.5), 500 * time.Microsecond},
		{lua.LNumber(math.MaxInt32), math.MaxInt32 * time.Millisecond},
		{lua.LNumber(1e12), math.MaxInt32 * time.Millisecond},
	} {
		if got := Timeout(c.v, def); got != c.want {
			t.Errorf("Timeout(%v) = %s, want %s", c.v, got, c.want)
		}
	}
}

func TestString(t *testing.T) {
	for _, c := range []struct {
		v    lua.LValue
		want string
		ok   bool
	}{
		{lua.LString("host"), "host", true},
		{lua.LNumber(6379), "6379", true},
		{lua.LNumber(0.5), "0.5", true},
		{lua.LNil, "", false},
		{lua.LTrue, "", false},
	} {
		if got, ok := String(c.v); got != c.want || ok != c.ok {
			t.Errorf("String(%v) = %q, %v; want %q, %v", c.v, got, ok, c.want, c.ok)
		}
	}
}

func TestError(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{context.DeadlineExceeded, "timeout"},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), "timeout"},
		{&net.DNSError{Name: "nowhere.test", IsNotFound: true}, "nowhere.test could not be resolved (3: Host not found)"},
		{&net.DNSError{Name: "slow.test", IsTimeout: true}, "timeout"},
		{&net.DNSError{Name: "broken.test"}, "broken.test could not be resolved (2: Server failure)"},
		{x509.HostnameError{Certificate: &x509.Certificate{}, Host: "h"}, "certificate host mismatch"},
		{x509.UnknownAuthorityError{}, "20: unable to get local issuer certificate"},
		{x509.CertificateInvalidError{Reason: x509.Expired}, "10: certificate has expired"},
		{x509.CertificateInvalidError{Reason: x509.NotAuthorizedToSign}, "handshake failed"},
		{tls.RecordHeaderError{Msg: "bad"}, "handshake failed"},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "connection refused"},
		{&net.OpError{Op: "write", Err: syscall.EPIPE}, "broken pipe"},
		{io.EOF, "closed"},
		{fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), "closed"},
		{net.ErrClosed, "closed"},
		{context.Canceled, "closed"},
		{errors.New("http: server closed idle connection"), "closed"},
		{errors.New("response body too large"), "response body too large"},
	} {
		if got := Error(c.err); got != c.want {
			t.Errorf("Error(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// A TLS connection whose peer does not read closes at once, without
// waiting for its close_notify alert to be sent.
func TestCloseDoesNotWait(t *testing.T) {
	srv := httptest.NewTLSServer(nil) // for its certificate
	cert := srv.TLS.Certificates[0]
	srv.Close()
	client, server := net.Pipe() // unbuffered: every write waits for a read
	defer server.Close()
	ts := tls.Server(server, &tls.Config{Certificates: []tls.Certificate{cert}})
	// The server completes the handshake, then reads nothing.
	go func() { _ = ts.Handshake() }()
	tc := tls.Client(client, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := Close(tc); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %s", d)
	}
	plain, other := net.Pipe()
	defer other.Close()
	if err := Close(plain); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("write after Close: %v", err)
	}
}

// RunEnd registers its close once per run, runs it when the run ends, and
// registers again in the next run.
func TestRunEnd(t *testing.T) {
	p := luatest.NewPool(t, luaplugin.Config{})
	vm, err := p.Acquire(nil)
	if err != nil {
		t.Fatal(err)
	}
	var re RunEnd
	closed := 0
	vm.L.SetGlobal("arm", vm.L.NewFunction(func(L *lua.LState) int {
		re.Arm(vm, func() { closed++ })
		L.Push(lua.LNumber(vm.RunEndPending()))
		return 1
	}))
	p.Release(vm) // the pool has one state: the runs below get it
	for run := 1; run <= 2; run++ {
		out := luatest.RunOK(t, p, `ngx.say(arm(), arm(), arm())`)
		if out != "111\n" || closed != run {
			t.Fatalf("run %d: pending %q, closed %d times", run, out, closed)
		}
	}
}
