package dynupstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
)

// Limits and defaults of the registry's configuration.
const (
	// MaxWeight is the largest server weight.
	MaxWeight = 1000
	// MaxMaxFails is the largest max_fails.
	MaxMaxFails = 1000
	// MaxThreshold is the largest health check threshold.
	MaxThreshold = 100
	// MaxNameLen is the longest cluster name.
	MaxNameLen = 128

	// DefaultMaxFails is nginx's default max_fails.
	DefaultMaxFails = 1
	// DefaultFailTimeout is nginx's default fail_timeout.
	DefaultFailTimeout = 10 * time.Second
	// DefaultCheckInterval is the default interval of active health checks.
	DefaultCheckInterval = 5 * time.Second
	// MinCheckInterval and MinCheckTimeout are the smallest interval and
	// timeout a health check accepts: a check every nanosecond is a
	// denial of service on one's own backends.
	MinCheckInterval = 100 * time.Millisecond
	MinCheckTimeout  = 10 * time.Millisecond
	// DefaultCheckTimeout is the default timeout of one active health check.
	DefaultCheckTimeout = 2 * time.Second
)

// Load-balancing policies of a cluster (LBPolicy.Policy).
const (
	// PolicyRoundRobin is nginx's smooth weighted round robin (the default).
	PolicyRoundRobin = "round_robin"
	// PolicyLeastConn picks the server with the fewest active requests
	// relative to its weight; ties go round robin.
	PolicyLeastConn = "least_conn"
	// PolicyIPHash hashes the client IP (the first three octets of an
	// IPv4 address, as nginx's ip_hash does) onto a consistent hash ring.
	PolicyIPHash = "ip_hash"
	// PolicyRandom picks a server at random, in proportion to weight.
	PolicyRandom = "random"
	// PolicyHeader hashes the value of a request header onto a
	// consistent hash ring.
	PolicyHeader = "header"
	// PolicyCookie hashes the value of a request cookie onto a consistent
	// hash ring.
	PolicyCookie = "cookie"
)

// ClusterConfig is one named cluster of apps.resty.upstreams.
type ClusterConfig struct {
	// Servers are the cluster's servers, in order. A cluster may be
	// empty: requests to it get 503 until it has servers.
	Servers []ServerConfig `json:"servers,omitempty"`

	// HealthCheck, if set, probes every server of the cluster
	// periodically; a server that fails it gets no requests until it
	// passes again.
	HealthCheck *HealthCheckConfig `json:"health_check,omitempty"`

	// LBPolicy chooses the server of each request among the available
	// ones. Default: nginx's smooth weighted round robin.
	LBPolicy *LBPolicy `json:"lb_policy,omitempty"`
}

// ServerConfig is one server of a cluster, with nginx's `server`
// parameters.
type ServerConfig struct {
	// Address is the server's network address: host:port, or a Caddy
	// network address such as unix//run/app.sock. One socket only (no
	// port ranges) and no placeholders. Each address appears once per
	// cluster.
	Address string `json:"address"`

	// Weight is the server's share of requests relative to the other
	// servers of its tier (primaries or backups), 1 to 1000. Absent or 0
	// means 1.
	Weight int `json:"weight,omitempty"`

	// MaxFails is the number of failed attempts within FailTimeout after
	// which the server is taken out for FailTimeout (passive health
	// check). A failed attempt is one that got no response: connection
	// refused or reset, or a timeout. 0 disables the passive check.
	// Absent means 1, as in nginx. As in nginx, the only server of a
	// cluster without backups is never taken out this way.
	MaxFails *int `json:"max_fails,omitempty"`

	// FailTimeout is both the window in which MaxFails failures take the
	// server out and how long it then stays out; after that one request
	// probes it again. Absent means 10s.
	FailTimeout Duration `json:"fail_timeout,omitzero"`

	// Backup marks a backup server: it gets requests only when no primary
	// server is available.
	Backup bool `json:"backup,omitempty"`

	// Down marks the server as permanently unavailable: it never gets
	// requests (and is not health checked).
	Down bool `json:"down,omitempty"`

	// Drain takes the server out gracefully: it gets no new requests,
	// while those in flight finish (GET /resty/upstreams/NAME shows them
	// in active_requests). It keeps its health state and counters, and
	// is not health checked while drained.
	Drain bool `json:"drain,omitempty"`
}

