package jsonschema

import (
	"testing"
)

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name   string
		schema any
		want   string
	}{
		{"minimum not a number", obj{"properties": obj{"count": obj{"minimum": "x"}}},
			`properties.count.minimum: must be a number`},
		{"maximum not a number", obj{"maximum": true},
			`maximum: must be a number`},
		{"type a number", obj{"type": 5.0},
			`type: must be a type name or a list of type names`},
		{"type unknown", obj{"type": "int"},
			`type: unknown type "int" (want object, array, string, number, integer, boolean or null)`},
		{"type list with a number", obj{"type": arr{"string", 5.0}},
			`type[1]: must be a type name, got number 5`},
		{"type list with an unknown type", obj{"type": arr{"string", "float"}},
			`type: unknown type "float" (want object, array, string, number, integer, boolean or null)`},
		{"type empty list", obj{"type": arr{}},
			`type: must not be an empty list`},
		{"type empty table", obj{"type": obj{}},
			`type: must not be an empty list`},
		{"type non-empty object", obj{"type": obj{"a": "string"}},
			`type: must be a type name or a list of type names`},
		{"required a string", obj{"required": "a"},
			`required: must be a list of strings`},
		{"required non-empty object", obj{"required": obj{"a": true}},
			`required: must be a list of strings`},
		{"required with a number", obj{"properties": obj{"a": obj{"required": arr{"x", 1.0}}}},
			`properties.a.required[1]: must be a string, got number 1`},
		{"enum not a list", obj{"enum": "a"},
			`enum: must be a list`},
		{"properties not an object", obj{"properties": "a"},
			`properties: must be an object of property schemas`},
		{"properties a non-empty list", obj{"properties": arr{obj{}}},
			`properties: must be an object of property schemas`},
		{"property schema a number", obj{"properties": obj{"a": 5.0}},
			`properties.a: must be a schema (an object or a boolean), got number 5`},
		{"property schema a non-empty list", obj{"properties": obj{"a": arr{"x"}}},
			`properties.a: must be a schema (an object or a boolean), got a non-empty array`},
		{"property name that is not a plain word", obj{"properties": obj{"a.b": obj{"minLength": -1.0}}},
			`properties["a.b"].minLength: must be a non-negative integer`},
		{"patternProperties invalid regexp", obj{"patternProperties": obj{"(": obj{}}},
			"patternProperties[\"(\"]: invalid regular expression: error parsing regexp: missing closing ): `(`"},
		{"patternProperties not an object", obj{"patternProperties": 1.0},
			`patternProperties: must be an object of property schemas`},
		{"additionalProperties a string", obj{"additionalProperties": "no"},
			`additionalProperties: must be a schema (an object or a boolean), got string "no"`},
		{"minItems negative", obj{"minItems": -1.0},
			`minItems: must be a non-negative integer`},
		{"maxItems a fraction", obj{"maxItems": 1.5},
			`maxItems: must be a non-negative integer`},
		{"minLength a string", obj{"minLength": "3"},
			`minLength: must be a non-negative integer`},
		{"maxLength huge", obj{"maxLength": 1e20},
			`maxLength: must be a non-negative integer`},
		{"minProperties a boolean", obj{"minProperties": true},
			`minProperties: must be a non-negative integer`},
		{"maxProperties negative", obj{"maxProperties": -2.0},
			`maxProperties: must be a non-negative integer`},
		{"uniqueItems a string", obj{"uniqueItems": "yes"},
			`uniqueItems: must be a boolean`},
		{"pattern not a string", obj{"pattern": 1.0},
			`pattern: must be a string`},
		{"pattern invalid", obj{"properties": obj{"host": obj{"pattern": "a(?=b)"}}},
			"properties.host.pattern: invalid regular expression: error parsing regexp: invalid or unsupported Perl syntax: `(?=`"},
		{"draft-4 exclusiveMinimum without minimum", obj{"exclusiveMinimum": true},
			`exclusiveMinimum: true needs minimum alongside`},
		{"draft-4 exclusiveMaximum without maximum", obj{"exclusiveMaximum": true},
			`exclusiveMaximum: true needs maximum alongside`},
		{"exclusiveMaximum a string", obj{"exclusiveMaximum": "x"},
			`exclusiveMaximum: must be a number or a boolean`},
		{"anyOf empty", obj{"anyOf": arr{}},
			`anyOf: must be a non-empty list of schemas`},
		{"allOf empty table", obj{"allOf": obj{}},
			`allOf: must be a non-empty list of schemas`},
		{"oneOf not a list", obj{"oneOf": obj{"a": obj{}}},
			`oneOf: must be a list`},
		{"anyOf item a number", obj{"anyOf": arr{obj{}, 5.0}},
			`anyOf[1]: must be a schema (an object or a boolean), got number 5`},
		{"not a string", obj{"not": "x"},
			`not: must be a schema (an object or a boolean), got string "x"`},
		{"items a string", obj{"items": "x"},
			`items: must be a schema (an object or a boolean), got string "x"`},
		{"tuple item invalid", obj{"items": arr{obj{}, obj{"type": 5.0}}},
			`items[1].type: must be a type name or a list of type names`},
		{"dependencies not an object", obj{"dependencies": "x"},
			`dependencies: must be an object of property lists or schemas`},
		{"dependency a number", obj{"dependencies": obj{"a": 5.0}},
			`dependencies.a: must be a list of property names or a schema, got number 5`},
		{"dependency list with a number", obj{"dependencies": obj{"a": arr{"b", 1.0}}},
			`dependencies.a[1]: must be a string, got number 1`},
		{"dependency schema invalid", obj{"dependencies": obj{"a": obj{"minimum": "x"}}},
			`dependencies.a.minimum: must be a number`},
		{"default of the wrong type", obj{"properties": obj{"n": obj{"type": "integer", "default": "x"}}},
			`properties.n.default: does not match its schema: expected integer, got string "x"`},
		{"default out of range", obj{"properties": obj{"code": obj{"type": "integer", "minimum": 200, "default": 100.0}}},
			`properties.code.default: does not match its schema: 100 is below the minimum 200`},
		{"default object missing a required property", obj{"properties": obj{"o": obj{"default": obj{}, "type": "object", "required": arr{"k"}}}},
			`properties.o.default: does not match its schema: k: required property missing`},
		{"deep path", obj{"properties": obj{"rules": obj{"type": "array", "items": obj{"properties": obj{"count": obj{"oneOf": arr{obj{"exclusiveMinimum": "0"}}}}}}}},
			`properties.rules.items.properties.count.oneOf[0].exclusiveMinimum: must be a number or a boolean`},
		{"root a string", "x",
			`schema: must be a schema (an object or a boolean), got string "x"`},
		{"root a number", 1.0,
			`schema: must be a schema (an object or a boolean), got number 1`},
		{"root a non-empty list", arr{obj{}},
			`schema: must be a schema (an object or a boolean), got a non-empty array`},
		{"root an unsupported Go type", map[string]string{"type": "string"},
			`schema: must be a schema (an object or a boolean), got a Go map[string]string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Compile(tt.schema)
			if err == nil {
				t.Fatalf("Compile succeeded (%v), want error %q", s, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Compile error\n got: %s\nwant: %s", err, tt.want)
			}
			if s != nil {
				t.Errorf("Compile returned a Schema along with the error")
			}
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	tests := []struct {
		name   string
		schema any
	}{
		{"unknown keywords, whatever their values", obj{"title": 1.0, "description": arr{}, "format": "ipv4", "x-anything": obj{"type": 5.0}, "$comment": nil}},
		{"if/then/else are not supported, so ignored", obj{"if": obj{"properties": obj{"policy": obj{"enum": arr{"redis"}}}}, "then": obj{"required": arr{"redis_host"}}}},
		{"boolean true", true},
		{"boolean false", false},
		{"an empty map", obj{}},
		{"an empty slice", arr{}},
		{"integer-valued Go numbers", obj{"minimum": 1, "maxLength": int64(5), "minItems": uint8(0), "exclusiveMaximum": float32(2.5)}},
		{"draft-4 exclusive bounds set to false", obj{"exclusiveMinimum": false, "exclusiveMaximum": false}},
		{"RE2 handles the patterns APISIX uses", obj{"properties": obj{
			"id":   obj{"pattern": `^[a-zA-Z0-9-_.]+$`},
			"host": obj{"pattern": `^\*?[0-9a-zA-Z-._]+$`},
			"uri":  obj{"pattern": `^[^\/]+:\/\/([\da-zA-Z.-]+|\[[\da-fA-F:]+\])(:\d+)?`},
			"ipv6": obj{"pattern": `^([a-fA-F0-9]{0,4}:){1,8}(:[a-fA-F0-9]{0,4}){0,8}([a-fA-F0-9]{0,4})?/[0-9]{1,3}$`},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Compile(tt.schema); err != nil {
				t.Errorf("Compile: %v", err)
			}
		})
	}
}

func TestNilSchema(t *testing.T) {
	in := obj{"a": arr{1.0, "x"}}
	var s *Schema
	out, err := s.Validate(in)
	if err != nil {
		t.Fatalf("nil Schema: %v", err)
	}
	if encode(t, out) != encode(t, in) {
		t.Errorf("nil Schema returned %s, want the input %s", encode(t, out), encode(t, in))
	}
	out.(obj)["b"] = 1.0 // the very same map
	if _, ok := in["b"]; !ok {
		t.Errorf("nil Schema returned a copy, want the input itself")
	}

	s, err = Compile(nil)
	if err != nil {
		t.Fatalf("Compile(nil): %v", err)
	}
	for _, v := range []any{nil, 1.0, "x", obj{}, arr{obj{"k": true}}} {
		if _, err := s.Validate(v); err != nil {
			t.Errorf("Compile(nil).Validate(%v): %v", v, err)
		}
	}
	var zero Schema
	if _, err := zero.Validate("x"); err != nil {
		t.Errorf("zero Schema: %v", err)
	}
}

// TestCompileDoesNotKeepSchema changes the schema value after Compile; the
// compiled Schema must not see it.
func TestCompileDoesNotKeepSchema(t *testing.T) {
	enum := arr{"a", obj{"k": "v"}}
	def := obj{"x": 1.0}
	raw := obj{"properties": obj{
		"e": obj{"enum": enum},
		"d": obj{"type": "object", "default": def},
	}}
	s := mustCompile(t, raw)
	enum[0] = "changed"
	enum[1].(obj)["k"] = "changed"
	def["x"] = 2.0
	raw["properties"].(obj)["e"] = obj{"type": "integer"}

	out, err := s.Validate(obj{"e": "a"})
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if got, want := encode(t, out), `{"d":{"x":1},"e":"a"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if _, err := s.Validate(obj{"e": obj{"k": "v"}}); err != nil {
		t.Errorf("Validate: %v", err)
	}
}
