package pcre

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestParseFlags(t *testing.T) {
	f, bad := ParseFlags("imsxuadDojJ")
	if bad != -1 {
		t.Fatalf("bad index %d", bad)
	}
	want := Caseless | Multiline | Dotall | Extended | UTF8 | Anchored | DFA | DupNames | Once | JIT | JSCompat
	if f != want {
		t.Fatalf("got %#x, want %#x", f, want)
	}
	if f, _ := ParseFlags("U"); f != UTF8|NoUTF8Check {
		t.Fatalf("U: got %#x", f)
	}
	if f, bad := ParseFlags("iHm"); f != 0 || bad != 1 {
		t.Fatalf("unknown flag: got %#x, %d", f, bad)
	}
}

func TestCacheBounded(t *testing.T) {
	c := NewCache(8)
	for i := 0; i < 100; i++ {
		if re, msg := c.Get(fmt.Sprintf("a%d", i), 0); re == nil {
			t.Fatal(msg)
		}
	}
	if n := c.Len(); n != 8 {
		t.Fatalf("cache holds %d entries, want 8", n)
	}
	if NewCache(0).max != DefaultCacheSize {
		t.Fatal("default size")
	}
	// Same pattern, different compile options: two entries; o and j do not
	// change the key.
	c = NewCache(0)
	c.Get("a", 0)
	c.Get("a", Caseless)
	c.Get("a", Once|JIT)
	if n := c.Len(); n != 2 {
		t.Fatalf("got %d entries, want 2", n)
	}
	// Errors are not cached.
	if re, _ := c.Get("(", 0); re != nil || c.Len() != 2 {
		t.Fatal("error cached")
	}
}

// TestCacheConcurrent shares one cache between goroutines (run with -race).
func TestCacheConcurrent(t *testing.T) {
	c := NewCache(4)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				re, msg := c.Get(fmt.Sprintf(`(\d+)-%d$`, i%10), Once)
				if re == nil {
					t.Error(msg)
					return
				}
				sv := GetSubject()
				subj := fmt.Sprintf("x 12-%d\n", i%10)
				if msg := re.Prepare(sv, subj, 0); msg != "" {
					t.Error(msg)
				}
				caps := re.Caps(nil)
				if ok, msg := re.Exec(sv, 0, true, caps); !ok || sv.Slice(caps[2], caps[3]) != "12" {
					t.Errorf("%d/%d: ok=%v %s %v", g, i, ok, msg, caps)
				}
				PutSubject(sv)
			}
		}(g)
	}
	wg.Wait()
}

// TestPCRETranslation checks a few translations directly.
func TestPCRETranslation(t *testing.T) {
	cases := []struct {
		pat   string
		flags Flags
		want  string
	}{
		{`a$`, 0, `a\z`},
		{`^a`, Multiline, `(?m:^)a`},
		{`\s`, 0, `[\x{9}-\x{d}\x{20}]`},
		{`(?<n>a)`, 0, `(a)`},
		{`a b # c`, Extended, `ab`},
		{`\d{2,}?`, 0, `\d{2,}?`},
		{`é`, 0, `\x{c3}\x{a9}`},
		{`é`, UTF8, `\x{e9}`},
	}
	for _, tc := range cases {
		tr, msg, _ := translatePCRE(tc.pat, tc.flags, false, false)
		if tr == nil {
			t.Errorf("%q: %s", tc.pat, msg)
			continue
		}
		if tr.body != tc.want {
			t.Errorf("%q: got %q want %q", tc.pat, tr.body, tc.want)
		}
	}
	tr, _, _ := translatePCRE(`a$`, 0, true, false)
	if tr.body != `a(\n?\z)` || len(tr.dollars) != 1 {
		t.Errorf("nl translation: %q", tr.body)
	}
}

