package pcre

// Flags is a set of ngx.re options (the "options" string of ngx.re.match
// and friends, parsed by ParseFlags).
type Flags uint16

// The ngx.re options. The letter is the option character.
const (
	Caseless    Flags = 1 << iota // i
	Multiline                     // m
	Dotall                        // s
	Extended                      // x
	UTF8                          // u, U
	Anchored                      // a
	DFA                           // d
	DupNames                      // D
	NoUTF8Check                   // U (run time only)
	Once                          // o (accepted; everything is cached)
	JIT                           // j (accepted; no-op)
	JSCompat                      // J (refused at compile time)
)

// compileMask holds the flags that change the compiled program and thus
// take part in the cache key.
const compileMask = Caseless | Multiline | Dotall | Extended | UTF8 | Anchored | DFA | DupNames

// ParseFlags parses an ngx.re options string. When an unknown option is
// found it returns the byte index of the offending character as badIndex,
// else badIndex is -1.
func ParseFlags(opts string) (f Flags, badIndex int) {
	for i := 0; i < len(opts); i++ {
		switch opts[i] {
		case 'i':
			f |= Caseless
		case 'm':
			f |= Multiline
		case 's':
			f |= Dotall
		case 'x':
			f |= Extended
		case 'u':
			f |= UTF8
		case 'U':
			f |= UTF8 | NoUTF8Check
		case 'a':
			f |= Anchored
		case 'd':
			f |= DFA
		case 'D':
			f |= DupNames
		case 'o':
			f |= Once
		case 'j':
			f |= JIT
		case 'J':
			// PCRE_JAVASCRIPT_COMPAT changes the meaning of \u, [^] and
			// more; it is refused at compile time (see Compile).
			f |= JSCompat
		default:
			return 0, i
		}
	}
	return f, -1
}
