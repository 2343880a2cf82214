package luastring

import (
	"math"
	"math/big"
	"math/bits"
	"strconv"
)

// AppendNumber appends n formatted as LuaJIT's tostring formats numbers
// ("%.14g", with "inf", "-inf" and "nan") and returns the extended buffer.
func AppendNumber(b []byte, n float64) []byte {
	if n == math.Trunc(n) && math.Abs(n) < 1e14 && (n != 0 || !math.Signbit(n)) {
		return strconv.AppendInt(b, int64(n), 10)
	}
	return appendFloat(b, fmtSpec{conv: 'g', prec: 14}, n)
}

// Flags of a format item.
const (
	flagLeft  = 1 << iota // '-'
	flagPlus              // '+'
	flagSpace             // ' '
	flagAlt               // '#'
	flagZero              // '0'
)

// fmtSpec is one parsed string.format item, such as "%-8.3f".
type fmtSpec struct {
	flags int
	width int
	prec  int // -1 when absent
	conv  byte
}

func (sp fmtSpec) has(flag int) bool { return sp.flags&flag != 0 }

// pad appends n copies of c.
func pad(b []byte, c byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, c)
	}
	return b
}

// appendPadded appends prefix and body right-aligned in the item's width
// (left-aligned with '-'); with '0' and no '-', zeros go between prefix and
// body.
func appendPadded(b []byte, sp fmtSpec, prefix, body []byte) []byte {
	fill := sp.width - len(prefix) - len(body)
	switch {
	case sp.has(flagLeft):
		b = append(b, prefix...)
		b = append(b, body...)
		return pad(b, ' ', fill)
	case sp.has(flagZero):
		b = append(b, prefix...)
		b = pad(b, '0', fill)
	default:
		b = pad(b, ' ', fill)
		b = append(b, prefix...)
	}
	return append(b, body...)
}

// appendInt formats u as %d/%i (signed), %u, %o, %x or %X, with C's
// (and LuaJIT's) rules for flags, width and precision.
func appendInt(b []byte, sp fmtSpec, u uint64, signed bool) []byte {
	var prefix []byte
	if signed {
		switch {
		case int64(u) < 0:
			u = -u
			prefix = []byte{'-'}
		case sp.has(flagPlus):
			prefix = []byte{'+'}
		case sp.has(flagSpace):
			prefix = []byte{' '}
		}
	}
	var buf [24]byte
	digits := buf[:0]
	switch {
	case u == 0:
		if sp.prec != 0 || sp.conv == 'o' && sp.has(flagAlt) {
			digits = append(digits, '0')
		}
	case sp.conv == 'x' || sp.conv == 'X':
		digits = strconv.AppendUint(digits, u, 16)
		if sp.conv == 'X' {
			upper(digits)
		}
		if sp.has(flagAlt) {
			prefix = []byte{'0', sp.conv}
		}
	case sp.conv == 'o':
		if sp.has(flagAlt) {
			digits = append(digits, '0')
		}
		digits = strconv.AppendUint(digits, u, 8)
	default:
		digits = strconv.AppendUint(digits, u, 10)
	}
	if sp.prec >= 0 {
		sp.flags &^= flagZero
		if n := sp.prec - len(digits); n > 0 {
			var zbuf [128]byte
			z := pad(zbuf[:0], '0', n)
			digits = append(z, digits...)
		}
	}
	return appendPadded(b, sp, prefix, digits)
}

// upper converts ASCII letters in b to upper case.
func upper(b []byte) {
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
}

// floatToInt64 converts as an x86-64 C cast does: NaN and values out of
// range give the "integer indefinite" value, math.MinInt64.
func floatToInt64(f float64) int64 {
	if f != f || f >= 1<<63 || f < -(1<<63) {
		return math.MinInt64
	}
	return int64(f)
}

// floatToUint64 converts for %u, %o and %x as LuaJIT does: through int64,
// with numbers from 2^63 wrapping around.
func floatToUint64(f float64) uint64 {
	if f >= 1<<63 {
		f -= 1 << 64
	}
	return uint64(floatToInt64(f))
}

