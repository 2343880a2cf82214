package restyjsonschema

import (
	"testing"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/luaplugin/luatest"

	_ "github.com/caddy-resty/caddy-resty/cjson"
)

func run(t *testing.T, code string) string {
	t.Helper()
	return luatest.RunOK(t, luatest.NewPool(t, luaplugin.Config{}), code)
}

func TestValidate(t *testing.T) {
	out := run(t, `
local jsonschema = require "resty.jsonschema"
local v = assert(jsonschema.new({
	type = "object",
	required = {"name"},
	properties = {
		name = {type = "string", minLength = 1},
		age = {type = "integer", minimum = 0},
		tags = {type = "array", items = {type = "string"}},
	},
}))
local function show(a, b) ngx.say(tostring(a), " ", tostring(b)) end
show(v:validate({name = "x", age = 3, tags = {"a", "b"}}))
show(v:validate({age = 3}))
show(v:validate({name = "x", age = -1}))
show(v:validate({name = "x", tags = {"a", 5}}))
show(v:validate("str"))
show(v:validate({name = "x", f = function() end}))
show(v:validate_json('{"name": "x", "tags": []}'))
show(v:validate_json('{"name": ""}'))
show(v:validate_json('{"name": "x"'))
show(v:validate_json('{"name": "x"} x'))
show(v:validate_json(''))
show(jsonschema.validate(v, {name = "y"}))
local cjson = require "cjson"
local arr = assert(jsonschema.new({type = "array"}))
show(arr:validate({}))
show(arr:validate(setmetatable({}, cjson.empty_array_mt)))
show(arr:validate_json("[]"))
`)
	luatest.ExpectLines(t, out,
		"true nil",
		"false name: required property missing",
		"false age: -1 is below the minimum 0",
		"false tags[1]: expected string, got number 5",
		`false expected object, got string "str"`,
		`false "f": a function is not a JSON value`,
		"true nil",
		`false name: "" is shorter than the minimum length 1`,
		"false invalid JSON: unexpected EOF",
		"false invalid JSON: data after the value",
		"false invalid JSON: empty",
		"true nil",
		"false expected array, got object",
		"true nil",
		"true nil",
	)
}

func TestNewErrors(t *testing.T) {
	out := run(t, `
local jsonschema = require "resty.jsonschema"
for _, s in ipairs({
	{type = "objekt"},
	{properties = {age = {minimum = "x"}}},
	{properties = {name = {pattern = "("}}},
	{required = "name"},
}) do
	local v, err = jsonschema.new(s)
	ngx.say(tostring(v), " ", err)
end
local v, err = jsonschema.new({[true] = 1})
ngx.say(tostring(v), " ", err)
`)
	luatest.ExpectLines(t, out,
		`nil type: unknown type "objekt" (want object, array, string, number, integer, boolean or null)`,
		"nil properties.age.minimum: must be a number",
		"nil properties.name.pattern: invalid regular expression: error parsing regexp: missing closing ): `(`",
		"nil required: must be a list of strings",
		"nil schema: a boolean key is not a JSON object key",
	)
}
