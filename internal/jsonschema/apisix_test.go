package jsonschema

import (
	"strings"
	"testing"
)

// The schemas below are shaped like those of APISIX plugins
// (apisix/plugins/limit-count, key-auth, ip-restriction, jwt-auth), as
// they arrive from Lua: objects as maps, arrays as slices, an empty table
// as an empty slice.

func limitCountSchema() obj {
	countDef := func() obj {
		return obj{"oneOf": arr{
			obj{"type": "integer", "exclusiveMinimum": 0.0},
			obj{"type": "string"},
		}}
	}
	return obj{
		"type": "object",
		"properties": obj{
			"count":       countDef(),
			"time_window": countDef(),
			"rules": obj{
				"type": "array",
				"items": obj{
					"type": "object",
					"properties": obj{
						"count":       countDef(),
						"time_window": countDef(),
						"key":         obj{"type": "string"},
					},
					"required": arr{"count", "time_window", "key"},
				},
			},
			"group":    obj{"type": "string"},
			"key":      obj{"type": "string", "default": "remote_addr"},
			"key_type": obj{"type": "string", "enum": arr{"var", "var_combination", "constant"}, "default": "var"},
			"rejected_code": obj{
				"type": "integer", "minimum": 200.0, "maximum": 599.0, "default": 503.0,
			},
			"rejected_msg":            obj{"type": "string", "minLength": 1.0},
			"policy":                  obj{"type": "string", "enum": arr{"local", "redis", "redis-cluster"}, "default": "local"},
			"allow_degradation":       obj{"type": "boolean", "default": false},
			"show_limit_quota_header": obj{"type": "boolean", "default": true},
		},
		"oneOf": arr{
			obj{"required": arr{"count", "time_window"}},
			obj{"required": arr{"rules"}},
		},
		// Not supported, so ignored: conditional redis settings.
		"if":   obj{"properties": obj{"policy": obj{"enum": arr{"redis"}}}},
		"then": obj{"properties": obj{"redis_host": obj{"type": "string", "minLength": 2.0}}, "required": arr{"redis_host"}},
	}
}

