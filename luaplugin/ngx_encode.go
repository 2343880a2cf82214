package luaplugin

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"hash/crc32"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

func (vm *VM) installEncoding(ngx *lua.LTable) {
	L := vm.L
	for name, fn := range map[string]lua.LGFunction{
		"encode_base64": ngxEncodeBase64,
		"decode_base64": ngxDecodeBase64,
		"md5": func(L *lua.LState) int {
			sum := md5.Sum([]byte(stringArg(L, 1)))
			L.Push(lua.LString(hex.EncodeToString(sum[:])))
			return 1
		},
		"md5_bin": func(L *lua.LState) int {
			sum := md5.Sum([]byte(stringArg(L, 1)))
			L.Push(lua.LString(sum[:]))
			return 1
		},
		"sha1_bin": func(L *lua.LState) int {
			sum := sha1.Sum([]byte(stringArg(L, 1)))
			L.Push(lua.LString(sum[:]))
			return 1
		},
		"hmac_sha1": func(L *lua.LState) int {
			m := hmac.New(sha1.New, []byte(L.CheckString(1)))
			m.Write([]byte(L.CheckString(2)))
			L.Push(lua.LString(m.Sum(nil)))
			return 1
		},
		"crc32_short": ngxCRC32,
		"crc32_long":  ngxCRC32,
		"escape_uri": func(L *lua.LState) int {
			s := stringArg(L, 1)
			typ := 2
			switch v := L.Get(2).(type) {
			case *lua.LNilType:
			case lua.LNumber:
				if v < 0 || v > 6 {
					L.RaiseError("\"type\" %s out of range", FormatNumber(float64(v)))
				}
				typ = int(v)
			default:
				L.RaiseError("\"type\" is not a number")
			}
			L.Push(lua.LString(escapeURI(s, typ)))
			return 1
		},
		"unescape_uri": func(L *lua.LState) int {
			L.Push(lua.LString(unescapeURI(stringArg(L, 1))))
			return 1
		},
		"encode_args": func(L *lua.LState) int {
			L.Push(lua.LString(encodeArgs(L, L.CheckTable(1))))
			return 1
		},
		"decode_args": func(L *lua.LState) int {
			return pushArgs(L, L.CheckString(1), argMax(L, 2))
		},
		"quote_sql_str": func(L *lua.LState) int {
			L.Push(lua.LString(quoteSQL(L.CheckString(1))))
			return 1
		},
	} {
		ngx.RawSetString(name, L.NewFunction(fn))
	}
}

// stringArg converts a string argument as lua-resty-core does (escape_uri,
// md5, encode_base64, …): nil and false are "", other non-strings are
// tostring'd.
func stringArg(L *lua.LState, n int) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return FormatNumber(float64(v))
	case *lua.LNilType:
		return ""
	case lua.LBool:
		if !v {
			return ""
		}
	}
	return L.ToStringMeta(L.Get(n)).String()
}

func ngxEncodeBase64(L *lua.LState) int {
	s := stringArg(L, 1)
	noPad := false
	if v := L.Get(2); lua.LVAsBool(v) {
		if v != lua.LTrue {
			L.RaiseError("bad no_padding: boolean expected, got %s", v.Type().String())
		}
		noPad = true
	}
	if noPad {
		L.Push(lua.LString(base64.RawStdEncoding.EncodeToString([]byte(s))))
	} else {
		L.Push(lua.LString(base64.StdEncoding.EncodeToString([]byte(s))))
	}
	return 1
}

func ngxDecodeBase64(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if !ok {
		L.RaiseError("string argument only")
	}
	b, ok := decodeBase64(string(s), base64.RawStdEncoding)
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LString(b))
	return 1
}

// decodeBase64 decodes like nginx: the input stops at the first '=', and
// missing padding is accepted.
func decodeBase64(s string, enc *base64.Encoding) ([]byte, bool) {
	if i := strings.IndexByte(s, '='); i >= 0 {
		s = s[:i]
	}
	if len(s)%4 == 1 || strings.ContainsAny(s, "\r\n") {
		return nil, false
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, false
	}
	return b, true
}

