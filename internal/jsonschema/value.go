package jsonschema

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxShown is how many characters of a string or an encoded object an
// error message shows.
const maxShown = 64

// number returns v as a float64 when v is a Go number.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

// typeOf returns the JSON type name of v (number, never integer), or ""
// for a Go value JSON has no type for.
func typeOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	if _, ok := number(v); ok {
		return "number"
	}
	return ""
}

// describe names the type of v for an error message, with its value when
// it is short.
func describe(v any) string {
	switch t := typeOf(v); t {
	case "null", "object", "array":
		return t
	case "":
		return fmt.Sprintf("a Go %T", v)
	default:
		return t + " " + formatValue(v)
	}
}

// formatValue renders v for an error message: like JSON, with long
// strings and objects cut short.
func formatValue(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(t)
	case string:
		if n := utf8.RuneCountInString(t); n > maxShown {
			cut := []rune(t)[:maxShown-4]
			return strconv.Quote(string(cut)) + fmt.Sprintf("... (%d characters)", n)
		}
		return strconv.Quote(t)
	case map[string]any, []any:
		b, err := json.Marshal(t)
		if err != nil || len(b) > maxShown {
			return typeOf(t)
		}
		return string(b)
	}
	if f, ok := number(v); ok {
		return formatNumber(f)
	}
	return fmt.Sprintf("%v", v)
}

// formatNumber renders f for an error message: whole numbers without an
// exponent up to 1e21, as JavaScript does.
func formatNumber(f float64) string {
	if isWhole(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// equal reports whether the JSON values a and b are equal: numbers by
// value (1 equals 1.0, but not true), objects by their properties, arrays
// item by item. With lenientEmpty, an empty object and an empty array are
// equal too, because an empty Lua table in a schema may stand for either.
func equal(a, b any, lenientEmpty bool) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return lenientEmpty && len(x) == 0 && isEmptyArray(b)
		}
		if len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv, lenientEmpty) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok {
			return lenientEmpty && len(x) == 0 && isEmptyObject(b)
		}
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i], lenientEmpty) {
				return false
			}
		}
		return true
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	if fx, ok := number(a); ok {
		fy, ok := number(b)
		return ok && fx == fy
	}
	return reflect.DeepEqual(a, b)
}

func isEmptyArray(v any) bool {
	a, ok := v.([]any)
	return ok && len(a) == 0
}

func isEmptyObject(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 0
}

// canonical returns a string that is the same for two JSON values exactly
// when equal (without lenientEmpty) says they are equal.
func canonical(v any) string {
	var b strings.Builder
	writeCanonical(&b, v)
	return b.String()
}

func writeCanonical(b *strings.Builder, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case string:
		b.WriteString(strconv.Quote(t))
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			writeCanonical(b, t[k])
		}
		b.WriteByte('}')
	default:
		if f, ok := number(v); ok {
			if f == 0 {
				f = 0 // -0 equals 0
			}
			b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
			return
		}
		fmt.Fprintf(b, "<%T %#v>", v, v)
	}
}

// deepCopy returns a copy of v that shares no object or array with it.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
