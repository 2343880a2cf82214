// Package luapat implements Lua 5.1 pattern matching in pure Go, as LuaJIT
// 2.1 (the Lua of OpenResty) does it: the same items, classes, captures,
// back-references, %b and %f, the same lazily raised errors with the same
// messages, and the same results, byte for byte.
//
// Patterns are byte strings; character classes are those of the C locale
// (ASCII). As in Lua 5.1, a pattern ends at its first NUL byte. LuaJIT adds
// the %g class (printable characters except space) and bounds the nesting
// of the matcher at MaxDepth, failing deeper patterns with ErrTooComplex;
// luapat does both.
//
// The matcher backtracks as Lua's does, so a hostile pattern can take time
// exponential in its length. Its recursion depth is bounded by the pattern,
// never by the subject, and a Matcher calls its Step hook every
// StepInterval steps so that the caller can stop a match that runs too
// long.
package luapat

import (
	"errors"
	"strings"
)

// MaxCaptures is the number of captures a pattern may hold (Lua's
// LUA_MAXCAPTURES).
const MaxCaptures = 32

// MaxDepth bounds the recursion of the matcher (LuaJIT's LJ_MAX_XLEVEL).
// Every capture and every repeated or optional item nests one level for the
// rest of the pattern.
const MaxDepth = 200

// StepInterval is the number of matching steps between two calls of
// Matcher.Step. A step is one pattern item tried at one position or one
// subject byte scanned.
const StepInterval = 4096

// The errors a pattern can raise, with Lua's messages. Like Lua, the
// matcher raises them only when it reaches the faulty part of the pattern.
var (
	ErrEndsWithPercent   = errors.New("malformed pattern (ends with '%')")
	ErrMissingBracket    = errors.New("malformed pattern (missing ']')")
	ErrUnbalanced        = errors.New("unbalanced pattern")
	ErrFrontier          = errors.New("missing '[' after '%f' in pattern")
	ErrCaptureIndex      = errors.New("invalid capture index")
	ErrPatternCapture    = errors.New("invalid pattern capture")
	ErrUnfinishedCapture = errors.New("unfinished capture")
	ErrTooManyCaptures   = errors.New("too many captures")
	ErrTooComplex        = errors.New("pattern too complex")
)

// HasSpecials reports whether pattern holds any of the characters that are
// special in a pattern (^$*+?.([%-). string.find searches for a pattern
// without them as a plain string.
func HasSpecials(pattern string) bool {
	return strings.ContainsAny(pattern, "^$*+?.([%-")
}

// Capture is one capture of a successful match.
type Capture struct {
	// Start and End delimit the captured text, src[Start:End]. A position
	// capture has Start == End, the offset where it stood.
	Start, End int
	// Position is set for a position capture "()", whose Lua value is the
	// number Start+1.
	Position bool
}

// Lengths of a capture that are not lengths.
const (
	capUnfinished = -1
	capPosition   = -2
)

type capture struct {
	start, len int
}

// Matcher matches patterns against subjects. Its zero value is ready to
// use; it is not safe for concurrent use. After a successful Find, Search
// or Match, NumCaptures and Capture describe the captures of that match.
type Matcher struct {
	// Step, if not nil, is called every StepInterval steps of matching. A
	// non-nil error stops the match and is returned by the method that was
	// matching. Step may also panic (a Lua binding raising a Lua error
	// does); the Matcher is then usable again from its next match. The
	// count of steps runs across the matches of one Matcher.
	Step func() error

	src, pat string
	level    int // captures opened so far
	depth    int
	steps    int
	err      error
	caps     [MaxCaptures]capture
}

// Find looks for the first match of pattern in src at or after byte offset
// init, as string.find and string.match do: a pattern that starts with '^'
// matches only at init. It returns the offsets of the match, src[start:end],
// or start == -1 when there is none. init is clamped to [0, len(src)].
func (m *Matcher) Find(src, pattern string, init int) (start, end int, err error) {
	return m.find(src, pattern, init, true)
}

// Search is Find without the anchor: a leading '^' is an ordinary
// character, as string.gmatch treats it in Lua 5.1.
func (m *Matcher) Search(src, pattern string, init int) (start, end int, err error) {
	return m.find(src, pattern, init, false)
}

// Match matches pattern at byte offset pos of src only and returns the end
// of the match, or -1. A leading '^' is an ordinary character (string.gsub
// strips the anchor before it matches).
func (m *Matcher) Match(src, pattern string, pos int) (end int, err error) {
	m.reset(src, pattern)
	if pos < 0 || pos > len(src) {
		return -1, nil
	}
	if e := m.match(pos, 0); e >= 0 {
		return e, nil
	}
	return -1, m.err
}

// NumCaptures returns the number of captures of the last successful match.
func (m *Matcher) NumCaptures() int {
	return m.level
}

