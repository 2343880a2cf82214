#!/usr/bin/env python3
"""caddy-resty load script: extra CPU per request of the resty handler.

Runs wrk against plain `reverse_proxy` and against the same with `resty`
scripts (the Lua snippets of ../shared/bench's nginx-lua scenarios), all in
one Caddy binary, interleaved, the gateway pinned to one core with
GOMAXPROCS=1, wrk and the backend on the other. The cost measure is the
gateway's CPU time (utime+stime from /proc) divided by the requests served;
the report gives each scenario's median and its difference from plain
reverse_proxy measured in the same call.

    python3 bench/load.py [--caddy ./caddy] [--reps 5] [--duration 10] [SCENARIO...]

Needs wrk and taskset (Debian: wrk, util-linux); the backend is nginx when
/usr/sbin/nginx exists (cheaper, like the shared harness), else a Go server.
"""
import argparse, os, re, shutil, statistics, subprocess, sys, tempfile, time, urllib.request

from benchlib import stop

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GW, BE = "127.0.0.1:18081", "127.0.0.1:18080"

GLOBAL = """{
	admin off
	auto_https off
	persist_config off
	grace_period 1s
	resty {
		shared_dict limits 10m
		shared_dict counters 1m
	}
}
"""
ACCESS = 'if ngx.var.http_x_api_key ~= "secret" then return ngx.exit(403) end'
SHDICT = 'ngx.shared.limits:incr(ngx.var.remote_addr, 1, 0, 60)'
LIMIT_REQ = ("local lim = require('resty.limit.req').new('limits', 1000000, 1000000) "
             "local delay, err = lim:incoming(ngx.var.binary_remote_addr, true) "
             "if not delay then return ngx.exit(503) end")
SCENARIOS = {
    "proxy": "",
    "resty-noop": "resty {\n\t}",
    "resty-access": "resty {\n\t\taccess_by_lua <<LUA\n\t\t\t%s\n\t\tLUA\n\t}" % ACCESS,
    "resty-shdict": "resty {\n\t\taccess_by_lua <<LUA\n\t\t\t%s\n\t\tLUA\n\t}" % SHDICT,
    # lua-resty-limit-traffic's limit.req with a rate nothing reaches.
    "resty-limit-req": "resty {\n\t\taccess_by_lua <<LUA\n\t\t\t%s\n\t\tLUA\n\t}" % LIMIT_REQ,
    # The bundled plugins (issue 11): the route table proxying with
    # proxy_pass to the backend cluster, with no plugin, then with
    # plugins; PLUGIN_ROUTES gives each scenario's route.
    "route": "resty {\n\t\troutes\n\t}",
    "key-auth": "resty {\n\t\troutes\n\t}",
    "limit-count": "resty {\n\t\troutes\n\t}",
    "key-auth+limit-count": "resty {\n\t\troutes\n\t}",
    "proxy-cache-hit": "resty {\n\t\troutes\n\t}",
    "resty-filters": """resty {
		header_filter_by_lua <<LUA
			ngx.header["X-Bench-Filter"] = "1"
		LUA
		body_filter_by_lua <<LUA
			ngx.arg[1] = ngx.arg[1]
		LUA
		log_by_lua <<LUA
			ngx.shared.counters:incr("requests", 1, 0)
		LUA
	}""",
}
KEY_AUTH = 'plugin key-auth `{"header": "X-Api-Key", "consumers": [{"name": "bench", "key": "secret"}]}`'
LIMIT_COUNT = 'plugin limit-count `{"count": 1000000000, "time_window": 60, "key": "remote_addr", "rejected_code": 429}`'
PLUGIN_ROUTES = {
    "route": [],
    "key-auth": [KEY_AUTH],
    "limit-count": [LIMIT_COUNT],
    "key-auth+limit-count": [KEY_AUTH, LIMIT_COUNT],
    "proxy-cache-hit": ["plugin proxy-cache"],
}


def caddyfile(name):
    g = GLOBAL
    if name in PLUGIN_ROUTES:
        route = "\t\tupstream be {\n\t\t\tserver %s\n\t\t}\n\t\troute bench {\n\t\t\tpath /bench\n" % BE
        for pl in PLUGIN_ROUTES[name]:
            route += "\t\t\t%s\n" % pl
        route += "\t\t\tproxy be\n\t\t}\n"
        g = GLOBAL.replace("\t\tshared_dict counters 1m\n", "\t\tshared_dict counters 1m\n" + route)
    return g + ":18081 {\n\tbind 127.0.0.1\n\troute {\n\t\t%s\n\t\treverse_proxy %s\n\t}\n}\n" % (
        SCENARIOS[name].replace("\n", "\n\t"), BE)


