// Package plugins bundles caddy-resty's gateway plugins: Lua modules
// embedded in the binary and registered with the Lua engine, so that a
// route's `plugins.NAME` finds `resty.plugins.NAME` with no file on disk.
// A file of the same module name on lua_package_path overrides the
// bundled one (the engine looks for files first), as in OpenResty.
//
// The plugins are written on the same plugin interface and Lua API as a
// user's (see the README's "Plugins (for authors)"), and use the toolkit
// module resty.plugin for what they share: keys from variables, consumers,
// rejections.
package plugins

import (
	"embed"
	"io/fs"
	"path"
	"strings"

	"github.com/caddy-resty/caddy-resty/luaplugin"
)

//go:embed lua
var files embed.FS

// Modules lists the bundled modules' names.
func Modules() []string {
	var names []string
	_ = fs.WalkDir(files, "lua", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".lua" {
			return err
		}
		names = append(names, strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(p, "lua/"), ".lua"), "/", "."))
		return nil
	})
	return names
}

func init() {
	for _, name := range Modules() {
		src, err := files.ReadFile("lua/" + strings.ReplaceAll(name, ".", "/") + ".lua")
		if err != nil {
			panic("plugins: " + err.Error())
		}
		luaplugin.RegisterLuaModule(name, string(src))
	}
}
