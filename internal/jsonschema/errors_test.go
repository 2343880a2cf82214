package jsonschema

import (
	"errors"
	"strings"
	"testing"
)

func TestValidationErrors(t *testing.T) {
	long := strings.Repeat("é", 100)
	tests := []struct {
		name   string
		schema string
		data   string
		path   string
		msg    string
	}{
		{"root type", `{"type": "object"}`, `[1]`,
			"", `expected object, got array`},
		{"type list", `{"type": ["string", "integer"]}`, `1.5`,
			"", `expected string or integer, got number 1.5`},
		{"null", `{"properties": {"a": {"type": "string"}}}`, `{"a": null}`,
			"a", `expected string, got null`},
		{"boolean", `{"properties": {"a": {"type": "string"}}}`, `{"a": true}`,
			"a", `expected string, got boolean true`},
		{"minimum", `{"properties": {"count": {"type": "integer", "minimum": 1}}}`, `{"count": 0}`,
			"count", `0 is below the minimum 1`},
		{"maximum", `{"properties": {"code": {"maximum": 599}}}`, `{"code": 600}`,
			"code", `600 is above the maximum 599`},
		{"large numbers without exponent", `{"maximum": 1000000}`, `2000000`,
			"", `2000000 is above the maximum 1000000`},
		{"draft-6 exclusive minimum", `{"properties": {"count": {"exclusiveMinimum": 0}}}`, `{"count": 0}`,
			"count", `0 is not greater than the exclusive minimum 0`},
		{"draft-4 exclusive minimum", `{"minimum": 0.5, "exclusiveMinimum": true}`, `0.5`,
			"", `0.5 is not greater than the exclusive minimum 0.5`},
		{"draft-6 exclusive maximum", `{"exclusiveMaximum": 10}`, `10`,
			"", `10 is not less than the exclusive maximum 10`},
		{"draft-4 exclusive maximum", `{"maximum": 10, "exclusiveMaximum": true}`, `10`,
			"", `10 is not less than the exclusive maximum 10`},
		{"enum", `{"properties": {"policy": {"type": "string", "enum": ["local", "redis"]}}}`, `{"policy": "x"}`,
			"policy", `"x" is not one of "local", "redis"`},
		{"enum of mixed values", `{"enum": [1, null, [true], {"a": "b"}]}`, `2`,
			"", `2 is not one of 1, null, [true], {"a":"b"}`},
		{"const", `{"const": "on"}`, `"off"`,
			"", `"off" is not the constant "on"`},
		{"required in an array item", `{"properties": {"consumers": {"type": "array", "items": {"type": "object", "required": ["key"]}}}}`,
			`{"consumers": [{"key": "a"}, {"username": "b"}]}`,
			"consumers[1].key", `required property missing`},
		{"nested object path", `{"properties": {"a": {"properties": {"b": {"properties": {"c": {"type": "integer"}}}}}}}`,
			`{"a": {"b": {"c": "x"}}}`,
			"a.b.c", `expected integer, got string "x"`},
		{"root array", `{"items": {"type": "string"}}`, `["a", "b", 3]`,
			"[2]", `expected string, got number 3`},
		{"nested arrays", `{"items": {"items": {"type": "string"}}}`, `[[], ["a", 1]]`,
			"[1][1]", `expected string, got number 1`},
		{"tuple items", `{"properties": {"t": {"items": [{"type": "string"}, {"type": "integer"}]}}}`, `{"t": ["a", "b"]}`,
			"t[1]", `expected integer, got string "b"`},
		{"key that is not a plain word", `{"properties": {"nodes": {"patternProperties": {".*": {"type": "integer"}}}}}`,
			`{"nodes": {"127.0.0.1:80": "x"}}`,
			`nodes["127.0.0.1:80"]`, `expected integer, got string "x"`},
		{"plain words may have dashes", `{"properties": {"X-Api-Key": {"type": "string"}}}`, `{"X-Api-Key": 1}`,
			"X-Api-Key", `expected string, got number 1`},
		{"additional property", `{"properties": {"key": {}}, "additionalProperties": false}`, `{"key": "k", "extra": 1}`,
			"extra", `additional property not allowed`},
		{"additional property schema", `{"additionalProperties": {"type": "integer"}}`, `{"a": 1, "b": "x"}`,
			"b", `expected integer, got string "x"`},
		{"false property schema", `{"properties": {"a": false}}`, `{"a": 1}`,
			"a", `no value is allowed here`},
		{"items false", `{"properties": {"l": {"items": false}}}`, `{"l": [1]}`,
			"l[0]", `no items are allowed here`},
		{"minItems", `{"properties": {"whitelist": {"minItems": 1}}}`, `{"whitelist": []}`,
			"whitelist", `has 0 items, fewer than the minimum 1`},
		{"maxItems", `{"maxItems": 1}`, `[1, 2]`,
			"", `has 2 items, more than the maximum 1`},
		{"uniqueItems", `{"uniqueItems": true}`, `["a", "b", "c", "b"]`,
			"", `items 1 and 3 are equal, but items must be unique`},
		{"minLength", `{"properties": {"rejected_msg": {"minLength": 1}}}`, `{"rejected_msg": ""}`,
			"rejected_msg", `"" is shorter than the minimum length 1`},
		{"maxLength", `{"maxLength": 3}`, `"abcd"`,
			"", `"abcd" is longer than the maximum length 3`},
		{"long string is cut short", `{"maxLength": 99}`, `"` + long + `"`,
			"", `"` + strings.Repeat("é", 60) + `"... (100 characters) is longer than the maximum length 99`},
		{"pattern", `{"properties": {"id": {"pattern": "^[a-zA-Z0-9-_]+$"}}}`, `{"id": "a b"}`,
			"id", `"a b" does not match the pattern "^[a-zA-Z0-9-_]+$"`},
		{"minProperties", `{"minProperties": 2}`, `{"a": 1}`,
			"", `has 1 properties, fewer than the minimum 2`},
		{"maxProperties", `{"properties": {"labels": {"maxProperties": 1}}}`, `{"labels": {"a": "1", "b": "2"}}`,
			"labels", `has 2 properties, more than the maximum 1`},
		{"dependencies list", `{"dependencies": {"username": ["password"]}}`, `{"username": "u"}`,
			"password", `required property missing (required when "username" is present)`},
		{"dependencies schema", `{"properties": {"auth": {"dependencies": {"algorithm": {"properties": {"secret": {"type": "string"}}}}}}}`,
			`{"auth": {"algorithm": "HS256", "secret": 5}}`,
			"auth.secret", `expected string, got number 5`},
		{"allOf passes the branch error through", `{"properties": {"a": {"allOf": [{"type": "object"}, {"required": ["b"]}]}}}`, `{"a": {}}`,
			"a.b", `required property missing`},
		{"anyOf lists why each branch failed", `{"properties": {"ip": {"anyOf": [{"type": "string", "pattern": "^[0-9.]+$"}, {"type": "integer"}]}}}`,
			`{"ip": "x"}`,
			"ip", `does not match any schema in anyOf (anyOf[0]: "x" does not match the pattern "^[0-9.]+$"; anyOf[1]: expected integer, got string "x")`},
		{"oneOf with none matching", `{"oneOf": [{"required": ["count"]}, {"required": ["rules"]}]}`, `{}`,
			"", `does not match any schema in oneOf (oneOf[0]: count: required property missing; oneOf[1]: rules: required property missing)`},
		{"oneOf with more than one matching", `{"oneOf": [{"required": ["count"]}, {"required": ["rules"]}]}`, `{"count": 1, "rules": []}`,
			"", `matches more than one schema in oneOf (oneOf[0] and oneOf[1])`},
		{"not", `{"properties": {"a": {"not": {"type": "string"}}}}`, `{"a": "x"}`,
			"a", `must not match the schema in not`},
		{"false schema", `false`, `1`,
			"", `no value is allowed here`},
		{"empty enum from an empty Lua table", `{"enum": {}}`, `1`,
			"", `1 is not allowed: the enum is empty`},
		{"the first property in sorted order fails first", `{"properties": {"a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "string"}}}`,
			`{"c": 1, "b": 2, "a": 3}`,
			"a", `expected string, got number 3`},
		{"required is checked before property values", `{"properties": {"a": {"type": "string"}}, "required": ["z"]}`, `{"a": 1}`,
			"z", `required property missing`},
		{"type is checked before other keywords", `{"type": "string", "minLength": 5, "enum": ["abcdef"]}`, `1`,
			"", `expected string, got number 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustCompile(t, decode(t, tt.schema))
			out, err := s.Validate(decode(t, tt.data))
			if err == nil {
				t.Fatalf("Validate(%s) = %s, want an error", tt.data, encode(t, out))
			}
			if out != nil {
				t.Errorf("Validate returned %#v along with the error, want nil", out)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is a %T, want a *ValidationError", err, err)
			}
			if ve.Path != tt.path || ve.Message != tt.msg {
				t.Errorf("got path %q, message %q\nwant path %q, message %q", ve.Path, ve.Message, tt.path, tt.msg)
			}
			want := tt.msg
			if tt.path != "" {
				want = tt.path + ": " + tt.msg
			}
			if err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
}

// TestDeterministic validates a value with many failing properties many
// times; map iteration order must not change which one is reported.
func TestDeterministic(t *testing.T) {
	props := obj{}
	data := obj{}
	for _, k := range []string{"m", "d", "x", "b", "q", "e", "k", "a1", "z", "c"} {
		props[k] = obj{"type": "string"}
		data[k] = 1.0
	}
	s := mustCompile(t, obj{"properties": props, "patternProperties": obj{"^a": obj{"minimum": 5}, "^.1$": obj{"maximum": 0}}})
	for range 100 {
		_, err := s.Validate(data)
		if err == nil || err.Error() != "a1: expected string, got number 1" {
			t.Fatalf("got %v, want a1: expected string, got number 1", err)
		}
	}
	delete(data, "a1")
	data["a2"] = 1.0
	for range 100 {
		_, err := s.Validate(data)
		if err == nil || err.Error() != "a2: 1 is below the minimum 5" {
			t.Fatalf("got %v, want a2: 1 is below the minimum 5", err)
		}
	}
}
