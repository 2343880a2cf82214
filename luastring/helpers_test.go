package luastring

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// newState returns a Lua state with the base, table, string and math
// libraries, with Open applied when lim is not nil.
func newState(t testing.TB, lim *Limits) *lua.LState {
	t.Helper()
	L := lua.NewState(lua.Options{SkipOpenLibs: true, RegistryMaxSize: 1 << 20})
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.CoroutineLibName, lua.OpenCoroutine},
	} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	if lim != nil {
		Open(L, lim)
	}
	t.Cleanup(L.Close)
	return L
}

// eval runs "return <expr>" and returns its results serialized by show,
// or `error "<message>"` without the message's position.
func eval(L *lua.LState, expr string) string {
	top := L.GetTop()
	defer L.SetTop(top)
	if err := L.DoString("return " + expr); err != nil {
		msg := err.Error()
		if le, ok := err.(*lua.ApiError); ok {
			msg = le.Object.String()
		}
		return "error " + quote(errPosition.ReplaceAllString(msg, ""))
	}
	return show(L, top+1)
}

// errPosition matches the position at the start of an error message.
var errPosition = regexp.MustCompile(`^[^:]*:\d+: `)

// quote quotes s with printable ASCII kept and other bytes as \xHH.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= ' ' && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "\\x%02x", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// show serializes the values on the stack from index from: strings
// quoted, numbers as %.14g, other values by type.
func show(L *lua.LState, from int) string {
	var parts []string
	for i := from; i <= L.GetTop(); i++ {
		parts = append(parts, showValue(L.Get(i)))
	}
	return strings.Join(parts, " ")
}

func showValue(v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		return quote(string(v))
	case lua.LNumber:
		return string(AppendNumber(nil, float64(v)))
	case lua.LBool, *lua.LNilType:
		return v.String()
	}
	return v.Type().String()
}
