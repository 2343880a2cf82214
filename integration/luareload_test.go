package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLuaReload: POST /resty/lua/reload brings edited *_by_lua_file scripts
// and required modules in without a config reload; a file that no longer
// compiles is refused and the running code stays.
func TestLuaReload(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "content.lua")
	module := filepath.Join(dir, "greeting.lua")
	write := func(path, src string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		// A different mtime even on coarse file systems.
		later := time.Now().Add(time.Duration(len(src)) * time.Second)
		if err := os.Chtimes(path, later, later); err != nil {
			t.Fatal(err)
		}
	}
	write(script, `ngx.say("script v1 ", require("greeting").text)`)
	write(module, `return {text = "module v1"}`)

	g := newGateway(t)
	g.load(cfg{
		global: "lua_package_path " + filepath.Join(dir, "?.lua"),
		site:   resty(luaFile("content", script)),
	})
	get(t, "/").expect(t, 200, "script v1 module v1\n")
	countLoads := func() int {
		n := 0
		for _, e := range g.logEntries() {
			if e["msg"] == "load complete" || e["msg"] == "started background certificate maintenance" {
				n++
			}
		}
		return n
	}
	loads := countLoads()
	if loads == 0 {
		t.Fatal("no config load seen in the log")
	}

	reload := func() (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(adminURL+"/resty/lua/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(body, &out)
		return resp.StatusCode, out
	}

	// Nothing changed: nothing reloaded.
	if code, out := reload(); code != 200 || len(out["scripts"].([]any)) != 0 || out["modules"] != false {
		t.Fatalf("no-op reload: %d %v", code, out)
	}

	// An edited script: served as before until the reload, then new.
	write(script, `ngx.say("script v2 ", require("greeting").text)`)
	get(t, "/").expect(t, 200, "script v1 module v1\n")
	code, out := reload()
	if code != 200 || len(out["scripts"].([]any)) != 1 || out["scripts"].([]any)[0] != script || out["modules"] != false {
		t.Fatalf("script reload: %d %v", code, out)
	}
	get(t, "/").expect(t, 200, "script v2 module v1\n")

	// An edited module: fresh states load it.
	write(module, `return {text = "module v2"}`)
	if code, out := reload(); code != 200 || out["modules"] != true {
		t.Fatalf("module reload: %d %v", code, out)
	}
	get(t, "/").expect(t, 200, "script v2 module v2\n")

	// A script that no longer compiles: 400 naming file and line, and the
	// running code stays.
	write(script, "ngx.say('v3'\nlocal = 1\n")
	resp, err := http.Post(adminURL+"/resty/lua/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !json.Valid(body) || !containsAll(string(body), "nothing changed", script+":") {
		t.Fatalf("bad file: %d %s", resp.StatusCode, body)
	}
	get(t, "/").expect(t, 200, "script v2 module v2\n")

	if n := countLoads(); n != loads {
		t.Fatalf("the Lua reloads went through %d config loads", n-loads)
	}
	reloaded := 0
	for _, e := range g.logEntries() {
		if e["msg"] == "Lua files reloaded" {
			reloaded++
		}
	}
	if reloaded != 3 {
		t.Fatalf("%d 'Lua files reloaded' log lines, want 3", reloaded)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
