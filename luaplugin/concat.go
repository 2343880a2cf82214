package luaplugin

import (
	"sync"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// The `..` operator is the one place where a script builds strings without
// calling a Go function we control: gopher-lua's VM joins the operands
// itself. A loop doubling a string would reach gigabytes in a few steps,
// and a failed Go allocation ends the whole process. So the VM's
// instruction table entry for OP_CONCAT is wrapped once, at init: the
// wrapper adds up the operands' lengths and raises LuaJIT's "string length
// overflow" before the join when the result would exceed the running
// thread's lua_max_string_size. Other instructions are untouched (no cost),
// and the check costs a few ns per concatenation. TestConcatGuard
// fails if a gopher-lua upgrade changes what this relies on.

//go:linkname vmJumpTable github.com/yuin/gopher-lua.jumpTable
var vmJumpTable [lua.OP_NOP + 1]func(L *lua.LState, inst uint32, baseframe unsafe.Pointer) int

// maxStringKey is the context key under which a thread's budget context
// answers its pool's MaxStringSize (coroutines reach it through their
// derived contexts).
type maxStringKey struct{}

var installConcatGuard = sync.OnceFunc(func() {
	orig := vmJumpTable[lua.OP_CONCAT]
	vmJumpTable[lua.OP_CONCAT] = func(L *lua.LState, inst uint32, baseframe unsafe.Pointer) int {
		if max := threadMaxString(L); max > 0 {
			b := int(inst & 0x1ff)
			c := int(inst>>9) & 0x1ff
			total := 0
			for i := b; i <= c; i++ {
				switch v := L.Get(i + 1).(type) {
				case lua.LString:
					total += len(v)
				case lua.LNumber:
					total += 24
				}
			}
			if total > max {
				L.RaiseError("string length overflow")
			}
		}
		return orig(L, inst, baseframe)
	}
})

// threadMaxString is the string size limit of the thread L runs on, or 0
// outside the engine's threads.
func threadMaxString(L *lua.LState) int {
	switch ctx := L.Context().(type) {
	case nil:
		return 0
	case *budgetCtx:
		return ctx.maxString
	default:
		n, _ := ctx.Value(maxStringKey{}).(int)
		return n
	}
}
