package dynupstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/internal/livetable"
)

func init() {
	caddy.RegisterModule(Admin{})
}

// Admin is the `resty` admin API module (admin.api.resty): dyups-style
// routes over the upstream registry on Caddy's admin listener.
//
//	GET    /resty/upstreams                       every cluster: servers, live health, version
//	GET    /resty/upstreams/NAME                  one cluster
//	POST   /resty/upstreams/NAME                  create or replace a cluster: an nginx dyups body
//	                                              (`server 10.0.0.1:80 weight=2; server 10.0.0.2:80 backup;`)
//	                                              or a JSON cluster ({"servers": […], …})
//	DELETE /resty/upstreams/NAME[?force=true]     delete a cluster
//	GET    /resty/upstreams/NAME/servers[/ADDR]   the servers of a cluster, or one
//	POST   /resty/upstreams/NAME/servers          add a server: {"address": …, "weight": …}
//	                                              or `server ADDR [weight=N] …;`
//	PATCH  /resty/upstreams/NAME/servers/ADDR     change a server: weight, drain, down, backup,
//	                                              max_fails, fail_timeout
//	DELETE /resty/upstreams/NAME/servers/ADDR     remove a server
//
// Changes apply in place, without a Caddy config reload: validated as
// config is, persisted in Caddy's storage, then swapped into the running
// registry atomically (package livetable); the answer is the cluster's
// new live status with its version. ADDR is a server address as
// configured or normalized, URL-escaped (`unix%2F%2Frun%2Fapp.sock`).
//
// Errors change nothing: 400 for a malformed body, an address that does
// not parse or a change that would leave a cluster with no server to send
// requests to; 404 for an unknown cluster or server; 409 for the deletion
// of a cluster the config names (a `dynamic resty NAME` source) without
// ?force=true, or the addition of a server the cluster has; 503 when
// storage fails.
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
	// The escaped path keeps a %2F of an address in one segment.
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/resty/upstreams/")
	nameEsc, sub, hasSub := strings.Cut(rest, "/")
	name, err := url.PathUnescape(nameEsc)
	if err != nil {
		return apiError(http.StatusBadRequest, fmt.Errorf("invalid cluster name: %v", err))
	}
	if name == "" && !hasSub {
		return a.handleList(w, r)
	}
	if !ValidName(name) {
		return apiError(http.StatusBadRequest, checkName(name))
	}
	if !hasSub {
		switch r.Method {
		case http.MethodGet:
			return getCluster(w, name)
		case http.MethodPost:
			return updateCluster(w, r, name)
		case http.MethodDelete:
			return deleteCluster(w, r, name)
		}
		return methodNotAllowed(w, r, "GET, POST, DELETE")
	}
	seg, addrEsc, hasAddr := strings.Cut(sub, "/")
	if seg != "servers" {
		return apiError(http.StatusNotFound, fmt.Errorf("no such route: %s (want /resty/upstreams/NAME/servers[/ADDRESS])", r.URL.Path))
	}
	if !hasAddr || addrEsc == "" {
		switch r.Method {
		case http.MethodGet:
			st, err := clusterStatus(name)
			if err != nil {
				return err
			}
			return writeJSON(w, http.StatusOK, st.Servers)
		case http.MethodPost:
			return addServer(w, r, name)
		}
		return methodNotAllowed(w, r, "GET, POST")
	}
	addr, err := url.PathUnescape(addrEsc)
	if err != nil {
		return apiError(http.StatusBadRequest, fmt.Errorf("invalid server address in the path: %v", err))
	}
	switch r.Method {
	case http.MethodGet:
		st, err := clusterStatus(name)
		if err != nil {
			return err
		}
		dial, _, err := parseAddress(addr)
		if err != nil {
			return apiError(http.StatusBadRequest, err)
		}
		for _, s := range st.Servers {
			if s.Address == dial {
				return writeJSON(w, http.StatusOK, s)
			}
		}
		return apiError(http.StatusNotFound, fmt.Errorf("no server %s in upstream %q", addr, name))
	case http.MethodPatch:
		return patchServer(w, r, name, addr)
	case http.MethodDelete:
		return removeServer(w, r, name, addr)
	}
	return methodNotAllowed(w, r, "GET, PATCH, DELETE")
}

// clusterStatus returns the live status of a cluster of the running
// config, or a 404 error.
func clusterStatus(name string) (ClusterStatus, error) {
	reg := Active()
	if st, ok := reg.ClusterStatus(name); ok {
		return st, nil
	}
	return ClusterStatus{}, notFound(reg, name)
}

