package luaplugin

// ngx.re — OpenResty's regex API (match, find, gmatch, sub, gsub, and the
// split/opt helpers of lua-resty-core's ngx.re module) on top of Go's RE2
// engine.
//
// PCRE patterns are translated into Go syntax once per (pattern, options)
// and cached. The translation emulates the PCRE semantics that RE2 spells
// differently and refuses, with a clear error, the PCRE features RE2 cannot
// express (look-around, back-references, atomic groups, possessive
// quantifiers, recursion, conditionals, \K, backtracking verbs...).
//
// Byte semantics: without the "u"/"U" options PCRE works on bytes, so "."
// and classes match single bytes. Go's regexp works on UTF-8 runes, so a
// subject that contains bytes >= 0x80 is re-encoded as Latin-1 (every byte
// becomes the rune of the same value) before matching and the offsets are
// mapped back; the pattern's own bytes >= 0x80 are translated the same way,
// and with "i" only ASCII letters fold, as with PCRE's default tables. No
// copy is made when the subject is ASCII, nor when the pattern can only
// match ASCII characters and never the empty string (\d+, [a-z]+, foo|bar:
// the result is provably the same). With "u" the subject must be valid
// UTF-8 (else, as PCRE, "pcre_exec() failed: -10"); "U" skips that check
// and Go then treats each invalid byte as one character. \w, \d, \b and
// the POSIX classes are ASCII-only in both engines (lua-nginx-module does not
// set PCRE_UCP).
//
// Other emulations: "$" (and \Z) also matches before a newline that ends
// the subject, a multiline "^" does not match after it, a search from
// ctx.pos > 1 sees the character before it (for ^, \A, \b, \B), global
// iteration (gmatch, gsub, split) allows an empty match right after a
// non-empty one and steps one character after an empty match, as
// lua-resty-core does.
//
// Known differences, all RE2 semantics: a repeated group that can match the
// empty string ("(b|)*", "(a*)+") may report different captures (RE2 does
// not record the final empty iteration PCRE records) and, rarely, a
// different overall match; a "$" inside a repetition that is followed by
// something consuming the final newline ("(x$\n?)+") may stop before it.
// Matching is linear-time, so PCRE's match-limit errors ("pcre_exec()
// failed: -8") never occur.

