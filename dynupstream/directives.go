package dynupstream

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The directives of a cluster body, shared by the Caddyfile's
// `upstream NAME { … }` block and the dyups-style body of
// POST /resty/upstreams/NAME (one directive per line there, one per `;`
// here):
//
//	server ADDR [weight=N] [max_fails=N] [fail_timeout=D] [backup] [down] [drain]
//	health_check PATH [interval=D] [timeout=D] [expect=STATUS] [host=HOST]
//	             [passes=N] [fails=N]
//	lb_policy round_robin|least_conn|ip_hash|random|header NAME|cookie NAME
//
// and, for nginx compatibility, `least_conn`, `ip_hash`, `random`,
// `round_robin` alone, and `hash $http_NAME` / `hash $cookie_NAME`
// (with or without `consistent`). An address without a port gets port
// 80 and `unix:/path` means unix//path, as in nginx.

// applyDirective applies one directive (name and arguments) to c.
func applyDirective(c *ClusterConfig, args []string) error {
	if len(args) == 0 {
		return errors.New("empty directive")
	}
	switch dir := args[0]; dir {
	case "server":
		s, err := parseServer(args[1:])
		if err != nil {
			return err
		}
		c.Servers = append(c.Servers, s)
		return nil
	case "health_check":
		if c.HealthCheck != nil {
			return errors.New("health_check: given twice")
		}
		h, err := parseHealthCheck(args[1:])
		if err != nil {
			return err
		}
		c.HealthCheck = h
		return nil
	case "lb_policy":
		if len(args) < 2 {
			return errors.New("lb_policy: missing policy")
		}
		return setPolicy(c, args[1], args[2:])
	case PolicyLeastConn, PolicyIPHash, PolicyRandom, PolicyRoundRobin:
		if len(args) > 1 {
			return fmt.Errorf("%s: unsupported argument %q", dir, args[1])
		}
		return setPolicy(c, dir, nil)
	case "hash":
		return parseNginxHash(c, args[1:])
	default:
		return fmt.Errorf("unknown directive %q (server, health_check, lb_policy)", dir)
	}
}

func setPolicy(c *ClusterConfig, policy string, args []string) error {
	if c.LBPolicy != nil {
		return errors.New("lb_policy: given twice")
	}
	p := &LBPolicy{Policy: policy}
	switch policy {
	case PolicyHeader, PolicyCookie:
		if len(args) != 1 {
			return fmt.Errorf("lb_policy %s: want one %s name", policy, policy)
		}
		if policy == PolicyHeader {
			p.Field = args[0]
		} else {
			p.Name = args[0]
		}
	default:
		if len(args) > 0 {
			return fmt.Errorf("lb_policy %s: unexpected argument %q", policy, args[0])
		}
	}
	if err := p.validate(); err != nil {
		return fmt.Errorf("lb_policy: %w", err)
	}
	c.LBPolicy = p
	return nil
}

// parseNginxHash maps nginx's `hash $http_x_user [consistent]` and
// `hash $cookie_sid [consistent]` to the header and cookie policies.
func parseNginxHash(c *ClusterConfig, args []string) error {
	if len(args) == 0 || len(args) > 2 || len(args) == 2 && args[1] != "consistent" {
		return errors.New("hash: want `hash $http_NAME [consistent]` or `hash $cookie_NAME [consistent]`")
	}
	key := args[0]
	switch {
	case strings.HasPrefix(key, "$http_") && len(key) > len("$http_"):
		return setPolicy(c, PolicyHeader, []string{strings.ReplaceAll(key[len("$http_"):], "_", "-")})
	case strings.HasPrefix(key, "$cookie_") && len(key) > len("$cookie_"):
		return setPolicy(c, PolicyCookie, []string{key[len("$cookie_"):]})
	}
	return fmt.Errorf("hash: unsupported key %q (only $http_NAME and $cookie_NAME)", key)
}

// nginxAddress turns nginx's server address forms into the registry's:
// a missing port means 80 and unix:/path means unix//path.
func nginxAddress(addr string) string {
	if rest, ok := strings.CutPrefix(addr, "unix:"); ok && strings.HasPrefix(rest, "/") {
		return "unix/" + rest
	}
	if strings.Contains(addr, "/") {
		return addr
	}
	host := addr
	if strings.HasPrefix(addr, "[") {
		if i := strings.LastIndexByte(addr, ']'); i >= 0 {
			if i == len(addr)-1 {
				return addr + ":80"
			}
			return addr
		}
		return addr
	}
	if strings.Count(host, ":") == 0 && host != "" {
		return addr + ":80"
	}
	return addr
}