func TestLimitCount(t *testing.T) {
	s := mustCompile(t, limitCountSchema())
	tests := []struct {
		name string
		conf string
		want string // the result, or the error prefixed with "error: "
	}{
		{"minimal config gets the defaults",
			`{"count": 2, "time_window": 60}`,
			`{"allow_degradation":false,"count":2,"key":"remote_addr","key_type":"var","policy":"local","rejected_code":503,"show_limit_quota_header":true,"time_window":60}`},
		{"given values are kept",
			`{"count": 2, "time_window": 60, "rejected_code": 429, "key": "http_x_api_key", "policy": "redis", "show_limit_quota_header": false}`,
			`{"allow_degradation":false,"count":2,"key":"http_x_api_key","key_type":"var","policy":"redis","rejected_code":429,"show_limit_quota_header":false,"time_window":60}`},
		{"count from a variable",
			`{"count": "$http_count", "time_window": 60, "key_type": "var_combination", "key": "$remote_addr $uri"}`,
			`{"allow_degradation":false,"count":"$http_count","key":"$remote_addr $uri","key_type":"var_combination","policy":"local","rejected_code":503,"show_limit_quota_header":true,"time_window":60}`},
		{"rules instead of count",
			`{"rules": [{"count": 1, "time_window": 1, "key": "${remote_addr}"}]}`,
			`{"allow_degradation":false,"key":"remote_addr","key_type":"var","policy":"local","rejected_code":503,"rules":[{"count":1,"key":"${remote_addr}","time_window":1}],"show_limit_quota_header":true}`},
		{"zero count",
			`{"count": 0, "time_window": 60}`,
			`error: count: does not match any schema in oneOf (oneOf[0]: 0 is not greater than the exclusive minimum 0; oneOf[1]: expected string, got number 0)`},
		{"fractional time window",
			`{"count": 1, "time_window": 0.5}`,
			`error: time_window: does not match any schema in oneOf (oneOf[0]: expected integer, got number 0.5; oneOf[1]: expected string, got number 0.5)`},
		{"neither count nor rules",
			`{"time_window": 60}`,
			`error: does not match any schema in oneOf (oneOf[0]: count: required property missing; oneOf[1]: rules: required property missing)`},
		{"both count and rules",
			`{"count": 1, "time_window": 60, "rules": [{"count": 1, "time_window": 1, "key": "k"}]}`,
			`error: matches more than one schema in oneOf (oneOf[0] and oneOf[1])`},
		{"a rule without key",
			`{"rules": [{"count": 1, "time_window": 1, "key": "a"}, {"count": 1, "time_window": 1}]}`,
			`error: rules[1].key: required property missing`},
		{"unknown policy",
			`{"count": 1, "time_window": 60, "policy": "memcached"}`,
			`error: policy: "memcached" is not one of "local", "redis", "redis-cluster"`},
		{"rejected code out of range",
			`{"count": 1, "time_window": 60, "rejected_code": 600}`,
			`error: rejected_code: 600 is above the maximum 599`},
		{"rejected code not an integer",
			`{"count": 1, "time_window": 60, "rejected_code": 503.5}`,
			`error: rejected_code: expected integer, got number 503.5`},
		{"empty rejected message",
			`{"count": 1, "time_window": 60, "rejected_msg": ""}`,
			`error: rejected_msg: "" is shorter than the minimum length 1`},
		{"not an object",
			`[{"count": 1}]`,
			`error: expected object, got array`},
		{"if/then is ignored",
			`{"count": 1, "time_window": 60, "policy": "redis"}`,
			`{"allow_degradation":false,"count":1,"key":"remote_addr","key_type":"var","policy":"redis","rejected_code":503,"show_limit_quota_header":true,"time_window":60}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkConf(t, s, tt.conf, tt.want)
		})
	}
}

// checkConf validates the JSON config conf with s and compares the result,
// or the error prefixed with "error: ", with want. It also checks that the
// config was not modified.
func checkConf(t *testing.T, s *Schema, conf, want string) {
	t.Helper()
	in := decode(t, conf)
	before := encode(t, in)
	out, err := s.Validate(in)
	got := ""
	if err != nil {
		got = "error: " + err.Error()
	} else {
		got = encode(t, out)
	}
	if got != want {
		t.Errorf("Validate(%s)\n got: %s\nwant: %s", conf, got, want)
	}
	if after := encode(t, in); after != before {
		t.Errorf("Validate changed its input from %s to %s", before, after)
	}
}

func TestKeyAuth(t *testing.T) {
	route := mustCompile(t, obj{"type": "object", "additionalProperties": false, "properties": arr{}})
	consumer := obj{
		"type":                 "object",
		"additionalProperties": false,
		"properties":           obj{"key": obj{"type": "string"}},
		"required":             arr{"key"},
	}
	consumers := mustCompile(t, obj{
		"type": "object",
		"properties": obj{
			"consumers": obj{"type": "array", "items": consumer, "uniqueItems": true},
		},
	})
	tests := []struct {
		name string
		s    *Schema
		conf string
		want string
	}{
		{"route config is empty", route, `{}`, `{}`},
		{"route config takes no options", route, `{"header": "apikey"}`, `error: header: additional property not allowed`},
		{"consumers", consumers, `{"consumers": [{"key": "a"}, {"key": "b"}]}`, `{"consumers":[{"key":"a"},{"key":"b"}]}`},
		{"consumer without key", consumers, `{"consumers": [{"key": "a"}, {"username": "b"}]}`, `error: consumers[1].key: required property missing`},
		{"consumer with a number key", consumers, `{"consumers": [{"key": 5}]}`, `error: consumers[0].key: expected string, got number 5`},
		{"consumer with an extra option", consumers, `{"consumers": [{"key": "a", "hide": true}]}`, `error: consumers[0].hide: additional property not allowed`},
		{"duplicate consumers", consumers, `{"consumers": [{"key": "a"}, {"key": "b"}, {"key": "a"}]}`, `error: consumers: items 0 and 2 are equal, but items must be unique`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkConf(t, tt.s, tt.conf, tt.want)
		})
	}
}

func ipRestrictionSchema() obj {
	seg := `([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])`
	ipv4 := strings.Join([]string{seg, seg, seg, seg}, `\.`)
	ipv6 := `([a-fA-F0-9]{0,4}:){1,8}(:[a-fA-F0-9]{0,4}){0,8}([a-fA-F0-9]{0,4})?`
	ipDef := arr{
		obj{"title": "IPv4", "type": "string", "pattern": "^" + ipv4 + "$"},
		obj{"title": "IPv4/CIDR", "type": "string", "pattern": "^" + ipv4 + "/([12]?[0-9]|3[0-2])$"},
		obj{"title": "IPv6", "type": "string", "pattern": "^" + ipv6 + "$"},
		obj{"title": "IPv6/CIDR", "type": "string", "pattern": "^" + ipv6 + "/[0-9]{1,3}$"},
	}
	return obj{
		"type": "object",
		"properties": obj{
			"message": obj{
				"type": "string", "minLength": 1.0, "maxLength": 1024.0,
				"default": "Your IP address is not allowed",
			},
			"whitelist": obj{"type": "array", "items": obj{"anyOf": ipDef}, "minItems": 1.0},
			"blacklist": obj{"type": "array", "items": obj{"anyOf": ipDef}, "minItems": 1.0},
		},
		"oneOf": arr{
			obj{"required": arr{"whitelist"}},
			obj{"required": arr{"blacklist"}},
		},
	}
}

func TestIPRestriction(t *testing.T) {
	s := mustCompile(t, ipRestrictionSchema())
	tests := []struct {
		name string
		conf string
		want string
	}{
		{"whitelist",
			`{"whitelist": ["127.0.0.1", "10.0.0.0/8", "::1", "fe80::/10"]}`,
			`{"message":"Your IP address is not allowed","whitelist":["127.0.0.1","10.0.0.0/8","::1","fe80::/10"]}`},
		{"blacklist with a message",
			`{"blacklist": ["192.168.1.1"], "message": "go away"}`,
			`{"blacklist":["192.168.1.1"],"message":"go away"}`},
		{"neither list",
			`{"message": "x"}`,
			`error: does not match any schema in oneOf (oneOf[0]: whitelist: required property missing; oneOf[1]: blacklist: required property missing)`},
		{"both lists",
			`{"whitelist": ["127.0.0.1"], "blacklist": ["10.0.0.1"]}`,
			`error: matches more than one schema in oneOf (oneOf[0] and oneOf[1])`},
		{"empty whitelist",
			`{"whitelist": []}`,
			`error: whitelist: has 0 items, fewer than the minimum 1`},
		{"CIDR mask out of range",
			`{"whitelist": ["127.0.0.1", "10.0.0.0/33"]}`,
			`error: whitelist[1]: does not match any schema in anyOf (anyOf[0]: "10.0.0.0/33" does not match the pattern "^` +
				`([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\\.([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\\.` +
				`([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\\.([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])$"; ` +
				`anyOf[1]: "10.0.0.0/33" does not match the pattern "^` +
				`([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\\.([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\\.` +
				`([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\\.([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])/([12]?[0-9]|3[0-2])$"; ` +
				`anyOf[2]: "10.0.0.0/33" does not match the pattern "^([a-fA-F0-9]{0,4}:){1,8}(:[a-fA-F0-9]{0,4}){0,8}([a-fA-F0-9]{0,4})?$"; ` +
				`anyOf[3]: "10.0.0.0/33" does not match the pattern "^([a-fA-F0-9]{0,4}:){1,8}(:[a-fA-F0-9]{0,4}){0,8}([a-fA-F0-9]{0,4})?/[0-9]{1,3}$")`},
		{"not an address",
			`{"blacklist": [42]}`,
			`error: blacklist[0]: does not match any schema in anyOf (anyOf[0]: expected string, got number 42; anyOf[1]: expected string, got number 42; anyOf[2]: expected string, got number 42; anyOf[3]: expected string, got number 42)`},
		{"empty message",
			`{"whitelist": ["127.0.0.1"], "message": ""}`,
			`error: message: "" is shorter than the minimum length 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkConf(t, s, tt.conf, tt.want)
		})
	}
}

// TestJWTAuthConsumer uses a schema dependency the way jwt-auth's consumer
// schema does: the algorithm decides which other properties are needed.
func TestJWTAuthConsumer(t *testing.T) {
	s := mustCompile(t, obj{
		"type": "object",
		"properties": obj{
			"key":           obj{"type": "string"},
			"secret":        obj{"type": "string"},
			"algorithm":     obj{"type": "string", "enum": arr{"HS256", "HS512", "RS256"}, "default": "HS256"},
			"exp":           obj{"type": "integer", "minimum": 1.0, "default": 86400.0},
			"base64_secret": obj{"type": "boolean", "default": false},
		},
		"dependencies": obj{
			"algorithm": obj{"oneOf": arr{
				obj{"properties": obj{"algorithm": obj{"enum": arr{"HS256", "HS512"}}}},
				obj{
					"properties": obj{
						"algorithm":  obj{"enum": arr{"RS256"}},
						"public_key": obj{"type": "string"},
					},
					"required": arr{"public_key"},
				},
			}},
		},
		"required": arr{"key"},
	})
	tests := []struct {
		name string
		conf string
		want string
	}{
		{"defaults", `{"key": "user-key"}`,
			`{"algorithm":"HS256","base64_secret":false,"exp":86400,"key":"user-key"}`},
		{"RS256 with its public key", `{"key": "k", "algorithm": "RS256", "public_key": "-----BEGIN PUBLIC KEY-----"}`,
			`{"algorithm":"RS256","base64_secret":false,"exp":86400,"key":"k","public_key":"-----BEGIN PUBLIC KEY-----"}`},
		{"RS256 without its public key", `{"key": "k", "algorithm": "RS256"}`,
			`error: does not match any schema in oneOf (oneOf[0]: algorithm: "RS256" is not one of "HS256", "HS512"; oneOf[1]: public_key: required property missing)`},
		{"exp below the minimum", `{"key": "k", "exp": 0}`,
			`error: exp: 0 is below the minimum 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkConf(t, s, tt.conf, tt.want)
		})
	}
}

