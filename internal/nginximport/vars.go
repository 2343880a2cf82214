package nginximport

import (
	"regexp"
	"strings"
)

// varRe finds nginx variables in a string: $name, ${name}, $1.
var varRe = regexp.MustCompile(`\$(\{[A-Za-z0-9_]+\}|[A-Za-z_][A-Za-z0-9_]*|[0-9])`)

// scope is what variable references resolve against at one place.
type scope struct {
	// re is the name of the Caddy regexp matcher whose captures $1…$9
	// (and named captures) are, or "".
	re string
	// named are the named captures of that regexp.
	named map[string]bool
	// vars are the variables `set` (or set_by_lua) defines: {vars.NAME}.
	vars map[string]bool
	// serverName is the first server_name ($server_name).
	serverName string
	// defaultType is the default_type in effect (for return's text).
	defaultType string
	// errorCodes are the statuses an error_page of the server handles:
	// a `return` of one of them (without text) is an error for Caddy,
	// so that handle_errors sees it, as nginx's error_page does.
	errorCodes map[int]bool
	// internalOK is set for the locations error_page runs again, which
	// reach `internal` locations (as rewrites' later rounds do).
	internalOK bool
}

// simpleVars are the nginx variables with a Caddy placeholder.
var simpleVars = map[string]string{
	"host":            "{host}",
	"http_host":       "{hostport}",
	"hostname":        "{system.hostname}",
	"request_uri":     "{http.request.orig_uri}",
	"uri":             "{path}",
	"document_uri":    "{path}",
	"args":            "{query}",
	"query_string":    "{query}",
	"remote_addr":     "{remote_host}",
	"remote_port":     "{remote_port}",
	"scheme":          "{scheme}",
	"request_method":  "{method}",
	"server_addr":     "{http.request.local.host}",
	"server_port":     "{http.request.local.port}",
	"server_protocol": "{http.request.proto}",
	"content_type":    "{header.Content-Type}",
	"content_length":  "{header.Content-Length}",
	"msec":            "{time.now.unix_ms}",
	"time_iso8601":    "{time.now.common_log}",
	"document_root":   "{http.vars.root}",
	"realpath_root":   "{http.vars.root}",
}

// convert replaces the nginx variables of s by Caddy placeholders and
// escapes the braces of the literal text; it returns the names it could
// not convert.
func (sc *scope) convert(s string) (string, []string) {
	var b strings.Builder
	var unknown []string
	last := 0
	for _, m := range varRe.FindAllStringSubmatchIndex(s, -1) {
		b.WriteString(escBraces(s[last:m[0]]))
		last = m[1]
		name := strings.Trim(s[m[2]:m[3]], "{}")
		if p, ok := sc.placeholder(name); ok {
			b.WriteString(p)
			continue
		}
		unknown = append(unknown, "$"+name)
		b.WriteString(escBraces(s[m[0]:m[1]]))
	}
	b.WriteString(escBraces(s[last:]))
	return b.String(), unknown
}

func (sc *scope) placeholder(name string) (string, bool) {
	if name[0] >= '0' && name[0] <= '9' {
		if sc.re == "" {
			return "", false
		}
		if name == "0" {
			return "{re." + sc.re + ".0}", true
		}
		return "{re." + sc.re + "." + name + "}", true
	}
	if sc.named[name] {
		return "{re." + sc.re + "." + name + "}", true
	}
	if sc.vars[name] {
		return "{vars." + name + "}", true
	}
	if p, ok := simpleVars[name]; ok {
		return p, true
	}
	if name == "server_name" && sc.serverName != "" {
		return escBraces(sc.serverName), true
	}
	for _, pre := range []struct{ nginx, caddy string }{
		{"http_", "header."}, {"arg_", "query."}, {"cookie_", "cookie."},
	} {
		if strings.HasPrefix(name, pre.nginx) && len(name) > len(pre.nginx) {
			n := name[len(pre.nginx):]
			if pre.nginx == "http_" {
				n = strings.ReplaceAll(n, "_", "-")
			}
			return "{" + pre.caddy + n + "}", true
		}
	}
	return "", false
}

// escBraces escapes literal braces for Caddy's replacer.
func escBraces(s string) string {
	if !strings.ContainsAny(s, "{}") {
		return s
	}
	return strings.NewReplacer("{", `\{`, "}", `\}`).Replace(s)
}

// quote makes s one Caddyfile token: bare when that is safe, else in
// double quotes (a backslash stays as it is there, except before a
// quote), else in backquotes.
func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\r\n\"'`#;{}\\<") {
		return s
	}
	if !strings.ContainsAny(s, "\"\n\r") && !strings.HasSuffix(s, `\`) {
		return `"` + s + `"`
	}
	if !strings.Contains(s, "`") {
		return keepNL("`" + s + "`")
	}
	return keepNL(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`)
}

// nlMark stands for a newline inside a token until out.add has indented
// the lines (a token's own newlines must not be indented).
const nlMark = "\x00"

func keepNL(s string) string { return strings.ReplaceAll(s, "\n", nlMark) }
