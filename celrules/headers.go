package celrules

import (
	"reflect"
	"strings"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// HeaderGetter is implemented by a Request that can look one header up
// without building the whole header map. When a Request implements it,
// `req.headers["name"]` and `"name" in req.headers` call Header, and only
// operations on the whole map (size, iteration, comparison) call Headers.
type HeaderGetter interface {
	// Header returns the value of the header with the given lower-case
	// name, repeated values joined with ", ".
	Header(name string) (string, bool)
}

// Header implements HeaderGetter. It does not allocate unless the header
// is repeated.
func (h *HTTPRequest) Header(name string) (string, bool) {
	if h.headers != nil {
		v, ok := h.headers[name]
		return v, ok
	}
	for k, v := range h.R.Header {
		if len(k) == len(name) && strings.EqualFold(k, name) && len(v) > 0 {
			if len(v) == 1 {
				return v[0], true
			}
			return strings.Join(v, ", "), true
		}
	}
	if name == "host" && h.R.Host != "" {
		return h.R.Host, true
	}
	return "", false
}

// headerMap is the CEL value of req.headers for a Request implementing
// HeaderGetter: lookups go to Header, the rest to the full map, built on
// first need.
type headerMap struct {
	req  Request
	hg   HeaderGetter
	full traits.Mapper
}

var _ traits.Mapper = (*headerMap)(nil)

func (m *headerMap) all() traits.Mapper {
	if m.full == nil {
		m.full = types.NewStringStringMap(types.DefaultTypeAdapter, nonNilSS(m.req.Headers()))
	}
	return m.full
}

// Find implements traits.Mapper.
func (m *headerMap) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return m.all().Find(key)
	}
	v, found := m.hg.Header(string(k))
	if !found {
		return nil, false
	}
	return types.String(v), true
}

// Get implements traits.Indexer.
func (m *headerMap) Get(key ref.Val) ref.Val {
	v, found := m.Find(key)
	if !found {
		if types.IsUnknownOrError(v) {
			return v
		}
		return types.ValOrErr(key, "no such key: %v", key)
	}
	return v
}

// Contains implements traits.Container.
func (m *headerMap) Contains(key ref.Val) ref.Val {
	v, found := m.Find(key)
	if !found && v != nil && types.IsUnknownOrError(v) {
		return v
	}
	return types.Bool(found)
}

func (m *headerMap) Iterator() traits.Iterator { return m.all().Iterator() }
func (m *headerMap) Size() ref.Val             { return m.all().Size() }
func (m *headerMap) ConvertToNative(t reflect.Type) (any, error) {
	return m.all().ConvertToNative(t)
}
func (m *headerMap) ConvertToType(t ref.Type) ref.Val { return m.all().ConvertToType(t) }
func (m *headerMap) Equal(other ref.Val) ref.Val      { return m.all().Equal(other) }
func (m *headerMap) Type() ref.Type                   { return types.MapType }
func (m *headerMap) Value() any                       { return m.all().Value() }
