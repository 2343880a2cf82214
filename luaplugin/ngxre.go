package luaplugin

// ngx.re — OpenResty's regex API (match, find, gmatch, sub, gsub, and the
// split/opt helpers of lua-resty-core's ngx.re module) on top of Go's RE2
// engine, and of regexp2 (backtracking) for the patterns RE2 cannot run.
// This file is only the Lua binding: the PCRE translation and the matching
// are in internal/pcre, whose package documentation says which engine runs
// what, what is emulated, what is refused and the known differences.
//
// A backtracking match is bounded in time by what is left of the calling
// run's budget (reLib.limit): past it the match fails as PCRE's match
// limit does (nil, "pcre_exec() failed: -8"), and the run, whose budget is
// spent, is then stopped by its watchdog.

import (
	"sync"
	"time"

	"github.com/caddy-resty/caddy-resty/internal/pcre"
	lua "github.com/yuin/gopher-lua"
)

// DefaultRegexCacheSize is the default bound of a RegexCache, the default of
// OpenResty's lua_regex_cache_max_entries.
const DefaultRegexCacheSize = pcre.DefaultCacheSize

// RegexCache is a bounded, concurrency-safe cache of compiled ngx.re
// patterns keyed by (pattern, compile options), meant to be shared by all
// the Lua states of a server. Every compiled pattern is cached, not only
// those with the "o" option; see pcre.Cache.
type RegexCache = pcre.Cache

// NewRegexCache returns a cache holding at most max compiled patterns
// (DefaultRegexCacheSize when max <= 0).
func NewRegexCache(max int) *RegexCache { return pcre.NewCache(max) }

var (
	defaultCacheOnce sync.Once
	defaultCache     *RegexCache
)

// defaultRegexCache returns the process-wide cache of the ngx.re tables
// opened with a nil cache, built on first use.
func defaultRegexCache() *RegexCache {
	defaultCacheOnce.Do(func() { defaultCache = NewRegexCache(0) })
	return defaultCache
}

// reLib implements the ngx.re functions of one Lua state.
type reLib struct {
	cache *RegexCache
	// check, when set, is called before each match attempt of sub, gsub,
	// gmatch and split; it may raise a Lua error to stop a long operation.
	check func(L *lua.LState)
	// maxLen, when > 0, bounds the length of the strings sub and gsub
	// build: a longer result raises "string length overflow".
	maxLen int
	// limit, when set, returns the time a backtracking match may take
	// (what is left of the running run's budget); when nil,
	// pcre.DefaultTimeLimit.
	limit func() time.Duration
}

// newReLib returns a reLib on cache, or on the process-wide default cache
// when cache is nil, with no check and no length bound.
func newReLib(cache *RegexCache) *reLib {
	if cache == nil {
		cache = defaultRegexCache()
	}
	return &reLib{cache: cache}
}

// OpenNgxRe returns the ngx.re table (match, find, gmatch, sub, gsub, plus
// split and opt of lua-resty-core's ngx.re module). Compiled patterns are
// kept in cache, which may be shared by many Lua states; a nil cache means a
// process-wide default one.
func OpenNgxRe(L *lua.LState, cache *RegexCache) *lua.LTable {
	return newReLib(cache).open(L)
}

// OpenNgxReModule returns what `require "ngx.re"` gives: split and opt.
func OpenNgxReModule(L *lua.LState, cache *RegexCache) *lua.LTable {
	return newReLib(cache).openModule(L)
}

// open returns the ngx.re table of OpenNgxRe.
func (r *reLib) open(L *lua.LState) *lua.LTable {
	t := L.CreateTable(0, 7)
	t.RawSetString("match", L.NewFunction(r.match))
	t.RawSetString("find", L.NewFunction(r.find))
	t.RawSetString("gmatch", L.NewFunction(r.gmatch))
	t.RawSetString("sub", L.NewFunction(r.sub))
	t.RawSetString("gsub", L.NewFunction(r.gsub))
	t.RawSetString("split", L.NewFunction(r.split))
	t.RawSetString("opt", L.NewFunction(reOpt))
	return t
}