// appendFloat formats n as %a, %e, %f or %g (or their upper-case forms) as
// LuaJIT does: like C's printf, except that an exact tie rounds away from
// zero and NaN never carries a sign.
func appendFloat(b []byte, sp fmtSpec, n float64) []byte {
	conv := sp.conv | 0x20 // lower case
	up := sp.conv != conv
	var prefix []byte
	if math.IsNaN(n) || math.IsInf(n, 0) {
		body := []byte("inf")
		switch {
		case math.IsNaN(n):
			body = []byte("nan")
			if sp.has(flagSpace) {
				prefix = []byte{' '}
			}
		case n < 0:
			prefix = []byte{'-'}
		case sp.has(flagPlus):
			prefix = []byte{'+'}
		case sp.has(flagSpace):
			prefix = []byte{' '}
		}
		if up {
			upper(body)
		}
		sp.flags &^= flagZero
		return appendPadded(b, sp, prefix, body)
	}
	switch {
	case math.Signbit(n):
		prefix = []byte{'-'}
	case sp.has(flagPlus):
		prefix = []byte{'+'}
	case sp.has(flagSpace):
		prefix = []byte{' '}
	}
	a := math.Abs(n)
	var buf [420]byte
	var body []byte
	prec := sp.prec
	alt := sp.has(flagAlt)
	switch conv {
	case 'a':
		body = appendHexFloat(buf[:0], a, prec, alt)
		// Zero padding goes after "0x".
		prefix = append(prefix, body[:2]...)
		body = body[2:]
	case 'e':
		if prec < 0 {
			prec = 6
		}
		if tieDigits(a, prec+1) {
			a = math.Nextafter(a, math.Inf(1))
		}
		body = strconv.AppendFloat(buf[:0], a, 'e', prec, 64)
		if alt && prec == 0 {
			body = insertPoint(body)
		}
	case 'f':
		if prec < 0 {
			prec = 6
		}
		if tieFixed(a, prec) {
			a = math.Nextafter(a, math.Inf(1))
		}
		body = strconv.AppendFloat(buf[:0], a, 'f', prec, 64)
		if alt && prec == 0 {
			body = append(body, '.')
		}
	default: // 'g'
		switch {
		case prec < 0:
			prec = 6
		case prec == 0:
			prec = 1
		}
		if tieDigits(a, prec) {
			a = math.Nextafter(a, math.Inf(1))
		}
		body = strconv.AppendFloat(buf[:0], a, 'e', prec-1, 64)
		if x := exponent(body); x >= -4 && x < prec {
			body = strconv.AppendFloat(buf[:0], a, 'f', prec-1-x, 64)
		}
		if alt {
			if bytesIndex(body, '.') < 0 {
				body = insertPoint(body)
			}
		} else {
			body = trimZeros(body)
		}
	}
	if up {
		upper(body)
		upper(prefix)
	}
	return appendPadded(b, sp, prefix, body)
}

