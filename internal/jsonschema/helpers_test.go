package jsonschema

import (
	"encoding/json"
	"testing"
)

// obj and arr write schemas and values the way they arrive from Lua.
type (
	obj = map[string]any
	arr = []any
)

// decode decodes the JSON text src as encoding/json does into an any.
func decode(t *testing.T, src string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(src), &v); err != nil {
		t.Fatalf("decoding %s: %v", src, err)
	}
	return v
}

// mustCompile compiles schema, failing the test on error.
func mustCompile(t *testing.T, schema any) *Schema {
	t.Helper()
	s, err := Compile(schema)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

// encode renders v as JSON for comparisons and failure messages.
func encode(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding %#v: %v", v, err)
	}
	return string(b)
}
