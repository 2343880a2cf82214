package restycmd

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/spf13/cobra"

	"github.com/caddy-resty/caddy-resty/internal/nginximport"
)

func importCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import [--json] [--out DIR] [--prefix DIR] [--lua-dir DIR] nginx.conf",
		Short: "Prints the Caddyfile (or JSON) that does on caddy-resty what an nginx/OpenResty config does",
		Long: `
Reads an nginx or OpenResty config (its includes too) and prints a Caddyfile
that does the same on caddy-resty: server blocks become sites, locations
become matchers in nginx's order, *_by_lua* the resty handler's phases,
lua_shared_dict and upstream blocks the resty app's, proxy_pass the resty
handler's proxy_pass, return/rewrite/add_header/root/try_files their Caddy
counterparts.

Everything it cannot translate is listed with its file and line, as comments
in the output and on stderr; the exit status is 0 when the translation is
complete, 3 when something was left out, 1 on an error (a syntax error, a
missing include), 2 for bad use.

Lua code that a Caddyfile would rewrite (placeholders such as {uri}) is moved
to files under --lua-dir (default: DIR/lua with --out, else ./lua).
With --out DIR, the Caddyfile (or caddy.json) and the Lua files are written
there instead of stdout.
`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			asJSON, _ := f.GetBool("json")
			out, _ := f.GetString("out")
			prefix, _ := f.GetString("prefix")
			luaDir, _ := f.GetString("lua-dir")
			os.Exit(runImport(args[0], asJSON, out, prefix, luaDir, os.Stdout, os.Stderr))
			return nil
		},
	}
	f := cmd.Flags()
	f.Bool("json", false, "print Caddy's JSON config instead of a Caddyfile")
	f.String("out", "", "write the result (Caddyfile or caddy.json, and the Lua files) into this directory")
	f.String("prefix", "", "nginx's prefix (-p): the base of relative *_by_lua_file and lua_package_path paths (default: the config's directory, or its parent when that is named conf)")
	f.String("lua-dir", "", "where Lua code moved out of the Caddyfile is written")
	return cmd
}

// Exit statuses of caddy resty import.
const (
	importComplete   = 0
	importError      = 1
	importUsage      = 2
	importIncomplete = 3
)

func runImport(path string, asJSON bool, outDir, prefix, luaDir string, stdout, stderr io.Writer) int {
	if luaDir == "" {
		if outDir != "" {
			luaDir = filepath.Join(outDir, "lua")
		} else {
			luaDir = "lua"
		}
	}
	absLua, err := filepath.Abs(luaDir)
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: %v\n", err)
		return importUsage
	}
	res, err := nginximport.Translate(path, nginximport.Options{Prefix: prefix, LuaDir: absLua})
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: %v\n", err)
		return importError
	}
	for _, n := range res.Notes {
		fmt.Fprintf(stderr, "%s:%d: %s: %s\n", n.File, n.Line, n.Directive, n.Reason)
	}
	if len(res.Files) > 0 {
		names := make([]string, 0, len(res.Files))
		for name := range res.Files {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			p := filepath.Join(absLua, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				fmt.Fprintf(stderr, "ERROR: %v\n", err)
				return importError
			}
			if err := os.WriteFile(p, res.Files[name], 0o644); err != nil {
				fmt.Fprintf(stderr, "ERROR: %v\n", err)
				return importError
			}
		}
		fmt.Fprintf(stderr, "wrote %d Lua file(s) under %s\n", len(names), absLua)
	}
	body, name := res.Caddyfile, "Caddyfile"
	if asJSON {
		adapter := caddyconfig.GetAdapter("caddyfile")
		if adapter == nil {
			fmt.Fprintln(stderr, "ERROR: no caddyfile adapter in this binary")
			return importError
		}
		cfg, warns, err := adapter.Adapt(res.Caddyfile, map[string]any{"filename": "Caddyfile"})
		if err != nil {
			fmt.Fprintf(stderr, "ERROR: adapting the translated Caddyfile: %v\n", err)
			return importError
		}
		for _, w := range warns {
			fmt.Fprintf(stderr, "Caddyfile:%d: %s\n", w.Line, w.Message)
		}
		var pretty any
		if err := json.Unmarshal(cfg, &pretty); err == nil {
			if b, err := json.MarshalIndent(pretty, "", "\t"); err == nil {
				cfg = b
			}
		}
		body, name = append(cfg, '\n'), "caddy.json"
	}
	if outDir != "" {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "ERROR: %v\n", err)
			return importError
		}
		p := filepath.Join(outDir, name)
		if err := os.WriteFile(p, body, 0o644); err != nil {
			fmt.Fprintf(stderr, "ERROR: %v\n", err)
			return importError
		}
		fmt.Fprintf(stderr, "wrote %s\n", p)
	} else if _, err := stdout.Write(body); err != nil {
		return importError
	}
	if !res.Complete {
		fmt.Fprintf(stderr, "%d directive(s) not translated: see the list above (and the comments in the output)\n", len(res.Notes))
		return importIncomplete
	}
	return importComplete
}
