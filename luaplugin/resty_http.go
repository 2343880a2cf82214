package luaplugin

import lua "github.com/yuin/gopher-lua"

// Placeholders until the library lands: requiring the module raises an error.
func (vm *VM) openRestyHTTP(L *lua.LState) int { L.RaiseError("module not available yet"); return 0 }
