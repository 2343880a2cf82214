package restyipmatcher

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
)

func init() {
	luaplugin.RegisterModule("resty.ipmatcher", open)
}

// maxEntries bounds the list a matcher is built from.
const maxEntries = 1 << 20

// family is one address family's prefixes: a set per prefix length.
type family struct {
	lengths []int // distinct prefix lengths, longest first
	sets    map[int]map[netip.Prefix]struct{}
}

func (f *family) add(p netip.Prefix) {
	if f.sets == nil {
		f.sets = make(map[int]map[netip.Prefix]struct{})
	}
	s := f.sets[p.Bits()]
	if s == nil {
		s = make(map[netip.Prefix]struct{})
		f.sets[p.Bits()] = s
		f.lengths = append(f.lengths, p.Bits())
		slices.SortFunc(f.lengths, func(a, b int) int { return b - a })
	}
	s[p] = struct{}{}
}

func (f *family) match(a netip.Addr) bool {
	for _, n := range f.lengths {
		p, err := a.Prefix(n)
		if err != nil {
			continue
		}
		if _, ok := f.sets[n][p]; ok {
			return true
		}
	}
	return false
}

// Matcher is a set of IPv4 and IPv6 prefixes.
type Matcher struct {
	v4, v6 family
}

// ParsePrefix parses an address ("10.0.0.1", "2001:db8::1") or a CIDR
// prefix ("10.0.0.0/8"), masked to its network.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			a := p.Addr().Unmap()
			bits := p.Bits() - 96
			if bits < 0 {
				return netip.Prefix{}, fmt.Errorf("%s: an IPv4-mapped prefix shorter than /96", s)
			}
			p = netip.PrefixFrom(a, bits)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%s: an address with a zone", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// New builds a matcher from addresses and CIDR prefixes.
func New(list []string) (*Matcher, error) {
	m := &Matcher{}
	for _, s := range list {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("invalid IP address or CIDR: %q", s)
		}
		if p.Addr().Is4() {
			m.v4.add(p)
		} else {
			m.v6.add(p)
		}
	}
	return m, nil
}

// Match tells whether the address ip is in one of the matcher's prefixes;
// an address that does not parse is an error.
func (m *Matcher) Match(ip string) (bool, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false, fmt.Errorf("invalid IP address: %q", ip)
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		return m.v4.match(a), nil
	}
	return m.v6.match(a), nil
}

func open(_ *luaplugin.VM, L *lua.LState) lua.LValue {
	mod := L.CreateTable(0, 3)
	mt := L.CreateTable(0, 1)
	mod.RawSetString("_VERSION", lua.LString("0.6"))
	mod.RawSetString("new", L.NewFunction(func(L *lua.LState) int { return newMatcher(L, mt) }))
	mod.RawSetString("match", L.NewFunction(match))
	mt.RawSetString("__index", mod)
	return mod
}

// new(list): a matcher, or nil, err.
func newMatcher(L *lua.LState, mt *lua.LTable) int {
	t := L.CheckTable(1)
	n := t.Len()
	if n > maxEntries {
		return luaplugin.PushFail(L, fmt.Sprintf("too many entries (%d, at most %d)", n, maxEntries))
	}
	list := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		s, ok := t.RawGetInt(i).(lua.LString)
		if !ok {
			return luaplugin.PushFail(L, fmt.Sprintf("invalid IP address or CIDR: item %d is a %s", i, t.RawGetInt(i).Type()))
		}
		list = append(list, string(s))
	}
	m, err := New(list)
	if err != nil {
		return luaplugin.PushFail(L, err.Error())
	}
	return luaplugin.PushObject(L, m, mt)
}

// m:match(ip): true or false, or nil, err for an address that does not
// parse.
func match(L *lua.LState) int {
	ud := L.CheckUserData(1)
	m, ok := ud.Value.(*Matcher)
	if !ok {
		L.ArgError(1, "ipmatcher expected")
	}
	v := L.Get(2)
	s, ok := v.(lua.LString)
	if !ok {
		return luaplugin.PushFail(L, "invalid IP address: a "+v.Type().String())
	}
	hit, err := m.Match(string(s))
	if err != nil {
		return luaplugin.PushFail(L, err.Error())
	}
	L.Push(lua.LBool(hit))
	return 1
}
