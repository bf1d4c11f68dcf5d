"""Shared by the end-to-end suites: results and their closing line, the
Prometheus text that write_prometheus serves, and collectd itself.

Every suite prints one line per check ("ok", "FAIL", "skip") and ends with
summary(): "N passed, N failed[, N skipped]".
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

API_KEY = "ptr_e2eStandInTestKey0000000000000000000000000"
USERNAME = "admin"
PASSWORD = "e2e-password-123"
INTERVAL = 2
STATE = {"exited": 0, "running": 1, "paused": 2, "created": 3,
         "restarting": 4, "dead": 5, "removing": 7}
HEALTH = {None: 0, "none": 0, "healthy": 1, "unhealthy": 2, "starting": 3}

# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------

RESULTS = {"passed": 0, "failed": 0, "skipped": 0}


def check(name, ok, detail=""):
    if ok:
        RESULTS["passed"] += 1
        print("ok    %s" % name, flush=True)
    else:
        RESULTS["failed"] += 1
        print("FAIL  %s%s" % (name, (": " + detail) if detail else ""), flush=True)
    return ok


def skip(name, why):
    RESULTS["skipped"] += 1
    print("skip  %s: %s" % (name, why), flush=True)


def eventually(name, fn, timeout=25.0, every=0.5):
    """Checks that fn() returns (True, detail) within timeout seconds."""
    deadline = time.monotonic() + timeout
    ok, detail = False, "never evaluated"
    while True:
        try:
            ok, detail = fn()
        except Exception as e:  # a scrape that failed, say
            ok, detail = False, "%s: %s" % (type(e).__name__, e)
        if ok or time.monotonic() >= deadline:
            break
        time.sleep(every)
    return check(name, ok, detail)


# --------------------------------------------------------------------------
# Prometheus text
# --------------------------------------------------------------------------

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+(\d+))?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        text = r.read().decode("utf-8", "replace")
    series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        if not m:
            raise ValueError("not Prometheus text: %r" % line[:200])
        labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
        series[(m.group(1), labels)] = float(m.group(3))
    return series


class Metrics:
    def __init__(self, port):
        self.s = scrape(port)

    def get(self, name, **labels):
        want = tuple(sorted(labels.items()))
        return self.s.get((name, want))

    def select(self, name, **labels):
        out = []
        for (n, ls), v in self.s.items():
            if n != name:
                continue
            d = dict(ls)
            if all(d.get(k) == v2 for k, v2 in labels.items()):
                out.append((d, v))
        return out


# --------------------------------------------------------------------------
# collectd
# --------------------------------------------------------------------------


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Collectd:
    def __init__(self, run_dir, name, build_dir, plugin_conf, port, installed=False,
                 interval=None, prefix=None):
        self.dir = os.path.join(run_dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port
        self.log = os.path.join(self.dir, "collectd.log")
        self.conf = os.path.join(self.dir, "collectd.conf")
        with open(self.conf, "w") as f:
            f.write("""Hostname "collector"
FQDNLookup false
Interval %d
BaseDir "%s"
PIDFile "%s/collectd.pid"
TypesDB "/usr/share/collectd/types.db" "%s"
PluginDir "/usr/lib/collectd"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "%s"
</Plugin>
LoadPlugin write_prometheus
<Plugin write_prometheus>
  Port "%d"
</Plugin>
%s
LoadPlugin portainer
%s
""" % (interval or INTERVAL, self.dir, self.dir,
       "/usr/share/collectd/portainer.types.db" if installed
       else TOP + "/src/portainer.types.db",
       self.log, port,
       "" if installed else 'PluginDir "%s/.libs"' % os.path.abspath(build_dir),
       "" if plugin_conf is None else "<Plugin portainer>\n%s\n</Plugin>" % plugin_conf))
        self.proc = None
        self.prefix = list(prefix or [])  # a command collectd runs under (exec)

    def start(self):
        env = dict(os.environ)
        env.pop("PORTAINER_URL", None)
        env.pop("PORTAINER_TOKEN", None)
        out = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(self.prefix + ["collectd", "-f", "-C", self.conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        out.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("collectd exited: %s" % self.read_log()[-2000:])
            try:
                scrape(self.port)
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("collectd's write_prometheus never answered")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        stop_process(self.proc)  # SIGTERM writes the .gcda files
        self.proc = None

    def read_log(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_count(self, needle):
        return self.read_log().count(needle)


def stop_process(proc, timeout=20):
    """SIGTERM to a process this suite started (its Popen), SIGKILL if it has
    not ended after timeout seconds; waits for it."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def docker_source_conf(name, socket_path, host):
    return """  <Docker "%s">
    Socket "%s"
    Host "%s"
  </Docker>""" % (name, socket_path, host)


def run_and_stop(suite, started, cleanup=None):
    """Runs suite(); whatever happens (an exception is a failed check), stops
    everything in started, last first, then calls cleanup().  Returns the
    seconds it took."""
    t0 = time.monotonic()
    try:
        suite()
    except Exception:
        traceback.print_exc()
        check("suite ran to the end", False, "exception (see above)")
    finally:
        for thing in reversed(started):
            try:
                thing.stop()
            except Exception as e:
                print("warning: stopping %r: %s" % (thing, e), file=sys.stderr)
        if cleanup is not None:
            cleanup()
    return time.monotonic() - t0


def summary():
    """Prints the closing line; returns the exit status."""
    line = "%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"])
    if RESULTS["skipped"]:
        line += ", %d skipped" % RESULTS["skipped"]
    print(line, flush=True)
    return 1 if RESULTS["failed"] else 0
