"""Helpers shared by the bench scripts (inplace.py, routes.py)."""
import http.client, json, os, signal, socket, subprocess, time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Conn:
    """One HTTP/1.1 connection, reopened when the server closes it."""

    def __init__(self, hostport, keep_alive=True, timeout=120):
        self.host, self.port = hostport.rsplit(":", 1)
        self.keep_alive = keep_alive
        self.timeout = timeout
        self.c = None
        self.broken = 0  # requests that failed on a connection the server closed

    def close(self):
        if self.c:
            self.c.close()
            self.c = None

    def request(self, method, path, body=None, headers=None, retry=True):
        headers = dict(headers or {})
        if not self.keep_alive:
            headers["Connection"] = "close"
        if body is not None and not isinstance(body, bytes):
            body = body.encode()
        for attempt in range(2):
            if self.c is None:
                self.c = http.client.HTTPConnection(self.host, int(self.port), timeout=self.timeout)
            try:
                self.c.request(method, path, body=body, headers=headers)
                r = self.c.getresponse()
                data = r.read()
                if not self.keep_alive or r.will_close:
                    self.close()
                return r.status, data, r
            except (OSError, http.client.HTTPException):
                self.close()
                self.broken += 1
                if attempt or not retry:
                    raise
        raise RuntimeError("unreachable")


def stop(p):
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(20)
    except Exception:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except Exception:
            pass


def logged_times(cd, message):
    """The durations (the "took" field) of the log lines with that message, in order."""
    out = []
    with open(cd.log) as f:
        for line in f:
            if '"%s"' % message in line:
                try:
                    out.append(float(json.loads(line)["took"]))
                except (ValueError, KeyError):
                    pass
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def ms(x):
    return "%.3f" % (x * 1000) if x < 0.01 else "%.1f" % (x * 1000)