func parseServer(args []string) (ServerConfig, error) {
	var s ServerConfig
	if len(args) == 0 {
		return s, errors.New("server: missing address")
	}
	s.Address = nginxAddress(args[0])
	if _, _, err := parseAddress(s.Address); err != nil {
		return s, fmt.Errorf("server: %w", err)
	}
	seen := make(map[string]bool)
	for _, arg := range args[1:] {
		key, val, hasVal := strings.Cut(arg, "=")
		if seen[key] {
			return s, fmt.Errorf("server %s: %s given twice", args[0], key)
		}
		seen[key] = true
		bad := func(err error) (ServerConfig, error) {
			return s, fmt.Errorf("server %s: %s: %w", args[0], key, err)
		}
		switch key {
		case "weight", "max_fails":
			if !hasVal {
				return bad(errors.New("missing value"))
			}
			n, err := strconv.Atoi(val)
			if err != nil {
				return bad(fmt.Errorf("invalid number %q", val))
			}
			if key == "weight" {
				if n < 1 || n > MaxWeight {
					return bad(fmt.Errorf("must be between 1 and %d, got %d", MaxWeight, n))
				}
				s.Weight = n
			} else {
				if n < 0 || n > MaxMaxFails {
					return bad(fmt.Errorf("must be between 0 and %d, got %d", MaxMaxFails, n))
				}
				s.MaxFails = &n
			}
		case "fail_timeout":
			if !hasVal {
				return bad(errors.New("missing value"))
			}
			d, err := ParseDuration(val)
			if err != nil {
				return bad(err)
			}
			s.FailTimeout = NewDuration(d)
		case "backup", "down", "drain":
			if hasVal {
				return bad(fmt.Errorf("takes no value, got %q", val))
			}
			switch key {
			case "backup":
				s.Backup = true
			case "down":
				s.Down = true
			default:
				s.Drain = true
			}
		case "max_conns", "slow_start", "resolve", "service", "route":
			return bad(errors.New("not supported by caddy-resty"))
		default:
			return s, fmt.Errorf("server %s: unknown parameter %q (weight, max_fails, fail_timeout, backup, down, drain)", args[0], arg)
		}
	}
	return s, nil
}

func parseHealthCheck(args []string) (*HealthCheckConfig, error) {
	if len(args) == 0 || !strings.HasPrefix(args[0], "/") && strings.Contains(args[0], "=") {
		return nil, errors.New("health_check: missing path")
	}
	h := &HealthCheckConfig{Path: args[0]}
	seen := make(map[string]bool)
	for _, arg := range args[1:] {
		key, val, hasVal := strings.Cut(arg, "=")
		if !hasVal || val == "" {
			return nil, fmt.Errorf("health_check: want key=value, got %q", arg)
		}
		if seen[key] {
			return nil, fmt.Errorf("health_check: %s given twice", key)
		}
		seen[key] = true
		bad := func(err error) (*HealthCheckConfig, error) {
			return nil, fmt.Errorf("health_check: %s: %w", key, err)
		}
		switch key {
		case "interval", "timeout":
			d, err := ParseDuration(val)
			if err != nil {
				return bad(err)
			}
			if d <= 0 {
				return bad(errors.New("must be positive"))
			}
			if key == "interval" {
				h.Interval = NewDuration(d)
			} else {
				h.Timeout = NewDuration(d)
			}
		case "expect":
			h.Expect = StatusMatch(val)
			if err := h.Expect.check(); err != nil {
				return bad(err)
			}
		case "host":
			h.Host = val
		case "passes", "healthy_threshold", "fails", "unhealthy_threshold":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > MaxThreshold {
				return bad(fmt.Errorf("must be a number between 1 and %d, got %q", MaxThreshold, val))
			}
			if key == "passes" || key == "healthy_threshold" {
				h.HealthyThreshold = n
			} else {
				h.UnhealthyThreshold = n
			}
		default:
			return nil, fmt.Errorf("health_check: unknown parameter %q (interval, timeout, expect, host, passes, fails)", key)
		}
	}
	if err := h.validate(); err != nil {
		return nil, fmt.Errorf("health_check: %w", err)
	}
	return h, nil
}
