// Package nginxconf parses nginx configuration files: directives, blocks,
// comments, quoted strings with nginx's escapes, `include` with globs, and
// the raw Lua bodies of lua-nginx-module's `*_by_lua_block { … }`
// directives. It knows nothing of what the directives mean beyond that:
// it is the syntax layer of the `caddy resty import` translator.
package nginxconf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Directive is one directive of a configuration: `name args…;` or
// `name args… { … }`.
type Directive struct {
	// Name is the directive's name (its first token).
	Name string
	// Args are its arguments, unquoted and with nginx's escapes applied
	// (`\"`, `\'`, `\\`, `\t`, `\r`, `\n`); variables such as `$host` and
	// `${var}` are kept verbatim.
	Args []string
	// Quoted tells, per argument, whether it was written in quotes.
	Quoted []bool
	// Block holds the directives of the block; nil when the directive has
	// no block. An empty block `{}` is an empty non-nil slice.
	Block []*Directive
	// HasBlock says the directive was written with a block.
	HasBlock bool
	// Lua is the exact text between the braces of a `*_by_lua_block`
	// directive (LuaBlock is then true and Block nil).
	Lua string
	// LuaBlock says the directive is a `*_by_lua_block`.
	LuaBlock bool
	// File is the file the directive was read from; Line the line its
	// name is on (1-based).
	File string
	Line int
}

// Pos returns "FILE:LINE" of the directive.
func (d *Directive) Pos() string { return fmt.Sprintf("%s:%d", d.File, d.Line) }

// Error is a parse error at a place of a file.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// ParseFile reads the configuration file path and the files it includes.
// `include` patterns that are not absolute are resolved against the
// directory of path (nginx's conf prefix, when path is the main file given
// to `nginx -c`), in included files too; globs are expanded in sorted
// order, and a glob matching nothing is no error, as in nginx. Each
// directive of an included file takes the include's place and remembers
// its own file and line.
func ParseFile(path string) ([]*Directive, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	p := &parser{confPrefix: filepath.Dir(abs), depth: map[string]bool{}}
	return p.file(path, nil)
}

// Parse parses configuration text; name is used in errors and positions.
// Includes are resolved against the directory of name.
func Parse(name string, src []byte) ([]*Directive, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		abs = name
	}
	p := &parser{confPrefix: filepath.Dir(abs), depth: map[string]bool{}}
	return p.parse(name, src)
}

type parser struct {
	confPrefix string
	depth      map[string]bool // files being read (include loops)
}

func (p *parser) file(path string, from *Directive) ([]*Directive, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		if from != nil {
			return nil, &Error{from.File, from.Line, fmt.Sprintf("include %s: %v", path, err)}
		}
		return nil, err
	}
	key, _ := filepath.Abs(path)
	if p.depth[key] {
		return nil, &Error{from.File, from.Line, fmt.Sprintf("include %s: include loop", path)}
	}
	p.depth[key] = true
	defer delete(p.depth, key)
	return p.parse(path, src)
}

func (p *parser) parse(name string, src []byte) ([]*Directive, error) {
	lx := &lexer{src: src, file: name, line: 1}
	ds, err := p.block(lx, false)
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// block reads directives until `}` (inBlock) or the end of the file.
func (p *parser) block(lx *lexer, inBlock bool) ([]*Directive, error) {
	out := []*Directive{}
	for {
		var cur *Directive
		for {
			tok, err := lx.next()
			if err != nil {
				return nil, err
			}
			switch tok.kind {
			case tEOF:
				if cur != nil {
					return nil, lx.errf(tok.line, `unexpected end of file, expecting ";" or "}"`)
				}
				if inBlock {
					return nil, lx.errf(tok.line, `unexpected end of file, expecting "}"`)
				}
				return out, nil
			case tWord:
				if cur == nil {
					if tok.quoted && tok.text == "" {
						return nil, lx.errf(tok.line, `unexpected "" (empty directive name)`)
					}
					cur = &Directive{Name: tok.text, File: lx.file, Line: tok.line}
				} else {
					cur.Args = append(cur.Args, tok.text)
					cur.Quoted = append(cur.Quoted, tok.quoted)
				}
				continue
			case tSemi:
				if cur == nil {
					return nil, lx.errf(tok.line, `unexpected ";"`)
				}
			case tClose:
				if cur != nil {
					return nil, lx.errf(tok.line, `unexpected "}"`)
				}
				if !inBlock {
					return nil, lx.errf(tok.line, `unexpected "}"`)
				}
				return out, nil
			case tOpen:
				if cur == nil {
					return nil, lx.errf(tok.line, `unexpected "{"`)
				}
				if strings.HasSuffix(cur.Name, "_by_lua_block") {
					body, err := lx.luaBlock()
					if err != nil {
						return nil, err
					}
					cur.Lua, cur.LuaBlock = body, true
					break
				}
				sub, err := p.block(lx, true)
				if err != nil {
					return nil, err
				}
				cur.Block, cur.HasBlock = sub, true
			}
			break
		}
		if cur.Name == "include" && !cur.HasBlock && !cur.LuaBlock {
			inc, err := p.include(cur)
			if err != nil {
				return nil, err
			}
			out = append(out, inc...)
			continue
		}
		out = append(out, cur)
	}
}

// include expands one include directive.
func (p *parser) include(d *Directive) ([]*Directive, error) {
	if len(d.Args) != 1 {
		return nil, &Error{d.File, d.Line, `invalid number of arguments in "include" directive`}
	}
	pat := d.Args[0]
	full := pat
	if !filepath.IsAbs(full) {
		full = filepath.Join(p.confPrefix, full)
	}
	var files []string
	if strings.ContainsAny(full, "*?[") {
		m, err := filepath.Glob(full)
		if err != nil {
			return nil, &Error{d.File, d.Line, fmt.Sprintf("include %s: %v", pat, err)}
		}
		sort.Strings(m)
		for _, f := range m {
			if st, err := os.Stat(f); err == nil && st.IsDir() {
				continue // nginx skips directories matched by a glob
			}
			files = append(files, f)
		}
	} else {
		if _, err := os.Stat(full); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, &Error{d.File, d.Line, fmt.Sprintf("include %s: no such file", pat)}
			}
			return nil, &Error{d.File, d.Line, fmt.Sprintf("include %s: %v", pat, err)}
		}
		files = []string{full}
	}
	var out []*Directive
	for _, f := range files {
		ds, err := p.file(f, d)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

// Walk calls fn for every directive of ds and of their blocks, depth first
// in order; fn's parents are the enclosing block directives, outermost
// first.
func Walk(ds []*Directive, fn func(d *Directive, parents []*Directive)) {
	var walk func(ds []*Directive, parents []*Directive)
	walk = func(ds []*Directive, parents []*Directive) {
		for _, d := range ds {
			fn(d, parents)
			if d.HasBlock {
				walk(d.Block, append(parents[:len(parents):len(parents)], d))
			}
		}
	}
	walk(ds, nil)
}
