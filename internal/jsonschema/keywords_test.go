package jsonschema

import (
	"errors"
	"testing"
)

// suiteCase is one data case of a keyword group, after the layout of the
// JSON-Schema-Test-Suite: a description, the data as JSON, and whether it
// is valid.
type suiteCase struct {
	desc  string
	data  string
	valid bool
}

// suiteGroup is one schema, as JSON, with the cases checked against it.
type suiteGroup struct {
	desc   string
	schema string
	cases  []suiteCase
}

// keywordGroups follow the rules of the JSON Schema spec (draft 4 and
// draft 7) for each supported keyword; most mirror cases of the
// JSON-Schema-Test-Suite.
var keywordGroups = []suiteGroup{
	{"type integer", `{"type": "integer"}`, []suiteCase{
		{"an integer", `1`, true},
		{"a float with zero fractional part", `1.0`, true},
		{"a float", `1.1`, false},
		{"a big whole number", `1e300`, true},
		{"a string", `"foo"`, false},
		{"a string that looks like an integer", `"1"`, false},
		{"an object", `{}`, false},
		{"an array", `[]`, false},
		{"a boolean", `true`, false},
		{"null", `null`, false},
	}},
	{"type number", `{"type": "number"}`, []suiteCase{
		{"an integer", `1`, true},
		{"a float", `1.1`, true},
		{"a negative float", `-0.5`, true},
		{"a string that looks like a number", `"1"`, false},
		{"a boolean", `false`, false},
		{"null", `null`, false},
	}},
	{"type string", `{"type": "string"}`, []suiteCase{
		{"a string", `"foo"`, true},
		{"an empty string", `""`, true},
		{"a number", `1`, false},
		{"an object", `{}`, false},
		{"null", `null`, false},
	}},
	{"type object", `{"type": "object"}`, []suiteCase{
		{"an object", `{"a": 1}`, true},
		{"an empty object", `{}`, true},
		{"an empty array", `[]`, false},
		{"a string", `"{}"`, false},
		{"null", `null`, false},
	}},
	{"type array", `{"type": "array"}`, []suiteCase{
		{"an array", `[1, "a"]`, true},
		{"an empty array", `[]`, true},
		{"an empty object", `{}`, false},
		{"a string", `"[]"`, false},
	}},
	{"type boolean", `{"type": "boolean"}`, []suiteCase{
		{"true", `true`, true},
		{"false", `false`, true},
		{"zero", `0`, false},
		{"one", `1`, false},
		{"an empty string", `""`, false},
		{"null", `null`, false},
	}},
	{"type null", `{"type": "null"}`, []suiteCase{
		{"null", `null`, true},
		{"zero", `0`, false},
		{"an empty string", `""`, false},
		{"false", `false`, false},
		{"an empty object", `{}`, false},
	}},
	{"multiple types", `{"type": ["integer", "string"]}`, []suiteCase{
		{"an integer", `1`, true},
		{"a string", `"foo"`, true},
		{"a float", `1.1`, false},
		{"an object", `{}`, false},
		{"null", `null`, false},
	}},
	{"type with null", `{"type": ["string", "null"]}`, []suiteCase{
		{"null", `null`, true},
		{"a string", `"x"`, true},
		{"a number", `0`, false},
	}},

	{"enum of numbers", `{"enum": [1, 2, 3]}`, []suiteCase{
		{"one of the values", `1`, true},
		{"one of the values as a float", `2.0`, true},
		{"something else", `4`, false},
	}},
	{"enum of mixed values", `{"enum": [6, "foo", [], true, {"foo": 12}]}`, []suiteCase{
		{"an empty array", `[]`, true},
		{"the object", `{"foo": 12}`, true},
		{"the string", `"foo"`, true},
		{"true", `true`, true},
		{"null", `null`, false},
		{"an object with another value", `{"foo": false}`, false},
		{"an object with more properties", `{"foo": 12, "boo": 42}`, false},
		// Against the spec, on purpose: an empty table in a schema
		// converted from Lua may stand for [] or {}, so either matches.
		{"an empty object matches the empty array", `{}`, true},
	}},
	{"enum with false", `{"enum": [false]}`, []suiteCase{
		{"false", `false`, true},
		{"zero", `0`, false},
		{"float zero", `0.0`, false},
	}},
	{"enum with 0", `{"enum": [0]}`, []suiteCase{
		{"false", `false`, false},
		{"zero", `0`, true},
		{"float zero", `0.0`, true},
		{"negative zero", `-0.0`, true},
	}},
	{"enum with 1", `{"enum": [1]}`, []suiteCase{
		{"true", `true`, false},
		{"one", `1`, true},
		{"float one", `1.0`, true},
	}},
	{"enum with [false]", `{"enum": [[false]]}`, []suiteCase{
		{"[false]", `[false]`, true},
		{"[0]", `[0]`, false},
	}},
	{"enum with escaped characters", `{"enum": ["foo\nbar", "foo\rbar"]}`, []suiteCase{
		{"member 1", `"foo\nbar"`, true},
		{"member 2", `"foo\rbar"`, true},
		{"another string", `"abc"`, false},
	}},
	{"enum with null", `{"enum": [null, "x"]}`, []suiteCase{
		{"null", `null`, true},
		{"the string", `"x"`, true},
		{"an empty string", `""`, false},
	}},
	{"enums in properties", `{"type": "object", "properties": {"foo": {"enum": ["foo"]}, "bar": {"enum": ["bar"]}}, "required": ["bar"]}`, []suiteCase{
		{"both properties valid", `{"foo": "foo", "bar": "bar"}`, true},
		{"wrong foo", `{"foo": "foot", "bar": "bar"}`, false},
		{"wrong bar", `{"foo": "foo", "bar": "bart"}`, false},
		{"missing optional property", `{"bar": "bar"}`, true},
		{"missing required property", `{"foo": "foo"}`, false},
		{"missing all properties", `{}`, false},
	}},

	{"const number", `{"const": 2}`, []suiteCase{
		{"the same value", `2`, true},
		{"the same value as a float", `2.0`, true},
		{"another value", `5`, false},
		{"another type", `"a"`, false},
	}},
	{"const object", `{"const": {"foo": "bar", "baz": "bax"}}`, []suiteCase{
		{"the same object", `{"foo": "bar", "baz": "bax"}`, true},
		{"the same object, reordered", `{"baz": "bax", "foo": "bar"}`, true},
		{"another object", `{"foo": "bar"}`, false},
		{"another type", `[1, 2]`, false},
	}},
	{"const array", `{"const": [{"foo": "bar"}]}`, []suiteCase{
		{"the same array", `[{"foo": "bar"}]`, true},
		{"an array with more items", `[{"foo": "bar"}, "x"]`, false},
		{"the item alone", `{"foo": "bar"}`, false},
	}},
	{"const null", `{"const": null}`, []suiteCase{
		{"null", `null`, true},
		{"zero", `0`, false},
	}},
	{"const false", `{"const": false}`, []suiteCase{
		{"false", `false`, true},
		{"zero", `0`, false},
		{"an empty string", `""`, false},
	}},

	{"required", `{"properties": {"foo": {}, "bar": {}}, "required": ["foo"]}`, []suiteCase{
		{"present", `{"foo": 1}`, true},
		{"missing", `{"bar": 1}`, false},
		{"ignores arrays", `[]`, true},
		{"ignores strings", `""`, true},
		{"ignores other non-objects", `12`, true},
	}},
	{"required without properties", `{"required": ["a", "b"]}`, []suiteCase{
		{"all present", `{"a": null, "b": false}`, true},
		{"one missing", `{"a": 1}`, false},
	}},
	{"required empty", `{"required": []}`, []suiteCase{
		{"an empty object", `{}`, true},
		{"any object", `{"x": 1}`, true},
	}},

	{"properties", `{"properties": {"foo": {"type": "integer"}, "bar": {"type": "string"}}}`, []suiteCase{
		{"both present and valid", `{"foo": 1, "bar": "baz"}`, true},
		{"one invalid", `{"foo": 1, "bar": {}}`, false},
		{"both invalid", `{"foo": [], "bar": {}}`, false},
		{"missing properties are fine", `{}`, true},
		{"other properties are fine", `{"quux": []}`, true},
		{"ignores arrays", `[]`, true},
		{"ignores other non-objects", `12`, true},
	}},
	{"properties, patternProperties and additionalProperties together", `{
		"properties": {"foo": {"type": "array", "maxItems": 3}, "bar": {"type": "array"}},
		"patternProperties": {"f.o": {"minItems": 2}},
		"additionalProperties": {"type": "integer"}}`, []suiteCase{
		{"property validates", `{"foo": [1, 2]}`, true},
		{"property invalidates", `{"foo": [1, 2, 3, 4]}`, false},
		{"patternProperty invalidates property", `{"foo": []}`, false},
		{"patternProperty validates non-property", `{"fxo": [1, 2]}`, true},
		{"patternProperty invalidates non-property", `{"fxo": []}`, false},
		{"additionalProperty ignores property", `{"bar": []}`, true},
		{"additionalProperty validates others", `{"quux": 3}`, true},
		{"additionalProperty invalidates others", `{"quux": "foo"}`, false},
	}},
	{"properties with boolean schemas", `{"properties": {"foo": true, "bar": false}}`, []suiteCase{
		{"no property present", `{}`, true},
		{"only true property present", `{"foo": 1}`, true},
		{"only false property present", `{"bar": 2}`, false},
		{"both properties present", `{"foo": 1, "bar": 2}`, false},
	}},
	{"properties with escaped names", `{"properties": {"foo\nbar": {"type": "number"}, "foo\"bar": {"type": "number"}}}`, []suiteCase{
		{"valid", `{"foo\nbar": 1, "foo\"bar": 1}`, true},
		{"invalid", `{"foo\nbar": "1", "foo\"bar": "1"}`, false},
	}},

	{"additionalProperties false", `{"properties": {"foo": {}, "bar": {}}, "patternProperties": {"^v": {}}, "additionalProperties": false}`, []suiteCase{
		{"no additional properties", `{"foo": 1}`, true},
		{"an additional property", `{"foo": 1, "bar": 2, "quux": "boom"}`, false},
		{"ignores arrays", `[1, 2, 3]`, true},
		{"ignores strings", `"foobarbaz"`, true},
		{"ignores other non-objects", `12`, true},
		{"patternProperties are not additional", `{"foo": 1, "vroom": 2}`, true},
	}},
	{"additionalProperties schema", `{"properties": {"foo": {}, "bar": {}}, "additionalProperties": {"type": "boolean"}}`, []suiteCase{
		{"no additional properties", `{"foo": 1}`, true},
		{"valid additional property", `{"foo": 1, "bar": 2, "quux": true}`, true},
		{"invalid additional property", `{"foo": 1, "bar": 2, "quux": 12}`, false},
	}},
	{"additionalProperties alone", `{"additionalProperties": {"type": "boolean"}}`, []suiteCase{
		{"valid", `{"foo": true}`, true},
		{"invalid", `{"foo": 1}`, false},
	}},
	{"additionalProperties true", `{"properties": {"foo": {}}, "additionalProperties": true}`, []suiteCase{
		{"additional properties allowed", `{"foo": 1, "bar": 2, "quux": true}`, true},
	}},
	{"additionalProperties false without properties", `{"additionalProperties": false}`, []suiteCase{
		{"empty object", `{}`, true},
		{"any property", `{"a": 1}`, false},
	}},

	{"patternProperties", `{"patternProperties": {"f.*o": {"type": "integer"}}}`, []suiteCase{
		{"a single valid match", `{"foo": 1}`, true},
		{"multiple valid matches", `{"foo": 1, "foooooo": 2}`, true},
		{"a single invalid match", `{"foo": "bar", "fooooo": 2}`, false},
		{"multiple invalid matches", `{"foo": "bar", "foooooo": "baz"}`, false},
		{"ignores arrays", `["foo"]`, true},
		{"ignores strings", `"foo"`, true},
	}},
	{"multiple simultaneous patternProperties", `{"patternProperties": {"a*": {"type": "integer"}, "aaa*": {"maximum": 20}}}`, []suiteCase{
		{"a single valid match", `{"a": 21}`, true},
		{"a simultaneous match", `{"aaaa": 18}`, true},
		{"multiple matches", `{"a": 21, "aaaa": 18}`, true},
		{"an invalid due to one", `{"a": "bar"}`, false},
		{"an invalid due to the other", `{"aaaa": 31}`, false},
		{"an invalid due to both", `{"aaa": "foo", "aaaa": 31}`, false},
	}},
	{"patternProperties are unanchored", `{"patternProperties": {"[0-9]{2,}": {"type": "boolean"}, "X_": {"type": "string"}}}`, []suiteCase{
		{"non-recognized members are ignored", `{"answer 1": "42"}`, true},
		{"recognized members are accounted for", `{"a31b": null}`, false},
		{"regexes are case sensitive", `{"a_x_3": 3}`, true},
		{"regexes are case sensitive, 2", `{"a_X_3": 3}`, false},
	}},

	{"minProperties", `{"minProperties": 1}`, []suiteCase{
		{"longer", `{"foo": 1, "bar": 2}`, true},
		{"exact", `{"foo": 1}`, true},
		{"too short", `{}`, false},
		{"ignores arrays", `[]`, true},
		{"ignores strings", `""`, true},
	}},
	{"maxProperties", `{"maxProperties": 2}`, []suiteCase{
		{"shorter", `{"foo": 1}`, true},
		{"exact", `{"foo": 1, "bar": 2}`, true},
		{"too long", `{"foo": 1, "bar": 2, "baz": 3}`, false},
		{"ignores arrays", `[1, 2, 3]`, true},
	}},
	{"maxProperties 0", `{"maxProperties": 0}`, []suiteCase{
		{"no properties", `{}`, true},
		{"one property", `{"foo": 1}`, false},
	}},

	{"dependencies list", `{"dependencies": {"bar": ["foo"]}}`, []suiteCase{
		{"neither", `{}`, true},
		{"nondependant", `{"foo": 1}`, true},
		{"with dependency", `{"foo": 1, "bar": 2}`, true},
		{"missing dependency", `{"bar": 2}`, false},
		{"ignores arrays", `["bar"]`, true},
		{"ignores strings", `"foobar"`, true},
	}},
	{"dependencies list of several", `{"dependencies": {"quux": ["foo", "bar"]}}`, []suiteCase{
		{"nondependants", `{"foo": 1, "bar": 2}`, true},
		{"with dependencies", `{"foo": 1, "bar": 2, "quux": 3}`, true},
		{"missing one", `{"foo": 1, "quux": 2}`, false},
		{"missing the other", `{"bar": 1, "quux": 2}`, false},
		{"missing both", `{"quux": 1}`, false},
	}},
	{"dependencies schema", `{"dependencies": {"bar": {"properties": {"foo": {"type": "integer"}, "bar": {"type": "integer"}}}}}`, []suiteCase{
		{"valid", `{"foo": 1, "bar": 2}`, true},
		{"no dependency", `{"foo": "quux"}`, true},
		{"wrong type", `{"foo": "quux", "bar": 2}`, false},
		{"wrong type other", `{"foo": 2, "bar": "quux"}`, false},
		{"wrong type both", `{"foo": "quux", "bar": "quux"}`, false},
	}},
	{"dependencies with boolean schemas", `{"dependencies": {"foo": true, "bar": false}}`, []suiteCase{
		{"object with property having schema true", `{"foo": 1}`, true},
		{"object with property having schema false", `{"bar": 2}`, false},
		{"empty object", `{}`, true},
	}},
	{"dependencies with empty list", `{"dependencies": {"bar": []}}`, []suiteCase{
		{"empty object", `{}`, true},
		{"object with the property", `{"bar": 2}`, true},
	}},

	{"items schema", `{"items": {"type": "integer"}}`, []suiteCase{
		{"valid items", `[1, 2, 3]`, true},
		{"wrong type of items", `[1, "x"]`, false},
		{"ignores non-arrays", `{"foo": "bar"}`, true},
		{"an empty array", `[]`, true},
	}},
	{"items tuple", `{"items": [{"type": "integer"}, {"type": "string"}]}`, []suiteCase{
		{"correct types", `[1, "foo"]`, true},
		{"wrong types", `["foo", 1]`, false},
		{"incomplete array of items", `[1]`, true},
		{"array with additional items", `[1, "foo", true]`, true},
		{"empty array", `[]`, true},
		{"JavaScript pseudo-array is valid", `{"0": "invalid", "1": "valid", "length": 2}`, true},
	}},
	{"items true", `{"items": true}`, []suiteCase{
		{"any array", `[1, "foo", true]`, true},
		{"empty array", `[]`, true},
	}},
	{"items false", `{"items": false}`, []suiteCase{
		{"any non-empty array", `[1, "foo", true]`, false},
		{"empty array", `[]`, true},
	}},
	{"items tuple with boolean schemas", `{"items": [true, false]}`, []suiteCase{
		{"array with one item", `[1]`, true},
		{"array with two items", `[1, "foo"]`, false},
		{"empty array", `[]`, true},
	}},
	{"nested items", `{"type": "array", "items": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}}`, []suiteCase{
		{"valid nested array", `[[[1]], [[2], [3]]]`, true},
		{"nested array with invalid type", `[[["1"]], [[2], [3]]]`, false},
		{"not deep enough", `[[1], [2]]`, false},
	}},

	{"minItems", `{"minItems": 1}`, []suiteCase{
		{"longer", `[1, 2]`, true},
		{"exact", `[1]`, true},
		{"too short", `[]`, false},
		{"ignores non-arrays", `""`, true},
	}},
	{"maxItems", `{"maxItems": 2}`, []suiteCase{
		{"shorter", `[1]`, true},
		{"exact", `[1, 2]`, true},
		{"too long", `[1, 2, 3]`, false},
		{"ignores non-arrays", `"foobar"`, true},
	}},

	{"uniqueItems", `{"uniqueItems": true}`, []suiteCase{
		{"unique numbers", `[1, 2]`, true},
		{"non-unique numbers", `[1, 1]`, false},
		{"numbers equal as floats", `[1.0, 1.00, 1]`, false},
		{"false is not zero", `[0, false]`, true},
		{"true is not one", `[1, true]`, true},
		{"unique booleans", `[false, true]`, true},
		{"non-unique booleans", `[true, true]`, false},
		{"unique strings", `["foo", "bar", "baz"]`, true},
		{"non-unique strings", `["foo", "bar", "foo"]`, false},
		{"unique objects", `[{"foo": "bar"}, {"foo": "baz"}]`, true},
		{"non-unique objects", `[{"foo": "bar"}, {"foo": "bar"}]`, false},
		{"objects equal whatever the key order", `[{"a": 1, "b": 2}, {"b": 2, "a": 1}]`, false},
		{"unique nested objects", `[{"foo": {"bar": {"baz": true}}}, {"foo": {"bar": {"baz": false}}}]`, true},
		{"non-unique nested objects", `[{"foo": {"bar": {"baz": true}}}, {"foo": {"bar": {"baz": true}}}]`, false},
		{"unique arrays", `[["foo"], ["bar"]]`, true},
		{"non-unique arrays", `[["foo"], ["foo"]]`, false},
		{"[1] and [true] are unique", `[[1], [true]]`, true},
		{"[0] and [false] are unique", `[[0], [false]]`, true},
		{"nested false and 0 are unique", `[{"a": false}, {"a": 0}]`, true},
		{"unique heterogeneous types", `[{}, [1], true, null, 1, "{}"]`, true},
		{"non-unique heterogeneous types", `[{}, [1], true, null, {}, 1]`, false},
		{"an empty object and an empty array are unique", `[{}, []]`, true},
		{"a string and a number are unique", `["1", 1]`, true},
		{"an empty array", `[]`, true},
		{"ignores non-arrays", `{"a": 1}`, true},
	}},
	{"uniqueItems false", `{"uniqueItems": false}`, []suiteCase{
		{"non-unique numbers", `[1, 1]`, true},
		{"non-unique objects", `[{"foo": "bar"}, {"foo": "bar"}]`, true},
	}},

	{"minLength", `{"minLength": 2}`, []suiteCase{
		{"longer", `"foo"`, true},
		{"exact", `"fo"`, true},
		{"too short", `"f"`, false},
		{"ignores non-strings", `1`, true},
		{"one supplementary code point is not long enough", `"\ud83d\udca9"`, false},
		{"two multi-byte characters are long enough", `"éé"`, true},
	}},
	{"maxLength", `{"maxLength": 2}`, []suiteCase{
		{"shorter", `"f"`, true},
		{"exact", `"fo"`, true},
		{"too long", `"foo"`, false},
		{"ignores non-strings", `100`, true},
		{"two supplementary code points are short enough", `"\ud83d\udca9\ud83d\udca9"`, true},
		{"three multi-byte characters are too long", `"ééé"`, false},
	}},

	{"pattern", `{"pattern": "^a*$"}`, []suiteCase{
		{"a matching string", `"aaa"`, true},
		{"a non-matching string", `"abc"`, false},
		{"an empty string", `""`, true},
		{"ignores booleans", `true`, true},
		{"ignores numbers", `123`, true},
		{"ignores objects", `{}`, true},
		{"ignores null", `null`, true},
	}},
	{"pattern is unanchored", `{"pattern": "a+"}`, []suiteCase{
		{"matches a substring", `"xxaayy"`, true},
		{"no match", `"xxyy"`, false},
	}},
	{"pattern with classes", `{"pattern": "^\\d+\\s\\w+$"}`, []suiteCase{
		{"matches", `"12 ab_c"`, true},
		{"does not match", `"12ab"`, false},
	}},

	{"minimum", `{"minimum": 1.1}`, []suiteCase{
		{"above", `2.6`, true},
		{"boundary", `1.1`, true},
		{"below", `0.6`, false},
		{"ignores non-numbers", `"x"`, true},
	}},
	{"minimum negative", `{"minimum": -2}`, []suiteCase{
		{"negative above", `-1`, true},
		{"positive above", `0`, true},
		{"boundary", `-2`, true},
		{"boundary as float", `-2.0`, true},
		{"float below", `-2.0001`, false},
		{"int below", `-3`, false},
	}},
	{"maximum", `{"maximum": 3.0}`, []suiteCase{
		{"below", `2.6`, true},
		{"boundary", `3.0`, true},
		{"above", `3.5`, false},
		{"ignores non-numbers", `"x"`, true},
	}},
	{"draft-4 exclusiveMinimum", `{"minimum": 1.1, "exclusiveMinimum": true}`, []suiteCase{
		{"above", `1.2`, true},
		{"boundary", `1.1`, false},
	}},
	{"draft-4 exclusiveMinimum false", `{"minimum": 1.1, "exclusiveMinimum": false}`, []suiteCase{
		{"boundary", `1.1`, true},
		{"below", `1.0`, false},
	}},
	{"draft-4 exclusiveMaximum", `{"maximum": 3.0, "exclusiveMaximum": true}`, []suiteCase{
		{"below", `2.2`, true},
		{"boundary", `3.0`, false},
	}},
	{"draft-6 exclusiveMinimum", `{"exclusiveMinimum": 1.1}`, []suiteCase{
		{"above", `1.2`, true},
		{"boundary", `1.1`, false},
		{"below", `0.6`, false},
		{"ignores non-numbers", `"x"`, true},
	}},
	{"draft-6 exclusiveMaximum", `{"exclusiveMaximum": 3.0}`, []suiteCase{
		{"below", `2.2`, true},
		{"boundary", `3.0`, false},
		{"above", `3.5`, false},
		{"ignores non-numbers", `"x"`, true},
	}},
	{"minimum and draft-6 exclusiveMinimum", `{"minimum": 1, "exclusiveMinimum": 0}`, []suiteCase{
		{"valid for both", `1`, true},
		{"only the exclusive bound", `0.5`, false},
	}},
	{"integer with exclusiveMinimum 0 (limit-count)", `{"type": "integer", "exclusiveMinimum": 0}`, []suiteCase{
		{"one", `1`, true},
		{"zero", `0`, false},
		{"negative", `-1`, false},
		{"a fraction", `0.5`, false},
	}},

	{"allOf", `{"allOf": [{"properties": {"bar": {"type": "integer"}}, "required": ["bar"]}, {"properties": {"foo": {"type": "string"}}, "required": ["foo"]}]}`, []suiteCase{
		{"allOf", `{"foo": "baz", "bar": 2}`, true},
		{"mismatch second", `{"foo": "baz"}`, false},
		{"mismatch first", `{"bar": 2}`, false},
		{"wrong type", `{"foo": "baz", "bar": "quux"}`, false},
	}},
	{"allOf with a base schema", `{"properties": {"bar": {"type": "integer"}}, "required": ["bar"], "allOf": [{"properties": {"foo": {"type": "string"}}, "required": ["foo"]}, {"properties": {"baz": {"type": "null"}}, "required": ["baz"]}]}`, []suiteCase{
		{"valid", `{"foo": "quux", "bar": 2, "baz": null}`, true},
		{"mismatch base schema", `{"foo": "quux", "baz": null}`, false},
		{"mismatch first allOf", `{"bar": 2, "baz": null}`, false},
		{"mismatch second allOf", `{"foo": "quux", "bar": 2}`, false},
	}},
	{"allOf with boolean schemas", `{"allOf": [true, false]}`, []suiteCase{
		{"any value is invalid", `"foo"`, false},
	}},
	{"allOf with all true", `{"allOf": [true, true]}`, []suiteCase{
		{"any value is valid", `"foo"`, true},
	}},

	{"anyOf", `{"anyOf": [{"type": "integer"}, {"minimum": 2}]}`, []suiteCase{
		{"first valid", `1`, true},
		{"second valid", `2.5`, true},
		{"both valid", `3`, true},
		{"neither valid", `1.5`, false},
	}},
	{"anyOf with a base schema", `{"type": "string", "anyOf": [{"maxLength": 2}, {"minLength": 4}]}`, []suiteCase{
		{"mismatch base schema", `3`, false},
		{"one anyOf valid", `"foobar"`, true},
		{"both anyOf invalid", `"foo"`, false},
	}},
	{"anyOf with boolean schemas", `{"anyOf": [true, false]}`, []suiteCase{
		{"any value is valid", `"foo"`, true},
	}},
	{"anyOf with all false", `{"anyOf": [false, false]}`, []suiteCase{
		{"any value is invalid", `"foo"`, false},
	}},
	{"anyOf of required lists", `{"anyOf": [{"required": ["a"]}, {"required": ["b"]}]}`, []suiteCase{
		{"first", `{"a": 1}`, true},
		{"second", `{"b": 1}`, true},
		{"both", `{"a": 1, "b": 1}`, true},
		{"neither", `{"c": 1}`, false},
	}},

	{"oneOf", `{"oneOf": [{"type": "integer"}, {"minimum": 2}]}`, []suiteCase{
		{"first valid", `1`, true},
		{"second valid", `2.5`, true},
		{"both valid", `3`, false},
		{"neither valid", `1.5`, false},
	}},
	{"oneOf with a base schema", `{"type": "string", "oneOf": [{"minLength": 2}, {"maxLength": 4}]}`, []suiteCase{
		{"mismatch base schema", `3`, false},
		{"one oneOf valid", `"foobar"`, true},
		{"both oneOf valid", `"foo"`, false},
	}},
	{"oneOf with required", `{"type": "object", "oneOf": [{"required": ["foo", "bar"]}, {"required": ["foo", "baz"]}]}`, []suiteCase{
		{"both invalid", `{"bar": 2}`, false},
		{"first valid", `{"foo": 1, "bar": 2}`, true},
		{"second valid", `{"foo": 1, "baz": 3}`, true},
		{"both valid", `{"foo": 1, "bar": 2, "baz": 3}`, false},
	}},
	{"oneOf with boolean schemas, one true", `{"oneOf": [true, false, false]}`, []suiteCase{
		{"any value is valid", `"foo"`, true},
	}},
	{"oneOf with boolean schemas, more true", `{"oneOf": [true, true, false]}`, []suiteCase{
		{"any value is invalid", `"foo"`, false},
	}},

	{"not", `{"not": {"type": "integer"}}`, []suiteCase{
		{"allowed", `"foo"`, true},
		{"disallowed", `1`, false},
	}},
	{"not multiple types", `{"not": {"type": ["integer", "boolean"]}}`, []suiteCase{
		{"valid", `"foo"`, true},
		{"mismatch", `1`, false},
		{"other mismatch", `true`, false},
	}},
	{"not more complex schema", `{"not": {"type": "object", "properties": {"foo": {"type": "string"}}}}`, []suiteCase{
		{"match", `1`, true},
		{"other match", `{"foo": 1}`, true},
		{"mismatch", `{"foo": "bar"}`, false},
	}},
	{"forbidden property", `{"properties": {"foo": {"not": {}}}}`, []suiteCase{
		{"property present", `{"foo": 1, "bar": 2}`, false},
		{"property absent", `{"bar": 1, "baz": 2}`, true},
	}},
	{"not true", `{"not": true}`, []suiteCase{
		{"any value is invalid", `"foo"`, false},
	}},
	{"not false", `{"not": false}`, []suiteCase{
		{"any value is valid", `"foo"`, true},
	}},

	{"boolean schema true", `true`, []suiteCase{
		{"number", `1`, true},
		{"string", `"foo"`, true},
		{"null", `null`, true},
		{"object", `{"foo": "bar"}`, true},
		{"array", `["foo"]`, true},
	}},
	{"boolean schema false", `false`, []suiteCase{
		{"number", `1`, false},
		{"string", `"foo"`, false},
		{"null", `null`, false},
		{"empty object", `{}`, false},
		{"empty array", `[]`, false},
	}},
	{"empty schema", `{}`, []suiteCase{
		{"number", `1`, true},
		{"null", `null`, true},
		{"object", `{"a": [1]}`, true},
	}},
	{"unknown keywords are ignored", `{"title": "t", "description": 5, "format": "ipv4", "if": {"type": "string"}, "then": false, "$comment": []}`, []suiteCase{
		{"a string", `"x"`, true},
		{"a number", `1`, true},
	}},
}

