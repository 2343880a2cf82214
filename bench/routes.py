#!/usr/bin/env python3
"""caddy-resty: what loading and changing the route table costs.

For each size N (N routes in apps.resty.routes over N/10 hosts hI.example.com;
paths in turn exact `/api/vI/items`, prefix `/svcI/*` and named segments
`/userI/{id}/profile`; every 10th route with a CEL `when` condition, five
forms each with the route's index in a string literal; every 7th limited to
GET and POST; each route responding with its name), one HTTP server with
`{"handler": "resty", "routes": true}` then a static_response "no route":

  1. load: the wall time of `POST /load` of the N-route config into a fresh
     Caddy started with a config that has only the admin listener; then of a
     second `POST /load` of the same config with one route changed (a reload:
     the route compile cache keeps what did not change). Each is checked by
     requests through the gateway (a plain route, a CEL route, the changed
     route);
  2. in place: the wall time of K changes (--changes, default 200) through
     the admin routes on a kept-alive admin connection, in turn: replace route
     rX's body (`PUT /resty/routes/rX`), create route `extra` (PUT, 201),
     replace rX, delete `extra` (DELETE); each checked by the very next
     request through the gateway (rX's host and path must answer the new
     body; `extra`'s must answer its body, then "no route"). Also the time
     Caddy logged for each change (validate, persist, swap), the first change
     after the load (before a few warm-up changes that are not counted), and
     the round trip of `GET /resty/routes/rX` (the floor: client and admin
     API);
  3. through /config: the wall time of fewer changes of the same route rX
     with `PATCH /config/apps/resty/routes/X` (a Caddy reload each; a new
     admin connection per call, since a reload replaces the admin server),
     each checked the same way.

    python3 bench/routes.py [--caddy PATH] [--sizes 10,1000,10000] [--changes 200]
                            [--config-changes 10:20,1000:20,10000:5] [--json FILE]

Needs Python 3 (stdlib only) and Go (to build ./cmd/caddy unless --caddy is
given). Every listener is on a free port of 127.0.0.1/localhost; Caddy's data
and config (storage of the changes made in place, autosave) and its log go to
a temporary directory, removed at the end unless something failed.
"""
import argparse, http.client, json, os, shutil, signal, socket, subprocess, sys, tempfile, time

from benchlib import Conn, free_port, logged_times, ms, pct, stop

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


JSON = {"Content-Type": "application/json"}

# The forms of the CEL conditions (every 10th route, in turn); %(i)d is the
# route's index. Each holds for a GET from 127.0.0.1 with `X-Tenant: tI`.
CONDITIONS = [
    'req.headers["x-tenant"] == "t%(i)d"',
    '"x-tenant" in req.headers && req.headers["x-tenant"].startsWith("t%(i)d")',
    'req.method in ["GET", "HEAD"] && req.headers["x-tenant"].matches("^t%(i)d$")',
    'ip_in_cidr(req.remote_ip, "127.0.0.0/8") && req.headers["x-tenant"] == "t%(i)d"',
    '("v" in req.query && req.query["v"].exists(v, v == "%(i)d")) || req.headers["x-tenant"].lowerAscii() == "t%(i)d"',
]



