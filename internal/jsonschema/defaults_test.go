package jsonschema

import (
	"reflect"
	"sync"
	"testing"
)

func TestDefaults(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		data   string
		want   string
	}{
		{"missing properties get their defaults",
			`{"type": "object", "properties": {
				"key": {"type": "string", "default": "remote_addr"},
				"code": {"type": "integer", "default": 503},
				"on": {"type": "boolean", "default": true},
				"list": {"type": "array", "default": [200, 302]},
				"none": {"type": "string"}}}`,
			`{}`,
			`{"code":503,"key":"remote_addr","list":[200,302],"on":true}`},
		{"given values are kept, even false, zero, empty and null",
			`{"properties": {
				"a": {"default": true}, "b": {"default": 1}, "c": {"default": "x"},
				"d": {"default": [1]}, "e": {"default": {"k": 1}}, "f": {"default": "y"}}}`,
			`{"a": false, "b": 0, "c": "", "d": [], "e": {}, "f": null}`,
			`{"a":false,"b":0,"c":"","d":[],"e":{},"f":null}`},
		{"a null default is a default",
			`{"properties": {"a": {"default": null}}}`,
			`{}`,
			`{"a":null}`},
		{"nested objects get defaults when present",
			`{"properties": {"checks": {"type": "object", "properties": {
				"active": {"type": "object", "properties": {
					"type": {"type": "string", "default": "http"},
					"healthy": {"type": "object", "properties": {
						"interval": {"type": "integer", "default": 1},
						"successes": {"type": "integer", "default": 2}}}}}}}}}`,
			`{"checks": {"active": {"healthy": {"successes": 5}}}}`,
			`{"checks":{"active":{"healthy":{"interval":1,"successes":5},"type":"http"}}}`},
		{"absent nested objects without a default are not created",
			`{"properties": {"o": {"type": "object", "properties": {"a": {"default": 1}}}}}`,
			`{}`,
			`{}`},
		{"a default object gets the defaults of its own properties",
			`{"properties": {"timeout": {"type": "object", "default": {"send": 5},
				"properties": {"connect": {"default": 60}, "send": {"default": 60}, "read": {"default": 60}}}}}`,
			`{}`,
			`{"timeout":{"connect":60,"read":60,"send":5}}`},
		{"array items get defaults",
			`{"properties": {"rules": {"type": "array", "items": {"type": "object", "properties": {
				"key": {"type": "string"}, "mode": {"type": "string", "default": "var"}}}}}}`,
			`{"rules": [{"key": "a"}, {"key": "b", "mode": "constant"}, {"key": "c"}]}`,
			`{"rules":[{"key":"a","mode":"var"},{"key":"b","mode":"constant"},{"key":"c","mode":"var"}]}`},
		{"tuple items get defaults",
			`{"items": [{"properties": {"a": {"default": 1}}}, {"properties": {"b": {"default": 2}}}]}`,
			`[{}, {}, {}]`,
			`[{"a":1},{"b":2},{}]`},
		{"arrays of arrays",
			`{"items": {"items": {"properties": {"a": {"default": 1}}}}}`,
			`[[{}], [], [{"a": 0}, {}]]`,
			`[[{"a":1}],[],[{"a":0},{"a":1}]]`},
		{"patternProperties values get defaults",
			`{"properties": {"nodes": {"patternProperties": {".*": {"type": "object", "properties": {"weight": {"default": 1}}}}}}}`,
			`{"nodes": {"10.0.0.1:80": {}, "10.0.0.2:80": {"weight": 5}}}`,
			`{"nodes":{"10.0.0.1:80":{"weight":1},"10.0.0.2:80":{"weight":5}}}`},
		{"additionalProperties values get defaults",
			`{"additionalProperties": {"properties": {"on": {"default": true}}}}`,
			`{"x": {}, "y": {"on": false}}`,
			`{"x":{"on":true},"y":{"on":false}}`},
		{"a property in both properties and patternProperties gets both defaults",
			`{"properties": {"ab": {"properties": {"x": {"default": 1}}}}, "patternProperties": {"^a": {"properties": {"y": {"default": 2}}}}}`,
			`{"ab": {}}`,
			`{"ab":{"x":1,"y":2}}`},
		{"defaults inside anyOf, oneOf, allOf and not are not applied",
			`{"allOf": [{"properties": {"a": {"default": 1}}}],
			  "anyOf": [{"properties": {"b": {"default": 1}}}],
			  "oneOf": [{"properties": {"c": {"default": 1}}}],
			  "not": {"properties": {"d": {"default": 1}}, "required": ["zzz"]}}`,
			`{}`,
			`{}`},
		{"combinators see the defaults of the properties",
			`{"properties": {"mode": {"default": "a"}}, "anyOf": [{"required": ["mode"]}]}`,
			`{}`,
			`{"mode":"a"}`},
		{"a root default is not applied to a given null",
			`{"type": ["object", "null"], "default": {}}`,
			`null`,
			`null`},
		{"non-objects are left alone",
			`{"properties": {"a": {"default": 1}}}`,
			`"x"`,
			`"x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustCompile(t, decode(t, tt.schema))
			in := decode(t, tt.data)
			before := encode(t, in)
			out, err := s.Validate(in)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got := encode(t, out); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if after := encode(t, in); after != before {
				t.Errorf("the input changed from %s to %s", before, after)
			}
		})
	}
}

func TestRequiredWithDefault(t *testing.T) {
	s := mustCompile(t, obj{"properties": obj{"a": obj{"default": 1.0}}, "required": arr{"a"}})
	if _, err := s.Validate(obj{}); err == nil || err.Error() != "a: required property missing" {
		t.Errorf("got %v, want a: required property missing", err)
	}
}

// TestDefaultsCopyOnWrite checks that Validate copies exactly the objects
// and arrays on the way to a filled default, and shares the rest.
func TestDefaultsCopyOnWrite(t *testing.T) {
	s := mustCompile(t, decode(t, `{"properties": {
		"filled": {"properties": {"inner": {"items": {"properties": {"x": {"default": 1}}}}}},
		"untouched": {"properties": {"y": {"default": 2}}}}}`))
	untouched := obj{"y": 3.0}
	list := arr{obj{"x": 0.0}, obj{}}
	in := obj{"filled": obj{"inner": list}, "untouched": untouched}

	out, err := s.Validate(in)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if got, want := encode(t, out), `{"filled":{"inner":[{"x":0},{"x":1}]},"untouched":{"y":3}}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if _, ok := list[1].(obj)["x"]; ok {
		t.Errorf("the input item was filled in place")
	}
	o := out.(obj)
	if !same(o["untouched"], untouched) {
		t.Errorf("an object with nothing to fill was copied")
	}
	if !same(o["filled"].(obj)["inner"].([]any)[0], list[0]) {
		t.Errorf("an array item with nothing to fill was copied")
	}
	if same(o["filled"].(obj)["inner"], list) {
		t.Errorf("an array with a filled item was not copied")
	}
	if same(o, in) {
		t.Errorf("the root object was not copied")
	}

	// With nothing to fill, Validate returns its input.
	full := obj{"filled": obj{"inner": arr{obj{"x": 1.0}}}, "untouched": obj{"y": 1.0}}
	out, err = s.Validate(full)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if !same(out, full) {
		t.Errorf("a value with nothing to fill was copied")
	}
}

// same reports whether a and b are the same map or slice.
func same(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	return va.Kind() == vb.Kind() && va.Pointer() == vb.Pointer() && va.Len() == vb.Len()
}

// TestDefaultsAreFresh checks that each Validate gets its own copy of a
// default: changing one result must not change the next.
func TestDefaultsAreFresh(t *testing.T) {
	s := mustCompile(t, decode(t, `{"properties": {
		"list": {"default": [200, 302]},
		"obj": {"type": "object", "default": {"a": {"b": 1}}}}}`))
	first, err := s.Validate(obj{})
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	f := first.(obj)
	f["list"].([]any)[0] = "changed"
	f["obj"].(obj)["a"].(obj)["b"] = "changed"

	second, err := s.Validate(obj{})
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if got, want := encode(t, second), `{"list":[200,302],"obj":{"a":{"b":1}}}`; got != want {
		t.Errorf("second result %s, want %s", got, want)
	}
}

// TestConcurrentValidate runs Validate on one Schema from many goroutines;
// with -race it checks that Validate does not write shared state.
func TestConcurrentValidate(t *testing.T) {
	s := mustCompile(t, limitCountSchema())
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 50 {
				in := obj{"count": float64(i + j + 1), "time_window": 60.0}
				out, err := s.Validate(in)
				if err != nil {
					t.Errorf("Validate: %v", err)
					return
				}
				o := out.(obj)
				o["policy"] = "mutated" // each result is private
				if _, err := s.Validate(obj{"count": 0.0, "time_window": 60.0}); err == nil {
					t.Errorf("count 0: want an error")
					return
				}
			}
		})
	}
	wg.Wait()
	out, err := s.Validate(obj{"count": 1.0, "time_window": 1.0})
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if p := out.(obj)["policy"]; p != "local" {
		t.Errorf("policy default is %v after the goroutines, want local", p)
	}
}
