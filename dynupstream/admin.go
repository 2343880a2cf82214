package dynupstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(Admin{})
}

// configPath is where the registry lives in Caddy's config.
const configPath = "/config/apps/resty/upstreams"

// Admin is the `resty` admin API module (admin.api.resty): dyups-style
// routes over the upstream registry on Caddy's admin listener.
//
//	GET    /resty/upstreams       every cluster with its servers and their live health
//	GET    /resty/upstreams/NAME  one cluster
//	POST   /resty/upstreams/NAME  create or replace a cluster: an nginx dyups body
//	                              (`server 10.0.0.1:80 weight=2; server 10.0.0.2:80 backup;`)
//	                              or a JSON cluster ({"servers": […], …})
//	DELETE /resty/upstreams/NAME  delete a cluster
//
// POST and DELETE are changes of the config: they go through Caddy's
// /config API (the same validation, persisted like any /config change,
// shown by GET /config/), so a change this API makes and one made with
// /config are the same thing. A malformed body gets 400 with the reason
// and changes nothing.
type Admin struct{}

// CaddyModule returns the Caddy module information.
func (Admin) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.resty",
		New: func() caddy.Module { return new(Admin) },
	}
}

// Routes returns the admin routes.
func (a Admin) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/resty/upstreams", Handler: caddy.AdminHandlerFunc(a.handleList)},
		{Pattern: "/resty/upstreams/", Handler: caddy.AdminHandlerFunc(a.handleCluster)},
	}
}

func (Admin) handleList(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, r, "GET")
	}
	return writeJSON(w, http.StatusOK, Active().Status())
}

func (a Admin) handleCluster(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimPrefix(r.URL.Path, "/resty/upstreams/")
	if name == "" {
		return a.handleList(w, r)
	}
	if !ValidName(name) {
		return apiError(http.StatusBadRequest, checkName(name))
	}
	switch r.Method {
	case http.MethodGet:
		st, ok := Active().ClusterStatus(name)
		if !ok {
			return apiError(http.StatusNotFound, fmt.Errorf("no upstream cluster %q", name))
		}
		return writeJSON(w, http.StatusOK, st)
	case http.MethodPost:
		return a.update(w, r, name)
	case http.MethodDelete:
		return a.delete(w, r, name)
	}
	return methodNotAllowed(w, r, "GET, POST, DELETE")
}

// update creates or replaces a cluster from a dyups or JSON body.
func (Admin) update(w http.ResponseWriter, r *http.Request, name string) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxDyupsBody+1))
	if err != nil {
		return apiError(http.StatusBadRequest, fmt.Errorf("reading the body: %v", err))
	}
	if len(body) > MaxDyupsBody {
		return apiError(http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", MaxDyupsBody))
	}
	cfg, err := parseUpdateBody(r.Header.Get("Content-Type"), body)
	if err != nil {
		return apiError(http.StatusBadRequest, fmt.Errorf("upstreams.%s: %w", name, err))
	}
	if err := cfg.Validate(); err != nil {
		return apiError(http.StatusBadRequest, fmt.Errorf("upstreams.%s.%w", name, err))
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return apiError(http.StatusInternalServerError, err)
	}
	// POST sets a key of an existing object; PUT also creates the
	// objects on the way (apps, resty, upstreams) but refuses an
	// existing key. Try the one that fits, then the other if the config
	// changed in between.
	methods := []string{http.MethodPost, http.MethodPut}
	if !upstreamsExist(r) {
		methods[0], methods[1] = methods[1], methods[0]
	}
	var status int
	var msg []byte
	for _, m := range methods {
		status, msg, err = configRequest(r, m, configPath+"/"+name, js)
		if err != nil {
			return apiError(http.StatusInternalServerError, err)
		}
		if status < 300 {
			break
		}
	}
	if status >= 300 {
		return relayError(status, msg)
	}
	st, _ := Active().ClusterStatus(name)
	return writeJSON(w, http.StatusOK, st)
}

// parseUpdateBody reads a JSON cluster (by content type, or a body that
// starts with '{') or a dyups body.
func parseUpdateBody(contentType string, body []byte) (*ClusterConfig, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("empty body (want `server ADDR [weight=N] …;` or a JSON cluster)")
	}
	if mt == "application/json" || strings.HasSuffix(mt, "+json") || trimmed[0] == '{' {
		cfg := new(ClusterConfig)
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(cfg); err != nil {
			return nil, fmt.Errorf("decoding the JSON body: %v", err)
		}
		if dec.More() {
			return nil, errors.New("decoding the JSON body: data after the cluster object")
		}
		return cfg, nil
	}
	return ParseDyups(string(body))
}

// delete removes a cluster.
func (Admin) delete(w http.ResponseWriter, r *http.Request, name string) error {
	if !Active().Has(name) {
		return apiError(http.StatusNotFound, fmt.Errorf("no upstream cluster %q", name))
	}
	status, msg, err := configRequest(r, http.MethodDelete, configPath+"/"+name, nil)
	if err != nil {
		return apiError(http.StatusInternalServerError, err)
	}
	if status >= 300 {
		return relayError(status, msg)
	}
	return writeJSON(w, http.StatusOK, map[string]string{"deleted": name})
}

// upstreamsExist reports whether the config has apps.resty.upstreams.
func upstreamsExist(r *http.Request) bool {
	status, body, err := configRequest(r, http.MethodGet, configPath, nil)
	return err == nil && status == http.StatusOK && !bytes.Equal(bytes.TrimSpace(body), []byte("null"))
}

// configRequest makes a request to Caddy's /config API through the admin
// handler that serves r, in process: it is the same code path as a
// client's /config request (the admin listener's host, origin and access
// checks included, since r's are carried over), so the change is
// validated, persisted and shown by GET /config/ like any other.
// (Caddy v2.11.9 exports no function that changes a path of the config;
// caddy.Load replaces the whole config.)
func configRequest(r *http.Request, method, path string, body []byte) (int, []byte, error) {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil || srv.Handler == nil {
		return 0, nil, errors.New("the /config API is not reachable from this request")
	}
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.RequestURI = path
	req.Host = r.Host
	req.RemoteAddr = r.RemoteAddr
	req.TLS = r.TLS
	req.Header = r.Header.Clone()
	for _, h := range []string{"Content-Type", "Content-Length", "Transfer-Encoding", "If-Match", "Cache-Control", "Accept-Encoding"} {
		req.Header.Del(h)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: make(http.Header), status: http.StatusOK}
	srv.Handler.ServeHTTP(rec, req)
	return rec.status, rec.body.Bytes(), nil
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

// relayError turns the /config API's error response into this route's.
// A config that fails to load (500 from /config) was a bad change: 400.
func relayError(status int, body []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if status == http.StatusInternalServerError && strings.HasPrefix(msg, "loading new config: ") {
		status = http.StatusBadRequest
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return apiError(status, errors.New(msg))
}

func apiError(status int, err error) error {
	return caddy.APIError{HTTPStatus: status, Err: err}
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) error {
	w.Header().Set("Allow", allow)
	return apiError(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed", r.Method))
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return apiError(http.StatusInternalServerError, err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// Interface guards.
var (
	_ caddy.AdminRouter   = Admin{}
	_ http.ResponseWriter = (*recorder)(nil)
)
