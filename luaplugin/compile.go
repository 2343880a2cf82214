package luaplugin

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Chunk is a piece of Lua code compiled once, at config load. Every Lua
// state that runs it instantiates a function from the same prototype.
type Chunk struct {
	// Name is how the chunk is named in errors and tracebacks: the file
	// path for *_by_lua_file code, or a config path such as access[0].
	Name string
	// proto is the compiled code; a file's chunk gets a new one when the
	// file is reloaded (Pool.ReloadFiles), in place.
	proto atomic.Pointer[lua.FunctionProto]

	// For a file: what it was compiled from.
	mtime time.Time
	size  int64
}

// Compile compiles Lua source. A syntax error comes back as
// "name:line: message", naming the place in the config or file.
func Compile(name, src string) (*Chunk, error) {
	stmts, err := parse.Parse(strings.NewReader(src), name)
	if err != nil {
		return nil, syntaxError(name, src, err)
	}
	proto, err := lua.Compile(stmts, name)
	if err != nil {
		return nil, syntaxError(name, src, err)
	}
	dropImplicitArg(proto)
	c := &Chunk{Name: name}
	c.proto.Store(proto)
	return c, nil
}

// dropImplicitArg turns off Lua 5.0's implicit `arg` table in vararg
// functions, which gopher-lua builds on every call of a chunk (a table and
// a map). LuaJIT, and so OpenResty, has no implicit `arg` either.
func dropImplicitArg(p *lua.FunctionProto) {
	p.IsVarArg &^= lua.VarArgNeedsArg
	for _, sub := range p.FunctionPrototypes {
		dropImplicitArg(sub)
	}
}

// CompileFile reads and compiles a Lua file; errors name the file.
func CompileFile(path string) (*Chunk, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading Lua file: %w", err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading Lua file: %w", err)
	}
	c, err := Compile(path, string(src))
	if err != nil {
		return nil, err
	}
	c.mtime, c.size = st.ModTime(), st.Size()
	return c, nil
}

func syntaxError(name, src string, err error) error {
	var perr *parse.Error
	if errors.As(err, &perr) {
		line := perr.Pos.Line
		if line == parse.EOF {
			// LuaJIT names the last line: "x.lua:3: 'end' expected near <eof>".
			last := strings.Count(src, "\n") + 1
			return fmt.Errorf("%s:%d: %s near <eof>", name, last, perr.Message)
		}
		if perr.Token != "" {
			return fmt.Errorf("%s:%d: %s near '%s'", name, line, perr.Message, perr.Token)
		}
		return fmt.Errorf("%s:%d: %s", name, line, perr.Message)
	}
	var cerr *lua.CompileError
	if errors.As(err, &cerr) {
		return fmt.Errorf("%s:%d: %s", name, cerr.Line, cerr.Message)
	}
	return fmt.Errorf("%s: %w", name, err)
}