// HealthCheckConfig configures the active health check of a cluster.
type HealthCheckConfig struct {
	// Path is the URI (path and optional query) requested from each
	// server with GET, over plain HTTP.
	Path string `json:"path"`

	// Host is the Host header of the checks. Default: the server address.
	Host string `json:"host,omitempty"`

	// Interval is the time between two checks of a server. Default: 5s.
	Interval Duration `json:"interval,omitzero"`

	// Timeout bounds one check, response body included. Default: 2s.
	Timeout Duration `json:"timeout,omitzero"`

	// Expect is the expected response status: a code ("200") or a class
	// ("2xx"). Default: 2xx.
	Expect StatusMatch `json:"expect,omitempty"`

	// HealthyThreshold is the number of consecutive passed checks after
	// which an unhealthy server is healthy again. Default: 1.
	HealthyThreshold int `json:"healthy_threshold,omitempty"`

	// UnhealthyThreshold is the number of consecutive failed checks after
	// which a healthy server is unhealthy. Default: 1.
	UnhealthyThreshold int `json:"unhealthy_threshold,omitempty"`
}

// LBPolicy is the load-balancing policy of a cluster.
type LBPolicy struct {
	// Policy is one of round_robin (nginx's smooth weighted round robin,
	// the default), least_conn, ip_hash, random, header and cookie.
	Policy string `json:"policy"`

	// Field is the request header hashed by the header policy. A request
	// without it is balanced round robin.
	Field string `json:"field,omitempty"`

	// Name is the cookie hashed by the cookie policy. A request without
	// it is balanced round robin.
	Name string `json:"name,omitempty"`
}

// Duration is a duration of the registry's configuration. In JSON it is
// a string in Go's or nginx's syntax ("10s", "1m30s", "500ms", or a bare
// number of seconds as in nginx's "fail_timeout=10") or an integer number
// of nanoseconds, as caddy.Duration is. Unlike caddy.Duration, a bad
// value does not fail the JSON decoding: it is reported by validation,
// with the place of the field in the config.
type Duration struct {
	d   time.Duration
	bad string
}

// NewDuration returns d as a Duration.
func NewDuration(d time.Duration) Duration { return Duration{d: d} }

// Duration returns the duration (0 when unset or invalid).
func (d Duration) Duration() time.Duration { return d.d }

// IsZero reports whether the duration is unset.
func (d Duration) IsZero() bool { return d.d == 0 && d.bad == "" }

// String returns the duration in Go's syntax.
func (d Duration) String() string {
	if d.bad != "" {
		return d.bad
	}
	return d.d.String()
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	*d = Duration{}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := ParseDuration(s)
		if err != nil {
			d.bad = s
			if d.bad == "" {
				d.bad = `""`
			}
			return nil
		}
		d.d = v
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		d.bad = string(b)
		return nil
	}
	d.d = time.Duration(n)
	return nil
}

func (d Duration) check() error {
	if d.bad != "" {
		return fmt.Errorf("invalid duration %q", d.bad)
	}
	if d.d < 0 {
		return fmt.Errorf("must not be negative, got %s", d.d)
	}
	return nil
}

// ParseDuration parses a duration in Caddy's syntax (Go's, plus "d" for
// days) or nginx's bare number of seconds ("10").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return d, nil
}

// StatusMatch is an expected HTTP status: a code ("200") or a class
// ("2xx"). JSON accepts a string or a number.
type StatusMatch string

// UnmarshalJSON implements json.Unmarshaler.
func (m *StatusMatch) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] != '"' {
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*m = StatusMatch(n.String())
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*m = StatusMatch(s)
	return nil
}

