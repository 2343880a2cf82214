package dynupstream

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// healthCheck is a HealthCheckConfig with its defaults applied.
type healthCheck struct {
	path, host        string
	interval, timeout time.Duration
	expect            StatusMatch
	passes, fails     int32
}

func newHealthCheck(cfg *HealthCheckConfig) *healthCheck {
	hc := &healthCheck{
		path:     cfg.Path,
		host:     cfg.Host,
		interval: DefaultCheckInterval,
		timeout:  DefaultCheckTimeout,
		expect:   cfg.Expect,
		passes:   int32(max(cfg.HealthyThreshold, 1)),
		fails:    int32(max(cfg.UnhealthyThreshold, 1)),
	}
	if d := cfg.Interval.Duration(); d > 0 {
		hc.interval = d
	}
	if d := cfg.Timeout.Duration(); d > 0 {
		hc.timeout = d
	}
	return hc
}

// checkerKey identifies the active health checker of a cluster.
type checkerKey struct{ cluster string }

// checker runs the active health checks of one cluster. It lives in the
// pool, so a config reload that keeps the cluster keeps the checker and
// its schedule. Each config that has the cluster with a health check
// subscribes with its settings and servers; a round checks the servers
// of every subscriber (during a reload the old config's servers still
// serve requests in flight) with the newest subscriber's settings.
type checker struct {
	cluster string
	ctx     context.Context
	cancel  context.CancelFunc
	client  *http.Client
	wake    chan struct{}
	done    chan struct{}

	mu      sync.Mutex
	subs    []*subscription
	started bool
}

// subscription is one config's use of a checker.
type subscription struct {
	hc     *healthCheck
	peers  []*peer
	logger *zap.Logger
}

// dialTargetKey carries the address a check dials in its context.
type dialTargetKey struct{}

type dialTarget struct{ network, address string }

func newChecker(cluster string) *checker {
	ctx, cancel := context.WithCancel(context.Background())
	dialer := &net.Dialer{KeepAlive: -1}
	return &checker{
		cluster: cluster,
		ctx:     ctx,
		cancel:  cancel,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		client: &http.Client{
			Transport: &http.Transport{
				DisableKeepAlives:  true,
				DisableCompression: true,
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					t, _ := ctx.Value(dialTargetKey{}).(dialTarget)
					return dialer.DialContext(ctx, t.network, t.address)
				},
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// loadChecker gets (or creates) the checker of a cluster and takes a
// reference to it.
func loadChecker(cluster string) *checker {
	val, _, _ := pool.LoadOrNew(checkerKey{cluster}, func() (caddy.Destructor, error) {
		return newChecker(cluster), nil
	})
	return val.(*checker)
}

// Destruct stops the checker: checks in progress are aborted.
func (c *checker) Destruct() error {
	c.cancel()
	c.mu.Lock()
	started := c.started
	c.mu.Unlock()
	if started {
		<-c.done
	}
	c.client.CloseIdleConnections()
	return nil
}

// subscribe adds a config's use of the checker and starts it if needed.
// A round runs at once when the settings changed or a server was never
// checked.
func (c *checker) subscribe(s *subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev := c.latestLocked()
	c.subs = append(c.subs, s)
	if !c.started {
		c.started = true
		go c.run()
		return
	}
	wake := prev == nil || *prev.hc != *s.hc
	for _, p := range s.peers {
		if !p.st.checked.Load() {
			wake = true
		}
	}
	if wake {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// unsubscribe removes a config's use of the checker.
func (c *checker) unsubscribe(s *subscription) {
	c.mu.Lock()
	c.subs = slices.DeleteFunc(c.subs, func(x *subscription) bool { return x == s })
	c.mu.Unlock()
}

func (c *checker) latestLocked() *subscription {
	if len(c.subs) == 0 {
		return nil
	}
	return c.subs[len(c.subs)-1]
}

// initialCheckDelay is how long a new checker waits before its first round.
const initialCheckDelay = time.Second

func (c *checker) run() {
	defer close(c.done)
	// The first round waits a moment: at config load the servers may be
	// about to start (backends served by this same Caddy start listening
	// only after provisioning), and one failed check would take them out
	// for a whole interval.
	first := time.NewTimer(initialCheckDelay)
	select {
	case <-c.ctx.Done():
		first.Stop()
		return
	case <-first.C:
	}
	for {
		interval := c.round()
		if interval <= 0 {
			interval = DefaultCheckInterval
		}
		timer := time.NewTimer(interval)
		select {
		case <-c.ctx.Done():
			timer.Stop()
			return
		case <-c.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// round checks every server once, in parallel, and returns the interval
// until the next round.
func (c *checker) round() time.Duration {
	c.mu.Lock()
	latest := c.latestLocked()
	var targets []*peer
	seen := make(map[*serverState]bool)
	for i := len(c.subs) - 1; i >= 0; i-- {
		for _, p := range c.subs[i].peers {
			if !seen[p.st] {
				seen[p.st] = true
				targets = append(targets, p)
			}
		}
	}
	c.mu.Unlock()
	if latest == nil {
		return 0
	}
	var wg sync.WaitGroup
	for _, p := range targets {
		wg.Go(func() { c.check(latest, p) })
	}
	wg.Wait()
	return latest.hc.interval
}

// check probes one server and records the result.
func (c *checker) check(s *subscription, p *peer) {
	hc := s.hc
	ok, problem := c.probe(hc, p)
	if c.ctx.Err() != nil {
		return // stopping: the result says nothing about the server
	}
	changed, healthy := p.st.checkResult(ok, problem, time.Now().UnixNano(), hc.passes, hc.fails)
	if !changed || s.logger == nil {
		return
	}
	if healthy {
		s.logger.Info("upstream server healthy",
			zap.String("upstream", c.cluster),
			zap.String("server", p.address),
			zap.String("check", "active"))
	} else {
		s.logger.Warn("upstream server unhealthy",
			zap.String("upstream", c.cluster),
			zap.String("server", p.address),
			zap.String("check", "active"),
			zap.String("problem", problem))
	}
}

func (c *checker) probe(hc *healthCheck, p *peer) (bool, string) {
	network, host := "tcp", p.hostport
	if n, _, ok := strings.Cut(p.address, "/"); ok {
		network = n
	}
	urlHost := host
	if network == "unix" {
		urlHost = "localhost"
	}
	ctx, cancel := context.WithTimeout(context.WithValue(c.ctx, dialTargetKey{}, dialTarget{network, host}), hc.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+urlHost+hc.path, nil)
	if err != nil {
		return false, err.Error()
	}
	if hc.host != "" {
		req.Host = hc.host
	}
	req.Header.Set("User-Agent", "caddy-resty-health-check")
	resp, err := c.client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if !hc.expect.Match(resp.StatusCode) {
		want := string(hc.expect)
		if want == "" {
			want = "2xx"
		}
		return false, fmt.Sprintf("status %d, want %s", resp.StatusCode, want)
	}
	if err != nil {
		return false, "reading the response: " + err.Error()
	}
	return true, ""
}

// Interface guards.
var _ caddy.Destructor = (*checker)(nil)
