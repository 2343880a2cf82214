package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// rawLoad sends requests like wrk does and counts every failure: each
// worker writes HTTP/1.1 requests on its own TCP connection and reads the
// responses, with no retry (net/http's Transport resends a request
// silently when a reused idle connection turns out closed; this does
// not). With keepAlive each worker keeps its connection while the server
// does; otherwise each request has its own connection and
// `Connection: close`.
type rawLoad struct {
	addr      string
	header    string // extra request header lines, each ending in \r\n
	keepAlive bool

	ok     atomic.Int64
	non2xx atomic.Int64
	errs   atomic.Int64
	// resets counts the failures at the connection level (a reset or
	// EOF before any response: see connLevel), of errs.
	resets   atomic.Int64
	mu       sync.Mutex
	firstErr []string
	bodies   map[string]int // answers by body
	stop     chan struct{}
	wg       sync.WaitGroup
}

// startRawLoad starts workers sending GET /work to the gateway.
func startRawLoad(workers int, keepAlive bool, header string) *rawLoad {
	l := &rawLoad{addr: gwAddr, header: header, keepAlive: keepAlive, stop: make(chan struct{}), bodies: map[string]int{}}
	for range workers {
		l.wg.Go(l.work)
	}
	return l
}

func (l *rawLoad) fail(err error) {
	l.errs.Add(1)
	if connLevel(err) {
		l.resets.Add(1)
	}
	l.mu.Lock()
	if len(l.firstErr) < 5 {
		l.firstErr = append(l.firstErr, err.Error())
	}
	l.mu.Unlock()
}

func (l *rawLoad) work() {
	req := "GET /work HTTP/1.1\r\nHost: " + l.addr + "\r\n" + l.header
	if !l.keepAlive {
		req += "Connection: close\r\n"
	}
	req += "\r\n"
	var conn net.Conn
	var br *bufio.Reader
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		if conn == nil {
			c, err := net.DialTimeout("tcp", l.addr, 5*time.Second)
			if err != nil {
				l.fail(fmt.Errorf("connect: %w", err))
				time.Sleep(10 * time.Millisecond)
				continue
			}
			conn, br = c, bufio.NewReader(c)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, req); err != nil {
			l.fail(fmt.Errorf("write: %w", err))
			conn.Close()
			conn = nil
			continue
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			l.fail(fmt.Errorf("read: %w", err))
			conn.Close()
			conn = nil
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			l.fail(fmt.Errorf("read body: %w", err))
			conn.Close()
			conn = nil
			continue
		}
		if resp.StatusCode/100 != 2 {
			l.non2xx.Add(1)
			l.mu.Lock()
			if len(l.firstErr) < 5 {
				l.firstErr = append(l.firstErr, fmt.Sprintf("status %d: %s", resp.StatusCode, body))
			}
			l.mu.Unlock()
		} else {
			l.ok.Add(1)
			l.mu.Lock()
			l.bodies[string(body)]++
			l.mu.Unlock()
		}
		if !l.keepAlive || resp.Close {
			conn.Close()
			conn = nil
		}
	}
}

// finish stops the workers and returns the counts.
func (l *rawLoad) finish() (ok, non2xx, errs int64, first []string) {
	close(l.stop)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok.Load(), l.non2xx.Load(), l.errs.Load(), l.firstErr
}
