package app

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func TestPersistToConfigInterval(t *testing.T) {
	for _, c := range []struct {
		p    *PersistToConfig
		want time.Duration
		err  string
	}{
		{nil, 0, ""},
		{&PersistToConfig{}, DefaultPersistInterval, ""},
		{&PersistToConfig{Interval: caddy.Duration(30 * time.Second)}, 30 * time.Second, ""},
		{&PersistToConfig{Interval: caddy.Duration(time.Millisecond)}, 0, "persist_to_config.interval: 1ms is below the minimum of 1s"},
	} {
		got, err := c.p.interval()
		if got != c.want || c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%+v: %s %v, want %s %q", c.p, got, err, c.want, c.err)
		}
	}
}
