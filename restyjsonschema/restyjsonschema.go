package restyjsonschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/internal/jsonschema"
	"github.com/caddy-resty/caddy-resty/luaplugin"
)

func init() {
	luaplugin.RegisterModule("resty.jsonschema", open)
}

// maxDepth bounds the nesting of a converted Lua value.
const maxDepth = 64

// cjson's metatables that mark a table as an array (see package cjson).
const (
	arrayMTKey      = "caddy-resty.cjson.array_mt"
	emptyArrayMTKey = "caddy-resty.cjson.empty_array_mt"
)

func open(_ *luaplugin.VM, L *lua.LState) lua.LValue {
	mod := L.CreateTable(0, 4)
	mt := L.CreateTable(0, 1)
	mod.RawSetString("_VERSION", lua.LString("1.0"))
	mod.RawSetString("new", L.NewFunction(func(L *lua.LState) int { return newValidator(L, mt) }))
	mod.RawSetString("validate", L.NewFunction(validate))
	mod.RawSetString("validate_json", L.NewFunction(validateJSON))
	mt.RawSetString("__index", mod)
	return mod
}

// new(schema): a validator, or nil, err.
func newValidator(L *lua.LState, mt *lua.LTable) int {
	raw, err := toGo(L, L.CheckAny(1), 0)
	if err != nil {
		return luaplugin.PushFail(L, "schema: "+err.Error())
	}
	s, err := jsonschema.Compile(raw)
	if err != nil {
		return luaplugin.PushFail(L, err.Error())
	}
	return luaplugin.PushObject(L, s, mt)
}

func checkValidator(L *lua.LState) *jsonschema.Schema {
	s, ok := L.CheckUserData(1).Value.(*jsonschema.Schema)
	if !ok {
		L.ArgError(1, "jsonschema validator expected")
	}
	return s
}

// pushResult returns true, or false and err's message.
func pushResult(L *lua.LState, err error) int {
	if err != nil {
		L.Push(lua.LFalse)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(lua.LTrue)
	return 1
}

// v:validate(value): true, or false, err.
func validate(L *lua.LState) int {
	s := checkValidator(L)
	v, err := toGo(L, L.Get(2), 0)
	if err != nil {
		return pushResult(L, err)
	}
	_, err = s.Validate(v)
	return pushResult(L, err)
}

// v:validate_json(text): true, or false, err.
func validateJSON(L *lua.LState) int {
	s := checkValidator(L)
	text := L.CheckString(2)
	v, err := decodeJSON(text)
	if err != nil {
		return pushResult(L, err)
	}
	_, err = s.Validate(v)
	return pushResult(L, err)
}

// decodeJSON decodes one JSON value, refusing trailing data.
func decodeJSON(text string) (any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("invalid JSON: empty")
		}
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: data after the value")
	}
	return v, nil
}

// toGo converts a Lua value as encoding/json would decode the JSON cjson
// encodes it to.
func toGo(L *lua.LState, v lua.LValue, depth int) (any, error) {
	switch lv := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(lv), nil
	case lua.LNumber:
		f := float64(lv)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%s is not a JSON number", luaplugin.FormatNumber(f))
		}
		return f, nil
	case lua.LString:
		return string(lv), nil
	case *lua.LUserData:
		if lv == luaplugin.Null {
			return nil, nil
		}
	case *lua.LTable:
		if depth >= maxDepth {
			return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
		}
		return tableToGo(L, lv, depth+1)
	}
	return nil, fmt.Errorf("a %s is not a JSON value", v.Type())
}

func tableToGo(L *lua.LState, t *lua.LTable, depth int) (any, error) {
	n, maxIndex, array := 0, 0, true
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		n++
		if !array {
			continue
		}
		i, ok := k.(lua.LNumber)
		if !ok || float64(i) != math.Trunc(float64(i)) || i < 1 || float64(i) > float64(math.MaxInt32) {
			array = false
			continue
		}
		maxIndex = max(maxIndex, int(i))
	}
	if n == 0 {
		if mt, ok := t.Metatable.(*lua.LTable); ok {
			reg := L.G.Registry
			if mt == reg.RawGetString(arrayMTKey) || mt == reg.RawGetString(emptyArrayMTKey) {
				return []any{}, nil
			}
		}
		return map[string]any{}, nil
	}
	if array && maxIndex == n {
		a := make([]any, n)
		for i := 1; i <= n; i++ {
			v, err := toGo(L, t.RawGetInt(i), depth)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			a[i-1] = v
		}
		return a, nil
	}
	m := make(map[string]any, n)
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		var key string
		switch lk := k.(type) {
		case lua.LString:
			key = string(lk)
		case lua.LNumber:
			key = luaplugin.FormatNumber(float64(lk))
		default:
			return nil, fmt.Errorf("a %s key is not a JSON object key", k.Type())
		}
		gv, err := toGo(L, v, depth)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", strconv.Quote(key), err)
		}
		m[key] = gv
	}
	return m, nil
}