func (m StatusMatch) check() error {
	s := string(m)
	if len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5' {
		return nil
	}
	if n, err := strconv.Atoi(s); err == nil && len(s) == 3 && n >= 100 && n <= 599 {
		return nil
	}
	return fmt.Errorf("invalid status %q (want a code such as 200 or a class such as 2xx)", s)
}

// Match reports whether status matches; an empty StatusMatch means 2xx.
func (m StatusMatch) Match(status int) bool {
	s := string(m)
	if s == "" {
		s = "2xx"
	}
	if len(s) == 3 && s[1:] == "xx" {
		return status/100 == int(s[0]-'0')
	}
	n, _ := strconv.Atoi(s)
	return status == n
}

// ValidName reports whether name can name a cluster: letters, digits,
// '_', '.' and '-', starting with a letter, digit or '_', at most 128
// bytes. (Names appear in /config paths and admin URLs.)
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLen || name[0] == '.' || name[0] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func checkName(name string) error {
	if !ValidName(name) {
		return fmt.Errorf("invalid cluster name %q (letters, digits, '_', '.' and '-', at most %d bytes)", name, MaxNameLen)
	}
	return nil
}

// Validate checks the cluster's configuration. Errors name the place of
// the bad value relative to the cluster ("servers[1].weight: …").
func (c *ClusterConfig) Validate() error {
	seen := make(map[string]int, len(c.Servers))
	for i := range c.Servers {
		s := &c.Servers[i]
		if err := s.validate(); err != nil {
			return fmt.Errorf("servers[%d].%w", i, err)
		}
		dial, _, _ := parseAddress(s.Address)
		if j, dup := seen[dial]; dup {
			return fmt.Errorf("servers[%d].address: %s is already servers[%d]", i, s.Address, j)
		}
		seen[dial] = i
	}
	if c.HealthCheck != nil {
		if err := c.HealthCheck.validate(); err != nil {
			return fmt.Errorf("health_check.%w", err)
		}
	}
	if c.LBPolicy != nil {
		if err := c.LBPolicy.validate(); err != nil {
			return fmt.Errorf("lb_policy.%w", err)
		}
	}
	return nil
}

// fieldError names the field of a validation error; the caller adds the
// path in front.
func fieldError(field string, err error) error {
	return fmt.Errorf("%s: %w", field, err)
}

func (s *ServerConfig) validate() error {
	if _, _, err := parseAddress(s.Address); err != nil {
		return fieldError("address", err)
	}
	if s.Weight < 0 || s.Weight > MaxWeight {
		return fieldError("weight", fmt.Errorf("must be between 1 and %d, got %d", MaxWeight, s.Weight))
	}
	if s.MaxFails != nil && (*s.MaxFails < 0 || *s.MaxFails > MaxMaxFails) {
		return fieldError("max_fails", fmt.Errorf("must be between 0 and %d, got %d", MaxMaxFails, *s.MaxFails))
	}
	if err := s.FailTimeout.check(); err != nil {
		return fieldError("fail_timeout", err)
	}
	return nil
}

func (h *HealthCheckConfig) validate() error {
	if h.Path == "" || h.Path[0] != '/' {
		return fieldError("path", fmt.Errorf("must begin with '/', got %q", h.Path))
	}
	if hasSpecial(h.Path) {
		return fieldError("path", fmt.Errorf("must not contain spaces, control characters, quotes, braces, ';' or '#': %q", h.Path))
	}
	if hasSpecial(h.Host) || strings.Contains(h.Host, "/") {
		return fieldError("host", fmt.Errorf("invalid host %q", h.Host))
	}
	if err := h.Interval.check(); err != nil {
		return fieldError("interval", err)
	}
	if d := h.Interval.d; d != 0 && d < MinCheckInterval {
		return fieldError("interval", fmt.Errorf("%s is below the minimum of %s", d, MinCheckInterval))
	}
	if err := h.Timeout.check(); err != nil {
		return fieldError("timeout", err)
	}
	if d := h.Timeout.d; d != 0 && d < MinCheckTimeout {
		return fieldError("timeout", fmt.Errorf("%s is below the minimum of %s", d, MinCheckTimeout))
	}
	if h.Expect != "" {
		if err := h.Expect.check(); err != nil {
			return fieldError("expect", err)
		}
	}
	if h.HealthyThreshold < 0 || h.HealthyThreshold > MaxThreshold {
		return fieldError("healthy_threshold", fmt.Errorf("must be between 1 and %d, got %d", MaxThreshold, h.HealthyThreshold))
	}
	if h.UnhealthyThreshold < 0 || h.UnhealthyThreshold > MaxThreshold {
		return fieldError("unhealthy_threshold", fmt.Errorf("must be between 1 and %d, got %d", MaxThreshold, h.UnhealthyThreshold))
	}
	return nil
}