// openModule returns the table of OpenNgxReModule.
func (r *reLib) openModule(L *lua.LState) *lua.LTable {
	t := L.CreateTable(0, 2)
	t.RawSetString("split", L.NewFunction(r.split))
	t.RawSetString("opt", L.NewFunction(reOpt))
	return t
}

func reLuaTypeName(L *lua.LState, n int) string {
	if n > L.GetTop() {
		return "no value"
	}
	return L.Get(n).Type().String()
}

func reArgError(L *lua.LState, n int, fname, msg string) {
	L.RaiseError("bad argument #%d to '%s' (%s)", n, fname, msg)
}

func reArgTypeError(L *lua.LState, n int, fname, expected string) {
	reArgError(L, n, fname, expected+" expected, got "+reLuaTypeName(L, n))
}

// reArgString returns argument n as a string; numbers are converted.
func reArgString(L *lua.LState, n int, fname string) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return FormatNumber(float64(v))
	}
	reArgTypeError(L, n, fname, "string")
	return ""
}

// reArgOpts parses the options argument n (nil, string or number).
func reArgOpts(L *lua.LState, n int, fname string) pcre.Flags {
	var opts string
	switch v := L.Get(n).(type) {
	case *lua.LNilType:
		return 0
	case lua.LString:
		opts = string(v)
	case lua.LNumber:
		opts = FormatNumber(float64(v))
	default:
		reArgTypeError(L, n, fname, "string")
	}
	f, bad := pcre.ParseFlags(opts)
	if bad >= 0 {
		L.RaiseError("unknown flag \"%s\" (flags \"%s\")", opts[bad:bad+1], opts)
	}
	return f
}

// reArgCtx returns the ctx table argument n (or nil) and its start offset.
func reArgCtx(L *lua.LState, n int, fname string) (*lua.LTable, int) {
	switch v := L.Get(n).(type) {
	case *lua.LNilType:
		return nil, 0
	case *lua.LTable:
		switch p := L.GetField(v, "pos").(type) {
		case lua.LNumber:
			if p <= 0 {
				return v, 0
			}
			return v, int(p) - 1
		case *lua.LNilType:
			return v, 0
		}
		reArgError(L, n, fname, "bad pos field type in the ctx table")
	default:
		reArgTypeError(L, n, fname, "table")
	}
	return nil, 0
}

// reFillMatch stores the captures (run offsets) of a match of c into res,
// or into a new table when res is nil, and returns the table.
func reFillMatch(L *lua.LState, res *lua.LTable, c *pcre.Regexp, sv *pcre.Subject, caps []int) *lua.LTable {
	ncap, names := c.NumCap(), c.Names()
	if res == nil {
		res = L.CreateTable(ncap, len(names))
	}
	for k := 0; k <= ncap; k++ {
		s := caps[2*k]
		if s < 0 {
			res.RawSetInt(k, lua.LFalse)
			continue
		}
		res.RawSetInt(k, lua.LString(sv.Slice(s, caps[2*k+1])))
	}
	if ncap == 0 {
		return res
	}
	dup := c.Flags()&pcre.DupNames != 0
	for _, nm := range names {
		if !dup {
			res.RawSetString(nm.Name, res.RawGetInt(nm.Groups[0]))
			continue
		}
		var list *lua.LTable
		for _, g := range nm.Groups {
			if v := res.RawGetInt(g); v != lua.LFalse {
				if list == nil {
					list = L.CreateTable(len(nm.Groups), 0)
				}
				list.Append(v)
			}
		}
		if list != nil {
			res.RawSetString(nm.Name, list)
		}
	}
	return res
}

// begin compiles regex and prepares subj for a search from byte offset
// pos. On success the caller gives sv back with pcre.PutSubject; on failure
// c is nil and msg is the error to return to Lua.
func (r *reLib) begin(regex string, flags pcre.Flags, subj string, pos int) (c *pcre.Regexp, sv *pcre.Subject, rpos int, msg string) {
	c, msg = r.cache.Get(regex, flags)
	if c == nil {
		return nil, nil, 0, msg
	}
	sv = pcre.GetSubject()
	if msg = c.Prepare(sv, subj, flags); msg == "" {
		if rpos, msg = c.StartPos(sv, pos); msg == "" {
			return c, sv, rpos, ""
		}
	}
	pcre.PutSubject(sv)
	return nil, nil, 0, msg
}

