package pcre

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// groups runs re on subj from byte offset pos and renders every group as
// "start-end:text" (byte offsets), "false" for unset groups, or the error.
func groups(re *Regexp, msg string, flags Flags, subj string, pos int) string {
	if re == nil {
		return msg
	}
	var sv Subject
	if msg := re.Prepare(&sv, subj, flags); msg != "" {
		return msg
	}
	rpos, msg := re.StartPos(&sv, pos)
	if msg != "" {
		return msg
	}
	caps := re.Caps(nil)
	ok, msg := re.Exec(&sv, rpos, true, caps)
	switch {
	case msg != "":
		return msg
	case !ok:
		return "none"
	}
	var b strings.Builder
	for k := 0; k <= re.NumCap(); k++ {
		if k > 0 {
			b.WriteByte('|')
		}
		if caps[2*k] < 0 {
			b.WriteString("false")
			continue
		}
		fmt.Fprintf(&b, "%d-%d:%s", sv.OrigPos(caps[2*k]), sv.OrigPos(caps[2*k+1]), sv.Slice(caps[2*k], caps[2*k+1]))
	}
	return b.String()
}

// TestBothEngines runs patterns RE2 can run on both engines (the second
// forced onto regexp2): the translations must agree.
func TestBothEngines(t *testing.T) {
	for _, tc := range []struct {
		pat   string
		flags Flags
		subj  string
		pos   int
	}{
		{`(\d+)-(\d+)`, 0, "on 2024-05", 0},
		{`b$`, 0, "ab\n", 0},
		{`b$`, 0, "ab\n\n", 0},
		{`^b`, Multiline, "a\nb", 0},
		{`^`, Multiline, "a\n", 1},
		{`$`, Multiline, "a\nb", 0},
		{`\bbar`, 0, "foobar bar", 3},
		{`\Bbar`, 0, "foobar bar", 0},
		{`.`, 0, "é", 0},
		{`.`, UTF8, "é", 0},
		{`\d+`, 0, "éé12", 0},
		{`\w+`, 0, "héllo", 0},
		{`\w+`, UTF8, "héllo", 0},
		{`\W`, UTF8, "aé", 0},
		{`\s+`, 0, "a \t\v\r\nb", 0},
		{`\S+`, 0, " é ", 0},
		{`\h\v`, 0, "a\xa0\x85", 0},
		{`\h`, UTF8, "a\u3000", 0},
		{`\R`, 0, "a\r\nb", 0},
		{`[[:alpha:]]+`, 0, "12abC3", 0},
		{`[[:^digit:][:space:]]+`, 0, "12a b3", 0},
		{`[[:punct:]]+`, 0, "ab!?-c", 0},
		{`[^a-c]+`, 0, "abcdé", 0},
		{`[\W\d]+`, 0, "ab-1c", 0},
		{`(?i)straße`, UTF8, "STRASSE Straße", 0},
		{`(?i)[a-z]+`, 0, "xABé", 0},
		{`(?i)é`, 0, "É", 0},
		{`(?i)é`, UTF8, "É", 0},
		{`(?i)[é]`, UTF8, "É", 0},
		{`(?i)[\wé]+`, UTF8, "aÉ", 0},
		{`a.c`, Dotall, "a\nc", 0},
		{`a.c`, 0, "a\nc", 0},
		{`a # comment
		  b`, Extended, "ab", 0},
		{`(a)|(b)`, 0, "b", 0},
		{`(?<y>\d+)(?<m>x)?`, 0, "12", 0},
		{`a+?`, 0, "aaa", 0},
		{`a{2,3}`, 0, "aaaa", 0},
		{`a{2,}?`, 0, "aaaa", 0},
		{`x{,2}`, 0, "x{,2}", 0},
		{`\Qa.b\E+`, 0, "a.bb", 0},
		{`[\Q]\E]`, 0, "a]", 0},
		{`\x41\101\o{101}\cA\e`, 0, "AAA\x01\x1b", 0},
		{`\x{263a}`, UTF8, "x☺", 0},
		{`\x{1F600}+`, UTF8, "a😀😀", 0},
		{`\p{Greek}+`, UTF8, "aαβ", 0},
		{`\p{Lu}`, UTF8, "aÉ", 0},
		{`\P{L}`, UTF8, "aé1", 0},
		{`[\p{N}x]+`, UTF8, "ax12", 0},
		{`\pL+`, UTF8, "1ab", 0},
		{`\N+`, 0, "\nab\n", 0},
		{`\Aa`, 0, "aa", 1},
		{`a\z`, 0, "a\n", 0},
		{`a\Z`, 0, "a\n", 0},
		{`\Ga`, 0, "baa", 1},
		{`a`, Anchored, "ba", 0},
		{`a|b`, Anchored, "ba", 0},
		{`(?i:A)b`, 0, "ab aB", 0},
		{`(?s:.)`, 0, "\n", 0},
		{`(?m)^b`, 0, "a\nb", 0},
		{`(?x) a b`, 0, "ab", 0},
		{`a(?#c)b`, 0, "ab", 0},
		{`(?:a|ab)(c|bcd)(d*)`, 0, "abcd", 0},
		{`(a|b)*c`, 0, "abac", 0},
		{`(?U)a+`, 0, "aaa", 0},
		{`(?U)a+?`, 0, "aaa", 0},
		{`\d`, Caseless | UTF8, "K1", 0},
		{`\C`, 0, "é", 0},
		{`[\x{e9}]`, 0, "é\xe9", 0},
		{`[+*?.-]+`, 0, "a+*?.-", 0},
		{`[\]\\^-]+`, 0, `a]\^-`, 0},
		{`\.\*\+\?\(\)\[\]\{\}\|\$\^`, 0, `.*+?()[]{}|$^`, 0},
		{`"'<>!@#%&=~;:,/`, 0, `x"'<>!@#%&=~;:,/`, 0},
		{`(a)\10`, 0, "aa\x08", 0}, // octal: there are fewer than 10 groups
		{`[[:^digit:][:space:]]+`, Caseless, "12a B3", 0},
		{`[\s\S]`, 0, "\n", 0},
		{`[^\d\s]+`, 0, "1 ab 2", 0},
	} {
		re2, msg := Compile(tc.pat, tc.flags)
		if re2 == nil || re2.Backtracks() {
			t.Errorf("%q: not on RE2: %s", tc.pat, msg)
			continue
		}
		bt, msg2 := compileBT(tc.pat, tc.flags)
		want := groups(re2, msg, tc.flags, tc.subj, tc.pos)
		if got := groups(bt, msg2, tc.flags, tc.subj, tc.pos); got != want {
			body := ""
			if bt != nil {
				body = bt.plain.body
			}
			t.Errorf("%q on %q from %d: regexp2 %s, RE2 %s (%s)", tc.pat, tc.subj, tc.pos, got, want, body)
		}
	}
}

