package restycmd

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	// The Go-backed libraries the scripts require.
	_ "github.com/caddy-resty/caddy-resty/cjson"
	_ "github.com/caddy-resty/caddy-resty/restystring"
)

type consoleRun struct {
	out, err string
	code     int
}

func runLua(t *testing.T, rf runFlags, file string, args ...string) consoleRun {
	t.Helper()
	if rf.errlog == "" {
		rf.errlog = "warn"
	}
	var out, errb bytes.Buffer
	code := runConsole(rf, file, args, &out, &errb, nil)
	return consoleRun{out: out.String(), err: errb.String(), code: code}
}

func writeLua(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "a.lua")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Cases rebuilt from resty-cli's t/resty/sanity.t (openresty/resty-cli).
func TestRestyCLISanity(t *testing.T) {
	// TEST 1: provides stacktrace on user errors.
	f := writeLua(t, "local function f()\n    error(\"something went wrong\")\nend\n\nlocal function g()\n    f()\nend\n\ng()\n")
	r := runLua(t, runFlags{}, f)
	if r.code != 1 {
		t.Errorf("TEST 1: exit %d, want 1", r.code)
	}
	for _, re := range []string{
		`^ERROR: .*?\.lua:2: something went wrong\nstack traceback:\n`,
		`\.lua:2: in function 'f'`,
		`\.lua:6: in function 'g'`,
	} {
		if !regexp.MustCompile(re).MatchString(r.err) {
			t.Errorf("TEST 1: stderr %q does not match %q", r.err, re)
		}
	}

	// TEST 2 and 3: return values of the main chunk are ignored.
	for _, src := range []string{"return 123, 456", `return "hello world"`} {
		if r := runLua(t, runFlags{}, writeLua(t, src)); r.code != 0 || r.err != "" || r.out != "" {
			t.Errorf("%s: %+v", src, r)
		}
	}

	// TEST 4: bad file name.
	r = runLua(t, runFlags{}, `print("hello")`)
	if r.code != 2 || r.err != "Lua input file print(\"hello\") not found.\n" {
		t.Errorf("TEST 4: %+v", r)
	}
}

// Cases rebuilt from resty-cli's t/resty/user-args.t.
func TestRestyCLIUserArgs(t *testing.T) {
	src := ""
	for i := 0; i <= 10; i++ {
		src += "print(\"arg " + string(rune('0'+i%10)) + ": \", arg[" + itoa(i) + "])\n"
	}
	src = strings.ReplaceAll(src, "arg 0: \", arg[10]", "arg 10: \", arg[10]")
	f := writeLua(t, src)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"TEST 1: simplest", []string{"1", "testing", "2 3 4"}, []string{"1", "testing", "2 3 4", "", ""}},
		{"TEST 3: with quote", []string{"1", "2", `\\"`}, []string{"1", "2", `\\"`, ""}},
		{"TEST 4: with long brackets", []string{"1", "]", "]]", "]]]", "]=]", "]==]", "]====]", "[===[", "[[", "[=["},
			[]string{"1", "]", "]]", "]]]", "]=]", "]==]", "]====]", "[===[", "[[", "[=["}},
		{"TEST 5: with complex long brackets", []string{"1]]", "1]=]3", "4]===]", "]====]5", "]==2!]", "[=[]=]"},
			[]string{"1]]", "1]=]3", "4]===]", "]====]5", "]==2!]", "[=[]=]", ""}},
		{"TEST 6: user options", []string{"--help"}, []string{"--help", "", ""}},
		{"TEST 7: user options (--)", []string{"--", "--help"}, []string{"--", "--help", ""}},
	} {
		r := runLua(t, runFlags{}, f, tc.args...)
		lines := strings.Split(r.out, "\n")
		if r.code != 0 || r.err != "" || len(lines) < len(tc.want)+1 {
			t.Errorf("%s: %+v", tc.name, r)
			continue
		}
		if lines[0] != "arg 0: "+f {
			t.Errorf("%s: %q", tc.name, lines[0])
		}
		for i, w := range tc.want {
			if want := "arg " + itoa(i+1) + ": " + w; lines[i+1] != want {
				t.Errorf("%s: line %d %q, want %q", tc.name, i+1, lines[i+1], want)
			}
		}
	}
}

