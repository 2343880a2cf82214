package restycmd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddy-resty/caddy-resty/app"
	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/shdict"
)

// inlineChunkName is how resty names -e code in errors and tracebacks.
const inlineChunkName = "(command line -e)"

// noTimeout is the budget of a run when --timeout is not given: resty's
// code runs without one.
const noTimeout = 100 * 365 * 24 * time.Hour

// dictSpec is a --shdict option.
type dictSpec struct {
	name string
	size int64
	text string
}

func parseShdicts(specs []string) ([]dictSpec, error) {
	var out []dictSpec
	seen := make(map[string]bool)
	for _, s := range specs {
		f := strings.Fields(s)
		if len(f) != 2 {
			return nil, fmt.Errorf("bad --shdict %q: want 'NAME SIZE', such as 'cache 10m'", s)
		}
		n, err := app.ParseSize(f[1])
		if err == nil {
			err = app.CheckDictSize(n, f[1])
		}
		if err != nil {
			return nil, fmt.Errorf("bad --shdict %q: %v", s, err)
		}
		if seen[f[0]] {
			return nil, fmt.Errorf("bad --shdict %q: %q given twice", s, f[0])
		}
		seen[f[0]] = true
		out = append(out, dictSpec{name: f[0], size: n, text: f[1]})
	}
	return out, nil
}

// packagePath is the lua_package_path of a run: the -I directories first
// (as resty adds them), then the current directory, as LuaJIT's default.
func packagePath(include []string) []string {
	var pp []string
	for _, dir := range include {
		dir = strings.TrimRight(dir, "/")
		if dir == "" {
			dir = "/"
		}
		pp = append(pp, filepath.Join(dir, "?.lua"), filepath.Join(dir, "?", "init.lua"))
	}
	return append(pp, "./?.lua", "./?/init.lua")
}

func parseTimeout(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return noTimeout, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		// resty-style plain seconds: --timeout 2.5
		var f float64
		if _, e := fmt.Sscanf(s, "%g", &f); e != nil || f < 0 {
			return 0, fmt.Errorf("bad --timeout %q: %v", s, err)
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d <= 0 {
		return noTimeout, nil
	}
	return d, nil
}

// envNames lists the variables of the environment: resty passes the
// whole environment to its code (nginx's env directive for each).
func envNames() []string {
	var names []string
	for _, kv := range os.Environ() {
		if name, _, ok := strings.Cut(kv, "="); ok && name != "" {
			names = append(names, name)
		}
	}
	return names
}

// syncWriter serializes the writes of the main chunk and of timer
// callbacks (which run on other goroutines) to the buffered stdout.
type syncWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Flush()
}

// runConsole runs -e code and/or a file as resty does and returns the
// exit status: 0, 1 after a Lua error, 2 for bad use, or the code given
// to os.exit/ngx.exit. exit is called by os.exit/ngx.exit after stdout is
// flushed (the command ends the process there).
func runConsole(rf runFlags, file string, args []string, stdout, stderr io.Writer, exit func(int)) int {
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "ERROR: "+format+"\n", a...)
		return code
	}
	dicts, err := parseShdicts(rf.shdicts)
	if err != nil {
		return fail(2, "%v", err)
	}
	timeout, err := parseTimeout(rf.timeout)
	if err != nil {
		return fail(2, "%v", err)
	}
	level, err := errlogLevel(rf.errlog)
	if err != nil {
		return fail(2, "%v", err)
	}
	var chunks []*luaplugin.Chunk
	for _, lib := range rf.libs {
		c, err := luaplugin.Compile("(command line -l)", "require "+strconv.Quote(lib))
		if err != nil {
			return fail(2, "bad -l %q: %v", lib, err)
		}
		chunks = append(chunks, c)
	}
	if rf.code != "" {
		c, err := luaplugin.Compile(inlineChunkName, rf.code)
		if err != nil {
			return fail(1, "%v", err)
		}
		chunks = append(chunks, c)
	}
	if file != "" {
		if _, err := os.Stat(file); err != nil {
			// resty's words and status.
			fmt.Fprintf(stderr, "Lua input file %s not found.\n", file)
			return 2
		}
		c, err := luaplugin.CompileFile(file)
		if err != nil {
			var le *luaplugin.Error
			if errors.As(err, &le) {
				return fail(1, "%s", le.Message)
			}
			return fail(1, "%v", err)
		}
		chunks = append(chunks, c)
	}

	out := &syncWriter{w: bufio.NewWriter(stdout)}
	defer out.Flush()
	pool := luaplugin.NewPool(luaplugin.Config{
		PackagePath: packagePath(rf.include),
		Timeout:     timeout,
		Env:         envNames(),
		Logger:      newNginxLogger(stderr, level),
		Console: &luaplugin.Console{
			Out: out,
			Exit: func(code int) {
				out.Flush()
				if exit != nil {
					exit(code)
				}
			},
		},
	})
	if len(dicts) > 0 {
		m := make(map[string]*shdict.Dict, len(dicts))
		for _, d := range dicts {
			sd, err := shdict.New(d.name, d.size)
			if err != nil {
				pool.Close()
				return fail(2, "--shdict '%s %s': %v", d.name, d.text, err)
			}
			m[d.name] = sd
		}
		pool.SetDicts(m)
	}

	argv := make([]string, 0, len(args)+1)
	if file != "" {
		argv = append(argv, file)
	} else {
		argv = append(argv, inlineChunkName)
	}
	argv = append(argv, args...)
	status := 0
	for _, c := range chunks {
		res := pool.RunConsole(c, argv)
		if res.Err != nil {
			out.Flush()
			msg := res.Err.Error()
			var le *luaplugin.Error
			if errors.As(res.Err, &le) && le.Traceback != "" && !strings.Contains(msg, "stack traceback:") {
				msg += "\n" + strings.TrimRight(le.Traceback, "\n")
			}
			fmt.Fprintf(stderr, "ERROR: %s\n", msg)
			status = 1
			break
		}
		if res.Exited {
			status = res.Code
			break
		}
	}
	// resty ends nginx gracefully once the code returned: timers that
	// are still pending run now with premature = true, running ones end.
	pool.Close()
	pool.WaitTimers(0)
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "ERROR: writing stdout: %v\n", err)
		if status == 0 {
			status = 1
		}
	}
	return status
}
