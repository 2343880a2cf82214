package integration

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Observers of the response as header_filter and the log phase see it.
var (
	markHF  = lua("header_filter", `ngx.header["X-HF-Status"] = ngx.status`)
	markLog = lua("log", `ngx.shared.seen:set("status:" .. ngx.var.uri, ngx.status)`)
)

// loggedStatus checks the status the log phase saw for path.
func loggedStatus(path string, code int) func(*testing.T, *gateway, reply, *backend) {
	return func(t *testing.T, _ *gateway, _ reply, _ *backend) {
		t.Helper()
		waitDict(t, "seen", "status:"+path, strconv.Itoa(code))
	}
}

// loggedError checks that an error-level entry containing subs was logged.
func loggedError(subs ...string) func(*testing.T, *gateway, reply, *backend) {
	return func(t *testing.T, g *gateway, _ reply, _ *backend) {
		t.Helper()
		g.waitLog(subs...)
	}
}

// TestExitTable covers the rows of the contract's exit table (section 4)
// for rewrite, access and content.
func TestExitTable(t *testing.T) {
	cases := []httpCase{
		{
			name: "rewrite and access return without output: next phase",
			site: proxied(
				lua("rewrite", `ngx.req.set_header("X-Rewrite", "ran")`),
				lua("access", `ngx.req.set_header("X-Access", "ran")`),
				markHF, markLog),
			path:   "/next",
			status: 200, body: upstreamBody, calls: 1,
			header: map[string]string{"X-HF-Status": "200"},
			check: checks(sawHeaders(map[string]string{"X-Rewrite": "ran", "X-Access": "ran"}),
				loggedStatus("/next", 200)),
		},
		{
			name: "rewrite prints and returns: request ends with 200",
			site: proxied(
				lua("rewrite", `ngx.say("from rewrite")`),
				lua("access", `error("access must not run")`),
				markHF, markLog),
			path:   "/rw-print",
			status: 200, body: "from rewrite\n", calls: 0,
			header: map[string]string{"X-HF-Status": "200"},
			check:  loggedStatus("/rw-print", 200),
		},
		{
			name: "access prints and returns: request ends with ngx.status",
			site: proxied(
				lua("access", `ngx.status = 202
ngx.say("accepted")`),
				lua("content", `ngx.say("content must not run")`),
				markHF, markLog),
			path:   "/ac-print",
			status: 202, body: "accepted\n", calls: 0,
			header: map[string]string{"X-HF-Status": "202"},
			check:  loggedStatus("/ac-print", 202),
		},
	}

	// ngx.exit(ngx.OK) leaves only its piece; the next piece of the same
	// phase and the later phases run.
	for _, phase := range []string{"rewrite", "access"} {
		cases = append(cases, httpCase{
			name: phase + " ngx.exit(ngx.OK) leaves only that piece",
			site: proxied(
				lua(phase, `ngx.req.set_header("X-Piece-1", "ran")
ngx.exit(ngx.OK)
ngx.req.set_header("X-Never", "ran")`),
				lua(phase, `ngx.req.set_header("X-Piece-2", "ran")`),
				lua("access", `ngx.req.set_header("X-Later-Access", "ran")`),
				markHF, markLog),
			path:   "/ok-" + phase,
			status: 200, body: upstreamBody, calls: 1,
			header: map[string]string{"X-HF-Status": "200"},
			check: checks(
				sawHeaders(map[string]string{"X-Piece-1": "ran", "X-Piece-2": "ran", "X-Never": "", "X-Later-Access": "ran"}),
				loggedStatus("/ok-"+phase, 200)),
		})
	}
	cases = append(cases, httpCase{
		name: "content ngx.exit(ngx.OK) leaves only that piece",
		site: proxied(
			lua("content", `ngx.say("one")
ngx.exit(ngx.OK)
ngx.say("never")`),
			lua("content", `ngx.say("two")`),
			markHF, markLog),
		path:   "/ok-content",
		status: 200, body: "one\ntwo\n", calls: 0,
		header: map[string]string{"X-HF-Status": "200"},
		check:  loggedStatus("/ok-content", 200),
	})

	// ngx.exit(2xx) ends the request with that status.
	for _, x := range []struct {
		phase string
		code  int
	}{{"rewrite", 201}, {"access", 204}, {"content", 202}} {
		path := fmt.Sprintf("/exit-%s-%d", x.phase, x.code)
		cases = append(cases, httpCase{
			name: fmt.Sprintf("%s ngx.exit(%d) without output", x.phase, x.code),
			site: proxied(
				lua(x.phase, fmt.Sprintf(`ngx.exit(%d)
error("after ngx.exit")`, x.code)),
				lua("content", `ngx.say("later content must not run")`),
				markHF, markLog),
			path:   path,
			status: x.code, body: "", calls: 0,
			header: map[string]string{"X-HF-Status": strconv.Itoa(x.code)},
			check:  loggedStatus(path, x.code),
		})
	}
	cases = append(cases,
		httpCase{
			name: "rewrite ngx.status, output, then ngx.exit(201)",
			site: proxied(lua("rewrite", `ngx.status = 201
ngx.say("made")
ngx.exit(201)`), markHF, markLog),
			path:   "/made",
			status: 201, body: "made\n", calls: 0,
			header: map[string]string{"X-HF-Status": "201"},
			check:  loggedStatus("/made", 201),
		},
		httpCase{
			// As in OpenResty: the first output sent the headers with
			// 200; ngx.exit(201) then only ends the request.
			name: "access output then ngx.exit(201) keeps the status sent",
			site: proxied(lua("access", `ngx.say("done")
ngx.exit(201)
ngx.say("never")`), markLog),
			path:   "/done",
			status: 200, body: "done\n", calls: 0,
			check: loggedStatus("/done", 200),
		},
	)

	// ngx.exit(>=300) before output: that status, and header_filter and
	// the log phase see it.
	for _, x := range []struct {
		phase string
		code  int
	}{{"rewrite", 503}, {"access", 403}, {"access", 503}, {"content", 404}, {"rewrite", 301}} {
		path := fmt.Sprintf("/err-%s-%d", x.phase, x.code)
		cases = append(cases, httpCase{
			name:   fmt.Sprintf("%s ngx.exit(%d) before output", x.phase, x.code),
			site:   proxied(lua(x.phase, fmt.Sprintf(`ngx.exit(%d)`, x.code)), markHF, markLog),
			path:   path,
			status: x.code, body: anyBody, calls: 0,
			header: map[string]string{"X-HF-Status": strconv.Itoa(x.code)},
			check:  loggedStatus(path, x.code),
		})
	}

	// With handle_errors, error statuses go to Caddy's error handling.
	const handled = `respond "handled {err.status_code}" {err.status_code}`
	for _, x := range []struct {
		phase, code string
		status      int
	}{
		{"rewrite", "ngx.exit(404)", 404},
		{"access", "ngx.exit(ngx.HTTP_FORBIDDEN)", 403},
		{"content", "ngx.exit(503)", 503},
		{"access", `error("failing on purpose")`, 500},
	} {
		path := "/handled-" + x.phase
		cases = append(cases, httpCase{
			name:   fmt.Sprintf("handle_errors answers %s %s", x.phase, x.code),
			site:   proxied(lua(x.phase, x.code), markLog),
			errors: handled,
			path:   path,
			status: x.status, body: fmt.Sprintf("handled %d", x.status), calls: 0,
			check: loggedStatus(path, x.status),
		})
	}

	// ngx.exit inside pcall, xpcall or a coroutine still exits.
	cases = append(cases,
		httpCase{
			name: "access ngx.exit(403) inside pcall",
			site: proxied(lua("access", `local ok, err = pcall(ngx.exit, 403)
ngx.req.set_header("X-After-Pcall", tostring(ok))`), markHF, markLog),
			path:   "/pcall",
			status: 403, body: anyBody, calls: 0,
			header: map[string]string{"X-HF-Status": "403"},
			check:  loggedStatus("/pcall", 403),
		},
		httpCase{
			name: "rewrite ngx.exit(401) inside xpcall",
			site: proxied(lua("rewrite", `xpcall(function() ngx.exit(401) end, function(e) return e end)
ngx.say("after xpcall")`)),
			path:   "/xpcall",
			status: 401, body: anyBody, calls: 0,
		},
		httpCase{
			name: "content ngx.exit(200) after output inside pcall",
			site: proxied(lua("content", `pcall(function()
	ngx.say("in pcall")
	ngx.exit(ngx.HTTP_OK)
end)
ngx.say("after pcall")`)),
			path:   "/pcall-content",
			status: 200, body: "in pcall\n", calls: 0,
		},
		httpCase{
			name: "access ngx.exit(409) inside a coroutine",
			site: proxied(lua("access", `local co = coroutine.create(function() ngx.exit(409) end)
local ok, err = coroutine.resume(co)
ngx.req.set_header("X-Resumed", tostring(ok))`)),
			path:   "/coroutine",
			status: 409, body: anyBody, calls: 0,
		},
	)

	// A Lua runtime error: 500 and the error with chunk:line and a
	// traceback in the log.
	for _, phase := range []string{"rewrite", "access", "content"} {
		cases = append(cases, httpCase{
			name: phase + " runtime error gives 500 and a logged traceback",
			site: proxied(lua(phase, `local t = nil
ngx.ctx.x = 1
return t.field`), markHF, markLog),
			path:   "/lua-error-" + phase,
			status: 500, body: anyBody, calls: 0,
			header: map[string]string{"X-HF-Status": "500"},
			check: checks(loggedStatus("/lua-error-"+phase, 500),
				loggedError(phase+"[0]:3:", "stack traceback")),
		})
	}
	cases = append(cases,
		httpCase{
			name: "error() in the second access piece names that piece",
			site: proxied(lua("access", `ngx.ctx.a = 1`), lua("access", `ngx.ctx.b = 2
error("custom failure")`)),
			path:   "/piece",
			status: 500, body: anyBody, calls: 0,
			check: loggedError("access[1]:2: custom failure", "stack traceback"),
		},
		httpCase{
			// As in OpenResty: once output went out, an error can only
			// cut the response short, so that the client sees it failed.
			name: "content runtime error after output truncates the response",
			site: proxied(lua("content", `ngx.say("partial")
ngx.flush(true)
error("failing after output")`), markLog),
			path:    "/late-error",
			aborted: true, status: 200, body: "partial\n", calls: 0,
			check: loggedError("content[0]:3: failing after output"),
		},
		httpCase{
			name:   "runtime error in a _by_lua_file names the file and line",
			site:   proxied(luaFile("access", "@DIR@/auth.lua")),
			files:  map[string]string{"auth.lua": "local limit = 3\nlocal n = limit + {}\n"},
			path:   "/file-error",
			status: 500, body: anyBody, calls: 0,
			check: loggedError("auth.lua:2:", "stack traceback"),
		},
	)
	runCases(t, cases)
}