// TestBacktracking checks the features that run on regexp2 only.
func TestBacktracking(t *testing.T) {
	for _, tc := range []struct {
		pat   string
		flags Flags
		subj  string
		pos   int
		want  string
	}{
		{`a(?=b)`, 0, "acab", 0, "2-3:a"},
		{`(?<=é)a`, 0, "éa", 0, "2-3:a"},
		{`(?<=é)a`, UTF8, "éa", 0, "2-3:a"},
		{`(?<!b)a`, 0, "baa", 0, "2-3:a"},
		{`(?<=b)a`, 0, "ba", 1, "1-2:a"}, // look-behind sees before the start
		{`(\w)\1`, 0, "abccd", 0, "2-4:cc|2-3:c"},
		{`(?i)(\w)\1`, 0, "abcCd", 0, "2-4:cC|2-3:c"},
		{`(?<n>\w)\k<n>`, 0, "abccd", 0, "2-4:cc|2-3:c"},
		{`(?<n>\w)\k'n'\k{n}\g{n}`, 0, "abcccc", 0, "2-6:cccc|2-3:c"},
		{`(?P<n>\w)(?P=n)`, 0, "abccd", 0, "2-4:cc|2-3:c"},
		{`(\w)\g{-1}\g1\g{1}`, 0, "abcccc", 0, "2-6:cccc|2-3:c"},
		{`(a|b\1)+`, 0, "aba", 0, "0-3:aba|1-3:ba"},
		{`(\2two|(one))+`, 0, "oneonetwo", 0, "0-9:oneonetwo|3-9:onetwo|0-3:one"},
		{`\1(a)`, 0, "aa", 0, "none"},
		{`(?>a+)b`, 0, "aaab", 0, "0-4:aaab"},
		{`(?>a+)ab`, 0, "aaab", 0, "none"},
		{`a++b`, 0, "aaab", 0, "0-4:aaab"},
		{`a*+a`, 0, "aaa", 0, "none"},
		{`a?+a`, 0, "a", 0, "none"},
		{`a{1,2}+a`, 0, "aa", 0, "none"},
		{`foo\Kbar`, 0, "foobar", 0, "3-6:bar"},
		{`(foo)\K(bar)`, 0, "foobar", 0, "3-6:bar|0-3:foo|3-6:bar"},
		{`(a)?(?(1)b|c)`, 0, "xc", 0, "1-2:c|false"},
		{`(?<q>a)?(?(<q>)b|c)`, 0, "ab", 0, "0-2:ab|0-1:a"},
		{`(?<q>a)?(?('q')b|c)`, 0, "ab", 0, "0-2:ab|0-1:a"},
		{`(a)?(?(-1)b|c)`, 0, "ab", 0, "0-2:ab|0-1:a"},
		{`(?(+1)b|c)(a)?`, 0, "ca", 0, "0-2:ca|1-2:a"},
		{`(?(?=\d)\d+|[a-z]+)`, 0, "-abc", 0, "1-4:abc"},
		{`(?(?!\d)[a-z]+|\d+)`, 0, "-12", 0, "1-3:12"},
		{`(?i)(?(?=\d)\d|\w)`, UTF8, "\u212ak", 0, "3-4:k"},
		{`\X`, UTF8, "e\u0301x", 0, "0-3:e\u0301"},
		{`a{1001}`, 0, strings.Repeat("a", 1001), 0, "0-1001:" + strings.Repeat("a", 1001)},
		{`^(?=.*b)a`, Multiline, "x\nab", 0, "2-3:a"},
		{`^(?=.)`, Multiline, "a\n", 1, "none"},
		{`(?<=a)$`, Multiline, "a\nb", 0, "1-1:"},
		{`(?=b)b$`, 0, "ab\n", 0, "1-2:b"},
		{`(?=b)\bbar`, 0, "foobar bar", 3, "7-10:bar"},
		{`\w+(?=!)`, 0, "héllo wörld!", 0, "10-13:rld"},
		{`(?=a)\b`, UTF8, "éa", 0, "2-2:"},
		{`(?U)(?=a)a+`, 0, "aaa", 0, "0-1:a"},
		{`(?U)(?=a)a+?`, 0, "aaa", 0, "0-3:aaa"},
		{`(?=\d)`, Anchored, "a1", 0, "none"},
		{`(?=a)\Ga`, 0, "baa", 1, "1-2:a"},
		{`a\Ga`, 0, "aaa", 1, "none"}, // the match starts at or after \G
		{`(?=[\w])[\W\d]`, Caseless | UTF8, "\u212a1", 0, "3-4:1"},
		{`(?=x)(?i)[^\W]`, 0, "x", 0, "0-1:x"},
		{`(?=a)(?<n>a)|(?<n>b)`, DupNames, "b", 0, "0-1:b|false|0-1:b"},
		{`(?J)(?:(?<n>a)|(?<n>b))\k<n>`, 0, "bb", 0, "0-2:bb|false|0-1:b"},
		{`(?=.)\p{Any}`, UTF8, "α", 0, "0-2:α"},
		{`(?=.)é`, Caseless, "É", 0, "none"},
		{`(?=.)é`, Caseless | UTF8, "É", 0, "0-2:É"},
		{`(?=.)[\W]`, Caseless, "k-", 0, "1-2:-"},
		{`(?=.)[[:lower:]]`, Caseless, "A", 0, "0-1:A"},
		{`(?=a)a`, 0, "\xffa", 0, "1-2:a"},
		{`(?=a)a`, UTF8 | NoUTF8Check, "\xffa", 0, "1-2:a"},
		{`(?=a)a`, UTF8, "\xffa", 0, "pcre_exec() failed: -10"},
		{`(?=a)a`, UTF8, "éa", 1, "pcre_exec() failed: -11"},
		{`(?=a)a`, 0, "a", 2, "pcre_exec() failed: -24"},
		{`(?=a)(a)\2`, 0, "a", 0, `pcre_compile() failed: reference to non-existent subpattern in "(?=a)(a)\2"`},
		{`(?=a)**`, 0, "a", 0, `pcre_compile() failed: nothing to repeat in "(?=a)**"`},
		{`(a)?(?(1)a|b|c)`, 0, "a", 0, `pcre_compile() failed: conditional group contains more than two branches in "(a)?(?(1)a|b|c)"`},
		{`(?=a)(?<n>a)(?<n>b)`, 0, "a", 0, `pcre_compile() failed: two named subpatterns have the same name in "(?=a)(?<n>a)(?<n>b)"`},
	} {
		re, msg := Compile(tc.pat, tc.flags)
		if re != nil && !re.Backtracks() {
			t.Errorf("%q runs on RE2", tc.pat)
		}
		if got := groups(re, msg, tc.flags, tc.subj, tc.pos); got != tc.want {
			body := ""
			if re != nil {
				body = re.plain.body
			}
			t.Errorf("%q on %q from %d: got %q, want %q (%s)", tc.pat, tc.subj, tc.pos, got, tc.want, body)
		}
	}
}

