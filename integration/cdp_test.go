//go:build linux

package integration

// A minimal Chrome DevTools Protocol client for the browser tests: it
// starts a headless chromium of its own, attaches to its page over the
// DevTools websocket and offers the few calls the tests need (navigate,
// evaluate, viewport, screenshot) plus the page's console errors.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// cdpCallTimeout bounds one DevTools call.
const cdpCallTimeout = 20 * time.Second

// cdpBrowser is a headless chromium process started by a test.
type cdpBrowser struct {
	cmd     *exec.Cmd
	profile string
	// endpoint is host:port of the DevTools HTTP endpoint.
	endpoint string

	stderrMu sync.Mutex
	stderr   bytes.Buffer
	exited   chan struct{}
}

// cdpChromium returns the chromium binary, or skips the test when there is
// none and RESTY_REQUIRE_BROWSER is not set (with it set, a missing
// browser fails the test).
func cdpChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("RESTY_REQUIRE_BROWSER") != "" {
		t.Fatal("chromium not found and RESTY_REQUIRE_BROWSER is set (apt-get install chromium)")
	}
	t.Skip("chromium not found (set RESTY_REQUIRE_BROWSER=1 to make this a failure)")
	return ""
}

// cdpStartBrowser starts headless chromium with a fresh profile and waits
// for its DevTools endpoint. Cleanup kills it and removes the profile.
func cdpStartBrowser(t *testing.T) *cdpBrowser {
	t.Helper()
	bin := cdpChromium(t)
	profile, err := os.MkdirTemp("", "resty-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	b := &cdpBrowser{profile: profile, exited: make(chan struct{})}
	b.cmd = exec.Command(bin,
		"--headless", "--no-sandbox", "--disable-gpu",
		"--remote-debugging-port=0",
		// x/net/websocket always sends an Origin header, which chromium
		// refuses on the DevTools socket unless allowed.
		"--remote-allow-origins=http://127.0.0.1",
		"--user-data-dir="+profile,
		"--no-first-run", "--no-default-browser-check",
		"--disable-dev-shm-usage", "--disable-background-networking",
		"--disable-extensions", "--disable-sync", "--mute-audio",
		"about:blank")
	// Its own process group: cleanup ends chromium's helper processes too.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := b.cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(profile)
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		os.RemoveAll(profile)
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(b.close)

	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			b.stderrMu.Lock()
			if b.stderr.Len() < 1<<20 {
				b.stderr.WriteString(line + "\n")
			}
			b.stderrMu.Unlock()
			if rest, ok := strings.CutPrefix(line, "DevTools listening on "); ok {
				select {
				case found <- strings.TrimSpace(rest):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() {
		_ = b.cmd.Wait()
		close(b.exited)
	}()

	select {
	case ws := <-found:
		u, err := url.Parse(ws)
		if err != nil {
			t.Fatalf("chromium's DevTools address %q: %v", ws, err)
		}
		b.endpoint = u.Host
	case <-b.exited:
		t.Fatalf("chromium exited at start:\n%s", b.stderrText())
	case <-time.After(30 * time.Second):
		t.Fatalf("chromium did not print its DevTools address within 30s:\n%s", b.stderrText())
	}
	return b
}

// stderrText is what chromium wrote to stderr so far.
func (b *cdpBrowser) stderrText() string {
	b.stderrMu.Lock()
	defer b.stderrMu.Unlock()
	return b.stderr.String()
}

// close kills chromium's process group, waits for it and removes the
// profile directory.
func (b *cdpBrowser) close() {
	if b.cmd.Process != nil {
		select {
		case <-b.exited:
		default:
			_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
			select {
			case <-b.exited:
			case <-time.After(10 * time.Second):
			}
		}
	}
	os.RemoveAll(b.profile)
}

// cdpTarget is one entry of /json/list.
type cdpTarget struct {
	ID                   string `json:"id"`
	Type                 string `json:"type"`
	URL                  string `json:"url"`
	WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
}

// page attaches to the browser's first page (opening one if there is
// none) and enables the Runtime, Log and Page domains.
func (b *cdpBrowser) page(t *testing.T) *cdpPage {
	t.Helper()
	var targets []cdpTarget
	if err := cdpGetJSON("GET", "http://"+b.endpoint+"/json/list", &targets); err != nil {
		t.Fatalf("listing chromium's pages: %v", err)
	}
	wsURL := ""
	for _, tg := range targets {
		if tg.Type == "page" && tg.WebSocketDebuggerURL != "" {
			wsURL = tg.WebSocketDebuggerURL
			break
		}
	}
	if wsURL == "" {
		var tg cdpTarget
		if err := cdpGetJSON("PUT", "http://"+b.endpoint+"/json/new?about:blank", &tg); err != nil {
			t.Fatalf("opening a chromium page: %v", err)
		}
		wsURL = tg.WebSocketDebuggerURL
	}
	p, err := cdpDial(wsURL)
	if err != nil {
		t.Fatalf("attaching to chromium's page: %v\n%s", err, b.stderrText())
	}
	t.Cleanup(p.close)
	for _, domain := range []string{"Runtime.enable", "Log.enable", "Page.enable"} {
		if err := p.call(domain, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// cdpGetJSON sends a request to the DevTools HTTP endpoint and decodes
// its JSON answer.
func cdpGetJSON(method, u string, out any) error {
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		return err
	}
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading: %w", method, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d: %s", method, u, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: decoding %q: %w", method, u, body, err)
	}
	return nil
}

// cdpMessage is a DevTools message: a reply (ID set) or an event (Method
// set).
type cdpMessage struct {
	ID     int64           `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    string `json:"data"`
	} `json:"error,omitempty"`
}

// cdpPage is a DevTools session on one page.
type cdpPage struct {
	ws      *websocket.Conn
	writeMu sync.Mutex

	mu       sync.Mutex
	nextID   int64
	pending  map[int64]chan cdpMessage
	errs     []string
	readErr  error
	done     chan struct{}
	events   chan cdpMessage
	closeOne sync.Once
}

// cdpDial connects to a page's DevTools websocket and starts reading.
func cdpDial(wsURL string) (*cdpPage, error) {
	cfg, err := websocket.NewConfig(wsURL, "http://127.0.0.1")
	if err != nil {
		return nil, fmt.Errorf("websocket config for %s: %w", wsURL, err)
	}
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", wsURL, err)
	}
	ws.MaxPayloadBytes = 64 << 20 // screenshots
	p := &cdpPage{
		ws:      ws,
		pending: make(map[int64]chan cdpMessage),
		done:    make(chan struct{}),
		events:  make(chan cdpMessage, 4096),
	}
	go p.read()
	return p, nil
}

// read dispatches replies to their callers, records console errors and
// queues the other events (dropping them when nobody reads the queue).
func (p *cdpPage) read() {
	defer close(p.done)
	for {
		var data []byte
		if err := websocket.Message.Receive(p.ws, &data); err != nil {
			p.mu.Lock()
			p.readErr = err
			p.mu.Unlock()
			return
		}
		var m cdpMessage
		if err := json.Unmarshal(data, &m); err != nil {
			continue
		}
		if m.ID != 0 {
			p.mu.Lock()
			ch := p.pending[m.ID]
			delete(p.pending, m.ID)
			p.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		if e := cdpConsoleError(m); e != "" {
			p.mu.Lock()
			p.errs = append(p.errs, e)
			p.mu.Unlock()
		}
		select {
		case p.events <- m:
		default:
		}
	}
}

// cdpConsoleError describes an event that is a console error, an uncaught
// exception or an error-level log entry; "" for any other event.
func cdpConsoleError(m cdpMessage) string {
	switch m.Method {
	case "Runtime.consoleAPICalled":
		var ev struct {
			Type string `json:"type"`
			Args []struct {
				Value       any    `json:"value"`
				Description string `json:"description"`
			} `json:"args"`
		}
		if json.Unmarshal(m.Params, &ev) != nil || ev.Type != "error" && ev.Type != "assert" {
			return ""
		}
		var parts []string
		for _, a := range ev.Args {
			if a.Description != "" {
				parts = append(parts, a.Description)
			} else {
				parts = append(parts, fmt.Sprint(a.Value))
			}
		}
		return "console." + ev.Type + ": " + strings.Join(parts, " ")
	case "Runtime.exceptionThrown":
		var ev struct {
			Details struct {
				Text      string `json:"text"`
				URL       string `json:"url"`
				Line      int    `json:"lineNumber"`
				Exception *struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		if json.Unmarshal(m.Params, &ev) != nil {
			return "exception (undecodable)"
		}
		d := ev.Details.Text
		if ev.Details.Exception != nil {
			d += " " + ev.Details.Exception.Description
		}
		return fmt.Sprintf("exception at %s:%d: %s", ev.Details.URL, ev.Details.Line+1, d)
	case "Log.entryAdded":
		var ev struct {
			Entry struct {
				Level  string `json:"level"`
				Source string `json:"source"`
				Text   string `json:"text"`
				URL    string `json:"url"`
			} `json:"entry"`
		}
		if json.Unmarshal(m.Params, &ev) != nil || ev.Entry.Level != "error" {
			return ""
		}
		return fmt.Sprintf("log %s error: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
	}
	return ""
}

// close ends the DevTools session.
func (p *cdpPage) close() {
	p.closeOne.Do(func() { _ = p.ws.Close() })
}

// consoleErrors returns the console errors seen so far.
func (p *cdpPage) consoleErrors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

// call sends one DevTools command and waits for its reply; result (if not
// nil) receives the reply's result.
func (p *cdpPage) call(method string, params, result any) error {
	p.mu.Lock()
	if p.readErr != nil {
		err := p.readErr
		p.mu.Unlock()
		return fmt.Errorf("%s: DevTools connection closed: %w", method, err)
	}
	p.nextID++
	id := p.nextID
	ch := make(chan cdpMessage, 1)
	p.pending[id] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.pending, id)
		p.mu.Unlock()
	}()

	if params == nil {
		params = struct{}{}
	}
	msg := struct {
		ID     int64  `json:"id"`
		Method string `json:"method"`
		Params any    `json:"params"`
	}{id, method, params}
	p.writeMu.Lock()
	err := websocket.JSON.Send(p.ws, msg)
	p.writeMu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: sending: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d) %s", method, m.Error.Message, m.Error.Code, m.Error.Data)
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				return fmt.Errorf("%s: decoding the result %.200s: %w", method, m.Result, err)
			}
		}
		return nil
	case <-p.done:
		return fmt.Errorf("%s: DevTools connection closed", method)
	case <-time.After(cdpCallTimeout):
		return fmt.Errorf("%s: no reply within %s", method, cdpCallTimeout)
	}
}

// waitEvent waits for the next event named method (events before it are
// dropped).
func (p *cdpPage) waitEvent(method string, timeout time.Duration) (cdpMessage, error) {
	deadline := time.After(timeout)
	for {
		select {
		case m := <-p.events:
			if m.Method == method {
				return m, nil
			}
		case <-p.done:
			return cdpMessage{}, fmt.Errorf("waiting for %s: DevTools connection closed", method)
		case <-deadline:
			return cdpMessage{}, fmt.Errorf("no %s within %s", method, timeout)
		}
	}
}

// navigate loads url, as typed in the address bar, and waits for its load
// event.
func (p *cdpPage) navigate(u string) error {
	return p.navigateFrom(u, "")
}

// navigateFrom loads url as if followed from a link on the page referrer
// (sent as Referer; none if ""), and waits for its load event.
func (p *cdpPage) navigateFrom(u, referrer string) error {
	// Drop queued events: the load event waited for must be this page's.
	for drained := false; !drained; {
		select {
		case <-p.events:
		default:
			drained = true
		}
	}
	var res struct {
		ErrorText string `json:"errorText"`
	}
	params := map[string]any{"url": u}
	if referrer != "" {
		params["referrer"] = referrer
	}
	if err := p.call("Page.navigate", params, &res); err != nil {
		return err
	}
	if res.ErrorText != "" {
		return fmt.Errorf("navigating to %s: %s", u, res.ErrorText)
	}
	if _, err := p.waitEvent("Page.loadEventFired", 20*time.Second); err != nil {
		return fmt.Errorf("navigating to %s: %w", u, err)
	}
	return nil
}

// eval evaluates a JavaScript expression in the page (awaiting a promise)
// and decodes its value into out (if not nil).
func (p *cdpPage) eval(expr string, out any) error {
	var res struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception *struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := p.call("Runtime.evaluate", map[string]any{
		"expression":    expr,
		"returnByValue": true,
		"awaitPromise":  true,
	}, &res)
	if err != nil {
		return err
	}
	if d := res.ExceptionDetails; d != nil {
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		return fmt.Errorf("evaluating %.80q: %s", expr, msg)
	}
	if out == nil {
		return nil
	}
	if len(res.Result.Value) == 0 {
		return fmt.Errorf("evaluating %.80q: no value (type %s)", expr, res.Result.Type)
	}
	if err := json.Unmarshal(res.Result.Value, out); err != nil {
		return fmt.Errorf("evaluating %.80q: decoding %.200s: %w", expr, res.Result.Value, err)
	}
	return nil
}

// viewport emulates a screen of width×height CSS pixels; mobile also
// emulates a phone (device scale 3, mobile viewport handling).
func (p *cdpPage) viewport(width, height int, mobile bool) error {
	scale := 1.0
	if mobile {
		scale = 3
	}
	return p.call("Emulation.setDeviceMetricsOverride", map[string]any{
		"width":             width,
		"height":            height,
		"deviceScaleFactor": scale,
		"mobile":            mobile,
	}, nil)
}

// screenshot captures the viewport as PNG.
func (p *cdpPage) screenshot() ([]byte, error) {
	var res struct {
		Data string `json:"data"`
	}
	if err := p.call("Page.captureScreenshot", map[string]any{"format": "png"}, &res); err != nil {
		return nil, err
	}
	png, err := base64.StdEncoding.DecodeString(res.Data)
	if err != nil {
		return nil, fmt.Errorf("decoding the screenshot: %w", err)
	}
	if len(png) == 0 {
		return nil, errors.New("empty screenshot")
	}
	return png, nil
}
