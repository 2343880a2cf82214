package shdict

// Kind is the type of a Value.
type Kind uint8

const (
	// KindNil is the kind of the zero Value: "no value". Get returns it for
	// a missing or expired key; storing it with Set deletes the key.
	KindNil Kind = iota
	// KindString is a byte string (Lua string).
	KindString
	// KindNumber is a float64 (Lua number).
	KindNumber
	// KindBool is a boolean (Lua boolean).
	KindBool
)

// String returns the Lua type name of the kind ("nil", "string", "number"
// or "boolean").
func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindNumber:
		return "number"
	case KindBool:
		return "boolean"
	}
	return "nil"
}

// Value is one value held in a dictionary (or in a list stored in one): a
// string, a number or a boolean. The zero Value is nil. Values are small,
// immutable and cheap to copy; build them with StringValue, NumberValue and
// BoolValue.
type Value struct {
	s string
	n float64 // the number, or 1/0 for a boolean
	k Kind
}

// StringValue returns a string Value.
func StringValue(s string) Value { return Value{s: s, k: KindString} }

// NumberValue returns a number Value.
func NumberValue(n float64) Value { return Value{n: n, k: KindNumber} }

// BoolValue returns a boolean Value.
func BoolValue(b bool) Value {
	if b {
		return Value{n: 1, k: KindBool}
	}
	return Value{k: KindBool}
}

// Kind reports the type of v.
func (v Value) Kind() Kind { return v.k }

// IsNil reports whether v is the nil (zero) Value.
func (v Value) IsNil() bool { return v.k == KindNil }

// Str returns the string held by a KindString value, or "" for other kinds.
func (v Value) Str() string { return v.s }

// Num returns the number held by a KindNumber value, or 0 for other kinds
// (1 or 0 for a boolean).
func (v Value) Num() float64 { return v.n }

// Bool returns the boolean held by a KindBool value; false for other kinds.
func (v Value) Bool() bool { return v.k == KindBool && v.n != 0 }

// size is the number of value bytes nginx stores for v: the string bytes, 8
// for a double, 1 for a boolean.
func (v Value) size() int {
	switch v.k {
	case KindString:
		return len(v.s)
	case KindNumber:
		return 8
	case KindBool:
		return 1
	}
	return 0
}
