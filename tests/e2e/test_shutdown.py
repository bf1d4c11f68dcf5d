#!/usr/bin/env python3
"""Shutdown and proxies, end to end: the real collectd 5.12 loading the built
portainer.so (docs/FAULTS.md, rows "Shutdown" and "Proxy").

    python3 tests/e2e/test_shutdown.py --build-dir DIR [--run-dir DIR]
                                       [--no-valgrind]

Shutdown: collectd runs with Interval 300 (a poll may last 270 s) and two
sources.  "sd_cut" is a Portainer (tests/e2e/fault_server.py) with two
environments: the first answers its list and inspects, the second's list
hangs.  "sd_ok" is a Docker daemon that answers.  collectd's csv plugin
writes every value that is dispatched.  While sd_cut's poll is in flight,
SIGTERM: collectd must exit within 2 s with status 0, sd_ok's values must
be on disk and nothing of sd_cut's poll (not even the environment that had
answered), and the log must say the poll was cancelled.  The same again
under valgrind memcheck: no leak through the plugin, no invalid access.

Proxy: real forward proxies (Debian's tinyproxy) on loopback, and
collectd started with http_proxy naming one of them.  A source with
`Proxy URL` goes through that proxy, one with `Proxy ""` goes direct, one
without the option goes through the environment's proxy (libcurl's rule);
a proxy with Basic auth works with the credentials in the URL and refuses
wrong ones (HTTP 407), a dead proxy is a connect error, and no proxy
password ever reaches the log.

collectd and the proxies run in their own mount namespace whose
/etc/resolv.conf says "nameserver 127.0.0.1": no name lookup leaves
loopback (every URL is 127.0.0.1 anyway).  Prints one line per check and
ends with "N passed, N failed[, N skipped]"; exit status 1 on any failure.
Stops every process it starts, by pid.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import fault_server as fsv  # noqa: E402
from harness import Metrics, check, free_port, scrape, skip, summary  # noqa: E402

API_KEY = "ptr_ShutdownSuiteKey000000000000000000000000"
PX_USER = "pxuser"
PX_SECRET = "px-secret-Pa55w0rd-7071"
PX_WRONG = "px-wrong-Pa55w0rd-8082"
PX_DEAD = "px-dead-Pa55w0rd-9093"
SECRETS = [API_KEY, PX_SECRET, PX_WRONG, PX_DEAD]
PROXY_VARS = ["http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY",
              "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"]
EXIT_BOUND = 2.0          # seconds from SIGTERM to exit (the bound)
VALGRIND_EXIT_BOUND = 30.0  # the same under valgrind, which runs ~20x slower
KILL_AFTER = 45.0         # then the test gives up and kills collectd


def info(msg):
    print("info  %s" % msg, flush=True)


def wait_for(fn, timeout, every=0.2):
    """fn() -> (ok, detail), retried until ok or timeout; returns the last."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            ok, detail = fn()
        except Exception as e:  # a scrape or control request that failed
            ok, detail = False, "%s: %s" % (type(e).__name__, e)
        if ok or time.monotonic() >= deadline:
            return ok, detail
        time.sleep(every)


def netns_cmd(resolv, cmd):
    """cmd in a private mount namespace whose resolver is 127.0.0.1."""
    return ["unshare", "-m", "--propagation", "private", "--", "sh", "-c",
            'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"', "sh",
            resolv] + cmd


