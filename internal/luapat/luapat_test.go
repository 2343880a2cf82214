package luapat

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// result renders the outcome of Find: the match and its captures as
// "start end [cap...]" (texts quoted, positions as numbers), "nil" or the
// error.
func result(m *Matcher, src string, start, end int, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	if start < 0 {
		return "nil"
	}
	out := fmt.Sprintf("%d %d", start, end)
	for i := range m.NumCaptures() {
		c, err := m.Capture(i)
		switch {
		case err != nil:
			out += " error: " + err.Error()
		case c.Position:
			out += fmt.Sprintf(" %d", c.Start)
		default:
			out += fmt.Sprintf(" %q", src[c.Start:c.End])
		}
	}
	return out
}

func TestFind(t *testing.T) {
	for _, c := range []struct {
		src, pat string
		init     int
		want     string
	}{
		{"", "", 0, "0 0"},
		{"alo", "", 0, "0 0"},
		{"alo", "", 3, "3 3"},
		{"alo123alo", "%d+", 0, "3 6"},
		{"alo123alo", "^%d+", 0, "nil"},
		{"alo123alo", "^%d+", 3, "3 6"},
		{"alo123alo", "%d+", 4, "4 6"},
		{"alo123alo", "%d+", 7, "nil"},
		{"aaab", "a-b", 0, "0 4"},
		{"aaab", "a*", 0, "0 3"},
		{"aaab", "a+", 0, "0 3"},
		{"aaab", "a?a?", 0, "0 2"},
		{"aaab", "b*", 0, "0 0"},
		{"aaab", "ab+", 0, "2 4"},
		{"a$a", "$", 0, "3 3"},
		{"a$a", "%$", 0, "1 2"},
		{"a$a", ".$.", 0, "0 3"},
		{"^a", "^^a", 0, "0 2"},
		{"hello world", "(o)(.-)%1", 0, `4 8 "o" " w"`},
		{"hello", "()ll()", 0, "2 4 2 4"},
		{"key=value", "(%w+)=(%w+)", 0, `0 9 "key" "value"`},
		{"f(a(b)c)d", "%b()", 0, "1 8"},
		{"f(a(b)c", "%b()", 0, "3 6"},
		{"THE (quick) fox", "%f[%a]%a+", 4, "5 10"},
		{"abc", "%f[%z]", 0, "3 3"},
		{"abc", "[%a-z]+", 0, "0 3"},
		{"]", "[]]", 0, "0 1"},
		{"a-", "[a-]+", 0, "0 2"},
		{"x\x00y", "%z", 0, "1 2"},
		{"x\x00y", "[%z]", 0, "1 2"},
		{"a\x00b", "a\x00c", 0, "0 1"}, // the pattern ends at its NUL
		{"a b", "%g+", 0, "0 1"},
		{"\t ", "%G+", 0, "0 2"},
		{"abc", "(", 0, "0 0 error: unfinished capture"},
		{"abc", ")", 0, "error: invalid pattern capture"},
		{"abc", "%", 0, "error: malformed pattern (ends with '%')"},
		{"abc", "[a", 0, "error: malformed pattern (missing ']')"},
		{"abc", "[]", 0, "error: malformed pattern (missing ']')"},
		{"abc", "%b(", 0, "error: unbalanced pattern"},
		{"abc", "%fa", 0, "error: missing '[' after '%f' in pattern"},
		{"abc", "%1", 0, "error: invalid capture index"},
		{"abc", "(%1)", 0, "error: invalid capture index"},
		{"abc", "(a)%0", 0, "error: invalid capture index"},
		{"abc", strings.Repeat("()", MaxCaptures+1), 0, "error: too many captures"},
		// Errors are raised only when the matcher reaches them.
		{"b", "a[", 0, "nil"},
		{"a", "a[", 0, "error: malformed pattern (missing ']')"},
		{"xyz", "x%", 1, "nil"},
		// A position capture never matches as a back-reference.
		{"aa", "()%1", 0, "nil"},
	} {
		var m Matcher
		start, end, err := m.Find(c.src, c.pat, c.init)
		if got := result(&m, c.src, start, end, err); got != c.want {
			t.Errorf("Find(%q, %q, %d) = %s, want %s", c.src, c.pat, c.init, got, c.want)
		}
	}
}

func TestSearchAndMatch(t *testing.T) {
	var m Matcher
	// Search: '^' is an ordinary character.
	if start, end, err := m.Search("a^b", "^b", 0); start != 1 || end != 3 || err != nil {
		t.Errorf("Search = %d %d %v, want 1 3", start, end, err)
	}
	// Match: only at pos.
	if end, err := m.Match("xaab", "a+", 1); end != 3 || err != nil {
		t.Errorf("Match at 1 = %d %v, want 3", end, err)
	}
	if end, err := m.Match("xaab", "a+", 0); end != -1 || err != nil {
		t.Errorf("Match at 0 = %d %v, want -1", end, err)
	}
	if end, err := m.Match("^a", "^a", 0); end != 2 || err != nil {
		t.Errorf("Match of a literal ^ = %d %v, want 2", end, err)
	}
	if end, err := m.Match("ab", "(a)(b)", 0); end != 2 || err != nil || m.NumCaptures() != 2 {
		t.Errorf("Match with captures = %d %v %d", end, err, m.NumCaptures())
	}
	if _, err := m.Capture(2); !errors.Is(err, ErrCaptureIndex) {
		t.Errorf("Capture(2) error = %v, want %v", err, ErrCaptureIndex)
	}
}