// TestCompileErrors checks the exact error texts, which scripts see.
func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		pat   string
		flags Flags
		want  string
	}{
		{`(a`, 0, `pcre_compile() failed: missing ) in "(a"`},
		{`a{3,2}`, 0, `pcre_compile() failed: numbers out of order in {} quantifier in "a{3,2}"`},
		{"\xff", UTF8, "pcre_compile() failed: invalid UTF-8 string in \"\xff\""},
		{`a`, JSCompat, `failed to compile regex "a": the J (JavaScript compatibility) option is not supported by caddy-resty's regex engines`},
		{`(?R)`, 0, `failed to compile regex "(?R)": recursion and subroutine calls are not supported by caddy-resty's regex engines`},
		{`(?=a)**`, 0, `pcre_compile() failed: nothing to repeat in "(?=a)**"`},
	} {
		re, msg := Compile(tc.pat, tc.flags)
		if re != nil || msg != tc.want {
			t.Errorf("%q: got %q, want %q", tc.pat, msg, tc.want)
		}
	}
}

// TestRawBytes checks which byte-mode patterns match non-ASCII subjects
// without their Latin-1 expansion.
func TestRawBytes(t *testing.T) {
	for pat, want := range map[string]bool{
		`\d+`: true, `[a-z]+x`: true, `\s+`: true, `foo|bar`: true, `^a$`: true,
		`.`: false, `x*`: false, `[^a]`: false, `\W`: false, `é`: false, `(?i)k`: false, `a(?i:s)`: false, `(?i)[a-c]`: false,
	} {
		c, msg := Compile(pat, 0)
		if c == nil {
			t.Fatal(msg)
		}
		if c.rawBytes != want {
			t.Errorf("%q: rawBytes = %v, want %v", pat, c.rawBytes, want)
		}
	}
}

// find returns the byte offsets of the first match of pat in subj from
// byte offset pos, as "start-end" ("none" without a match), or the error.
func find(t *testing.T, pat string, flags Flags, subj string, pos int) string {
	t.Helper()
	re, msg := Compile(pat, flags)
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
	ok, msg := re.Exec(&sv, rpos, false, caps)
	switch {
	case msg != "":
		return msg
	case !ok:
		return "none"
	}
	return fmt.Sprintf("%d-%d", sv.OrigPos(caps[0]), sv.OrigPos(caps[1]))
}

func TestExec(t *testing.T) {
	for _, tc := range []struct {
		pat   string
		flags Flags
		subj  string
		pos   int
		want  string
	}{
		{`b$`, 0, "ab\n", 0, "1-2"},           // $ before a final newline
		{`^b`, Multiline, "a\nb", 0, "2-3"},   // multiline ^
		{`^`, Multiline, "a\n", 1, "none"},    // no multiline ^ after the final newline
		{`\bbar`, 0, "foobar bar", 3, "7-10"}, // the search sees the character before pos
		{`.`, 0, "é", 0, "0-1"},               // byte mode: . matches one byte
		{`.`, UTF8, "é", 0, "0-2"},            // u: . matches one character
		{`\d+`, 0, "éé12", 0, "4-6"},          // offsets mapped back
		{`a`, 0, "a", 2, "pcre_exec() failed: -24"},
		{`a`, UTF8, "éa", 1, "pcre_exec() failed: -11"},
		{`a`, UTF8, "\xffa", 0, "pcre_exec() failed: -10"},
		{`a`, UTF8 | NoUTF8Check, "\xffa", 0, "1-2"},
		{`a+`, DFA, "baaa", 0, "1-4"},
	} {
		if got := find(t, tc.pat, tc.flags, tc.subj, tc.pos); got != tc.want {
			t.Errorf("%q on %q from %d: got %s, want %s", tc.pat, tc.subj, tc.pos, got, tc.want)
		}
	}
}

