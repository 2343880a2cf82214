package luaplugin

import (
	"encoding/base64"
	"os"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// fileCache holds the compiled prototypes of files loaded with `require`,
// shared by every state of a pool: a module file is compiled once, and each
// state runs its own instance of it.
type fileCache struct {
	mu    sync.Mutex
	files map[string]*cachedFile
}

type cachedFile struct {
	chunk *Chunk
	mtime time.Time
	size  int64
}

func newFileCache() *fileCache {
	return &fileCache{files: make(map[string]*cachedFile)}
}

func (fc *fileCache) load(path string) (*Chunk, error) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if cf, ok := fc.files[path]; ok {
		return cf.chunk, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	chunk, err := CompileFile(path)
	if err != nil {
		return nil, err
	}
	fc.files[path] = &cachedFile{chunk: chunk, mtime: st.ModTime(), size: st.Size()}
	return chunk, nil
}

// changed reports whether a cached file changed on disk.
func (fc *fileCache) changed() bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for path, cf := range fc.files {
		st, err := os.Stat(path)
		if err != nil || !st.ModTime().Equal(cf.mtime) || st.Size() != cf.size {
			return true
		}
	}
	return false
}

func (fc *fileCache) reset() {
	fc.mu.Lock()
	clear(fc.files)
	fc.mu.Unlock()
}

// installModules sets package.path, replaces the file loader with one that
// uses the pool's compiled-file cache, and registers the built-in modules
// and those of the Go-backed libraries (RegisterModule).
func (vm *VM) installModules() {
	L := vm.L
	pkg := L.GetGlobal("package").(*lua.LTable)
	vm.protectPackagePath(pkg)
	if loaders, ok := pkg.RawGetString("loaders").(*lua.LTable); ok {
		loaders.RawSetInt(1, L.NewFunction(preloadLoader(pkg)))
		loaders.RawSetInt(2, L.NewFunction(vm.fileLoader))
		loaders.RawSetInt(3, L.NewFunction(vm.embeddedLoader))
	}
	L.SetGlobal("require", L.NewFunction(vm.require))
	// As in OpenResty, require "ngx" and require "ndk" give the globals,
	// and resty.core is loaded from the start (it is built in here:
	// requiring it is a no-op).
	if loaded, ok := pkg.RawGetString("loaded").(*lua.LTable); ok {
		loaded.RawSetString("ngx", vm.ngx)
		loaded.RawSetString("ndk", L.GetGlobal("ndk"))
		core := L.NewTable()
		core.RawSetString("version", lua.LString(restyCoreVersion))
		loaded.RawSetString("resty.core", core)
	}

	preload := L.NewTable()
	pkg.RawSetString("preload", preload)
	mods := map[string]lua.LGFunction{
		"ngx.re":     func(L *lua.LState) int { L.Push(vm.re.openModule(L)); return 1 },
		"ngx.resp":   func(L *lua.LState) int { L.Push(vm.ngx.RawGetString("resp")); return 1 },
		"ngx.base64": openNgxBase64,
		"table.new": func(L *lua.LState) int {
			L.Push(L.NewFunction(func(L *lua.LState) int {
				L.Push(L.CreateTable(int(L.OptNumber(1, 0)), int(L.OptNumber(2, 0))))
				return 1
			}))
			return 1
		},
		"table.clear": func(L *lua.LState) int {
			L.Push(L.NewFunction(func(L *lua.LState) int {
				t := L.CheckTable(1)
				var keys []lua.LValue
				t.ForEach(func(k, _ lua.LValue) { keys = append(keys, k) })
				for _, k := range keys {
					t.RawSet(k, lua.LNil)
				}
				return 0
			}))
			return 1
		},
		"table.nkeys": func(L *lua.LState) int {
			L.Push(L.NewFunction(func(L *lua.LState) int {
				n := 0
				L.CheckTable(1).ForEach(func(_, _ lua.LValue) { n++ })
				L.Push(lua.LNumber(n))
				return 1
			}))
			return 1
		},
	}
	for name, fn := range mods {
		preload.RawSetString(name, L.NewFunction(fn))
	}
	for name, open := range modules {
		preload.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			L.Push(open(vm, L))
			return 1
		}))
	}
	bit := openBit(L)
	L.SetGlobal("bit", bit)
	preload.RawSetString("bit", L.NewFunction(func(L *lua.LState) int { L.Push(bit); return 1 }))
}