// TestUpstreamNodes checks patternProperties with a catch-all pattern, as
// APISIX's upstream nodes use, and nested defaults of health checks.
func TestUpstreamNodes(t *testing.T) {
	s := mustCompile(t, obj{
		"type": "object",
		"properties": obj{
			"nodes": obj{
				"type":              "object",
				"patternProperties": obj{".*": obj{"type": "integer", "minimum": 0.0}},
				"minProperties":     1.0,
			},
			"checks": obj{
				"type": "object",
				"properties": obj{
					"active": obj{
						"type": "object",
						"properties": obj{
							"type":      obj{"type": "string", "enum": arr{"http", "https", "tcp"}, "default": "http"},
							"timeout":   obj{"type": "number", "default": 1.0},
							"http_path": obj{"type": "string", "default": "/"},
							"healthy": obj{
								"type": "object",
								"properties": obj{
									"interval":      obj{"type": "integer", "minimum": 1.0, "default": 1.0},
									"http_statuses": obj{"type": "array", "minItems": 1.0, "uniqueItems": true, "items": obj{"type": "integer", "minimum": 200.0, "maximum": 599.0}, "default": arr{200.0, 302.0}},
								},
							},
						},
					},
				},
			},
			"labels": obj{
				"type":              "object",
				"patternProperties": obj{".*": obj{"type": "string", "pattern": `^\S+$`, "maxLength": 64.0, "minLength": 1.0}},
				"maxProperties":     16.0,
			},
		},
		"required": arr{"nodes"},
	})
	tests := []struct {
		name string
		conf string
		want string
	}{
		{"nodes and health check defaults",
			`{"nodes": {"127.0.0.1:1980": 1, "[::1]:1980": 2}, "checks": {"active": {"healthy": {}}}}`,
			`{"checks":{"active":{"healthy":{"http_statuses":[200,302],"interval":1},"http_path":"/","timeout":1,"type":"http"}},"nodes":{"127.0.0.1:1980":1,"[::1]:1980":2}}`},
		{"negative weight",
			`{"nodes": {"127.0.0.1:1980": -1}}`,
			`error: nodes["127.0.0.1:1980"]: -1 is below the minimum 0`},
		{"no nodes",
			`{"nodes": {}}`,
			`error: nodes: has 0 properties, fewer than the minimum 1`},
		{"duplicate statuses",
			`{"nodes": {"a:1": 1}, "checks": {"active": {"healthy": {"http_statuses": [200, 200]}}}}`,
			`error: checks.active.healthy.http_statuses: items 0 and 1 are equal, but items must be unique`},
		{"label with a space",
			`{"nodes": {"a:1": 1}, "labels": {"env": "prod", "team": "a b"}}`,
			`error: labels.team: "a b" does not match the pattern "^\\S+$"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkConf(t, s, tt.conf, tt.want)
		})
	}
}
