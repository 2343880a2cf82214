// Package pcre runs PCRE patterns, as OpenResty's ngx.re API sees them, on
// two engines: Go's RE2 for every pattern it can run (linear time), and
// github.com/dlclark/regexp2 (backtracking, a port of .NET's engine) for the
// others. It holds no Lua: the luaplugin package binds it to ngx.re.
//
// PCRE patterns are translated once per (pattern, options) and cached (see
// Cache). The RE2 translation emulates the PCRE semantics that RE2 spells
// differently. A pattern that uses what RE2 cannot express (look-ahead,
// look-behind, back-references, atomic groups, possessive quantifiers,
// conditional groups, \K, \X, \G past the start, repeat counts above
// 1000, programs over RE2's size limit) is translated again, into .NET
// syntax, for regexp2 (see translatePCRE's bt mode); Backtracks tells which
// engine a Regexp uses. Neither engine runs recursion and subroutine calls,
// branch reset groups, backtracking verbs, callouts, \N{name} nor the J
// option: those are refused with a clear error.
//
// The regexp2 translation keeps PCRE's semantics where .NET differs: \d,
// \w, \s, \b and the POSIX classes are ASCII (regexp2's are Unicode), "i"
// never folds \d, \w, \p{...} nor, in byte mode, non-ASCII letters; a
// multiline "^" does not match after a final newline; (?U) swaps greedy and
// lazy quantifiers by hand; named groups are written unnamed (so that
// regexp2 numbers groups as PCRE) and references to them by number; \K
// leaves an empty named group, numbered after the others, whose position
// becomes the start of the match. A backtracking match is bounded in time
// (Subject.TimeLimit): past it, it fails with PCRE's match limit error,
// "pcre_exec() failed: -8"; one that exhausts regexp2's backtracking stack
// fails with PCRE's recursion limit (-21) or, with "j", JIT stack limit
// (-27) error. Look-behind is not limited to fixed-length alternatives as
// PCRE's is.
//
// Offsets on regexp2: it works on runes. In byte mode every byte becomes
// the rune of the same value, so rune indexes are byte offsets; in "u"
// mode the subject is decoded and the rune indexes are mapped back to byte
// offsets (Subject.OrigPos), so ngx.re.find and ctx.pos report byte
// offsets on both engines.
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
// a position > 0 sees the character before it (for ^, \A, \b, \B). Global
// iteration (gmatch, gsub, split, done by the caller with Subject.NextPos)
// allows an empty match right after a non-empty one and steps one character
// after an empty match, as lua-resty-core does.
//
// Known differences of the RE2 engine: a repeated group that can match the
// empty string ("(b|)*", "(a*)+") may report different captures (RE2 does
// not record the final empty iteration PCRE records) and, rarely, a
// different overall match; a "$" inside a repetition that is followed by
// something consuming the final newline ("(x$\n?)+") may stop before it.
// RE2 matching is linear-time, so PCRE's match-limit errors never occur on
// it.
//
// Errors are returned as message strings rather than error values: they are
// the texts OpenResty gives to Lua scripts ("pcre_compile() failed: ... in
// \"...\"", "pcre_exec() failed: -10", ...) and callers hand them over
// verbatim, so their wording must not change.
//
// Offsets: a Subject may be matched on a re-encoded copy of the subject
// (the "run" text, or runes for regexp2). Exec takes and returns run offsets; Subject.OrigPos and
// Subject.Slice convert them back to byte offsets of the original subject.
package pcre
