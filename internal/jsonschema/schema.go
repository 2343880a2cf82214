package jsonschema

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
)

// Schema is a compiled schema, ready to validate values. It is immutable
// and safe for concurrent use. A nil *Schema stands for "no schema
// declared" and accepts every value, as does the zero Schema.
type Schema struct {
	// reject is set for the boolean schema false, which no value matches.
	reject bool

	// types lists the allowed type names; empty allows every type.
	types []string

	enum     []any
	hasEnum  bool
	constant any
	hasConst bool

	// def is the default, with empty tables shaped by this schema and its
	// own defaults filled in.
	def        any
	hasDefault bool

	required      []string
	properties    map[string]*Schema
	propertyNames []string // the keys of properties, sorted
	patternProps  []patternSchema
	additional    *Schema // nil when additionalProperties is absent
	minProperties *int
	maxProperties *int
	depRequired   map[string][]string
	depSchemas    map[string]*Schema
	depNames      []string // the keys of depRequired and depSchemas, sorted

	items       *Schema   // the schema of every item, when not a tuple
	tupleItems  []*Schema // the schemas of the first items, in tuple form
	minItems    *int
	maxItems    *int
	uniqueItems bool

	minLength *int
	maxLength *int
	pattern   *regexp.Regexp

	minimum          *float64
	minimumExclusive bool // draft-4 exclusiveMinimum: true
	maximum          *float64
	maximumExclusive bool     // draft-4 exclusiveMaximum: true
	exclusiveMinimum *float64 // draft-6+ exclusiveMinimum: n
	exclusiveMaximum *float64 // draft-6+ exclusiveMaximum: n

	allOf []*Schema
	anyOf []*Schema
	oneOf []*Schema
	not   *Schema
}

// patternSchema is one entry of patternProperties.
type patternSchema struct {
	source string
	re     *regexp.Regexp
	schema *Schema
}

// Compile checks schema and compiles it. The schema is a Go value as
// encoding/json decodes it, or as converted from a Lua table (see the
// package doc for how empty tables are treated): a map[string]any of
// keywords, or a bool. A nil schema means no schema was declared; it
// compiles to a Schema that accepts everything.
//
// Unknown keywords are ignored. A known keyword whose value has the wrong
// shape is an error that names the keyword's path in the schema, like
// "properties.count.minimum: must be a number". Compile does not retain
// schema: later changes to it do not affect the compiled Schema.
func Compile(schema any) (*Schema, error) {
	if schema == nil {
		return &Schema{}, nil
	}
	return compile(schema, "")
}

// compile compiles the schema raw found at path.
func compile(raw any, path string) (*Schema, error) {
	switch t := raw.(type) {
	case bool:
		return &Schema{reject: !t}, nil
	case []any:
		if len(t) == 0 {
			// An empty Lua table standing for the empty schema.
			return &Schema{}, nil
		}
		return nil, schemaErrorf(path, "must be a schema (an object or a boolean), got a non-empty array")
	case map[string]any:
		return compileObject(t, path)
	default:
		return nil, schemaErrorf(path, "must be a schema (an object or a boolean), got %s", describe(raw))
	}
}

