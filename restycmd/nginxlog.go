package restycmd

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// errlogLevel maps nginx's error_log levels (resty's --errlog-level) to
// zap's: the engine logs ngx.NOTICE and ngx.INFO at zap's info level, and
// ngx.ERR, CRIT, ALERT and EMERG at its error level.
func errlogLevel(name string) (zapcore.Level, error) {
	switch strings.ToLower(name) {
	case "debug":
		return zapcore.DebugLevel, nil
	case "info", "notice":
		return zapcore.InfoLevel, nil
	case "warn":
		return zapcore.WarnLevel, nil
	case "error", "crit", "alert", "emerg", "stderr":
		return zapcore.ErrorLevel, nil
	}
	return 0, fmt.Errorf("bad --errlog-level %q (debug, info, notice, warn, error, crit, alert or emerg)", name)
}

// newNginxLogger returns a logger that writes lines in nginx's error log
// format, as resty shows ngx.log output on stderr:
//
//	2026/12/07 10:00:00 [warn] 4242#0: [lua] (command line -e):1: hi, context: ngx.timer
func newNginxLogger(w io.Writer, level zapcore.Level) *zap.Logger {
	return zap.New(&nginxCore{w: w, mu: new(sync.Mutex), level: level, pid: os.Getpid()})
}

type nginxCore struct {
	w      io.Writer
	mu     *sync.Mutex
	level  zapcore.Level
	pid    int
	fields []zapcore.Field
}

var _ zapcore.Core = (*nginxCore)(nil)

func (c *nginxCore) Enabled(l zapcore.Level) bool { return l >= c.level }

func (c *nginxCore) With(fields []zapcore.Field) zapcore.Core {
	n := *c
	n.fields = append(append([]zapcore.Field(nil), c.fields...), fields...)
	return &n
}

func (c *nginxCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *nginxCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range append(append([]zapcore.Field(nil), c.fields...), fields...) {
		f.AddTo(enc)
	}
	var b strings.Builder
	level := e.Level.String()
	if e.Level >= zapcore.ErrorLevel {
		level = "error"
	} else if e.Level == zapcore.InfoLevel {
		level = "info"
	}
	fmt.Fprintf(&b, "%s [%s] %d#0: ", e.Time.Format("2006/01/02 15:04:05"), level, c.pid)
	if src, ok := enc.Fields["source"].(string); ok {
		b.WriteString("[lua] ")
		b.WriteString(src)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if err, ok := enc.Fields["error"]; ok {
		fmt.Fprintf(&b, ": %v", err)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		switch k {
		case "source", "error", "traceback", "phase":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, ", %s: %v", k, enc.Fields[k])
	}
	if tb, ok := enc.Fields["traceback"].(string); ok && tb != "" {
		b.WriteString("\n")
		b.WriteString(strings.TrimRight(tb, "\n"))
	}
	if ph, ok := enc.Fields["phase"].(string); ok && ph != "" {
		if ph == "timer" {
			b.WriteString(", context: ngx.timer")
		} else {
			b.WriteString(", context: " + ph + "_by_lua*")
		}
	}
	b.WriteString("\n")
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := io.WriteString(c.w, b.String())
	return err
}

func (c *nginxCore) Sync() error { return nil }
