package pcre

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/dlclark/regexp2/v2"
)

// DefaultTimeLimit bounds a backtracking match when the caller sets no
// Subject.TimeLimit of its own.
const DefaultTimeLimit = time.Second

// Error messages of a backtracking match that was stopped, PCRE's texts
// for its match limit, JIT stack limit and recursion limit.
const (
	errMatchLimit     = "pcre_exec() failed: -8"
	errJITStackLimit  = "pcre_exec() failed: -27"
	errRecursionLimit = "pcre_exec() failed: -21"
)

// btProg is the regexp2 program of a pattern that needs backtracking.
type btProg struct {
	re *regexp2.Regexp
	// kGroup is the regexp2 group of \K's hidden group, or 0.
	kGroup int
	// clones are shallow copies of re, one per concurrent match, each
	// given the match's own MatchTimeout: regexp2 reads the timeout from
	// the Regexp, which is shared, so it cannot be set on re itself. A
	// copy shares re's compiled program and runner pool.
	clones sync.Pool
}

// compileBT compiles pattern for regexp2 (see translatePCRE's bt mode).
func compileBT(pattern string, flags Flags) (*Regexp, string) {
	tr, msg, _ := translatePCRE(pattern, flags, false, true)
	if tr == nil {
		return nil, msg
	}
	if flags&DFA != 0 {
		return nil, unsupportedMsg(pattern, "the d (DFA) option together with look-around, back-references, atomic groups, possessive quantifiers, conditionals or \\K is")
	}
	src := tr.body
	if flags&Anchored != 0 {
		src = `\G(?:` + src + `)`
	}
	re, err := regexp2.Compile(src)
	if err != nil {
		return nil, pcreCompileMsg(pattern, btSyntaxErrMsg(err))
	}
	p := &btProg{re: re, kGroup: tr.kGroup}
	p.clones.New = func() any { cp := *p.re; return &cp }
	return &Regexp{
		pattern:  pattern,
		flags:    flags,
		realNcap: tr.ncap,
		ncap:     tr.ncap,
		names:    tr.names,
		utf8:     flags&UTF8 != 0,
		anchored: flags&Anchored != 0,
		plain:    tr,
		bt:       p,
	}, ""
}

// btSyntaxErrMsg turns a regexp2 syntax error about the translated
// pattern into PCRE's wording, for the errors the translation leaves to
// regexp2 (misplaced quantifiers, mostly).
func btSyntaxErrMsg(err error) string {
	msg := err.Error()
	for _, m := range []struct{ in, pcre string }{
		{"nested repetition", "nothing to repeat"},
		{"quantifier", "nothing to repeat"},
		{"repeat", "nothing to repeat"},
		{"missing closing )", "missing )"},
		{"unexpected )", "unmatched parentheses"},
		{"too many )", "unmatched parentheses"},
		{"range in reverse order", "range out of order in character class"},
		{"unterminated [] set", "missing terminating ] for character class"},
		{"undefined group", "reference to non-existent subpattern"},
		{"unicode category", "unknown property name after \\P or \\p"},
		{"too many | in (?()|)", "conditional group contains more than two branches"},
	} {
		if strings.Contains(msg, m.in) {
			return m.pcre
		}
	}
	return strings.TrimPrefix(msg, "error parsing regexp: ")
}

// execBT is Exec on the backtracking engine. Run offsets are rune
// indexes of sv.runes.
func (c *Regexp) execBT(sv *Subject, pos int, needGroups bool, caps []int) (bool, string) {
	p := c.bt
	limit := sv.TimeLimit
	if limit <= 0 {
		limit = DefaultTimeLimit
	}
	re := p.clones.Get().(*regexp2.Regexp)
	re.MatchTimeout = limit
	m, err := re.FindRunesMatchStartingAt(sv.runes, pos)
	p.clones.Put(re)
	if err != nil {
		switch {
		case !errors.Is(err, regexp2.ErrBacktrackingStackLimit):
			return false, errMatchLimit
		case sv.jit:
			return false, errJITStackLimit
		}
		return false, errRecursionLimit
	}
	if m == nil {
		return false, ""
	}
	caps[0], caps[1] = m.RuneIndex, m.RuneIndex+m.RuneLength
	if p.kGroup > 0 {
		if g := m.GroupByNumber(p.kGroup); g != nil && len(g.Captures) > 0 {
			caps[0] = min(g.RuneIndex, caps[1])
		}
	}
	if !needGroups {
		return true, ""
	}
	for k := 1; k <= c.ncap; k++ {
		g := m.GroupByNumber(k)
		if g == nil || len(g.Captures) == 0 {
			caps[2*k], caps[2*k+1] = -1, -1
			continue
		}
		caps[2*k], caps[2*k+1] = g.RuneIndex, g.RuneIndex+g.RuneLength
	}
	return true, ""
}