// step calls the check hook, if any, before a match attempt.
func (r *reLib) step(L *lua.LState) {
	if r.check != nil {
		r.check(L)
	}
}

// exec runs c.Exec, first bounding a backtracking match by the time limit.
func (r *reLib) exec(c *pcre.Regexp, sv *pcre.Subject, pos int, needGroups bool, caps []int) (bool, string) {
	if c.Backtracks() && r.limit != nil {
		sv.TimeLimit = r.limit()
	}
	return c.Exec(sv, pos, needGroups, caps)
}

// checkLen raises LuaJIT's error for oversize strings when a result of n
// bytes exceeds maxLen.
func (r *reLib) checkLen(L *lua.LState, n int) {
	if r.maxLen > 0 && n > r.maxLen {
		L.RaiseError("string length overflow")
	}
}

// match implements ngx.re.match(subject, regex, options?, ctx?, res_table?).
func (r *reLib) match(L *lua.LState) int {
	subj := reArgString(L, 1, "match")
	regex := reArgString(L, 2, "match")
	flags := reArgOpts(L, 3, "match")
	ctx, pos := reArgCtx(L, 4, "match")
	var res *lua.LTable
	switch v := L.Get(5).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		res = v
	default:
		reArgTypeError(L, 5, "match", "table")
	}
	c, sv, rpos, msg := r.begin(regex, flags, subj, pos)
	if c == nil {
		return PushFail(L, msg)
	}
	defer pcre.PutSubject(sv)
	var buf [24]int
	caps := c.Caps(buf[:])
	ok, msg := r.exec(c, sv, rpos, true, caps)
	if msg != "" {
		return PushFail(L, msg)
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	if ctx != nil {
		L.SetField(ctx, "pos", lua.LNumber(sv.OrigPos(caps[1])+1))
	}
	L.Push(reFillMatch(L, res, c, sv, caps))
	return 1
}

