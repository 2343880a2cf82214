// Package restystring provides the Lua modules resty.string, resty.sha,
// resty.md5, resty.sha1, resty.sha224, resty.sha256, resty.sha384,
// resty.sha512 and resty.random: the API of lua-resty-string, implemented
// in Go with the standard library's hashes and crypto/rand. It registers
// them with the engine at init (luaplugin.RegisterModule).
package restystring

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"io"
	"math"
	mrand "math/rand/v2"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
)

func init() {
	luaplugin.RegisterModule("resty.string", openString)
	luaplugin.RegisterModule("resty.sha", openSHA)
	luaplugin.RegisterModule("resty.random", openRandom)
	for name, newHash := range digests {
		luaplugin.RegisterModule(name, func(_ *luaplugin.VM, L *lua.LState) lua.LValue {
			return digestModule(L, name, newHash)
		})
	}
}

// stringVersion is the _VERSION of the lua-resty-string modules.
const stringVersion = "0.16"

// stringArg is a string argument used with #s in the library: any
// other type raises LuaJIT's "attempt to get length" error.
func stringArg(L *lua.LState, n int, name string) string {
	v := L.Get(n)
	s, ok := v.(lua.LString)
	if !ok {
		L.RaiseError("attempt to get length of local '%s' (a %s value)", name, v.Type().String())
	}
	return string(s)
}

// ---- resty.string ----

func openString(_ *luaplugin.VM, L *lua.LState) lua.LValue {
	mod := L.CreateTable(0, 3)
	mod.RawSetString("_VERSION", lua.LString(stringVersion))
	// to_hex(s): lower-case hex digits of the bytes of s.
	mod.RawSetString("to_hex", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(hex.EncodeToString([]byte(stringArg(L, 1, "s")))))
		return 1
	}))
	// atoi(s): nginx's ngx_atoi: the decimal number s, or -1 when s is
	// empty, has anything but digits or overflows.
	mod.RawSetString("atoi", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(ngxAtoi(stringArg(L, 1, "s"))))
		return 1
	}))
	return mod
}

// ngxAtoi is nginx's ngx_atoi on a 64-bit system.
func ngxAtoi(s string) float64 {
	if s == "" {
		return -1
	}
	const cutoff, cutlim = math.MaxInt64 / 10, math.MaxInt64 % 10
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return -1
		}
		d := int64(c - '0')
		if v >= cutoff && (v > cutoff || d > cutlim) {
			return -1
		}
		v = v*10 + d
	}
	return float64(v)
}

// ---- digests ----

// digest is a digest object of resty.md5, resty.sha1, resty.sha256...
type digest struct {
	h hash.Hash
}

// digestModule builds a module with lua-resty-string's object API:
//
//	local sha = resty_sha256:new()  -- or resty_sha256.new()
//	sha:update(s)                   -- true
//	local digest = sha:final()      -- the binary digest
//	sha:reset()                     -- true
//
// Objects use the module table as their __index, as in the library.
// final() does not disturb the state: calling it again, or after more
// update() calls, gives the digest of everything fed since new() or reset().
func digestModule(L *lua.LState, class string, newHash func() hash.Hash) *lua.LTable {
	mod := L.CreateTable(0, 5)
	mt := L.CreateTable(0, 1)
	mt.RawSetString("__index", mod)
	mod.RawSetString("_VERSION", lua.LString(stringVersion))
	mod.RawSetString("new", L.NewFunction(func(L *lua.LState) int {
		return luaplugin.PushObject(L, &digest{h: newHash()}, mt)
	}))
	mod.RawSetString("update", L.NewFunction(func(L *lua.LState) int {
		d := luaplugin.CheckObject[digest](L, class, "update")
		_, _ = io.WriteString(d.h, stringArg(L, 2, "s"))
		L.Push(lua.LTrue)
		return 1
	}))
	mod.RawSetString("final", L.NewFunction(func(L *lua.LState) int {
		d := luaplugin.CheckObject[digest](L, class, "final")
		var buf [sha512.Size]byte
		L.Push(lua.LString(d.h.Sum(buf[:0])))
		return 1
	}))
	mod.RawSetString("reset", L.NewFunction(func(L *lua.LState) int {
		d := luaplugin.CheckObject[digest](L, class, "reset")
		d.h.Reset()
		L.Push(lua.LTrue)
		return 1
	}))
	return mod
}

// digests are the lua-resty-string digest modules, by module name.
var digests = map[string]func() hash.Hash{
	"resty.md5":    md5.New,
	"resty.sha1":   sha1.New,
	"resty.sha224": sha256.New224,
	"resty.sha256": sha256.New,
	"resty.sha384": sha512.New384,
	"resty.sha512": sha512.New,
}

// openSHA opens resty.sha, the library's common base module, which only
// carries _VERSION.
func openSHA(_ *luaplugin.VM, L *lua.LState) lua.LValue {
	mod := L.CreateTable(0, 1)
	mod.RawSetString("_VERSION", lua.LString(stringVersion))
	return mod
}

// ---- resty.random ----

// randomMax caps random.bytes: the library passes the length to
// OpenSSL as a C int.
const randomMax = math.MaxInt32

func openRandom(_ *luaplugin.VM, L *lua.LState) lua.LValue {
	mod := L.CreateTable(0, 3)
	mod.RawSetString("_VERSION", lua.LString(stringVersion))
	// bytes(len, strong): len random bytes. Both kinds come from
	// crypto/rand (OpenSSL's pseudo-random bytes are cryptographically
	// strong too), so this never fails.
	mod.RawSetString("bytes", L.NewFunction(func(L *lua.LState) int {
		n := float64(L.CheckNumber(1))
		if !(n >= 0 && n <= randomMax) {
			L.RaiseError("bad argument #1 to 'bytes' (size of C type is unknown or too large)")
		}
		buf := make([]byte, int(n))
		_, _ = rand.Read(buf)
		L.Push(lua.LString(buf))
		return 1
	}))
	// number(min, max, reseed): math.random's contract with a generator
	// seeded from the operating system: no argument, a float in [0, 1);
	// min only, an integer in [1, min]; both, an integer in [min, max].
	// reseed is accepted and ignored (the generator needs no seeding).
	mod.RawSetString("number", L.NewFunction(func(L *lua.LState) int {
		minV, maxV := L.Get(1), L.Get(2)
		switch {
		case lua.LVAsBool(minV) && lua.LVAsBool(maxV):
			lo := math.Floor(float64(L.CheckNumber(1)))
			hi := math.Floor(float64(L.CheckNumber(2)))
			if lo > hi {
				L.RaiseError("bad argument #2 to 'number' (interval is empty)")
			}
			L.Push(lua.LNumber(randomRange(lo, hi)))
		case lua.LVAsBool(minV):
			hi := math.Floor(float64(L.CheckNumber(1)))
			if hi < 1 {
				L.RaiseError("bad argument #1 to 'number' (interval is empty)")
			}
			L.Push(lua.LNumber(randomRange(1, hi)))
		default:
			L.Push(lua.LNumber(mrand.Float64()))
		}
		return 1
	}))
	return mod
}

// randomRange returns a uniformly chosen integer in [lo, hi] (both
// whole numbers, lo <= hi).
func randomRange(lo, hi float64) float64 {
	span := hi - lo
	if span >= 1<<62 || math.IsInf(span, 0) {
		// Beyond exact integer arithmetic: scale a float.
		return math.Min(math.Floor(lo+mrand.Float64()*(span+1)), hi)
	}
	return lo + float64(mrand.Int64N(int64(span)+1))
}