func itoa(i int) string {
	if i >= 10 {
		return string(rune('0'+i/10)) + string(rune('0'+i%10))
	}
	return string(rune('0' + i))
}

// Rebuilt from resty-cli's t/resty/options.t TEST 7 and 8 (dicts given
// with --shdict rather than an http include) and the -I and -e options.
func TestRestyCLIOptions(t *testing.T) {
	r := runLua(t, runFlags{shdicts: []string{"dogs 1m", "cats 1m"}, code: `
		local dogs = ngx.shared.dogs
		local cats = ngx.shared.cats
		dogs:set("Tom", 32)
		cats:set("Tom", 12)
		print("dog: ", dogs:get("Tom"))
		print("cat: ", cats:get("Tom"))`}, "")
	if r.out != "dog: 32\ncat: 12\n" || r.code != 0 || r.err != "" {
		t.Errorf("shdicts: %+v", r)
	}
	for _, bad := range []string{"dogs", "dogs 1k", "dogs 1x", "dogs 1m extra"} {
		r := runLua(t, runFlags{shdicts: []string{bad}, code: "print(1)"}, "")
		if r.code != 2 || !strings.HasPrefix(r.err, "ERROR: bad --shdict") {
			t.Errorf("--shdict %q: %+v", bad, r)
		}
	}

	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "mylib"), 0o755)
	os.WriteFile(filepath.Join(dir, "greet.lua"), []byte(`return { hi = function(n) return "hi " .. n end }`), 0o644)
	os.WriteFile(filepath.Join(dir, "mylib", "init.lua"), []byte(`return { v = 42 }`), 0o644)
	r = runLua(t, runFlags{include: []string{dir}, code: `print(require("greet").hi("bob"), " ", require("mylib").v)`}, "")
	if r.out != "hi bob 42\n" || r.code != 0 {
		t.Errorf("-I: %+v", r)
	}
	r = runLua(t, runFlags{libs: []string{"greet"}, include: []string{dir}, code: `print(package.loaded.greet ~= nil)`}, "")
	if r.out != "true\n" {
		t.Errorf("-l: %+v", r)
	}

	// -e runs before the file, as resty runs them.
	f := writeLua(t, `print("file ", x)`)
	r = runLua(t, runFlags{code: `x = 1 print("inline")`}, f)
	if r.out != "inline\nfile 1\n" {
		t.Errorf("-e and file: %+v", r)
	}

	r = runLua(t, runFlags{code: "ngx.say(", errlog: "warn"}, "")
	if r.code != 1 || !strings.HasPrefix(r.err, "ERROR: (command line -e):1:") {
		t.Errorf("syntax error: %+v", r)
	}
	if r := runLua(t, runFlags{code: "print(1)", errlog: "loud"}, ""); r.code != 2 {
		t.Errorf("bad --errlog-level: %+v", r)
	}
	if r := runLua(t, runFlags{code: "print(1)", timeout: "soon"}, ""); r.code != 2 {
		t.Errorf("bad --timeout: %+v", r)
	}
}

// What resty changes in the ngx API, and the exit status.
func TestRestyCLIOutputAndExit(t *testing.T) {
	for _, tc := range []struct {
		code, out string
		status    int
	}{
		// resty's output: nil, booleans, ngx.null, array tables, tostring.
		{`ngx.say("a", 1, " ", nil, " ", true, " ", ngx.null, " ", {1, {"b", 2.5}}, " ", 1e100)`, "a1 nil true null 1b2.5 1e+100\n", 0},
		{`ngx.print("x") ngx.print("y", nil, nil) print()`, "xy\n", 0},
		{`print("arg 2: ", nil)`, "arg 2: \n", 0},
		{`assert(ngx.flush()) assert(ngx.eof()) print(ngx.config.is_console)`, "true\n", 0},
		{`print("a") os.exit(3) print("b")`, "a\n", 3},
		{`os.exit(true)`, "", 0},
		{`os.exit(false)`, "", 1},
		{`pcall(os.exit, 4) print("not here")`, "", 4},
		{`pcall(function() ngx.exit(5) end) print("not here")`, "", 5},
		{`local ok = pcall(error, "x") print(ok)`, "false\n", 0},
		// orig_say is lua-nginx-module's, which the timer context refuses.
		{`print(pcall(function() ngx.orig_say("x") end))`, "false(command line -e):1: API disabled in the context of ngx.timer\n", 0},
		{`print(ngx.get_phase())`, "timer\n", 0},
	} {
		r := runLua(t, runFlags{code: tc.code}, "")
		if r.out != tc.out || r.code != tc.status {
			t.Errorf("%s: out %q status %d (stderr %q), want %q %d", tc.code, r.out, r.code, r.err, tc.out, tc.status)
		}
	}
}

