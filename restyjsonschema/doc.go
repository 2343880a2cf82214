// Package restyjsonschema provides the Lua module resty.jsonschema: JSON
// Schema validation for request-validation (and any plugin or script),
// backed by caddy-resty's internal/jsonschema (the keywords its doc lists:
// type, enum, const, required, properties, patternProperties,
// additionalProperties, items, min/maxItems, uniqueItems, min/maxLength,
// pattern (RE2), minimum/maximum, exclusive bounds, min/maxProperties,
// dependencies, allOf/anyOf/oneOf/not; no $ref, format ignored):
//
//	local jsonschema = require "resty.jsonschema"
//	local v, err = jsonschema.new({type = "object", required = {"name"}})
//	local ok, err = v:validate({name = "x"})     -- true, or false and err
//	local ok, err = v:validate_json('{"a": 1}')  -- the same, on JSON text
//
// new compiles a schema (a Lua table as cjson would encode it) and returns
// a validator, or nil and an error naming the bad keyword's place
// ("properties.age.minimum: must be a number").
//
// validate checks a Lua value and returns true, or false and an error
// naming the failing place ("name: required property missing", "tags[2]:
// 5 is not of type string"). Lua cannot tell an empty array from an empty
// object: an empty table is an object, unless it has cjson's array_mt or
// empty_array_mt metatable. Defaults are not filled in.
//
// validate_json decodes JSON text in Go and checks it, without building
// Lua tables: the fast and exact path for request bodies (an empty array
// stays an array). Malformed JSON, or text after the value, is false and
// "invalid JSON: …".
//
// A validator is immutable and may be kept in a module-level variable or a
// plugin's conf (built once in init).
package restyjsonschema
