package pcre

import (
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// reTranslation is the Go syntax of a PCRE pattern and what matching needs
// to know about it.
type reTranslation struct {
	body    string
	ncap    int
	gidx    []int // Go group of PCRE group k (gidx[0] = 0)
	names   []NamedGroup
	dollars []int
	carets  []int
	ctxSens bool
	hasEOL  bool
	anchorG bool
	// nonASCII is set when some atom may match a non-ASCII character (or,
	// with "i", a letter with a non-ASCII case variant such as K/U+212A).
	nonASCII bool
	// kGroup is, in backtracking mode, the regexp2 group number of the
	// hidden group \K leaves (0: the pattern has no \K).
	kGroup int
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

// reScope holds the options an inline option setting ("(?imx)") changes
// until the end of the enclosing group.
type reScope struct {
	multiline, extended, caseless bool
	// ungreedy is PCRE's (?U): it swaps greedy and lazy quantifiers
	// (backtracking mode; Go's syntax has (?U) itself).
	ungreedy bool
}

// reFrame is what the translator knows of an open group.
type reFrame struct {
	cond bool // a conditional group: at most one "|"
	bars int
}

// pendingRef is a back-reference or a condition naming a group, resolved
// once every group is known (PCRE allows forward references).
type pendingRef struct {
	pos  int    // offset in the output where the reference goes
	name string // group name, or "" for a number
	num  int
	cond bool // a condition "(?(N)": only the number is written
}

// pcreTranslator is the state of translatePCRE.
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
	// refused is set when the pattern uses a PCRE feature the target
	// cannot run (then errMsg is an unsupportedMsg).
	refused bool
	// bt selects the backtracking target: .NET syntax for regexp2,
	// where look-around, back-references, atomic groups, possessive
	// quantifiers, conditionals and \K are written out instead of refused.
	bt      bool
	frames  []reFrame
	pending []pendingRef
}

func (t *pcreTranslator) fail(msg string) {
	if t.errMsg == "" {
		t.errMsg = pcreCompileMsg(t.pat, msg)
	}
}

func (t *pcreTranslator) refuse(what string) {
	if t.errMsg == "" {
		t.errMsg = unsupportedMsg(t.pat, what)
		t.refused = true
	}
}

// translatePCRE translates pattern into Go syntax. With nl set, the
// translation is the one used for subjects that end with "\n": a
// non-multiline "$" becomes a hidden group `(\n?\z)` (PCRE's "$" also
// matches before a final newline; the newline it may consume is given back
// afterwards) and a multiline "^" carries an empty marker group so that a
// match after the final newline can be refused.
//
// With bt set the translation is for regexp2 (.NET syntax) instead, where
// nl does not apply. refused reports that the pattern failed because it
// uses a feature the target cannot run (RE2: look-around and the rest of
// the backtracking features; regexp2: recursion, branch reset, verbs...)
// rather than because it is malformed.
func translatePCRE(pattern string, flags Flags, nl, bt bool) (tr *reTranslation, errMsg string, refused bool) {
	t := &pcreTranslator{
		pat:   pattern,
		utf8:  flags&UTF8 != 0,
		nl:    nl && !bt,
		bt:    bt,
		dupOK: flags&DupNames != 0,
		cur: reScope{
			multiline: flags&Multiline != 0,
			extended:  flags&Extended != 0,
			caseless:  flags&Caseless != 0,
		},
		res: &reTranslation{gidx: []int{0}},
	}
	if flags&Caseless != 0 {
		t.out.WriteString("(?i)")
	}
	if flags&Dotall != 0 {
		t.out.WriteString("(?s)")
	}
	t.run()
	if t.errMsg != "" {
		return nil, t.errMsg, t.refused
	}
	if len(t.stack) != 0 {
		return nil, pcreCompileMsg(pattern, "missing )"), false
	}
	t.res.ncap = len(t.res.gidx) - 1
	body := t.out.String()
	if len(t.pending) > 0 {
		var b strings.Builder
		last := 0
		for _, pr := range t.pending {
			b.WriteString(body[last:pr.pos])
			last = pr.pos
			if !t.writeRef(&b, pr) {
				return nil, t.errMsg, false
			}
		}
		b.WriteString(body[last:])
		body = b.String()
	}
	if t.bt && t.res.kGroup > 0 {
		// The hidden group of \K is named, so regexp2 numbers it after
		// every (unnamed) PCRE group.
		t.res.kGroup = t.res.ncap + 1
	}
	t.res.body = body
	sort.Slice(t.res.names, func(a, b int) bool { return t.res.names[a].Name < t.res.names[b].Name })
	return t.res, "", false
}

// writeRef writes a pending group reference, now that every group is
// known. It returns false (errMsg set) when the group does not exist.
func (t *pcreTranslator) writeRef(b *strings.Builder, pr pendingRef) bool {
	groups := []int{pr.num}
	if pr.name != "" {
		groups = nil
		for _, ng := range t.res.names {
			if ng.Name == pr.name {
				groups = ng.Groups
			}
		}
	}
	if len(groups) == 0 || groups[0] > t.res.ncap {
		t.fail("reference to non-existent subpattern")
		return false
	}
	if pr.cond {
		b.WriteString(strconv.Itoa(groups[0]))
		return true
	}
	// (?:\N) so that a digit that follows is not read as part of N;
	// a duplicate name matches any of its groups.
	b.WriteString("(?:")
	for k, g := range groups {
		if k > 0 {
			b.WriteByte('|')
		}
		b.WriteByte('\\')
		b.WriteString(strconv.Itoa(g))
	}
	b.WriteByte(')')
	return true
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
			t.frames = t.frames[:len(t.frames)-1]
			t.out.WriteByte(')')
			t.i++
		case '^':
			t.emitted = true
			t.res.ctxSens = true
			if t.bt {
				if t.cur.multiline {
					// PCRE's multiline ^ does not match after a newline
					// that ends the subject; .NET's does.
					t.out.WriteString(`(?:\A|(?<=\n)(?!\z))`)
				} else {
					t.out.WriteString(`\A`)
				}
			} else if t.cur.multiline {
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
			if n := len(t.frames); n > 0 {
				f := &t.frames[n-1]
				f.bars++
				if f.cond && f.bars > 1 {
					t.fail("conditional group contains more than two branches")
					return
				}
			}
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
	if t.bt {
		// .NET's \Z is PCRE's: the end, or before a newline that ends
		// the subject.
		t.out.WriteString(`\Z`)
		return
	}
	t.res.hasEOL = true
	if t.nl {
		t.goGroups++
		t.res.dollars = append(t.res.dollars, t.goGroups)
		t.out.WriteString(`(\n?\z)`)
	} else {
		t.out.WriteString(`\z`)
	}
}

// quantSuffix handles what may follow a quantifier: "?" (lazy) or "+"
// (possessive: refused for RE2, kept for regexp2). In backtracking mode
// (?U) swaps greedy and lazy here.
func (t *pcreTranslator) quantSuffix() {
	var next byte
	if t.i < len(t.pat) {
		next = t.pat[t.i]
	}
	switch next {
	case '?':
		t.i++
		if !t.bt || !t.cur.ungreedy {
			t.out.WriteByte('?')
		}
	case '+':
		if !t.bt {
			t.refuse("possessive quantifiers are")
			return
		}
		t.i++
		t.out.WriteByte('+')
	default:
		if t.bt && t.cur.ungreedy {
			t.out.WriteByte('?')
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
	if (minV > 1000 || maxV > 1000) && !t.bt {
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
	if t.bt {
		if r >= 0x80 && !t.utf8 && t.cur.caseless {
			// Byte mode folds ASCII letters only, as PCRE's default tables.
			t.out.WriteString("(?:(?-i)")
			writeNetRune(&t.out, r, false)
			t.out.WriteByte(')')
			return
		}
		writeNetRune(&t.out, r, false)
		return
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

// writeNetRune writes code point r in .NET (regexp2) syntax, in a class or
// not: letters and digits as they are, other ASCII characters escaped,
// \xhh, \uhhhh, and the code points beyond the BMP as themselves (regexp2
// works on runes, and they are never special).
func writeNetRune(b *strings.Builder, r rune, inClass bool) {
	const hex = "0123456789abcdef"
	switch {
	case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_'):
		b.WriteByte(byte(r))
	case !inClass && r > ' ' && r < 0x7f:
		b.WriteByte('\\')
		b.WriteByte(byte(r))
	case r < 0x100:
		b.WriteString(`\x`)
		b.WriteByte(hex[r>>4])
		b.WriteByte(hex[r&15])
	case r <= 0xffff:
		b.WriteString(`\u`)
		for sh := 12; sh >= 0; sh -= 4 {
			b.WriteByte(hex[(r>>sh)&15])
		}
	default:
		b.WriteRune(r)
	}
}

// classRune writes r as an element of a character class.
func (t *pcreTranslator) classRune(b *strings.Builder, r rune) {
	if t.bt {
		writeNetRune(b, r, true)
		return
	}
	writeClassRune(b, r)
}

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
func (t *pcreTranslator) rangesSet(rs [][2]rune, negate bool) string {
	var b strings.Builder
	if !negate {
		for _, r := range rs {
			t.classRune(&b, r[0])
			if r[1] != r[0] {
				b.WriteByte('-')
				t.classRune(&b, r[1])
			}
		}
		return b.String()
	}
	next := rune(0)
	for _, r := range rs {
		if r[0] > next {
			t.classRune(&b, next)
			if r[0]-1 != next {
				b.WriteByte('-')
				t.classRune(&b, r[0]-1)
			}
		}
		next = r[1] + 1
	}
	if next <= utf8.MaxRune {
		t.classRune(&b, next)
		b.WriteByte('-')
		t.classRune(&b, utf8.MaxRune)
	}
	return b.String()
}

// ASCII sets of the PCRE escapes and POSIX classes (PCRE does not set
// UCP under lua-nginx-module: they never match beyond ASCII).
var (
	rangesDigit  = [][2]rune{{'0', '9'}}
	rangesWord   = [][2]rune{{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}
	posixClasses = map[string][][2]rune{
		"alnum":  {{'0', '9'}, {'A', 'Z'}, {'a', 'z'}},
		"alpha":  {{'A', 'Z'}, {'a', 'z'}},
		"ascii":  {{0, 0x7f}},
		"blank":  {{'\t', '\t'}, {' ', ' '}},
		"cntrl":  {{0, 0x1f}, {0x7f, 0x7f}},
		"digit":  rangesDigit,
		"graph":  {{0x21, 0x7e}},
		"lower":  {{'a', 'z'}},
		"print":  {{0x20, 0x7e}},
		"punct":  {{0x21, 0x2f}, {0x3a, 0x40}, {0x5b, 0x60}, {0x7b, 0x7e}},
		"space":  rangesSpace,
		"upper":  {{'A', 'Z'}},
		"word":   rangesWord,
		"xdigit": {{'0', '9'}, {'A', 'F'}, {'a', 'f'}},
	}
)

// classItem is an element of a character class: a range of characters,
// or a set (an escape such as \d or \p{L}, a POSIX class).
type classItem struct {
	lo, hi rune
	set    string
}

// setRanges returns the ranges of a set item of a class in backtracking
// mode (false for Unicode properties).
func (t *pcreTranslator) setRanges(set string) ([][2]rune, bool) {
	var rs [][2]rune
	neg := false
	switch {
	case len(set) == 2 && set[0] == '\\':
		c := set[1]
		switch c {
		case 'd', 'D':
			rs = rangesDigit
		case 'w', 'W':
			rs = rangesWord
		case 's', 'S', 'h', 'H', 'v', 'V':
			rs = t.spaceRanges(c | 0x20)
		default:
			return nil, false
		}
		neg = c < 'a'
	case strings.HasPrefix(set, "[:"):
		name := strings.TrimSuffix(set[2:], ":]")
		neg = strings.HasPrefix(name, "^")
		rs = posixClasses[strings.TrimPrefix(name, "^")]
		if t.cur.caseless && (name == "upper" || name == "lower") {
			rs = posixClasses["alpha"] // PCRE: caseless [:upper:] is every letter
		}
	default:
		return nil, false
	}
	if neg {
		return complementRanges(rs), true
	}
	return rs, true
}

// complementRanges returns the code points not in rs (sorted, disjoint).
func complementRanges(rs [][2]rune) [][2]rune {
	var out [][2]rune
	next := rune(0)
	for _, r := range rs {
		if r[0] > next {
			out = append(out, [2]rune{next, r[0] - 1})
		}
		next = r[1] + 1
	}
	if next <= utf8.MaxRune {
		out = append(out, [2]rune{next, utf8.MaxRune})
	}
	return out
}

// mergeRanges sorts rs and merges overlapping and adjacent ranges (regexp2
// mishandles some classes with overlapping ranges).
func mergeRanges(rs [][2]rune) [][2]rune {
	sort.Slice(rs, func(a, b int) bool { return rs[a][0] < rs[b][0] })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && r[0] <= out[n-1][1]+1 {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// classBT renders a character class for regexp2. regexp2 folds the
// ranges of a class under "i", which is right for literal characters but
// not for sets (\W's ranges would take in every letter; PCRE never folds
// \d, \w, \p...) nor in byte mode for non-ASCII letters (PCRE's default
// tables fold ASCII only): then the class is kept from folding and its
// literal characters are folded here.
func (t *pcreTranslator) classBT(items []classItem, negate bool) string {
	var rs [][2]rune
	var props []string
	fold := false
	if t.cur.caseless {
		for _, it := range items {
			if it.set != "" || !t.utf8 && it.hi >= utf8.RuneSelf {
				fold = true
			}
		}
	}
	for _, it := range items {
		if it.set != "" {
			if r, ok := t.setRanges(it.set); ok {
				rs = append(rs, r...)
			} else {
				props = append(props, it.set)
			}
			continue
		}
		rs = append(rs, [2]rune{it.lo, it.hi})
		if !fold {
			continue
		}
		for _, cr := range [][3]rune{{'a', 'z', 'A' - 'a'}, {'A', 'Z', 'a' - 'A'}} {
			if l, h := max(it.lo, cr[0]), min(it.hi, cr[1]); l <= h {
				rs = append(rs, [2]rune{l + cr[2], h + cr[2]})
			}
		}
		if t.utf8 {
			for r := it.lo; r <= it.hi && r-it.lo < 4096; r++ {
				for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
					rs = append(rs, [2]rune{f, f})
				}
			}
		}
	}
	var b strings.Builder
	if fold {
		b.WriteString("(?:(?-i)")
	}
	b.WriteByte('[')
	if negate {
		b.WriteByte('^')
	}
	for _, r := range mergeRanges(rs) {
		t.classRune(&b, r[0])
		if r[1] != r[0] {
			if r[1] > r[0]+1 {
				b.WriteByte('-')
			}
			t.classRune(&b, r[1])
		}
	}
	for _, p := range props {
		b.WriteString(p)
	}
	b.WriteByte(']')
	if fold {
		b.WriteByte(')')
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
		parts = `\p{Z}\t\n\x0b\f\r`
	case "Any":
		if !t.bt {
			break
		}
		parts = `\x00-` + string(rune(utf8.MaxRune))
	}
	if parts == "" {
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
		t.i++
		if t.bt {
			// ASCII classes, kept from case folding (Kelvin sign).
			rs := rangesDigit
			if c == 'w' || c == 'W' {
				rs = rangesWord
			}
			t.out.WriteString("(?:(?-i)[")
			if c == 'D' || c == 'W' {
				t.out.WriteByte('^')
			}
			t.out.WriteString(t.rangesSet(rs, false))
			t.out.WriteString("])")
			return
		}
		t.out.WriteByte('\\')
		t.out.WriteByte(c)
		return
	case 's', 'S', 'h', 'H', 'v', 'V':
		t.emitted = true
		t.out.WriteByte('[')
		if c == 'S' || c == 'H' || c == 'V' {
			t.out.WriteByte('^')
		}
		t.out.WriteString(t.rangesSet(t.spaceRanges(c), false))
		t.out.WriteByte(']')
		t.i++
		return
	case 'R':
		t.emitted = true
		if t.bt {
			if t.utf8 {
				t.out.WriteString(`(?:\r\n|[\n\x0b\f\r\x85\u2028\u2029])`)
			} else {
				t.out.WriteString(`(?:\r\n|[\n\x0b\f\r\x85])`)
			}
			t.i++
			return
		}
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
		if t.bt {
			// .NET's \b knows Unicode letters; PCRE's only \w.
			if c == 'b' {
				t.out.WriteString(`(?:(?-i)(?<=[0-9A-Z_a-z])(?![0-9A-Z_a-z])|(?<![0-9A-Z_a-z])(?=[0-9A-Z_a-z]))`)
			} else {
				t.out.WriteString(`(?:(?-i)(?<=[0-9A-Z_a-z])(?=[0-9A-Z_a-z])|(?<![0-9A-Z_a-z])(?![0-9A-Z_a-z]))`)
			}
			t.i++
			return
		}
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
		if t.bt {
			// regexp2's \G is the position the search started at, as
			// PCRE's.
			t.out.WriteString(`\G`)
			return
		}
		if t.emitted || len(t.stack) != 0 {
			t.refuse("\\G anywhere but at the start of the pattern is")
			return
		}
		t.res.anchorG = true
		return
	case 'K':
		t.i++
		if !t.bt {
			t.refuse("\\K (match start reset) is")
			return
		}
		// An empty named group: where it last matched is the start of
		// the reported match.
		t.res.kGroup = 1
		t.out.WriteString("(?<pcreK>)")
		return
	case 'X':
		if !t.bt {
			t.refuse("\\X (extended grapheme clusters) is")
			return
		}
		t.emitted = true
		t.res.nonASCII = true
		t.out.WriteString(`\X`)
		t.i++
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
		} else if !t.bt {
			t.refuse("back-references are")
		} else {
			t.i++
			t.gRef()
		}
		return
	case 'k':
		if !t.bt {
			t.refuse("back-references are")
			return
		}
		t.i++
		if t.i >= len(p) {
			t.fail("\\k is not followed by a braced, angle-bracketed, or quoted name")
			return
		}
		var term byte
		switch p[t.i] {
		case '<':
			term = '>'
		case '\'':
			term = '\''
		case '{':
			term = '}'
		default:
			t.fail("\\k is not followed by a braced, angle-bracketed, or quoted name")
			return
		}
		t.i++
		t.nameRef(term)
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
			if !t.bt {
				t.refuse("back-references are")
				return
			}
			t.i = j
			t.numRef(n)
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
	var items []classItem
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
				items = append(items, classItem{lo: r, hi: r})
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
			items = append(items, classItem{set: set})
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
				items = append(items, classItem{lo: lo, hi: lo}, classItem{lo: '-', hi: '-'}, classItem{set: set2})
				continue
			}
			if hi < lo {
				t.i = save
				t.fail("range out of order in character class")
				return
			}
			items = append(items, classItem{lo: lo, hi: hi})
			continue
		}
		items = append(items, classItem{lo: lo, hi: lo})
	}
	high := false
	if t.bt {
		t.out.WriteString(t.classBT(items, negate))
		return
	}
	for _, it := range items {
		if it.set == "" && it.hi >= 0x80 {
			high = true
		}
	}
	if negate || high || t.cur.caseless {
		t.res.nonASCII = true
	}
	for _, it := range items {
		if it.set != "" && it.set != `\d` && it.set != `\w` && it.set != t.rangesSet(rangesSpace, false) &&
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
		t.classRune(&b, lo)
		if hi != lo {
			b.WriteByte('-')
			t.classRune(&b, hi)
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
		if t.bt {
			return 0, `\` + string(c), false // see setRanges
		}
		return 0, t.rangesSet(t.spaceRanges(c), c == 'S' || c == 'H' || c == 'V'), false
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
		if !t.bt {
			t.refuse("atomic groups (?> are")
			return
		}
		t.i++
		t.push()
		t.out.WriteString("(?>")
		return
	case '=', '!':
		if !t.bt {
			t.refuse("look-ahead assertions are")
			return
		}
		t.i++
		t.push()
		t.out.WriteString("(?")
		t.out.WriteByte(c)
		return
	case '<':
		if t.i+1 < len(p) && (p[t.i+1] == '=' || p[t.i+1] == '!') {
			if !t.bt {
				t.refuse("look-behind assertions are")
				return
			}
			t.push()
			t.out.WriteString("(?<")
			t.out.WriteByte(p[t.i+1])
			t.i += 2
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
				if !t.bt {
					t.refuse("back-references are")
					return
				}
				t.i += 2
				t.nameRef(')')
				return
			case '>':
				t.refuse("recursion and subroutine calls are")
				return
			}
		}
		t.fail("unrecognized character after (?P")
		return
	case '(':
		if !t.bt {
			t.refuse("conditional groups are")
			return
		}
		t.i++
		t.condition()
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
		case 's':
			if neg {
				off.WriteByte(ch)
			} else {
				on.WriteByte(ch)
			}
		case 'U':
			newScope.ungreedy = !neg
			if t.bt {
				break // done by quantSuffix
			}
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
	t.frames = append(t.frames, reFrame{})
}

// condition translates the condition of a conditional group, t.i being
// just after "(?(" (backtracking mode).
func (t *pcreTranslator) condition() {
	p := t.pat
	if t.i+1 < len(p) && p[t.i] == '?' && (p[t.i+1] == '=' || p[t.i+1] == '!' || p[t.i+1] == '<') {
		// An assertion condition: .NET spells it the same way. The
		// assertion itself is translated as the group that follows.
		t.push()
		t.frames[len(t.frames)-1].cond = true
		t.out.WriteString("(?")
		t.i-- // back on the assertion's "("
		return
	}
	end := strings.IndexByte(p[t.i:], ')')
	if end < 0 {
		t.fail("malformed number or name after (?(")
		return
	}
	arg := p[t.i : t.i+end]
	var ref pendingRef
	ref.cond = true
	switch {
	case arg == "":
		t.fail("malformed number or name after (?(")
		return
	case arg[0] == 'R' || arg == "DEFINE":
		t.refuse("recursion and subroutine calls are")
		return
	case reIsDigit(arg[0]) || arg[0] == '+' || arg[0] == '-':
		n, err := strconv.Atoi(arg)
		if err != nil {
			t.fail("malformed number or name after (?(")
			return
		}
		opened := len(t.res.gidx) - 1
		switch arg[0] {
		case '+':
			n += opened
		case '-':
			n = opened + n + 1
		}
		if n <= 0 {
			t.fail("invalid condition (?(0)")
			return
		}
		ref.num = n
	case arg[0] == '<' && arg[len(arg)-1] == '>', arg[0] == '\'' && arg[len(arg)-1] == '\'':
		ref.name = arg[1 : len(arg)-1]
	default:
		ref.name = arg
	}
	if ref.name != "" {
		for k := 0; k < len(ref.name); k++ {
			if !reIsWordByte(ref.name[k]) {
				t.fail("malformed number or name after (?(")
				return
			}
		}
	}
	t.i += end + 1
	t.push()
	t.frames[len(t.frames)-1].cond = true
	t.out.WriteString("(?(")
	ref.pos = t.out.Len()
	t.pending = append(t.pending, ref)
	t.out.WriteByte(')')
}

// numRef emits a back-reference to group n (backtracking mode).
func (t *pcreTranslator) numRef(n int) {
	t.emitted = true
	if n == 0 {
		t.fail("a numbered reference must not be zero")
		return
	}
	t.pending = append(t.pending, pendingRef{pos: t.out.Len(), num: n})
}

// nameRef parses a group name ended by term at t.i and emits a
// back-reference to it (backtracking mode).
func (t *pcreTranslator) nameRef(term byte) {
	p := t.pat
	start := t.i
	for t.i < len(p) && reIsWordByte(p[t.i]) {
		t.i++
	}
	if t.i >= len(p) || p[t.i] != term {
		t.fail("syntax error in subpattern name (missing terminator)")
		return
	}
	name := p[start:t.i]
	t.i++
	if name == "" {
		t.fail("group name must start with a non-digit")
		return
	}
	if reIsDigit(name[0]) {
		if term == '}' {
			n, _ := strconv.Atoi(name)
			t.numRef(n)
			return
		}
		t.fail("group name must start with a non-digit")
		return
	}
	t.emitted = true
	t.pending = append(t.pending, pendingRef{pos: t.out.Len(), name: name})
}

// gRef translates \g followed by a number, {number}, {-number} or {name}
// (backtracking mode), t.i being just after the "g".
func (t *pcreTranslator) gRef() {
	p := t.pat
	braced := t.i < len(p) && p[t.i] == '{'
	j := t.i
	if braced {
		j++
	}
	k := j
	if k < len(p) && (p[k] == '-' || p[k] == '+') {
		k++
	}
	for k < len(p) && reIsDigit(p[k]) {
		k++
	}
	if k == j || (p[j] == '-' || p[j] == '+') && k == j+1 {
		if braced {
			t.i = j
			t.nameRef('}')
			return
		}
		t.fail("a numbered reference must not be zero")
		return
	}
	n, _ := strconv.Atoi(p[j:k])
	if braced {
		if k >= len(p) || p[k] != '}' {
			t.fail("\\g is not followed by a braced, angle-bracketed, or quoted name/number or by a plain number")
			return
		}
		k++
	}
	t.i = k
	if p[j] == '+' {
		t.fail("\\g is not followed by a braced, angle-bracketed, or quoted name/number or by a plain number")
		return
	}
	if p[j] == '-' {
		n = len(t.res.gidx) - 1 + n + 1
		if n <= 0 {
			t.fail("reference to non-existent subpattern")
			return
		}
	}
	t.numRef(n)
}

func (t *pcreTranslator) openCapture(name string) {
	t.push()
	t.goGroups++
	t.res.gidx = append(t.res.gidx, t.goGroups)
	n := len(t.res.gidx) - 1
	if name != "" {
		for k := range t.res.names {
			if t.res.names[k].Name == name {
				if !t.dupOK {
					t.fail("two named subpatterns have the same name")
					return
				}
				t.res.names[k].Groups = append(t.res.names[k].Groups, n)
				t.out.WriteByte('(')
				return
			}
		}
		t.res.names = append(t.res.names, NamedGroup{Name: name, Groups: []int{n}})
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
