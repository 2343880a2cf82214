package nginxconf

import (
	"fmt"
	"strings"
)

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tSemi
	tOpen
	tClose
)

type token struct {
	kind   tokKind
	text   string
	quoted bool
	line   int
}

// lexer splits nginx configuration text into tokens as nginx's
// ngx_conf_read_token does.
type lexer struct {
	src  []byte
	pos  int
	file string
	line int
}

func (lx *lexer) errf(line int, format string, args ...any) error {
	return &Error{File: lx.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// unescape appends c (the char after a backslash) as nginx copies it:
// \" \' \\ give the char, \t \r \n the control char, anything else keeps
// the backslash.
func unescape(b *strings.Builder, c byte) {
	switch c {
	case '"', '\'', '\\':
		b.WriteByte(c)
	case 't':
		b.WriteByte('\t')
	case 'r':
		b.WriteByte('\r')
	case 'n':
		b.WriteByte('\n')
	default:
		b.WriteByte('\\')
		b.WriteByte(c)
	}
}

func (lx *lexer) next() (token, error) {
	// Skip blanks and comments.
	for lx.pos < len(lx.src) {
		c := lx.src[lx.pos]
		if c == '\n' {
			lx.line++
			lx.pos++
			continue
		}
		if isSpace(c) {
			lx.pos++
			continue
		}
		if c == '#' {
			for lx.pos < len(lx.src) && lx.src[lx.pos] != '\n' {
				lx.pos++
			}
			continue
		}
		break
	}
	if lx.pos >= len(lx.src) {
		return token{kind: tEOF, line: lx.line}, nil
	}
	line := lx.line
	switch c := lx.src[lx.pos]; c {
	case ';':
		lx.pos++
		return token{kind: tSemi, line: line}, nil
	case '{':
		lx.pos++
		return token{kind: tOpen, line: line}, nil
	case '}':
		lx.pos++
		return token{kind: tClose, line: line}, nil
	case '"', '\'':
		lx.pos++
		var b strings.Builder
		for {
			if lx.pos >= len(lx.src) {
				return token{}, lx.errf(lx.line, `unexpected end of file, expecting ";" or "}"`)
			}
			ch := lx.src[lx.pos]
			lx.pos++
			if ch == '\n' {
				lx.line++
			}
			if ch == '\\' && lx.pos < len(lx.src) {
				if lx.src[lx.pos] == '\n' {
					lx.line++
				}
				unescape(&b, lx.src[lx.pos])
				lx.pos++
				continue
			}
			if ch == c {
				break
			}
			b.WriteByte(ch)
		}
		// nginx wants a separator after a closing quote.
		if lx.pos < len(lx.src) {
			n := lx.src[lx.pos]
			if !isSpace(n) && n != ';' && n != '{' && n != ')' {
				return token{}, lx.errf(lx.line, "unexpected %q", string(n))
			}
		}
		return token{kind: tWord, text: b.String(), quoted: true, line: line}, nil
	}
	// An unquoted word ends at a blank, ";" or "{" ("}" inside a word is
	// literal, as in nginx), except the "{" of "${".
	var b strings.Builder
	for lx.pos < len(lx.src) {
		ch := lx.src[lx.pos]
		if ch == '\\' && lx.pos+1 < len(lx.src) {
			if lx.src[lx.pos+1] == '\n' {
				lx.line++
			}
			unescape(&b, lx.src[lx.pos+1])
			lx.pos += 2
			continue
		}
		if isSpace(ch) || ch == ';' || ch == '{' {
			break
		}
		if ch == '$' && lx.pos+1 < len(lx.src) && lx.src[lx.pos+1] == '{' {
			b.WriteString("${")
			lx.pos += 2
			continue
		}
		b.WriteByte(ch)
		lx.pos++
	}
	return token{kind: tWord, text: b.String(), line: line}, nil
}

// luaBlock reads the body of a `*_by_lua_block {`, whose `{` was just
// read, up to its matching `}`, as lua-nginx-module's lexer does: braces
// count, except inside Lua strings, long strings and comments. It returns
// the exact text between the braces.
func (lx *lexer) luaBlock() (string, error) {
	start, startLine := lx.pos, lx.line
	depth := 0
	src := lx.src
	for lx.pos < len(src) {
		c := src[lx.pos]
		switch {
		case c == '\n':
			lx.line++
			lx.pos++
		case c == '{':
			depth++
			lx.pos++
		case c == '}':
			if depth == 0 {
				body := string(src[start:lx.pos])
				lx.pos++
				return body, nil
			}
			depth--
			lx.pos++
		case c == '-' && lx.pos+1 < len(src) && src[lx.pos+1] == '-':
			lx.pos += 2
			if lvl, ok := lx.longOpen(); ok {
				if !lx.longClose(lvl) {
					return "", lx.errf(startLine, "Lua code block missing the closing long bracket")
				}
				continue
			}
			for lx.pos < len(src) && src[lx.pos] != '\n' {
				lx.pos++
			}
		case c == '[':
			if lvl, ok := lx.longOpen(); ok {
				if !lx.longClose(lvl) {
					return "", lx.errf(startLine, "Lua code block missing the closing long bracket")
				}
				continue
			}
			lx.pos++
		case c == '"' || c == '\'':
			lx.pos++
			for {
				if lx.pos >= len(src) || src[lx.pos] == '\n' {
					return "", lx.errf(lx.line, "Lua code block missing the closing quote")
				}
				ch := src[lx.pos]
				lx.pos++
				if ch == '\\' && lx.pos < len(src) {
					if src[lx.pos] == '\n' {
						lx.line++
					}
					lx.pos++
					continue
				}
				if ch == c {
					break
				}
			}
		default:
			lx.pos++
		}
	}
	return "", lx.errf(lx.line, `unexpected end of file, expecting "}"`)
}

// longOpen reads a Lua long bracket opening `[==[` at pos; it returns its
// level and true, or leaves pos as it was.
func (lx *lexer) longOpen() (int, bool) {
	i := lx.pos
	if i >= len(lx.src) || lx.src[i] != '[' {
		return 0, false
	}
	i++
	lvl := 0
	for i < len(lx.src) && lx.src[i] == '=' {
		lvl++
		i++
	}
	if i < len(lx.src) && lx.src[i] == '[' {
		lx.pos = i + 1
		return lvl, true
	}
	return 0, false
}

// longClose skips to after the `]==]` of level lvl.
func (lx *lexer) longClose(lvl int) bool {
	closing := "]" + strings.Repeat("=", lvl) + "]"
	rest := string(lx.src[lx.pos:])
	i := strings.Index(rest, closing)
	if i < 0 {
		return false
	}
	lx.line += strings.Count(rest[:i+len(closing)], "\n")
	lx.pos += i + len(closing)
	return true
}