func (p *LBPolicy) validate() error {
	switch p.Policy {
	case PolicyRoundRobin, PolicyLeastConn, PolicyIPHash, PolicyRandom:
		if p.Field != "" || p.Name != "" {
			return fieldError("policy", fmt.Errorf("%s takes no field or name", p.Policy))
		}
	case PolicyHeader:
		if !validToken(p.Field) {
			return fieldError("field", fmt.Errorf("the header policy needs a header name, got %q", p.Field))
		}
		if p.Name != "" {
			return fieldError("name", errors.New("the header policy takes a field, not a name"))
		}
	case PolicyCookie:
		if !validToken(p.Name) {
			return fieldError("name", fmt.Errorf("the cookie policy needs a cookie name, got %q", p.Name))
		}
		if p.Field != "" {
			return fieldError("field", errors.New("the cookie policy takes a name, not a field"))
		}
	default:
		return fieldError("policy", fmt.Errorf("unknown policy %q (round_robin, least_conn, ip_hash, random, header, cookie)", p.Policy))
	}
	return nil
}

// validToken reports whether s is an RFC 7230 token (header and cookie
// names).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// parseAddress checks a server address and returns the dial address
// reverse_proxy is given and the host:port it reports in
// {http.reverse_proxy.upstream.hostport}.
func parseAddress(addr string) (dial, hostport string, err error) {
	if addr == "" {
		return "", "", errors.New("missing address")
	}
	if strings.Contains(addr, "://") {
		return "", "", fmt.Errorf("invalid address %q: give host:port, without a scheme", addr)
	}
	if hasSpecial(addr) {
		return "", "", fmt.Errorf("invalid address %q: placeholders, quotes, spaces, ';' and '#' are not allowed", addr)
	}
	na, err := caddy.ParseNetworkAddress(addr)
	if err != nil {
		return "", "", fmt.Errorf("invalid address %q: %v", addr, err)
	}
	switch {
	case na.IsUnixNetwork():
		if na.Network != "unix" {
			return "", "", fmt.Errorf("invalid address %q: network %s is not a stream socket", addr, na.Network)
		}
		if na.Host == "" {
			return "", "", fmt.Errorf("invalid address %q: missing socket path", addr)
		}
		return "unix/" + na.Host, na.Host, nil
	case na.Network == "tcp" || na.Network == "tcp4" || na.Network == "tcp6":
	default:
		return "", "", fmt.Errorf("invalid address %q: network %s is not supported (tcp or unix)", addr, na.Network)
	}
	if na.Host == "" {
		return "", "", fmt.Errorf("invalid address %q: missing host", addr)
	}
	if na.StartPort == 0 {
		return "", "", fmt.Errorf("invalid address %q: missing port", addr)
	}
	if na.PortRangeSize() != 1 {
		return "", "", fmt.Errorf("invalid address %q: one port, not a range", addr)
	}
	hostport = na.JoinHostPort(0)
	dial = hostport
	if na.Network != "tcp" {
		dial = na.Network + "/" + hostport
	}
	return dial, hostport, nil
}

// hasSpecial reports whether s has a character that cannot appear in an
// address, path or host of the registry: white space, control
// characters, quotes, braces (placeholders), ';' and '#' (which end a
// dyups statement or start a comment), and invalid UTF-8.
func hasSpecial(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f || strings.IndexByte("{}\"';#`", c) >= 0 {
			return true
		}
	}
	return false
}