// notFound is the error for an unknown cluster; it says so when the
// cluster was deleted at runtime while the config still defines it.
func notFound(reg *Registry, name string) error {
	if t := reg.Table(); t != nil {
		if meta, ok := t.Lookup(name); !ok && meta.Modified {
			return apiError(http.StatusNotFound, fmt.Errorf("no upstream cluster %q: it was deleted in place (version %d); "+
				"the config still defines it (a change of its definition in the config brings it back)", name, meta.Version))
		}
	}
	return apiError(http.StatusNotFound, fmt.Errorf("no upstream cluster %q", name))
}

func getCluster(w http.ResponseWriter, name string) error {
	st, err := clusterStatus(name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

// errNoCluster is what a change function returns for an unknown
// cluster; change turns it into the 404 (it cannot look the cluster up
// itself: it runs under the live table's lock).
var errNoCluster = errors.New("no such cluster")

// change makes a change in place through the running config's live
// table and answers with the cluster's new status.
func change(w http.ResponseWriter, r *http.Request, name, op string, force bool, fn func(cur *ClusterConfig) (*ClusterConfig, error)) error {
	reg := Active()
	t := reg.Table()
	if t == nil {
		return apiError(http.StatusNotFound, errors.New("the running config has no resty app (add the `resty` global option)"))
	}
	start := time.Now()
	// The answer shows the cluster as this change left it, not as a
	// change made right after made it.
	var after *cluster
	applied := func(livetable.Meta) { after = reg.lookup(name) }
	res, err := t.Change(name, livetable.ChangeOptions{Force: force, Request: r, Applied: applied}, fn)
	if err != nil {
		var apiErr caddy.APIError
		var conflict *livetable.ConflictError
		switch {
		case errors.Is(err, errNoCluster):
			return notFound(reg, name)
		case errors.As(err, &apiErr):
			return err
		case errors.As(err, &conflict):
			return apiError(http.StatusConflict, fmt.Errorf("upstream %q is still named by the config: %s; "+
				"remove those references first, or delete with ?force=true (their requests then get 502)",
				name, strings.Join(conflict.Referrers, "; ")))
		case errors.Is(err, livetable.ErrStorage), errors.Is(err, livetable.ErrNoConfig):
			reg.logger.Error("upstream change refused", zap.String("upstream", name), zap.String("change", op), zap.Error(err))
			return apiError(http.StatusServiceUnavailable, fmt.Errorf("upstream %q: %w", name, err))
		}
		return apiError(http.StatusInternalServerError, err)
	}
	if res.Changed {
		reg.logger.Info("upstream changed in place", zap.String("upstream", name), zap.String("change", op),
			zap.Uint64("version", res.Meta.Version), zap.Duration("took", time.Since(start)))
	}
	if after != nil {
		return writeJSON(w, http.StatusOK, after.status(time.Now().UnixNano()))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"deleted": name, "version": res.Meta.Version})
}

// updateCluster creates or replaces a cluster from a dyups or JSON body.
func updateCluster(w http.ResponseWriter, r *http.Request, name string) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	cfg, err := parseUpdateBody(r.Header.Get("Content-Type"), body)
	if err != nil {
		return apiError(http.StatusBadRequest, fmt.Errorf("upstreams.%s: %w", name, err))
	}
	if err := cfg.Validate(); err != nil {
		return apiError(http.StatusBadRequest, fmt.Errorf("upstreams.%s.%w", name, err))
	}
	return change(w, r, name, "replace", false, func(*ClusterConfig) (*ClusterConfig, error) { return cfg, nil })
}

// deleteCluster removes a cluster.
func deleteCluster(w http.ResponseWriter, r *http.Request, name string) error {
	force, err := forceParam(r)
	if err != nil {
		return err
	}
	return change(w, r, name, "delete", force, func(cur *ClusterConfig) (*ClusterConfig, error) {
		if cur == nil {
			return nil, errNoCluster
		}
		return nil, nil
	})
}

func forceParam(r *http.Request) (bool, error) {
	v := r.URL.Query().Get("force")
	if v == "" {
		return false, nil
	}
	force, err := strconv.ParseBool(v)
	if err != nil {
		return false, apiError(http.StatusBadRequest, fmt.Errorf("force: want true or false, got %q", v))
	}
	return force, nil
}

