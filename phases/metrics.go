package phases

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-resty/caddy-resty/dynupstream"
	"github.com/caddy-resty/caddy-resty/luaplugin"
)

// statusWriter records the status of a response that goes straight to
// the next handler (no filter, no log phase), for the metrics.
type statusWriter struct {
	caddyhttp.ResponseWriterWrapper
	status int
}

// WriteHeader records the final status (or 101) and passes it on.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// WriteString records an implicit 200 and keeps the wrapped writer's
// WriteString, if it has one.
func (w *statusWriter) WriteString(str string) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return io.WriteString(w.ResponseWriter, str)
}

// ReadFrom records an implicit 200 and keeps the wrapped writer's
// ReadFrom (sendfile).
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriterWrapper.ReadFrom(r)
}

// record counts the request in the stats store: route, cluster, method,
// final status, duration and upstream attempts.
func (rs *reqState) record(err error) {
	st := rs.h.stats
	r := rs.req.R
	if r == nil {
		return
	}
	var code int
	if rs.sw.ResponseWriter != nil {
		code = rs.sw.status
		if err != nil {
			var he caddyhttp.HandlerError
			if errors.As(err, &he) && he.StatusCode != 0 {
				code = he.StatusCode
			} else if code == 0 {
				code = http.StatusInternalServerError
			}
		}
		if code == 0 {
			code = http.StatusOK
		}
	} else {
		code = rs.rw.finalStatus(err)
	}
	d := time.Since(rs.req.Start)
	t := st.Traffic(rs.rt.name, rs.metricsCluster())
	t.Observe(r.Method, code, d, rs.req.Start.Add(d).UnixNano())
	if rs.px.used {
		for i := range rs.px.tries {
			if tr := &rs.px.tries[i]; tr.total > 0 {
				t.ObserveUpstream(tr.total)
			}
		}
	}
}

// metricsCluster is the upstream cluster the request went to: proxy_pass's,
// the route's, or one Lua named in {http.vars.resty_upstream} that the
// registry has ("" otherwise: labels never take names from requests).
func (rs *reqState) metricsCluster() string {
	if rs.px.used && rs.px.cluster != "" {
		return rs.px.cluster
	}
	if rs.rt.route != nil {
		if c := rs.routeCluster(); c != "" {
			return c
		}
	}
	if rs.h.app == nil || (rs.h.content == nil && rs.h.rewrite == nil && rs.h.access == nil) {
		return ""
	}
	if c, ok := caddyhttp.GetVar(rs.req.R.Context(), dynupstream.UpstreamVar).(string); ok && c != "" {
		if reg := rs.h.app.Registry(); reg != nil && reg.Has(c) {
			return c
		}
	}
	return ""
}

// countLuaError counts a Lua error of the request in phase.
func (rs *reqState) countLuaError(phase luaplugin.Phase) {
	if st := rs.h.stats; st != nil {
		st.LuaError(rs.rt.name, phase.Index())
	}
}
