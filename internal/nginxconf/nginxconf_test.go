package nginxconf

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseBasics(t *testing.T) {
	src := `# comment
worker_processes 1; # trailing comment
events { worker_connections 1024; }
http {
    server {
        listen 8080 default_server;
        set $a "x y\"z";
        set $b 'it\'s';
        set $c a\ b;
        set $d "tab\there\n";
        return 200 "${a}b $host \d";
        location ~ "^/a{2}$" { return 204; }
        empty {}
    }
}
`
	ds, err := Parse("t.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 || ds[0].Name != "worker_processes" || ds[0].Line != 2 || ds[0].Args[0] != "1" {
		t.Fatalf("top level: %+v", ds)
	}
	if ds[1].Name != "events" || !ds[1].HasBlock || ds[1].Block[0].Name != "worker_connections" {
		t.Fatalf("events: %+v", ds[1])
	}
	srv := ds[2].Block[0]
	if srv.Name != "server" || srv.Line != 5 {
		t.Fatalf("server: %+v", srv)
	}
	want := [][]string{
		{"listen", "8080", "default_server"},
		{"set", "$a", "x y\"z"},
		{"set", "$b", "it's"},
		{"set", "$c", `a\ b`}, // nginx keeps a backslash before other chars
		{"set", "$d", "tab\there\n"},
		{"return", "200", "${a}b $host \\d"},
		{"location", "~", "^/a{2}$"},
		{"empty"},
	}
	for i, w := range want {
		d := srv.Block[i]
		got := append([]string{d.Name}, d.Args...)
		if !reflect.DeepEqual(got, w) {
			t.Errorf("directive %d: got %q, want %q", i, got, w)
		}
		if d.Line != 6+i {
			t.Errorf("directive %d (%s): line %d, want %d", i, d.Name, d.Line, 6+i)
		}
	}
	if !srv.Block[1].Quoted[1] || srv.Block[1].Quoted[0] {
		t.Errorf("quoted flags: %v", srv.Block[1].Quoted)
	}
	if e := srv.Block[7]; !e.HasBlock || e.Block == nil || len(e.Block) != 0 {
		t.Errorf("empty block: %+v", e)
	}
	if loc := srv.Block[6]; len(loc.Block) != 1 || loc.Block[0].Name != "return" {
		t.Errorf("location block: %+v", loc)
	}
}

func TestParseLuaBlocks(t *testing.T) {
	body := `
        local t = { a = "}", b = '{' }  -- a comment with } and {
        local s = [[ long } string ]] .. [==[ with ]] and } ]==]
        --[[ long comment }
        still } ]]
        --[=[ }} ]=]
        local e = "esc \" } "
        if t then ngx.say("{") end
    `
	src := "content_by_lua_block {" + body + "}\nnext 1;\n"
	ds, err := Parse("t.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || !ds[0].LuaBlock || ds[0].Lua != body {
		t.Fatalf("lua block: %q", ds[0].Lua)
	}
	if ds[1].Name != "next" || ds[1].Line != 10 {
		t.Fatalf("after the block: %+v", ds[1])
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"a 1;\n}\n", `t.conf:2: unexpected "}"`},
		{"http {\n a 1;\n", `t.conf:3: unexpected end of file, expecting "}"`},
		{"http {\n a 1\n", `t.conf:3: unexpected end of file, expecting ";" or "}"`},
		{"a 1;\n;\n", `t.conf:2: unexpected ";"`},
		{"a \"x\"y;\n", `t.conf:1: unexpected "y"`},
		{"a 'x;\n", `t.conf:2: unexpected end of file, expecting ";" or "}"`},
		{"content_by_lua_block {\n ngx.say('}')\n", `t.conf:3: unexpected end of file, expecting "}"`},
		{"x {\n a 1 }\n", `t.conf:2: unexpected "}"`},
		{"x {\n a 1}\n", `t.conf:3: unexpected end of file, expecting ";" or "}"`},
	} {
		_, err := Parse("t.conf", []byte(c.src))
		if err == nil || err.Error() != c.want {
			t.Errorf("%q: got %v, want %s", c.src, err, c.want)
		}
	}
}

func TestIncludes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("nginx.conf", "http {\n    include conf.d/*.conf;\n    include none/*.conf;\n    last 1;\n}\n")
	write("conf.d/b.conf", "b 1;\ninclude inc/c.inc;\n")
	write("conf.d/a.conf", "\n\na 1;\n")
	write("inc/c.inc", "c 1;\n")
	ds, err := ParseFile(filepath.Join(dir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	Walk(ds, func(d *Directive, parents []*Directive) {
		got = append(got, d.Name+"@"+strings.TrimPrefix(d.Pos(), dir+"/"))
	})
	want := []string{"http@nginx.conf:1", "a@conf.d/a.conf:3", "b@conf.d/b.conf:1", "c@inc/c.inc:1", "last@nginx.conf:4"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}

	write("bad.conf", "x 1;\ninclude missing.conf;\n")
	_, err = ParseFile(filepath.Join(dir, "bad.conf"))
	if err == nil || err.Error() != filepath.Join(dir, "bad.conf")+":2: include missing.conf: no such file" {
		t.Fatalf("missing include: %v", err)
	}
	write("loop.conf", "include loop.conf;\n")
	if _, err = ParseFile(filepath.Join(dir, "loop.conf")); err == nil || !strings.Contains(err.Error(), "include loop") {
		t.Fatalf("include loop: %v", err)
	}
	write("synerr.conf", "include inc/bad.inc;\n")
	write("inc/bad.inc", "a 1;\nb {\n")
	_, err = ParseFile(filepath.Join(dir, "synerr.conf"))
	if err == nil || err.Error() != filepath.Join(dir, "inc/bad.inc")+`:3: unexpected end of file, expecting "}"` {
		t.Fatalf("error in an include: %v", err)
	}
}