// compileObject compiles a schema given as an object of keywords.
func compileObject(m map[string]any, path string) (*Schema, error) {
	s := &Schema{}
	steps := []func(map[string]any, string) error{
		s.compileType,
		s.compileEnumConst,
		s.compileObjectKeywords,
		s.compileArrayKeywords,
		s.compileStringKeywords,
		s.compileNumberKeywords,
		s.compileCombinators,
		s.compileDefault, // last: the default is validated against s
	}
	for _, step := range steps {
		if err := step(m, path); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Schema) compileType(m map[string]any, path string) error {
	raw, ok := m["type"]
	if !ok {
		return nil
	}
	p := joinPath(path, "type")
	var names []any
	switch t := raw.(type) {
	case string:
		names = []any{t}
	case []any:
		names = t
	case map[string]any:
		if len(t) != 0 {
			return schemaErrorf(p, "must be a type name or a list of type names")
		}
	default:
		return schemaErrorf(p, "must be a type name or a list of type names")
	}
	if len(names) == 0 {
		return schemaErrorf(p, "must not be an empty list")
	}
	for i, n := range names {
		name, ok := n.(string)
		if !ok {
			return schemaErrorf(indexPath(p, i), "must be a type name, got %s", describe(n))
		}
		if !knownType(name) {
			return schemaErrorf(p, "unknown type %q (want object, array, string, number, integer, boolean or null)", name)
		}
		if !slices.Contains(s.types, name) {
			s.types = append(s.types, name)
		}
	}
	return nil
}

func (s *Schema) compileEnumConst(m map[string]any, path string) error {
	if raw, ok := m["enum"]; ok {
		list, err := listOf(raw, joinPath(path, "enum"))
		if err != nil {
			return err
		}
		s.enum = make([]any, len(list))
		for i, v := range list {
			s.enum[i] = deepCopy(v)
		}
		s.hasEnum = true
	}
	if raw, ok := m["const"]; ok {
		s.constant = deepCopy(raw)
		s.hasConst = true
	}
	return nil
}

func (s *Schema) compileObjectKeywords(m map[string]any, path string) error {
	var err error
	if raw, ok := m["required"]; ok {
		if s.required, err = stringList(raw, joinPath(path, "required")); err != nil {
			return err
		}
	}
	if raw, ok := m["properties"]; ok {
		p := joinPath(path, "properties")
		props, err := objectOf(raw, p, "an object of property schemas")
		if err != nil {
			return err
		}
		s.properties = make(map[string]*Schema, len(props))
		s.propertyNames = sortedKeys(props)
		for _, name := range s.propertyNames {
			if s.properties[name], err = compile(props[name], joinPath(p, name)); err != nil {
				return err
			}
		}
	}
	if raw, ok := m["patternProperties"]; ok {
		p := joinPath(path, "patternProperties")
		props, err := objectOf(raw, p, "an object of property schemas")
		if err != nil {
			return err
		}
		for _, src := range sortedKeys(props) {
			pp := joinPath(p, src)
			re, err := regexp.Compile(src)
			if err != nil {
				return schemaErrorf(pp, "invalid regular expression: %v", err)
			}
			sub, err := compile(props[src], pp)
			if err != nil {
				return err
			}
			s.patternProps = append(s.patternProps, patternSchema{source: src, re: re, schema: sub})
		}
	}
	if raw, ok := m["additionalProperties"]; ok {
		if s.additional, err = compile(raw, joinPath(path, "additionalProperties")); err != nil {
			return err
		}
	}
	if s.minProperties, err = countKeyword(m, "minProperties", path); err != nil {
		return err
	}
	if s.maxProperties, err = countKeyword(m, "maxProperties", path); err != nil {
		return err
	}
	if raw, ok := m["dependencies"]; ok {
		return s.compileDependencies(raw, joinPath(path, "dependencies"))
	}
	return nil
}

// compileDependencies compiles the value raw of the dependencies keyword,
// found at path.
func (s *Schema) compileDependencies(raw any, path string) error {
	deps, err := objectOf(raw, path, "an object of property lists or schemas")
	if err != nil {
		return err
	}
	for _, name := range sortedKeys(deps) {
		p := joinPath(path, name)
		switch d := deps[name].(type) {
		case []any:
			if len(d) == 0 {
				continue // an empty Lua table: no requirement either way
			}
			names, err := stringList(d, p)
			if err != nil {
				return err
			}
			if s.depRequired == nil {
				s.depRequired = make(map[string][]string)
			}
			s.depRequired[name] = names
		case map[string]any, bool:
			sub, err := compile(d, p)
			if err != nil {
				return err
			}
			if s.depSchemas == nil {
				s.depSchemas = make(map[string]*Schema)
			}
			s.depSchemas[name] = sub
		default:
			return schemaErrorf(p, "must be a list of property names or a schema, got %s", describe(d))
		}
		s.depNames = append(s.depNames, name)
	}
	return nil
}

func (s *Schema) compileArrayKeywords(m map[string]any, path string) error {
	var err error
	if raw, ok := m["items"]; ok {
		p := joinPath(path, "items")
		if list, isList := raw.([]any); isList && len(list) > 0 {
			s.tupleItems = make([]*Schema, len(list))
			for i, item := range list {
				if s.tupleItems[i], err = compile(item, indexPath(p, i)); err != nil {
					return err
				}
			}
		} else if s.items, err = compile(raw, p); err != nil {
			return err
		}
	}
	if s.minItems, err = countKeyword(m, "minItems", path); err != nil {
		return err
	}
	if s.maxItems, err = countKeyword(m, "maxItems", path); err != nil {
		return err
	}
	if raw, ok := m["uniqueItems"]; ok {
		b, isBool := raw.(bool)
		if !isBool {
			return schemaErrorf(joinPath(path, "uniqueItems"), "must be a boolean")
		}
		s.uniqueItems = b
	}
	return nil
}

func (s *Schema) compileStringKeywords(m map[string]any, path string) error {
	var err error
	if s.minLength, err = countKeyword(m, "minLength", path); err != nil {
		return err
	}
	if s.maxLength, err = countKeyword(m, "maxLength", path); err != nil {
		return err
	}
	if raw, ok := m["pattern"]; ok {
		p := joinPath(path, "pattern")
		src, isString := raw.(string)
		if !isString {
			return schemaErrorf(p, "must be a string")
		}
		if s.pattern, err = regexp.Compile(src); err != nil {
			return schemaErrorf(p, "invalid regular expression: %v", err)
		}
	}
	return nil
}

func (s *Schema) compileNumberKeywords(m map[string]any, path string) error {
	var err error
	if s.minimum, err = numberKeyword(m, "minimum", path); err != nil {
		return err
	}
	if s.maximum, err = numberKeyword(m, "maximum", path); err != nil {
		return err
	}
	if s.minimumExclusive, s.exclusiveMinimum, err = exclusiveKeyword(m, "exclusiveMinimum", "minimum", s.minimum, path); err != nil {
		return err
	}
	if s.maximumExclusive, s.exclusiveMaximum, err = exclusiveKeyword(m, "exclusiveMaximum", "maximum", s.maximum, path); err != nil {
		return err
	}
	return nil
}

func (s *Schema) compileCombinators(m map[string]any, path string) error {
	var err error
	for _, kw := range []struct {
		name string
		dst  *[]*Schema
	}{
		{"allOf", &s.allOf},
		{"anyOf", &s.anyOf},
		{"oneOf", &s.oneOf},
	} {
		raw, ok := m[kw.name]
		if !ok {
			continue
		}
		p := joinPath(path, kw.name)
		list, err := listOf(raw, p)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			return schemaErrorf(p, "must be a non-empty list of schemas")
		}
		subs := make([]*Schema, len(list))
		for i, item := range list {
			if subs[i], err = compile(item, indexPath(p, i)); err != nil {
				return err
			}
		}
		*kw.dst = subs
	}
	if raw, ok := m["not"]; ok {
		if s.not, err = compile(raw, joinPath(path, "not")); err != nil {
			return err
		}
	}
	return nil
}