// chunkedBackend sends two chunks with a flush between them.
func chunkedBackend(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "first chunk;")
	w.(http.Flusher).Flush()
	io.WriteString(w, "second chunk")
}

// TestFilterExits covers ngx.exit and errors in header_filter, body_filter
// and log.
func TestFilterExits(t *testing.T) {
	cases := []httpCase{
		{
			name: "header_filter ngx.exit(410) discards the upstream response",
			site: proxied(lua("header_filter", `ngx.header["X-Before"] = "1"
ngx.exit(410)
ngx.header["X-After"] = "1"`), markLog),
			path:   "/hf-410",
			status: 410, body: anyBody, calls: 1,
			header: map[string]string{"X-After": ""},
			check: checks(loggedStatus("/hf-410", 410),
				func(t *testing.T, _ *gateway, r reply, _ *backend) {
					if strings.Contains(r.Body, upstreamBody) {
						t.Errorf("the upstream body was sent: %q", r.Body)
					}
				}),
		},
		{
			name:   "header_filter ngx.exit(201) replaces the response with an empty 201",
			site:   proxied(lua("header_filter", `ngx.exit(201)`), markLog),
			path:   "/hf-201",
			status: 201, body: "", calls: 1,
			check: loggedStatus("/hf-201", 201),
		},
		{
			name: "header_filter ngx.exit inside pcall still exits",
			site: proxied(lua("header_filter", `pcall(ngx.exit, 451)
ngx.status = 299`)),
			path:   "/hf-pcall",
			status: 451, body: anyBody, calls: 1,
			check: func(t *testing.T, _ *gateway, r reply, _ *backend) {
				if strings.Contains(r.Body, upstreamBody) {
					t.Errorf("the upstream body was sent: %q", r.Body)
				}
			},
		},
		{
			name: "header_filter ngx.exit(ngx.OK) keeps the response",
			site: proxied(lua("header_filter", `ngx.header["X-Before"] = "1"
ngx.exit(ngx.OK)
ngx.header["X-After"] = "1"`)),
			path:   "/hf-ok",
			status: 200, body: upstreamBody, calls: 1,
			header: map[string]string{"X-Before": "1", "X-After": ""},
		},
		{
			name:    "header_filter runtime error aborts the response",
			site:    proxied(lua("header_filter", `error("boom in header_filter")`), markLog),
			backend: chunkedBackend,
			path:    "/hf-error",
			aborted: true, status: 200, body: "first chunk;second chunk", calls: 1,
			check: loggedError("boom in header_filter"),
		},
		{
			name: "body_filter runtime error aborts the response",
			site: proxied(lua("body_filter", `if ngx.arg[1]:find("second") then
	error("boom in body_filter")
end`)),
			backend: chunkedBackend,
			path:    "/bf-error",
			aborted: true, status: 200, body: "first chunk;second chunk", calls: 1,
			check: loggedError("boom in body_filter"),
		},
		{
			name:    "body_filter ngx.say without pcall aborts the response",
			site:    proxied(lua("body_filter", `ngx.say("injected")`)),
			backend: chunkedBackend,
			path:    "/bf-say",
			aborted: true, status: 200, body: "first chunk;second chunk", calls: 1,
			check: loggedError("API disabled in the context of body_filter_by_lua*"),
		},
		{
			name: "log phase error does not affect the response",
			site: proxied(lua("log", `ngx.shared.seen:set("log-ran", "yes")
error("boom in log")`)),
			path:   "/log-error",
			status: 200, body: upstreamBody, calls: 1,
			check: checks(loggedError("boom in log"),
				func(t *testing.T, _ *gateway, _ reply, _ *backend) { waitDict(t, "seen", "log-ran", "yes") }),
		},
		{
			name:   "log phase output is an error that does not affect the response",
			site:   proxied(lua("log", `ngx.say("late output")`)),
			path:   "/log-say",
			status: 200, body: upstreamBody, calls: 1,
			check: loggedError("API disabled in the context of log_by_lua*"),
		},
	}

	// Output and ngx.exit in body_filter and log raise "API disabled in
	// the context of …", which pcall catches.
	for _, phase := range []string{"body_filter", "log"} {
		for _, api := range []string{`ngx.say("x")`, `ngx.print("x")`, `ngx.exit(200)`, `ngx.exit(403)`, `ngx.flush()`} {
			key := phase + ":" + api
			code := fmt.Sprintf(`local ok, err = pcall(function() %s end)
ngx.shared.seen:set(%q, tostring(ok) .. " " .. tostring(err))`, api, key)
			want := "false API disabled in the context of " + phase + "_by_lua*"
			cases = append(cases, httpCase{
				name:   fmt.Sprintf("%s %s raises API disabled", phase, api),
				site:   proxied(lua(phase, code)),
				path:   "/disabled",
				status: 200, body: upstreamBody, calls: 1,
				check: func(t *testing.T, _ *gateway, _ reply, _ *backend) {
					waitDictFunc(t, "seen", key, fmt.Sprintf("%q", want), func(v string) bool {
						return strings.HasPrefix(v, "false ") && strings.HasSuffix(v, "API disabled in the context of "+phase+"_by_lua*")
					})
				},
			})
		}
	}
	runCases(t, cases)
}