// The APIs that make sense outside a request work.
func TestRestyCLIOutsideRequestAPIs(t *testing.T) {
	r := runLua(t, runFlags{shdicts: []string{"cache 1m"}, code: `
		local cjson = require "cjson"
		local str = require "resty.string"
		print(ngx.md5("hello"), " ", ngx.encode_base64("hi"), " ", ngx.decode_base64("aGk="))
		print(str.to_hex(ngx.sha1_bin("abc")))
		print(cjson.encode({a = {1, 2}}), " ", cjson.decode('{"b":true}').b)
		local m = ngx.re.match("hello 123", [[(\d+)]], "jo")
		print(m[1], " ", (ngx.re.gsub("a-b-c", "-", "+")))
		print(ngx.escape_uri("a b"), " ", ngx.unescape_uri("a%20b"), " ", ngx.quote_sql_str("it's"))
		print(ngx.encode_args({a = 1}), " ", type(ngx.time()), " ", type(ngx.now()), " ", #ngx.today(), " ", ngx.http_time(0))
		local d = ngx.shared.cache
		d:set("k", 1) d:incr("k", 41)
		print(d:get("k"), " ", d:capacity())
		local seen = {}
		ngx.timer.at(0.02, function(premature, who) seen[#seen + 1] = who end, "t1")
		ngx.sleep(0.1)
		print(seen[1], " ", ngx.worker.pid() > 0, " ", ngx.config.subsystem)
		ngx.timer.at(60, function(premature) print("premature ", premature) end)
		ngx.log(ngx.WARN, "to stderr")
		ngx.log(ngx.INFO, "not shown at warn")`}, "")
	want := "5d41402abc4b2a76b9719d911017c592 aGk= hi\n" +
		"a9993e364706816aba3e25717850c26c9cd0d89d\n" +
		"{\"a\":[1,2]} true\n" +
		"123 a+b+c\n" +
		"a%20b a b 'it\\'s'\n" +
		"a=1 number number 10 Thu, 01 Jan 1970 00:00:00 GMT\n" +
		"42 1048576\n" +
		"t1 true http\n" +
		"premature true\n"
	if r.out != want || r.code != 0 {
		t.Errorf("out:\n%s\nwant:\n%s\nstatus %d stderr %s", r.out, want, r.code, r.err)
	}
	if !regexp.MustCompile(`(?m)^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[warn\] \d+#0: \[lua\] \(command line -e\):19: to stderr, context: ngx.timer$`).MatchString(r.err) ||
		strings.Contains(r.err, "not shown") {
		t.Errorf("stderr: %q", r.err)
	}
	r = runLua(t, runFlags{code: `ngx.log(ngx.INFO, "shown")`, errlog: "info"}, "")
	if !strings.Contains(r.err, "[info]") || !strings.Contains(r.err, "shown") {
		t.Errorf("--errlog-level info: %q", r.err)
	}
}

// A timer's error is logged (not fatal), as resty's nginx logs it; a
// script over --timeout stops with an error.
func TestRestyCLITimersAndBudget(t *testing.T) {
	r := runLua(t, runFlags{code: `ngx.timer.at(0, function() error("in timer") end) ngx.sleep(0.05) print("main done")`}, "")
	if r.out != "main done\n" || r.code != 0 || !strings.Contains(r.err, "in timer") {
		t.Errorf("timer error: %+v", r)
	}
	r = runLua(t, runFlags{code: `while true do end`, timeout: "50ms"}, "")
	if r.code != 1 || !strings.Contains(r.err, "ERROR:") {
		t.Errorf("budget: %+v", r)
	}
}