// restyCoreVersion is the lua-resty-core release whose API the ngx
// functions follow (require "resty.core".version).
const restyCoreVersion = "0.1.27"

// loadingModule marks a module whose main chunk is running in
// package.loaded (Lua 5.1's sentinel): requiring it then is a loop.
var loadingModule = &lua.LUserData{Value: "loading"}

// require is Lua 5.1's require with its messages: package.loaded[name]
// if set, else the first loader (package.loaders) that finds name, whose
// function runs with name and whose result (true if none) is stored.
func (vm *VM) require(L *lua.LState) int {
	name := L.CheckString(1)
	loaded, ok := L.G.Registry.RawGetString("_LOADED").(*lua.LTable)
	if !ok {
		raiseError(L, "package.loaded must be a table")
	}
	if v := loaded.RawGetString(name); lua.LVAsBool(v) {
		if v == loadingModule {
			raiseError(L, "loop or previous error loading module '%s'", name)
		}
		L.Push(v)
		return 1
	}
	loaders, ok := L.G.Registry.RawGetString("_LOADERS").(*lua.LTable)
	if !ok {
		raiseError(L, "package.loaders must be a table")
	}
	var tried strings.Builder
	var fn *lua.LFunction
	for i := 1; fn == nil; i++ {
		loader := loaders.RawGetInt(i)
		if loader == lua.LNil {
			raiseError(L, "module '%s' not found:%s", name, tried.String())
		}
		L.Push(loader)
		L.Push(lua.LString(name))
		L.Call(1, 1)
		switch r := L.Get(-1).(type) {
		case *lua.LFunction:
			fn = r
		case lua.LString:
			tried.WriteString(string(r))
		}
		L.Pop(1)
	}
	loaded.RawSetString(name, loadingModule)
	L.Push(fn)
	L.Push(lua.LString(name))
	L.Call(1, 1)
	if ret := L.Get(-1); ret != lua.LNil {
		loaded.RawSetString(name, ret)
	}
	L.Pop(1)
	if loaded.RawGetString(name) == loadingModule {
		loaded.RawSetString(name, lua.LTrue)
	}
	L.Push(loaded.RawGetString(name))
	return 1
}

// preloadLoader returns the package.loaders entry for package.preload.
func preloadLoader(pkg *lua.LTable) lua.LGFunction {
	return func(L *lua.LState) int {
		name := L.CheckString(1)
		preload, ok := pkg.RawGetString("preload").(*lua.LTable)
		if !ok {
			raiseError(L, "package.preload must be a table")
		}
		if v := preload.RawGetString(name); v != lua.LNil {
			L.Push(v)
			return 1
		}
		L.Push(lua.LString("\n\tno field package.preload['" + name + "']"))
		return 1
	}
}

// fileLoader is the package.loaders entry for Lua files on package.path.
func (vm *VM) fileLoader(L *lua.LState) int {
	name := L.CheckString(1)
	rel := strings.ReplaceAll(name, ".", "/")
	var tried strings.Builder
	for _, tmpl := range vm.pool.searchPath {
		if tmpl == "" {
			continue
		}
		file := strings.ReplaceAll(tmpl, "?", rel)
		if _, err := os.Stat(file); err != nil {
			tried.WriteString("\n\tno file '" + file + "'")
			continue
		}
		chunk, err := vm.pool.files.load(file)
		if err != nil {
			raiseError(L, "error loading module '%s' from file '%s':\n\t%s", name, file, err)
		}
		L.Push(vm.function(chunk))
		return 1
	}
	L.Push(lua.LString(tried.String()))
	return 1
}

// embeddedLoader is the package.loaders entry for the Lua-source modules
// of RegisterLuaModule, after the files on package.path.
func (vm *VM) embeddedLoader(L *lua.LState) int {
	name := L.CheckString(1)
	s := luaSources[name]
	if s == nil {
		L.Push(lua.LString("\n\tno embedded module '" + name + "'"))
		return 1
	}
	chunk, err := s.compile()
	if err != nil {
		raiseError(L, "error loading embedded module '%s':\n\t%s", name, err)
	}
	L.Push(vm.function(chunk))
	return 1
}