func ngxCRC32(L *lua.LState) int {
	L.Push(lua.LNumber(crc32.ChecksumIEEE([]byte(stringArg(L, 1)))))
	return 1
}

// escapeTables are lua-nginx-module's escape maps (ngx_http_lua_escape_uri),
// one bit per byte, indexed by the type argument of ngx.escape_uri: 0 uri,
// 1 args, 2 uri component (the default), 3 html, 4 refresh, 5 memcached,
// 6 mail_auth (the same as memcached).
var escapeTables = [7][8]uint32{
	{0xffffffff, 0x80000029, 0x00000000, 0x80000000, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
	{0xffffffff, 0x80000829, 0x00000000, 0x80000000, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
	{0xffffffff, 0xfc00987d, 0x78000001, 0xb8000001, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
	{0xffffffff, 0x000000ad, 0x00000000, 0x80000000, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
	{0xffffffff, 0x00000085, 0x00000000, 0x80000000, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
	{0xffffffff, 0x00000021, 0, 0, 0, 0, 0, 0},
	{0xffffffff, 0x00000021, 0, 0, 0, 0, 0, 0},
}

// escapeURI escapes s as ngx.escape_uri does with the given type (0-6,
// see escapeTables); type 2 keeps only letters, digits and -_.~ (and, like
// nginx, !*'() too).
func escapeURI(s string, typ int) string {
	tab := &escapeTables[typ]
	esc := func(c byte) bool { return tab[c>>5]&(1<<(c&0x1f)) != 0 }
	n := 0
	for i := 0; i < len(s); i++ {
		if esc(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexd = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if esc(c) {
			b = append(b, '%', hexd[c>>4], hexd[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescapeURI decodes %XX and '+' (a space); malformed sequences stay as
// they are.
func unescapeURI(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '+':
			b = append(b, ' ')
		case '%':
			if i+2 < len(s) {
				h, ok1 := unhex(s[i+1])
				l, ok2 := unhex(s[i+2])
				if ok1 && ok2 {
					b = append(b, h<<4|l)
					i += 2
					continue
				}
			}
			b = append(b, c)
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// encodeArgs encodes a Lua table as a query string (ngx.encode_args). Keys
// are sorted so that the result is deterministic.
func encodeArgs(L *lua.LState, t *lua.LTable) string {
	type kv struct {
		k string
		v lua.LValue
	}
	var pairs []kv
	t.ForEach(func(k, v lua.LValue) {
		var ks string
		switch kk := k.(type) {
		case lua.LString:
			ks = string(kk)
		case lua.LNumber:
			ks = FormatNumber(float64(kk))
		default:
			L.ArgError(1, "attempt to use "+k.Type().String()+" as query arg key")
		}
		pairs = append(pairs, kv{ks, v})
	})
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].k < pairs[j].k })
	var b strings.Builder
	add := func(k string, v lua.LValue) {
		var s string
		switch vv := v.(type) {
		case lua.LBool:
			if !vv {
				return
			}
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(escapeURI(k, 2))
			return
		case lua.LString:
			s = string(vv)
		case lua.LNumber:
			s = FormatNumber(float64(vv))
		default:
			L.ArgError(1, "attempt to use "+v.Type().String()+" as query arg value")
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(escapeURI(k, 2))
		b.WriteByte('=')
		b.WriteString(escapeURI(s, 2))
	}
	for _, p := range pairs {
		if arr, ok := p.v.(*lua.LTable); ok {
			n := arr.Len()
			for i := 1; i <= n; i++ {
				add(p.k, arr.RawGetInt(i))
			}
			continue
		}
		add(p.k, p.v)
	}
	return b.String()
}

// quoteSQL quotes s as a MySQL string literal (ngx.quote_sql_str).
func quoteSQL(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString(`\0`)
		case '\b':
			b.WriteString(`\b`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case 0x1a:
			b.WriteString(`\Z`)
		case '\\', '\'', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