// TestTimeLimit checks that a catastrophic backtracking match stops at its
// time limit with PCRE's match limit error, and that the deep-stack error
// follows the j option.
func TestTimeLimit(t *testing.T) {
	re, msg := Compile(`^(?=a)(\w+\s?)*$`, 0)
	if re == nil {
		t.Fatal(msg)
	}
	var sv Subject
	re.Prepare(&sv, strings.Repeat("a", 40)+"!", 0)
	sv.TimeLimit = 20 * time.Millisecond
	caps := re.Caps(nil)
	if ok, msg := re.Exec(&sv, 0, true, caps); ok || msg != "pcre_exec() failed: -8" {
		t.Fatalf("got %v %q", ok, msg)
	}
	deep, msg := Compile(`(?=a)(a|b)*c`, 0)
	if deep == nil {
		t.Fatal(msg)
	}
	long := strings.Repeat("a", 1<<20)
	for flags, want := range map[Flags]string{0: "pcre_exec() failed: -21", JIT: "pcre_exec() failed: -27"} {
		deep.Prepare(&sv, long, flags)
		if ok, msg := deep.Exec(&sv, 0, false, deep.Caps(nil)); ok || msg != want {
			t.Errorf("flags %v: got %v %q, want %q", flags, ok, msg, want)
		}
	}
}

// BenchmarkEngines compares a simple pattern on RE2, the same pattern
// forced onto regexp2, and a look-ahead pattern on regexp2.
func BenchmarkEngines(b *testing.B) {
	subj := "GET /api/v1/users/12345/orders?limit=10 HTTP/1.1"
	re2, _ := Compile(`/users/(\d+)/`, 0)
	forced, _ := compileBT(`/users/(\d+)/`, 0)
	look, _ := Compile(`/users/(\d+)(?=/orders)`, 0)
	for _, bc := range []struct {
		name string
		re   *Regexp
	}{{"re2-simple", re2}, {"regexp2-simple", forced}, {"regexp2-lookahead", look}} {
		b.Run(bc.name, func(b *testing.B) {
			caps := bc.re.Caps(nil)
			b.ReportAllocs()
			for b.Loop() {
				sv := GetSubject()
				bc.re.Prepare(sv, subj, 0)
				if ok, _ := bc.re.Exec(sv, 0, true, caps); !ok {
					b.Fatal("no match")
				}
				PutSubject(sv)
			}
		})
	}
}
