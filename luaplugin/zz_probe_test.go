package luaplugin

import (
	"testing"
	"time"
)

func TestZZProbe(t *testing.T) {
	p := newTestPool(t, Config{Timeout: time.Minute})
	code := `
local t = {a = 1, b = 2}
local s = 0
local function f(x) return x + 1 end
for i = 1, 3000000 do
  t.a = t.b + i
  s = s + f(t.a) * 2 - t["b"]
end
ngx.say(s)`
	for i := 0; i < 6; i++ {
		t0 := time.Now()
		run(t, p, PhaseContent, code)
		t.Logf("%v", time.Since(t0))
	}
}
