//go:build linux

package integration

// Backends and helpers of the proxy_pass acceptance tests
// (proxypass_test.go): real HTTP servers, raw TCP servers that answer
// what no sane server would, a TLS server, a WebSocket echo written on a
// hijacked connection, and a listener whose accept queue is full. Every
// Caddy here is a process of its own (startCaddy), on free ports.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ppVia, when PP_VIA=reverse_proxy, renders the simple proxy routes with
// Caddy's reverse_proxy instead of proxy_pass: a check of the backends and
// of the tests themselves against a proxy known to work. Routes that use
// what reverse_proxy does not have (clusters, Lua phases) stay proxy_pass.
var ppVia = os.Getenv("PP_VIA")

// ppPass renders a resty handler proxying to url, with more proxy_*
// options (one per string). A handler block of Lua phases may be given
// as options too.
func ppPass(url string, opts ...string) string {
	if ppVia == "reverse_proxy" && strings.Contains(url, "://") && ppRPCompatible(opts) {
		return ppReverseProxy(url, opts)
	}
	var b strings.Builder
	b.WriteString("resty {\n\t\t\tproxy_pass " + url + "\n")
	for _, o := range opts {
		b.WriteString("\t\t\t" + o + "\n")
	}
	b.WriteString("\t\t}\n")
	return b.String()
}

func ppRPCompatible(opts []string) bool {
	for _, o := range opts {
		f := strings.Fields(o)
		switch f[0] {
		case "proxy_read_timeout", "proxy_connect_timeout", "proxy_ssl_trusted_certificate", "proxy_keepalive":
		default:
			return false
		}
	}
	return true
}

// ppReverseProxy is ppPass with reverse_proxy (PP_VIA=reverse_proxy).
func ppReverseProxy(url string, opts []string) string {
	var tr []string
	for _, o := range opts {
		f := strings.Fields(o)
		switch f[0] {
		case "proxy_read_timeout":
			tr = append(tr, "response_header_timeout "+f[1], "read_timeout "+f[1])
		case "proxy_connect_timeout":
			tr = append(tr, "dial_timeout "+f[1])
		case "proxy_ssl_trusted_certificate":
			tr = append(tr, "tls_trust_pool file "+f[1])
		}
	}
	if strings.HasPrefix(url, "https://") {
		tr = append(tr, "tls")
	}
	host := url[strings.Index(url, "://")+3:]
	host, _, _ = strings.Cut(host, "/")
	s := "reverse_proxy " + host + " {\n\t\t\tflush_interval -1\n"
	if len(tr) > 0 {
		s += "\t\t\ttransport http {\n\t\t\t\t" + strings.Join(tr, "\n\t\t\t\t") + "\n\t\t\t}\n"
	}
	return s + "\t\t}\n"
}

// ppHandle renders `handle PATH { body }`.
func ppHandle(path, body string) string {
	return "\thandle " + path + " {\n\t\t" + body + "\t}\n"
}

// ppTrust is a hopts.global tail that makes the server trust proxies at
// 127.0.0.0/8: it closes the resty block and opens the global servers
// option, which the harness's closing brace ends.
const ppTrust = "\n\t}\n\tservers {\n\t\ttrusted_proxies static 127.0.0.1/8\n"

// ppStart starts Caddy with the global resty lines and the site.
func ppStart(t *testing.T, global, site string) *hproc {
	t.Helper()
	return startCaddy(t, hopts{global: global, site: site})
}

// ppBackend is an HTTP server of the test process that counts the
// connections it accepted.
type ppBackend struct {
	addr  string
	srv   *httptest.Server
	conns atomic.Int64
	reqs  atomic.Int64
}

// ppNewBackend starts an HTTP/1.1 server running h.
func ppNewBackend(t *testing.T, h http.HandlerFunc) *ppBackend {
	t.Helper()
	b := &ppBackend{}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.reqs.Add(1)
		h(w, r)
	}))
	b.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.conns.Add(1)
		}
	}
	b.srv.Start()
	b.addr = b.srv.Listener.Addr().String()
	t.Cleanup(b.srv.Close)
	return b
}