func bytesIndex(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// exponent returns the decimal exponent of a number in %e form.
func exponent(e []byte) int {
	i := bytesIndex(e, 'e')
	x, _ := strconv.Atoi(string(e[i+1:]))
	return x
}

// insertPoint adds a decimal point after the digits of a number that has
// none: before its exponent, if any, else at its end.
func insertPoint(b []byte) []byte {
	i := bytesIndex(b, 'e')
	if i < 0 {
		return append(b, '.')
	}
	b = append(b, 0)
	copy(b[i+1:], b[i:])
	b[i] = '.'
	return b
}

// trimZeros removes trailing zeros from the fraction of a number in %e or
// %f form, and the decimal point if no fraction is left.
func trimZeros(b []byte) []byte {
	if bytesIndex(b, '.') < 0 {
		return b
	}
	exp := []byte(nil)
	if i := bytesIndex(b, 'e'); i >= 0 {
		b, exp = b[:i], b[i:]
	}
	for b[len(b)-1] == '0' {
		b = b[:len(b)-1]
	}
	if b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	return append(b, exp...)
}

// decompose returns a finite a > 0 as mant * 2^exp with mant odd.
func decompose(a float64) (mant uint64, exp int) {
	fr, e := math.Frexp(a) // a = fr * 2^e, 0.5 <= fr < 1
	mant = uint64(fr * (1 << 53))
	exp = e - 53
	tz := bits.TrailingZeros64(mant)
	return mant >> tz, exp + tz
}

// tieFixed reports whether a ≥ 0 lies exactly halfway between two numbers
// of prec decimals. Such a number has exactly prec+1 decimals, the last a 5:
// it is an odd multiple of 2^-(prec+1).
func tieFixed(a float64, prec int) bool {
	if a == 0 || math.IsInf(a, 0) {
		return false
	}
	_, exp := decompose(a)
	return exp == -(prec + 1)
}

var log10of5 = math.Log10(5)

// tieDigits reports whether a ≥ 0 lies exactly halfway between two numbers
// of sig significant digits: its exact decimal expansion has sig+1
// significant digits, the last a 5.
func tieDigits(a float64, sig int) bool {
	if a == 0 || math.IsInf(a, 0) {
		return false
	}
	mant, exp := decompose(a)
	if exp >= 0 {
		// An integer mant * 2^exp. Its decimal digits, trailing zeros
		// stripped, end in 5 only if 5^(exp+1) divides mant, and are then
		// mant / 5^exp.
		if exp > 22 {
			return false // 5^23 > 2^53 > mant
		}
		p5 := uint64(1)
		for range exp {
			p5 *= 5
		}
		if mant%(p5*5) != 0 {
			return false
		}
		return decimalLen(mant/p5) == sig+1
	}
	// mant * 2^exp = mant * 5^-exp / 10^-exp: the digits are those of
	// mant * 5^-exp, which ends in 5 as mant is odd.
	k := -exp
	est := int(math.Floor(math.Log10(float64(mant))+float64(k)*log10of5)) + 1
	if est < sig || est > sig+2 {
		return false
	}
	d := new(big.Int).Exp(big.NewInt(5), big.NewInt(int64(k)), nil)
	d.Mul(d, new(big.Int).SetUint64(mant))
	return len(d.String()) == sig+1
}

// decimalLen returns the number of decimal digits of u > 0.
func decimalLen(u uint64) int {
	n := 0
	for ; u > 0; u /= 10 {
		n++
	}
	return n
}

// appendHexFloat formats a ≥ 0 as %a does in LuaJIT: "0x1.8p+1", with
// denormals normalized, the shortest exact fraction by default, and ties
// rounded away from zero.
func appendHexFloat(b []byte, a float64, prec int, alt bool) []byte {
	u := math.Float64bits(a)
	exp := int(u>>52) & 0x7ff
	m := u & (1<<52 - 1)
	switch {
	case exp != 0:
		m |= 1 << 52
		exp -= 1023
	case m != 0: // denormal
		shift := 52 - (bits.Len64(m) - 1)
		m <<= shift
		exp = -1022 - shift
	}
	if prec < 0 {
		prec = 0
		if frac := m & (1<<52 - 1); frac != 0 {
			prec = 13 - bits.TrailingZeros64(frac)/4
		}
	} else if prec < 13 {
		m += 1 << (51 - 4*prec)
	}
	b = append(b, '0', 'x', byte('0'+m>>52))
	if prec > 0 || alt {
		b = append(b, '.')
		frac := m & (1<<52 - 1)
		for i := range min(prec, 13) {
			b = append(b, "0123456789abcdef"[frac>>(48-4*i)&15])
		}
		b = pad(b, '0', prec-13)
	}
	b = append(b, 'p')
	if exp < 0 {
		b = append(b, '-')
		exp = -exp
	} else {
		b = append(b, '+')
	}
	return strconv.AppendInt(b, int64(exp), 10)
}