// compileDefault shapes the default by s and checks it against s. It must
// run after everything else in s is compiled.
func (s *Schema) compileDefault(m map[string]any, path string) error {
	raw, ok := m["default"]
	if !ok {
		return nil
	}
	filled, _, err := s.validate(shapeDefault(raw, s), "")
	if err != nil {
		return schemaErrorf(joinPath(path, "default"), "does not match its schema: %v", err)
	}
	s.def = filled
	s.hasDefault = true
	return nil
}

// schemaErrorf returns a schema error at path.
func schemaErrorf(path, format string, args ...any) error {
	if path == "" {
		path = "schema"
	}
	return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
}

// knownType reports whether name is a JSON Schema type name.
func knownType(name string) bool {
	switch name {
	case "object", "array", "string", "number", "integer", "boolean", "null":
		return true
	}
	return false
}

// listOf returns raw as a list, accepting an empty map (an empty Lua
// table) as the empty list.
func listOf(raw any, path string) ([]any, error) {
	switch t := raw.(type) {
	case []any:
		return t, nil
	case map[string]any:
		if len(t) == 0 {
			return nil, nil
		}
	}
	return nil, schemaErrorf(path, "must be a list")
}

// stringList returns raw as a list of strings, accepting an empty map (an
// empty Lua table) as the empty list.
func stringList(raw any, path string) ([]string, error) {
	list, err := listOf(raw, path)
	if err != nil {
		return nil, schemaErrorf(path, "must be a list of strings")
	}
	out := make([]string, len(list))
	for i, v := range list {
		str, ok := v.(string)
		if !ok {
			return nil, schemaErrorf(indexPath(path, i), "must be a string, got %s", describe(v))
		}
		out[i] = str
	}
	return out, nil
}