func TestKeywords(t *testing.T) {
	for _, g := range keywordGroups {
		t.Run(g.desc, func(t *testing.T) {
			s := mustCompile(t, decode(t, g.schema))
			for _, c := range g.cases {
				t.Run(c.desc, func(t *testing.T) {
					_, err := s.Validate(decode(t, c.data))
					if c.valid && err != nil {
						t.Errorf("schema %s, data %s: want valid, got %v", g.schema, c.data, err)
					}
					if !c.valid {
						var ve *ValidationError
						if err == nil {
							t.Errorf("schema %s, data %s: want invalid, got valid", g.schema, c.data)
						} else if !errors.As(err, &ve) {
							t.Errorf("schema %s, data %s: error %v is a %T, want a *ValidationError", g.schema, c.data, err, err)
						}
					}
				})
			}
		})
	}
}

// TestGoNumbers checks that numbers of other Go types work as float64 do,
// in values and in schemas.
func TestGoNumbers(t *testing.T) {
	s := mustCompile(t, obj{"type": "integer", "minimum": 1, "maximum": int64(10), "enum": arr{1, 2, uint8(3), 11}})
	for _, v := range []any{1, int8(2), uint(3), float32(3)} {
		if _, err := s.Validate(v); err != nil {
			t.Errorf("Validate(%T %v): %v", v, v, err)
		}
	}
	for _, v := range []any{0, int64(11), float32(1.5)} {
		if _, err := s.Validate(v); err == nil {
			t.Errorf("Validate(%T %v): want an error", v, v)
		}
	}
	u := mustCompile(t, obj{"uniqueItems": true})
	if _, err := u.Validate(arr{1, 1.0}); err == nil {
		t.Errorf("uniqueItems: int 1 and float64 1 should be equal")
	}
}
