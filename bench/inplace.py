#!/usr/bin/env python3
"""caddy-resty: what an upstream change costs, in place and through /config.

For each size N (N clusters in apps.resty.upstreams and N routes in the HTTP
server, route /cI proxying to cluster cI through `dynamic resty cI`):

  * the wall time of changes to cluster c0 (add, remove, re-weight, drain,
    replace, in turn) through the admin routes (in place; on a kept-alive
    admin connection and with a new connection per call) and through
    /config (a Caddy reload; fewer changes at large N), each checked by the
    very next request through the gateway (which must reach the server the
    change selects);

then, for the load size (default 10), the requests broken during 200
changes under wrk load, with keep-alive connections and with
`Connection: close`, for both paths (wrk's socket errors and non-2xx
answers), and the spread of 10,000 requests after re-weighting c0 to 5:3:2.

    python3 bench/inplace.py [--caddy PATH] [--sizes 10,1000,10000] [--changes 200]
                             [--load-sizes 10] [--skip-load]

Needs Python 3 (stdlib only), Go (to build ./cmd/caddy and the backend
unless --caddy is given) and wrk (Debian: apt-get install wrk).
"""
import argparse, http.client, json, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time

from benchlib import Conn, free_port, logged_times, ms, pct, stop

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def wait_ready(admin, gw, log, timeout):
    end = time.time() + timeout
    while time.time() < end:
        try:
            st, _, _ = Conn(admin, False).request("GET", "/resty/upstreams/c0", retry=False)
            st2, _, _ = Conn(gw, False).request("GET", "/c0", retry=False)
            if st == 200 and st2 == 200:
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit("caddy did not come up; see " + log)


def make_config(n, gw, admin, x, y):
    ups = {"c%d" % i: {"servers": [{"address": x}, {"address": y}]} for i in range(n)}
    routes = [{"match": [{"path": ["/c%d" % i]}],
               "handle": [{"handler": "reverse_proxy",
                           "dynamic_upstreams": {"source": "resty", "upstream": "c%d" % i}}],
               "terminal": True} for i in range(n)]
    return {"admin": {"listen": admin},
            "apps": {"resty": {"upstreams": ups},
                     "http": {"servers": {"srv0": {"listen": [gw], "routes": routes,
                                                   "automatic_https": {"disable": True}}}}}}


class Caddy:
    def __init__(self, binary, tmp, n, backends):
        self.n = n
        self.gw = "127.0.0.1:%d" % free_port()
        self.admin = "localhost:%d" % free_port()
        self.x, self.y, self.z = backends
        self.dir = tempfile.mkdtemp(prefix="caddy-%d-" % n, dir=tmp)
        self.conf = os.path.join(self.dir, "config.json")
        with open(self.conf, "w") as f:
            json.dump(make_config(n, self.gw, self.admin, self.x, self.y), f)
        self.log = os.path.join(self.dir, "caddy.log")
        env = dict(os.environ, XDG_DATA_HOME=self.dir + "/data", XDG_CONFIG_HOME=self.dir + "/config", HOME=self.dir)
        t0 = time.time()
        self.p = subprocess.Popen([binary, "run", "--config", self.conf], env=env, stdout=subprocess.DEVNULL,
                                  stderr=open(self.log, "w"), start_new_session=True)
        wait_ready(self.admin, self.gw, self.log, 300)
        self.startup = time.time() - t0

    def stop(self):
        stop(self.p)


def addr_path(a):
    return a  # host:port needs no escaping


def ops_inplace(cd):
    """The cycle of changes through the admin routes: (method, path, body, backend the next request reaches)."""
    x, y = cd.x, cd.y
    base = "/resty/upstreams/c0"
    return [
        ("re-weight", "PATCH", base + "/servers/" + addr_path(y), '{"weight":1000}', y),
        ("drain", "PATCH", base + "/servers/" + addr_path(y), '{"drain":true}', x),
        ("remove", "DELETE", base + "/servers/" + addr_path(y), None, x),
        ("add", "POST", base + "/servers", json.dumps({"address": y, "weight": 1000}), y),
        ("replace", "POST", base, json.dumps({"servers": [{"address": x}, {"address": y}]}), x),
    ]


