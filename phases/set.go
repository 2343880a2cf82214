package phases

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-resty/caddy-resty/luaplugin"
)

// SetScript is one set_by_lua: Lua code run before rewrite whose return
// value becomes a variable of the request.
type SetScript struct {
	// Var names the variable the value is stored in: a Caddy variable,
	// {http.vars.VAR} to other handlers and ngx.var.VAR to Lua. Letters,
	// digits and underscores; nginx's built-in variables cannot be set.
	Var string `json:"var"`
	// Lua is inline Lua source.
	Lua string `json:"lua,omitempty"`
	// LuaFile is the path of a Lua file, read and compiled at load.
	LuaFile string `json:"lua_file,omitempty"`
	// Args are the script's arguments, ngx.arg[1] to ngx.arg[n], as
	// set_by_lua's $arg1 …, evaluated per request: an argument that is
	// exactly `$name` reads that nginx variable as ngx.var.name does
	// (`$arg_a`, `$http_host`, `$uri`, an earlier set's variable); other
	// arguments have their Caddy placeholders replaced
	// ({http.request.uri.query.a}, {http.vars.other}).
	Args []string `json:"args,omitempty"`
}

// setChunk is a compiled SetScript.
type setChunk struct {
	name  string
	chunk *luaplugin.Chunk
	args  []string
	// dynamic: some arg is a $variable or has a placeholder.
	dynamic bool
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// nginxBuiltinVars are the variables nginx refuses to `set` (or whose
// value Lua reads from the request itself).
var nginxBuiltinVars = map[string]bool{
	"args": true, "query_string": true, "uri": true, "request_uri": true, "host": true,
	"scheme": true, "request_method": true, "remote_addr": true, "remote_port": true,
	"server_addr": true, "server_port": true, "server_name": true, "status": true,
	"request_time": true, "binary_remote_addr": true, "document_uri": true, "is_args": true,
	"content_type": true, "content_length": true, "server_protocol": true, "https": true,
	"request_body": true, "request_id": true, "msec": true, "time_local": true, "time_iso8601": true,
}

// isVarRef reports whether a set_by_lua argument is an nginx variable
// reference, `$name`.
func isVarRef(a string) bool { return len(a) > 1 && a[0] == '$' && varName.MatchString(a[1:]) }

// compileSet compiles the set_by_lua scripts.
func (h *Handler) compileSet(pool *luaplugin.Pool) error {
	for i, s := range h.Set {
		place := fmt.Sprintf("set[%d]", i)
		name := strings.TrimPrefix(s.Var, "$")
		switch {
		case !varName.MatchString(name):
			return fmt.Errorf("%s.var: invalid variable name %q (letters, digits, underscores)", place, s.Var)
		case nginxBuiltinVars[name] || strings.HasPrefix(name, "http_") || strings.HasPrefix(name, "arg_") ||
			strings.HasPrefix(name, "cookie_") || strings.HasPrefix(name, "sent_http_") || strings.HasPrefix(name, "upstream_"):
			return fmt.Errorf("%s.var: the built-in variable %q cannot be set", place, name)
		}
		c, err := compileScript(pool, "set", i, Script{Lua: s.Lua, LuaFile: s.LuaFile})
		if err != nil {
			return err
		}
		sc := setChunk{name: name, chunk: c, args: s.Args}
		for _, a := range s.Args {
			if strings.ContainsRune(a, '{') || isVarRef(a) {
				sc.dynamic = true
			}
		}
		h.set = append(h.set, sc)
	}
	return nil
}

// runSet runs the set_by_lua scripts in order on vm, storing each value
// before the next runs (a later script reads an earlier one's variable).
// A Lua error ends the request with 500, as in nginx.
func (rs *reqState) runSet(vm *luaplugin.VM) error {
	r := rs.req.R
	var repl *caddy.Replacer
	for i := range rs.h.set {
		sc := &rs.h.set[i]
		args := sc.args
		if sc.dynamic {
			if repl == nil {
				repl, _ = r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
			}
			args = make([]string, len(sc.args))
			for j, a := range sc.args {
				switch {
				case isVarRef(a):
					args[j], _ = luaplugin.Variable(&rs.req, a[1:])
				case repl != nil:
					args[j] = repl.ReplaceAll(a, "")
				default:
					args[j] = a
				}
			}
		}
		v, res := vm.RunSet(sc.chunk, &rs.req, args)
		if res.Err != nil {
			rs.logLuaError(luaplugin.PhaseSet, res.Err)
			return rs.exitResponse(http.StatusInternalServerError, res.Err)
		}
		caddyhttp.SetVar(r.Context(), sc.name, v)
	}
	return nil
}