// addServer adds one server to a cluster.
func addServer(w http.ResponseWriter, r *http.Request, name string) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	srv, err := parseServerBody(r.Header.Get("Content-Type"), body)
	if err != nil {
		return apiError(http.StatusBadRequest, fmt.Errorf("upstreams.%s.servers: %w", name, err))
	}
	dial, _, err := parseAddress(srv.Address)
	if err != nil {
		return apiError(http.StatusBadRequest, fmt.Errorf("upstreams.%s.servers: address: %w", name, err))
	}
	return change(w, r, name, "add server "+srv.Address, false, func(cur *ClusterConfig) (*ClusterConfig, error) {
		if cur == nil {
			return nil, errNoCluster
		}
		if i := cur.serverIndex(dial); i >= 0 {
			return nil, apiError(http.StatusConflict, fmt.Errorf("upstream %q already has server %s (servers[%d]); PATCH it", name, srv.Address, i))
		}
		next := cur.clone()
		next.Servers = append(next.Servers, srv)
		if err := next.Validate(); err != nil {
			return nil, apiError(http.StatusBadRequest, fmt.Errorf("upstreams.%s.%w", name, err))
		}
		return next, nil
	})
}

// ServerPatch is the body of PATCH /resty/upstreams/NAME/servers/ADDRESS:
// the settings of the server to change; absent fields keep their value.
type ServerPatch struct {
	// Weight is the new weight (1 to 1000).
	Weight *int `json:"weight,omitempty"`
	// MaxFails is the new max_fails (0 to 1000).
	MaxFails *int `json:"max_fails,omitempty"`
	// FailTimeout is the new fail_timeout.
	FailTimeout *Duration `json:"fail_timeout,omitempty"`
	// Backup makes the server a backup (true) or a primary (false).
	Backup *bool `json:"backup,omitempty"`
	// Down marks the server down (true) or up again (false).
	Down *bool `json:"down,omitempty"`
	// Drain drains the server (true: no new requests, those in flight
	// finish) or takes it back (false).
	Drain *bool `json:"drain,omitempty"`
}

func (p *ServerPatch) apply(s *ServerConfig) {
	if p.Weight != nil {
		s.Weight = *p.Weight
	}
	if p.MaxFails != nil {
		n := *p.MaxFails
		s.MaxFails = &n
	}
	if p.FailTimeout != nil {
		s.FailTimeout = *p.FailTimeout
	}
	if p.Backup != nil {
		s.Backup = *p.Backup
	}
	if p.Down != nil {
		s.Down = *p.Down
	}
	if p.Drain != nil {
		s.Drain = *p.Drain
	}
}

// parsePatch reads a ServerPatch.
func parsePatch(body []byte) (*ServerPatch, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errors.New(`want a JSON object such as {"weight": 3} or {"drain": true}`)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		return nil, fmt.Errorf("decoding the JSON body: %v", err)
	}
	if _, ok := fields["address"]; ok {
		return nil, errors.New("address: a server's address cannot be changed; DELETE the server and POST the new one")
	}
	if len(fields) == 0 {
		return nil, errors.New("nothing to change (weight, drain, down, backup, max_fails, fail_timeout)")
	}
	p := new(ServerPatch)
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("decoding the JSON body: %v (fields: weight, drain, down, backup, max_fails, fail_timeout)", err)
	}
	return p, nil
}