import (
	"errors"
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// ---------------------------------------------------------------------------
// Options

type reFlags uint16

const (
	reCaseless    reFlags = 1 << iota // i
	reMultiline                       // m
	reDotall                          // s
	reExtended                        // x
	reUTF8                            // u, U
	reAnchored                        // a
	reDFA                             // d
	reDupNames                        // D
	reNoUTF8Check                     // U (run time only)
	reOnce                            // o (accepted; everything is cached)
	reJIT                             // j (accepted; no-op)
	reJSCompat                        // J (refused at compile time)
)

// reCompileMask holds the flags that change the compiled program and thus
// take part in the cache key.
const reCompileMask = reCaseless | reMultiline | reDotall | reExtended | reUTF8 | reAnchored | reDFA | reDupNames

// parseReFlags parses an ngx.re options string. It returns the offending
// byte index when an unknown flag is found, else -1.
func parseReFlags(opts string) (reFlags, int) {
	var f reFlags
	for i := 0; i < len(opts); i++ {
		switch opts[i] {
		case 'i':
			f |= reCaseless
		case 'm':
			f |= reMultiline
		case 's':
			f |= reDotall
		case 'x':
			f |= reExtended
		case 'u':
			f |= reUTF8
		case 'U':
			f |= reUTF8 | reNoUTF8Check
		case 'a':
			f |= reAnchored
		case 'd':
			f |= reDFA
		case 'D':
			f |= reDupNames
		case 'o':
			f |= reOnce
		case 'j':
			f |= reJIT
		case 'J':
			// PCRE_JAVASCRIPT_COMPAT changes the meaning of \u, [^] and
			// more; it is refused at compile time (see compileRegex).
			f |= reJSCompat
		default:
			return 0, i
		}
	}
	return f, -1
}

// ---------------------------------------------------------------------------
// Cache

// DefaultRegexCacheSize is the default bound of a RegexCache, the default of
// OpenResty's lua_regex_cache_max_entries.
const DefaultRegexCacheSize = 1024

type regexKey struct {
	pattern string
	flags   reFlags
}

// RegexCache is a bounded, concurrency-safe cache of compiled ngx.re
// patterns keyed by (pattern, compile options). One cache is meant to be
// shared by all the Lua states of a server, on any number of goroutines.
//
// Unlike OpenResty, which caches a pattern only when the options contain
// "o", every successfully compiled pattern is cached: translating a PCRE
// pattern and compiling it for RE2 costs far more than a lookup. When the
// cache is full an arbitrary entry is evicted to make room, so a flood of
// one-off patterns cannot grow memory without bound (hot patterns are simply
// recompiled when they were evicted). Compile errors are not cached.
type RegexCache struct {
	mu  sync.RWMutex
	max int
	m   map[regexKey]*compiledRegex
}

// NewRegexCache returns a cache holding at most max compiled patterns
// (DefaultRegexCacheSize when max <= 0).
func NewRegexCache(max int) *RegexCache {
	if max <= 0 {
		max = DefaultRegexCacheSize
	}
	return &RegexCache{max: max, m: make(map[regexKey]*compiledRegex)}
}

// Len reports how many compiled patterns the cache holds.
func (c *RegexCache) Len() int {
	c.mu.RLock()
	n := len(c.m)
	c.mu.RUnlock()
	return n
}

func (c *RegexCache) get(pattern string, flags reFlags) (*compiledRegex, string) {
	key := regexKey{pattern, flags & (reCompileMask | reJSCompat)}
	c.mu.RLock()
	cr := c.m[key]
	c.mu.RUnlock()
	if cr != nil {
		return cr, ""
	}
	cr, msg := compileRegex(pattern, key.flags)
	if cr == nil {
		return nil, msg
	}
	c.mu.Lock()
	if old := c.m[key]; old != nil {
		cr = old
	} else {
		if len(c.m) >= c.max {
			for k := range c.m {
				delete(c.m, k)
				break
			}
		}
		c.m[key] = cr
	}
	c.mu.Unlock()
	return cr, ""
}

var (
	defaultCacheOnce sync.Once
	defaultCache     *RegexCache
)

func defaultRegexCache() *RegexCache {
	defaultCacheOnce.Do(func() { defaultCache = NewRegexCache(0) })
	return defaultCache
}

// ---------------------------------------------------------------------------
// Compiled patterns

type reName struct {
	name   string
	groups []int // PCRE group numbers carrying this name (several with D)
}

// compiledRegex is one PCRE pattern translated for RE2. The Go programs
// ("variants") are built lazily: which one a match uses depends on whether
// the subject ends with a newline and whether the search starts after the
// beginning of the subject.
type compiledRegex struct {
	pattern  string
	flags    reFlags
	ncap     int // capture groups reported to Lua (0 in DFA mode)
	realNcap int // capture groups of the pattern
	names    []reName
	utf8     bool
	anchored bool
	dfa      bool
	ctxSens  bool // has ^, \A, \b or \B: searching from pos > 0 needs the previous character
	rawBytes bool // byte mode, yet subjects never need the Latin-1 expansion (see prepare)
	hasEOL   bool // has a non-multiline $ or \Z, or a multiline ^ (subjects ending in \n differ)

	plain *reTranslation
	nlMu  sync.Mutex
	nl    *reTranslation

	mu       sync.Mutex
	variants [16]atomic.Pointer[reVariant]
}

// reVariant is one compiled Go program for a compiledRegex.
type reVariant struct {
	re      *regexp.Regexp
	gidx    []int // Go group index of PCRE group k
	dollars []int // Go groups of the hidden "$" emulation groups
	carets  []int // Go groups of the hidden multiline "^" marker groups
	simple  bool  // gidx is the identity for group 0 and there are no hidden groups
}

const (
	vkNL = 1 << iota
	vkCtx
	vkAnchored
	vkLongest
)

func compileRegex(pattern string, flags reFlags) (*compiledRegex, string) {
	if flags&reJSCompat != 0 {
		return nil, unsupportedMsg(pattern, "the J (JavaScript compatibility) option is")
	}
	if flags&reUTF8 != 0 && !utf8.ValidString(pattern) {
		return nil, pcreCompileMsg(pattern, "invalid UTF-8 string")
	}
	tr, msg := translatePCRE(pattern, flags, false)
	if tr == nil {
		return nil, msg
	}
	c := &compiledRegex{
		pattern:  pattern,
		flags:    flags,
		realNcap: tr.ncap,
		ncap:     tr.ncap,
		names:    tr.names,
		utf8:     flags&reUTF8 != 0,
		anchored: flags&reAnchored != 0 || tr.anchorG,
		dfa:      flags&reDFA != 0,
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
		return nil, msg
	}
	return c, ""
}

func (c *compiledRegex) variant(kind int) (*reVariant, string) {
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
			nl, msg := translatePCRE(c.pattern, c.flags, true)
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

func pcreCompileMsg(pattern, msg string) string {
	return "pcre_compile() failed: " + msg + " in \"" + pattern + "\""
}

func unsupportedMsg(pattern, what string) string {
	return "failed to compile regex \"" + pattern + "\": " + what + " not supported by caddy-resty's RE2 engine"
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

// ---------------------------------------------------------------------------
// PCRE -> RE2 translation

type reTranslation struct {
	body    string
	ncap    int
	gidx    []int // Go group of PCRE group k (gidx[0] = 0)
	names   []reName
	dollars []int
	carets  []int
	ctxSens bool
	hasEOL  bool
	anchorG bool
	// nonASCII is set when some atom may match a non-ASCII character (or,
	// with "i", a letter with a non-ASCII case variant such as K/U+212A).
	nonASCII bool
}

// reMinWidth returns the minimum number of bytes a match of re consumes.
func reMinWidth(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			n += utf8.RuneLen(r)
		}
		return n
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL, syntax.OpNoMatch:
		return 1
	case syntax.OpCapture, syntax.OpPlus:
		return reMinWidth(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min * reMinWidth(re.Sub[0])
	case syntax.OpConcat:
		n := 0
		for _, sub := range re.Sub {
			n += reMinWidth(sub)
		}
		return n
	case syntax.OpAlternate:
		n := -1
		for _, sub := range re.Sub {
			if w := reMinWidth(sub); n < 0 || w < n {
				n = w
			}
		}
		if n < 0 {
			n = 0
		}
		return n
	}
	return 0
}

type reScope struct {
	multiline, extended, caseless bool
}

type pcreTranslator struct {
	pat      string
	i        int
	out      strings.Builder
	utf8     bool
	nl       bool
	dupOK    bool
	cur      reScope
	stack    []reScope
	goGroups int
	res      *reTranslation
	emitted  bool // an atom was emitted (for \G)
	errMsg   string
}

func (t *pcreTranslator) fail(msg string) {
	if t.errMsg == "" {
		t.errMsg = pcreCompileMsg(t.pat, msg)
	}
}

func (t *pcreTranslator) refuse(what string) {
	if t.errMsg == "" {
		t.errMsg = unsupportedMsg(t.pat, what)
	}
}

// translatePCRE translates pattern into Go syntax. With nl set, the
// translation is the one used for subjects that end with "\n": a
// non-multiline "$" becomes a hidden group `(\n?\z)` (PCRE's "$" also
// matches before a final newline; the newline it may consume is given back
// afterwards) and a multiline "^" carries an empty marker group so that a
// match after the final newline can be refused.
func translatePCRE(pattern string, flags reFlags, nl bool) (*reTranslation, string) {
	t := &pcreTranslator{
		pat:   pattern,
		utf8:  flags&reUTF8 != 0,
		nl:    nl,
		dupOK: flags&reDupNames != 0,
		cur: reScope{
			multiline: flags&reMultiline != 0,
			extended:  flags&reExtended != 0,
			caseless:  flags&reCaseless != 0,
		},
		res: &reTranslation{gidx: []int{0}},
	}
	if flags&reCaseless != 0 {
		t.out.WriteString("(?i)")
	}
	if flags&reDotall != 0 {
		t.out.WriteString("(?s)")
	}
	t.run()
	if t.errMsg != "" {
		return nil, t.errMsg
	}
	if len(t.stack) != 0 {
		return nil, pcreCompileMsg(pattern, "missing )")
	}
	t.res.body = t.out.String()
	t.res.ncap = len(t.res.gidx) - 1
	sort.Slice(t.res.names, func(a, b int) bool { return t.res.names[a].name < t.res.names[b].name })
	return t.res, ""
}

func reIsPCRESpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func reIsDigit(c byte) bool { return c >= '0' && c <= '9' }

func reIsWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func reHexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func (t *pcreTranslator) run() {
	p := t.pat
	for t.i < len(p) && t.errMsg == "" {
		c := p[t.i]
		if t.cur.extended {
			if reIsPCRESpace(c) {
				t.i++
				continue
			}
			if c == '#' {
				for t.i < len(p) && p[t.i] != '\n' {
					t.i++
				}
				continue
			}
		}
		switch c {
		case '\\':
			t.escape()
		case '[':
			t.emitted = true
			t.class()
		case '(':
			t.group()
		case ')':
			if len(t.stack) == 0 {
				t.fail("unmatched parentheses")
				return
			}
			t.cur = t.stack[len(t.stack)-1]
			t.stack = t.stack[:len(t.stack)-1]
			t.out.WriteByte(')')
			t.i++
		case '^':
			t.emitted = true
			t.res.ctxSens = true
			if t.cur.multiline {
				t.out.WriteString("(?m:^)")
				t.res.hasEOL = true
				if t.nl {
					t.goGroups++
					t.res.carets = append(t.res.carets, t.goGroups)
					t.out.WriteString("()")
				}
			} else {
				t.out.WriteString(`\A`)
			}
			t.i++
		case '$':
			t.emitted = true
			t.i++
			if t.cur.multiline {
				t.out.WriteString("(?m:$)")
			} else {
				t.dollar()
			}
		case '.':
			t.emitted = true
			t.res.nonASCII = true
			t.out.WriteByte('.')
			t.i++
		case '|':
			t.out.WriteByte('|')
			t.i++
		case '*', '+', '?':
			t.out.WriteByte(c)
			t.i++
			t.quantSuffix()
		case '{':
			if !t.braceQuant() {
				t.emitted = true
				t.out.WriteString(`\{`)
				t.i++
			}
		default:
			t.emitted = true
			t.literalAt()
		}
	}
}

// dollar emits a non-multiline "$" (or \Z).
func (t *pcreTranslator) dollar() {
	t.res.hasEOL = true
	if t.nl {
		t.goGroups++
		t.res.dollars = append(t.res.dollars, t.goGroups)
		t.out.WriteString(`(\n?\z)`)
	} else {
		t.out.WriteString(`\z`)
	}
}

// quantSuffix handles what may follow a quantifier: "?" (lazy, as RE2) or
// "+" (possessive, refused).
func (t *pcreTranslator) quantSuffix() {
	if t.i < len(t.pat) {
		switch t.pat[t.i] {
		case '?':
			t.out.WriteByte('?')
			t.i++
		case '+':
			t.refuse("possessive quantifiers are")
		}
	}
}

// braceQuant parses a {n}, {n,} or {n,m} quantifier at t.i. It returns false
// when the brace does not start a quantifier (PCRE then takes it literally).
func (t *pcreTranslator) braceQuant() bool {
	p := t.pat
	j := t.i + 1
	start := j
	for j < len(p) && reIsDigit(p[j]) {
		j++
	}
	if j == start || j >= len(p) {
		return false
	}
	minS := p[start:j]
	maxS := ""
	hasComma := false
	if p[j] == ',' {
		hasComma = true
		j++
		s2 := j
		for j < len(p) && reIsDigit(p[j]) {
			j++
		}
		maxS = p[s2:j]
	}
	if j >= len(p) || p[j] != '}' {
		return false
	}
	minV, err1 := strconv.Atoi(minS)
	maxV := -1
	var err2 error
	if maxS != "" {
		maxV, err2 = strconv.Atoi(maxS)
	}
	if err1 != nil || err2 != nil || minV > 65535 || maxV > 65535 {
		t.fail("number too big in {} quantifier")
		return true
	}
	if maxV >= 0 && maxV < minV {
		t.fail("numbers out of order in {} quantifier")
		return true
	}
	if minV > 1000 || maxV > 1000 {
		t.refuse("repeat counts above 1000 are")
		return true
	}
	t.out.WriteByte('{')
	t.out.WriteString(strconv.Itoa(minV))
	if hasComma {
		t.out.WriteByte(',')
		if maxV >= 0 {
			t.out.WriteString(strconv.Itoa(maxV))
		}
	}
	t.out.WriteByte('}')
	t.i = j + 1
	t.quantSuffix()
	return true
}

// literalAt emits the literal character at t.i.
func (t *pcreTranslator) literalAt() {
	c := t.pat[t.i]
	if c < utf8.RuneSelf {
		t.emitLiteral(rune(c))
		t.i++
		return
	}
	if t.utf8 {
		r, size := utf8.DecodeRuneInString(t.pat[t.i:])
		t.emitLiteral(r)
		t.i += size
		return
	}
	t.emitLiteral(rune(c))
	t.i++
}

// emitLiteral emits code point r as a literal outside a class.
func (t *pcreTranslator) emitLiteral(r rune) {
	t.emitted = true
	if r >= utf8.RuneSelf || t.cur.caseless && (r|0x20 == 'k' || r|0x20 == 's') {
		t.res.nonASCII = true
	}
	switch {
	case r < utf8.RuneSelf && (reIsWordByte(byte(r)) || r == ' '):
		t.out.WriteByte(byte(r))
	case r < utf8.RuneSelf && strings.IndexByte(`\.+*?()|[]{}^$`, byte(r)) >= 0:
		t.out.WriteByte('\\')
		t.out.WriteByte(byte(r))
	case r >= 0x80 && !t.utf8 && t.cur.caseless:
		// Byte mode folds ASCII letters only, as PCRE's default tables.
		t.out.WriteString(`(?-i:\x{`)
		t.out.WriteString(strconv.FormatInt(int64(r), 16))
		t.out.WriteString(`})`)
	default:
		t.out.WriteString(`\x{`)
		t.out.WriteString(strconv.FormatInt(int64(r), 16))
		t.out.WriteByte('}')
	}
}

// checkCodePoint validates a code point given by an escape.
func (t *pcreTranslator) checkCodePoint(v int64) bool {
	if !t.utf8 && v > 0xff || v > 0x10ffff {
		t.fail("character value in \\x{} or \\o{} is too large")
		return false
	}
	if t.utf8 && v >= 0xd800 && v <= 0xdfff {
		t.fail("disallowed Unicode code point (>= 0xd800 && <= 0xdfff)")
		return false
	}
	return true
}

// charEscape parses an escape that denotes one character, t.i being on the
// letter after the backslash. It returns the code point and true, or false
// when the escape is not a character escape.
func (t *pcreTranslator) charEscape(inClass bool) (rune, bool) {
	p := t.pat
	c := p[t.i]
	switch c {
	case 'a':
		t.i++
		return 7, true
	case 'e':
		t.i++
		return 0x1b, true
	case 'f':
		t.i++
		return '\f', true
	case 'n':
		t.i++
		return '\n', true
	case 'r':
		t.i++
		return '\r', true
	case 't':
		t.i++
		return '\t', true
	case 'c':
		if t.i+1 >= len(p) {
			t.fail("\\c at end of pattern")
			return 0, true
		}
		ch := p[t.i+1]
		if ch >= 0x80 {
			t.fail("\\c must be followed by an ASCII character")
			return 0, true
		}
		if ch >= 'a' && ch <= 'z' {
			ch -= 32
		}
		t.i += 2
		return rune(ch ^ 0x40), true
	case 'x':
		t.i++
		if t.i < len(p) && p[t.i] == '{' {
			j := t.i + 1
			var v int64
			for j < len(p) && reHexVal(p[j]) >= 0 {
				v = v*16 + int64(reHexVal(p[j]))
				if v > 0x10ffff {
					v = 0x110000
				}
				j++
			}
			if j < len(p) && p[j] == '}' && j > t.i+1 {
				t.i = j + 1
				if !t.checkCodePoint(v) {
					return 0, true
				}
				return rune(v), true
			}
			// Not a valid \x{...}: PCRE reads \x (NUL) and a literal "{".
			return 0, true
		}
		var v int64
		for n := 0; n < 2 && t.i < len(p) && reHexVal(p[t.i]) >= 0; n++ {
			v = v*16 + int64(reHexVal(p[t.i]))
			t.i++
		}
		return rune(v), true
	case 'o':
		if t.i+1 < len(p) && p[t.i+1] == '{' {
			j := t.i + 2
			var v int64
			for j < len(p) && p[j] >= '0' && p[j] <= '7' {
				v = v*8 + int64(p[j]-'0')
				if v > 0x10ffff {
					v = 0x110000
				}
				j++
			}
			if j >= len(p) || p[j] != '}' || j == t.i+2 {
				t.fail("missing } after \\o{")
				return 0, true
			}
			t.i = j + 1
			if !t.checkCodePoint(v) {
				return 0, true
			}
			return rune(v), true
		}
		t.fail("missing { after \\o")
		return 0, true
	case '0':
		// \0 followed by up to two more octal digits.
		t.i++
		var v int64
		for n := 0; n < 2 && t.i < len(p) && p[t.i] >= '0' && p[t.i] <= '7'; n++ {
			v = v*8 + int64(p[t.i]-'0')
			t.i++
		}
		return rune(v), true
	}
	if inClass && c >= '1' && c <= '9' {
		if c >= '8' {
			t.i++
			return rune(c), true
		}
		var v int64
		for n := 0; n < 3 && t.i < len(p) && p[t.i] >= '0' && p[t.i] <= '7'; n++ {
			v = v*8 + int64(p[t.i]-'0')
			t.i++
		}
		if !t.checkCodePoint(v) {
			return 0, true
		}
		return rune(v), true
	}
	return 0, false
}

// Sets used for PCRE's \s \h \v (as ranges) — PCRE's \s includes VT.
var (
	rangesSpace = [][2]rune{{'\t', '\r'}, {' ', ' '}}
	rangesHByte = [][2]rune{{'\t', '\t'}, {' ', ' '}, {0xa0, 0xa0}}
	rangesHUTF8 = [][2]rune{{'\t', '\t'}, {' ', ' '}, {0xa0, 0xa0}, {0x1680, 0x1680}, {0x180e, 0x180e},
		{0x2000, 0x200a}, {0x202f, 0x202f}, {0x205f, 0x205f}, {0x3000, 0x3000}}
	rangesVByte = [][2]rune{{'\n', '\r'}, {0x85, 0x85}}
	rangesVUTF8 = [][2]rune{{'\n', '\r'}, {0x85, 0x85}, {0x2028, 0x2029}}
)

func writeClassRune(b *strings.Builder, r rune) {
	if r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
		b.WriteByte(byte(r))
		return
	}
	b.WriteString(`\x{`)
	b.WriteString(strconv.FormatInt(int64(r), 16))
	b.WriteByte('}')
}

// rangesSet renders ranges (or their complement) as the inside of a class.
func rangesSet(rs [][2]rune, negate bool) string {
	var b strings.Builder
	if !negate {
		for _, r := range rs {
			writeClassRune(&b, r[0])
			if r[1] != r[0] {
				b.WriteByte('-')
				writeClassRune(&b, r[1])
			}
		}
		return b.String()
	}
	next := rune(0)
	for _, r := range rs {
		if r[0] > next {
			writeClassRune(&b, next)
			if r[0]-1 != next {
				b.WriteByte('-')
				writeClassRune(&b, r[0]-1)
			}
		}
		next = r[1] + 1
	}
	if next <= utf8.MaxRune {
		writeClassRune(&b, next)
		b.WriteByte('-')
		writeClassRune(&b, utf8.MaxRune)
	}
	return b.String()
}

// property parses the name of \p / \P at t.i (just after the letter) and
// returns the inside of a class matching it, or "" after an error.
func (t *pcreTranslator) property(negate bool, inClass bool) string {
	p := t.pat
	var name string
	if t.i < len(p) && p[t.i] == '{' {
		j := strings.IndexByte(p[t.i:], '}')
		if j < 0 {
			t.fail("malformed \\P or \\p sequence")
			return ""
		}
		name = p[t.i+1 : t.i+j]
		t.i += j + 1
	} else if t.i < len(p) {
		name = p[t.i : t.i+1]
		t.i++
	} else {
		t.fail("malformed \\P or \\p sequence")
		return ""
	}
	if strings.HasPrefix(name, "^") {
		negate = !negate
		name = name[1:]
	}
	if name == "" {
		t.fail("malformed \\P or \\p sequence")
		return ""
	}
	var parts string
	switch name {
	case "L&", "LC":
		parts = `\p{Lu}\p{Ll}\p{Lt}`
	case "Xan":
		parts = `\p{L}\p{N}`
	case "Xwd":
		parts = `\p{L}\p{N}_`
	case "Xsp", "Xps":
		parts = `\p{Z}\t\n\x{b}\f\r`
	default:
		for k := 0; k < len(name); k++ {
			if !reIsWordByte(name[k]) {
				t.fail("unknown property name after \\P or \\p")
				return ""
			}
		}
		if negate {
			return `\P{` + name + `}`
		}
		return `\p{` + name + `}`
	}
	if negate {
		if inClass {
			t.refuse("negated composite Unicode properties inside a character class are")
			return ""
		}
		return "^" + parts
	}
	return parts
}

// escape handles a backslash sequence outside a character class.
func (t *pcreTranslator) escape() {
	p := t.pat
	t.i++
	if t.i >= len(p) {
		t.fail("\\ at end of pattern")
		return
	}
	c := p[t.i]
	switch c {
	case 'D', 'W', 'S', 'h', 'H', 'v', 'V', 'R', 'N', 'C', 'p', 'P':
		t.res.nonASCII = true
	case 'd', 'w':
		if t.cur.caseless {
			t.res.nonASCII = true
		}
	}
	switch c {
	case 'd', 'D', 'w', 'W':
		t.emitted = true
		t.out.WriteByte('\\')
		t.out.WriteByte(c)
		t.i++
		return
	case 's', 'S', 'h', 'H', 'v', 'V':
		t.emitted = true
		t.out.WriteByte('[')
		if c == 'S' || c == 'H' || c == 'V' {
			t.out.WriteByte('^')
		}
		t.out.WriteString(rangesSet(t.spaceRanges(c), false))
		t.out.WriteByte(']')
		t.i++
		return
	case 'R':
		t.emitted = true
		if t.utf8 {
			t.out.WriteString(`(?:\r\n|[\n\x{b}\f\r\x{85}\x{2028}\x{2029}])`)
		} else {
			t.out.WriteString(`(?:\r\n|[\n\x{b}\f\r\x{85}])`)
		}
		t.i++
		return
	case 'N':
		t.emitted = true
		if t.i+1 < len(p) && p[t.i+1] == '{' {
			t.refuse("\\N{name} escapes are")
			return
		}
		t.out.WriteString(`[^\n]`)
		t.i++
		return
	case 'b', 'B':
		t.emitted = true
		t.res.ctxSens = true
		t.out.WriteByte('\\')
		t.out.WriteByte(c)
		t.i++
		return
	case 'A':
		t.emitted = true
		t.res.ctxSens = true
		t.out.WriteString(`\A`)
		t.i++
		return
	case 'z':
		t.emitted = true
		t.out.WriteString(`\z`)
		t.i++
		return
	case 'Z':
		t.emitted = true
		t.i++
		t.dollar()
		return
	case 'G':
		t.i++
		if t.emitted || len(t.stack) != 0 {
			t.refuse("\\G anywhere but at the start of the pattern is")
			return
		}
		t.res.anchorG = true
		return
	case 'K':
		t.refuse("\\K (match start reset) is")
		return
	case 'X':
		t.refuse("\\X (extended grapheme clusters) is")
		return
	case 'C':
		t.emitted = true
		if t.utf8 {
			t.refuse("\\C (single code unit) in UTF-8 mode is")
			return
		}
		t.out.WriteString(`(?s:.)`)
		t.i++
		return
	case 'Q':
		t.i++
		end := strings.Index(p[t.i:], `\E`)
		lit := p[t.i:]
		if end >= 0 {
			lit = p[t.i : t.i+end]
			t.i += end + 2
		} else {
			t.i = len(p)
		}
		for k := 0; k < len(lit); {
			if t.utf8 && lit[k] >= utf8.RuneSelf {
				r, size := utf8.DecodeRuneInString(lit[k:])
				t.emitLiteral(r)
				k += size
				continue
			}
			t.emitLiteral(rune(lit[k]))
			k++
		}
		return
	case 'E':
		t.i++
		return
	case 'p', 'P':
		t.emitted = true
		t.i++
		set := t.property(c == 'P', false)
		if set == "" {
			return
		}
		if strings.Count(set, `\`) == 1 && (strings.HasPrefix(set, `\p`) || strings.HasPrefix(set, `\P`)) {
			t.out.WriteString(set)
		} else {
			t.out.WriteString("[" + set + "]")
		}
		return
	case 'g':
		if t.i+1 < len(p) && (p[t.i+1] == '<' || p[t.i+1] == '\'') {
			t.refuse("subroutine calls (\\g<...>) are")
		} else {
			t.refuse("back-references are")
		}
		return
	case 'k':
		t.refuse("back-references are")
		return
	case 'L', 'l', 'U', 'u':
		t.fail("PCRE does not support \\L, \\l, \\N{name}, \\U, or \\u")
		return
	}
	if c >= '1' && c <= '9' {
		// PCRE: a back-reference when the number is below 10 or no larger
		// than the number of groups opened so far; otherwise octal.
		j := t.i
		for j < len(p) && reIsDigit(p[j]) {
			j++
		}
		n, _ := strconv.Atoi(p[t.i:j])
		if n < 10 || n <= len(t.res.gidx)-1 || c >= '8' {
			t.refuse("back-references are")
			return
		}
		var v int64
		for k := 0; k < 3 && t.i < len(p) && p[t.i] >= '0' && p[t.i] <= '7'; k++ {
			v = v*8 + int64(p[t.i]-'0')
			t.i++
		}
		if t.checkCodePoint(v) {
			t.emitLiteral(rune(v))
		}
		return
	}
	if r, ok := t.charEscape(false); ok {
		if t.errMsg == "" {
			t.emitLiteral(r)
		}
		return
	}
	if reIsWordByte(c) {
		t.fail("unrecognized character follows \\")
		return
	}
	// An escaped non-alphanumeric character stands for itself.
	t.literalAt()
}

func (t *pcreTranslator) spaceRanges(c byte) [][2]rune {
	switch c {
	case 's', 'S':
		return rangesSpace
	case 'h', 'H':
		if t.utf8 {
			return rangesHUTF8
		}
		return rangesHByte
	}
	if t.utf8 {
		return rangesVUTF8
	}
	return rangesVByte
}

// class translates a character class, t.i being on "[".
func (t *pcreTranslator) class() {
	p := t.pat
	t.i++
	negate := false
	if t.i < len(p) && p[t.i] == '^' {
		negate = true
		t.i++
	}
	type item struct {
		lo, hi rune
		set    string
	}
	var items []item
	first := true
	for {
		if t.errMsg != "" {
			return
		}
		if t.i >= len(p) {
			t.fail("missing terminating ] for character class")
			return
		}
		c := p[t.i]
		if c == ']' && !first {
			t.i++
			break
		}
		first = false
		// \Q...\E inside a class: literal characters.
		if c == '\\' && t.i+1 < len(p) && p[t.i+1] == 'Q' {
			t.i += 2
			end := strings.Index(p[t.i:], `\E`)
			lit := p[t.i:]
			if end >= 0 {
				lit = p[t.i : t.i+end]
				t.i += end + 2
			} else {
				t.i = len(p)
			}
			for k := 0; k < len(lit); {
				r := rune(lit[k])
				size := 1
				if t.utf8 && lit[k] >= utf8.RuneSelf {
					r, size = utf8.DecodeRuneInString(lit[k:])
				}
				items = append(items, item{lo: r, hi: r})
				k += size
			}
			continue
		}
		if c == '\\' && t.i+1 < len(p) && p[t.i+1] == 'E' {
			t.i += 2
			continue
		}
		lo, set, isChar := t.classAtom()
		if t.errMsg != "" {
			return
		}
		if !isChar {
			items = append(items, item{set: set})
			continue
		}
		// A range?
		if t.i+1 < len(p) && p[t.i] == '-' && p[t.i+1] != ']' {
			save := t.i
			t.i++
			hi, set2, isChar2 := t.classAtom()
			if t.errMsg != "" {
				return
			}
			if !isChar2 {
				// "[a-\d]": the hyphen is literal.
				items = append(items, item{lo: lo, hi: lo}, item{lo: '-', hi: '-'}, item{set: set2})
				continue
			}
			if hi < lo {
				t.i = save
				t.fail("range out of order in character class")
				return
			}
			items = append(items, item{lo: lo, hi: hi})
			continue
		}
		items = append(items, item{lo: lo, hi: lo})
	}
	high := false
	for _, it := range items {
		if it.set == "" && it.hi >= 0x80 {
			high = true
		}
	}
	if negate || high || t.cur.caseless {
		t.res.nonASCII = true
	}
	for _, it := range items {
		if it.set != "" && it.set != `\d` && it.set != `\w` && it.set != rangesSet(rangesSpace, false) &&
			(!strings.HasPrefix(it.set, "[:") || strings.HasPrefix(it.set, "[:^")) {
			t.res.nonASCII = true
		}
	}
	// In byte mode with "i", fold ASCII letters by hand and keep Go from
	// folding the Latin-1 ones (PCRE's default tables fold ASCII only).
	manualFold := !t.utf8 && t.cur.caseless && high
	var b strings.Builder
	if manualFold {
		b.WriteString("(?-i:")
	}
	b.WriteByte('[')
	if negate {
		b.WriteByte('^')
	}
	writeRange := func(lo, hi rune) {
		writeClassRune(&b, lo)
		if hi != lo {
			b.WriteByte('-')
			writeClassRune(&b, hi)
		}
	}
	for _, it := range items {
		if it.set != "" {
			if manualFold && (it.set == "[:upper:]" || it.set == "[:lower:]") {
				b.WriteString("A-Za-z")
				continue
			}
			b.WriteString(it.set)
			continue
		}
		writeRange(it.lo, it.hi)
		if manualFold {
			// Add the other case of the ASCII letters in [lo, hi].
			for _, cr := range [][3]rune{{'a', 'z', 'A' - 'a'}, {'A', 'Z', 'a' - 'A'}} {
				l, h := max(it.lo, cr[0]), min(it.hi, cr[1])
				if l <= h {
					writeRange(l+cr[2], h+cr[2])
				}
			}
		}
	}
	b.WriteByte(']')
	if manualFold {
		b.WriteByte(')')
	}
	t.out.WriteString(b.String())
}

// classAtom parses one element of a class: a character (isChar) or a set.
func (t *pcreTranslator) classAtom() (r rune, set string, isChar bool) {
	p := t.pat
	c := p[t.i]
	if c == '[' && t.i+1 < len(p) && (p[t.i+1] == ':' || p[t.i+1] == '.' || p[t.i+1] == '=') {
		kind := p[t.i+1]
		j := t.i + 2
		for j < len(p) && (p[j] >= 'a' && p[j] <= 'z' || p[j] == '^') {
			j++
		}
		if j+1 < len(p) && p[j] == kind && p[j+1] == ']' {
			if kind != ':' {
				t.fail("POSIX collating elements are not supported")
				return 0, "", false
			}
			name := p[t.i+2 : j]
			switch strings.TrimPrefix(name, "^") {
			case "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower",
				"print", "punct", "space", "upper", "word", "xdigit":
			default:
				t.fail("unknown POSIX class name")
				return 0, "", false
			}
			t.i = j + 2
			return 0, "[:" + name + ":]", false
		}
	}
	if c != '\\' {
		if c >= utf8.RuneSelf && t.utf8 {
			r, size := utf8.DecodeRuneInString(p[t.i:])
			t.i += size
			return r, "", true
		}
		t.i++
		return rune(c), "", true
	}
	t.i++
	if t.i >= len(p) {
		t.fail("\\ at end of pattern")
		return 0, "", false
	}
	c = p[t.i]
	switch c {
	case 'd', 'D', 'w', 'W':
		t.i++
		return 0, `\` + string(c), false
	case 's', 'S', 'h', 'H', 'v', 'V':
		t.i++
		return 0, rangesSet(t.spaceRanges(c), c == 'S' || c == 'H' || c == 'V'), false
	case 'p', 'P':
		t.i++
		s := t.property(c == 'P', true)
		return 0, s, false
	case 'b':
		t.i++
		return 8, "", true
	case 'N', 'R', 'X', 'B', 'A', 'z', 'Z', 'G', 'K', 'C':
		t.fail("escape sequence is invalid in character class")
		return 0, "", false
	case 'g', 'k', 'L', 'l', 'U', 'u':
		t.fail("unrecognized character follows \\")
		return 0, "", false
	}
	if r, ok := t.charEscape(true); ok {
		return r, "", true
	}
	if reIsWordByte(c) {
		t.fail("unrecognized character follows \\")
		return 0, "", false
	}
	if c >= utf8.RuneSelf && t.utf8 {
		r, size := utf8.DecodeRuneInString(p[t.i:])
		t.i += size
		return r, "", true
	}
	t.i++
	return rune(c), "", true
}

// group handles "(" and every "(?" / "(*" construct.
func (t *pcreTranslator) group() {
	p := t.pat
	t.i++
	if t.i < len(p) && p[t.i] == '*' {
		t.refuse("backtracking control verbs and start-of-pattern options (*...) are")
		return
	}
	if t.i >= len(p) || p[t.i] != '?' {
		t.openCapture("")
		return
	}
	t.i++
	if t.i >= len(p) {
		t.fail("unrecognized character after (? or (?-")
		return
	}
	c := p[t.i]
	switch c {
	case '#':
		end := strings.IndexByte(p[t.i:], ')')
		if end < 0 {
			t.fail("missing ) after comment")
			return
		}
		t.i += end + 1
		return
	case ':':
		t.i++
		t.push()
		t.out.WriteString("(?:")
		return
	case '|':
		t.refuse("branch reset groups (?| are")
		return
	case '>':
		t.refuse("atomic groups (?> are")
		return
	case '=', '!':
		t.refuse("look-ahead assertions are")
		return
	case '<':
		if t.i+1 < len(p) && (p[t.i+1] == '=' || p[t.i+1] == '!') {
			t.refuse("look-behind assertions are")
			return
		}
		t.i++
		t.namedGroup('>')
		return
	case '\'':
		t.i++
		t.namedGroup('\'')
		return
	case 'P':
		if t.i+1 < len(p) {
			switch p[t.i+1] {
			case '<':
				t.i += 2
				t.namedGroup('>')
				return
			case '=':
				t.refuse("back-references are")
				return
			case '>':
				t.refuse("recursion and subroutine calls are")
				return
			}
		}
		t.fail("unrecognized character after (?P")
		return
	case '(':
		t.refuse("conditional groups are")
		return
	case 'R', '&':
		t.refuse("recursion and subroutine calls are")
		return
	case 'C':
		t.refuse("callouts are")
		return
	}
	if reIsDigit(c) || (c == '+' || c == '-') && t.i+1 < len(p) && reIsDigit(p[t.i+1]) {
		t.refuse("recursion and subroutine calls are")
		return
	}
	// Option setting: (?imsxJUX-imsxJUX) or (?imsx...:...)
	newScope := t.cur
	var on, off strings.Builder
	neg := false
	for t.i < len(p) {
		ch := p[t.i]
		switch ch {
		case '-':
			if neg {
				t.fail("unrecognized character after (? or (?-")
				return
			}
			neg = true
		case 'i':
			newScope.caseless = !neg
			if neg {
				off.WriteByte('i')
			} else {
				on.WriteByte('i')
			}
		case 'm':
			newScope.multiline = !neg
		case 'x':
			newScope.extended = !neg
		case 's', 'U':
			if neg {
				off.WriteByte(ch)
			} else {
				on.WriteByte(ch)
			}
		case 'J':
			if !neg {
				t.dupOK = true
			}
		case 'X':
		case ')', ':':
			goFlags := on.String()
			if off.Len() > 0 {
				goFlags += "-" + off.String()
			}
			t.i++
			if ch == ')' {
				t.cur = newScope
				if goFlags != "" {
					t.out.WriteString("(?" + goFlags + ")")
				}
				return
			}
			t.push()
			t.cur = newScope
			t.out.WriteString("(?" + goFlags + ":")
			return
		default:
			t.fail("unrecognized character after (? or (?-")
			return
		}
		t.i++
	}
	t.fail("missing )")
}

func (t *pcreTranslator) push() {
	t.emitted = true
	t.stack = append(t.stack, t.cur)
}

func (t *pcreTranslator) openCapture(name string) {
	t.push()
	t.goGroups++
	t.res.gidx = append(t.res.gidx, t.goGroups)
	n := len(t.res.gidx) - 1
	if name != "" {
		for k := range t.res.names {
			if t.res.names[k].name == name {
				if !t.dupOK {
					t.fail("two named subpatterns have the same name")
					return
				}
				t.res.names[k].groups = append(t.res.names[k].groups, n)
				t.out.WriteByte('(')
				return
			}
		}
		t.res.names = append(t.res.names, reName{name: name, groups: []int{n}})
	}
	t.out.WriteByte('(')
}

func (t *pcreTranslator) namedGroup(term byte) {
	p := t.pat
	start := t.i
	for t.i < len(p) && reIsWordByte(p[t.i]) {
		t.i++
	}
	name := p[start:t.i]
	if t.i >= len(p) || p[t.i] != term {
		t.fail("syntax error in subpattern name (missing terminator)")
		return
	}
	if name == "" {
		t.fail("group name must start with a non-digit")
		return
	}
	if reIsDigit(name[0]) {
		t.fail("group name must start with a non-digit")
		return
	}
	if len(name) > 32 {
		t.fail("subpattern name is too long (maximum 32 characters)")
		return
	}
	t.i++
	t.openCapture(name)
}

// ---------------------------------------------------------------------------
// Subjects and matching

// reSubject is a subject prepared for matching: run is the text the Go
// program sees (the subject itself, or its Latin-1 expansion in byte mode
// when it holds bytes >= 0x80). Offsets in run are converted back with
// toOrig.
type reSubject struct {
	orig   string
	run    string
	latin  bool
	toRun  []int32 // orig offset -> run offset (latin only)
	toOrig []int32 // run offset -> orig offset (latin only)
	endsNL bool
}

var reSubjectPool = sync.Pool{New: func() any { return new(reSubject) }}

func reIsASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// prepare sets up sv for subject s. It returns an error message for a
// subject PCRE would refuse (invalid UTF-8 in "u" mode).
func (c *compiledRegex) prepare(sv *reSubject, s string, flags reFlags) string {
	sv.orig, sv.run, sv.latin = s, s, false
	sv.endsNL = len(s) > 0 && s[len(s)-1] == '\n'
	if c.utf8 {
		if flags&reNoUTF8Check == 0 && !utf8.ValidString(s) {
			return "pcre_exec() failed: -10"
		}
		return ""
	}
	if c.rawBytes || reIsASCII(s) {
		return ""
	}
	n := len(s)
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			n++
		}
	}
	var b strings.Builder
	b.Grow(n)
	if cap(sv.toRun) < len(s)+1 {
		sv.toRun = make([]int32, len(s)+1)
	}
	if cap(sv.toOrig) < n+1 {
		sv.toOrig = make([]int32, n+1)
	}
	sv.toRun = sv.toRun[:len(s)+1]
	sv.toOrig = sv.toOrig[:n+1]
	r := 0
	for i := 0; i < len(s); i++ {
		sv.toRun[i] = int32(r)
		sv.toOrig[r] = int32(i)
		ch := s[i]
		if ch < utf8.RuneSelf {
			b.WriteByte(ch)
			r++
			continue
		}
		b.WriteByte(0xc0 | ch>>6)
		b.WriteByte(0x80 | ch&0x3f)
		sv.toOrig[r+1] = int32(i)
		r += 2
	}
	sv.toRun[len(s)] = int32(r)
	sv.toOrig[r] = int32(len(s))
	sv.run = b.String()
	sv.latin = true
	return ""
}

func (sv *reSubject) origPos(r int) int {
	if sv.latin && r >= 0 {
		return int(sv.toOrig[r])
	}
	return r
}

func (sv *reSubject) runPos(o int) int {
	if sv.latin {
		return int(sv.toRun[o])
	}
	return o
}

// nextPos returns the run offset one character after r (used after an empty
// match).
func (sv *reSubject) nextPos(r int) int {
	if r >= len(sv.run) {
		return r + 1
	}
	if sv.run[r] < utf8.RuneSelf {
		return r + 1
	}
	_, size := utf8.DecodeRuneInString(sv.run[r:])
	return r + size
}

// exec finds the first match at or after run offset pos. caps receives
// 2*(ncap+1) run offsets (-1 for groups that did not participate); when
// needGroups is false only caps[0:2] is filled. It reports whether a match
// was found.
func (c *compiledRegex) exec(sv *reSubject, pos int, needGroups bool, caps []int) (bool, string) {
	run := sv.run
	kind := 0
	if c.hasEOL && sv.endsNL {
		kind |= vkNL
	}
	useCtx := pos > 0 && c.ctxSens
	if useCtx {
		kind |= vkCtx
	}
	if c.anchored {
		kind |= vkAnchored
	}
	if c.dfa && !useCtx {
		kind |= vkLongest
	}
	v, msg := c.variant(kind)
	if v == nil {
		return false, msg
	}
	base := pos
	if useCtx {
		_, w := utf8.DecodeLastRuneInString(run[:pos])
		base = pos - w
	}
	if !needGroups && v.simple {
		loc := v.re.FindStringIndex(run[base:])
		if loc == nil {
			return false, ""
		}
		caps[0], caps[1] = loc[0]+base, loc[1]+base
		return true, ""
	}
	loc := v.re.FindStringSubmatchIndex(run[base:])
	if loc == nil {
		return false, ""
	}
	if c.dfa && useCtx {
		// Leftmost start found; now the longest match from there.
		start := loc[2*v.gidx[0]] + base
		_, w := utf8.DecodeLastRuneInString(run[:start])
		v2, msg := c.variant(kind | vkAnchored | vkLongest)
		if v2 == nil {
			return false, msg
		}
		v = v2
		base = start - w
		loc = v.re.FindStringSubmatchIndex(run[base:])
		if loc == nil {
			return false, ""
		}
	}
	for _, g := range v.carets {
		if loc[2*g] >= 0 && loc[2*g]+base == len(run) {
			// A multiline ^ after the newline that ends the subject.
			return false, ""
		}
	}
	n := c.ncap
	if !needGroups {
		n = 0
	}
	for k := 0; k <= n; k++ {
		g := v.gidx[k]
		if s := loc[2*g]; s >= 0 {
			caps[2*k], caps[2*k+1] = s+base, loc[2*g+1]+base
		} else {
			caps[2*k], caps[2*k+1] = -1, -1
		}
	}
	for _, g := range v.dollars {
		if loc[2*g] >= 0 && loc[2*g+1]-loc[2*g] == 1 {
			// This "$" consumed the final newline: give it back.
			d := loc[2*g] + base
			for k := 0; k < 2*(n+1); k++ {
				if caps[k] > d {
					caps[k] = d
				}
			}
			break
		}
	}
	return true, ""
}

// ---------------------------------------------------------------------------
// Lua API

type reLib struct {
	cache *RegexCache
}

// OpenNgxRe returns the ngx.re table (match, find, gmatch, sub, gsub, plus
// split and opt of lua-resty-core's ngx.re module). Compiled patterns are
// kept in cache, which may be shared by many Lua states; a nil cache means a
// process-wide default one.
func OpenNgxRe(L *lua.LState, cache *RegexCache) *lua.LTable {
	r := &reLib{cache: cache}
	if r.cache == nil {
		r.cache = defaultRegexCache()
	}
	t := L.CreateTable(0, 7)
	t.RawSetString("match", L.NewFunction(r.match))
	t.RawSetString("find", L.NewFunction(r.find))
	t.RawSetString("gmatch", L.NewFunction(r.gmatch))
	t.RawSetString("sub", L.NewFunction(r.sub))
	t.RawSetString("gsub", L.NewFunction(r.gsub))
	t.RawSetString("split", L.NewFunction(r.split))
	t.RawSetString("opt", L.NewFunction(reOpt))
	return t
}

// OpenNgxReModule returns what `require "ngx.re"` gives: split and opt.
func OpenNgxReModule(L *lua.LState, cache *RegexCache) *lua.LTable {
	r := &reLib{cache: cache}
	if r.cache == nil {
		r.cache = defaultRegexCache()
	}
	t := L.CreateTable(0, 2)
	t.RawSetString("split", L.NewFunction(r.split))
	t.RawSetString("opt", L.NewFunction(reOpt))
	return t
}

func reLuaTypeName(L *lua.LState, n int) string {
	if n > L.GetTop() {
		return "no value"
	}
	return L.Get(n).Type().String()
}

func reArgError(L *lua.LState, n int, fname, msg string) {
	L.RaiseError("bad argument #%d to '%s' (%s)", n, fname, msg)
}

func reArgTypeError(L *lua.LState, n int, fname, expected string) {
	reArgError(L, n, fname, expected+" expected, got "+reLuaTypeName(L, n))
}

// reArgString returns argument n as a string; numbers are converted.
func reArgString(L *lua.LState, n int, fname string) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return FormatNumber(float64(v))
	}
	reArgTypeError(L, n, fname, "string")
	return ""
}

// reArgOpts parses the options argument n (nil, string or number).
func reArgOpts(L *lua.LState, n int, fname string) reFlags {
	var opts string
	switch v := L.Get(n).(type) {
	case *lua.LNilType:
		return 0
	case lua.LString:
		opts = string(v)
	case lua.LNumber:
		opts = FormatNumber(float64(v))
	default:
		reArgTypeError(L, n, fname, "string")
	}
	f, bad := parseReFlags(opts)
	if bad >= 0 {
		L.RaiseError("unknown flag \"%s\" (flags \"%s\")", opts[bad:bad+1], opts)
	}
	return f
}

// reArgCtx returns the ctx table argument n (or nil) and its start offset.
func reArgCtx(L *lua.LState, n int, fname string) (*lua.LTable, int) {
	switch v := L.Get(n).(type) {
	case *lua.LNilType:
		return nil, 0
	case *lua.LTable:
		switch p := L.GetField(v, "pos").(type) {
		case lua.LNumber:
			if p <= 0 {
				return v, 0
			}
			return v, int(p) - 1
		case *lua.LNilType:
			return v, 0
		}
		reArgError(L, n, fname, "bad pos field type in the ctx table")
	default:
		reArgTypeError(L, n, fname, "table")
	}
	return nil, 0
}

// startPos validates a start offset (bytes) against subject s.
func (c *compiledRegex) startPos(sv *reSubject, pos int) (int, string) {
	if pos > len(sv.orig) {
		return 0, "pcre_exec() failed: -24"
	}
	if c.utf8 && pos < len(sv.orig) && !utf8.RuneStart(sv.orig[pos]) {
		return 0, "pcre_exec() failed: -11"
	}
	return sv.runPos(pos), ""
}

// capsBuf returns a slice for the captures of c, on buf when it fits.
func (c *compiledRegex) capsSlice(buf []int) []int {
	n := 2 * (c.ncap + 1)
	if n <= len(buf) {
		return buf[:n]
	}
	return make([]int, n)
}

// fillMatch stores the captures (run offsets) of a match into res.
func (c *compiledRegex) fillMatch(L *lua.LState, res *lua.LTable, sv *reSubject, caps []int) *lua.LTable {
	if res == nil {
		res = L.CreateTable(c.ncap, len(c.names))
	}
	orig := sv.orig
	for k := 0; k <= c.ncap; k++ {
		s := caps[2*k]
		if s < 0 {
			res.RawSetInt(k, lua.LFalse)
			continue
		}
		res.RawSetInt(k, lua.LString(orig[sv.origPos(s):sv.origPos(caps[2*k+1])]))
	}
	if c.ncap == 0 {
		return res
	}
	dup := c.flags&reDupNames != 0
	for _, nm := range c.names {
		if !dup {
			res.RawSetString(nm.name, res.RawGetInt(nm.groups[0]))
			continue
		}
		var list *lua.LTable
		for _, g := range nm.groups {
			if v := res.RawGetInt(g); v != lua.LFalse {
				if list == nil {
					list = L.CreateTable(len(nm.groups), 0)
				}
				list.Append(v)
			}
		}
		if list != nil {
			res.RawSetString(nm.name, list)
		}
	}
	return res
}

// begin compiles regex and prepares subj for a search from pos. On success
// the caller gives sv back to reSubjectPool; on failure c is nil and msg is
// the error to return to Lua.
func (r *reLib) begin(regex string, flags reFlags, subj string, pos int) (c *compiledRegex, sv *reSubject, rpos int, msg string) {
	c, msg = r.compile(regex, flags)
	if c == nil {
		return nil, nil, 0, msg
	}
	sv = reSubjectPool.Get().(*reSubject)
	if msg = c.prepare(sv, subj, flags); msg == "" {
		if rpos, msg = c.startPos(sv, pos); msg == "" {
			return c, sv, rpos, ""
		}
	}
	reSubjectPool.Put(sv)
	return nil, nil, 0, msg
}

func (r *reLib) compile(regex string, flags reFlags) (*compiledRegex, string) {
	return r.cache.get(regex, flags)
}

// match implements ngx.re.match(subject, regex, options?, ctx?, res_table?).
func (r *reLib) match(L *lua.LState) int {
	subj := reArgString(L, 1, "match")
	regex := reArgString(L, 2, "match")
	flags := reArgOpts(L, 3, "match")
	ctx, pos := reArgCtx(L, 4, "match")
	var res *lua.LTable
	switch v := L.Get(5).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		res = v
	default:
		reArgTypeError(L, 5, "match", "table")
	}
	c, sv, rpos, msg := r.begin(regex, flags, subj, pos)
	if c == nil {
		return PushFail(L, msg)
	}
	defer reSubjectPool.Put(sv)
	var buf [24]int
	caps := c.capsSlice(buf[:])
	ok, msg := c.exec(sv, rpos, true, caps)
	if msg != "" {
		return PushFail(L, msg)
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	if ctx != nil {
		L.SetField(ctx, "pos", lua.LNumber(sv.origPos(caps[1])+1))
	}
	L.Push(c.fillMatch(L, res, sv, caps))
	return 1
}

// find implements ngx.re.find(subject, regex, options?, ctx?, nth?).
func (r *reLib) find(L *lua.LState) int {
	subj := reArgString(L, 1, "find")
	regex := reArgString(L, 2, "find")
	flags := reArgOpts(L, 3, "find")
	ctx, pos := reArgCtx(L, 4, "find")
	nth := 0
	switch v := L.Get(5).(type) {
	case *lua.LNilType:
	case lua.LNumber:
		if v > 0 {
			nth = int(v)
		}
	default:
		reArgTypeError(L, 5, "find", "number")
	}
	fail := func(msg string) int {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		L.Push(lua.LString(msg))
		return 3
	}
	c, sv, rpos, msg := r.begin(regex, flags, subj, pos)
	if c == nil {
		return fail(msg)
	}
	defer reSubjectPool.Put(sv)
	var buf [24]int
	caps := c.capsSlice(buf[:])
	ok, msg := c.exec(sv, rpos, nth > 0, caps)
	if msg != "" {
		return fail(msg)
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	if ctx != nil {
		L.SetField(ctx, "pos", lua.LNumber(sv.origPos(caps[1])+1))
	}
	if nth > c.ncap {
		return fail("nth out of bound")
	}
	if caps[2*nth] < 0 {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		return 2
	}
	L.Push(lua.LNumber(sv.origPos(caps[2*nth]) + 1))
	L.Push(lua.LNumber(sv.origPos(caps[2*nth+1])))
	return 2
}

// gmatch implements ngx.re.gmatch(subject, regex, options?).
func (r *reLib) gmatch(L *lua.LState) int {
	subj := reArgString(L, 1, "gmatch")
	regex := reArgString(L, 2, "gmatch")
	flags := reArgOpts(L, 3, "gmatch")
	c, msg := r.compile(regex, flags)
	if c == nil {
		return PushFail(L, msg)
	}
	sv := new(reSubject)
	prepErr := c.prepare(sv, subj, flags)
	pos := 0
	done := false
	caps := make([]int, 2*(c.ncap+1))
	L.Push(L.NewFunction(func(L *lua.LState) int {
		if done {
			L.Push(lua.LNil)
			return 1
		}
		if prepErr != "" {
			done = true
			return PushFail(L, prepErr)
		}
		ok, msg := c.exec(sv, pos, true, caps)
		if msg != "" {
			done = true
			return PushFail(L, msg)
		}
		if !ok {
			done = true
			L.Push(lua.LNil)
			return 1
		}
		pos = caps[1]
		if caps[1] == caps[0] {
			pos = sv.nextPos(pos)
			if pos > len(sv.run) {
				done = true
			}
		}
		L.Push(c.fillMatch(L, nil, sv, caps))
		return 1
	}))
	return 1
}

// Replacement templates ($0, $N, ${N}, $$ and, as an extension, ${name} /
// $name for the named groups of the pattern).

const errTemplate = "failed to compile the replacement template"

// parseTemplateRef parses the reference after a "$" at tpl[i] (i is the
// index after "$"). It returns the group number (-1 for "$$", -2 for a
// named reference, then name is the index in c.names), the index after the
// reference, and ok=false when the template is invalid.
func (c *compiledRegex) parseTemplateRef(tpl string, i int) (group, name, next int, ok bool) {
	if i >= len(tpl) {
		return 0, 0, 0, false
	}
	if tpl[i] == '$' {
		return -1, 0, i + 1, true
	}
	bracket := false
	if tpl[i] == '{' {
		bracket = true
		i++
		if i >= len(tpl) {
			return 0, 0, 0, false
		}
	}
	start := i
	if reIsDigit(tpl[i]) {
		n := 0
		for i < len(tpl) && reIsDigit(tpl[i]) {
			if n < 1<<20 {
				n = n*10 + int(tpl[i]-'0')
			}
			i++
		}
		if bracket {
			if i >= len(tpl) || tpl[i] != '}' {
				return 0, 0, 0, false
			}
			i++
		}
		return n, 0, i, true
	}
	for i < len(tpl) && reIsWordByte(tpl[i]) {
		i++
	}
	nm := tpl[start:i]
	if bracket {
		if i >= len(tpl) || tpl[i] != '}' {
			return 0, 0, 0, false
		}
		i++
	}
	if nm == "" {
		return 0, 0, 0, false
	}
	for k := range c.names {
		if c.names[k].name == nm {
			return -2, k, i, true
		}
	}
	return 0, 0, 0, false
}

// checkTemplate validates tpl and reports whether it references groups
// other than 0 (needGroups) and whether it contains any "$" at all.
func (c *compiledRegex) checkTemplate(tpl string) (hasDollar, needGroups, ok bool) {
	for i := 0; i < len(tpl); {
		j := strings.IndexByte(tpl[i:], '$')
		if j < 0 {
			break
		}
		hasDollar = true
		g, _, next, good := c.parseTemplateRef(tpl, i+j+1)
		if !good {
			return true, false, false
		}
		if g > 0 || g == -2 {
			needGroups = true
		}
		i = next
	}
	return hasDollar, needGroups, true
}

// expandTemplate appends tpl with its references replaced. caps are run
// offsets.
func (c *compiledRegex) expandTemplate(dst []byte, tpl string, sv *reSubject, caps []int) []byte {
	for i := 0; i < len(tpl); {
		j := strings.IndexByte(tpl[i:], '$')
		if j < 0 {
			return append(dst, tpl[i:]...)
		}
		dst = append(dst, tpl[i:i+j]...)
		g, name, next, _ := c.parseTemplateRef(tpl, i+j+1)
		i = next
		if g == -1 {
			dst = append(dst, '$')
			continue
		}
		if g == -2 {
			// The first group of that name that took part in the match.
			g = c.names[name].groups[0]
			for _, ng := range c.names[name].groups {
				if ng <= c.ncap && caps[2*ng] >= 0 {
					g = ng
					break
				}
			}
		}
		if g <= c.ncap && caps[2*g] >= 0 {
			dst = append(dst, sv.orig[sv.origPos(caps[2*g]):sv.origPos(caps[2*g+1])]...)
		}
	}
	return dst
}

var reBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func (r *reLib) sub(L *lua.LState) int  { return r.subHelper(L, "sub", false) }
func (r *reLib) gsub(L *lua.LState) int { return r.subHelper(L, "gsub", true) }

func (r *reLib) subHelper(L *lua.LState, fname string, global bool) int {
	subjV := L.Get(1)
	subj := reArgString(L, 1, fname)
	regex := reArgString(L, 2, fname)
	var tpl string
	var fn *lua.LFunction
	switch v := L.Get(3).(type) {
	case lua.LString:
		tpl = string(v)
	case lua.LNumber:
		tpl = FormatNumber(float64(v))
	case *lua.LFunction:
		fn = v
	default:
		reArgTypeError(L, 3, fname, "string")
	}
	flags := reArgOpts(L, 4, fname)
	fail := func(msg string) int {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		L.Push(lua.LString(msg))
		return 3
	}
	c, msg := r.compile(regex, flags)
	if c == nil {
		return fail(msg)
	}
	needGroups := fn != nil
	hasDollar := false
	if fn == nil {
		var ok bool
		hasDollar, needGroups, ok = c.checkTemplate(tpl)
		if !ok {
			return fail(errTemplate)
		}
	}
	sv := reSubjectPool.Get().(*reSubject)
	defer reSubjectPool.Put(sv)
	if msg := c.prepare(sv, subj, flags); msg != "" {
		return fail(msg)
	}
	var buf [24]int
	caps := c.capsSlice(buf[:])
	bp := reBufPool.Get().(*[]byte)
	dst := (*bp)[:0]
	defer func() {
		if cap(dst) <= 64<<10 {
			*bp = dst[:0]
			reBufPool.Put(bp)
		}
	}()
	count := 0
	pos := 0   // run offset where the next search starts
	cpPos := 0 // orig offset of the first byte not yet copied
	for pos <= len(sv.run) {
		ok, msg := c.exec(sv, pos, needGroups, caps)
		if msg != "" {
			return fail(msg)
		}
		if !ok {
			break
		}
		count++
		ms, me := sv.origPos(caps[0]), sv.origPos(caps[1])
		dst = append(dst, subj[cpPos:ms]...)
		switch {
		case fn != nil:
			m := c.fillMatch(L, nil, sv, caps)
			L.Push(fn)
			L.Push(m)
			L.Call(1, 1)
			rv := L.Get(-1)
			L.Pop(1)
			switch v := rv.(type) {
			case lua.LString:
				dst = append(dst, v...)
			case lua.LNumber:
				dst = append(dst, FormatNumber(float64(v))...)
			default:
				dst = append(dst, L.ToStringMeta(rv).String()...)
			}
		case hasDollar:
			dst = c.expandTemplate(dst, tpl, sv, caps)
		default:
			dst = append(dst, tpl...)
		}
		cpPos = me
		pos = caps[1]
		if caps[1] == caps[0] {
			pos = sv.nextPos(pos)
		}
		if !global {
			break
		}
	}
	if count == 0 {
		if _, isStr := subjV.(lua.LString); isStr {
			L.Push(subjV)
		} else {
			L.Push(lua.LString(subj))
		}
		L.Push(lua.LNumber(0))
		return 2
	}
	dst = append(dst, subj[cpPos:]...)
	L.Push(lua.LString(string(dst)))
	L.Push(lua.LNumber(count))
	return 2
}

// split implements ngx_re.split(subject, regex, options?, ctx?, max?, res?)
// with the semantics of lua-resty-core: empty matches split between
// characters but never produce an empty field at the start of a field, a
// capture of the first group is inserted after each field, and trailing
// empty fields are removed unless max is given.
func (r *reLib) split(L *lua.LState) int {
	subj := reArgString(L, 1, "split")
	regex := reArgString(L, 2, "split")
	flags := reArgOpts(L, 3, "split")
	ctx, pos := reArgCtx(L, 4, "split")
	maxFields := 0
	switch v := L.Get(5).(type) {
	case *lua.LNilType:
	case lua.LNumber:
		maxFields = int(v)
	default:
		reArgTypeError(L, 5, "split", "number")
	}
	var res *lua.LTable
	switch v := L.Get(6).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		res = v
	default:
		L.RaiseError("res is not a table")
	}
	if res == nil {
		res = L.CreateTable(4, 0)
	}
	if pos >= len(subj) {
		res.RawSetInt(1, lua.LNil)
		L.Push(res)
		return 1
	}
	c, sv, rpos, msg := r.begin(regex, flags, subj, pos)
	if c == nil {
		return PushFail(L, msg)
	}
	defer reSubjectPool.Put(sv)
	needGroups := c.ncap > 0
	caps := make([]int, 2*(c.ncap+1))
	var out []lua.LValue
	fields := 0
	fieldStart := rpos // run offset
	search := rpos
	lastEnd := -1
	for (maxFields <= 0 || fields+1 < maxFields) && search <= len(sv.run) {
		ok, msg := c.exec(sv, search, needGroups, caps)
		if msg != "" {
			return PushFail(L, msg)
		}
		if !ok {
			break
		}
		lastEnd = caps[1]
		if caps[0] == caps[1] {
			search = sv.nextPos(caps[1])
			if caps[0] == fieldStart || caps[0] >= len(sv.run) {
				continue
			}
		} else {
			search = caps[1]
		}
		out = append(out, lua.LString(subj[sv.origPos(fieldStart):sv.origPos(caps[0])]))
		fields++
		if c.ncap > 0 && caps[2] >= 0 {
			out = append(out, lua.LString(subj[sv.origPos(caps[2]):sv.origPos(caps[3])]))
		}
		fieldStart = caps[1]
	}
	out = append(out, lua.LString(subj[sv.origPos(fieldStart):]))
	if maxFields <= 0 {
		for len(out) > 0 && out[len(out)-1] == lua.LString("") {
			out = out[:len(out)-1]
		}
	}
	for i, v := range out {
		res.RawSetInt(i+1, v)
	}
	res.RawSetInt(len(out)+1, lua.LNil)
	if ctx != nil && lastEnd >= 0 {
		L.SetField(ctx, "pos", lua.LNumber(sv.origPos(lastEnd)+1))
	}
	L.Push(res)
	return 1
}

// reOpt implements ngx_re.opt(option, value). The only option OpenResty
// knows, "jit_stack_size", is accepted and ignored: RE2 has no JIT stack.
func reOpt(L *lua.LState) int {
	name := L.Get(1)
	if s, ok := name.(lua.LString); ok && s == "jit_stack_size" {
		if _, ok := L.Get(2).(lua.LNumber); !ok {
			reArgTypeError(L, 2, "opt", "number")
		}
		return 0
	}
	L.RaiseError("unrecognized option name")
	return 0
}
