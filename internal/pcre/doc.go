// Package pcre runs PCRE patterns, as OpenResty's ngx.re API sees them, on
// Go's RE2 engine. It holds no Lua: the luaplugin package binds it to
// ngx.re.
//
// PCRE patterns are translated into Go syntax once per (pattern, options)
// and cached (see Cache). The translation emulates the PCRE semantics that
// RE2 spells differently and refuses, with a clear error, the PCRE features
// RE2 cannot express (look-around, back-references, atomic groups,
// possessive quantifiers, recursion, conditionals, \K, backtracking
// verbs...).
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
// Known differences, all RE2 semantics: a repeated group that can match the
// empty string ("(b|)*", "(a*)+") may report different captures (RE2 does
// not record the final empty iteration PCRE records) and, rarely, a
// different overall match; a "$" inside a repetition that is followed by
// something consuming the final newline ("(x$\n?)+") may stop before it.
// Matching is linear-time, so PCRE's match-limit errors ("pcre_exec()
// failed: -8") never occur.
//
// Errors are returned as message strings rather than error values: they are
// the texts OpenResty gives to Lua scripts ("pcre_compile() failed: ... in
// \"...\"", "pcre_exec() failed: -10", ...) and callers hand them over
// verbatim, so their wording must not change.
//
// Offsets: a Subject may be matched on a re-encoded copy of the subject
// (the "run" text). Exec takes and returns run offsets; Subject.OrigPos and
// Subject.Slice convert them back to byte offsets of the original subject.
package pcre