// patchServer changes the settings of one server.
func patchServer(w http.ResponseWriter, r *http.Request, name, addr string) error {
	dial, _, err := parseAddress(addr)
	if err != nil {
		return apiError(http.StatusBadRequest, err)
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	patch, err := parsePatch(body)
	if err != nil {
		return apiError(http.StatusBadRequest, fmt.Errorf("upstreams.%s.servers[%s]: %w", name, addr, err))
	}
	return change(w, r, name, "patch server "+addr, false, func(cur *ClusterConfig) (*ClusterConfig, error) {
		if cur == nil {
			return nil, errNoCluster
		}
		i := cur.serverIndex(dial)
		if i < 0 {
			return nil, apiError(http.StatusNotFound, fmt.Errorf("no server %s in upstream %q", addr, name))
		}
		next := cur.clone()
		patch.apply(&next.Servers[i])
		if err := next.Validate(); err != nil {
			return nil, apiError(http.StatusBadRequest, fmt.Errorf("upstreams.%s.%w", name, err))
		}
		if err := checkLeftUsable(name, cur, next); err != nil {
			return nil, err
		}
		return next, nil
	})
}

// removeServer removes one server from a cluster.
func removeServer(w http.ResponseWriter, r *http.Request, name, addr string) error {
	dial, _, err := parseAddress(addr)
	if err != nil {
		return apiError(http.StatusBadRequest, err)
	}
	return change(w, r, name, "remove server "+addr, false, func(cur *ClusterConfig) (*ClusterConfig, error) {
		if cur == nil {
			return nil, errNoCluster
		}
		i := cur.serverIndex(dial)
		if i < 0 {
			return nil, apiError(http.StatusNotFound, fmt.Errorf("no server %s in upstream %q", addr, name))
		}
		if len(cur.Servers) == 1 {
			return nil, apiError(http.StatusBadRequest, fmt.Errorf("%s is the last server of upstream %q; delete the cluster instead", addr, name))
		}
		next := cur.clone()
		next.Servers = slices.Delete(next.Servers, i, i+1)
		if err := checkLeftUsable(name, cur, next); err != nil {
			return nil, err
		}
		return next, nil
	})
}

// checkLeftUsable refuses a change that leaves a cluster that had a
// server to send requests to without one.
func checkLeftUsable(name string, cur, next *ClusterConfig) error {
	if cur.usable() > 0 && next.usable() == 0 {
		return apiError(http.StatusBadRequest, fmt.Errorf("the change would leave upstream %q with no server to send requests to "+
			"(every other server is down or drained); add a server first, or delete the cluster", name))
	}
	return nil
}

// serverIndex returns the index of the server with that dial address, or -1.
func (c *ClusterConfig) serverIndex(dial string) int {
	for i := range c.Servers {
		if d, _, _ := parseAddress(c.Servers[i].Address); d == dial {
			return i
		}
	}
	return -1
}

// clone returns a copy of c whose server list can be changed; the rest
// is shared (and never modified).
func (c *ClusterConfig) clone() *ClusterConfig {
	next := *c
	next.Servers = slices.Clone(c.Servers)
	return &next
}

func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxDyupsBody+1))
	if err != nil {
		return nil, apiError(http.StatusBadRequest, fmt.Errorf("reading the body: %v", err))
	}
	if len(body) > MaxDyupsBody {
		return nil, apiError(http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", MaxDyupsBody))
	}
	return body, nil
}

// isJSON reports whether a body is JSON: by content type, or because it
// starts with '{'.
func isJSON(contentType string, trimmed []byte) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/json" || strings.HasSuffix(mt, "+json") || len(trimmed) > 0 && trimmed[0] == '{'
}

// decodeJSON decodes one JSON object, refusing unknown fields.
func decodeJSON(trimmed []byte, v any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding the JSON body: %v", err)
	}
	if dec.More() {
		return fmt.Errorf("decoding the JSON body: data after the %s object", what)
	}
	return nil
}

// parseUpdateBody reads a JSON cluster (by content type, or a body that
// starts with '{') or a dyups body.
func parseUpdateBody(contentType string, body []byte) (*ClusterConfig, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("empty body (want `server ADDR [weight=N] …;` or a JSON cluster)")
	}
	if isJSON(contentType, trimmed) {
		cfg := new(ClusterConfig)
		if err := decodeJSON(trimmed, cfg, "cluster"); err != nil {
			return nil, err
		}
		return cfg, nil
	}
	return ParseDyups(string(body))
}

// parseServerBody reads the server of POST /resty/upstreams/NAME/servers:
// a JSON server ({"address": …}) or one dyups statement
// (`server ADDR [weight=N] …;`, `server` optional).
func parseServerBody(contentType string, body []byte) (ServerConfig, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return ServerConfig{}, errors.New(`empty body (want {"address": "host:port", …} or ` + "`server ADDR [weight=N] …;`)")
	}
	if isJSON(contentType, trimmed) {
		var s ServerConfig
		if err := decodeJSON(trimmed, &s, "server"); err != nil {
			return s, err
		}
		if s.Address == "" {
			return s, errors.New("address: missing address")
		}
		return s, nil
	}
	stmts, err := splitDyups(string(body))
	if err != nil {
		return ServerConfig{}, err
	}
	if len(stmts) != 1 {
		return ServerConfig{}, fmt.Errorf("want one `server ADDR …;` statement, got %d", len(stmts))
	}
	words := stmts[0].words
	if words[0] == "server" {
		words = words[1:]
	}
	return parseServer(words)
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
var _ caddy.AdminRouter = Admin{}
