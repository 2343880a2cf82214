package app

import (
	"fmt"
	"strconv"
	"strings"
)

// MinDictSize is the smallest shared dict (nginx refuses zones under 8 KiB).
const MinDictSize = 8 << 10

// ParseSize parses a size as nginx does (`10m` is 10 MiB, `512k`, `1g`, or
// plain bytes) and also accepts IEC units (`10MiB`, `512KiB`) and the
// decimal ones (`10MB` = 10,000,000 bytes).
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty size")
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.TrimSpace(s[i:])
	if num == "" {
		return 0, fmt.Errorf("invalid size %q: no number", s)
	}
	var mult float64
	switch strings.ToLower(unit) {
	case "", "b":
		mult = 1
	case "k", "kib":
		mult = 1 << 10
	case "m", "mib":
		mult = 1 << 20
	case "g", "gib":
		mult = 1 << 30
	case "kb":
		mult = 1e3
	case "mb":
		mult = 1e6
	case "gb":
		mult = 1e9
	default:
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use k, m, g as in nginx, or KiB, MiB, GiB)", s, unit)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w", s, err)
	}
	v := f * mult
	if v > 1<<40 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int64(v), nil
}

// FormatSize renders n bytes in the IEC form the JSON config uses.
func FormatSize(n int64) string {
	switch {
	case n%(1<<30) == 0 && n > 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n%(1<<20) == 0 && n > 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n%(1<<10) == 0 && n > 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10)
}