// ppNewTLSBackend starts an HTTPS server (certificate for 127.0.0.1 and
// example.com) and writes its CA certificate to a PEM file.
func ppNewTLSBackend(t *testing.T, h http.HandlerFunc) (b *ppBackend, caFile string) {
	t.Helper()
	b = &ppBackend{}
	b.srv = httptest.NewUnstartedServer(h)
	b.srv.StartTLS()
	b.addr = b.srv.Listener.Addr().String()
	t.Cleanup(b.srv.Close)
	caFile = filepath.Join(tempDir(t), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return b, caFile
}

// ppRaw is a TCP server of the test process: serve runs for each
// accepted connection, which is closed when serve returns; quit is closed
// at the end of the test (a serve that holds its connection waits on it).
type ppRaw struct {
	addr    string
	ln      net.Listener
	accepts atomic.Int64
	mu      sync.Mutex
	conns   []net.Conn
	wg      sync.WaitGroup
}

func ppNewRaw(t *testing.T, serve func(c net.Conn, br *bufio.Reader, quit <-chan struct{})) *ppRaw {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &ppRaw{addr: ln.Addr().String(), ln: ln}
	quit := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepts.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				serve(c, bufio.NewReader(c), quit)
			}()
		}
	}()
	t.Cleanup(func() {
		close(quit)
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// ppReadHead reads a request head: the request line and the fields
// (names lower-cased).
// ppReadRequest reads a request head and its Content-Length body.
func ppReadRequest(br *bufio.Reader) (line string, body []byte, err error) {
	line, f, err := ppReadHead(br)
	if err != nil {
		return "", nil, err
	}
	n, _ := strconv.Atoi(f["content-length"])
	body = make([]byte, n)
	_, err = io.ReadFull(br, body)
	return line, body, err
}

func ppReadHead(br *bufio.Reader) (line string, fields map[string]string, err error) {
	fields = map[string]string{}
	for i := 0; ; i++ {
		l, err := br.ReadString('\n')
		if err != nil {
			return line, fields, err
		}
		l = strings.TrimRight(l, "\r\n")
		if i == 0 {
			line = l
			continue
		}
		if l == "" {
			return line, fields, nil
		}
		k, v, _ := strings.Cut(l, ":")
		fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
}

// ppReqPath is the path of a request line.
func ppReqPath(line string) string {
	f := strings.Fields(line)
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// ppClosedAddr returns an address nothing listens on (refused).
func ppClosedAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", freePort(t))
}

// ppFullBacklog returns the address of a listener that never accepts and
// whose accept queue is full: a connect to it gets no answer at all (the
// kernel drops the SYN), as from a host that is down.
func ppFullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
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
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for i := 0; i < 64; i++ {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return addr // full: connects hang
			}
			t.Fatalf("filling the backlog of %s: %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatalf("the accept queue of %s never filled (connects still complete)", addr)
	return ""
}

// ppLargeSize is the size of the large bodies.
const ppLargeSize = 256 << 20

// ppPattern is a reader of n bytes: a 1 MiB random block repeated, each
// repetition stamped with its number (so the stream is not periodic).
type ppPattern struct {
	block  []byte
	n, off int64
}

var ppBlock = func() []byte {
	b := make([]byte, 1<<20)
	rand.Read(b)
	return b
}()

func ppNewPattern(n int64) *ppPattern { return &ppPattern{block: ppBlock, n: n} }

func (p *ppPattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	blk := p.off / int64(len(p.block))
	in := p.off % int64(len(p.block))
	chunk := p.block[in:]
	if int64(len(chunk)) > p.n-p.off {
		chunk = chunk[:p.n-p.off]
	}
	n := copy(b, chunk)
	// The first 8 bytes of each block hold its number.
	for i := 0; i < n; i++ {
		if pos := in + int64(i); pos < 8 {
			var stamp [8]byte
			binary.BigEndian.PutUint64(stamp[:], uint64(blk))
			b[i] = stamp[pos]
		} else {
			break
		}
	}
	p.off += int64(n)
	return n, nil
}

// ppPatternSum is the sha256 of a ppPattern of n bytes, in hex.
var ppPatternSums sync.Map

func ppPatternSum(n int64) string {
	if v, ok := ppPatternSums.Load(n); ok {
		return v.(string)
	}
	h := sha256.New()
	io.Copy(h, ppNewPattern(n))
	s := hex.EncodeToString(h.Sum(nil))
	ppPatternSums.Store(n, s)
	return s
}

// ppRSS returns the resident set of process pid, in bytes.
func ppRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// ppRSSWatch samples the RSS of pid every 20ms until stop; it returns
// the largest value seen.
func ppRSSWatch(pid int) (stop func() int64) {
	var peak atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			if v, err := ppRSS(pid); err == nil && v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(done)
		<-finished
		return peak.Load()
	}
}

// ppClient is a client that never retries nor reuses a connection.
func ppClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true, MaxIdleConnsPerHost: -1},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// ppLogLines returns the JSON lines of Caddy's log that contain every
// one of subs.
func ppLogLines(p *hproc, subs ...string) []string {
	var out []string
	for _, l := range strings.Split(p.logText(), "\n") {
		ok := true
		for _, s := range subs {
			if !strings.Contains(l, s) {
				ok = false
				break
			}
		}
		if ok && l != "" {
			out = append(out, l)
		}
	}
	return out
}

// ppExpectErrorLog fails the test unless Caddy logs, within 5s, an error
// line that contains every one of subs.
func ppExpectErrorLog(t *testing.T, p *hproc, subs ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range ppLogLines(p, subs...) {
			var e map[string]any
			if json.Unmarshal([]byte(l), &e) == nil && e["level"] == "error" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("Caddy logged no error line with %q; log tail:\n%s", subs, p.logTail(3000))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ppAddrField is how the log names a server: its JSON field.
func ppAddrField(addr string) string { return `"address":"` + addr + `"` }

// WebSocket (RFC 6455), the least of it: the handshake, and frames of
// any length, masked or not.

// ppWSFrame is one frame: FIN always set.
type ppWSFrame struct {
	op      byte
	payload []byte
}

func ppWSWrite(w io.Writer, f ppWSFrame, mask bool) error {
	var hdr []byte
	hdr = append(hdr, 0x80|f.op)
	m := byte(0)
	if mask {
		m = 0x80
	}
	switch n := len(f.payload); {
	case n < 126:
		hdr = append(hdr, m|byte(n))
	case n < 1<<16:
		hdr = append(hdr, m|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, m|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	p := f.payload
	if mask {
		var key [4]byte
		rand.Read(key[:])
		hdr = append(hdr, key[:]...)
		p = bytes.Clone(p)
		for i := range p {
			p[i] ^= key[i%4]
		}
	}
	_, err := w.Write(append(hdr, p...))
	return err
}

// ppWSRead reads one frame; masked tells whether it was.
func ppWSRead(r io.Reader) (f ppWSFrame, masked bool, err error) {
	var h [2]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return f, false, err
	}
	if h[0]&0x80 == 0 {
		return f, false, errors.New("fragmented frames are not used here")
	}
	f.op = h[0] & 0x0f
	masked = h[1]&0x80 != 0
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return f, masked, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return f, masked, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 16<<20 {
		return f, masked, fmt.Errorf("frame of %d bytes", n)
	}
	var key [4]byte
	if masked {
		if _, err = io.ReadFull(r, key[:]); err != nil {
			return f, masked, err
		}
	}
	f.payload = make([]byte, n)
	if _, err = io.ReadFull(r, f.payload); err != nil {
		return f, masked, err
	}
	if masked {
		for i := range f.payload {
			f.payload[i] ^= key[i%4]
		}
	}
	return f, masked, nil
}

// ppWSEcho is a WebSocket echo handler: it completes the handshake on
// the hijacked connection, sends a greeting of its own, then echoes every
// data frame (and answers a close with a close). unmasked counts client
// frames that came unmasked (a protocol error).
func ppWSEcho(unmasked *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, brw, ok := wsHandshake(w, r, 20*time.Second)
		if !ok {
			return
		}
		defer conn.Close()
		if ppWSWrite(conn, ppWSFrame{op: 1, payload: []byte("hello from the backend")}, false) != nil {
			return
		}
		for {
			f, masked, err := ppWSRead(brw.Reader)
			if err != nil {
				return
			}
			if !masked {
				unmasked.Add(1)
			}
			switch f.op {
			case 8:
				ppWSWrite(conn, f, false)
				return
			case 9:
				f.op = 10
			}
			if ppWSWrite(conn, f, false) != nil {
				return
			}
		}
	}
}

// ppCheckAfter is checkAfter (alive, plain routes answer, heap back
// under the limit) and no panic in Caddy's log, even a recovered one.
func ppCheckAfter(t *testing.T, p *hproc) {
	t.Helper()
	p.checkAfter(t)
	for _, l := range strings.Split(p.logText(), "\n") {
		if strings.Contains(l, "panic") {
			if len(l) > 2000 {
				l = l[:2000] + "…"
			}
			t.Errorf("Caddy's log shows a panic: %s", l)
			return
		}
	}
}
