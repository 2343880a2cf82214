package pcre

import "strings"

// Replacement templates of ngx.re.sub and gsub: $0, $N, ${N}, $$ and, as an
// extension, ${name} / $name for the named groups of the pattern.

// errTemplate is OpenResty's message for an invalid replacement template.
const errTemplate = "failed to compile the replacement template"

// parseTemplateRef parses the reference after a "$" at tpl[i] (i is the
// index after "$"). It returns the group number (-1 for "$$", -2 for a
// named reference, then name is the index in c.names), the index after the
// reference, and ok=false when the template is invalid.
func (c *Regexp) parseTemplateRef(tpl string, i int) (group, name, next int, ok bool) {
	if i >= len(tpl) {
		return 0, 0, 0, false
	}
	if tpl[i] == '$' {
		return -1, 0, i + 1, true
	}
	bracket := false
	if tpl[i] == '{' {
		bracket = true
		i++
		if i >= len(tpl) {
			return 0, 0, 0, false
		}
	}
	start := i
	if reIsDigit(tpl[i]) {
		n := 0
		for i < len(tpl) && reIsDigit(tpl[i]) {
			if n < 1<<20 {
				n = n*10 + int(tpl[i]-'0')
			}
			i++
		}
		if bracket {
			if i >= len(tpl) || tpl[i] != '}' {
				return 0, 0, 0, false
			}
			i++
		}
		return n, 0, i, true
	}
	for i < len(tpl) && reIsWordByte(tpl[i]) {
		i++
	}
	nm := tpl[start:i]
	if bracket {
		if i >= len(tpl) || tpl[i] != '}' {
			return 0, 0, 0, false
		}
		i++
	}
	if nm == "" {
		return 0, 0, 0, false
	}
	for k := range c.names {
		if c.names[k].Name == nm {
			return -2, k, i, true
		}
	}
	return 0, 0, 0, false
}

// CheckTemplate validates the replacement template tpl for c and reports
// whether it contains any "$" at all (else it is a plain string) and
// whether it references groups other than 0 (then Exec must be asked for
// all the groups). It returns OpenResty's error message for an invalid
// template.
func (c *Regexp) CheckTemplate(tpl string) (hasDollar, needGroups bool, errMsg string) {
	for i := 0; i < len(tpl); {
		j := strings.IndexByte(tpl[i:], '$')
		if j < 0 {
			break
		}
		hasDollar = true
		g, _, next, good := c.parseTemplateRef(tpl, i+j+1)
		if !good {
			return true, false, errTemplate
		}
		if g > 0 || g == -2 {
			needGroups = true
		}
		i = next
	}
	return hasDollar, needGroups, ""
}

// ExpandTemplate appends to dst the template tpl (validated by
// CheckTemplate) with its references replaced by the groups of a match;
// caps are the run offsets Exec reported. When limit > 0 the expansion
// stops as soon as dst is longer than limit, so the result is longer than
// limit exactly when the complete one would be.
func (c *Regexp) ExpandTemplate(dst []byte, tpl string, sv *Subject, caps []int, limit int) []byte {
	for i := 0; i < len(tpl); {
		j := strings.IndexByte(tpl[i:], '$')
		if j < 0 {
			return append(dst, tpl[i:]...)
		}
		dst = append(dst, tpl[i:i+j]...)
		g, name, next, _ := c.parseTemplateRef(tpl, i+j+1)
		i = next
		if g == -1 {
			dst = append(dst, '$')
			continue
		}
		if g == -2 {
			// The first group of that name that took part in the match.
			g = c.names[name].Groups[0]
			for _, ng := range c.names[name].Groups {
				if ng <= c.ncap && caps[2*ng] >= 0 {
					g = ng
					break
				}
			}
		}
		if g <= c.ncap && caps[2*g] >= 0 {
			dst = append(dst, sv.Slice(caps[2*g], caps[2*g+1])...)
		}
		if limit > 0 && len(dst) > limit {
			return dst
		}
	}
	return dst
}