func TestNamesAndGroups(t *testing.T) {
	re, msg := Compile(`(?<y>\d+)-(?<m>\d+)|(x)`, 0)
	if re == nil {
		t.Fatal(msg)
	}
	if re.NumCap() != 3 {
		t.Fatalf("NumCap = %d", re.NumCap())
	}
	names := re.Names()
	if len(names) != 2 || names[0].Name != "m" || names[0].Groups[0] != 2 || names[1].Name != "y" || names[1].Groups[0] != 1 {
		t.Fatalf("names: %+v", names)
	}
	var sv Subject
	re.Prepare(&sv, "on 2024-05", 0)
	caps := re.Caps(make([]int, 2))
	if len(caps) != 8 {
		t.Fatalf("len(caps) = %d", len(caps))
	}
	if ok, _ := re.Exec(&sv, 0, true, caps); !ok {
		t.Fatal("no match")
	}
	if got := sv.Slice(caps[2], caps[3]) + "/" + sv.Slice(caps[4], caps[5]); got != "2024/05" || caps[6] != -1 {
		t.Fatalf("groups: %s %v", got, caps)
	}
	d, _ := Compile(`(?<n>a)|(?<n>b)`, DupNames|DFA)
	if d.NumCap() != 0 || d.Flags()&DupNames == 0 || len(d.Names()[0].Groups) != 2 {
		t.Fatalf("dupnames/dfa: %d %+v", d.NumCap(), d.Names())
	}
}

func TestTemplate(t *testing.T) {
	re, msg := Compile(`(?<k>\w+)=(\w+)`, 0)
	if re == nil {
		t.Fatal(msg)
	}
	for _, tc := range []struct {
		tpl                   string
		hasDollar, needGroups bool
		errMsg                string
	}{
		{"plain", false, false, ""},
		{"$0 $$", true, false, ""},
		{"$2=${1}", true, true, ""},
		{"${k}", true, true, ""},
		{"$", true, false, errTemplate},
		{"${1", true, false, errTemplate},
		{"${nope}", true, false, errTemplate},
	} {
		d, g, m := re.CheckTemplate(tc.tpl)
		if d != tc.hasDollar || g != tc.needGroups || m != tc.errMsg {
			t.Errorf("%q: got %v %v %q", tc.tpl, d, g, m)
		}
	}
	var sv Subject
	re.Prepare(&sv, "é key=val", 0)
	caps := re.Caps(nil)
	if ok, _ := re.Exec(&sv, 0, true, caps); !ok {
		t.Fatal("no match")
	}
	tpl := "[$2=${k}|$0|$$|$9]"
	if got := string(re.ExpandTemplate([]byte("x"), tpl, &sv, caps, 0)); got != "x[val=key|key=val|$|]" {
		t.Fatalf("expand: %q", got)
	}
	// With a limit, the expansion stops once it is longer than the limit.
	long := strings.Repeat("$0", 1000)
	if got := re.ExpandTemplate(nil, long, &sv, caps, 20); len(got) <= 20 || len(got) > 20+len("key=val") {
		t.Fatalf("limited expansion: %d bytes", len(got))
	}
	if got := re.ExpandTemplate(nil, "$0", &sv, caps, 7); string(got) != "key=val" {
		t.Fatalf("expansion at the limit: %q", got)
	}
}

func TestNextPos(t *testing.T) {
	re, _ := Compile(``, UTF8)
	var sv Subject
	re.Prepare(&sv, "aé", 0)
	if sv.Len() != 3 || sv.NextPos(0) != 1 || sv.NextPos(1) != 3 || sv.NextPos(3) != 4 {
		t.Fatalf("utf8: %d %d %d %d", sv.Len(), sv.NextPos(0), sv.NextPos(1), sv.NextPos(3))
	}
	// Byte mode with the Latin-1 expansion: one step is one subject byte.
	re, _ = Compile(`x*`, 0)
	re.Prepare(&sv, "\xffa", 0)
	if sv.Len() != 3 || sv.OrigPos(sv.NextPos(0)) != 1 {
		t.Fatalf("latin: %d %d", sv.Len(), sv.NextPos(0))
	}
}

// BenchmarkExec measures a cache lookup and a match with groups.
func BenchmarkExec(b *testing.B) {
	cache := NewCache(0)
	subj := "GET /api/v1/users/12345 HTTP/1.1"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c, _ := cache.Get(`^(\w+) /api/v(\d+)/users/(\d+)`, Once|JIT)
		var sv Subject
		c.Prepare(&sv, subj, 0)
		var buf [24]int
		caps := c.Caps(buf[:])
		if ok, _ := c.Exec(&sv, 0, true, caps); !ok {
			b.Fatal("no match")
		}
	}
}
