package integration

import "testing"

// lua-nginx-module t/164-say.t, rebuilt.
func TestOpenRestySay(t *testing.T) {
	const f = "lua-nginx-module t/164-say.t "
	coreSuite(t, "", []coreCase{
		{src: f + "TEST 1: ngx.say (integer)", content: `ngx.say(2)`, body: "2\n"},
		{src: f + "TEST 2: ngx.say (floating point number)", content: `
ngx.say(3.1415926)
ngx.say(3.14159265357939723846)`, body: "3.1415926\n3.1415926535794\n"},
		{src: f + "TEST 3: ngx.say (table with number)", content: `
local data = {123," ", 3.1415926}
ngx.say(data)`, body: "123 3.1415926\n"},
		{src: f + "TEST 4: ngx.say min int32 -2147483648", content: `ngx.say(-2147483648)`, body: "-2147483648\n"},
		{src: f + "TEST 5: ngx.say big integer 2147483647", content: `ngx.say(2147483647)`, body: "2147483647\n"},
		{src: f + "TEST 6: ngx.say big integer -9223372036854775808", content: `ngx.say(-9223372036854775808)`, body: "-9.2233720368548e+18\n"},
		{src: f + "TEST 7: ngx.say big integer 18446744073709551615", content: `ngx.say(18446744073709551615)`, body: "1.844674407371e+19\n"},
	})
}
