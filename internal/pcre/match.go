package pcre

import (
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Subject is a subject prepared for matching by Regexp.Prepare. Matching
// works on run offsets: for RE2, run is the text the Go program sees (the
// subject itself, or its Latin-1 expansion in byte mode when it holds
// bytes >= 0x80), and run offsets are byte offsets in it; for the
// backtracking engine, runes is the subject as regexp2 sees it (one rune
// per byte in byte mode, the decoded characters in "u" mode) and run
// offsets are indexes in it. OrigPos and Slice convert run offsets back to
// the subject.
//
// The zero value is ready for Prepare; GetSubject and PutSubject recycle
// Subjects (and their offset tables) between matches.
type Subject struct {
	orig   string
	run    string
	mapped bool    // run offsets differ from byte offsets: the tables hold
	toRun  []int32 // orig offset -> run offset (mapped only)
	toOrig []int32 // run offset -> orig offset (mapped only)
	endsNL bool

	bt    bool   // prepared for the backtracking engine
	runes []rune // the subject for regexp2 (bt only)
	jit   bool   // the "j" option (for the error of a too deep match)

	// TimeLimit bounds each backtracking match of Exec (a pattern that
	// Backtracks): a match still running after it fails with PCRE's
	// match limit error, "pcre_exec() failed: -8". Zero means
	// DefaultTimeLimit. Prepare resets it; RE2 matches ignore it.
	TimeLimit time.Duration
}

var subjectPool = sync.Pool{New: func() any { return new(Subject) }}

// maxPooledRunes bounds the rune buffer a pooled Subject keeps.
const maxPooledRunes = 1 << 18

// GetSubject returns a Subject from a pool; give it back with PutSubject
// when the match results that refer to it are no longer needed.
func GetSubject() *Subject { return subjectPool.Get().(*Subject) }

// PutSubject returns sv to the pool of GetSubject.
func PutSubject(sv *Subject) {
	sv.orig, sv.run = "", ""
	if cap(sv.runes) > maxPooledRunes {
		sv.runes = nil
	}
	if cap(sv.toRun) > maxPooledRunes {
		sv.toRun, sv.toOrig = nil, nil
	}
	subjectPool.Put(sv)
}

func reIsASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Prepare sets up sv for matching c against subject s; flags are the run
// time options (NoUTF8Check). It returns an error message for a subject
// PCRE would refuse (invalid UTF-8 in "u" mode).
func (c *Regexp) Prepare(sv *Subject, s string, flags Flags) (errMsg string) {
	sv.orig, sv.run, sv.mapped = s, s, false
	sv.endsNL = len(s) > 0 && s[len(s)-1] == '\n'
	sv.bt, sv.jit, sv.TimeLimit = c.bt != nil, flags&JIT != 0, 0
	if c.utf8 {
		if flags&NoUTF8Check == 0 && !utf8.ValidString(s) {
			return "pcre_exec() failed: -10"
		}
		if sv.bt {
			sv.prepareRunes(true)
		}
		return ""
	}
	if sv.bt {
		sv.prepareRunes(false)
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
	sv.mapped = true
	return ""
}

// prepareRunes fills sv.runes for regexp2: one rune per byte in byte
// mode, so that run offsets are byte offsets; the decoded characters in
// UTF-8 mode (an invalid byte is one U+FFFD), with the offset tables when
// the subject is not ASCII.
func (sv *Subject) prepareRunes(decode bool) {
	s := sv.orig
	if cap(sv.runes) < len(s) {
		sv.runes = make([]rune, 0, len(s))
	}
	rs := sv.runes[:0]
	if !decode || reIsASCII(s) {
		for i := 0; i < len(s); i++ {
			rs = append(rs, rune(s[i]))
		}
		sv.runes = rs
		return
	}
	if cap(sv.toRun) < len(s)+1 {
		sv.toRun = make([]int32, len(s)+1)
	}
	sv.toRun = sv.toRun[:len(s)+1]
	toOrig := sv.toOrig[:0]
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		for k := 0; k < size; k++ {
			sv.toRun[i+k] = int32(len(rs))
		}
		toOrig = append(toOrig, int32(i))
		rs = append(rs, r)
		i += size
	}
	sv.toRun[len(s)] = int32(len(rs))
	sv.toOrig = append(toOrig, int32(len(s)))
	sv.runes = rs
	sv.mapped = true
}

// Len returns the length of the run text: run offsets range over
// [0, Len()].
func (sv *Subject) Len() int {
	if sv.bt {
		return len(sv.runes)
	}
	return len(sv.run)
}

// OrigPos converts run offset r to a byte offset in the subject. Negative
// offsets (groups that did not participate) are returned unchanged.
func (sv *Subject) OrigPos(r int) int {
	if sv.mapped && r >= 0 {
		return int(sv.toOrig[r])
	}
	return r
}

// Slice returns the text of the subject between run offsets start and end
// (a match or a group as Exec reports it).
func (sv *Subject) Slice(start, end int) string {
	return sv.orig[sv.OrigPos(start):sv.OrigPos(end)]
}

// runPos converts byte offset o of the subject to a run offset.
func (sv *Subject) runPos(o int) int {
	if sv.mapped {
		return int(sv.toRun[o])
	}
	return o
}

// NextPos returns the run offset one character after r, where a global
// iteration resumes after an empty match at r. The result exceeds Len()
// when r is at the end.
func (sv *Subject) NextPos(r int) int {
	if sv.bt {
		return r + 1
	}
	if r >= len(sv.run) {
		return r + 1
	}
	if sv.run[r] < utf8.RuneSelf {
		return r + 1
	}
	_, size := utf8.DecodeRuneInString(sv.run[r:])
	return r + size
}

// Exec finds the first match of c in sv (prepared by c.Prepare) at or
// after run offset pos. caps, of length 2*(NumCap()+1) (see Caps), receives
// the run offsets of the match and of each group (-1 for groups that did
// not participate); when needGroups is false only caps[0:2] is filled. It
// reports whether a match was found; errMsg is set when none could be
// attempted.
func (c *Regexp) Exec(sv *Subject, pos int, needGroups bool, caps []int) (matched bool, errMsg string) {
	if c.bt != nil {
		return c.execBT(sv, pos, needGroups, caps)
	}
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

// StartPos validates pos, a byte offset in the subject of sv where a search
// is to start, and converts it to a run offset. It fails as PCRE does when
// pos is past the end of the subject or, in "u" mode, inside a character.
func (c *Regexp) StartPos(sv *Subject, pos int) (rpos int, errMsg string) {
	if pos > len(sv.orig) {
		return 0, "pcre_exec() failed: -24"
	}
	if c.utf8 && pos < len(sv.orig) && !utf8.RuneStart(sv.orig[pos]) {
		return 0, "pcre_exec() failed: -11"
	}
	return sv.runPos(pos), ""
}

// Caps returns a slice of length 2*(NumCap()+1) for the captures of Exec,
// backed by buf when it is large enough.
func (c *Regexp) Caps(buf []int) []int {
	n := 2 * (c.ncap + 1)
	if n <= len(buf) {
		return buf[:n]
	}
	return make([]int, n)
}
