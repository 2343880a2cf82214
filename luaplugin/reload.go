package luaplugin

import (
	"fmt"
	"os"
	"sort"
	"sync"
)

// Lua files change while Caddy runs; a `caddy reload` with an unchanged
// config does nothing, and a forced one rebuilds everything. Pool
// .ReloadFiles (the admin route POST /resty/lua/reload) brings edited
// files in instead, without a config reload: *_by_lua_file scripts are
// recompiled and swapped in place (the next run of every handler that uses
// them runs the new code), and when a module loaded with `require` changed,
// the states are retired so that new requests load the modules afresh
// (requests in flight finish on the old code). A file that no longer
// compiles refuses the whole reload, naming file and line, and nothing
// changes.

// scriptFiles holds the *_by_lua_file chunks of a pool, one per path, shared
// by every handler (of every config) that uses the pool.
type scriptFiles struct {
	mu    sync.Mutex
	files map[string]*Chunk
}

// CompileFile compiles a *_by_lua_file script for this pool: a path already
// compiled gives the same chunk, recompiled in place first if the file
// changed on disk (so a forced config reload picks up edits).
func (p *Pool) CompileFile(path string) (*Chunk, error) {
	sf := &p.scripts
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if c, ok := sf.files[path]; ok {
		fresh, err := refreshed(c, path)
		if err != nil {
			return nil, err
		}
		if fresh != nil {
			adopt(c, fresh)
		}
		return c, nil
	}
	c, err := CompileFile(path)
	if err != nil {
		return nil, err
	}
	if sf.files == nil {
		sf.files = make(map[string]*Chunk)
	}
	sf.files[path] = c
	return c, nil
}

// refreshed recompiles c's file when it changed on disk since c was
// compiled; it returns nil when it did not.
func refreshed(c *Chunk, path string) (*Chunk, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading Lua file: %w", err)
	}
	if st.ModTime().Equal(c.mtime) && st.Size() == c.size {
		return nil, nil
	}
	return CompileFile(path)
}

func adopt(c, fresh *Chunk) {
	c.mtime, c.size = fresh.mtime, fresh.size
	c.proto.Store(fresh.proto.Load())
}

// ReloadResult tells what ReloadFiles changed.
type ReloadResult struct {
	// Scripts lists the *_by_lua_file scripts recompiled.
	Scripts []string `json:"scripts"`
	// Modules is true when a module file loaded with `require` changed:
	// the Lua states were retired and new requests load modules afresh.
	Modules bool `json:"modules"`
}

// ReloadFiles recompiles the scripts whose files changed and, when a module
// file changed, retires the states. All or nothing: if a changed script no
// longer compiles, the error names it and nothing changes.
func (p *Pool) ReloadFiles() (ReloadResult, error) {
	sf := &p.scripts
	sf.mu.Lock()
	defer sf.mu.Unlock()
	res := ReloadResult{Scripts: []string{}}
	fresh := make(map[*Chunk]*Chunk)
	paths := make([]string, 0, len(sf.files))
	for path := range sf.files {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		c := sf.files[path]
		f, err := refreshed(c, path)
		if err != nil {
			return ReloadResult{}, err
		}
		if f != nil {
			fresh[c] = f
			res.Scripts = append(res.Scripts, path)
		}
	}
	for c, f := range fresh {
		adopt(c, f)
	}
	if p.files.changed() {
		res.Modules = true
		p.Reset()
	}
	return res, nil
}
