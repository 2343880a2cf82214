package luaplugin

import (
	"strings"
	"sync"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// LuaJIT's runtime error messages name the variable at fault: "attempt to
// call global 'foo' (a nil value)", "attempt to index local 'res' (a nil
// value)", "attempt to perform arithmetic on field 'n' (a nil value)";
// gopher-lua's say "attempt to call a non-function object" or "attempt to
// index a non-table object(nil) with key 'x'". OpenResty users read (and
// their tests match) LuaJIT's, so the instructions that raise them are
// wrapped, once, in the VM's instruction table: each wrapper checks the
// operand's type (a type switch, no allocation), lets gopher-lua run the
// instruction when it can, and otherwise raises LuaJIT's message, naming
// the operand as Lua 5.1's getobjname does from the function's debug
// information and bytecode.

// installErrorNames wraps the instructions (see above). The fast path of
// each wrapper is a register read and a type check before the original.
var installErrorNames = sync.OnceFunc(func() {
	type instFunc = func(L *lua.LState, inst uint32, baseframe unsafe.Pointer) int
	argA := func(inst uint32) int { return int(inst>>18) & 0xff }
	argB := func(inst uint32) int { return int(inst & 0x1ff) }
	argC := func(inst uint32) int { return int(inst>>9) & 0x1ff }

	for _, op := range []int{lua.OP_CALL, lua.OP_TAILCALL} {
		orig := vmJumpTable[op]
		vmJumpTable[op] = func(L *lua.LState, inst uint32, baseframe unsafe.Pointer) int {
			a := argA(inst)
			v := L.Get(a + 1)
			if _, ok := v.(*lua.LFunction); !ok && inFrame(L, a) && L.GetMetaField(v, "__call") == lua.LNil {
				L.RaiseError("%s", typeError(L, v, a, "call"))
			}
			return orig(L, inst, baseframe)
		}
	}

	// index wraps an instruction indexing register reg(inst).
	index := func(op int, reg func(uint32) int, event string) {
		orig := vmJumpTable[op]
		vmJumpTable[op] = func(L *lua.LState, inst uint32, baseframe unsafe.Pointer) int {
			r := reg(inst)
			v := L.Get(r + 1)
			if _, ok := v.(*lua.LTable); !ok && inFrame(L, r) && L.GetMetaField(v, event) == lua.LNil {
				L.RaiseError("%s", typeError(L, v, r, "index"))
			}
			return orig(L, inst, baseframe)
		}
	}
	for _, op := range []int{lua.OP_GETTABLE, lua.OP_GETTABLEKS, lua.OP_SELF} {
		index(op, argB, "__index")
	}
	for _, op := range []int{lua.OP_SETTABLE, lua.OP_SETTABLEKS} {
		index(op, argA, "__newindex")
	}

	arith := map[int]string{lua.OP_ADD: "__add", lua.OP_SUB: "__sub", lua.OP_MUL: "__mul",
		lua.OP_DIV: "__div", lua.OP_MOD: "__mod", lua.OP_POW: "__pow"}
	for op, event := range arith {
		orig, event := vmJumpTable[op], event
		var f instFunc = func(L *lua.LState, inst uint32, baseframe unsafe.Pointer) int {
			// Constant operands are numbers or strings (reading the
			// running function's constants would cost an allocation):
			// only registers are checked.
			b, c := argB(inst), argC(inst)
			x, y := regValue(L, b), regValue(L, c)
			if (noArith(x) || noArith(y)) && inFrame(L, rkReg(b)) && inFrame(L, rkReg(c)) &&
				L.GetMetaField(x, event) == lua.LNil && L.GetMetaField(y, event) == lua.LNil {
				// The first operand that is not a number is at fault.
				if noArith(x) {
					L.RaiseError("%s", typeError(L, x, b, "perform arithmetic on"))
				}
				L.RaiseError("%s", typeError(L, y, c, "perform arithmetic on"))
			}
			return orig(L, inst, baseframe)
		}
		vmJumpTable[op] = f
	}

	unm := vmJumpTable[lua.OP_UNM]
	vmJumpTable[lua.OP_UNM] = func(L *lua.LState, inst uint32, baseframe unsafe.Pointer) int {
		b := argB(inst)
		if v := L.Get(b + 1); noArith(v) && inFrame(L, b) && L.GetMetaField(v, "__unm") == lua.LNil {
			L.RaiseError("%s", typeError(L, v, b, "perform arithmetic on"))
		}
		return unm(L, inst, baseframe)
	}

	length := vmJumpTable[lua.OP_LEN]
	vmJumpTable[lua.OP_LEN] = func(L *lua.LState, inst uint32, baseframe unsafe.Pointer) int {
		b := argB(inst)
		switch v := L.Get(b + 1).(type) {
		case lua.LString, *lua.LTable:
		default:
			if inFrame(L, b) && L.GetMetaField(v, "__len") == lua.LNil {
				L.RaiseError("%s", typeError(L, v, b, "get length of"))
			}
		}
		return length(L, inst, baseframe)
	}

	concat := vmJumpTable[lua.OP_CONCAT]
	vmJumpTable[lua.OP_CONCAT] = func(L *lua.LState, inst uint32, baseframe unsafe.Pointer) int {
		if msg := concatError(L, argB(inst), argC(inst)); msg != "" {
			L.RaiseError("%s", msg)
		}
		return concat(L, inst, baseframe)
	}
})

// concatError is the error of joining registers b to c, or "".
func concatError(L *lua.LState, b, c int) string {
	// Lua joins from the right; in the failing pair the left operand is
	// at fault when it is wrong too.
	if !inFrame(L, c) {
		return ""
	}
	for i := c; i >= b; i-- {
		v := L.Get(i + 1)
		if !noArith(v) {
			continue
		}
		for j := b; j <= c; j++ {
			if L.GetMetaField(L.Get(j+1), "__concat") != lua.LNil {
				return ""
			}
		}
		if i == c && i > b && noArith(L.Get(i)) {
			i--
			v = L.Get(i + 1)
		}
		return typeError(L, v, i, "concatenate")
	}
	return ""
}

// noArith tells whether v is neither a number nor a string: no
// arithmetic operand (strings may convert: gopher-lua decides) and
// nothing to concatenate, without a metamethod.
func noArith(v lua.LValue) bool {
	switch v.(type) {
	case lua.LNumber, lua.LString:
		return false
	}
	return true
}

// inFrame tells whether register reg (-1: a constant) is below the
// registry's top, so that L.Get read its value: above it L.Get answers nil
// whatever the register holds, and the wrapper leaves the instruction to
// gopher-lua rather than raise for a value it did not see.
func inFrame(L *lua.LState, reg int) bool {
	return reg < L.GetTop()
}

// rkReg is the register of an RK operand, or -1 for a constant.
func rkReg(rk int) int {
	if rk&0x100 != 0 {
		return -1
	}
	return rk
}

// regValue is the value of an RK operand held in a register, or a number
// for a constant.
func regValue(L *lua.LState, rk int) lua.LValue {
	if rk&0x100 != 0 {
		return lua.LNumber(0)
	}
	return L.Get(rk + 1)
}

// runningFrame is the frame of the Lua function running on L.
func runningFrame(L *lua.LState) *glCallFrame {
	dbg, ok := L.GetStack(0)
	if !ok {
		return nil
	}
	f := *(**glCallFrame)(unsafe.Pointer(dbg))
	if f == nil || f.Fn == nil || f.Fn.IsG || f.Fn.Proto == nil {
		return nil
	}
	return f
}

// typeError is Lua's "attempt to <op> <kind> '<name>' (a <type> value)",
// or "attempt to <op> a <type> value" when the operand has no name (reg
// is -1 for a constant).
func typeError(L *lua.LState, v lua.LValue, reg int, op string) string {
	t := v.Type().String()
	if reg >= 0 {
		if f := runningFrame(L); f != nil {
			if kind, name := objName(f.Fn.Proto, f.Pc-1, reg); kind != "" {
				return "attempt to " + op + " " + kind + " '" + name + "' (a " + t + " value)"
			}
		}
	}
	return "attempt to " + op + " a " + t + " value"
}

// objName names what register reg holds at instruction pc of p, as Lua
// 5.1's getobjname: a local variable, or what the instruction that last
// set the register loaded (a global, a field, a method, an upvalue).
func objName(p *lua.FunctionProto, pc, reg int) (kind, name string) {
	if name := localName(p, reg, pc); name != "" {
		return "local", name
	}
	i := lastSetter(p, pc, reg)
	if i < 0 {
		return "", ""
	}
	inst := p.Code[i]
	a, b, c := int(inst>>18)&0xff, int(inst&0x1ff), int(inst>>9)&0x1ff
	switch int(inst >> 26) {
	case lua.OP_GETGLOBAL:
		if k := int(inst & 0x3ffff); k < len(p.Constants) {
			if s, ok := p.Constants[k].(lua.LString); ok {
				return "global", string(s)
			}
		}
	case lua.OP_MOVE:
		if b < a {
			return objName(p, i, b)
		}
	case lua.OP_GETTABLE, lua.OP_GETTABLEKS:
		if s := constString(p, c); s != "" {
			return "field", s
		}
	case lua.OP_SELF:
		if s := constString(p, c); s != "" {
			return "method", s
		}
	case lua.OP_GETUPVAL:
		if b < len(p.DbgUpvalues) {
			return "upvalue", p.DbgUpvalues[b]
		}
	}
	return "", ""
}

// constString is the string constant an RK operand names, or "".
func constString(p *lua.FunctionProto, rk int) string {
	if rk&0x100 != 0 && rk&0xff < len(p.Constants) {
		if s, ok := p.Constants[rk&0xff].(lua.LString); ok {
			return string(s)
		}
	}
	return ""
}

// localName is the name of the local variable in register reg at pc, or
// "" (the engine's own temporaries, named "(…)", have none).
func localName(p *lua.FunctionProto, reg, pc int) string {
	n := reg + 1
	for _, l := range p.DbgLocals {
		if l.StartPc > pc {
			break
		}
		if pc < l.EndPc {
			if n--; n == 0 {
				if strings.HasPrefix(l.Name, "(") {
					return ""
				}
				return l.Name
			}
		}
	}
	return ""
}

// lastSetter is the instruction before pc that last set register reg,
// following forward jumps that stay before pc (Lua 5.1's symbexec), or -1.
func lastSetter(p *lua.FunctionProto, lastpc, reg int) int {
	last := -1
	for pc := 0; pc < lastpc && pc < len(p.Code); pc++ {
		inst := p.Code[pc]
		op := int(inst >> 26)
		a, b, c := int(inst>>18)&0xff, int(inst&0x1ff), int(inst>>9)&0x1ff
		sets := func(from, to int) {
			if reg >= from && reg <= to {
				last = pc
			}
		}
		switch op {
		case lua.OP_MOVE, lua.OP_MOVEN, lua.OP_LOADK, lua.OP_LOADBOOL, lua.OP_GETUPVAL,
			lua.OP_GETGLOBAL, lua.OP_GETTABLE, lua.OP_GETTABLEKS, lua.OP_NEWTABLE,
			lua.OP_ADD, lua.OP_SUB, lua.OP_MUL, lua.OP_DIV, lua.OP_MOD, lua.OP_POW,
			lua.OP_UNM, lua.OP_NOT, lua.OP_LEN, lua.OP_CONCAT, lua.OP_TESTSET, lua.OP_FORPREP:
			sets(a, a)
		case lua.OP_LOADNIL:
			sets(a, b)
		case lua.OP_SELF:
			sets(a, a+1)
		case lua.OP_CALL:
			if c == 0 {
				sets(a, 255)
			} else {
				sets(a, a+c-2)
			}
		case lua.OP_TAILCALL:
			sets(a, 255)
		case lua.OP_VARARG:
			if b == 0 {
				sets(a, 255)
			} else {
				sets(a, a+b-2)
			}
		case lua.OP_FORLOOP:
			sets(a, a)
			sets(a+3, a+3)
		case lua.OP_TFORLOOP:
			sets(a+2, 255)
		case lua.OP_CLOSURE:
			sets(a, a)
			// The pseudo-instructions that bind its upvalues follow.
			if k := int(inst & 0x3ffff); k < len(p.FunctionPrototypes) {
				pc += int(p.FunctionPrototypes[k].NumUpvalues)
			}
		case lua.OP_JMP:
			if dest := pc + 1 + int(inst&0x3ffff) - 0x1ffff; pc < dest && dest <= lastpc {
				pc = dest - 1
			}
		}
	}
	return last
}
