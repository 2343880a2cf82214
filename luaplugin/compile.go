package luaplugin

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
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
	proto, err := compileProto(name, src)
	if err != nil {
		return nil, err
	}
	c := &Chunk{Name: name}
	c.proto.Store(proto)
	return c, nil
}

// compileProto parses and compiles src: the one way Lua source becomes
// code here (chunks, files, modules, loadstring).
func compileProto(name, src string) (*lua.FunctionProto, error) {
	stmts, err := parse.Parse(strings.NewReader(src), name)
	if err != nil {
		return nil, syntaxError(name, src, err)
	}
	stmts = fixAssignments(stmts)
	proto, err := lua.Compile(stmts, name)
	if err != nil {
		return nil, syntaxError(name, src, err)
	}
	dropImplicitArg(proto)
	return proto, nil
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

// fixAssignments rewrites the multiple assignments of a chunk (at any
// depth, in function bodies too) around a gopher-lua compiler bug: it
// evaluates each value straight into its target local, so a later value
// reading that local sees the new value (`a, b = b, a` leaves both equal;
// gopher-lua issue #440). Lua first evaluates everything, then assigns;
// so
//
//	x, t[k] = e1, e2
//
// becomes
//
//	do local o, k' = t, k; local v1, v2 = e1, e2; x, o[k'] = v1, v2 end
//
// with temporaries no script can name: the table and key of an indexed
// target first (as Lua 5.1 does), then the values, then the stores.
func fixAssignments(stmts []ast.Stmt) []ast.Stmt {
	w := &assignFixer{}
	w.block(stmts)
	return stmts
}

type assignFixer struct {
	n int // temporaries made, for unique names
}

func (w *assignFixer) temp(line int) *ast.IdentExpr {
	w.n++
	e := &ast.IdentExpr{Value: "(tmp" + strconv.Itoa(w.n) + ")"}
	e.SetLine(line)
	e.SetLastLine(line)
	return e
}

func (w *assignFixer) block(stmts []ast.Stmt) {
	for i, st := range stmts {
		stmts[i] = w.stmt(st)
	}
}

func (w *assignFixer) stmt(st ast.Stmt) ast.Stmt {
	switch s := st.(type) {
	case *ast.AssignStmt:
		w.exprs(s.Lhs)
		w.exprs(s.Rhs)
		if len(s.Lhs) > 1 && len(s.Rhs) > 1 {
			return w.rewrite(s)
		}
	case *ast.LocalAssignStmt:
		w.exprs(s.Exprs)
	case *ast.FuncCallStmt:
		w.expr(s.Expr)
	case *ast.DoBlockStmt:
		w.block(s.Stmts)
	case *ast.WhileStmt:
		w.expr(s.Condition)
		w.block(s.Stmts)
	case *ast.RepeatStmt:
		w.block(s.Stmts)
		w.expr(s.Condition)
	case *ast.IfStmt:
		w.expr(s.Condition)
		w.block(s.Then)
		w.block(s.Else)
	case *ast.NumberForStmt:
		w.expr(s.Init)
		w.expr(s.Limit)
		w.expr(s.Step)
		w.block(s.Stmts)
	case *ast.GenericForStmt:
		w.exprs(s.Exprs)
		w.block(s.Stmts)
	case *ast.FuncDefStmt:
		w.expr(s.Func)
	case *ast.ReturnStmt:
		w.exprs(s.Exprs)
	}
	return st
}

// rewrite turns a multiple assignment into the do block above.
func (w *assignFixer) rewrite(s *ast.AssignStmt) ast.Stmt {
	line, last := s.Line(), s.LastLine()
	pos := func(st ast.Stmt) ast.Stmt { st.SetLine(line); st.SetLastLine(last); return st }
	var body []ast.Stmt
	lhs := make([]ast.Expr, len(s.Lhs))
	for i, e := range s.Lhs {
		ix, ok := e.(*ast.AttrGetExpr)
		if !ok {
			lhs[i] = e
			continue
		}
		obj, key := w.temp(line), w.temp(line)
		body = append(body, pos(&ast.LocalAssignStmt{Names: []string{obj.Value, key.Value}, Exprs: []ast.Expr{ix.Object, ix.Key}}))
		target := &ast.AttrGetExpr{Object: obj, Key: key}
		target.SetLine(ix.Line())
		target.SetLastLine(ix.LastLine())
		lhs[i] = target
	}
	names := make([]string, len(s.Lhs))
	vals := make([]ast.Expr, len(s.Lhs))
	for i := range names {
		v := w.temp(line)
		names[i], vals[i] = v.Value, v
	}
	body = append(body, pos(&ast.LocalAssignStmt{Names: names, Exprs: s.Rhs}))
	body = append(body, pos(&ast.AssignStmt{Lhs: lhs, Rhs: vals}))
	return pos(&ast.DoBlockStmt{Stmts: body})
}

func (w *assignFixer) exprs(es []ast.Expr) {
	for _, e := range es {
		w.expr(e)
	}
}

// expr visits the function bodies an expression holds.
func (w *assignFixer) expr(e ast.Expr) {
	switch x := e.(type) {
	case *ast.FunctionExpr:
		w.block(x.Stmts)
	case *ast.AttrGetExpr:
		w.expr(x.Object)
		w.expr(x.Key)
	case *ast.TableExpr:
		for _, f := range x.Fields {
			w.expr(f.Key)
			w.expr(f.Value)
		}
	case *ast.FuncCallExpr:
		w.expr(x.Func)
		w.expr(x.Receiver)
		w.exprs(x.Args)
	case *ast.LogicalOpExpr:
		w.expr(x.Lhs)
		w.expr(x.Rhs)
	case *ast.RelationalOpExpr:
		w.expr(x.Lhs)
		w.expr(x.Rhs)
	case *ast.StringConcatOpExpr:
		w.expr(x.Lhs)
		w.expr(x.Rhs)
	case *ast.ArithmeticOpExpr:
		w.expr(x.Lhs)
		w.expr(x.Rhs)
	case *ast.UnaryMinusOpExpr:
		w.expr(x.Expr)
	case *ast.UnaryNotOpExpr:
		w.expr(x.Expr)
	case *ast.UnaryLenOpExpr:
		w.expr(x.Expr)
	}
}