// protectPackagePath serves package.path (lua_package_path) and
// package.cpath (empty) read-only: a script that could point them elsewhere
// could make `require` run any file on the machine, for every later request
// of its state.
func (vm *VM) protectPackagePath(pkg *lua.LTable) {
	L := vm.L
	pkg.RawSetString("path", lua.LNil)
	pkg.RawSetString("cpath", lua.LNil)
	path := lua.LString(strings.Join(vm.pool.searchPath, ";"))
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		switch L.CheckString(2) {
		case "path":
			L.Push(path)
		case "cpath":
			L.Push(lua.LString(""))
		default:
			L.Push(lua.LNil)
		}
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		k := L.Get(2)
		if s, ok := k.(lua.LString); ok && (s == "path" || s == "cpath") {
			raiseError(L, "package.%s is read-only in caddy-resty: set lua_package_path in the Caddy config", s)
		}
		L.CheckTable(1).RawSet(k, L.Get(3))
		return 0
	}))
	L.SetMetatable(pkg, mt)
}

func openNgxBase64(L *lua.LState) int {
	t := L.NewTable()
	t.RawSetString("encode_base64url", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(base64.RawURLEncoding.EncodeToString([]byte(L.CheckString(1)))))
		return 1
	}))
	t.RawSetString("decode_base64url", L.NewFunction(func(L *lua.LState) int {
		b, ok := decodeBase64(L.CheckString(1), base64.RawURLEncoding)
		if !ok {
			return PushFail(L, "invalid input")
		}
		L.Push(lua.LString(b))
		return 1
	}))
	L.Push(t)
	return 1
}

// openBit is LuaJIT's bit module (32-bit operations on numbers).
func openBit(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	arg := func(L *lua.LState, n int) uint32 { return uint32(int64(L.CheckNumber(n))) }
	ret := func(L *lua.LState, v uint32) int { L.Push(lua.LNumber(int32(v))); return 1 }
	fold := func(op func(a, b uint32) uint32) lua.LGFunction {
		return func(L *lua.LState) int {
			v := arg(L, 1)
			for i := 2; i <= L.GetTop(); i++ {
				v = op(v, arg(L, i))
			}
			return ret(L, v)
		}
	}
	fns := map[string]lua.LGFunction{
		"tobit": func(L *lua.LState) int { return ret(L, arg(L, 1)) },
		"bnot":  func(L *lua.LState) int { return ret(L, ^arg(L, 1)) },
		"band":  fold(func(a, b uint32) uint32 { return a & b }),
		"bor":   fold(func(a, b uint32) uint32 { return a | b }),
		"bxor":  fold(func(a, b uint32) uint32 { return a ^ b }),
		"lshift": func(L *lua.LState) int {
			return ret(L, arg(L, 1)<<(arg(L, 2)&31))
		},
		"rshift": func(L *lua.LState) int {
			return ret(L, arg(L, 1)>>(arg(L, 2)&31))
		},
		"arshift": func(L *lua.LState) int {
			return ret(L, uint32(int32(arg(L, 1))>>(arg(L, 2)&31)))
		},
		"rol": func(L *lua.LState) int {
			v, n := arg(L, 1), arg(L, 2)&31
			return ret(L, v<<n|v>>(32-n))
		},
		"ror": func(L *lua.LState) int {
			v, n := arg(L, 1), arg(L, 2)&31
			return ret(L, v>>n|v<<(32-n))
		},
		"bswap": func(L *lua.LState) int {
			v := arg(L, 1)
			return ret(L, v>>24|(v>>8)&0xff00|(v<<8)&0xff0000|v<<24)
		},
		"tohex": func(L *lua.LState) int {
			v := arg(L, 1)
			n := int(L.OptNumber(2, 8))
			upper := n < 0
			if n < 0 {
				n = -n
			}
			if n > 8 {
				n = 8
			}
			const lo, hi = "0123456789abcdef", "0123456789ABCDEF"
			digits := lo
			if upper {
				digits = hi
			}
			b := make([]byte, n)
			for i := n - 1; i >= 0; i-- {
				b[i] = digits[v&15]
				v >>= 4
			}
			L.Push(lua.LString(b))
			return 1
		},
	}
	for name, fn := range fns {
		t.RawSetString(name, L.NewFunction(fn))
	}
	return t
}
