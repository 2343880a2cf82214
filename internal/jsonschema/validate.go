package jsonschema

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ValidationError reports the first place where a value does not match
// its schema.
type ValidationError struct {
	// Path names the failing place in the value: property names joined by
	// dots, array indexes in brackets, property names that are not plain
	// words quoted in brackets (consumers[1].key, nodes["10.0.0.1:80"]).
	// It is empty when the value itself fails.
	Path string
	// Message says what is wrong there.
	Message string
}

// Error implements error: "path: message", or the message alone when the
// path is empty.
func (e *ValidationError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// failf returns a *ValidationError at path.
func failf(path, format string, args ...any) error {
	return &ValidationError{Path: path, Message: fmt.Sprintf(format, args...)}
}

// Validate checks v against the schema and returns v with the schema's
// defaults filled in (see the package doc). It does not modify v: objects
// and arrays that gain defaults are copied. When v does not match, Validate
// returns nil and a *ValidationError naming the first failing place. A nil
// Schema accepts every value and returns it unchanged.
func (s *Schema) Validate(v any) (any, error) {
	if s == nil {
		return v, nil
	}
	out, _, err := s.validate(v, "")
	if err != nil {
		return nil, err
	}
	return out, nil
}

// validate checks v, found at path, against s. It returns v with defaults
// filled in, and whether that is a copy.
func (s *Schema) validate(v any, path string) (any, bool, error) {
	if s.reject {
		return nil, false, failf(path, "no value is allowed here")
	}
	if len(s.types) > 0 && !slices.ContainsFunc(s.types, func(t string) bool { return hasType(v, t) }) {
		return nil, false, failf(path, "expected %s, got %s", strings.Join(s.types, " or "), describe(v))
	}
	if s.hasEnum && !slices.ContainsFunc(s.enum, func(e any) bool { return equal(e, v, true) }) {
		if len(s.enum) == 0 {
			return nil, false, failf(path, "%s is not allowed: the enum is empty", formatValue(v))
		}
		vals := make([]string, len(s.enum))
		for i, e := range s.enum {
			vals[i] = formatValue(e)
		}
		return nil, false, failf(path, "%s is not one of %s", formatValue(v), strings.Join(vals, ", "))
	}
	if s.hasConst && !equal(s.constant, v, true) {
		return nil, false, failf(path, "%s is not the constant %s", formatValue(v), formatValue(s.constant))
	}

	out, changed := v, false
	var err error
	switch t := v.(type) {
	case map[string]any:
		out, changed, err = s.validateObject(t, path)
	case []any:
		out, changed, err = s.validateArray(t, path)
	case string:
		err = s.validateString(t, path)
	default:
		if f, ok := number(v); ok {
			err = s.validateNumber(f, path)
		}
	}
	if err != nil {
		return nil, false, err
	}

	// The rest only validates, and sees the value with its defaults.
	if m, ok := out.(map[string]any); ok {
		for _, name := range s.depNames {
			sub := s.depSchemas[name]
			if _, present := m[name]; sub == nil || !present {
				continue
			}
			if _, _, err := sub.validate(out, path); err != nil {
				return nil, false, err
			}
		}
	}
	if err := s.validateCombinators(out, path); err != nil {
		return nil, false, err
	}
	return out, changed, nil
}

// validateObject checks the object keywords of s against m, found at path.
func (s *Schema) validateObject(m map[string]any, path string) (any, bool, error) {
	for _, name := range s.required {
		if _, ok := m[name]; !ok {
			return nil, false, failf(joinPath(path, name), "required property missing")
		}
	}
	for _, name := range s.depNames {
		if _, ok := m[name]; !ok {
			continue
		}
		for _, dep := range s.depRequired[name] {
			if _, ok := m[dep]; !ok {
				return nil, false, failf(joinPath(path, dep), "required property missing (required when %q is present)", name)
			}
		}
	}
	if s.minProperties != nil && len(m) < *s.minProperties {
		return nil, false, failf(path, "has %d properties, fewer than the minimum %d", len(m), *s.minProperties)
	}
	if s.maxProperties != nil && len(m) > *s.maxProperties {
		return nil, false, failf(path, "has %d properties, more than the maximum %d", len(m), *s.maxProperties)
	}

	var out map[string]any // a copy of m, once something changes
	for _, k := range sortedKeys(m) {
		nv, changed, err := s.validateProperty(k, m[k], joinPath(path, k))
		if err != nil {
			return nil, false, err
		}
		if changed {
			if out == nil {
				out = maps.Clone(m)
			}
			out[k] = nv
		}
	}
	for _, name := range s.propertyNames {
		sub := s.properties[name]
		if _, ok := m[name]; ok || !sub.hasDefault {
			continue
		}
		if out == nil {
			out = maps.Clone(m)
		}
		out[name] = deepCopy(sub.def)
	}
	if out == nil {
		return m, false, nil
	}
	return out, true, nil
}

// validateProperty checks the value v of property k, found at path,
// against the schemas s applies to it: its properties schema and those of
// the matching patternProperties, or else additionalProperties.
func (s *Schema) validateProperty(k string, v any, path string) (any, bool, error) {
	changed, matched := false, false
	apply := func(sub *Schema) error {
		nv, ch, err := sub.validate(v, path)
		if err != nil {
			return err
		}
		if ch {
			v, changed = nv, true
		}
		return nil
	}
	if sub, ok := s.properties[k]; ok {
		matched = true
		if err := apply(sub); err != nil {
			return nil, false, err
		}
	}
	for _, pp := range s.patternProps {
		if !pp.re.MatchString(k) {
			continue
		}
		matched = true
		if err := apply(pp.schema); err != nil {
			return nil, false, err
		}
	}
	if !matched && s.additional != nil {
		if s.additional.reject {
			return nil, false, failf(path, "additional property not allowed")
		}
		if err := apply(s.additional); err != nil {
			return nil, false, err
		}
	}
	return v, changed, nil
}

// validateArray checks the array keywords of s against a, found at path.
func (s *Schema) validateArray(a []any, path string) (any, bool, error) {
	if s.minItems != nil && len(a) < *s.minItems {
		return nil, false, failf(path, "has %d items, fewer than the minimum %d", len(a), *s.minItems)
	}
	if s.maxItems != nil && len(a) > *s.maxItems {
		return nil, false, failf(path, "has %d items, more than the maximum %d", len(a), *s.maxItems)
	}
	if s.uniqueItems {
		seen := make(map[string]int, len(a))
		for i, item := range a {
			key := canonical(item)
			if j, dup := seen[key]; dup {
				return nil, false, failf(path, "items %d and %d are equal, but items must be unique", j, i)
			}
			seen[key] = i
		}
	}

	var out []any // a copy of a, once something changes
	for i, item := range a {
		sub := s.schemaForIndex(i)
		if sub == nil {
			continue
		}
		p := indexPath(path, i)
		if sub.reject && s.tupleItems == nil {
			return nil, false, failf(p, "no items are allowed here")
		}
		nv, changed, err := sub.validate(item, p)
		if err != nil {
			return nil, false, err
		}
		if changed {
			if out == nil {
				out = slices.Clone(a)
			}
			out[i] = nv
		}
	}
	if out == nil {
		return a, false, nil
	}
	return out, true, nil
}

// validateString checks the string keywords of s against str, found at
// path.
func (s *Schema) validateString(str, path string) error {
	if s.minLength != nil || s.maxLength != nil {
		n := utf8.RuneCountInString(str)
		if s.minLength != nil && n < *s.minLength {
			return failf(path, "%s is shorter than the minimum length %d", formatValue(str), *s.minLength)
		}
		if s.maxLength != nil && n > *s.maxLength {
			return failf(path, "%s is longer than the maximum length %d", formatValue(str), *s.maxLength)
		}
	}
	if s.pattern != nil && !s.pattern.MatchString(str) {
		return failf(path, "%s does not match the pattern %q", formatValue(str), s.pattern.String())
	}
	return nil
}

// validateNumber checks the number keywords of s against f, found at path.
func (s *Schema) validateNumber(f float64, path string) error {
	if s.minimum != nil {
		if s.minimumExclusive && f <= *s.minimum {
			return failf(path, "%s is not greater than the exclusive minimum %s", formatNumber(f), formatNumber(*s.minimum))
		}
		if f < *s.minimum {
			return failf(path, "%s is below the minimum %s", formatNumber(f), formatNumber(*s.minimum))
		}
	}
	if s.exclusiveMinimum != nil && f <= *s.exclusiveMinimum {
		return failf(path, "%s is not greater than the exclusive minimum %s", formatNumber(f), formatNumber(*s.exclusiveMinimum))
	}
	if s.maximum != nil {
		if s.maximumExclusive && f >= *s.maximum {
			return failf(path, "%s is not less than the exclusive maximum %s", formatNumber(f), formatNumber(*s.maximum))
		}
		if f > *s.maximum {
			return failf(path, "%s is above the maximum %s", formatNumber(f), formatNumber(*s.maximum))
		}
	}
	if s.exclusiveMaximum != nil && f >= *s.exclusiveMaximum {
		return failf(path, "%s is not less than the exclusive maximum %s", formatNumber(f), formatNumber(*s.exclusiveMaximum))
	}
	return nil
}

// validateCombinators checks allOf, anyOf, oneOf and not against v, found
// at path. The defaults these schemas would fill are discarded.
func (s *Schema) validateCombinators(v any, path string) error {
	for _, sub := range s.allOf {
		if _, _, err := sub.validate(v, path); err != nil {
			return err
		}
	}
	if len(s.anyOf) > 0 {
		var reasons []string
		for i, sub := range s.anyOf {
			_, _, err := sub.validate(v, "")
			if err == nil {
				reasons = nil
				break
			}
			reasons = append(reasons, fmt.Sprintf("anyOf[%d]: %v", i, err))
		}
		if reasons != nil {
			return failf(path, "does not match any schema in anyOf (%s)", strings.Join(reasons, "; "))
		}
	}
	if len(s.oneOf) > 0 {
		var reasons []string
		matched := -1
		for i, sub := range s.oneOf {
			_, _, err := sub.validate(v, "")
			if err != nil {
				reasons = append(reasons, fmt.Sprintf("oneOf[%d]: %v", i, err))
				continue
			}
			if matched >= 0 {
				return failf(path, "matches more than one schema in oneOf (oneOf[%d] and oneOf[%d])", matched, i)
			}
			matched = i
		}
		if matched < 0 {
			return failf(path, "does not match any schema in oneOf (%s)", strings.Join(reasons, "; "))
		}
	}
	if s.not != nil {
		if _, _, err := s.not.validate(v, ""); err == nil {
			return failf(path, "must not match the schema in not")
		}
	}
	return nil
}

// hasType reports whether v is of the JSON Schema type name.
func hasType(v any, name string) bool {
	switch name {
	case "integer":
		f, ok := number(v)
		return ok && isWhole(f)
	case "number":
		_, ok := number(v)
		return ok
	default:
		return typeOf(v) == name
	}
}

// isWhole reports whether f is a finite number without a fractional part.
func isWhole(f float64) bool {
	return f == math.Trunc(f) && !math.IsInf(f, 0)
}

// joinPath returns the path of property key of the value at base.
func joinPath(base, key string) string {
	if !plainKey(key) {
		return base + "[" + strconv.Quote(key) + "]"
	}
	if base == "" {
		return key
	}
	return base + "." + key
}

// indexPath returns the path of item i of the array at base.
func indexPath(base string, i int) string {
	return base + "[" + strconv.Itoa(i) + "]"
}

// plainKey reports whether key can appear in a path unquoted: it is not
// empty and has only ASCII letters, digits, '_' and '-'.
func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
