package integration

import (
	"bufio"
	"bytes"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// rawBackend answers every request on a connection with the same 100-byte
// response, allocating nothing per request, so that what a benchmark
// counts is the gateway's.
func rawBackend(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("x", 100))
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReaderSize(c, 8192)
				for {
					// A GET head: read up to the blank line.
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// rawClient sends one request and reads its response on a keep-alive
// connection without allocating; it returns the status and body length.
type rawClient struct {
	c   net.Conn
	br  *bufio.Reader
	req []byte
	buf []byte
}

func newRawClient(tb testing.TB, addr, path string) *rawClient {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return &rawClient{c: c, br: bufio.NewReaderSize(c, 8192), buf: make([]byte, 4096),
		req: []byte("GET " + path + " HTTP/1.1\r\nHost: localhost:9080\r\nX-Api-Key: secret\r\n\r\n")}
}

func (rc *rawClient) do() (status, n int, err error) {
	if _, err := rc.c.Write(rc.req); err != nil {
		return 0, 0, err
	}
	cl := -1
	for first := true; ; first = false {
		line, err := rc.br.ReadSlice('\n')
		if err != nil {
			return 0, 0, err
		}
		if first {
			if len(line) > 12 {
				status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
			}
			continue
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && bytes.EqualFold(line[:15], []byte("content-length:")) {
			v := bytes.TrimSpace(line[15:])
			cl = 0
			for _, d := range v {
				cl = cl*10 + int(d-'0')
			}
		}
	}
	for left := cl; left > 0; {
		m, err := rc.br.Read(rc.buf[:min(left, len(rc.buf))])
		if err != nil {
			return status, cl - left, err
		}
		left -= m
	}
	return status, cl, nil
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProxy compares Caddy's reverse_proxy with the resty handler's
// proxy_pass (alone, and after an access_by_lua key check) in one Caddy,
// to an in-process backend that allocates nothing, over 16 keep-alive
// connections. Each handler is alone in a site of its own (as in the wrk
// scenarios of bench/proxy.sh: no handle blocks, whose subroutes Caddy
// compiles per request). It reports the process's CPU per request
// (client and backend included: both are a few µs of raw socket work, the
// same for every case) and heap allocations per request (all the
// gateway's).
func BenchmarkProxy(b *testing.B) {
	backend := rawBackend(b)
	ports := [3]string{"9080"}
	for i := 1; i < len(ports); i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		_, ports[i], _ = net.SplitHostPort(l.Addr().String())
		l.Close()
	}
	config := `{
	admin localhost:2999
	http_port 9080
	https_port 9443
	auto_https off
	persist_config off
	skip_install_trust
	log {
		output file ` + filepath.Join(b.TempDir(), "caddy.log") + `
		format json
		level INFO
	}
}
:` + ports[0] + ` {
	reverse_proxy ` + backend + `
}
:` + ports[1] + ` {
	resty {
		proxy_pass http://` + backend + `
	}
}
:` + ports[2] + ` {
	resty {
		access_by_lua <<LUA
			if ngx.var.http_x_api_key ~= "secret" then return ngx.exit(403) end
		LUA
		proxy_pass http://` + backend + `
	}
}
`
	resetCaddy()
	tester := caddytest.NewTester(b)
	tester.InitServer(config, "caddyfile")
	for _, c := range []struct{ name, port string }{
		{"reverse_proxy", ports[0]}, {"proxy_pass", ports[1]}, {"access+proxy_pass", ports[2]},
	} {
		b.Run(c.name, func(b *testing.B) { benchRaw(b, "127.0.0.1:"+c.port, "/bench") })
	}
}

// benchRaw sends b.N requests for path to addr over 16 keep-alive
// connections (rawClient) and reports the process's CPU, heap
// allocations and bytes per request; every answer must be a 200 with the
// raw backend's 100 bytes.
func benchRaw(b *testing.B, addr, path string) {
	const conns = 16
	clients := make([]*rawClient, conns)
	for i := range clients {
		clients[i] = newRawClient(b, addr, path)
		if st, n, err := clients[i].do(); err != nil || st != 200 || n != 100 {
			b.Fatalf("warm-up: %d %d %v", st, n, err)
		}
	}
	var left, failed atomic.Int64
	left.Store(int64(b.N))
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, rc := range clients {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if st, n, err := rc.do(); err != nil || st != 200 || n != 100 {
					failed.Add(1)
					if err != nil {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&ms1)
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d requests failed", f)
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/req")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(b.N), "allocs/req")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(b.N), "B/req")
}
