package caddyfile

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/caddy-resty/caddy-resty/app"
	"github.com/caddy-resty/caddy-resty/celrules"
)

// adaptRaw adapts src and returns the adapted JSON as the adapter wrote it
// (numbers and key order as they are) and apps.resty from it.
func adaptRaw(t *testing.T, src string) (cfg, resty string, err error) {
	t.Helper()
	out, _, err := caddyfile.Adapter{ServerType: httpcaddyfile.ServerType{}}.Adapt([]byte(src), nil)
	if err != nil {
		return "", "", err
	}
	var c struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatal(err)
	}
	return string(out), string(c.Apps["resty"]), nil
}

// inGlobal puts lines (one option a line, tab-indented or not) into the
// global resty option of a Caddyfile whose first option line is line 3.
func inGlobal(lines string) string {
	return "{\n\tresty {\n" + lines + "\n\t}\n}\n:80 {\n\trespond ok\n}\n"
}

// checkLoads checks that the route table of the adapted apps.resty is one
// the route table accepts.
func checkLoads(t *testing.T, resty string) {
	t.Helper()
	var a app.App
	if err := json.Unmarshal([]byte(resty), &a); err != nil {
		t.Fatalf("apps.resty does not decode: %v", err)
	}
	if _, err := celrules.Compile(a.Routes, celrules.Options{}); err != nil {
		t.Errorf("the route table refuses the adapted routes: %v", err)
	}
}

// checkFmt checks that caddy fmt's output of src adapts to the same JSON
// as src.
func checkFmt(t *testing.T, src, want string) {
	t.Helper()
	formatted := string(caddyfile.Format([]byte(src)))
	got, _, err := adaptRaw(t, formatted)
	if err != nil {
		t.Errorf("after caddy fmt: %v\n%s", err, formatted)
		return
	}
	if got != want {
		t.Errorf("after caddy fmt, the adapted config differs:\n got %s\nwant %s\nformatted:\n%s", got, want, formatted)
	}
}

