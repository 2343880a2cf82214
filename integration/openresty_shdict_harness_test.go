package integration

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// shdCase is a rebuilt block that uses shared dicts. Each block gets dicts
// of its own: the names it uses (ngx.shared.dogs) are renamed in its Lua
// to names of the same length (d001), so no block sees another's items
// and the zone name nginx keeps in the dict (its log context) costs the
// same. Blocks that are one test's pipelined requests share a group.
type shdCase struct {
	orCase
	// dicts maps the dict names the block declares to their sizes.
	dicts map[string]string
	// group names the block's dicts; the case's index when empty.
	group string
	// byName: the Lua names its dicts in string literals too
	// (limit_req.new("store", ...)); "store" is renamed as well.
	byName bool
}

var shdNameRe = regexp.MustCompile(`ngx\.shared\.([A-Za-z_][A-Za-z0-9_]*)`)

// shdCases turns shdCases into orCases and the global lines declaring
// their dicts.
func shdCases(in []shdCase) (string, []orCase) {
	declared := map[string]bool{}
	groups := map[string]int{}
	var global strings.Builder
	out := make([]orCase, len(in))
	for i, c := range in {
		group := c.group
		if group == "" {
			group = fmt.Sprint("#", i)
		}
		n, ok := groups[group]
		if !ok {
			n = len(groups)
			groups[group] = n
		}
		newName := func(name string) string {
			digits := min(3, len(name)-1)
			if digits < 2 || n >= 100 && digits < 3 {
				panic("shdCases: dict name too short for its block: " + name)
			}
			return fmt.Sprintf("%s%0*d", name[:len(name)-digits], digits, n)
		}
		rename := func(src string) string {
			src = shdNameRe.ReplaceAllStringFunc(src, func(m string) string {
				name := strings.TrimPrefix(m, "ngx.shared.")
				if _, ok := c.dicts[name]; !ok {
					return m
				}
				return "ngx.shared." + newName(name)
			})
			if c.byName {
				for name := range c.dicts {
					src = strings.ReplaceAll(src, `"`+name+`"`, `"`+newName(name)+`"`)
				}
			}
			return src
		}
		names := make([]string, 0, len(c.dicts))
		for name := range c.dicts {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			full := newName(name)
			if !declared[full] {
				declared[full] = true
				fmt.Fprintf(&global, "shared_dict %s %s\n", full, c.dicts[name])
			}
		}
		oc := c.orCase
		oc.content = rename(oc.content)
		if oc.phases != nil {
			ph := map[string]string{}
			for k, v := range oc.phases {
				ph[k] = rename(v)
			}
			oc.phases = ph
		}
		if oc.set != nil {
			sets := make([]orSet, len(oc.set))
			for j, st := range oc.set {
				st.lua = rename(st.lua)
				sets[j] = st
			}
			oc.set = sets
		}
		out[i] = oc
	}
	return global.String(), out
}

// dogs1m and friends are the dict declarations the blocks use.
var (
	dogs1m     = map[string]string{"dogs": "1m"}
	cats1m     = map[string]string{"cats": "1m"}
	dogsCats1m = map[string]string{"dogs": "1m", "cats": "1m"}
	dogs100k   = map[string]string{"dogs": "100k"}
	dogs50k    = map[string]string{"dogs": "50k"}
)
