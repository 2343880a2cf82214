package pcre

import (
	"errors"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// NamedGroup is a named capture group of a pattern.
type NamedGroup struct {
	Name   string
	Groups []int // PCRE group numbers carrying this name (several with D)
}

// Regexp is one PCRE pattern translated for RE2; it is safe for concurrent
// use. The Go programs ("variants") are built lazily: which one a match
// uses depends on whether the subject ends with a newline and whether the
// search starts after the beginning of the subject.
type Regexp struct {
	pattern  string
	flags    Flags
	ncap     int // capture groups reported to the caller (0 in DFA mode)
	realNcap int // capture groups of the pattern
	names    []NamedGroup
	utf8     bool
	anchored bool
	dfa      bool
	ctxSens  bool // has ^, \A, \b or \B: searching from pos > 0 needs the previous character
	rawBytes bool // byte mode, yet subjects never need the Latin-1 expansion (see Prepare)
	hasEOL   bool // has a non-multiline $ or \Z, or a multiline ^ (subjects ending in \n differ)

	plain *reTranslation
	nlMu  sync.Mutex
	nl    *reTranslation

	// bt is the regexp2 program of a pattern RE2 cannot run (then the
	// Go programs are not used).
	bt *btProg

	mu       sync.Mutex
	variants [16]atomic.Pointer[reVariant]
	tooLarge bool // the last variant failed with RE2's size limits
}

// reVariant is one compiled Go program for a Regexp.
type reVariant struct {
	re      *regexp.Regexp
	gidx    []int // Go group index of PCRE group k
	dollars []int // Go groups of the hidden "$" emulation groups
	carets  []int // Go groups of the hidden multiline "^" marker groups
	simple  bool  // gidx is the identity for group 0 and there are no hidden groups
}

// Variant kinds, the bits of an index into Regexp.variants.
const (
	vkNL = 1 << iota
	vkCtx
	vkAnchored
	vkLongest
)

// Compile translates pattern, with the compile options of flags, and
// compiles it. Unlike Cache.Get it does not cache the result. On failure it
// returns nil and the error message for the script: PCRE's wording
// ("pcre_compile() failed: ... in \"pattern\"") for malformed patterns,
// or a message naming the PCRE feature RE2 cannot express.
func Compile(pattern string, flags Flags) (re *Regexp, errMsg string) {
	if flags&JSCompat != 0 {
		return nil, unsupportedMsg(pattern, "the J (JavaScript compatibility) option is")
	}
	if flags&UTF8 != 0 && !utf8.ValidString(pattern) {
		return nil, pcreCompileMsg(pattern, "invalid UTF-8 string")
	}
	tr, msg, refused := translatePCRE(pattern, flags, false, false)
	if tr == nil {
		if refused {
			// A feature RE2 cannot run: the backtracking engine can.
			return compileBT(pattern, flags)
		}
		return nil, msg
	}
	c := &Regexp{
		pattern:  pattern,
		flags:    flags,
		realNcap: tr.ncap,
		ncap:     tr.ncap,
		names:    tr.names,
		utf8:     flags&UTF8 != 0,
		anchored: flags&Anchored != 0 || tr.anchorG,
		dfa:      flags&DFA != 0,
		ctxSens:  tr.ctxSens,
		hasEOL:   tr.hasEOL,
		plain:    tr,
	}
	if !c.utf8 && !tr.nonASCII {
		// Every atom matches ASCII characters only: when the pattern cannot
		// match the empty string, each match starts and ends on an ASCII
		// byte, which is a character boundary for Go as well, so the raw
		// subject gives the same matches as its Latin-1 expansion.
		if re, err := syntax.Parse(tr.body, syntax.Perl); err == nil && reMinWidth(re) > 0 {
			c.rawBytes = true
		}
	}
	if c.dfa {
		c.ncap = 0
	}
	// Build the base program now so that RE2 syntax errors surface at
	// compile time, as PCRE's would.
	kind := 0
	if c.anchored {
		kind |= vkAnchored
	}
	if c.dfa {
		kind |= vkLongest
	}
	if _, msg := c.variant(kind); msg != "" {
		if c.tooLarge {
			// Beyond RE2's program size (large repeat counts): the
			// backtracking engine takes it.
			return compileBT(pattern, flags)
		}
		return nil, msg
	}
	return c, ""
}

// Backtracks reports whether the pattern runs on the backtracking engine
// (regexp2), whose matches are bounded by Subject.TimeLimit, rather than on
// RE2.
func (c *Regexp) Backtracks() bool { return c.bt != nil }

// NumCap returns the number of capture groups reported by a match (0 with
// the "d" option, which reports the whole match only).
func (c *Regexp) NumCap() int { return c.ncap }

// Names returns the named groups of the pattern, sorted by name. The caller
// must not modify the result.
func (c *Regexp) Names() []NamedGroup { return c.names }

// Flags returns the compile options the pattern was compiled with.
func (c *Regexp) Flags() Flags { return c.flags }

// variant returns the Go program of the given kind (vk* bits), compiling
// it on first use.
func (c *Regexp) variant(kind int) (*reVariant, string) {
	if v := c.variants[kind].Load(); v != nil {
		return v, ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v := c.variants[kind].Load(); v != nil {
		return v, ""
	}
	tr := c.plain
	if kind&vkNL != 0 && c.hasEOL {
		c.nlMu.Lock()
		if c.nl == nil {
			nl, msg, _ := translatePCRE(c.pattern, c.flags, true, false)
			if nl == nil {
				c.nlMu.Unlock()
				return nil, msg
			}
			c.nl = nl
		}
		tr = c.nl
		c.nlMu.Unlock()
	}
	var src string
	shift := 0
	switch {
	case kind&vkCtx != 0 && kind&vkAnchored != 0:
		src = `\A(?s:.)(` + tr.body + `)`
		shift = 1
	case kind&vkCtx != 0:
		src = `\A(?s:.)(?s:.*?)(` + tr.body + `)`
		shift = 1
	case kind&vkAnchored != 0:
		src = `\A(?:` + tr.body + `)`
	default:
		src = tr.body
	}
	re, err := regexp.Compile(src)
	if err != nil {
		var se *syntax.Error
		c.tooLarge = errors.As(err, &se) && (se.Code == syntax.ErrLarge || se.Code == syntax.ErrInvalidRepeatSize)
		return nil, pcreCompileMsg(c.pattern, goSyntaxErrMsg(err))
	}
	if kind&vkLongest != 0 {
		re.Longest()
	}
	v := &reVariant{re: re, gidx: make([]int, len(tr.gidx))}
	for k, g := range tr.gidx {
		v.gidx[k] = g + shift
	}
	v.gidx[0] = shift
	for _, g := range tr.dollars {
		v.dollars = append(v.dollars, g+shift)
	}
	for _, g := range tr.carets {
		v.carets = append(v.carets, g+shift)
	}
	v.simple = shift == 0 && len(v.dollars) == 0 && len(v.carets) == 0
	c.variants[kind].Store(v)
	return v, ""
}

// pcreCompileMsg is PCRE's compile error message for pattern.
func pcreCompileMsg(pattern, msg string) string {
	return "pcre_compile() failed: " + msg + " in \"" + pattern + "\""
}

// unsupportedMsg is the error message for a PCRE feature neither engine
// runs; what ends with "is" or "are".
func unsupportedMsg(pattern, what string) string {
	return "failed to compile regex \"" + pattern + "\": " + what + " not supported by caddy-resty's regex engines"
}

// goSyntaxErrMsg turns an RE2 syntax error into PCRE's wording.
func goSyntaxErrMsg(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		switch se.Code {
		case syntax.ErrMissingParen:
			return "missing )"
		case syntax.ErrUnexpectedParen:
			return "unmatched parentheses"
		case syntax.ErrMissingBracket:
			return "missing terminating ] for character class"
		case syntax.ErrMissingRepeatArgument, syntax.ErrInvalidRepeatOp:
			return "nothing to repeat"
		case syntax.ErrInvalidRepeatSize, syntax.ErrLarge, syntax.ErrNestingDepth:
			return "regular expression is too large"
		case syntax.ErrInvalidCharRange:
			if strings.HasPrefix(se.Expr, `\p`) || strings.HasPrefix(se.Expr, `\P`) {
				return "unknown property name after \\P or \\p"
			}
			return "range out of order in character class"
		case syntax.ErrInvalidEscape, syntax.ErrTrailingBackslash:
			return "unrecognized character follows \\"
		case syntax.ErrInvalidUTF8:
			return "invalid UTF-8 string"
		}
		return string(se.Code) + ": " + se.Expr
	}
	return err.Error()
}