func TestAdaptRoutesContract(t *testing.T) {
	src := `{
	resty {
		upstream user_backend {
			server 10.0.0.1:8080
		}
		route user-api {
			host api.example.com
			path /user/*
			method GET POST
			when ` + "`" + `req.headers["x-tenant"] == "acme"` + "`" + `
			plugin key-auth {
				header X-Api-Key
			}
			proxy user_backend
		}
		route legacy {
			path /old/*
			redirect 301 https://new.example.com{uri}
		}
	}
}

api.example.com {
	resty {
		routes
		access_by_lua "ngx.ctx.a = 1"
	}
	reverse_proxy {
		dynamic resty
	}
}
`
	cfg, resty, err := adaptRaw(t, src)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"upstreams":{"user_backend":{"servers":[{"address":"10.0.0.1:8080"}]}},"routes":[` +
		`{"name":"user-api","@id":"user-api","match":{"hosts":["api.example.com"],"paths":["/user/*"],"methods":["GET","POST"]},` +
		`"when":"req.headers[\"x-tenant\"] == \"acme\"","plugins":{"key-auth":{"header":"X-Api-Key"}},"action":{"proxy":{"upstream":"user_backend"}}},` +
		`{"name":"legacy","@id":"legacy","match":{"paths":["/old/*"]},"action":{"redirect":{"status":301,"location":"https://new.example.com{uri}"}}}]}`
	if resty != want {
		t.Errorf("apps.resty:\n got %s\nwant %s", resty, want)
	}
	checkLoads(t, resty)
	if !strings.Contains(cfg, `{"access":[{"lua":"ngx.ctx.a = 1"}],"handler":"resty","routes":true}`) {
		t.Errorf("the handler lacks routes: true:\n%s", cfg)
	}
	checkFmt(t, src, cfg)
}

func TestAdaptRouteForms(t *testing.T) {
	for _, tc := range []struct{ name, route, want string }{
		{"matches repeated, several per line, methods upper-cased", `
		route r {
			host api.example.com *.example.com
			host example.org
			path /user/* /v1/{id}
			path /exact
			method get POST
			method PUT
			respond
		}`, `{"name":"r","@id":"r","match":{"hosts":["api.example.com","*.example.com","example.org"],"paths":["/user/*","/v1/{id}","/exact"],"methods":["GET","POST","PUT"]},"action":{"respond":{}}}`},
		{"when in backquotes, priority", "\n\t\troute r {\n\t\t\twhen `req.method == \"GET\"`\n\t\t\tpriority -5\n\t\t\trespond 204\n\t\t}",
			`{"name":"r","@id":"r","match":{},"when":"req.method == \"GET\"","priority":-5,"action":{"respond":{"status":204}}}`},
		{"lua heredoc, dedented", `
		route r {
			lua <<LUA
				local beta = ngx.var.arg_beta
				  return beta == "1"
			LUA
			proxy b
		}`, `{"name":"r","@id":"r","match":{},"lua":"local beta = ngx.var.arg_beta\n  return beta == \"1\"","action":{"proxy":{"upstream":"b"}}}`},
		{"lua quoted", `
		route r {
			lua "return true"
			proxy b
		}`, `{"name":"r","@id":"r","match":{},"lua":"return true","action":{"proxy":{"upstream":"b"}}}`},
		{"proxy with uri argument", `
		route r {
			proxy b /v2/{path.*}
		}`, `{"name":"r","@id":"r","match":{},"action":{"proxy":{"upstream":"b","uri":"/v2/{path.*}"}}}`},
		{"proxy block", `
		route r {
			proxy user_backend {
				uri /v2/{path.id}?{query}
				header_up X-Tenant acme
				header_up -X-Debug
				header_up X-Empty ""
			}
		}`, `{"name":"r","@id":"r","match":{},"action":{"proxy":{"upstream":"user_backend","uri":"/v2/{path.id}?{query}","headers":{"X-Debug":"","X-Empty":"","X-Tenant":"acme"}}}}`},
		{"respond status", `
		route r {
			respond 404
		}`, `{"name":"r","@id":"r","match":{},"action":{"respond":{"status":404}}}`},
		{"respond body", `
		route r {
			respond "hello {host}"
		}`, `{"name":"r","@id":"r","match":{},"action":{"respond":{"body":"hello {host}"}}}`},
		{"respond body status (Caddy's order)", `
		route r {
			respond "gone" 410
		}`, `{"name":"r","@id":"r","match":{},"action":{"respond":{"status":410,"body":"gone"}}}`},
		{"respond status body, with headers", `
		route r {
			respond 200 "body" {
				header Content-Type text/plain
				header X-A "a b"
			}
		}`, `{"name":"r","@id":"r","match":{},"action":{"respond":{"status":200,"body":"body","headers":{"Content-Type":"text/plain","X-A":"a b"}}}}`},
		{"respond quoted number is a body", `
		route r {
			respond "404"
		}`, `{"name":"r","@id":"r","match":{},"action":{"respond":{"body":"404"}}}`},
		{"respond two numbers: body then status", `
		route r {
			respond 200 404
		}`, `{"name":"r","@id":"r","match":{},"action":{"respond":{"status":404,"body":"200"}}}`},
		{"respond heredoc body then status", `
		route r {
			respond <<HTML
				<p>hi</p>
				HTML 503
		}`, `{"name":"r","@id":"r","match":{},"action":{"respond":{"status":503,"body":"\u003cp\u003ehi\u003c/p\u003e"}}}`},
		{"redirect location only", `
		route r {
			redirect https://new.example.com{uri}
		}`, `{"name":"r","@id":"r","match":{},"action":{"redirect":{"location":"https://new.example.com{uri}"}}}`},
		{"redirect status location", `
		route r {
			redirect 308 /v2/{path.*}
		}`, `{"name":"r","@id":"r","match":{},"action":{"redirect":{"status":308,"location":"/v2/{path.*}"}}}`},
		{"redirect location status (Caddy's order)", `
		route r {
			redirect /new/{path.id} 307
		}`, `{"name":"r","@id":"r","match":{},"action":{"redirect":{"status":307,"location":"/new/{path.id}"}}}`},
		{"redirect permanent", `
		route r {
			redirect permanent https://a.example/
		}`, `{"name":"r","@id":"r","match":{},"action":{"redirect":{"status":301,"location":"https://a.example/"}}}`},
		{"redirect temporary, Caddy's order", `
		route r {
			redirect https://a.example/ temporary
		}`, `{"name":"r","@id":"r","match":{},"action":{"redirect":{"status":302,"location":"https://a.example/"}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := inGlobal(tc.route)
			cfg, resty, err := adaptRaw(t, src)
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"routes":[` + tc.want + `]}`; resty != want {
				t.Errorf("\n got %s\nwant %s", resty, want)
			}
			checkLoads(t, resty)
			checkFmt(t, src, cfg)
		})
	}
}

func TestAdaptRoutesKeepOrder(t *testing.T) {
	var b strings.Builder
	var names []string
	for i := 0; i < 20; i++ {
		// Names that sort differently from their order.
		name := fmt.Sprintf("r%d", (i*7)%20)
		names = append(names, name)
		fmt.Fprintf(&b, "\t\troute %s {\n\t\t\tpath /%s/*\n\t\t\trespond %s\n\t\t}\n", name, name, name)
	}
	_, resty, err := adaptRaw(t, inGlobal(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Routes []struct{ Name, ID string } }
	if err := json.Unmarshal([]byte(strings.ReplaceAll(resty, `"@id"`, `"id"`)), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Routes) != len(names) {
		t.Fatalf("%d routes, want %d", len(got.Routes), len(names))
	}
	for i, r := range got.Routes {
		if r.Name != names[i] || r.ID != names[i] {
			t.Errorf("routes[%d] = %s (@id %s), want %s", i, r.Name, r.ID, names[i])
		}
	}
}

func TestAdaptPluginConfig(t *testing.T) {
	for _, tc := range []struct{ name, plugin, want string }{
		{"key-auth with consumers", `
			plugin key-auth {
				header X-Api-Key
				consumers {
					name alice
					key k-alice
				}
				consumers {
					name bob
					key k-bob
				}
			}`, `{"key-auth":{"consumers":[{"key":"k-alice","name":"alice"},{"key":"k-bob","name":"bob"}],"header":"X-Api-Key"}}`},
		{"key[] keeps one consumer a list", `
			plugin key-auth {
				consumers[] {
					name alice
					key k-alice
				}
			}`, `{"key-auth":{"consumers":[{"key":"k-alice","name":"alice"}]}}`},
		{"limit-count: numbers, strings, nested object", `
			plugin limit-count {
				count 100
				time_window 60
				key remote_addr
				rejected_code 429
				policy redis
				redis {
					address 127.0.0.1:6379
					database 0
				}
			}`, `{"limit-count":{"count":100,"key":"remote_addr","policy":"redis","redis":{"address":"127.0.0.1:6379","database":0},"rejected_code":429,"time_window":60}}`},
		{"ip-restriction whitelist lists", `
			plugin ip-restriction {
				whitelist[] 10.0.0.0/8
				message "go away"
			}`, `{"ip-restriction":{"message":"go away","whitelist":["10.0.0.0/8"]}}`},
		{"ip-restriction several values, several lines", `
			plugin ip-restriction {
				whitelist[] 10.0.0.0/8 192.168.0.0/16
				whitelist[] 127.0.0.1
			}`, `{"ip-restriction":{"whitelist":["10.0.0.0/8","192.168.0.0/16","127.0.0.1"]}}`},
		{"cors", `
			plugin cors {
				allow_origins https://a.example
				allow_methods GET,POST
				allow_credential true
				max_age 5
				expose_headers "*"
			}`, `{"cors":{"allow_credential":true,"allow_methods":"GET,POST","allow_origins":"https://a.example","expose_headers":"*","max_age":5}}`},
		{"JSON literal", "\n\t\t\tplugin limit-count `{\"count\": 100, \"time_window\": 60}`",
			`{"limit-count":{"count":100,"time_window":60}}`},
		{"JSON literal values", "\n\t\t\tplugin p {\n\t\t\t\twhitelist `[\"10.0.0.0/8\"]`\n\t\t\t\tnested `{\"a\": [1, {\"b\": null}]}`\n\t\t\t\tregex `^/a/[0-9]+$`\n\t\t\t}",
			`{"p":{"nested":{"a":[1,{"b":null}]},"regex":"^/a/[0-9]+$","whitelist":["10.0.0.0/8"]}}`},
		{"JSON heredoc", `
			plugin p <<JSON
				{
					"count": 100,
					"list": [1, 2.5, "x"]
				}
				JSON`, `{"p":{"count":100,"list":[1,2.5,"x"]}}`},
		{"scalars", `
			plugin p {
				int 100
				neg -7
				float 1.50
				exp 1e3
				quoted_number "100"
				leading_zero 007
				hex 0x10
				duration 10s
				yes true
				no false
				quoted_bool "true"
				nothing null
				quoted_null "null"
			}`, `{"p":{"duration":"10s","exp":1e3,"float":1.50,"hex":"0x10","int":100,"leading_zero":"007","neg":-7,"no":false,"nothing":null,"quoted_bool":"true","quoted_null":"null","quoted_number":"100","yes":true}}`},
		{"arrays and repetition", `
			plugin p {
				several a 1 true
				repeated x
				repeated y
				repeated_lists a b
				repeated_lists c d
				empty[]
			}`, `{"p":{"empty":[],"repeated":["x","y"],"repeated_lists":[["a","b"],["c","d"]],"several":["a",1,true]}}`},
		{"nested blocks and an empty block", `
			plugin p {
				a {
					b {
						c 1
					}
					e {
					}
				}
			}`, `{"p":{"a":{"b":{"c":1},"e":{}}}}`},
		{"no block", `
			plugin prometheus`, `{"prometheus":{}}`},
		{"empty block", `
			plugin prometheus {
			}`, `{"prometheus":{}}`},
		{"the examples of parseGlobal's documentation", `
			plugin key-auth {
				header X-Api-Key            # "header": "X-Api-Key"
				consumers {                 # a key given twice: an array
					name alice
					key k-alice
				}
				consumers {
					name bob
					key k-bob
				}
			}
			plugin limit-count {
				count 100                   # unquoted JSON number: a number ("100" is a string)
				time_window 60
				rejected_code 429
				policy local
				show_limit_quota_header true # true, false, null: JSON's
			}
			plugin ip-restriction {
				whitelist 10.0.0.0/8 192.168.0.0/16  # several values: an array
				blacklist[] 192.0.2.1       # key[]: an array even of one value
			}
			plugin cors {
				allow_origins https://a.example
				allow_methods GET,POST      # one value: a string (APISIX's form here)
				max_age 3600
			}
			plugin limit-req ` + "`" + `{"rate": 10, "burst": 5}` + "`" + `   # JSON in backquotes
			plugin prometheus               # no configuration: {}`,
			`{"cors":{"allow_methods":"GET,POST","allow_origins":"https://a.example","max_age":3600},` +
				`"ip-restriction":{"blacklist":["192.0.2.1"],"whitelist":["10.0.0.0/8","192.168.0.0/16"]},` +
				`"key-auth":{"consumers":[{"key":"k-alice","name":"alice"},{"key":"k-bob","name":"bob"}],"header":"X-Api-Key"},` +
				`"limit-count":{"count":100,"policy":"local","rejected_code":429,"show_limit_quota_header":true,"time_window":60},` +
				`"limit-req":{"rate":10,"burst":5},"prometheus":{}}`},
		{"several plugins", `
			plugin b
			plugin a {
				x 1
			}`, `{"a":{"x":1},"b":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := inGlobal("\t\troute r {" + tc.plugin + "\n\t\t\tproxy b\n\t\t}")
			cfg, resty, err := adaptRaw(t, src)
			if err != nil {
				t.Fatal(err)
			}
			want := `{"routes":[{"name":"r","@id":"r","match":{},"plugins":` + tc.want + `,"action":{"proxy":{"upstream":"b"}}}]}`
			if resty != want {
				t.Errorf("\n got %s\nwant %s", resty, want)
			}
			checkLoads(t, resty)
			checkFmt(t, src, cfg)
		})
	}
}

func TestAdaptGlobalPlugins(t *testing.T) {
	src := inGlobal(`		global_plugin prometheus
		global_plugin ip-restriction {
			blacklist[] 192.0.2.1
		}
		global_plugin limit-req ` + "`" + `{"rate": 10, "burst": 5}` + "`")
	cfg, resty, err := adaptRaw(t, src)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"global_plugins":{"ip-restriction":{"blacklist":["192.0.2.1"]},"limit-req":{"rate":10,"burst":5},"prometheus":{}}}`
	if resty != want {
		t.Errorf("\n got %s\nwant %s", resty, want)
	}
	checkFmt(t, src, cfg)
}

// Caddy rewrites placeholder shorthands in site blocks, not in the global
// options: routes keep {uri}, {path.id} and {path.*} as written.
func TestAdaptRoutePlaceholders(t *testing.T) {
	src := `{
	resty {
		route p {
			path /v1/{id}/*
			proxy b /v2/{path.id}/{path.*}?{query} {
				header_up X-Host {host}
				header_up X-Seg {path.0}
			}
		}
		route q {
			redirect 301 https://new.example.com{uri}
		}
		route s {
			respond "{path} {header.X-A} {http.request.uri}"
		}
	}
}
:80 {
	respond {path.id}
}
`
	cfg, resty, err := adaptRaw(t, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{
		`"uri":"/v2/{path.id}/{path.*}?{query}"`,
		`"headers":{"X-Host":"{host}","X-Seg":"{path.0}"}`,
		`"location":"https://new.example.com{uri}"`,
		`"body":"{path} {header.X-A} {http.request.uri}"`,
	} {
		if !strings.Contains(resty, frag) {
			t.Errorf("apps.resty lacks %s:\n%s", frag, resty)
		}
	}
	// The same shorthand in a site block is rewritten.
	if !strings.Contains(cfg, `"body":"{http.request.uri.path.id}"`) {
		t.Errorf("the site block's {path.id} was not rewritten as expected:\n%s", cfg)
	}
}

func TestAdaptRouteEnvSubstitution(t *testing.T) {
	t.Setenv("RESTY_TEST_UPSTREAM", "from_env")
	_, resty, err := adaptRaw(t, inGlobal("\t\troute r {\n\t\t\tproxy {$RESTY_TEST_UPSTREAM}\n\t\t}"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(resty, `"upstream":"from_env"`) {
		t.Errorf("{$ENV} not substituted: %s", resty)
	}
}

func TestAdaptRouteErrors(t *testing.T) {
	for _, tc := range []struct {
		name, lines, want string
		line              int
	}{
		{"missing name", "route {\n}", "route: missing name", 3},
		{"bad name", "route a/b {\n}", "a route name may not", 3},
		{"name with arguments", "route a b {\n}", "too many arguments", 3},
		{"duplicate name", "route a {\nrespond\n}\nroute a {\nrespond\n}", "route a: declared twice", 6},
		{"no action", "route a {\npath /x\n}", "route a: missing action", 3},
		{"no block", "route a", "route a: missing action", 3},
		{"two actions", "route a {\nrespond\nproxy b\n}", "a route has one action, and it already has respond", 5},
		{"when and lua", "route a {\nwhen `true`\nlua \"return true\"\nproxy b\n}", "at most one condition", 5},
		{"when twice", "route a {\nwhen `true`\nwhen `false`\nproxy b\n}", "at most one condition", 5},
		{"when not bool", "route a {\nwhen `req.method`\nproxy b\n}", "must be of type bool", 4},
		{"when bad CEL", "route a {\nwhen `req.nope ==`\nproxy b\n}", "route a: when:", 4},
		{"when unquoted", "route a {\nwhen req.method == \"GET\"\nproxy b\n}", "too many arguments", 4},
		{"empty lua", "route a {\nlua \"  \"\nproxy b\n}", "empty code", 4},
		{"unknown subdirective", "route a {\nhosts x\nproxy b\n}", `unrecognized subdirective "hosts"`, 4},
		{"bad host", "route a {\nhost example.com a/b\nproxy b\n}", `host: "a/b": a host may not contain`, 4},
		{"bad path", "route a {\npath /ok\npath user/*\nproxy b\n}", `path: "user/*": a path pattern starts with '/'`, 5},
		{"bad method", "route a {\nmethod GE(T\nproxy b\n}", "method:", 4},
		{"host without value", "route a {\nhost\nproxy b\n}", "host: missing value", 4},
		{"priority not a number", "route a {\npriority high\nproxy b\n}", `"high" is not an integer`, 4},
		{"priority twice", "route a {\npriority 0\npriority 1\nproxy b\n}", "priority: given twice", 5},
		{"plugin twice", "route a {\nplugin cors\nplugin cors\nproxy b\n}", "plugin cors: given twice", 5},
		{"plugin without name", "route a {\nplugin\nproxy b\n}", "missing plugin name", 4},
		{"plugin bad argument", "route a {\nplugin cors yes\nproxy b\n}", "a block or a JSON object in backquotes", 4},
		{"plugin JSON array", "route a {\nplugin cors `[1]`\nproxy b\n}", "a block or a JSON object in backquotes", 4},
		{"plugin bad JSON", "route a {\nplugin cors `{\"a\": }`\nproxy b\n}", "invalid JSON", 4},
		{"plugin JSON and block", "route a {\nplugin cors `{}` {\nx 1\n}\nproxy b\n}", "either as JSON or as a block", 4},
		{"plugin key without value", "route a {\nplugin cors {\nallow_credential\n}\nproxy b\n}", "route a: plugin cors: allow_credential: missing value", 5},
		{"plugin key with values and block", "route a {\nplugin p {\nk v {\nx 1\n}\n}\nproxy b\n}", "route a: plugin p: k: give either values or a block", 7},
		{"plugin key and key[]", "route a {\nplugin p {\nk v\nk[] w\n}\nproxy b\n}", "given both as k and as k[]", 6},
		{"plugin bad JSON value", "route a {\nplugin p {\nk `[1,`\n}\nproxy b\n}", "route a: plugin p: k: invalid JSON", 5},
		{"plugin nested key without value", "route a {\nplugin p {\nredis {\naddress\n}\n}\nproxy b\n}", "route a: plugin p: redis.address: missing value", 6},
		{"host with block", "route a {\nhost x {\ny\n}\nproxy b\n}", "host takes no block", 4},
		{"proxy without upstream", "route a {\nproxy\n}", "proxy: missing upstream", 4},
		{"proxy too many arguments", "route a {\nproxy b /x /y\n}", "usage: proxy", 4},
		{"proxy uri twice", "route a {\nproxy b /x {\nuri /y\n}\n}", "uri given twice", 5},
		{"proxy header_up add", "route a {\nproxy b {\nheader_up +X-A a\n}\n}", "usage: header_up", 5},
		{"proxy header_up remove with value", "route a {\nproxy b {\nheader_up -X-A a\n}\n}", "usage: header_up", 5},
		{"proxy header_up twice", "route a {\nproxy b {\nheader_up X-A a\nheader_up x-a b\n}\n}", "header x-a given twice", 6},
		{"proxy bad header name", "route a {\nproxy b {\nheader_up X(A) a\n}\n}", `bad header name "X(A)"`, 5},
		{"proxy unknown subdirective", "route a {\nproxy b {\nheader_down X a\n}\n}", `unrecognized subdirective "header_down"`, 5},
		{"respond bad status", "route a {\nrespond body abc\n}", `"abc" is not a status code`, 4},
		{"respond status out of range", "route a {\nrespond 999\n}", "999 is not a status code", 4},
		{"respond too many arguments", "route a {\nrespond 200 a b\n}", "usage: respond", 4},
		{"respond header without value", "route a {\nrespond {\nheader X-A\n}\n}", "usage: header", 5},
		{"redirect without location", "route a {\nredirect\n}", "usage: redirect", 4},
		{"redirect status only", "route a {\nredirect 301\n}", "usage: redirect", 4},
		{"redirect bad status", "route a {\nredirect 200 /x\n}", "200 is not a redirection status", 4},
		{"redirect non-redirect status", "route a {\nredirect /x 404\n}", "404 is not a redirection status", 4},
		{"redirect with block", "route a {\nredirect /x {\ncode 301\n}\n}", "redirect takes no block", 4},
		{"global_plugin without name", "global_plugin", "global_plugin: missing plugin name", 3},
		{"global_plugin twice", "global_plugin a\nglobal_plugin a", "global_plugin a: given twice", 4},
		{"global_plugin bad config", "global_plugin a {\nk\n}", "global_plugin a: k: missing value", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := adaptRaw(t, inGlobal(tc.lines))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
			if at := fmt.Sprintf(", at Caddyfile:%d", tc.line); !strings.HasSuffix(err.Error(), at) {
				t.Errorf("error %q does not end with %q", err, at)
			}
		})
	}
}

func TestAdaptHandlerRoutes(t *testing.T) {
	cfg, _, err := adaptRaw(t, ":80 {\n\tresty {\n\t\troutes\n\t}\n\trespond ok\n}")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cfg, `{"handler":"resty","routes":true}`) {
		t.Errorf("routes not set:\n%s", cfg)
	}
	for _, tc := range []struct{ lines, want string }{
		{"routes all", "wrong argument count"},
		{"routes\n\t\troutes", "routes: given twice"},
	} {
		_, _, err := adaptRaw(t, ":80 {\n\tresty {\n\t\t"+tc.lines+"\n\t}\n\trespond ok\n}")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.lines, err, tc.want)
		}
	}
}
