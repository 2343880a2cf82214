package caddyfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// parsePluginConfig parses the configuration of one plugin, given after
// `plugin NAME` (in a route) or `global_plugin NAME`, the dispenser being on
// NAME; place names it in errors:
//
//	plugin NAME                       -> {}
//	plugin NAME `{"json": "object"}`  -> the object, as written
//	plugin NAME {
//		key value ...                 -> see parseObject
//	}
//
// A plugin's configuration is always a JSON object.
func parsePluginConfig(d *caddyfile.Dispenser, place string) (json.RawMessage, error) {
	if d.NextArg() {
		v, err := scalarValue(d, place+": ")
		if err != nil {
			return nil, err
		}
		raw, ok := v.(json.RawMessage)
		if !ok || raw[0] != '{' {
			return nil, d.Errf("%s: a plugin's configuration is a block or a JSON object in backquotes, not %q", place, d.Val())
		}
		if d.NextArg() {
			return nil, d.Errf("%s: too many arguments after the JSON object", place)
		}
		if blockFollows(d) {
			return nil, d.Errf("%s: give the configuration either as JSON or as a block, not both", place)
		}
		return raw, nil
	}
	obj, _, err := parseObject(d, place+": ")
	if err != nil {
		return nil, err
	}
	if obj == nil {
		obj = map[string]any{}
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, d.Errf("%s: %v", place, err)
	}
	return out, nil
}

// openBlock reports whether a block opens at the end of the current line,
// consuming its opening brace if so. A block opened and closed right away
// (`{` on the line, `}` alone on the next) is consumed too and reported as
// empty.
func openBlock(d *caddyfile.Dispenser) (opened, empty bool) {
	if d.NextBlock(d.Nesting()) {
		return true, false
	}
	// NextBlock returns false, having consumed both braces, for an empty
	// block; otherwise it leaves the cursor where it was: on a directive or
	// an argument, never on an unquoted closing brace.
	if d.Val() == "}" && !d.Token().Quoted() {
		return true, true
	}
	return false, false
}

// blockFollows reports whether a block opens at the end of the current line,
// leaving the cursor on its opening brace if so (for an error message).
func blockFollows(d *caddyfile.Dispenser) bool {
	opened, _ := openBlock(d)
	if opened {
		d.Prev() // from the block's first token, or its closing brace
	}
	return opened
}

// parseObject parses the block that opens at the end of the current line,
// if there is one, into a JSON object (ok is false when there is no block).
// Errors name the key, after prefix, as a dotted path (`redis.address`):
//
//   - `key value`: a string; a number when value is an unquoted JSON
//     number (`100`, `-1.5`, `1e3`, but not `007` or `0x10`); true, false or
//     null when value is that unquoted word. A quoted value ("100",
//     "true") is always a string.
//   - `key v1 v2 …`: an array of such values.
//   - `key { … }`: an object, parsed the same way (recursively). An empty
//     object is `key {` with `}` on the next line (the Caddyfile allows no
//     token after `{` on its line), or `{}` in backquotes.
//   - a key given several times: an array of its values, in order
//     (`consumer { … }` twice gives "consumer": [{…}, {…}]).
//   - `key[] …`: the key's value is an array even with one value: each
//     occurrence appends its values (`whitelist[] 10.0.0.0/8` gives
//     "whitelist": ["10.0.0.0/8"]) or its block; `key[]` alone gives [].
//   - a value in backquotes, or a heredoc, whose text starts with `{` or `[`
//     is JSON, taken as written and compacted; it must be valid. To have a
//     string starting with `{` or `[`, use double quotes.
//
// A key with neither value nor block, and a key with both, are errors.
func parseObject(d *caddyfile.Dispenser, prefix string) (obj map[string]any, ok bool, err error) {
	nesting := d.Nesting()
	opened, empty := openBlock(d)
	if !opened {
		return nil, false, nil
	}
	obj = map[string]any{}
	if empty {
		return obj, true, nil
	}
	type entry struct {
		vals []any
		list bool // written key[]
	}
	entries := map[string]*entry{}
	var keys []string
	for more := true; more; more = d.NextBlock(nesting) {
		key, list := d.Val(), false
		if k, cut := strings.CutSuffix(key, "[]"); cut && !d.Token().Quoted() {
			key, list = k, true
		}
		if key == "" {
			return nil, false, d.Errf("%s%q: empty key", prefix, d.Val())
		}
		e := entries[key]
		if e == nil {
			e = &entry{list: list}
			entries[key] = e
			keys = append(keys, key)
		} else if e.list != list {
			return nil, false, d.Errf("%s%s: given both as %s and as %s[]", prefix, key, key, key)
		}
		var args []any
		for d.NextArg() {
			v, err := scalarValue(d, prefix+key+": ")
			if err != nil {
				return nil, false, err
			}
			args = append(args, v)
		}
		sub, hasBlock, err := parseObject(d, prefix+key+".")
		if err != nil {
			return nil, false, err
		}
		switch {
		case hasBlock && len(args) > 0:
			return nil, false, d.Errf("%s%s: give either values or a block, not both", prefix, key)
		case hasBlock:
			e.vals = append(e.vals, sub)
		case list:
			e.vals = append(e.vals, args...)
		case len(args) == 0:
			return nil, false, d.Errf("%s%s: missing value (a value, a block, or %s[] for an empty list)", prefix, key, key)
		case len(args) == 1:
			e.vals = append(e.vals, args[0])
		default:
			e.vals = append(e.vals, args)
		}
	}
	for _, k := range keys {
		e := entries[k]
		switch {
		case e.list && e.vals == nil:
			obj[k] = []any{}
		case e.list || len(e.vals) > 1:
			obj[k] = e.vals
		default:
			obj[k] = e.vals[0]
		}
	}
	return obj, true, nil
}

// jsonNumber is the grammar of a JSON number.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// scalarValue converts the current token to a JSON value as described in
// parseObject: a json.Number, a bool, nil, a json.RawMessage (a JSON literal
// in backquotes or a heredoc) or a string.
func scalarValue(d *caddyfile.Dispenser, place string) (any, error) {
	text := d.Val()
	if d.Token().Quoted() {
		raw := d.ValRaw()
		backquoted := strings.HasPrefix(raw, "`")
		heredoc := raw == text // ValRaw adds the quotes of a quoted string, not a heredoc's markers
		if t := strings.TrimSpace(text); (backquoted || heredoc) && t != "" && (t[0] == '{' || t[0] == '[') {
			var buf bytes.Buffer
			if err := json.Compact(&buf, []byte(t)); err != nil {
				return nil, d.Errf("%sinvalid JSON %s: %v (use double quotes for a string)", place, abbreviate(t), err)
			}
			return json.RawMessage(buf.Bytes()), nil
		}
		return text, nil
	}
	switch text {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	if jsonNumber.MatchString(text) {
		return json.Number(text), nil
	}
	return text, nil
}

// abbreviate quotes s for an error message, cut if long.
func abbreviate(s string) string {
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return fmt.Sprintf("%q", s)
}
