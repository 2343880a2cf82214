package integration

import (
	"strings"
	"testing"
)

// lua-nginx-module t/082-body-filter.t, rebuilt. The blocks' `echo`
// content is a content_by_lua that prints the same chunks (each ngx.print
// or ngx.say is one body_filter call, as each echo is).
func TestOpenRestyBodyFilter(t *testing.T) {
	const f = "lua-nginx-module t/082-body-filter.t "
	const twoLines = `ngx.say("hello world") ngx.say("hiya globe")`
	const collect = `
-- do return end
if not ngx.ctx.chunks then
    ngx.ctx.chunks = {}
end
table.insert(ngx.ctx.chunks, ngx.arg[1])
print("got chunk ", ngx.arg[1])
ngx.arg[1] = nil
if ngx.arg[2] then
    print("seen eof: ", string.upper(table.concat(ngx.ctx.chunks)))
    ngx.arg[1] = string.upper(table.concat(ngx.ctx.chunks))
end`
	const bufScalar = `
local chunk, eof = ngx.arg[1], ngx.arg[2]
local buf = ngx.ctx.buf
if eof then
    if buf then
        ngx.arg[1] = "[" .. buf .. chunk .. "]"
        return
    end
    return
end
if buf then
    ngx.ctx.buf = buf .. chunk
else
    ngx.ctx.buf = chunk
end
ngx.arg[1] = nil`
	chunks := []string{"chunk: [hello world], eof: false", "chunk: [hiya globe], eof: false", "chunk: [], eof: true"}
	coreSuite(t, "", []coreCase{
		{src: f + "TEST 1: read chunks (inline)", content: `ngx.print("hello world") ngx.print("hiya globe")`, bf: `
local chunk, eof = ngx.arg[1], ngx.arg[2]
print("chunk: [", chunk, "], eof: ", eof)`, body: "hello worldhiya globe", logs: chunks},
		{src: f + "TEST 2: read chunks (file)", content: `ngx.print("hello world") ngx.print("hiya globe")`, bf: `local chunk, eof = ngx.arg[1], ngx.arg[2]
print("chunk: [", chunk, "], eof: ", eof)`, body: "hello worldhiya globe", logs: chunks},
		{src: f + "TEST 4: rewrite chunks (upper all)", content: twoLines, bf: `ngx.arg[1] = string.upper(ngx.arg[1])`,
			body: "HELLO WORLD\nHIYA GLOBE\n"},
		{src: f + "TEST 5: rewrite chunks (truncate data)", content: twoLines, bf: `
local chunk = ngx.arg[1]
if string.match(chunk, "hello") then
    ngx.arg[1] = string.upper(chunk)
    ngx.arg[2] = true
    return
end
ngx.arg[1] = nil`, body: "HELLO WORLD\n"},
		{src: f + "TEST 6: set eof back and forth", content: twoLines, bf: `
local chunk = ngx.arg[1]
if string.match(chunk, "hello") then
    ngx.arg[1] = string.upper(chunk)
    ngx.arg[2] = true
    ngx.arg[2] = false
    ngx.arg[2] = true
    return
end
ngx.arg[1] = nil
ngx.arg[2] = true
ngx.arg[2] = false`, body: "HELLO WORLD\n"},
		{src: f + "TEST 7: set eof to original", content: twoLines, bf: `
local chunk, eof = ngx.arg[1], ngx.arg[2]
ngx.arg[2] = eof`, body: "hello world\nhiya globe\n"},
		{src: f + "TEST 8: set eof to original", content: twoLines, bf: `
local chunk, eof = ngx.arg[1], ngx.arg[2]
ngx.arg[2] = eof`, body: "hello world\nhiya globe\n"},
		{src: f + "TEST 9: fully buffered output (string scalar)", content: twoLines, bf: bufScalar,
			body: "[hello world\nhiya globe\n]"},
		{src: f + "TEST 10: fully buffered output (string table)", content: twoLines, bf: `
local chunk, eof = ngx.arg[1], ngx.arg[2]
local buf = ngx.ctx.buf
if eof then
    if buf then
        ngx.arg[1] = {"[", buf, chunk, "]"}
        return
    end
    return
end
if buf then
    ngx.ctx.buf = {buf, chunk}
else
    ngx.ctx.buf = chunk
end
ngx.arg[1] = nil`, body: "[hello world\nhiya globe\n]"},
		{src: f + "TEST 11: abort via user error (string)", content: `ngx.say("hello world") ngx.flush() ngx.say("hiya globe")`, bf: `
local chunk, eof = ngx.arg[1], ngx.arg[2]
if eof then
    error("something bad happened!")
end`, broken: true, logs: []string{"_body_filter.lua:4: something bad happened!"}},
		{src: f + "TEST 13: abort via return NGX_ERROR", content: `ngx.say("hello world") ngx.flush() ngx.say("hiya globe")`, bf: `
local chunk, eof = ngx.arg[1], ngx.arg[2]
if eof then
    return ngx.ERROR
end`, status: -1, anyBody: true, noLogs: []string{"lua error"}},
		{src: f + "TEST 14: using body_filter_by_lua and header_filter_by_lua at the same time", content: `
ngx.header.content_length = 12
ngx.say("Hello World")`, hf: `ngx.header.content_length = nil`, bf: `ngx.arg[1] = ngx.arg[1] .. "aaa"`,
			body: "Hello World\naaaaaa"},
		{src: f + "TEST 15: table arguments to ngx.arg[1] (github issue #54)", content: `ngx.print("hello")`, bf: `
if ngx.arg[1] ~= "" then
    ngx.arg[1] = {{ngx.arg[1]}, "!", "\n"}
end`, body: "hello!\n"},
		{src: f + "TEST 16: fully buffered output (string scalar, from a proxied upstream)",
			resty: "proxy_pass http://@BACKEND@/echo_body", bf: bufScalar, req: "POST /t",
			// 40000 bytes of each instead of 512: the proxy reads 32 KiB at a time
			reqBody: strings.Repeat("a", 40000) + strings.Repeat("b", 40000),
			body:    "[" + strings.Repeat("a", 40000) + strings.Repeat("b", 40000) + "]"},
		{src: f + "TEST 17: backtrace", bf: `
local bar
local function foo()
    bar()
end

function bar()
    error("something bad happened")
end

foo()`, content: `ngx.say("ok")`, broken: true, logs: []string{"something bad happened", "stack traceback:"}},
		{src: f + "TEST 21: zero-size bufs", content: `ngx.say("hello") ngx.say("world")`, bf: `ngx.arg[1] = ""`, body: ""},
		{src: f + "TEST 22: body filter + ngx.say() (github issue #386)", hf: `ngx.header.content_length = nil`, bf: collect, content: `
for i = 1, 10 do
    assert(ngx.say("hello world"))
end`, body: strings.Repeat("HELLO WORLD\n", 10)},
		{src: f + "TEST 23: body filter + ngx.say() (github issue #386), with flush", hf: `ngx.header.content_length = nil`, bf: collect, content: `
for i = 1, 10 do
    assert(ngx.say("hello world"))
    ngx.flush(true)
end`, body: strings.Repeat("HELLO WORLD\n", 10)},
		{src: f + "TEST 24: clear ngx.arg[1] and then read it", content: `ngx.say("hello") ngx.say("world")`, bf: `
ngx.arg[1] = nil
local data = ngx.arg[1]
print([[data chunk: "]], data, [["]])
ngx.arg[1] = ""
data = ngx.arg[1]
print([[data chunk 2: "]], data, [["]])`, body: "", logs: []string{`data chunk: ""`, `data chunk 2: ""`}},
		{src: f + "TEST 25: clear ngx.arg[1] and then read ngx.arg[2]", content: `ngx.say("hello") ngx.say("world")`, bf: `
ngx.arg[1] = nil
local eof = ngx.arg[2]
print([[eof: ]], eof)
ngx.arg[1] = ""
eof = ngx.arg[2]
print([[eof 2: ]], eof)`, body: "", logs: []string{"eof: false", "eof 2: false", "eof: true", "eof 2: true"}},
		{src: f + "TEST 26: no ngx.print", content: `ngx.say("ok")`, bf: `ngx.print(32) return 1`, broken: true,
			logs: []string{"API disabled in the context of body_filter_by_lua*"}},
	})
}