def ops_config(cd):
    """The same cycle through /config (each a Caddy reload)."""
    x, y = cd.x, cd.y
    base = "/config/apps/resty/upstreams/c0"
    return [
        ("re-weight", "POST", base + "/servers/1/weight", "1000", y),
        ("drain", "POST", base + "/servers/1/drain", "true", x),
        ("remove", "DELETE", base + "/servers/1", None, x),
        ("add", "POST", base + "/servers", json.dumps({"address": y, "weight": 1000}), y),
        ("replace", "POST", base, json.dumps({"servers": [{"address": x}, {"address": y}]}), x),
    ]


def run_changes(cd, ops, count, admin_keep_alive, check=True, gap=0.0, stop_flag=None):
    """Makes count changes (cycling through ops); returns wall times (s), failed checks, admin errors."""
    admin = Conn(cd.admin, admin_keep_alive)
    gw = Conn(cd.gw, True)
    times, bad, admin_errors = [], [], 0
    pos = 0
    for i in range(count):
        name, method, path, body, want = ops[pos % len(ops)]
        pos += 1
        headers = {"Content-Type": "application/json"} if body is not None else {}
        t0 = time.perf_counter()
        try:
            st, data, _ = admin.request(method, path, body, headers, retry=False)
            if st != 200:
                print("  change %s: %d %s" % (name, st, data[:200]), file=sys.stderr)
        except Exception as e:
            st = 0
        dt = time.perf_counter() - t0
        if st != 200:
            # The caller cannot tell whether the change applied: count it,
            # and put the cluster back in a known state (the last op of
            # the cycle replaces it) before going on with the cycle.
            admin_errors += 1
            admin.close()
            _, m2, p2, b2, _ = ops[-1]
            for _ in range(20):
                try:
                    if admin.request(m2, p2, b2, {"Content-Type": "application/json"})[0] == 200:
                        break
                except Exception:
                    time.sleep(0.05)
            pos = 0
            continue
        times.append(dt)
        if check:
            st, _, r = gw.request("GET", "/c0")
            got = "127.0.0.1:" + (r.getheader("X-Backend") or "?")
            if st != 200 or got != want:
                bad.append((i, name, st, got, want))
        if gap:
            time.sleep(gap)
    admin.close()
    gw.close()
    return times, bad, admin_errors


def admin_get(cd, count):
    """Wall times of GET /resty/upstreams/c0 on a kept-alive admin connection."""
    c = Conn(cd.admin, True)
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        c.request("GET", "/resty/upstreams/c0")
        out.append(time.perf_counter() - t0)
    c.close()
    return out


def server_times(cd):
    """The durations the gateway logged for its changes in place (validate, persist, swap), in order."""
    return logged_times(cd, "upstream changed in place")


def wrk_under_changes(cd, ops, changes, keep_alive, gap, conns):
    cmd = ["wrk", "-t2", "-c%d" % conns, "-d600s", "http://%s/c0" % cd.gw]
    if not keep_alive:
        cmd[1:1] = ["-H", "Connection: close"]
    w = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    time.sleep(1.0)
    t0 = time.time()
    times, bad, admin_errors = run_changes(cd, ops, changes, True, check=False, gap=gap)
    took = time.time() - t0
    time.sleep(0.5)
    os.killpg(w.pid, signal.SIGINT)
    out = w.communicate(timeout=30)[0]
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m|h)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res = {
        "requests": int(m.group(1)) if m else 0,
        "rps": float(rps.group(1)) if rps else 0,
        "socket": tuple(int(g) for g in sock.groups()) if sock else (0, 0, 0, 0),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "changes": len(times), "admin_errors": admin_errors, "seconds": took,
        "p50": statistics.median(times) if times else 0,
    }
    if not m:
        print(out, file=sys.stderr)
    return res


