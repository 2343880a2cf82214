package livetable

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
)

// minWriteBackDelay is the least time a change waits for its write-back,
// so that a burst of changes goes in one config reload.
const minWriteBackDelay = time.Second

// writeBack is the state of Options.PersistToConfig: a pending write,
// the time of the last one, and the admin handler to write through.
type writeBack struct {
	timer   *time.Timer
	pending bool
	last    time.Time
	// busy is closed when the write in progress ends; changes wait for
	// it, so that none is computed from a definition the write is about
	// to replace (the reload would drop it: the config wins).
	busy chan struct{}
	via  adminVia
}

// adminVia is what a write-back needs of the admin request that made a
// change: the handler of Caddy's admin server that served it and the
// request's identity (host, origin, client address), so that the write
// goes through Caddy's /config API with the same checks.
type adminVia struct {
	handler    http.Handler
	host       string
	remoteAddr string
	tls        *tls.ConnectionState
	header     http.Header
}

func viaOf(r *http.Request) adminVia {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	v := adminVia{host: r.Host, remoteAddr: r.RemoteAddr, tls: r.TLS, header: r.Header.Clone()}
	if srv != nil {
		v.handler = srv.Handler
	}
	return v
}

// scheduleWriteBackLocked arranges for the live values to be written to
// the config: after the interval since the last write, and at least
// minWriteBackDelay after this change.
func (t *Table[V]) scheduleWriteBackLocked(interval time.Duration, r *http.Request) {
	t.wb.via = viaOf(r)
	if t.wb.pending {
		return
	}
	t.wb.pending = true
	delay := max(time.Until(t.wb.last.Add(interval)), min(interval, minWriteBackDelay))
	t.wb.timer = time.AfterFunc(delay, t.writeBackNow)
}

// waitWriteBackLocked waits for the write-back in progress, if any,
// releasing the table's lock meanwhile; it returns with the lock held and
// no write-back in progress.
func (t *Table[V]) waitWriteBackLocked() {
	for t.wb.busy != nil {
		busy := t.wb.busy
		t.mu.Unlock()
		<-busy
		t.mu.Lock()
	}
}

// writeBackNow writes the running config's live values to its
// ConfigPath through Caddy's /config API (a config reload).
func (t *Table[V]) writeBackNow() {
	t.mu.Lock()
	t.wb.pending = false
	head := t.headLocked()
	if t.closed || head == nil || head.opts.PersistToConfig <= 0 || t.wb.via.handler == nil {
		t.mu.Unlock()
		return
	}
	path := head.opts.ConfigPath
	values := t.valuesLocked()
	via := t.wb.via
	busy := make(chan struct{})
	t.wb.busy = busy
	t.mu.Unlock()

	start := time.Now()
	body, err := json.Marshal(values)
	var status int
	var msg []byte
	if err == nil {
		status, msg, err = configRequest(via, http.MethodPost, path, body)
	}
	switch {
	case err != nil:
		t.logger.Error("writing the live state back to the config", zap.String("path", path), zap.Error(err))
	case status >= 300:
		t.logger.Error("writing the live state back to the config", zap.String("path", path),
			zap.Int("status", status), zap.String("error", apiMessage(msg)))
	default:
		t.logger.Info("wrote the live state back to the config", zap.String("path", path),
			zap.Int("entries", len(values)), zap.Duration("took", time.Since(start)))
	}

	t.mu.Lock()
	t.wb.busy = nil
	t.wb.last = time.Now()
	close(busy)
	t.mu.Unlock()
}

// configRequest makes a request to Caddy's /config API in process,
// through the admin handler that served a change: the same code path as
// a client's /config request (the admin listener's host, origin and
// access checks included), so the change is validated, persisted by
// autosave and shown by GET /config/ like any other. (Caddy v2.11.9
// exports no function that changes one path of the config; caddy.Load
// replaces the whole config.)
func configRequest(via adminVia, method, path string, body []byte) (int, []byte, error) {
	if via.handler == nil {
		return 0, nil, errors.New("the /config API is not reachable")
	}
	req, err := http.NewRequest(method, path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.RequestURI = path
	req.Host = via.host
	req.RemoteAddr = via.remoteAddr
	req.TLS = via.tls
	req.Header = via.header.Clone()
	for _, h := range []string{"Content-Length", "Transfer-Encoding", "If-Match", "Cache-Control", "Accept-Encoding"} {
		req.Header.Del(h)
	}
	req.Header.Set("Content-Type", "application/json")
	rec := &recorder{header: make(http.Header), status: http.StatusOK}
	via.handler.ServeHTTP(rec, req)
	return rec.status, rec.body.Bytes(), nil
}

// apiMessage extracts the message of an admin API error response.
func apiMessage(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(body))
}

// recorder is the http.ResponseWriter of an in-process /config request.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(status int) {
	if !rec.wrote {
		rec.status, rec.wrote = status, true
	}
}

func (rec *recorder) Write(b []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	return rec.body.Write(b)
}

// Interface guards.
var (
	_ http.ResponseWriter = (*recorder)(nil)
	_ io.Writer           = (*recorder)(nil)
)