// Capture returns capture i (0-based) of the last successful match. It
// fails with ErrCaptureIndex for an index out of range and with
// ErrUnfinishedCapture for a capture the pattern never closed.
func (m *Matcher) Capture(i int) (Capture, error) {
	if i < 0 || i >= m.level {
		return Capture{}, ErrCaptureIndex
	}
	c := m.caps[i]
	switch c.len {
	case capUnfinished:
		return Capture{}, ErrUnfinishedCapture
	case capPosition:
		return Capture{Start: c.start, End: c.start, Position: true}, nil
	}
	return Capture{Start: c.start, End: c.start + c.len}, nil
}

func (m *Matcher) reset(src, pattern string) {
	if i := strings.IndexByte(pattern, 0); i >= 0 {
		pattern = pattern[:i]
	}
	m.src, m.pat = src, pattern
	m.level, m.depth, m.err = 0, 0, nil
}

func (m *Matcher) find(src, pattern string, init int, anchorable bool) (start, end int, err error) {
	m.reset(src, pattern)
	init = min(max(init, 0), len(src))
	p := 0
	anchor := anchorable && len(m.pat) > 0 && m.pat[0] == '^'
	if anchor {
		p = 1
	}
	lit, hasLit := m.firstLiteral(p)
	for s := init; ; s++ {
		if hasLit && !anchor {
			// Positions where the leading literal is absent cannot match
			// (and would raise no error): skip them.
			i := strings.IndexByte(src[s:], lit)
			if i < 0 {
				return -1, -1, nil
			}
			s += i
		}
		m.level, m.depth = 0, 0
		if e := m.match(s, p); e >= 0 {
			return s, e, nil
		}
		if m.err != nil {
			return -1, -1, m.err
		}
		if anchor || s >= len(src) {
			return -1, -1, nil
		}
	}
}

// firstLiteral returns the byte that a match of pat[p:] must start with, if
// the pattern begins with a plain character that is not optional.
func (m *Matcher) firstLiteral(p int) (byte, bool) {
	pat := m.pat
	if p >= len(pat) || strings.IndexByte("$%().[", pat[p]) >= 0 {
		return 0, false
	}
	if p+1 < len(pat) && strings.IndexByte("*?-", pat[p+1]) >= 0 {
		return 0, false
	}
	return pat[p], true
}

// fail records err and returns the no-match position.
func (m *Matcher) fail(err error) int {
	if m.err == nil {
		m.err = err
	}
	return -1
}

// tick counts n steps and calls Step when an interval is over. It reports
// whether matching may go on.
func (m *Matcher) tick(n int) bool {
	m.steps += n
	return m.steps < StepInterval || m.step()
}

// step runs the Step hook and starts a new interval.
func (m *Matcher) step() bool {
	m.steps = 0
	if m.Step == nil {
		return true
	}
	if err := m.Step(); err != nil {
		m.fail(err)
		return false
	}
	return true
}

// match matches pat[p:] at src[s:] and returns the end of the match or -1;
// on an error, m.err is set.
func (m *Matcher) match(s, p int) int {
	m.depth++
	if m.depth > MaxDepth {
		return m.fail(ErrTooComplex)
	}
	s = m.doMatch(s, p)
	m.depth--
	return s
}

func (m *Matcher) doMatch(s, p int) int {
	src, pat := m.src, m.pat
	for {
		if !m.tick(1) {
			return -1
		}
		if p == len(pat) {
			return s
		}
		switch pat[p] {
		case '(':
			if p+1 < len(pat) && pat[p+1] == ')' {
				return m.startCapture(s, p+2, capPosition)
			}
			return m.startCapture(s, p+1, capUnfinished)
		case ')':
			return m.endCapture(s, p+1)
		case '$':
			if p+1 == len(pat) {
				if s == len(src) {
					return s
				}
				return -1
			}
		case '%':
			if p+1 == len(pat) {
				break // classEnd reports the error
			}
			switch c := pat[p+1]; {
			case c == 'b':
				if s = m.matchBalance(s, p+2); s < 0 {
					return -1
				}
				p += 4
				continue
			case c == 'f':
				p += 2
				if p == len(pat) || pat[p] != '[' {
					return m.fail(ErrFrontier)
				}
				ep := m.classEnd(p)
				if ep < 0 {
					return -1
				}
				var prev, cur byte
				if s > 0 {
					prev = src[s-1]
				}
				if s < len(src) {
					cur = src[s]
				}
				if matchBracketClass(prev, pat, p, ep-1) || !matchBracketClass(cur, pat, p, ep-1) {
					return -1
				}
				p = ep
				continue
			case c >= '0' && c <= '9':
				if s = m.matchCapture(s, c); s < 0 {
					return -1
				}
				p += 2
				continue
			}
		}

		// A single-character item, maybe with a quantifier.
		ep := p + 1
		if c := pat[p]; c == '%' || c == '[' {
			if ep = m.classEnd(p); ep < 0 {
				return -1
			}
		}
		ok := s < len(src) && singleMatch(src[s], pat, p, ep)
		if ep < len(pat) {
			switch pat[ep] {
			case '?':
				if ok {
					if r := m.match(s+1, ep+1); r >= 0 || m.err != nil {
						return r
					}
				}
				p = ep + 1
				continue
			case '*':
				return m.maxExpand(s, p, ep)
			case '+':
				if !ok {
					return -1
				}
				return m.maxExpand(s+1, p, ep)
			case '-':
				return m.minExpand(s, p, ep)
			}
		}
		if !ok {
			return -1
		}
		s++
		p = ep
	}
}