def cpu_ticks(pid):
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            f = open("/proc/%d/task/%s/stat" % (pid, tid)).read()
        except OSError:
            continue
        parts = f[f.rindex(")") + 2:].split()
        total += int(parts[11]) + int(parts[12])
    return total


def wait_port(url, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            req = urllib.request.Request(url, headers={"X-Api-Key": "secret"})
            with urllib.request.urlopen(req, timeout=1) as r:
                if r.status == 200 and len(r.read()) == 100:
                    return True
        except Exception:
            time.sleep(0.1)
    return False


def start_backend(tmp):
    if os.path.exists("/usr/sbin/nginx"):
        conf = os.path.join(tmp, "nginx-backend.conf")
        open(conf, "w").write("""worker_processes 1; daemon off; pid %s/nginx.pid; error_log %s/nginx-error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen %s; location / { default_type text/plain; return 200 "%s\\n"; } } }
""" % (tmp, tmp, BE, "x" * 99))
        cmd = ["taskset", "-c", "1", "/usr/sbin/nginx", "-p", tmp + "/", "-c", conf]
    else:
        binp = os.path.join(tmp, "backend")
        subprocess.check_call(["go", "build", "-o", binp, "./bench/backend"], cwd=ROOT)
        cmd = ["taskset", "-c", "1", binp, "-addr", BE]
    env = dict(os.environ, GOMAXPROCS="1")
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def wrk(duration, conns=64):
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c%d" % conns, "-d%ds" % duration,
                          "-H", "X-Api-Key: secret", "http://%s/bench" % GW],
                         capture_output=True, text=True).stdout
    m = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return int(m.group(1)) if m else 0, int(bad.group(1)) if bad else 0


def run_one(caddy, name, tmp, duration):
    conf = os.path.join(tmp, name + ".Caddyfile")
    open(conf, "w").write(caddyfile(name))
    env = dict(os.environ, GOMAXPROCS="1", XDG_DATA_HOME=tmp + "/xdg-data", XDG_CONFIG_HOME=tmp + "/xdg-config")
    p = subprocess.Popen(["taskset", "-c", "0", caddy, "run", "--config", conf, "--adapter", "caddyfile"],
                         env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, name + ".log"), "w"),
                         start_new_session=True)
    try:
        if not wait_port("http://%s/bench" % GW):
            raise SystemExit("%s: gateway did not answer 200 with the 100-byte body; see %s/%s.log" % (name, tmp, name))
        wrk(2)  # warm-up
        hz = os.sysconf("SC_CLK_TCK")
        t0 = cpu_ticks(p.pid)
        n, bad = wrk(duration)
        t1 = cpu_ticks(p.pid)
    finally:
        stop(p)
    if bad:
        raise SystemExit("%s: %d non-2xx responses" % (name, bad))
    return n / duration, (t1 - t0) / hz / n * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--caddy", default=os.path.join(ROOT, "caddy"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    a = ap.parse_args()
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            raise SystemExit("needs %s (apt-get install -y wrk util-linux)" % tool)
    if "proxy" not in a.scenarios:
        a.scenarios.insert(0, "proxy")
    tmp = tempfile.mkdtemp(prefix="resty-load-")
    be = start_backend(tmp)
    results = {s: [] for s in a.scenarios}
    try:
        time.sleep(0.5)
        for rep in range(a.reps):
            for s in a.scenarios:
                rps, us = run_one(a.caddy, s, tmp, a.duration)
                results[s].append((rps, us))
                print("rep %d %-14s %8.0f req/s %6.2f µs/req" % (rep + 1, s, rps, us), flush=True)
    finally:
        stop(be)
    base = statistics.median(u for _, u in results["proxy"])
    print("\n| scenario | req/s (median) | gateway CPU µs/req (median) | Δ µs/req vs proxy | runs |")
    print("|---|---:|---:|---:|---:|")
    for s in a.scenarios:
        rps = statistics.median(r for r, _ in results[s])
        us = statistics.median(u for _, u in results[s])
        print("| %s | %.0f | %.2f | %+.2f | %d |" % (s, rps, us, us - base, len(results[s])))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