// objectOf returns raw as an object, accepting an empty slice (an empty
// Lua table) as the empty object. what describes the expected object in
// the error.
func objectOf(raw any, path, what string) (map[string]any, error) {
	switch t := raw.(type) {
	case map[string]any:
		return t, nil
	case []any:
		if len(t) == 0 {
			return nil, nil
		}
	}
	return nil, schemaErrorf(path, "must be %s", what)
}

// countKeyword returns the non-negative integer value of keyword name in
// m, or nil when m does not have it.
func countKeyword(m map[string]any, name, path string) (*int, error) {
	raw, ok := m[name]
	if !ok {
		return nil, nil
	}
	f, isNumber := number(raw)
	if !isNumber || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return nil, schemaErrorf(joinPath(path, name), "must be a non-negative integer")
	}
	n := int(f)
	return &n, nil
}

// numberKeyword returns the number value of keyword name in m, or nil when
// m does not have it.
func numberKeyword(m map[string]any, name, path string) (*float64, error) {
	raw, ok := m[name]
	if !ok {
		return nil, nil
	}
	f, isNumber := number(raw)
	if !isNumber {
		return nil, schemaErrorf(joinPath(path, name), "must be a number")
	}
	return &f, nil
}

// exclusiveKeyword compiles exclusiveMinimum or exclusiveMaximum (name),
// which is either the draft-4 boolean modifying the keyword bound (whose
// value is boundValue), or a draft-6+ bound of its own.
func exclusiveKeyword(m map[string]any, name, bound string, boundValue *float64, path string) (modifier bool, own *float64, err error) {
	raw, ok := m[name]
	if !ok {
		return false, nil, nil
	}
	p := joinPath(path, name)
	if b, isBool := raw.(bool); isBool {
		if b && boundValue == nil {
			return false, nil, schemaErrorf(p, "true needs %s alongside", bound)
		}
		return b, nil, nil
	}
	f, isNumber := number(raw)
	if !isNumber {
		return false, nil, schemaErrorf(p, "must be a number or a boolean")
	}
	return false, &f, nil
}

// sortedKeys returns the keys of m in sorted order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// shapeDefault returns a deep copy of the default v of schema s, with each
// empty table (empty map or empty slice) turned into an empty array or an
// empty object when the schema that applies to it allows only one of them.
func shapeDefault(v any, s *Schema) any {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			if s.only("array", "object") {
				return []any{}
			}
			return map[string]any{}
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = shapeDefault(e, s.schemaForKey(k))
		}
		return out
	case []any:
		if len(t) == 0 {
			if s.only("object", "array") {
				return map[string]any{}
			}
			return []any{}
		}
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = shapeDefault(e, s.schemaForIndex(i))
		}
		return out
	default:
		return v
	}
}

// only reports whether s allows type want but not type other.
func (s *Schema) only(want, other string) bool {
	return s != nil && slices.Contains(s.types, want) && !slices.Contains(s.types, other)
}

// schemaForKey returns the first schema that s applies to property k of an
// object, or nil.
func (s *Schema) schemaForKey(k string) *Schema {
	if s == nil {
		return nil
	}
	if sub, ok := s.properties[k]; ok {
		return sub
	}
	for _, pp := range s.patternProps {
		if pp.re.MatchString(k) {
			return pp.schema
		}
	}
	return s.additional
}

// schemaForIndex returns the schema that s applies to item i of an array,
// or nil.
func (s *Schema) schemaForIndex(i int) *Schema {
	if s == nil {
		return nil
	}
	if s.tupleItems != nil {
		if i < len(s.tupleItems) {
			return s.tupleItems[i]
		}
		return nil
	}
	return s.items
}
