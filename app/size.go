package app

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/caddy-resty/caddy-resty/shdict"
)

// CheckDictSize refuses a shared dict size below shdict.MinSize (nginx
// refuses zones under 8 KiB); text is the size as the user wrote it.
func CheckDictSize(n int64, text string) error {
	if n < shdict.MinSize {
		return fmt.Errorf("%s is too small (at least 8k)", text)
	}
	return nil
}

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
