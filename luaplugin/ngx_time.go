package luaplugin

import (
	"fmt"
	"net/http"
	"time"

	lua "github.com/yuin/gopher-lua"
)

func (vm *VM) installTime(ngx *lua.LTable) {
	L := vm.L
	for name, fn := range map[string]lua.LGFunction{
		"time": func(L *lua.LState) int {
			L.Push(lua.LNumber(vm.NowMs() / 1000))
			return 1
		},
		"now": func(L *lua.LState) int {
			L.Push(lua.LNumber(float64(vm.NowMs()) / 1000))
			return 1
		},
		"today": func(L *lua.LState) int {
			L.Push(lua.LString(time.UnixMilli(vm.NowMs()).Format("2006-01-02")))
			return 1
		},
		"localtime": func(L *lua.LState) int {
			L.Push(lua.LString(time.UnixMilli(vm.NowMs()).Format("2006-01-02 15:04:05")))
			return 1
		},
		"utctime": func(L *lua.LState) int {
			L.Push(lua.LString(time.UnixMilli(vm.NowMs()).UTC().Format("2006-01-02 15:04:05")))
			return 1
		},
		"update_time": func(L *lua.LState) int {
			vm.updateTime()
			return 0
		},
		"http_time": func(L *lua.LState) int {
			L.Push(lua.LString(time.Unix(int64(L.CheckNumber(1)), 0).UTC().Format(http.TimeFormat)))
			return 1
		},
		"cookie_time": func(L *lua.LState) int {
			L.Push(lua.LString(cookieTime(int64(L.CheckNumber(1)))))
			return 1
		},
		"parse_http_time": func(L *lua.LState) int {
			t, err := http.ParseTime(L.CheckString(1))
			if err != nil {
				L.Push(lua.LNil)
				return 1
			}
			L.Push(lua.LNumber(t.Unix()))
			return 1
		},
	} {
		ngx.RawSetString(name, L.NewFunction(fn))
	}
}

// cookieTime formats like nginx's ngx_http_cookie_time: a two-digit year
// up to 2037, four digits after.
func cookieTime(sec int64) string {
	t := time.Unix(sec, 0).UTC()
	year := t.Year()
	if year <= 2037 {
		year %= 100
		return fmt.Sprintf("%s, %02d-%s-%02d %02d:%02d:%02d GMT", t.Weekday().String()[:3], t.Day(),
			t.Month().String()[:3], year, t.Hour(), t.Minute(), t.Second())
	}
	return fmt.Sprintf("%s, %02d-%s-%d %02d:%02d:%02d GMT", t.Weekday().String()[:3], t.Day(),
		t.Month().String()[:3], year, t.Hour(), t.Minute(), t.Second())
}
