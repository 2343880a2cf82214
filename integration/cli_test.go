package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readmeConsoleBlocks returns the ```console blocks of the README that run
// `caddy resty`: each as its commands (the `$ ` lines) and the output
// they print (the other lines).
func readmeConsoleBlocks(t *testing.T) (blocks [][2][]string) {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var cur *[2][]string
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case line == "```console":
			cur = &[2][]string{}
		case line == "```" && cur != nil:
			if len(cur[0]) > 0 && strings.Contains(strings.Join(cur[0], "\n"), "caddy resty") {
				blocks = append(blocks, *cur)
			}
			cur = nil
		case cur != nil && strings.HasPrefix(line, "$ "):
			cur[0] = append(cur[0], strings.TrimPrefix(line, "$ "))
		case cur != nil:
			cur[1] = append(cur[1], line)
		}
	}
	return blocks
}

// TestRestyCLIReadmeExamples runs the README's `caddy resty` examples with
// the real binary (a shell runs each block's commands in order, `caddy`
// on its PATH) and compares what they print with what the README shows.
func TestRestyCLIReadmeExamples(t *testing.T) {
	bin := hostileCaddyBin(t)
	dir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, "caddy")); err != nil {
		t.Fatal(err)
	}
	blocks := readmeConsoleBlocks(t)
	if len(blocks) < 2 {
		t.Fatalf("found %d README blocks with caddy resty examples", len(blocks))
	}
	n := 0
	for i, blk := range blocks {
		script := strings.Join(blk[0], "\n") + "\n"
		cmd := exec.Command("bash", "-c", script)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("block %d: %v", i, err)
		}
		want := strings.Join(blk[1], "\n") + "\n"
		if string(out) != want {
			t.Errorf("block %d:\n%s\nprinted:\n%s\nthe README shows:\n%s", i, script, out, want)
		}
		n += len(blk[0])
	}
	t.Logf("%d README commands in %d blocks", n, len(blocks))
}

// TestRestyCLIProcess checks what only a real process shows: the exit
// status of os.exit from a timer callback, output flushed before it, and
// the usage errors' status.
func TestRestyCLIProcess(t *testing.T) {
	bin := hostileCaddyBin(t)
	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, append([]string{"resty"}, args...)...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	if out, _, code := run("-e", `print("before") ngx.timer.at(0, function() print("in timer") os.exit(7) end) ngx.sleep(1) print("not reached")`); out != "before\nin timer\n" || code != 7 {
		t.Errorf("os.exit in a timer: %q %d", out, code)
	}
	if _, errs, code := run(); code != 2 || !strings.Contains(errs, "no Lua code") {
		t.Errorf("no code: %q %d", errs, code)
	}
	if out, _, code := run("run", "-e", "print(arg[0])"); out != "(command line -e)\n" || code != 0 {
		t.Errorf("run -e: %q %d", out, code)
	}
	if _, errs, code := run("--shdict", "x", "-e", "print(1)"); code != 2 || !strings.Contains(errs, "bad --shdict") {
		t.Errorf("bad shdict: %q %d", errs, code)
	}
}
