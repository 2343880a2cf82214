// Package restycmd adds the `caddy resty` command to the Caddy binary
// the plugin is built into:
//
//	caddy resty [-e CODE] [FILE [ARGS…]]      run Lua as OpenResty's resty does
//	caddy resty run [-e CODE] [FILE [ARGS…]]  the same
//	caddy resty import [--json] nginx.conf    translate an nginx/OpenResty config
//
// `run` takes resty's options (--shdict, -I, --errlog-level) plus
// --timeout, and --request/-H/--body/--phase to run a phase script against
// a simulated request through a real resty handler.
package restycmd

import (
	"fmt"
	"os"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "resty",
		Usage: "[-e CODE] [--shdict 'NAME SIZE'] [-I DIR] [--timeout D] [--request 'METHOD /uri' [-H 'Name: v'] [--body FILE] [--phase P]] [FILE [ARGS…]] | run … | import …",
		Short: "Runs Lua on the resty engine (OpenResty's resty), or imports an nginx.conf",
		Long: `
Runs Lua code on caddy-resty's engine, with the ngx API, as OpenResty's
resty command does: the code runs outside any request (in the ngx.timer
context), ngx.say and print write to stdout, ngx.log to stderr, and the exit
status is 0, 1 after an error, or what os.exit/ngx.exit gave.

  caddy resty -e 'ngx.say(ngx.md5("hi"))'
  caddy resty --shdict 'cache 1m' script.lua arg1 arg2

With --request, the code is instead a phase script (--phase, default
content) of a real resty handler, run against that simulated request; the
response it gives is printed (status line, header fields, body):

  caddy resty --request 'GET /hello?name=x' -H 'X-Api-Key: k' \
      -e 'ngx.say("hi ", ngx.var.arg_name)'

'caddy resty import nginx.conf' prints the Caddyfile that does on
caddy-resty what an nginx/OpenResty config does (see 'caddy resty import
--help').
`,
		CobraFunc: func(cmd *cobra.Command) {
			addRunFlags(cmd)
			cmd.RunE = runCommand
			run := &cobra.Command{
				Use:   "run [-e CODE] [FILE [ARGS…]]",
				Short: "Runs Lua on the resty engine (the default of 'caddy resty')",
				RunE:  runCommand,
			}
			addRunFlags(run)
			cmd.AddCommand(run, importCommand())
		},
	})
}

// runFlags are the options of `caddy resty run`.
type runFlags struct {
	code      string
	libs      []string
	shdicts   []string
	include   []string
	timeout   string
	errlog    string
	request   string
	headers   []string
	body      string
	phase     string
	noHeaders bool
}

func addRunFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	// Options stop at the script's name: what follows are its arguments.
	f.SetInterspersed(false)
	f.StringP("eval", "e", "", "Lua code to run (before FILE, when both are given)")
	f.StringArrayP("library", "l", nil, "require this Lua library before the code runs; repeatable")
	f.StringArray("shdict", nil, "a shared dict, 'NAME SIZE' (lua_shared_dict); repeatable")
	f.StringArrayP("include", "I", nil, "a directory of Lua modules to add to the package path (first); repeatable")
	f.String("timeout", "", "budget of Lua time for each run (the script, each timer callback, each phase); default none")
	f.String("errlog-level", "warn", "lowest level of ngx.log messages written to stderr (debug, info, notice, warn, error, crit, alert, emerg)")
	f.String("request", "", "run the code as a phase script against this request: 'METHOD /path?query' (or a full URL)")
	f.StringArrayP("header", "H", nil, "a request header field, 'Name: value' (with --request); repeatable")
	f.String("body", "", "file holding the request body (with --request; - is stdin)")
	f.String("phase", "content", "phase of the script with --request: rewrite, access, content, header_filter, body_filter or log")
	f.Bool("no-headers", false, "with --request, print only the response body")
}

func readRunFlags(cmd *cobra.Command) (runFlags, error) {
	f := cmd.Flags()
	var rf runFlags
	var err error
	get := func(name string) string {
		v, e := f.GetString(name)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	rf.code = get("eval")
	rf.timeout = get("timeout")
	rf.errlog = get("errlog-level")
	rf.request = get("request")
	rf.body = get("body")
	rf.phase = get("phase")
	if rf.libs, err = f.GetStringArray("library"); err != nil {
		return rf, err
	}
	if rf.shdicts, err = f.GetStringArray("shdict"); err != nil {
		return rf, err
	}
	if rf.include, err = f.GetStringArray("include"); err != nil {
		return rf, err
	}
	if rf.headers, err = f.GetStringArray("header"); err != nil {
		return rf, err
	}
	if rf.noHeaders, err = f.GetBool("no-headers"); err != nil {
		return rf, err
	}
	return rf, err
}

func runCommand(cmd *cobra.Command, args []string) error {
	rf, err := readRunFlags(cmd)
	if err != nil {
		return usageError(err)
	}
	var file string
	if len(args) > 0 {
		file, args = args[0], args[1:]
	}
	if rf.code == "" && file == "" && len(rf.libs) == 0 {
		return usageError(fmt.Errorf("no Lua code: give -e CODE or a FILE"))
	}
	var code int
	if rf.request != "" {
		code = runRequest(rf, file, os.Stdin, os.Stdout, os.Stderr)
	} else {
		code = runConsole(rf, file, args, os.Stdout, os.Stderr, func(c int) {
			os.Exit(c)
		})
	}
	os.Exit(code)
	return nil
}

// usageError reports bad command-line use (exit status 2, as resty's).
func usageError(err error) error {
	fmt.Fprintln(os.Stderr, "ERROR:", strings.TrimSpace(err.Error()))
	os.Exit(2)
	return nil
}
