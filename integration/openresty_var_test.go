package integration

import "testing"

// lua-nginx-module t/045-ngx-var.t, rebuilt. `set $var 32` is Caddy's
// `vars var 32` (nginx lower-cases variable names when it declares them).
func TestOpenRestyVar(t *testing.T) {
	const f = "lua-nginx-module t/045-ngx-var.t "
	coreSuite(t, "", []coreCase{
		{src: f + "TEST 1: set indexed variables to nil", site: "vars var 32", content: `
ngx.say("old: ", ngx.var.var)
ngx.var.var = nil
ngx.say("new: ", ngx.var.var)`, body: "old: 32\nnew: nil\n"},
		{src: f + "TEST 2: set variables with set_handler to nil", content: `
ngx.say("old: ", ngx.var.args)
ngx.var.args = nil
ngx.say("new: ", ngx.var.args)`, req: "GET /test?hello=world", body: "old: hello=world\nnew: nil\n"},
		{src: f + "TEST 3: reference nonexistent variable", site: "vars var 32", content: `ngx.say("value: ", ngx.var.notfound)`,
			body: "value: nil\n"},
		{src: f + "TEST 5: variable name is caseless", site: "vars var 32", content: `ngx.say("value: ", ngx.var.VAR)`,
			body: "value: 32\n"},
		{src: f + "TEST 9: get a bad variable name", content: `ngx.say("value: ", ngx.var[true])`, status: 500, anyBody: true,
			logs: []string{"bad variable name"}},
		{src: f + "TEST 10: set a bad variable name", content: `ngx.var[true] = 56`, status: 500, anyBody: true,
			logs: []string{"bad variable name"}},
		{src: f + "TEST 11: set a variable that is not changeable", content: `ngx.var.query_string = 56`,
			req: "GET /test?hello", status: 500, anyBody: true, logs: []string{`variable "query_string" not changeable`}},
	})
}
