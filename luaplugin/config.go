package luaplugin

import (
	"os"
	"runtime"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Config configures a pool of Lua states.
type Config struct {
	// PackagePath lists the templates `require` searches, as in
	// OpenResty's lua_package_path ("/etc/caddy/lua/?.lua").
	PackagePath []string
	// Timeout is the budget of one Lua run, counted in Lua time (waits
	// excluded); a run over it is stopped, its request gets a 500 and its
	// thread is dropped. The body_filter runs of one request share one.
	Timeout time.Duration
	// MaxStates is the number of Lua states (OpenResty's workers), each
	// serving many requests at once; 0 means two per GOMAXPROCS.
	MaxStates int
	// MaxPendingTimers caps ngx.timer.at timers waiting to fire.
	MaxPendingTimers int
	// MaxRunningTimers caps timers running at once.
	MaxRunningTimers int
	// MaxStringSize caps the strings Go-side functions build (string.rep,
	// table.concat, gsub results, cjson, request bodies read into Lua).
	MaxStringSize int
	// MaxMemory is the Go heap size (bytes) past which runs that are
	// allocating are stopped; 0 means DefaultMaxMemory.
	MaxMemory int64
	// StateWaitTimeout bounds how long a request waits for its Lua state
	// while other runs hold it.
	StateWaitTimeout time.Duration
	// MaxBodySize caps a request body read with ngx.req.read_body (nginx's
	// client_max_body_size); a larger one gets 413.
	MaxBodySize int64
	// BodyBufferSize is the largest body kept in memory; larger ones (up to
	// MaxBodySize) go to a temp file (nginx's client_body_buffer_size).
	BodyBufferSize int64
	// BodyTimeout bounds each read of a request body (nginx's
	// client_body_timeout).
	BodyTimeout time.Duration
	// Env lists the environment variables os.getenv may read ("NAME", or
	// "NAME=value" to set one), as nginx's env directive.
	Env []string
	// LogQueue and LogWorkers bound the log phase: how many finished
	// requests may wait for their log scripts, and how many run at once.
	LogQueue   int
	LogWorkers int
	// Logger receives Lua logs and errors outside requests.
	Logger *zap.Logger
	// Console, when set, makes the states a console's (the caddy resty
	// command): see Console.
	Console *Console
}

// Defaults.
const (
	DefaultTimeout          = time.Second
	DefaultMaxPendingTimers = 1024
	DefaultMaxRunningTimers = 256
	DefaultMaxStringSize    = 64 << 20
	DefaultMaxMemory        = 1 << 30
	DefaultStateWaitTimeout = 10 * time.Second
	DefaultMaxBodySize      = 1 << 20
	DefaultBodyTimeout      = 60 * time.Second
	DefaultLogQueue         = 10000
)

// withDefaults fills in the defaults of unset fields.
func (cfg Config) withDefaults() Config {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxStates <= 0 {
		cfg.MaxStates = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.MaxPendingTimers <= 0 {
		cfg.MaxPendingTimers = DefaultMaxPendingTimers
	}
	if cfg.MaxRunningTimers <= 0 {
		cfg.MaxRunningTimers = DefaultMaxRunningTimers
	}
	if cfg.MaxStringSize <= 0 {
		cfg.MaxStringSize = DefaultMaxStringSize
	}
	if cfg.MaxMemory <= 0 {
		cfg.MaxMemory = DefaultMaxMemory
	}
	if cfg.StateWaitTimeout <= 0 {
		cfg.StateWaitTimeout = DefaultStateWaitTimeout
	}
	if cfg.MaxBodySize <= 0 {
		cfg.MaxBodySize = DefaultMaxBodySize
	}
	if cfg.BodyBufferSize <= 0 || cfg.BodyBufferSize > cfg.MaxBodySize {
		cfg.BodyBufferSize = cfg.MaxBodySize
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.LogQueue <= 0 {
		cfg.LogQueue = DefaultLogQueue
	}
	if cfg.LogWorkers <= 0 {
		cfg.LogWorkers = runtime.GOMAXPROCS(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return cfg
}

// envFrom resolves lua_env entries: "NAME" takes the variable from the
// process environment (when set), "NAME=value" sets it.
func envFrom(list []string) map[string]string {
	env := make(map[string]string, len(list))
	for _, e := range list {
		if name, val, ok := strings.Cut(e, "="); ok {
			env[name] = val
		} else if val, ok := os.LookupEnv(e); ok {
			env[e] = val
		}
	}
	return env
}
