package luapat

// Character-class bits of a byte, in the C locale (ASCII only; bytes 128-255
// belong to no class), as LuaJIT's lj_char tables define them.
const (
	bitCntrl uint8 = 1 << iota
	bitSpace
	bitPunct
	bitDigit
	bitXdigit
	bitUpper
	bitLower
	bitZero

	bitAlpha = bitUpper | bitLower
	bitAlnum = bitAlpha | bitDigit
	bitGraph = bitAlnum | bitPunct
)

// charBits holds the class bits of every byte.
var charBits = func() (t [256]uint8) {
	for i := range t {
		c := byte(i)
		switch {
		case c == 0:
			t[i] = bitZero | bitCntrl
		case c < ' ' || c == 0x7f:
			t[i] = bitCntrl
			if c >= '\t' && c <= '\r' {
				t[i] |= bitSpace
			}
		case c == ' ':
			t[i] = bitSpace
		case c >= '0' && c <= '9':
			t[i] = bitDigit | bitXdigit
		case c >= 'A' && c <= 'Z':
			t[i] = bitUpper
			if c <= 'F' {
				t[i] |= bitXdigit
			}
		case c >= 'a' && c <= 'z':
			t[i] = bitLower
			if c <= 'f' {
				t[i] |= bitXdigit
			}
		case c < 0x7f:
			t[i] = bitPunct
		}
	}
	return t
}()

// classBits maps the letter after '%' in a pattern to the class it names;
// zero means the letter names no class and stands for itself. The upper-case
// letters name the complements. %g is LuaJIT's addition to Lua 5.1's set.
var classBits = func() (t [256]uint8) {
	for c, bits := range map[byte]uint8{
		'a': bitAlpha, 'c': bitCntrl, 'd': bitDigit, 'g': bitGraph,
		'l': bitLower, 'p': bitPunct, 's': bitSpace, 'u': bitUpper,
		'w': bitAlnum, 'x': bitXdigit, 'z': bitZero,
	} {
		t[c] = bits
		t[c-'a'+'A'] = bits
	}
	return t
}()

// matchClass reports whether c matches the class escape %cl.
func matchClass(c, cl byte) bool {
	bits := classBits[cl]
	if bits == 0 {
		return cl == c
	}
	in := charBits[c]&bits != 0
	if cl >= 'a' {
		return in
	}
	return !in
}

// matchBracketClass reports whether c is in the set pat[p:ec+1], where
// pat[p] is '[' and pat[ec] is its closing ']'.
func matchBracketClass(c byte, pat string, p, ec int) bool {
	want := true
	if pat[p+1] == '^' {
		want = false
		p++
	}
	for p++; p < ec; p++ {
		switch {
		case pat[p] == '%':
			p++
			if matchClass(c, pat[p]) {
				return want
			}
		case pat[p+1] == '-' && p+2 < ec:
			if pat[p] <= c && c <= pat[p+2] {
				return want
			}
			p += 2
		case pat[p] == c:
			return want
		}
	}
	return !want
}

// singleMatch reports whether c matches the single-character item
// pat[p:ep].
func singleMatch(c byte, pat string, p, ep int) bool {
	switch pat[p] {
	case '.':
		return true
	case '%':
		return matchClass(c, pat[p+1])
	case '[':
		return matchBracketClass(c, pat, p, ep-1)
	default:
		return pat[p] == c
	}
}