// find implements ngx.re.find(subject, regex, options?, ctx?, nth?).
func (r *reLib) find(L *lua.LState) int {
	subj := reArgString(L, 1, "find")
	regex := reArgString(L, 2, "find")
	flags := reArgOpts(L, 3, "find")
	ctx, pos := reArgCtx(L, 4, "find")
	nth := 0
	switch v := L.Get(5).(type) {
	case *lua.LNilType:
	case lua.LNumber:
		if v > 0 {
			nth = int(v)
		}
	default:
		reArgTypeError(L, 5, "find", "number")
	}
	fail := func(msg string) int {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		L.Push(lua.LString(msg))
		return 3
	}
	c, sv, rpos, msg := r.begin(regex, flags, subj, pos)
	if c == nil {
		return fail(msg)
	}
	defer pcre.PutSubject(sv)
	var buf [24]int
	caps := c.Caps(buf[:])
	ok, msg := r.exec(c, sv, rpos, nth > 0, caps)
	if msg != "" {
		return fail(msg)
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	if ctx != nil {
		L.SetField(ctx, "pos", lua.LNumber(sv.OrigPos(caps[1])+1))
	}
	if nth > c.NumCap() {
		return fail("nth out of bound")
	}
	if caps[2*nth] < 0 {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		return 2
	}
	L.Push(lua.LNumber(sv.OrigPos(caps[2*nth]) + 1))
	L.Push(lua.LNumber(sv.OrigPos(caps[2*nth+1])))
	return 2
}

// gmatch implements ngx.re.gmatch(subject, regex, options?).
func (r *reLib) gmatch(L *lua.LState) int {
	subj := reArgString(L, 1, "gmatch")
	regex := reArgString(L, 2, "gmatch")
	flags := reArgOpts(L, 3, "gmatch")
	c, msg := r.cache.Get(regex, flags)
	if c == nil {
		return PushFail(L, msg)
	}
	sv := new(pcre.Subject)
	prepErr := c.Prepare(sv, subj, flags)
	pos := 0
	done := false
	caps := c.Caps(nil)
	L.Push(L.NewFunction(func(L *lua.LState) int {
		if done {
			L.Push(lua.LNil)
			return 1
		}
		if prepErr != "" {
			done = true
			return PushFail(L, prepErr)
		}
		r.step(L)
		ok, msg := r.exec(c, sv, pos, true, caps)
		if msg != "" {
			done = true
			return PushFail(L, msg)
		}
		if !ok {
			done = true
			L.Push(lua.LNil)
			return 1
		}
		pos = caps[1]
		if caps[1] == caps[0] {
			pos = sv.NextPos(pos)
			if pos > sv.Len() {
				done = true
			}
		}
		L.Push(reFillMatch(L, nil, c, sv, caps))
		return 1
	}))
	return 1
}

// reBufPool recycles the result buffers of sub and gsub.
var reBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// sub implements ngx.re.sub(subject, regex, replace, options?).
func (r *reLib) sub(L *lua.LState) int { return r.subHelper(L, "sub", false) }

// gsub implements ngx.re.gsub(subject, regex, replace, options?).
func (r *reLib) gsub(L *lua.LState) int { return r.subHelper(L, "gsub", true) }

// subHelper implements sub (global unset) and gsub; replace is a template
// string (see pcre.Regexp.CheckTemplate) or a function of the match table.
func (r *reLib) subHelper(L *lua.LState, fname string, global bool) int {
	subjV := L.Get(1)
	subj := reArgString(L, 1, fname)
	regex := reArgString(L, 2, fname)
	var tpl string
	var fn *lua.LFunction
	switch v := L.Get(3).(type) {
	case lua.LString:
		tpl = string(v)
	case lua.LNumber:
		tpl = FormatNumber(float64(v))
	case *lua.LFunction:
		fn = v
	default:
		reArgTypeError(L, 3, fname, "string")
	}
	flags := reArgOpts(L, 4, fname)
	fail := func(msg string) int {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		L.Push(lua.LString(msg))
		return 3
	}
	c, msg := r.cache.Get(regex, flags)
	if c == nil {
		return fail(msg)
	}
	needGroups := fn != nil
	hasDollar := false
	if fn == nil {
		hasDollar, needGroups, msg = c.CheckTemplate(tpl)
		if msg != "" {
			return fail(msg)
		}
	}
	sv := pcre.GetSubject()
	defer pcre.PutSubject(sv)
	if msg := c.Prepare(sv, subj, flags); msg != "" {
		return fail(msg)
	}
	var buf [24]int
	caps := c.Caps(buf[:])
	bp := reBufPool.Get().(*[]byte)
	dst := (*bp)[:0]
	defer func() {
		if cap(dst) <= 64<<10 {
			*bp = dst[:0]
			reBufPool.Put(bp)
		}
	}()
	count := 0
	pos := 0   // run offset where the next search starts
	cpPos := 0 // orig offset of the first byte not yet copied
	for pos <= sv.Len() {
		r.step(L)
		ok, msg := r.exec(c, sv, pos, needGroups, caps)
		if msg != "" {
			return fail(msg)
		}
		if !ok {
			break
		}
		count++
		ms, me := sv.OrigPos(caps[0]), sv.OrigPos(caps[1])
		dst = append(dst, subj[cpPos:ms]...)
		switch {
		case fn != nil:
			m := reFillMatch(L, nil, c, sv, caps)
			L.Push(fn)
			L.Push(m)
			L.Call(1, 1)
			rv := L.Get(-1)
			L.Pop(1)
			switch v := rv.(type) {
			case lua.LString:
				dst = append(dst, v...)
			case lua.LNumber:
				dst = append(dst, FormatNumber(float64(v))...)
			default:
				dst = append(dst, L.ToStringMeta(rv).String()...)
			}
		case hasDollar:
			dst = c.ExpandTemplate(dst, tpl, sv, caps, r.maxLen)
		default:
			dst = append(dst, tpl...)
		}
		r.checkLen(L, len(dst))
		cpPos = me
		pos = caps[1]
		if caps[1] == caps[0] {
			pos = sv.NextPos(pos)
		}
		if !global {
			break
		}
	}
	if count == 0 {
		if _, isStr := subjV.(lua.LString); isStr {
			L.Push(subjV)
		} else {
			L.Push(lua.LString(subj))
		}
		L.Push(lua.LNumber(0))
		return 2
	}
	dst = append(dst, subj[cpPos:]...)
	r.checkLen(L, len(dst))
	L.Push(lua.LString(string(dst)))
	L.Push(lua.LNumber(count))
	return 2
}

// split implements ngx_re.split(subject, regex, options?, ctx?, max?, res?)
// with the semantics of lua-resty-core: empty matches split between
// characters but never produce an empty field at the start of a field, a
// capture of the first group is inserted after each field, and trailing
// empty fields are removed unless max is given.
func (r *reLib) split(L *lua.LState) int {
	subj := reArgString(L, 1, "split")
	regex := reArgString(L, 2, "split")
	flags := reArgOpts(L, 3, "split")
	ctx, pos := reArgCtx(L, 4, "split")
	maxFields := 0
	switch v := L.Get(5).(type) {
	case *lua.LNilType:
	case lua.LNumber:
		maxFields = int(v)
	default:
		reArgTypeError(L, 5, "split", "number")
	}
	var res *lua.LTable
	switch v := L.Get(6).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		res = v
	default:
		L.RaiseError("res is not a table")
	}
	if res == nil {
		res = L.CreateTable(4, 0)
	}
	if pos >= len(subj) {
		res.RawSetInt(1, lua.LNil)
		L.Push(res)
		return 1
	}
	c, sv, rpos, msg := r.begin(regex, flags, subj, pos)
	if c == nil {
		return PushFail(L, msg)
	}
	defer pcre.PutSubject(sv)
	needGroups := c.NumCap() > 0
	caps := c.Caps(nil)
	var out []lua.LValue
	fields := 0
	fieldStart := rpos // run offset
	search := rpos
	lastEnd := -1
	for (maxFields <= 0 || fields+1 < maxFields) && search <= sv.Len() {
		r.step(L)
		ok, msg := r.exec(c, sv, search, needGroups, caps)
		if msg != "" {
			return PushFail(L, msg)
		}
		if !ok {
			break
		}
		lastEnd = caps[1]
		if caps[0] == caps[1] {
			search = sv.NextPos(caps[1])
			if caps[0] == fieldStart || caps[0] >= sv.Len() {
				continue
			}
		} else {
			search = caps[1]
		}
		out = append(out, lua.LString(sv.Slice(fieldStart, caps[0])))
		fields++
		if c.NumCap() > 0 && caps[2] >= 0 {
			out = append(out, lua.LString(sv.Slice(caps[2], caps[3])))
		}
		fieldStart = caps[1]
	}
	out = append(out, lua.LString(subj[sv.OrigPos(fieldStart):]))
	if maxFields <= 0 {
		for len(out) > 0 && out[len(out)-1] == lua.LString("") {
			out = out[:len(out)-1]
		}
	}
	for i, v := range out {
		res.RawSetInt(i+1, v)
	}
	res.RawSetInt(len(out)+1, lua.LNil)
	if ctx != nil && lastEnd >= 0 {
		L.SetField(ctx, "pos", lua.LNumber(sv.OrigPos(lastEnd)+1))
	}
	L.Push(res)
	return 1
}

// reOpt implements ngx_re.opt(option, value). The only option OpenResty
// knows, "jit_stack_size", is accepted and ignored: neither engine has a
// JIT stack.
func reOpt(L *lua.LState) int {
	name := L.Get(1)
	if s, ok := name.(lua.LString); ok && s == "jit_stack_size" {
		if _, ok := L.Get(2).(lua.LNumber); !ok {
			reArgTypeError(L, 2, "opt", "number")
		}
		return 0
	}
	L.RaiseError("unrecognized option name")
	return 0
}
