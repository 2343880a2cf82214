package luaplugin

import lua "github.com/yuin/gopher-lua"

// Placeholders until the library lands: requiring the module raises an error.
func (vm *VM) openRestyString(L *lua.LState) int { L.RaiseError("module not available yet"); return 0 }
func (vm *VM) openRestySHA1(L *lua.LState) int   { L.RaiseError("module not available yet"); return 0 }
func (vm *VM) openRestySHA256(L *lua.LState) int { L.RaiseError("module not available yet"); return 0 }
func (vm *VM) openRestyMD5(L *lua.LState) int    { L.RaiseError("module not available yet"); return 0 }
func (vm *VM) openRestyRandom(L *lua.LState) int { L.RaiseError("module not available yet"); return 0 }