def host_of(i):
    return "h%d.example.com" % (i // 10)


def path_pattern(i):
    return ("/api/v%d/items", "/svc%d/*", "/user%d/{id}/profile")[i % 3] % i


def request_path(i):
    """A path route i's pattern matches."""
    return ("/api/v%d/items", "/svc%d/a/b", "/user%d/42/profile")[i % 3] % i


def request_headers(i):
    h = {"Host": host_of(i)}
    if i % 10 == 0:
        h["X-Tenant"] = "t%d" % i
    return h


def make_route(i, body=None):
    r = {"name": "r%d" % i, "@id": "r%d" % i,
         "match": {"hosts": [host_of(i)], "paths": [path_pattern(i)]},
         "action": {"respond": {"status": 200, "body": body if body is not None else "r%d" % i}}}
    if i % 7 == 3:
        r["match"]["methods"] = ["GET", "POST"]
    if i % 10 == 0:
        r["when"] = CONDITIONS[(i // 10) % len(CONDITIONS)] % {"i": i}
    return r


def make_config(n, gw, admin, changed=None):
    """The N-route config; changed = (index, body) replaces one route's body."""
    routes = [make_route(i) for i in range(n)]
    if changed:
        routes[changed[0]] = make_route(changed[0], changed[1])
    handle = [{"handler": "resty", "routes": True},
              {"handler": "static_response", "status_code": 404, "body": "no route"}]
    return {"admin": {"listen": admin},
            "apps": {"resty": {"routes": routes},
                     "http": {"servers": {"srv0": {"listen": [gw], "routes": [{"handle": handle}],
                                                   "automatic_https": {"disable": True}}}}}}


def target(n):
    """The route the changes are made to: one in the middle without a condition."""
    x = n // 2
    return x + 1 if x % 10 == 0 else x


class Caddy:
    def __init__(self, binary, tmp, n):
        self.n = n
        self.gw = "127.0.0.1:%d" % free_port()
        self.admin = "localhost:%d" % free_port()
        self.dir = tempfile.mkdtemp(prefix="caddy-%d-" % n, dir=tmp)
        conf = os.path.join(self.dir, "empty.json")
        with open(conf, "w") as f:
            json.dump({"admin": {"listen": self.admin}}, f)
        self.log = os.path.join(self.dir, "caddy.log")
        env = dict(os.environ, XDG_DATA_HOME=self.dir + "/data", XDG_CONFIG_HOME=self.dir + "/config", HOME=self.dir)
        t0 = time.time()
        self.p = subprocess.Popen([binary, "run", "--config", conf], env=env, stdout=subprocess.DEVNULL,
                                  stderr=open(self.log, "w"), start_new_session=True)
        end = time.time() + 60
        while True:
            try:
                if Conn(self.admin, False).request("GET", "/config/", retry=False)[0] == 200:
                    break
            except Exception:
                pass
            if time.time() > end or self.p.poll() is not None:
                raise SystemExit("caddy did not come up; see " + self.log)
            time.sleep(0.1)
        self.startup = time.time() - t0

    def stop(self):
        stop(self.p)


def check(gw, host, path, want, headers=None):
    """One request through the gateway; None when it answered want, else what it answered."""
    h = {"Host": host}
    h.update(headers or {})
    try:
        st, data, _ = gw.request("GET", path, headers=h)
    except Exception as e:
        return "error %r" % e
    body = data.decode(errors="replace")
    want_status = 404 if want == "no route" else 200
    if st == want_status and body == want:
        return None
    return "%d %r" % (st, body[:200])


def load(cd, config):
    """POST /load of config; its wall time (s). Caddy answers once the new config runs."""
    body = json.dumps(config).encode()
    t0 = time.perf_counter()
    st, data, _ = Conn(cd.admin, False, timeout=300).request("POST", "/load", body, JSON, retry=False)
    dt = time.perf_counter() - t0
    if st != 200:
        raise SystemExit("POST /load of %d routes: %d %s" % (cd.n, st, data[:500]))
    return dt, len(body)


def load_checks(cd, changed):
    """Requests through the gateway after a load: a plain route, a CEL route (with and without
    the header it reads) and the changed route. Returns the failures."""
    gw = Conn(cd.gw, True)
    n, bad = cd.n, []
    plain = 1 if n > 1 else 0
    cases = [(host_of(plain), request_path(plain), request_headers(plain), "r%d" % plain)]
    cel = 10 * ((n - 1) // 20) if n > 10 else 0
    cases.append((host_of(cel), request_path(cel), request_headers(cel), "r%d" % cel))
    cases.append((host_of(cel), request_path(cel), {}, "no route"))
    if changed:
        x, body = changed
        cases.append((host_of(x), request_path(x), {}, body))
    for host, path, headers, want in cases:
        h = dict(headers)
        h.pop("Host", None)
        got = check(gw, host, path, want, h)
        if got:
            bad.append((host, path, want, got))
    gw.close()
    return bad


def admin_get(cd, name, count):
    """Wall times of GET /resty/routes/NAME on a kept-alive admin connection."""
    c = Conn(cd.admin, True)
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        st, data, _ = c.request("GET", "/resty/routes/" + name)
        out.append(time.perf_counter() - t0)
        if st != 200:
            raise SystemExit("GET /resty/routes/%s: %d %s" % (name, st, data[:200]))
    c.close()
    return out


def ops_inplace(n):
    """The cycle of changes in place: (label, method, path, body(k), status, host, request path, answer(k))."""
    x = target(n)
    rx = "r%d" % x
    extra = {"match": {"hosts": [host_of(x)], "paths": ["/extra/{id}"]}, "action": {"respond": {"body": "extra"}}}

    def replace(k):
        return json.dumps(make_route(x, "%s v%d" % (rx, k)))

    def create(k):
        e = json.loads(json.dumps(extra))
        e["action"]["respond"]["body"] = "extra v%d" % k
        return json.dumps(e)

    return [
        ("replace", "PUT", "/resty/routes/" + rx, replace, 200, host_of(x), request_path(x), lambda k: "%s v%d" % (rx, k)),
        ("create", "PUT", "/resty/routes/extra", create, 201, host_of(x), "/extra/1", lambda k: "extra v%d" % k),
        ("replace", "PUT", "/resty/routes/" + rx, replace, 200, host_of(x), request_path(x), lambda k: "%s v%d" % (rx, k)),
        ("delete", "DELETE", "/resty/routes/extra", lambda k: None, 200, host_of(x), "/extra/1", lambda k: "no route"),
    ]


def ops_config(n):
    """The change through /config: replace route X (by index) with a new body."""
    x = target(n)
    rx = "r%d" % x
    return [("patch", "PATCH", "/config/apps/resty/routes/%d" % x,
             lambda k: json.dumps(make_route(x, "%s c%d" % (rx, k))), 200, host_of(x), request_path(x),
             lambda k: "%s c%d" % (rx, k))]


def run_changes(cd, ops, count, admin_keep_alive, start=0):
    """Makes count changes (cycling through ops, starting at op start); returns wall times (s),
    wrong next answers, admin errors and the next op position."""
    admin = Conn(cd.admin, admin_keep_alive)
    gw = Conn(cd.gw, True)
    times, bad, admin_errors = [], [], []
    pos = start
    for i in range(count):
        label, method, path, body_f, want_st, host, rpath, want_f = ops[pos % len(ops)]
        k = pos
        pos += 1
        body = body_f(k)
        t0 = time.perf_counter()
        try:
            st, data, _ = admin.request(method, path, body, JSON if body is not None else {}, retry=False)
        except Exception as e:
            st, data = 0, repr(e).encode()
        dt = time.perf_counter() - t0
        if st != want_st:
            admin_errors.append((i, label, st, data[:300].decode(errors="replace")))
            print("  change %d (%s %s): %d %s" % (i, method, path, st, data[:300]), file=sys.stderr)
            admin.close()
            continue
        times.append(dt)
        got = check(gw, host, rpath, want_f(k))
        if got:
            bad.append((i, label, want_f(k), got))
    admin.close()
    gw.close()
    return times, bad, admin_errors, pos


def server_times(cd):
    """The durations Caddy logged for its route changes in place (validate, persist, swap), in order."""
    return logged_times(cd, "route changed in place")


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(binary, tmp, n, changes, config_changes, warmup):
    cd = Caddy(binary, tmp, n)
    res = {"n": n, "startup_s": cd.startup}
    try:
        print("N=%d: caddy up (admin only) in %.2fs" % (n, cd.startup), flush=True)
        x = target(n)
        cfg = make_config(n, cd.gw, cd.admin)
        res["load_s"], res["config_bytes"] = load(cd, cfg)
        res["load_bad"] = load_checks(cd, None)
        changed = (x, "r%d reloaded" % x)
        res["reload_s"], _ = load(cd, make_config(n, cd.gw, cd.admin, changed))
        res["reload_bad"] = load_checks(cd, changed)
        res["rss_kb_after_load"] = rss_kb(cd.p.pid)
        print("  POST /load: %s ms (%d bytes of config); reload with 1 route changed: %s ms; wrong answers %d" % (
            ms(res["load_s"]), res["config_bytes"], ms(res["reload_s"]), len(res["load_bad"]) + len(res["reload_bad"])),
            flush=True)
        for b in res["load_bad"] + res["reload_bad"]:
            print("  wrong answer after a load:", b, file=sys.stderr)

        ops = ops_inplace(n)
        # The first change after the load, then a few warm-up changes (not counted).
        first, bad_first, err_first, pos = run_changes(cd, ops, 1, True)
        res["inplace_first_s"] = first[0] if first else None
        _, bad_w, err_w, pos = run_changes(cd, ops, warmup, True, pos)
        res["admin_get_s"] = admin_get(cd, "r%d" % x, changes)
        logged = len(server_times(cd))
        ka, bad_ka, err_ka, pos = run_changes(cd, ops, changes, True, pos)
        srv = server_times(cd)[logged:]
        res.update(inplace_s=ka, inplace_bad=bad_first + bad_w + bad_ka, inplace_admin_errors=err_first + err_w + err_ka,
                   inplace_server_s=srv)
        if ka:
            print("  admin GET /resty/routes/r%d round trip: p50 %s p90 %s ms (the floor)" % (
                x, ms(pct(res["admin_get_s"], 50)), ms(pct(res["admin_get_s"], 90))), flush=True)
            print("  in place, first after load %s ms; then %d changes: p50 %s p90 %s p99 %s max %s ms; "
                  "next request wrong %d, admin errors %d" % (
                      ms(res["inplace_first_s"] or 0), len(ka), ms(pct(ka, 50)), ms(pct(ka, 90)), ms(pct(ka, 99)),
                      ms(max(ka)), len(res["inplace_bad"]), len(res["inplace_admin_errors"])), flush=True)
        if srv:
            print("  in place, inside Caddy (validate, persist, swap): p50 %s p99 %s max %s ms (%d logged)" % (
                ms(pct(srv, 50)), ms(pct(srv, 99)), ms(max(srv)), len(srv)), flush=True)
        for b in res["inplace_bad"][:5]:
            print("  wrong next request:", b, file=sys.stderr)

        cf, bad_cf, err_cf, _ = run_changes(cd, ops_config(n), config_changes, False)
        res.update(config_s=cf, config_bad=bad_cf, config_admin_errors=err_cf)
        res["rss_kb_end"] = rss_kb(cd.p.pid)
        if cf:
            print("  /config PATCH (%d): p50 %s max %s ms; next request wrong %d, admin errors %d" % (
                len(cf), ms(pct(cf, 50)), ms(max(cf)), len(bad_cf), len(err_cf)), flush=True)
        for b in bad_cf[:5]:
            print("  wrong next request after /config:", b, file=sys.stderr)
    finally:
        cd.stop()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--caddy", help="a Caddy binary with caddy-resty (default: go build ./cmd/caddy)")
    ap.add_argument("--sizes", default="10,1000,10000")
    ap.add_argument("--changes", type=int, default=200, help="changes in place per size")
    ap.add_argument("--config-changes", default="10:20,1000:20,10000:5",
                    help="changes through /config per size (each a reload); other sizes: 20 up to 1000 routes, else 5")
    ap.add_argument("--warmup", type=int, default=4, help="changes in place before the measured ones (not counted)")
    ap.add_argument("--json", metavar="FILE", help="write the raw numbers (seconds) to FILE (- for stdout)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="resty-routes-")
    results = []
    binary = a.caddy
    if not binary:
        binary = os.path.join(tmp, "caddy")
        subprocess.check_call(["go", "build", "-o", binary, "./cmd/caddy"], cwd=ROOT)
    cfg_changes = dict((int(k), int(v)) for k, v in (kv.split(":") for kv in a.config_changes.split(",")))
    for n in [int(s) for s in a.sizes.split(",")]:
        k = cfg_changes.get(n, 20 if n <= 1000 else 5)
        results.append(measure(binary, tmp, n, a.changes, k, a.warmup))
    shutil.rmtree(tmp, ignore_errors=True)  # kept (with Caddy's logs) when something failed

    print("\n| routes | load (POST /load) | reload, 1 route changed | in place PUT/DELETE: p50 / p90 / p99 / max "
          "| in place, inside Caddy: p50 / p99 | admin GET (floor): p50 | /config PATCH (reload): p50 / max (changes) "
          "| next request wrong |")
    print("|---:|---:|---:|---|---|---:|---|---|")
    for r in results:
        ka, srv, cf = r["inplace_s"], r["inplace_server_s"], r["config_s"]
        print("| %s | %s ms | %s ms | %s | %s | %s ms | %s | %d load, %d in place, %d /config |" % (
            format(r["n"], ","), ms(r["load_s"]), ms(r["reload_s"]),
            "%s / %s / %s / %s ms" % (ms(pct(ka, 50)), ms(pct(ka, 90)), ms(pct(ka, 99)), ms(max(ka))) if ka else "-",
            "%s / %s ms" % (ms(pct(srv, 50)), ms(pct(srv, 99))) if srv else "-",
            ms(pct(r["admin_get_s"], 50)),
            "%s / %s ms (%d)" % (ms(pct(cf, 50)), ms(max(cf)), len(cf)) if cf else "-",
            len(r["load_bad"]) + len(r["reload_bad"]), len(r["inplace_bad"]), len(r["config_bad"])))
    errors = sum(len(r["inplace_admin_errors"]) + len(r["config_admin_errors"]) for r in results)
    if errors:
        print("\n%d admin calls failed (see above); they are not in the times" % errors)
    if a.json:
        out = json.dumps(results, indent=1)
        if a.json == "-":
            print(out)
        else:
            with open(a.json, "w") as f:
                f.write(out + "\n")


if __name__ == "__main__":
    main()