// classEnd returns the end of the single-character item at pat[p], or -1
// for a malformed one.
func (m *Matcher) classEnd(p int) int {
	pat := m.pat
	c := pat[p]
	p++
	switch c {
	case '%':
		if p == len(pat) {
			return m.fail(ErrEndsWithPercent)
		}
		return p + 1
	case '[':
		if p < len(pat) && pat[p] == '^' {
			p++
		}
		// The first character of a set is never its end: "[]]" is the
		// set of ']'.
		for {
			if p >= len(pat) {
				return m.fail(ErrMissingBracket)
			}
			c := pat[p]
			p++
			if c == '%' && p < len(pat) {
				p++
			}
			if p < len(pat) && pat[p] == ']' {
				return p + 1
			}
		}
	}
	return p
}

func (m *Matcher) maxExpand(s, p, ep int) int {
	src, pat := m.src, m.pat
	i := 0
	switch rest := src[s:]; pat[p] {
	case '.':
		i = len(rest)
	case '%':
		cl := pat[p+1]
		for i < len(rest) && matchClass(rest[i], cl) {
			i++
		}
	case '[':
		for i < len(rest) && matchBracketClass(rest[i], pat, p, ep-1) {
			i++
		}
	default:
		c := pat[p]
		for i < len(rest) && rest[i] == c {
			i++
		}
	}
	if !m.tick(i) {
		return -1
	}
	for ; i >= 0; i-- {
		if r := m.match(s+i, ep+1); r >= 0 || m.err != nil {
			return r
		}
	}
	return -1
}

func (m *Matcher) minExpand(s, p, ep int) int {
	for {
		if r := m.match(s, ep+1); r >= 0 || m.err != nil {
			return r
		}
		if s < len(m.src) && singleMatch(m.src[s], m.pat, p, ep) {
			s++
		} else {
			return -1
		}
	}
}

func (m *Matcher) startCapture(s, p, what int) int {
	if m.level >= MaxCaptures {
		return m.fail(ErrTooManyCaptures)
	}
	m.caps[m.level] = capture{start: s, len: what}
	m.level++
	r := m.match(s, p)
	if r < 0 {
		m.level--
	}
	return r
}

func (m *Matcher) endCapture(s, p int) int {
	l := m.level - 1
	for l >= 0 && m.caps[l].len != capUnfinished {
		l--
	}
	if l < 0 {
		return m.fail(ErrPatternCapture)
	}
	m.caps[l].len = s - m.caps[l].start
	r := m.match(s, p)
	if r < 0 {
		m.caps[l].len = capUnfinished
	}
	return r
}

// matchCapture matches the back-reference %c at src[s:].
func (m *Matcher) matchCapture(s int, c byte) int {
	l := int(c) - '1'
	if l < 0 || l >= m.level || m.caps[l].len == capUnfinished {
		return m.fail(ErrCaptureIndex)
	}
	start, n := m.caps[l].start, m.caps[l].len
	if n < 0 || len(m.src)-s < n {
		// A position capture matches nothing (Lua compares it as a huge
		// length).
		return -1
	}
	if !m.tick(n) {
		return -1
	}
	if m.src[start:start+n] != m.src[s:s+n] {
		return -1
	}
	return s + n
}

// matchBalance matches %bxy, whose x is pat[p], at src[s:].
func (m *Matcher) matchBalance(s, p int) int {
	pat, src := m.pat, m.src
	if p+1 >= len(pat) {
		return m.fail(ErrUnbalanced)
	}
	if s >= len(src) || src[s] != pat[p] {
		return -1
	}
	open, close := pat[p], pat[p+1]
	depth := 1
	for i := s + 1; i < len(src); i++ {
		switch src[i] {
		case close:
			if depth--; depth == 0 {
				if !m.tick(i - s) {
					return -1
				}
				return i + 1
			}
		case open:
			depth++
		}
	}
	m.tick(len(src) - s)
	return -1
}
