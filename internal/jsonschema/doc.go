// Package jsonschema validates plugin configs against the small subset of
// JSON Schema (draft 4 and draft 7 semantics) that gateway plugins use to
// declare their config, APISIX-style, and fills in the defaults the schema
// declares.
//
// Values are what encoding/json decodes into an any: map[string]any,
// []any, string, float64, bool and nil. Other Go numbers (int, int64,
// uint8, ...) are accepted as numbers too.
//
// The schema is a Go value as well, usually converted from a Lua table:
// objects are map[string]any, arrays []any, numbers float64. Lua cannot
// tell an empty array from an empty object, so an empty table may arrive as
// either an empty map or an empty slice; Compile accepts either wherever a
// keyword expects one of them ("required = {}", "properties = {}",
// "items = {}", an empty subschema "{}", ...). An empty-table default is
// turned into an array or an object when its schema's type says which one,
// and enum and const treat an empty table in the schema as equal to both
// an empty array and an empty object. Values are not treated that way:
// they come from JSON, where [] and {} differ.
//
// # Keywords
//
// Compile understands these keywords; it ignores any other key (title,
// description, format, $comment, if/then/else, ...):
//
//   - type: a type name or a list of them: object, array, string, number,
//     integer (a number with no fractional part), boolean, null
//   - enum, const
//   - default (see Defaults)
//   - objects: required, properties, patternProperties,
//     additionalProperties (a boolean or a schema), minProperties,
//     maxProperties, dependencies (a list of co-required property names,
//     or a schema the whole object must match when the property is
//     present)
//   - arrays: items (a schema for every item, or a list of schemas for
//     the items at those positions), minItems, maxItems, uniqueItems
//   - strings: minLength, maxLength (counted in characters, that is
//     runes), pattern (unanchored, compiled with Go's regexp: RE2 syntax,
//     which covers the ECMA 262 patterns plugins use, but not
//     backreferences or lookaround)
//   - numbers: minimum, maximum, exclusiveMinimum, exclusiveMaximum (the
//     draft-4 boolean form, which makes minimum or maximum exclusive, and
//     the draft-6+ number form, a bound of its own)
//   - combinators: allOf, anyOf, oneOf, not
//
// A schema may also be a boolean: true accepts every value, false none.
// $ref is not supported.
//
// A keyword that applies to one type ignores values of other types, as in
// JSON Schema: minLength says nothing about a number.
//
// # Schema errors
//
// Compile rejects a known keyword whose value has the wrong shape, naming
// the keyword's place in the schema: "properties.count.minimum: must be a
// number". It also rejects patterns Go's regexp cannot compile, unknown
// type names, a draft-4 exclusiveMinimum or exclusiveMaximum without its
// minimum or maximum, empty allOf, anyOf, oneOf and type lists, and a
// default that does not match its own schema.
//
// # Defaults
//
// Validate returns the value with defaults filled in: when an object lacks
// a property that its properties keyword declares with a default, a copy
// of the default is added. This applies recursively to every value
// reached through properties, patternProperties, additionalProperties and
// items, and to the defaults themselves: a default object gets the
// defaults of its own properties. Defaults inside allOf, anyOf, oneOf, not
// and dependencies schemas are not applied (those only validate), but they
// see the object with the defaults of its properties filled in. The
// object keywords required, dependencies, minProperties and maxProperties
// look at the properties given, before defaults: a required property is
// required even when it has a default.
//
// Validate never modifies its input: an object or array that gains a
// default is copied, and the copy is returned; parts with nothing to fill
// are shared between input and result.
//
// # Validation errors
//
// Validation stops at the first failure and returns a *ValidationError
// whose Path names the failing place in the value, with property names
// joined by dots and array indexes in brackets:
//
//	consumers[1].key: required property missing
//	count: 0 is below the minimum 1
//	policy: "x" is not one of "local", "redis"
//
// The checks run in a fixed order, and properties are visited in sorted
// order, so the same value always gets the same error.
package jsonschema
