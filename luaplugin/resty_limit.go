package luaplugin

import lua "github.com/yuin/gopher-lua"

// Placeholders until the library lands: requiring the module raises an error.
func (vm *VM) openRestyLimitReq(L *lua.LState) int {
	L.RaiseError("module not available yet")
	return 0
}
func (vm *VM) openRestyLimitCount(L *lua.LState) int {
	L.RaiseError("module not available yet")
	return 0
}
func (vm *VM) openRestyLimitConn(L *lua.LState) int {
	L.RaiseError("module not available yet")
	return 0
}
func (vm *VM) openRestyLimitTraffic(L *lua.LState) int {
	L.RaiseError("module not available yet")
	return 0
}