func TestHasSpecials(t *testing.T) {
	for p, want := range map[string]bool{
		"": false, "abc": false, "a b\x00": false, "a.b": true, "^a": true,
		"a$": true, "a*": true, "a+": true, "a?": true, "(a)": true,
		"[a]": true, "%a": true, "a-b": true, "]": false, ")": false,
	} {
		if got := HasSpecials(p); got != want {
			t.Errorf("HasSpecials(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestClasses checks every class against its definition in the C locale.
func TestClasses(t *testing.T) {
	in := func(c byte, lo, hi byte) bool { return c >= lo && c <= hi }
	defs := map[byte]func(c byte) bool{
		'a': func(c byte) bool { return in(c, 'a', 'z') || in(c, 'A', 'Z') },
		'c': func(c byte) bool { return c < 32 || c == 127 },
		'd': func(c byte) bool { return in(c, '0', '9') },
		'g': func(c byte) bool { return in(c, 33, 126) },
		'l': func(c byte) bool { return in(c, 'a', 'z') },
		'p': func(c byte) bool {
			return in(c, 33, 47) || in(c, 58, 64) || in(c, 91, 96) || in(c, 123, 126)
		},
		's': func(c byte) bool { return c == ' ' || in(c, '\t', '\r') },
		'u': func(c byte) bool { return in(c, 'A', 'Z') },
		'w': func(c byte) bool { return in(c, 'a', 'z') || in(c, 'A', 'Z') || in(c, '0', '9') },
		'x': func(c byte) bool { return in(c, '0', '9') || in(c, 'a', 'f') || in(c, 'A', 'F') },
		'z': func(c byte) bool { return c == 0 },
	}
	for cl, def := range defs {
		for i := range 256 {
			c := byte(i)
			if got := matchClass(c, cl); got != def(c) {
				t.Errorf("%%%c on %d = %v", cl, c, got)
			}
			if got := matchClass(c, cl-'a'+'A'); got == def(c) {
				t.Errorf("%%%c on %d = %v", cl-'a'+'A', c, got)
			}
		}
	}
	// Other escapes stand for themselves.
	for _, cl := range []byte("bqyB.%[]") {
		if !matchClass(cl, cl) || matchClass('a', cl) {
			t.Errorf("%%%c is not a literal", cl)
		}
	}
}

// TestDepth checks LuaJIT's bound on nesting: "pattern too complex".
func TestDepth(t *testing.T) {
	var m Matcher
	subject := strings.Repeat("a", 300)
	if _, _, err := m.Find(subject, strings.Repeat("a?", MaxDepth-1), 0); err != nil {
		t.Errorf("%d nested items: %v", MaxDepth-1, err)
	}
	if _, _, err := m.Find(subject, strings.Repeat("a?", MaxDepth), 0); !errors.Is(err, ErrTooComplex) {
		t.Errorf("%d nested items: %v, want %v", MaxDepth, err, ErrTooComplex)
	}
	// Items that do not match do not nest.
	if _, _, err := m.Find("", strings.Repeat("a?", 1000), 0); err != nil {
		t.Errorf("unmatched items: %v", err)
	}
}

var errStop = errors.New("stop")

// stopAfter returns a Step hook that fails after n calls, and a counter of
// its calls.
func stopAfter(n int) (func() error, *int) {
	calls := new(int)
	return func() error {
		if *calls++; *calls >= n {
			return errStop
		}
		return nil
	}, calls
}

// TestStep stops backtracking blow-ups and scans of long subjects through
// the hook, without deep recursion.
func TestStep(t *testing.T) {
	long := strings.Repeat("a", 1_000_000)
	for _, c := range []struct{ src, pat string }{
		{strings.Repeat("a", 150), ".-.-.-.-b"},
		{long, ".-b"},
		{long, "(.-)%1b"},
		{long, "a*b"},
		{long, "%b()"},
		{strings.Repeat("(", 100_000), "%b()"},
	} {
		step, calls := stopAfter(100)
		m := Matcher{Step: step}
		_, _, err := m.Find(c.src, c.pat, 0)
		if !errors.Is(err, errStop) || *calls != 100 {
			t.Errorf("Find(%.10q…, %q): %v after %d calls, want %v after 100", c.src, c.pat, err, *calls, errStop)
		}
	}
}

// TestStepCount checks that the hook is called about every StepInterval
// steps and that a match that ends is not disturbed.
func TestStepCount(t *testing.T) {
	calls := 0
	m := Matcher{Step: func() error { calls++; return nil }}
	src := strings.Repeat("ab", 50_000) + "c"
	start, end, err := m.Find(src, "[ab]-c", 0)
	if start != 0 || end != len(src) || err != nil {
		t.Fatalf("Find = %d %d %v", start, end, err)
	}
	if min := len(src) / StepInterval; calls < min {
		t.Errorf("Step called %d times, want at least %d", calls, min)
	}
}

func BenchmarkFind(b *testing.B) {
	for _, c := range []struct{ name, src, pat string }{
		{"literal", "hello world", "wor"},
		{"class", "hello world", "w%a+"},
		{"captures", "key=value", "(%w+)=(%w+)"},
		{"trim", "   some text   ", "^%s*(.-)%s*$"},
	} {
		b.Run(c.name, func(b *testing.B) {
			var m Matcher
			for b.Loop() {
				if start, _, _ := m.Find(c.src, c.pat, 0); start < 0 {
					b.Fatal("no match")
				}
			}
		})
	}
}