class Proc:
    """A process started by this suite, stopped by its pid."""

    def __init__(self, name, cmd, log, env=None):
        self.name = name
        out = open(log, "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        out.close()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=KILL_AFTER):
        """Sends sig; kills after timeout.  Returns (exit status, seconds)."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return self.proc.returncode, time.monotonic() - t0


class Tinyproxy:
    def __init__(self, run_dir, name, resolv, auth=None):
        self.dir = os.path.join(run_dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.log = os.path.join(self.dir, "tinyproxy.log")
        self.conf = os.path.join(self.dir, "tinyproxy.conf")
        with open(self.conf, "w") as f:
            f.write('Port %d\nListen 127.0.0.1\nTimeout 60\nLogFile "%s"\nLogLevel Info\n'
                    'PidFile "%s/tinyproxy.pid"\nMaxClients 50\nAllow 127.0.0.1\n'
                    'ViaProxyName "tinyproxy"\n%s'
                    % (self.port, self.log, self.dir,
                       "BasicAuth %s %s\n" % auth if auth else ""))
        self.resolv = resolv
        self.p = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        self.p = Proc("tinyproxy", netns_cmd(self.resolv, ["tinyproxy", "-d", "-c", self.conf]),
                      os.path.join(self.dir, "stdout.log"))
        ok, _ = wait_for(lambda: ("Accepting connections" in self.read_log(), ""), 15)
        if not ok:
            raise RuntimeError("tinyproxy did not start: %s" % self.read_log()[-1000:])
        return self

    def stop(self):
        if self.p is not None:
            self.p.stop()
            self.p = None

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def saw(self, port):
        """Requests this proxy forwarded to 127.0.0.1:port."""
        return sum(1 for ln in self.read_log().splitlines()
                   if "Request (file descriptor" in ln and "//127.0.0.1:%d/" % port in ln)


class Collectd:
    """collectd -f with the built plugin, csv and write_prometheus, in the
    resolver namespace, optionally under valgrind."""

    def __init__(self, run_dir, name, build_dir, resolv, plugin_conf, interval,
                 env_extra=None, valgrind=False):
        self.dir = os.path.join(run_dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.log = os.path.join(self.dir, "collectd.log")
        self.stdout = os.path.join(self.dir, "stdout.log")
        self.csv = os.path.join(self.dir, "csv")
        self.vg_log = os.path.join(self.dir, "valgrind.log")
        self.conf = os.path.join(self.dir, "collectd.conf")
        with open(self.conf, "w") as f:
            f.write("""Hostname "collector"
FQDNLookup false
Interval %d
BaseDir "%s"
PIDFile "%s/collectd.pid"
TypesDB "/usr/share/collectd/types.db" "%s/src/portainer.types.db"
PluginDir "/usr/lib/collectd"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "%s"
  PrintSeverity true
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "%s"
  StoreRates false
</Plugin>
LoadPlugin write_prometheus
<Plugin write_prometheus>
  Host "127.0.0.1"
  Port "%d"
</Plugin>
PluginDir "%s/.libs"
LoadPlugin portainer
<Plugin portainer>
%s
</Plugin>
""" % (interval, self.dir, self.dir, TOP, self.log, self.csv, self.port,
       os.path.abspath(build_dir), plugin_conf))
        self.resolv = resolv
        self.env_extra = env_extra or {}
        self.valgrind = valgrind
        self.p = None

    def start(self, timeout=30):
        env = dict(os.environ)
        for k in ["PORTAINER_URL", "PORTAINER_TOKEN"] + PROXY_VARS:
            env.pop(k, None)
        env.update(self.env_extra)
        cmd = ["collectd", "-f", "-C", self.conf]
        if self.valgrind:
            cmd = ["valgrind", "--tool=memcheck", "--leak-check=full",
                   "--show-leak-kinds=definite,indirect", "--num-callers=40",
                   "--fullpath-after=",
                   "--suppressions=%s/tests/valgrind/collectd.supp" % TOP,
                   "--log-file=%s" % self.vg_log] + cmd
        self.p = Proc("collectd", netns_cmd(self.resolv, cmd), self.stdout, env=env)
        ok, detail = wait_for(lambda: (bool(scrape(self.port)) or True, ""), timeout, 0.5)
        if not ok:
            raise RuntimeError("collectd never served metrics: %s %s"
                               % (detail, self.read_log()[-2000:]))
        return self

    def stop(self):
        if self.p is None:
            return None, 0.0
        rc, secs = self.p.stop()
        self.p = None
        return rc, secs

    def read_log(self):
        out = ""
        for path in (self.log, self.stdout):
            try:
                with open(path, errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out

    def csv_hosts(self):
        try:
            return sorted(os.listdir(self.csv))
        except OSError:
            return []

    def csv_dirs(self, host):
        try:
            return sorted(os.listdir(os.path.join(self.csv, host)))
        except OSError:
            return []


# --------------------------------------------------------------------------
# Shutdown
# --------------------------------------------------------------------------


def shutdown_case(args, run_dir, resolv, keep, valgrind):
    tag = "shutdown (valgrind)" if valgrind else "shutdown"
    ok_items = [fsv.container("sd-web", "a" * 64), fsv.container("sd-job", "b" * 64,
                                                                  state="exited",
                                                                  exit_code=3)]
    hang_items = [fsv.container("sd-hung", "c" * 64)]
    cut = keep(fsv.FaultServer(
        "portainer", envs=[fsv.env(1, "sd-ok"), fsv.env(2, "sd-hang")],
        api_keys=[API_KEY],
        env_containers={"1": [i for i, _ in ok_items], "2": [i for i, _ in hang_items]},
        inspects={i["Id"]: d for i, d in ok_items + hang_items}).start())
    cut_ctl = fsv.FaultClient(cut.url)
    cut_ctl.set_rules([{"match": r"^/api/endpoints/2/docker/containers/json",
                        "action": "hang", "seconds": 600}])
    dock_items = [fsv.container("sd-alive", "d" * 64)]
    dock = keep(fsv.FaultServer("docker", containers=[i for i, _ in dock_items],
                                inspects={i["Id"]: d for i, d in dock_items}).start())
    dock_ctl = fsv.FaultClient(dock.url)
    conf = """  <Portainer "sd_cut">
    URL "%s"
    Token "%s"
    Timeout 600000
  </Portainer>
  <Docker "sd_ok">
    URL "%s"
    Host "sd-docker"
  </Docker>""" % (cut.url, API_KEY, dock.url)
    cd = Collectd(run_dir, "collectd-" + tag.replace(" ", "-").replace("(", "").replace(")", ""),
                  args.build_dir, resolv, conf, 300, valgrind=valgrind)
    keep(cd)
    cd.start(timeout=120 if valgrind else 30)

    def in_flight():
        reqs = cut_ctl.requests()
        hung = [r for r in reqs if r.get("action") == "hang"]
        counts = cut_ctl.counts()
        inspected = counts.get("inspect", 0) >= len(ok_items)
        written = any(d.startswith("container-") for d in cd.csv_dirs("sd-docker"))
        return (bool(hung) and inspected and written and dock_ctl.counts().get("list", 0) >= 1,
                "hung=%d counts=%s csv=%s" % (len(hung), counts, cd.csv_hosts()))
    ok, detail = wait_for(in_flight, 120 if valgrind else 30)
    check("%s: sd_cut's poll is in flight (one environment answered, the other's list "
          "hangs) and sd_ok's values are written" % tag, ok, detail)
    time.sleep(1.0)  # the answered environment's callbacks have all run
    check("%s: nothing of sd_cut is dispatched before SIGTERM" % tag,
          "sd-ok" not in cd.csv_hosts(), "csv hosts: %s" % cd.csv_hosts())

    rc, secs = cd.stop()
    bound = VALGRIND_EXIT_BOUND if valgrind else EXIT_BOUND
    check("%s: collectd exits within %.0f s of SIGTERM with a poll in flight "
          "(Interval 300)" % (tag, bound), secs <= bound and rc != -signal.SIGKILL,
          "took %.1f s%s" % (secs, " (killed)" if secs >= KILL_AFTER else ""))
    check("%s: exit status 0" % tag, rc == 0, "status %s" % rc)
    log = cd.read_log()
    check("%s: collectd logged its shutdown before the join" % tag,
          "Exiting normally." in log and "Stopping" in log, log[-1500:])
    check("%s: the answering source's values were written (csv)" % tag,
          any(d.startswith("container-sd-alive") for d in cd.csv_dirs("sd-docker")),
          "sd-docker: %s" % cd.csv_dirs("sd-docker"))
    half = [h for h in ("sd-ok", "sd-hang") if h in cd.csv_hosts()]
    self_vals = [d for d in cd.csv_dirs("collector") if d == "portainer-sd_cut"]
    check("%s: no value of the cancelled poll was dispatched (not even the environment "
          "that had answered, nor its self metrics)" % tag, not half and not self_vals,
          "hosts %s, collector: %s" % (cd.csv_hosts(), cd.csv_dirs("collector")))
    cut_lines = [ln for ln in log.splitlines() if 'source "sd_cut"' in ln]
    check("%s: one line says the poll was cancelled, no error line" % tag,
          sum("poll cancelled" in ln for ln in cut_lines) == 1
          and not any("[error]" in ln for ln in cut_lines), "\n".join(cut_lines[-5:]))
    if valgrind:
        r = subprocess.run([sys.executable, os.path.join(TOP, "tests/valgrind/check_vg_log.py"),
                            cd.vg_log, os.path.join(TOP, "src")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check("%s: valgrind: no leak through the plugin, no invalid access" % tag,
              r.returncode == 0, r.stdout[-3000:])


# --------------------------------------------------------------------------
# Proxies
# --------------------------------------------------------------------------


def proxy_case(args, run_dir, resolv, keep):
    t_env = keep(Tinyproxy(run_dir, "proxy-env", resolv).start())
    t_opt = keep(Tinyproxy(run_dir, "proxy-opt", resolv).start())
    t_auth = keep(Tinyproxy(run_dir, "proxy-auth", resolv, auth=(PX_USER, PX_SECRET)).start())
    closed = free_port()
    srv = {}
    for name in ("px_opt", "px_none", "px_env", "px_auth", "px_badauth", "px_dead"):
        item, insp = fsv.container("px-web", "e" * 64)
        srv[name] = keep(fsv.FaultServer("docker", containers=[item],
                                         inspects={item["Id"]: insp}).start())
    proxies = {
        "px_opt": 'Proxy "%s"' % t_opt.url,
        "px_none": 'Proxy ""',
        "px_env": "",
        "px_auth": 'Proxy "http://%s:%s@127.0.0.1:%d"' % (PX_USER, PX_SECRET, t_auth.port),
        "px_badauth": 'Proxy "http://%s:%s@127.0.0.1:%d"' % (PX_USER, PX_WRONG, t_auth.port),
        "px_dead": 'Proxy "http://%s:%s@127.0.0.1:%d"' % (PX_USER, PX_DEAD, closed),
    }
    conf = "\n".join("""  <Docker "%s">
    URL "%s"
    Host "h-%s"
    %s
  </Docker>""" % (n, srv[n].url, n, proxies[n]) for n in proxies)
    cd = keep(Collectd(run_dir, "collectd-proxy", args.build_dir, resolv, conf, 2,
                       env_extra={"http_proxy": t_env.url}))
    cd.start()

    def values(name):
        def f():
            m = Metrics(cd.port)
            st = m.get("collectd_container_state", container="px-web", type="img:1",
                       instance="h-" + name)
            up = m.get("collectd_portainer_up", portainer=name, type="api",
                       instance="collector")
            return st == 1 and up == 1, "state %s, up %s" % (st, up)
        return f

    def down(name, kinds):
        def f():
            m = Metrics(cd.port)
            up = m.get("collectd_portainer_up", portainer=name, type="api",
                       instance="collector")
            errs = sum(m.get("collectd_portainer_api_errors_total", portainer=name, type=k,
                             instance="collector") or 0 for k in kinds)
            return up == 0 and errs >= 1, "up %s, %s errors %s" % (up, "/".join(kinds), errs)
        return f

    for name in ("px_opt", "px_none", "px_env", "px_auth"):
        ok, detail = wait_for(values(name), 20, 0.5)
        check("proxy: %s reports its container" % name, ok, detail)
    p = {n: srv[n].port for n in srv}
    check("proxy: Proxy URL: the requests go through that proxy, not the environment's",
          t_opt.saw(p["px_opt"]) >= 1 and t_env.saw(p["px_opt"]) == 0,
          "option proxy saw %d, environment proxy saw %d"
          % (t_opt.saw(p["px_opt"]), t_env.saw(p["px_opt"])))
    check('proxy: Proxy "": direct, although http_proxy is set',
          srv["px_none"].counts.get("list", 0) >= 1
          and t_env.saw(p["px_none"]) == 0 and t_opt.saw(p["px_none"]) == 0
          and t_auth.saw(p["px_none"]) == 0,
          "server saw %s list requests; proxies saw %d/%d/%d"
          % (srv["px_none"].counts.get("list", 0), t_env.saw(p["px_none"]),
             t_opt.saw(p["px_none"]), t_auth.saw(p["px_none"])))
    check("proxy: no Proxy option: libcurl follows http_proxy from collectd's environment",
          t_env.saw(p["px_env"]) >= 1, "environment proxy saw %d" % t_env.saw(p["px_env"]))
    check("proxy: credentials in the Proxy URL authenticate (Basic)",
          t_auth.saw(p["px_auth"]) >= 1, "auth proxy saw %d" % t_auth.saw(p["px_auth"]))
    # tinyproxy 1.11 answers wrong credentials of a plain (not CONNECT)
    # request with 401, missing ones with 407: either is the proxy's refusal.
    ok, detail = wait_for(down("px_badauth", ["auth", "http_4xx"]), 20, 0.5)
    check("proxy: wrong proxy credentials: up 0, the proxy's 401/407 counted", ok, detail)
    ok, detail = wait_for(down("px_dead", ["connect"]), 20, 0.5)
    check("proxy: a proxy that is not there: up 0, connect", ok, detail)
    log = cd.read_log()
    bad = [ln for ln in log.splitlines() if 'source "px_badauth"' in ln and "[error]" in ln]
    check("proxy: one error line for the proxy's refusal",
          len(bad) == 1 and ("HTTP 407" in bad[0] or "HTTP 401" in bad[0]), "\n".join(bad))
    dead = [ln for ln in log.splitlines() if 'source "px_dead"' in ln and "[error]" in ln]
    check("proxy: one error line for the dead proxy", len(dead) == 1 and "connect" in dead[0],
          "\n".join(dead))
    leaked = [s for s in SECRETS if s in log]
    check("proxy: no proxy password (nor token) in collectd's log", not leaked,
          "found: %s" % leaked)
    rc, _ = cd.stop()
    check("proxy: collectd exits with status 0", rc == 0, "status %s" % rc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--run-dir")
    ap.add_argument("--no-valgrind", action="store_true",
                    help="skip the valgrind run of the shutdown case")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.build_dir, ".libs", "portainer.so")):
        sys.exit("no %s/.libs/portainer.so: build first" % args.build_dir)
    run_dir = args.run_dir or tempfile.mkdtemp(prefix="pt-shutdown-")
    os.makedirs(run_dir, exist_ok=True)
    info("run directory %s" % run_dir)
    resolv = os.path.join(run_dir, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("# test_shutdown: lookups fail locally, nothing leaves loopback\n"
                "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    started = []

    def keep(thing):
        started.append(thing)
        return thing

    def stop_all():
        for thing in reversed(started):
            try:
                thing.stop()
            except Exception as e:
                print("warning: stopping %r: %s" % (thing, e), file=sys.stderr)
        del started[:]

    try:
        for name, fn in (("shutdown", lambda: shutdown_case(args, run_dir, resolv, keep, False)),
                         ("shutdown (valgrind)",
                          lambda: shutdown_case(args, run_dir, resolv, keep, True)),
                         ("proxy", lambda: proxy_case(args, run_dir, resolv, keep))):
            if name.endswith("(valgrind)") and (args.no_valgrind or not shutil.which("valgrind")):
                skip(name, "--no-valgrind" if args.no_valgrind else "valgrind not installed")
                continue
            if name == "proxy" and not shutil.which("tinyproxy"):
                skip(name, "tinyproxy not installed (apt-get install tinyproxy)")
                continue
            try:
                fn()
            except Exception:
                check("%s: ran to the end" % name, False, traceback.format_exc())
            finally:
                stop_all()
    finally:
        stop_all()
    status = summary()
    if status == 0 and not args.run_dir:
        shutil.rmtree(run_dir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
