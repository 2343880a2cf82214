package nginximport_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-resty/caddy-resty"
	"github.com/caddy-resty/caddy-resty/internal/nginximport"
)

// copyConf copies integration/testdata/nginx/NAME into a temp dir with
// the test placeholders filled in, and returns the dir.
func copyConf(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("..", "..", "integration", "testdata", "nginx", name)
	dst := t.TempDir()
	repl := strings.NewReplacer("@PORT@", "18080", "@PORT2@", "18081", "@B1@", "19001", "@B2@", "19002", "@B3@", "19003",
		"@MODULES@", "/usr/lib/nginx/modules")
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), []byte(repl.Replace(string(b))), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// adapt runs Caddy's caddyfile adapter on a translation.
func adapt(t *testing.T, res *nginximport.Result) map[string]any {
	t.Helper()
	ad := caddyconfig.GetAdapter("caddyfile")
	js, warns, err := ad.Adapt(res.Caddyfile, map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapt: %v\n%s", err, numbered(res.Caddyfile))
	}
	for _, w := range warns {
		t.Errorf("adapt warning: %s:%d: %s", w.File, w.Line, w.Message)
	}
	var cfg map[string]any
	if err := json.Unmarshal(js, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func numbered(b []byte) string {
	var sb strings.Builder
	for i, l := range strings.Split(string(b), "\n") {
		sb.WriteString(strings.Repeat(" ", 4-len(itoa(i+1))) + itoa(i+1) + "  " + l + "\n")
	}
	return sb.String()
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestTestdataAdapts(t *testing.T) {
	for _, name := range []string{"hello", "limit", "gateway", "upstreams"} {
		t.Run(name, func(t *testing.T) {
			dir := copyConf(t, name)
			res, err := nginximport.Translate(filepath.Join(dir, "conf", "nginx.conf"), nginximport.Options{LuaDir: filepath.Join(dir, "caddy-lua")})
			if err != nil {
				t.Fatal(err)
			}
			adapt(t, res)
			if testing.Verbose() {
				t.Logf("Caddyfile:\n%s", numbered(res.Caddyfile))
				for _, n := range res.Notes {
					t.Logf("note: %s", n)
				}
			}
		})
	}
}