def weights(cd, n=10000, threads=4):
    body = json.dumps({"servers": [{"address": cd.x, "weight": 5}, {"address": cd.y, "weight": 3},
                                   {"address": cd.z, "weight": 2}]})
    st, data, _ = Conn(cd.admin, False).request("POST", "/resty/upstreams/c0", body, {"Content-Type": "application/json"})
    if st != 200:
        raise SystemExit("re-weighting: %d %s" % (st, data))
    counts, lock = {}, threading.Lock()
    per = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]

    def worker(k):
        c = Conn(cd.gw, True)
        local = {}
        for _ in range(k):
            st, _, r = c.request("GET", "/c0", retry=False)
            key = "127.0.0.1:" + (r.getheader("X-Backend") or "?") if st == 200 else "status %d" % st
            local[key] = local.get(key, 0) + 1
        with lock:
            for k2, v in local.items():
                counts[k2] = counts.get(k2, 0) + v

    ts = [threading.Thread(target=worker, args=(k,)) for k in per]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    want = {cd.x: 0.5, cd.y: 0.3, cd.z: 0.2}
    return {a: (counts.get(a, 0), counts.get(a, 0) / n, w) for a, w in want.items()}, counts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--caddy", help="a Caddy binary with caddy-resty (default: go build ./cmd/caddy)")
    ap.add_argument("--sizes", default="10,1000,10000")
    ap.add_argument("--changes", type=int, default=200, help="changes per path and size (in place)")
    ap.add_argument("--config-changes", default="10:200,1000:50,10000:10",
                    help="changes through /config per size (each is a reload)")
    ap.add_argument("--load-sizes", default="10")
    ap.add_argument("--load-changes", type=int, default=200)
    ap.add_argument("--gap", type=float, default=0.01, help="seconds between changes under load")
    ap.add_argument("--conns", type=int, default=32, help="wrk connections")
    ap.add_argument("--skip-load", action="store_true")
    a = ap.parse_args()
    if not a.skip_load and not shutil.which("wrk"):
        raise SystemExit("needs wrk (apt-get install -y wrk), or --skip-load")
    tmp = tempfile.mkdtemp(prefix="resty-inplace-")
    binary = a.caddy
    if not binary:
        binary = os.path.join(tmp, "caddy")
        subprocess.check_call(["go", "build", "-o", binary, "./cmd/caddy"], cwd=ROOT)
    backend = os.path.join(tmp, "backend")
    subprocess.check_call(["go", "build", "-o", backend, "./bench/backend"], cwd=ROOT)
    backends = ["127.0.0.1:%d" % free_port() for _ in range(3)]
    be = subprocess.Popen([backend, "-addr", ",".join(backends)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
    cfg_changes = dict((int(k), int(v)) for k, v in (kv.split(":") for kv in a.config_changes.split(",")))
    wall, load, weight = [], [], None
    try:
        time.sleep(0.3)
        for n in [int(s) for s in a.sizes.split(",")]:
            cd = Caddy(binary, tmp, n, backends)
            try:
                print("N=%d: caddy up in %.1fs" % (n, cd.startup), flush=True)
                run_changes(cd, ops_inplace(cd), 10, True)  # warm-up
                floor = admin_get(cd, a.changes)
                logged = len(server_times(cd))
                ka, bad_ka, err_ka = run_changes(cd, ops_inplace(cd), a.changes, True)
                nc, bad_nc, err_nc = run_changes(cd, ops_inplace(cd), a.changes, False)
                srv = server_times(cd)[logged:]
                k = cfg_changes.get(n, 10)
                cf, bad_cf, err_cf = run_changes(cd, ops_config(cd), k, False)
                row = (n, ka, nc, cf, len(bad_ka) + len(bad_nc), len(bad_cf), err_ka + err_nc, err_cf, srv, floor)
                wall.append(row)
                print("  admin GET round trip: p50 %s p90 %s ms (the floor: client and admin API)" % (
                    ms(pct(floor, 50)), ms(pct(floor, 90))), flush=True)
                print("  in place, keep-alive: p50 %s p90 %s p99 %s max %s ms; next request wrong %d" % (
                    ms(pct(ka, 50)), ms(pct(ka, 90)), ms(pct(ka, 99)), ms(max(ka)), len(bad_ka)), flush=True)
                print("  in place, new conn:   p50 %s p90 %s p99 %s max %s ms; next request wrong %d" % (
                    ms(pct(nc, 50)), ms(pct(nc, 90)), ms(pct(nc, 99)), ms(max(nc)), len(bad_nc)), flush=True)
                print("  in place, in Caddy:   p50 %s p90 %s p99 %s max %s ms (validate, persist, swap; %d changes)" % (
                    ms(pct(srv, 50)), ms(pct(srv, 90)), ms(pct(srv, 99)), ms(max(srv)), len(srv)), flush=True)
                if cf:
                    print("  /config (%d):          p50 %s p90 %s max %s ms; next request wrong %d" % (
                        len(cf), ms(pct(cf, 50)), ms(pct(cf, 90)), ms(max(cf)), len(bad_cf)), flush=True)
                for b in (bad_ka + bad_nc)[:5]:
                    print("  wrong next request:", b, file=sys.stderr)
                if not a.skip_load and str(n) in a.load_sizes.split(","):
                    for path, ops in (("admin routes (in place)", ops_inplace(cd)), ("/config (reload)", ops_config(cd))):
                        for keep_alive in (True, False):
                            r = wrk_under_changes(cd, ops, a.load_changes, keep_alive, a.gap, a.conns)
                            mode = "keep-alive" if keep_alive else "Connection: close"
                            load.append((n, path, mode, r))
                            print("  under load, %s, %s: %d requests (%.0f/s), socket errors %s, non-2xx %d, %d changes "
                                  "(p50 %s ms), admin errors %d" % (path, mode, r["requests"], r["rps"], r["socket"],
                                                                     r["non2xx"], r["changes"], ms(r["p50"]),
                                                                     r["admin_errors"]), flush=True)
                    weight = weights(cd)
                    print("  weights 5:3:2 over 10,000 requests:", weight[1], flush=True)
            finally:
                cd.stop()
    finally:
        stop(be)

    print("\n| clusters + routes | in place, kept-alive admin connection: p50 / p90 / p99 / max | "
          "in place, new connection: p50 / p90 | in place, inside Caddy: p50 / p99 | admin GET (floor): p50 | "
          "/config (reload): p50 / max (changes) | next request wrong |")
    print("|---:|---|---|---|---|---|---:|")
    for n, ka, nc, cf, bad, bad_cf, _, _, srv, floor in wall:
        cfs = "%s / %s ms (%d)" % (ms(pct(cf, 50)), ms(max(cf)), len(cf)) if cf else "-"
        print("| %s | %s / %s / %s / %s ms | %s / %s ms | %s / %s ms | %s ms | %s | %d in place, %d /config |" % (
            format(n, ","), ms(pct(ka, 50)), ms(pct(ka, 90)), ms(pct(ka, 99)), ms(max(ka)),
            ms(pct(nc, 50)), ms(pct(nc, 90)), ms(pct(srv, 50)), ms(pct(srv, 99)), ms(pct(floor, 50)),
            cfs, bad, bad_cf))
    if load:
        print("\n| clusters | path | wrk connections | requests | socket errors (connect/read/write/timeout) | non-2xx | changes | admin errors |")
        print("|---:|---|---|---:|---|---:|---:|---:|")
        for n, path, mode, r in load:
            print("| %s | %s | %s | %d | %s | %d | %d | %d |" % (
                format(n, ","), path, mode, r["requests"], "/".join(map(str, r["socket"])), r["non2xx"],
                r["changes"], r["admin_errors"]))
    if weight:
        print("\n| server | weight | requests of 10,000 | share | expected |")
        print("|---|---:|---:|---:|---:|")
        for (addr, (cnt, share, want)), w in zip(weight[0].items(), (5, 3, 2)):
            print("| %s | %d | %d | %.2f%% | %.0f%% |" % (addr, w, cnt, share * 100, want * 100))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
