package jsonschema

import (
	"testing"
)

// TestLenientEmptyTables covers schemas converted from Lua, where an empty
// table arrives as an empty map or an empty slice, whichever the keyword
// does not expect.
func TestLenientEmptyTables(t *testing.T) {
	tests := []struct {
		name    string
		schema  any
		valid   []string // JSON values
		invalid []string
	}{
		{"properties as an empty slice (key-auth)",
			obj{"type": "object", "additionalProperties": false, "properties": arr{}},
			[]string{`{}`},
			[]string{`{"key": "k"}`, `[]`}},
		{"properties as an empty map",
			obj{"type": "object", "additionalProperties": false, "properties": obj{}},
			[]string{`{}`},
			[]string{`{"key": "k"}`}},
		{"required as an empty map",
			obj{"type": "object", "required": obj{}},
			[]string{`{}`, `{"a": 1}`},
			nil},
		{"required as an empty slice",
			obj{"required": arr{}},
			[]string{`{}`},
			nil},
		{"a property schema as an empty slice",
			obj{"properties": obj{"a": arr{}}, "required": arr{"a"}},
			[]string{`{"a": 1}`, `{"a": [1]}`, `{"a": {"b": null}}`},
			[]string{`{}`}},
		{"items as an empty slice",
			obj{"type": "array", "items": arr{}},
			[]string{`[]`, `[1, "x", {}]`},
			[]string{`{}`}},
		{"items as an empty map",
			obj{"type": "array", "items": obj{}},
			[]string{`[]`, `[1, "x", {}]`},
			nil},
		{"additionalProperties as an empty slice",
			obj{"properties": obj{"a": obj{"type": "string"}}, "additionalProperties": arr{}},
			[]string{`{"a": "x", "b": 1}`},
			[]string{`{"a": 1}`}},
		{"patternProperties as an empty slice",
			obj{"patternProperties": arr{}},
			[]string{`{"a": 1}`},
			nil},
		{"dependencies as an empty slice",
			obj{"dependencies": arr{}},
			[]string{`{"a": 1}`},
			nil},
		{"a dependency as an empty table, either way",
			obj{"dependencies": obj{"a": arr{}, "b": obj{}}},
			[]string{`{"a": 1, "b": 2}`},
			nil},
		{"enum as an empty map rejects everything",
			obj{"enum": obj{}},
			nil,
			[]string{`1`, `null`, `{}`, `[]`}},
		{"not as an empty slice rejects everything",
			obj{"not": arr{}},
			nil,
			[]string{`1`, `{}`}},
		{"an empty slice in allOf",
			obj{"allOf": arr{arr{}, obj{"type": "string"}}},
			[]string{`"x"`},
			[]string{`1`}},
		{"const as an empty map matches both empty values",
			obj{"const": obj{}},
			[]string{`{}`, `[]`},
			[]string{`{"a": 1}`, `[1]`, `null`}},
		{"const as an empty slice matches both empty values",
			obj{"const": arr{}},
			[]string{`{}`, `[]`},
			[]string{`""`}},
		{"nested empty tables in enum",
			obj{"enum": arr{obj{"a": arr{}}, arr{obj{}}}},
			[]string{`{"a": {}}`, `{"a": []}`, `[[]]`, `[{}]`},
			[]string{`{"a": [1]}`, `[]`}},
		{"the whole schema as an empty slice",
			arr{},
			[]string{`1`, `{}`},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustCompile(t, tt.schema)
			for _, v := range tt.valid {
				if _, err := s.Validate(decode(t, v)); err != nil {
					t.Errorf("Validate(%s): %v", v, err)
				}
			}
			for _, v := range tt.invalid {
				if _, err := s.Validate(decode(t, v)); err == nil {
					t.Errorf("Validate(%s): want an error", v)
				}
			}
		})
	}
}

// TestLenientDefaults covers empty-table defaults: they take the shape
// their schema's type asks for.
func TestLenientDefaults(t *testing.T) {
	tests := []struct {
		name   string
		schema any
		want   string // the result of validating {}
	}{
		{"an empty map default of an array property",
			obj{"properties": obj{"l": obj{"type": "array", "default": obj{}}}},
			`{"l":[]}`},
		{"an empty slice default of an object property",
			obj{"properties": obj{"o": obj{"type": "object", "default": arr{}}}},
			`{"o":{}}`},
		{"an empty default without a type stays as given",
			obj{"properties": obj{"l": obj{"default": arr{}}, "o": obj{"default": obj{}}}},
			`{"l":[],"o":{}}`},
		{"an empty default of a property that may be either stays as given",
			obj{"properties": obj{"x": obj{"type": arr{"array", "object"}, "default": obj{}}}},
			`{"x":{}}`},
		{"empty tables inside a default object",
			obj{"properties": obj{"o": obj{
				"type":       "object",
				"default":    obj{"list": obj{}, "map": arr{}},
				"properties": obj{"list": obj{"type": "array"}, "map": obj{"type": "object"}},
			}}},
			`{"o":{"list":[],"map":{}}}`},
		{"empty tables inside a default array",
			obj{"properties": obj{"l": obj{
				"type":    "array",
				"default": arr{obj{}, obj{}},
				"items":   obj{"type": "array"},
			}}},
			`{"l":[[],[]]}`},
		{"empty tables inside a default tuple",
			obj{"properties": obj{"l": obj{
				"default": arr{obj{}, arr{}},
				"items":   arr{obj{"type": "array"}, obj{"type": "object"}},
			}}},
			`{"l":[[],{}]}`},
		{"empty tables under patternProperties and additionalProperties",
			obj{"properties": obj{"o": obj{
				"default":              obj{"p1": obj{}, "other": arr{}},
				"patternProperties":    obj{"^p": obj{"type": "array"}},
				"additionalProperties": obj{"type": "object"},
			}}},
			`{"o":{"other":{},"p1":[]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustCompile(t, tt.schema)
			out, err := s.Validate(obj{})
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got := encode(t, out); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
