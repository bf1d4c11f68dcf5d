#!/usr/bin/env python3
"""The fault matrix, end to end: the real collectd 5.12 loading the built
portainer.so, one source per fault, each pointed at its own misbehaving
server (tests/e2e/fault_server.py), its own Portainer stand-in environment,
or a real TLS Docker daemon; plus healthy sources that must keep reporting
on time while the others fail.  docs/FAULTS.md lists the rows.

    python3 tests/e2e/test_faults.py --build-dir DIR [--run-dir DIR]
                                     [--strace FILE]

The timeline: every source healthy (phase 0), every fault switched on at
once (phase A, several polls), every fault switched off (phase B).  Each
case then checks its up value, its error counter by kind, its one log line
and its one "answering again" line.  A second collectd gets the broken
configuration blocks, a third only broken ones.

collectd runs in its own mount namespace (unshare -m) with a bind-mounted
/etc/resolv.conf that says "nameserver 127.0.0.1" and a bind-mounted
/etc/hosts the test edits: a name lookup never leaves loopback.  --strace
runs it under strace (connect, sendto) and checks every address it dialled.

Prints one line per check (ok / FAIL / skip) and ends with
"N passed, N failed[, N skipped]"; exit status 1 on any failure.  Stops
every process it starts.  Loopback and unix sockets only.
"""

import argparse
import atexit
import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import fault_server as fsv  # noqa: E402
import portainer_standin as ps  # noqa: E402
import rig  # noqa: E402
from harness import LABEL, LINE, RESULTS, check, free_port, skip  # noqa: E402
from harness import eventually as e2e_eventually  # noqa: E402

INTERVAL = 2
FAULT_POLLS = 4                   # polls every fault lasts at least
ON_TIME = INTERVAL + 2.0          # a healthy source's last_success is never older
                                  # (one interval, 1 s of truncation, 1 s of slack)
RECOVER = 3 * INTERVAL + 2        # seconds a source gets to report again

# Every secret the suite hands out: none may ever appear in a log.
API_KEY = "ptr_FaultSuiteMainKey0000000000000000000000000"
API_KEY_TF = "ptr_FaultSuiteTokenFileKey111111111111111111"
REVOKED_TOKEN = "ptr_FaultSuiteRevokedKey2222222222222222222"
ECHO_TOKEN = "ptr_FaultSuiteEchoKey333333333333333333333333"
CFG_TOKEN = "ptr_FaultSuiteConfigKey44444444444444444444444"
PASSWORD = "fault-admin-pw-3141"
OPS_PASSWORD = "fault-ops-pw-2718"
ECHO_PASSWORD = "fault-echo-pw-1618"
CFG_PASSWORD = "fault-config-pw-1414"
FAULT_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJmYXVsdCI6MX0.FaultSuiteJwtSecret5555"
FAULT_JWT2 = "eyJhbGciOiJIUzI1NiJ9.eyJmYXVsdCI6Mn0.FaultSuiteJwtSecret6666"
SECRETS = [API_KEY, API_KEY_TF, REVOKED_TOKEN, ECHO_TOKEN, CFG_TOKEN, PASSWORD,
           OPS_PASSWORD, ECHO_PASSWORD, CFG_PASSWORD, FAULT_JWT, FAULT_JWT2]

KINDS = ["connect", "resolve", "timeout", "tls", "too_large", "parse", "auth",
         "not_found", "http_4xx", "http_5xx", "other"]
PROXY_VARS = ["http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY",
              "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"]

# --------------------------------------------------------------------------
# Results (shared with test_e2e.py)
# --------------------------------------------------------------------------


def info(msg):
    print("info  %s" % msg, flush=True)


def eventually(name, fn, timeout=10.0, every=0.5):
    """test_e2e's eventually(), with this suite's shorter default."""
    return e2e_eventually(name, fn, timeout, every)


def wait_until(fn, timeout):
    """Like eventually() but silent; returns the last (ok, detail)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            ok, detail = fn()
        except Exception as e:
            ok, detail = False, str(e)
        if ok or time.monotonic() >= deadline:
            return ok, detail
        time.sleep(0.5)


# --------------------------------------------------------------------------
# Prometheus text, scraped without any proxy
# --------------------------------------------------------------------------


def scrape_text(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", "/metrics")
        r = conn.getresponse()
        return r.read()
    finally:
        conn.close()


class Metrics:
    def __init__(self, port):
        self.raw = scrape_text(port)
        self.text = self.raw.decode("utf-8", "replace")
        self.s = {}
        for line in self.text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = LINE.match(line)
            if not m:
                raise ValueError("not Prometheus text: %r" % line[:200])
            labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
            self.s[(m.group(1), labels)] = float(m.group(3))

    def get(self, name, **labels):
        # write_prometheus leaves out labels whose value is empty
        return self.s.get((name, tuple(sorted((k, v) for k, v in labels.items() if v))))

    def select(self, name, **labels):
        out = []
        for (n, ls), v in self.s.items():
            if n != name:
                continue
            d = dict(ls)
            if all(d.get(k) == v2 for k, v2 in labels.items()):
                out.append((d, v))
        return out

    def up(self, src, typ="api", instance="collector"):
        return self.get("collectd_portainer_up", portainer=src, type=typ, instance=instance)

    def errors(self, src):
        return {k: self.get("collectd_portainer_api_errors_total", portainer=src, type=k,
                            instance="collector") or 0.0 for k in KINDS}

    def last_success(self, src):
        return self.get("collectd_portainer_last_success_seconds", portainer=src,
                        instance="collector")

    def state(self, container, host, typ="img:1"):
        return self.get("collectd_container_state", container=container, type=typ,
                        instance=host)


# --------------------------------------------------------------------------
# Identity rules of src/identity.c, on bytes (for invalid UTF-8)
# --------------------------------------------------------------------------


def _utf8_len(b, i):
    c = b[i]
    if c < 0x80:
        return 1
    if 0xC2 <= c <= 0xDF:
        n = 2
    elif 0xE0 <= c <= 0xEF:
        n = 3
    elif 0xF0 <= c <= 0xF4:
        n = 4
    else:
        return 0
    if i + n > len(b) or any((b[i + k] & 0xC0) != 0x80 for k in range(1, n)):
        return 0
    if n == 3 and ((c == 0xE0 and b[i + 1] < 0xA0) or (c == 0xED and b[i + 1] >= 0xA0)):
        return 0
    if n == 4 and ((c == 0xF0 and b[i + 1] < 0x90) or (c == 0xF4 and b[i + 1] >= 0x90)):
        return 0
    return n


def _sanitize(b, cap):
    out = bytearray()
    i = 0
    while i < len(b):
        n = _utf8_len(b, i)
        piece = b[i:i + n]
        if n == 0 or (n == 1 and (b[i] < 0x20 or b[i] in (0x7F, 0x22, 0x5C))):
            piece, n = b"_", 1
        if len(out) + len(piece) > cap:
            return bytes(out), False
        out += piece
        i += n
    return bytes(out), True


def ident_b(value):
    """The label collectd/write_prometheus shows for a name, image or label
    value (bytes or str) as the API sent it."""
    b = value.encode() if isinstance(value, str) else value
    b = b.split(b"\0", 1)[0]             # C strings end at a NUL
    out, fitted = _sanitize(b, 127)
    if not fitted:
        h = 2166136261
        for x in b:
            h = ((h ^ x) * 16777619) & 0xFFFFFFFF
        mark = b"~%08x" % h
        out, _ = _sanitize(b, 127 - len(mark))
        out += mark
    return out.decode("utf-8").replace("/", "_")


# --------------------------------------------------------------------------
# collectd
# --------------------------------------------------------------------------


def proc_usage(pid):
    """(VmRSS kB, open fds) of a process, or (None, None)."""
    rss = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        fds = len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None, None
    return rss, fds


class Collectd:
    """collectd -f with the built plugin, optionally in its own mount
    namespace (resolv.conf and hosts bind-mounted) and under strace."""

    def __init__(self, run_dir, name, build_dir, plugin_conf, port, netns=None,
                 strace=None, read_threads=None):
        self.dir = os.path.join(run_dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.port = port
        self.netns = netns
        self.strace = strace
        self.log = os.path.join(self.dir, "collectd.log")
        self.stdout = os.path.join(self.dir, "stdout.log")
        self.conf = os.path.join(self.dir, "collectd.conf")
        with open(self.conf, "w") as f:
            f.write("""Hostname "collector"
FQDNLookup false
Interval %d
%sBaseDir "%s"
PIDFile "%s/collectd.pid"
TypesDB "/usr/share/collectd/types.db" "%s/src/portainer.types.db"
PluginDir "/usr/lib/collectd"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "%s"
  PrintSeverity true
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
""" % (INTERVAL, "ReadThreads %d\n" % read_threads if read_threads else "",
       self.dir, self.dir, TOP, self.log, port, os.path.abspath(build_dir), plugin_conf))
        self.proc = None

    def command(self):
        cmd = ["collectd", "-f", "-C", self.conf]
        if self.strace:
            cmd = ["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg,sendmmsg",
                   "-o", self.strace] + cmd
        if self.netns:
            resolv, hosts = self.netns
            cmd = ["unshare", "-m", "--propagation", "private", "--", "sh", "-c",
                   'mount --bind "$1" /etc/resolv.conf && mount --bind "$2" /etc/hosts '
                   '&& shift 2 && exec "$@"', "sh", resolv, hosts] + cmd
        return cmd

    def start(self, wait=True):
        env = dict(os.environ)
        for k in ["PORTAINER_URL", "PORTAINER_TOKEN"] + PROXY_VARS:
            env.pop(k, None)
        out = open(self.stdout, "ab")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        out.close()
        if not wait:
            return self
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("collectd %s exited: %s" % (self.name, self.read_log()[-2000:]))
            try:
                scrape_text(self.port)
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("collectd %s: write_prometheus never answered" % self.name)

    @property
    def pid(self):
        """collectd's own pid (strace's child when traced)."""
        if self.proc is None:
            return None
        if not self.strace:
            return self.proc.pid
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                kids = [int(x) for x in f.read().split()]
            return kids[0] if kids else None
        except (OSError, ValueError):
            return None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            pid = self.pid
            try:
                os.kill(pid or self.proc.pid, signal.SIGTERM)
            except (ProcessLookupError, TypeError):
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                for p in (pid, self.proc.pid):
                    if p:
                        try:
                            os.kill(p, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                self.proc.wait(timeout=10)
        self.proc = None

    def read_log(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.log)
        except OSError:
            return 0

    def lines_since(self, offset):
        try:
            with open(self.log, "rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError:
            return []
        return data.decode("utf-8", "replace").split("\n")


def src_lines(lines, src, level=None, needle=None):
    """Log lines of the plugin that name source src."""
    tag = 'portainer plugin: source "%s"' % src
    out = []
    for ln in lines:
        if tag not in ln:
            continue
        if level is not None and ("[%s]" % level) not in ln[:40]:
            continue
        if needle is not None and needle not in ln:
            continue
        out.append(ln)
    return out


# --------------------------------------------------------------------------
# A Docker daemon that requires client certificates (modelled on rig.DockerHost)
# --------------------------------------------------------------------------


class TLSDockerHost(rig.DockerHost):
    """rig.DockerHost plus a TCP listener on 127.0.0.1 with "tlsverify": the
    unix socket stays plain (the rig and the healthy source use it)."""

    def __init__(self, name, run_dir, tls_port, ca, cert, key):
        super().__init__(name, run_dir)
        self.tls_port = tls_port
        self.tls = (ca, cert, key)

    def start(self, register_atexit=True, detach=False):
        for d in (self.dir, self.data_root, self.exec_root, self.cli_config):
            os.makedirs(d, exist_ok=True)
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        cfg = {
            "iptables": False, "ip-forward": False, "ip-masq": False, "bridge": "none",
            "storage-driver": "vfs",
            "hosts": ["unix://" + self.socket, "tcp://127.0.0.1:%d" % self.tls_port],
            "tlsverify": True, "tlscacert": self.tls[0], "tlscert": self.tls[1],
            "tlskey": self.tls[2],
            "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 1024, "Soft": 1024}},
            "log-driver": "json-file", "userland-proxy": False,
        }
        with open(self.config_file, "w") as f:
            json.dump(cfg, f, indent=1)
        cmd = ["dockerd", "--config-file", self.config_file, "--data-root", self.data_root,
               "--exec-root", self.exec_root, "--pidfile", self.pidfile]
        logf = open(self.log_file, "ab")
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            logf.close()
        self.pid = self.proc.pid
        if register_atexit and not self._atexit:
            atexit.register(self.stop)
            self._atexit = True
        try:
            self.wait_ready(self.ready_timeout)
        except Exception:
            self.stop()
            raise
        return self


def make_certs(d):
    """A self-signed certificate for the Portainer front; a CA, a server and a
    client certificate for the Docker daemon.  EC keys: fast to make."""
    os.makedirs(d, exist_ok=True)
    p = {k: os.path.join(d, k) for k in (
        "pt.crt", "pt.key", "ca.crt", "ca.key", "srv.csr", "srv.crt", "srv.key",
        "cli.csr", "cli.crt", "cli.key", "srv.ext", "cli.ext")}
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def ossl(*a):
        subprocess.run(["openssl"] + list(a), check=True, capture_output=True, timeout=60)
    ossl("req", "-x509", *ec, "-keyout", p["pt.key"], "-out", p["pt.crt"], "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    ossl("req", "-x509", *ec, "-keyout", p["ca.key"], "-out", p["ca.crt"], "-days", "2",
         "-subj", "/CN=fault-suite CA")
    with open(p["srv.ext"], "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    with open(p["cli.ext"], "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for who, cn in (("srv", "127.0.0.1"), ("cli", "fault-suite client")):
        ossl("req", *ec, "-keyout", p[who + ".key"], "-out", p[who + ".csr"], "-subj", "/CN=" + cn)
        ossl("x509", "-req", "-in", p[who + ".csr"], "-CA", p["ca.crt"], "-CAkey", p["ca.key"],
             "-CAcreateserial", "-out", p[who + ".crt"], "-days", "2", "-extfile", p[who + ".ext"])
    for k in ("pt.key", "ca.key", "srv.key", "cli.key"):
        os.chmod(p[k], 0o600)
    return p


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------


def cid_of(name):
    return hashlib.sha256(name.encode()).hexdigest()


def clean_docker(name):
    """The healthy data of a fault server: one running container c-<name>."""
    item, insp = fsv.container("c-" + name, cid_of(name))
    return {"containers": [item], "inspects": {item["Id"]: insp}, "list_raw": None,
            "inspect_template": None}


class Case:
    """One row of the fault matrix: a source, its fault, what must be seen.

    kind: the error kind the fault must count (None: not a fault, only
    custom checks).  what: how its log lines name it.  level "api" or
    "environment" (then env = the environment's name).  hosts: the
    instances of its container values, withdrawn during the fault and back
    after it.  from_start: the fault is there from collectd's start.
    """

    def __init__(self, name, row, conf, kind=None, cause="", what=None, level="api",
                 env=None, on=None, off=None, from_start=False, hosts=None, values=None,
                 recover=True, withdrawn=None, extra_a=None, extra_b=None, sample=None,
                 quiet=False, where="main", allowed_once=(), stays_up=False):
        self.name, self.row, self.conf = name, row, conf
        self.kind, self.cause, self.level, self.env = kind, cause, level, env
        self.what = what or 'source "%s"' % name
        self.on, self.off = on, off
        self.from_start, self.recover = from_start, recover
        self.hosts = hosts if hosts is not None else []
        self.withdrawn = withdrawn if withdrawn is not None else self.hosts
        self.values = values
        self.extra_a, self.extra_b, self.sample = extra_a, extra_b, sample
        self.quiet = quiet          # no error line at all is expected
        self.allowed_once = allowed_once  # ...but for one line with each of these
        self.where = where          # which collectd runs it
        self.stays_up = stays_up    # the fault counts errors but up stays 1
        self.base = {k: 0.0 for k in KINDS}
        self.log_from = 0

    def fault_up(self, m):
        if self.level == "environment":
            return m.up(self.name, "environment", self.env)
        return m.up(self.name)

    def healthy(self, m):
        up = m.up(self.name)
        if up != 1:
            return False, "up{api} %r" % up
        if self.level == "environment" and m.up(self.name, "environment", self.env) != 1:
            return False, "up{environment=%s} %r" % (
                self.env, m.up(self.name, "environment", self.env))
        if self.values is not None:
            return self.values(m)
        for h in self.hosts:
            v = m.state("c-" + self.name, h)
            if v != 1:
                return False, "state of c-%s on %s: %r" % (self.name, h, v)
        return True, ""


def docker_block(name, url, extra=""):
    return """  <Docker "%s">
    URL "%s"
    Host "h-%s"
%s  </Docker>""" % (name, url, name, extra)


def portainer_block(name, url, creds, extra=""):
    return """  <Portainer "%s">
    URL "%s"
%s
%s  </Portainer>""" % (name, url, creds, extra)


def token(t):
    return '    Token "%s"' % t


def login(user, pw):
    return '    Username "%s"\n    Password "%s"' % (user, pw)


# --------------------------------------------------------------------------
# The suite
# --------------------------------------------------------------------------


class Suite:
    def __init__(self, args, run_dir):
        self.args = args
        self.run_dir = run_dir
        self.started = []          # things with .stop(), stopped last first
        self.cases = []
        self.samples = {}          # healthy source -> [ages]
        self.missing = {}          # healthy source -> scrapes without values
        self.sample_stop = threading.Event()
        self.scrape_errors = []
        self.tenk_ages = []

    def keep(self, thing):
        self.started.append(thing)
        return thing

    def stop_all(self):
        for thing in reversed(self.started):
            try:
                thing.stop()
            except Exception as e:
                print("warning: stopping %r: %s" % (thing, e), file=sys.stderr)
        self.started = []

    # -- the world -----------------------------------------------------------

    def build_world(self):
        rd = self.run_dir
        t0 = time.monotonic()
        self.certs = make_certs(os.path.join(rd, "certs"))
        self.docker_tls_port = free_port()
        c = self.certs
        h = TLSDockerHost("fx", rd, self.docker_tls_port, c["ca.crt"], c["srv.crt"], c["srv.key"])
        self.keep(h)
        h.start()
        self.h = h
        rig.build_busybox_image(h, rig.build_busybox_tar(rd), tags=[])
        h.docker("run", "-d", "--name", "fx-run", "--network", "none", rig.IMAGE,
                 "sleep", "1000000")
        h.docker("run", "--name", "fx-exit3", "--network", "none", rig.IMAGE, "sh", "-c",
                 "exit 3", check=False)
        h.docker("create", "--name", "fx-created", "--network", "none", rig.IMAGE, "true")
        info("dockerd with a TLS listener, image and containers ready in %.0f s"
             % (time.monotonic() - t0))

        def envs(names):
            return [{"id": i, "name": n, "kind": "docker", "socket": h.socket}
                    for i, n in names]
        base = {"version": ps.API_VERSION, "snapshot_interval": 3600,
                "auth_rate_limit": True}
        # The main stand-in: one environment per source that uses it.
        self.s_main = self.keep(ps.StandIn(dict(base, api_keys=[API_KEY, API_KEY_TF],
                                                users={"admin": PASSWORD},
                                                environments=envs([
                                                    (1, "local"), (2, "flaky"), (3, "tf"),
                                                    (4, "tlsca"), (5, "tlsnover"),
                                                    (6, "tlsnoca"), (7, "jwt")]))).start())
        self.ctl_main = ps.Client(self.s_main.url)
        # Credentials that get revoked.
        self.s_auth = self.keep(ps.StandIn(dict(
            base, api_keys=[API_KEY, REVOKED_TOKEN],
            users={"admin": PASSWORD, "ops": OPS_PASSWORD},
            environments=envs([(1, "auth401"), (2, "auth422")]))).start())
        self.ctl_auth = ps.Client(self.s_auth.url)
        # The Portainer that restarts, behind a front that drops every
        # connection when it goes (the stand-in itself keeps keep-alive
        # connections served after stop()).
        self.r_cfg = dict(base, api_keys=[API_KEY], users={"admin": PASSWORD},
                          environments=envs([(1, "restart-env")]))
        self.s_r = ps.StandIn(self.r_cfg).start()
        self.s_r_holder = [self.s_r]
        self.keep(_Holder(self.s_r_holder))
        self.restart_front = self.keep(fsv.FaultServer("proxy", upstream=self.s_r.url).start())
        # A self-signed HTTPS front for the main stand-in.
        self.tls_front = self.keep(fsv.FaultServer("proxy", upstream=self.s_main.url,
                                                   tls=(c["pt.crt"], c["pt.key"])).start())
        # The name resolution the collectd namespace sees.
        self.resolv = os.path.join(rd, "resolv.conf")
        with open(self.resolv, "w") as f:
            f.write("# fault suite: lookups fail locally, nothing leaves loopback\n"
                    "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        self.hosts_file = os.path.join(rd, "hosts")
        with open(self.hosts_file, "w") as f:
            f.write("127.0.0.1 localhost\n")

    def fault_server(self, kind="docker", engine="threads", listen="127.0.0.1:0", **data):
        srv = fsv.FaultServer(kind, listen=listen, engine=engine, **data).start()
        return self.keep(srv), fsv.FaultClient(srv.url)

    # -- the cases -----------------------------------------------------------------

    def define_cases(self):
        add = self.cases.append
        h = self.h
        main = self.s_main.url

        # --- the healthy others ------------------------------------------------
        self.healthy = [("dock", "dockhost"), ("pt", "local"), ("t_pt_ca", "tlsca"),
                        ("t_dk_mtls", "tlsdocker"), ("sec_tf", "tf")]

        def fx_values(src, host):
            def f(m):
                st = m.state("fx-run", host, "bb:latest")
                ex = m.get("collectd_container_exit_code", container="fx-exit3",
                           type="bb:latest", instance=host)
                ok = m.up(src) == 1 and st == 1 and ex == 3
                return ok, "up %r fx-run %r fx-exit3 exit %r" % (m.up(src), st, ex)
            return f
        add(Case("dock", "healthy Docker source (unix socket)",
                 """  <Docker "dock">
    Socket "%s"
    Host "dockhost"
  </Docker>""" % h.socket, values=fx_values("dock", "dockhost"), quiet=True))
        add(Case("pt", "healthy Portainer source (API key)",
                 portainer_block("pt", main, token(API_KEY), '    EndpointInclude "^local$"\n'),
                 values=fx_values("pt", "local"), quiet=True))

        # --- Portainer ------------------------------------------------------------
        refused_port = free_port()
        srv, ctl = self.fault_server("portainer", listen="127.0.0.1:%d" % refused_port,
                                     envs=[fsv.env(1, "e-p_refused")], **clean_docker("p_refused"))
        add(Case("p_refused", "Portainer: connection refused",
                 portainer_block("p_refused", srv.url, token(API_KEY)),
                 kind="connect", cause="connect: ", hosts=["e-p_refused"],
                 on=srv.stop, off=srv.start))

        srv, ctl = self.fault_server("portainer", envs=[fsv.env(1, "e-p_resolve")],
                                     **clean_docker("p_resolve"))

        def resolvable():
            with open(self.hosts_file, "a") as f:
                f.write("127.0.0.1 portainer-fault.invalid\n")
        add(Case("p_resolve", "Portainer: unresolvable host name",
                 portainer_block("p_resolve", "http://portainer-fault.invalid:%d" % srv.port,
                                 token(API_KEY)),
                 kind="resolve", cause="resolve: ", hosts=["e-p_resolve"], from_start=True,
                 off=resolvable))

        def s_auth_config(**kw):
            self.ctl_auth.ctl("POST", "config", kw)
        add(Case("p_401", "Portainer: 401, token revoked",
                 portainer_block("p_401", self.s_auth.url, token(REVOKED_TOKEN),
                                 '    EndpointInclude "^auth401$"\n'),
                 kind="auth", cause="HTTP 401", values=lambda m: (
                     m.state("fx-run", "auth401", "bb:latest") == 1, "fx-run on auth401"),
                 withdrawn=["auth401"],
                 on=lambda: s_auth_config(api_keys=[API_KEY]),
                 off=lambda: s_auth_config(api_keys=[API_KEY, REVOKED_TOKEN])))

        def p422_on():
            s_auth_config(users={"admin": PASSWORD})
            self.ctl_auth.invalidate_jwts()
        add(Case("p_422", "Portainer: 422 on login (password changed)",
                 portainer_block("p_422", self.s_auth.url, login("ops", OPS_PASSWORD),
                                 '    EndpointInclude "^auth422$"\n'),
                 kind="auth", cause="HTTP 422", values=lambda m: (
                     m.state("fx-run", "auth422", "bb:latest") == 1, "fx-run on auth422"),
                 withdrawn=["auth422"], on=p422_on,
                 off=lambda: s_auth_config(users={"admin": PASSWORD, "ops": OPS_PASSWORD})))

        def status_case(name, row, status, body, kind, cause, ctype="application/json",
                        match=r"^/api/endpoints\?", headers=None, pages=False):
            envs = [fsv.env(1, "e-" + name)] + ([fsv.env(2, "e2-" + name)] if pages else [])
            srv, ctl = self.fault_server("portainer", envs=envs, **clean_docker(name))
            rule = {"match": match, "action": "status", "status": status, "body": body,
                    "content_type": ctype, "headers": headers or {}}
            hosts = ["e-" + name] + (["e2-" + name] if pages else [])
            add(Case(name, row, portainer_block(name, srv.url, token(API_KEY),
                                                "    PageSize 1\n" if pages else ""),
                     kind=kind, cause=cause, hosts=hosts,
                     withdrawn=["e2-" + name] if pages else hosts,
                     on=lambda: ctl.set_rules([rule]), off=ctl.clear))
        status_case("p_403", "Portainer: 403", 403,
                    '{"message":"Access denied","details":"Access denied to resource"}',
                    "auth", "HTTP 403: Access denied")
        status_case("p_404", "Portainer: 404 (wrong URL path)", 404, "404 page not found\n",
                    "not_found", "HTTP 404 (not an API error document)",
                    ctype="text/plain; charset=utf-8", match=r"^/api/")
        status_case("p_429", "Portainer: 429 on the second environment page", 429,
                    '{"message":"Too many requests","details":"rate limited"}',
                    "http_4xx", "HTTP 429: Too many requests", match=r"[?&]start=2&",
                    headers={"Retry-After": "5"}, pages=True)
        status_case("p_500", "Portainer: 500 on the environment pages (hostile message)", 500,
                    json.dumps({"message": "Internal\nserver \"error\"\x1b[31m",
                                "details": "database\rlocked\x00\x07"}),
                    "http_5xx", "HTTP 500: Internal server \"error\"")
        status_case("p_503html", "Portainer: 503 HTML page from a proxy", 503,
                    "<html><head><title>503 Service Temporarily Unavailable</title></head>"
                    "<body><center><h1>503</h1></center><hr><center>nginx</center></body>"
                    "</html>\n", "http_5xx", "HTTP 503 (not an API error document)",
                    ctype="text/html")
        status_case("p_502", "Portainer: 502 with an empty body", 502, "", "http_5xx",
                    "HTTP 502 (empty body)", ctype=None)

        add(Case("p_env5xx", "Portainer environment: 500 from the Docker proxy",
                 portainer_block("p_env5xx", main, token(API_KEY),
                                 '    EndpointInclude "^flaky$"\n'),
                 kind="http_5xx", level="environment", env="flaky",
                 what='source "p_env5xx": environment "flaky" (id 2)',
                 cause="HTTP 500: Unable to proxy the request via the Docker socket",
                 values=lambda m: (m.state("fx-run", "flaky", "bb:latest") == 1, "fx-run on flaky"),
                 withdrawn=["flaky"],
                 on=lambda: self.ctl_main.set_mode(2, "error", status=500, body={
                     "message": "Unable to proxy the request via the Docker socket",
                     "details": "context deadline exceeded"}),
                 off=lambda: self.ctl_main.set_mode(2, "ok")))

        def restart_on():
            self.restart_front.stop()
            self.s_r_holder[0].stop()

        def restart_off():
            self.s_r_holder[0] = ps.StandIn(self.r_cfg).start()   # a new JWT secret
            self.restart_front.upstream = self.s_r_holder[0].url
            self.restart_front.start()

        def restart_b(m):
            c = ps.Client(self.s_r_holder[0].url).counters()["total"]
            check("Portainer restarted: the old JWT was refused and the plugin logged in again",
                  c.get("unauthorized", 0) >= 1 and c.get("auth", 0) >= 1,
                  "new instance's counters %r" % c)
            lines = src_lines(self.cd.lines_since(0), "p_restart", needle="401")
            check("Portainer restarted: the refused JWT is not logged as a fault", not lines,
                  "%r" % lines[:2])
        add(Case("p_restart", "Portainer restarted (down, then JWTs invalid)",
                 portainer_block("p_restart", self.restart_front.url, login("admin", PASSWORD)),
                 kind="connect", cause="connect: ", values=lambda m: (
                     m.state("fx-run", "restart-env", "bb:latest") == 1, "fx-run on restart-env"),
                 withdrawn=["restart-env"], on=restart_on, off=restart_off, extra_b=restart_b))

        jwt_auths = {}

        def jwt_on():
            jwt_auths["before"] = self.ctl_main.counters()["total"].get("auth", 0)
            self.ctl_main.invalidate_jwts()

        def jwt_a(m):
            after = self.ctl_main.counters()["total"].get("auth", 0)
            check("JWT invalidated while Portainer runs: logged in again once",
                  after - jwt_auths.get("before", 0) == 1,
                  "logins %r -> %r" % (jwt_auths.get("before"), after))
        add(Case("p_jwt", "Portainer: JWT invalidated (no downtime)",
                 portainer_block("p_jwt", main, login("admin", PASSWORD),
                                 '    EndpointInclude "^jwt$"\n'),
                 values=lambda m: (m.state("fx-run", "jwt", "bb:latest") == 1, "fx-run on jwt"),
                 on=jwt_on, extra_a=jwt_a, sample="up", quiet=True))

        # The environment list changes between the first page and the others.
        pe = [fsv.env(1, "pg-a"), fsv.env(2, "pg-b"), fsv.env(3, "pg-c")]
        srv, ctl = self.fault_server("portainer", envs=pe, **clean_docker("p_pages"))

        def pages_values(names):
            def f(m):
                got = {n: m.up("p_pages", "environment", n) for n in names}
                cs = {n: m.state("c-p_pages", n) for n in names}
                ok = all(v == 1 for v in got.values()) and all(v == 1 for v in cs.values())
                return ok, "up %r states %r" % (got, cs)
            return f

        def pages_a(m):
            eventually("environment list shrinks between pages: the removed one goes, the "
                       "others stay", lambda: (lambda mm: (
                           pages_values(["pg-b", "pg-c"])(mm)[0]
                           and mm.up("p_pages", "environment", "pg-a") is None
                           and mm.state("c-p_pages", "pg-a") is None,
                           "%s; pg-a up %r" % (pages_values(["pg-b", "pg-c"])(mm)[1],
                                               mm.up("p_pages", "environment", "pg-a"))))(
                           Metrics(self.cd.port)), timeout=RECOVER + 4)

        def pages_b(m):
            eventually("environment list grows between pages: all listed once, none doubled",
                       lambda: pages_values(["pg-d", "pg-b", "pg-c"])(Metrics(self.cd.port)),
                       timeout=RECOVER)
        add(Case("p_pages", "Portainer: environment list changing between pages",
                 portainer_block("p_pages", srv.url, token(API_KEY), "    PageSize 1\n"),
                 values=pages_values(["pg-a", "pg-b", "pg-c"]),
                 on=lambda ctl=ctl: ctl.set_rules([{"match": r"[?&]start=1&",
                                                    "action": "mutate", "once": True,
                                                    "envs": pe[1:]}]),
                 off=lambda ctl=ctl: ctl.set_rules([{"match": r"[?&]start=1&",
                                                     "action": "mutate", "once": True,
                                                     "envs": [fsv.env(4, "pg-d")] + pe[1:]}]),
                 extra_a=pages_a, extra_b=pages_b, sample="pages", quiet=True,
                 allowed_once=['environment "pg-a" (id 1): HTTP 404']))

        # Hostile servers that repeat the credentials in their error messages.
        srv, ctl = self.fault_server("portainer", envs=[fsv.env(1, "e-p_echo_key")],
                                     **clean_docker("p_echo_key"))
        add(Case("p_echo_key", "Portainer: 401 whose message repeats the API key",
                 portainer_block("p_echo_key", srv.url, token(ECHO_TOKEN)),
                 kind="auth", cause="HTTP 401", hosts=["e-p_echo_key"],
                 on=lambda ctl=ctl: ctl.set_rules([{"match": r"^/api/endpoints",
                                                    "action": "echo", "status": 401}]),
                 off=ctl.clear))
        srv, ctl = self.fault_server("portainer", envs=[fsv.env(1, "e-p_echo_pw")],
                                     jwt=FAULT_JWT, api_keys=[], users={"admin": ECHO_PASSWORD},
                                     **clean_docker("p_echo_pw"))

        def echo_pw_on(ctl=ctl):
            ctl.set_rules([{"match": r"^/api/endpoints", "action": "echo", "status": 401},
                           {"match": r"^/api/auth", "action": "echo", "status": 422}])
            ctl.set_data(jwt=FAULT_JWT2)
        add(Case("p_echo_pw", "Portainer: 401 repeating the JWT, then 422 repeating the password",
                 portainer_block("p_echo_pw", srv.url, login("admin", ECHO_PASSWORD)),
                 kind="auth", cause="HTTP 422", hosts=["e-p_echo_pw"], on=echo_pw_on,
                 off=ctl.clear))

        # --- slow and hostile servers (Docker API) --------------------------------
        def docker_case(name, row, rule, kind, cause, extra="", engine="threads", **kw):
            srv, ctl = self.fault_server("docker", engine=engine, **clean_docker(name))
            rules = rule if isinstance(rule, list) else [rule]
            c = Case(name, row, docker_block(name, srv.url, extra), kind=kind, cause=cause,
                     what='source "%s": Docker host "h-%s"' % (name, name),
                     hosts=["h-" + name], on=lambda: ctl.set_rules(rules), off=ctl.clear, **kw)
            add(c)
            return srv, ctl, c
        LIST = r"/containers/json"
        docker_case("s_hang", "no response past Timeout",
                    {"match": LIST, "action": "hang"}, "timeout",
                    "timeout: Operation timed out after 1", "    Timeout 1000\n")
        docker_case("s_drip_ok", "body dripped byte by byte, within Timeout",
                    {"match": LIST, "action": "drip", "delay": 0.002}, None, "",
                    "    Timeout 4000\n    Interval 5\n", sample="up", quiet=True)
        docker_case("s_drip_slow", "body dripped byte by byte, past Timeout",
                    {"match": LIST, "action": "drip", "delay": 0.02}, "timeout",
                    "timeout: Operation timed out after 1", "    Timeout 1000\n")
        docker_case("s_endless", "response that never ends (MaxResponseSize 1 MiB)",
                    {"match": LIST, "action": "endless", "prefix": "["}, "too_large",
                    "too_large: response body larger than 1048576 bytes",
                    "    MaxResponseSize 1048576\n")
        docker_case("s_endless_def", "response that never ends (default MaxResponseSize 64 MiB)",
                    {"match": LIST, "action": "endless", "prefix": "["}, "too_large",
                    "too_large: response body larger than 67108864 bytes")
        docker_case("s_html200", "HTML error page with status 200",
                    {"match": LIST, "action": "status", "status": 200,
                     "content_type": "text/html",
                     "body": "<html><body><h1>Proxy error</h1>upstream down</body></html>"},
                    "parse", "invalid JSON")
        docker_case("s_trunc", "truncated JSON (Content-Length longer than the body)",
                    {"match": LIST, "action": "truncate", "missing": 100}, "other",
                    "transfer closed with 100 bytes remaining")
        docker_case("s_badjson", "invalid JSON",
                    {"match": LIST, "action": "status", "status": 200,
                     "body": '[{"Id":"%s" "Names":["/x"]}]' % ("a" * 64)}, "parse",
                    "invalid JSON")
        docker_case("s_nested", "JSON nested 100k levels deep",
                    {"match": LIST, "action": "status", "status": 200,
                     "body": "[" * 100000 + "]" * 100000}, "parse",
                    "nesting deeper than")
        docker_case("s_5xx", "Docker daemon: 500 on the container list",
                    {"match": LIST, "action": "status", "status": 500,
                     "body": '{"message":"Error response from daemon: internal"}'},
                    "http_5xx", "HTTP 500: Error response from daemon: internal")

        # A persistently failing inspect: the list still answers.
        srv, ctl = self.fault_server("docker")
        i1, n1 = fsv.container("c-s_insp500", cid_of("s_insp500"))
        i2, n2 = fsv.container("ok-s_insp500", cid_of("s_insp500-ok"))
        ctl.set_data(containers=[i1, i2], inspects={i1["Id"]: n1, i2["Id"]: n2})

        def insp_values(m):
            a = m.get("collectd_container_restart_count", container="c-s_insp500",
                      type="img:1", instance="h-s_insp500")
            b = m.state("ok-s_insp500", "h-s_insp500")
            return a == 0 and b == 1, "restart_count of c-s_insp500 %r, state ok %r" % (a, b)

        def insp_a(m):
            st = m.state("c-s_insp500", "h-s_insp500")
            rc = m.get("collectd_container_restart_count", container="c-s_insp500",
                       type="img:1", instance="h-s_insp500")
            ok2 = m.get("collectd_container_restart_count", container="ok-s_insp500",
                        type="img:1", instance="h-s_insp500")
            check("inspect 500: the container keeps its list values, loses its inspect values",
                  st == 1 and rc is None and ok2 == 0 and m.up("s_insp500") == 1,
                  "state %r restart_count %r other's restart_count %r up %r"
                  % (st, rc, ok2, m.up("s_insp500")))
        c = Case("s_insp500", "Docker daemon: 500 on one container's inspect, every poll",
                 docker_block("s_insp500", srv.url), kind="http_5xx",
                 what='source "s_insp500": Docker host "h-s_insp500"',
                 cause='inspect of container "c-s_insp500" failed: HTTP 500: boom',
                 level="environment", env="h-s_insp500", values=insp_values, withdrawn=[],
                 on=lambda ctl=ctl: ctl.set_rules([{
                     "match": "/containers/%s/json" % cid_of("s_insp500"),
                     "action": "status", "status": 500, "body": '{"message":"boom"}'}]),
                 off=ctl.clear, extra_a=insp_a,
                 stays_up=True)  # the list answers: only the inspect fails
        add(c)

        self.define_content_cases()
        self.define_tls_cases()

        # --- secrets ---------------------------------------------------------------
        tf = os.path.join(self.run_dir, "token-0644")
        with open(tf, "w") as f:
            f.write(API_KEY_TF + "\n")
        os.chmod(tf, 0o644)
        add(Case("sec_tf", "TokenFile readable by others",
                 portainer_block("sec_tf", main, '    TokenFile "%s"' % tf,
                                 '    EndpointInclude "^tf$"\n'),
                 values=fx_values("sec_tf", "tf")))

    def define_content_cases(self):
        add = self.cases.append

        # Wrong types for every field the plugin reads, in the list.
        srv, ctl = self.fault_server("docker", **clean_docker("s_types"))
        t2, t3 = "b2" * 32, "b3" * 32
        bad_list = [
            {"Id": 5, "Names": ["/t-badid"], "Image": "img:1", "State": "running",
             "Status": "Up 1 minute"},
            {"Id": t2, "Names": "/t-names-string", "Image": {"x": 1}, "State": 3,
             "Status": [], "Labels": [], "Portainer": "agent", "Health": 5},
            {"Id": t3, "Names": [5, None, "/t-names-mixed"], "Image": ["img:1"],
             "State": "running", "Status": 7, "Labels": {"a": 1, "b": ["x"], "c": None},
             "Portainer": {"Agent": "node"}, "Health": {"Status": 1, "FailingStreak": "2"}},
            {"Id": None, "Names": None, "Image": None, "State": None, "Status": None,
             "Labels": None, "Portainer": None, "Health": None},
            "not an object", 42, None, [],
        ]
        good = {"Id": cid_of("t-good"), "Names": ["/t-good"], "Image": "img:1",
                "State": "running", "Status": "Up 1 minute"}

        def types_a(m):
            host = "h-s_types"
            got = {d["container"]: (d.get("type", ""), v) for d, v in
                   m.select("collectd_container_state", instance=host)}
            want = {t2[:12]: ("", 6.0), "t-names-mixed": ("", 1.0), "t-good": ("img:1", 1.0)}
            check("wrong types in the list: items without a usable Id skipped, wrong-typed "
                  "fields ignored (name from the Id, state unknown)", got == want,
                  "got %r" % got)
            hl = {d["container"]: v for d, v in
                  m.select("collectd_container_health", instance=host)}
            check("wrong types in the list: health 0 where Health/Status are not usable",
                  hl.get(t2[:12]) == 0 and hl.get("t-names-mixed") == 0, "health %r" % hl)
        add(Case("s_types", "wrong types for every list field",
                 docker_block("s_types", srv.url), hosts=["h-s_types"],
                 on=lambda ctl=ctl: ctl.set_data(containers=bad_list + [good], inspects={}),
                 off=lambda ctl=ctl: ctl.set_data(**clean_docker("s_types")),
                 extra_a=types_a, quiet=True))

        # Wrong types in inspect documents.
        srv, ctl = self.fault_server("docker", **clean_docker("s_itypes"))
        i4 = fsv.container("t-insp-types", cid_of("t4"), state="exited", exit_code=3)[0]
        i5 = fsv.container("t-insp-state-string", cid_of("t5"))[0]
        i6 = fsv.container("t-insp-nested-types", cid_of("t6"))[0]
        insp = {
            i4["Id"]: {"Id": i4["Id"], "RestartCount": "7",
                       "State": {"Status": 0, "Running": "no", "OOMKilled": "true",
                                 "ExitCode": "3", "StartedAt": 12345, "FinishedAt": [],
                                 "Health": "healthy"}},
            i5["Id"]: {"Id": i5["Id"], "RestartCount": 1, "State": "running"},
            # Numbers no integer holds (JSON has no limit; Python would write
            # 1e400 as Infinity, which is not JSON): raw bytes.
            i6["Id"]: {"__raw_b64__": base64.b64encode(
                b'{"Id":"%s","RestartCount":2.5,"State":{"Status":"running",'
                b'"ExitCode":1e400,"StartedAt":"yesterday","OOMKilled":null,'
                b'"Health":{"Status":["healthy"],"FailingStreak":'
                b'123456789012345678901234567890}}}' % i6["Id"].encode()).decode()},
        }

        def itypes_a(m):
            host = "h-s_itypes"

            def g(metric, name):
                return m.get("collectd_container_" + metric, container=name, type="img:1",
                             instance=host)
            st4, ex4 = g("state", "t-insp-types"), g("exit_code", "t-insp-types")
            rc4, oom4 = g("restart_count", "t-insp-types"), g("oom_killed", "t-insp-types")
            check("wrong types in inspect: the container still reported from its list",
                  st4 == 0 and g("state", "t-insp-state-string") == 1
                  and g("state", "t-insp-nested-types") == 1,
                  "states %r %r %r" % (st4, g("state", "t-insp-state-string"),
                                       g("state", "t-insp-nested-types")))
            check("wrong types in inspect: no value the document did not state "
                  "(RestartCount \"7\", ExitCode \"3\", OOMKilled \"true\")",
                  rc4 is None and oom4 is None and ex4 in (None, 3.0),
                  "restart_count %r oom_killed %r exit_code %r (the list says Exited (3))"
                  % (rc4, oom4, ex4))
            rc6 = g("restart_count", "t-insp-nested-types")
            fs6 = g("failing_streak", "t-insp-nested-types")
            ex6 = g("exit_code", "t-insp-nested-types")
            check("wrong types in inspect: RestartCount 2.5, ExitCode 1e400, FailingStreak "
                  "past int64 are not reported", rc6 is None and fs6 is None and ex6 is None,
                  "restart_count %r failing_streak %r exit_code %r" % (rc6, fs6, ex6))
            up6 = g("uptime", "t-insp-nested-types")
            check("wrong types in inspect: no uptime from an unparsable StartedAt", up6 is None,
                  "uptime %r" % up6)
        add(Case("s_itypes", "wrong types for every inspect field",
                 docker_block("s_itypes", srv.url), hosts=["h-s_itypes"],
                 on=lambda ctl=ctl: ctl.set_data(containers=[i4, i5, i6], inspects=insp),
                 off=lambda ctl=ctl: ctl.set_data(**clean_docker("s_itypes")),
                 extra_a=itypes_a))

        # Wrong types in the environment list.
        srv, ctl = self.fault_server("portainer", envs=[fsv.env(1, "e-p_types")],
                                     **clean_docker("p_types"))
        bad_envs = [{"Id": "1", "Name": "pt-id-string", "Type": 1},
                    {"Id": 2, "Name": 5, "Type": 1},
                    {"Id": 3, "Name": "pt-type-string", "Type": "1"},
                    {"Id": 4.5, "Name": "pt-id-float", "Type": 1},
                    {"Id": 5, "Name": ["pt-name-array"], "Type": 1},
                    {"Id": 6, "Name": None, "Type": None},
                    {"Id": 7, "Name": "pt-good", "Type": 1}, "env", 7, None]

        def ptypes_a(m):
            envs = sorted(d["instance"] for d, v in
                          m.select("collectd_portainer_up", portainer="p_types",
                                   type="environment"))
            check("wrong types in the environment list: only the usable environment is "
                  "polled", envs == ["pt-good"] and m.up("p_types") == 1,
                  "environments %r up %r" % (envs, m.up("p_types")))
        add(Case("p_types", "wrong types for Id, Name, Type of environments",
                 portainer_block("p_types", srv.url, token(API_KEY)), hosts=["e-p_types"],
                 on=lambda ctl=ctl: ctl.set_data(envs=bad_envs),
                 off=lambda ctl=ctl: ctl.set_data(envs=[fsv.env(1, "e-p_types")]),
                 extra_a=ptypes_a, quiet=True,
                 # switching the list back races with a poll in flight:
                 allowed_once=['environment "pt-good" (id 7): HTTP 404']))

        # Invalid UTF-8, control characters, quotes and newlines.
        srv, ctl = self.fault_server("docker", **clean_docker("s_utf8"))
        hostile = [  # (name, image, label) as the API sends them (bytes)
            (b"u-bad\xff\xfe-utf8", b"img\xc3(bad:1", b"lab-bad\xff"),
            (b"u-ctl\x01\x1b[31m\tx", b"img\x7f:1", b"lab\x1b[0m\x07"),
            (b'u-quote"back\\slash', b'reg.example/o"rg/app:1', b'lab"\\q'),
            (b"u-newline\nFAKE-LOG-LINE-CT x", b"img:1", b"lab\nFAKE-LOG-LINE-LB"),
            ("u-ünï-😀".encode(), "img:ü-😀".encode(), "lab-😀".encode()),
            (b"u-nul\x00tail", b"img:1", b"lab-nul\x00tail"),
        ]

        def jstr(b):
            """A JSON string literal for arbitrary bytes: escapes for what JSON
            can express, raw bytes for invalid UTF-8 (a hostile server)."""
            out = bytearray(b'"')
            for x in b:
                if x == 0x22:
                    out += b'\\"'
                elif x == 0x5C:
                    out += b"\\\\"
                elif x < 0x20:
                    out += b"\\u%04x" % x
                else:
                    out.append(x)
            return bytes(out + b'"')
        items, insps = [], {}
        for i, (n, im, lb) in enumerate(hostile):
            cid = cid_of("u%d" % i)
            items.append(b'{"Id":"%s","Names":[%s],"Image":%s,"State":"running",'
                         b'"Status":"Up 1 minute","Labels":{"com.example.lab":%s}}'
                         % (cid.encode(), jstr(b"/" + n), jstr(im), jstr(lb)))
            insps[cid] = fsv.container("x", cid)[1]
        raw_list = b"[" + b",".join(items) + b"]"
        inject_cid = cid_of("u3")

        def utf8_a(m, src, lab):
            host = "h-" + src
            got = {(d["container"], d.get("type", "")) for d, v in
                   m.select("collectd_container_state", instance=host) if v == 1}
            want = {(ident_b(n), ident_b(lb if lab else im)) for n, im, lb in hostile}
            check("%s: hostile names and %s sanitized exactly as documented"
                  % (src, "labels" if lab else "images"), got == want,
                  "missing %r, unexpected %r" % (sorted(want - got), sorted(got - want)))

        def utf8_on(ctl=ctl):
            ctl.set_data(list_raw=raw_list, inspects=insps)
            ctl.set_rules([{"match": "/containers/%s/json" % inject_cid, "action": "status",
                            "status": 500, "body": '{"message":"inspect boom"}'}])

        def utf8_b(m):
            log = self.cd.read_log()
            bad = [ln for ln in log.split("\n") if ln.startswith("FAKE-LOG-LINE")]
            check("hostile names cannot forge log lines (newline in a container name)",
                  not bad, "%r" % bad[:2])
            check("no terminal escape sequence reaches the log", "\x1b" not in log,
                  "%r" % [ln for ln in log.split("\n") if "\x1b" in ln][:2])
        add(Case("s_utf8", "invalid UTF-8, control characters, quotes, newlines in names "
                 "and images", docker_block("s_utf8", srv.url), hosts=["h-s_utf8"],
                 on=utf8_on,
                 off=lambda ctl=ctl: (ctl.clear(), ctl.set_data(**clean_docker("s_utf8"))),
                 extra_a=lambda m: utf8_a(m, "s_utf8", False), extra_b=utf8_b))
        add(Case("s_utf8_lab", "the same in labels (TypeInstance label:...)",
                 docker_block("s_utf8_lab", srv.url,
                              '    TypeInstance "label:com.example.lab"\n'),
                 values=lambda m: (m.up("s_utf8_lab") == 1 and m.state(
                     "c-s_utf8", "h-s_utf8_lab", "") == 1, "c-s_utf8 (label type)"),
                 extra_a=lambda m: utf8_a(m, "s_utf8_lab", True)))

        # Hostile environment names (Portainer): the host field and the log.
        srv, ctl = self.fault_server("portainer", envs=[fsv.env(1, "e-p_envname")],
                                     **clean_docker("p_envname"))
        evil = b'pe-evil"name\nFAKE-LOG-LINE-ENV \x1b[31m\xff\\'
        long_a, long_b = b"L" * 200 + b"-a", b"L" * 200 + b"-b"
        env_objs = [(1, evil), (2, long_a), (3, long_b), (4, "pe-ünï".encode())]
        page = b"[" + b",".join(b'{"Id":%d,"Name":%s,"Type":1,"Status":1}' % (i, jstr(n))
                                for i, n in env_objs) + b"]"
        def envname_on(ctl=ctl):
            ctl.set_data(envs=[fsv.env(i, "x") for i, _ in env_objs])
            ctl.set_rules([
                {"match": r"^/api/endpoints\?", "action": "status", "status": 200,
                 "body_b64": base64.b64encode(page).decode(),
                 "headers": {"X-Total-Count": str(len(env_objs))}},
                {"match": r"^/api/endpoints/1/docker/containers/json", "action": "status",
                 "status": 500, "body": '{"message":"env boom"}'}])

        def envname_a(m):
            inst = {d["instance"] for d, v in m.select("collectd_portainer_up",
                                                        portainer="p_envname",
                                                        type="environment")}
            longs = [i for i in inst if i.startswith("LLLL")]
            check("environment names past 127 bytes that share a prefix stay apart",
                  len(longs) == 2 and all(len(i.encode()) <= 127 for i in longs),
                  "instances %r" % sorted(longs))
            want_evil = ident_b(evil)
            check("environment name with quotes, newline, escape, invalid UTF-8: sanitized",
                  want_evil in inst and "pe-ünï" in inst,
                  "instances %r, want %r" % (sorted(i for i in inst if not i.startswith("LL")),
                                             want_evil))
        add(Case("p_envname", "hostile and long environment names",
                 portainer_block("p_envname", srv.url, token(API_KEY)), hosts=["e-p_envname"],
                 on=envname_on,
                 off=lambda ctl=ctl: (ctl.clear(), ctl.set_data(envs=[fsv.env(1, "e-p_envname")])),
                 extra_a=envname_a))

        # Names and images far past 128 bytes.
        srv, ctl = self.fault_server("docker", **clean_docker("s_long"))
        longs = [("n" * 300, "i" * 300 + ":1"), ("p" * 200 + "-one", "img:1"),
                 ("p" * 200 + "-two", "img:1"), ("é" * 100 + "-utf8", "img:1"),
                 ("short-long-image", "registry.example.org/" + "deep/" * 800 + "app:1"),
                 ("x" * 1000, "img:1")]
        long_items, long_insp = [], {}
        for i, (n, im) in enumerate(longs):
            it, ins = fsv.container(n, cid_of("long%d" % i), image=im)
            long_items.append(it)
            long_insp[it["Id"]] = ins

        def long_a(m):
            host = "h-s_long"
            got = {(d["container"], d.get("type", "")) for d, v in
                   m.select("collectd_container_state", instance=host)}
            want = {(ident_b(n), ident_b(im)) for n, im in longs[:4] + longs[5:]}
            check("names and images past 127 bytes: cut on a UTF-8 boundary with ~hash, "
                  "distinct", want <= got and len(got) == len(longs),
                  "missing %r" % sorted(want - got)[:3])
            img = [t for c, t in got if c == "short-long-image"]
            check("a 4 kB image name: label within 127 bytes, ends with ~hash",
                  len(img) == 1 and len(img[0].encode()) <= 127
                  and re.search(r"~[0-9a-f]{8}$", img[0]) is not None, "%r" % img)
        add(Case("s_long", "names and images far past 128 bytes",
                 docker_block("s_long", srv.url), hosts=["h-s_long"],
                 on=lambda ctl=ctl: ctl.set_data(containers=long_items, inspects=long_insp),
                 off=lambda ctl=ctl: ctl.set_data(**clean_docker("s_long")),
                 extra_a=long_a, quiet=True))

        # 10k containers with the same name; canned inspect answers.
        srv, ctl = self.fault_server("docker", engine="fast", **clean_docker("s_10k"))
        many = [fsv.container("same", cid_of("same%d" % i))[0] for i in range(10000)]
        tmpl = json.dumps(fsv.container("same", "@ID@")[1]).encode()

        def tenk(m):
            got = [d["container"] for d, v in
                   m.select("collectd_container_state", instance="h-s_10k") if v == 1]
            ok = (len(got) == 10000 and len(set(got)) == 10000
                  and all(re.match(r"^same~[0-9a-f]{12}$", g) for g in got))
            return ok, "%d series, %d distinct, e.g. %r" % (len(got), len(set(got)), got[:2])

        def tenk_a(m):
            eventually("10k containers with the same name: 10k distinct series",
                       lambda: tenk(Metrics(self.cds["tenk"].port)), timeout=3 * INTERVAL + 4)
        add(Case("s_10k", "10k containers with the same name",
                 docker_block("s_10k", srv.url, '    Collect "state"\n    Interval 5\n'),
                 hosts=["h-s_10k"],
                 on=lambda ctl=ctl: ctl.set_data(containers=many, inspects={},
                                                 inspect_template=tmpl),
                 off=lambda ctl=ctl: ctl.set_data(**clean_docker("s_10k")),
                 extra_a=tenk_a, quiet=True, where="tenk"))
        add(Case("dock10k", "healthy Docker source next to the 10k containers",
                 """  <Docker "dock10k">
    Socket "%s"
    Host "dockhost10k"
  </Docker>""" % self.h.socket, where="tenk", quiet=True, sample="tenk",
                 values=lambda m: (m.state("fx-run", "dockhost10k", "bb:latest") == 1, "fx-run")))

        # Ids that share their first 12 characters.
        srv, ctl = self.fault_server("docker", **clean_docker("s_idprefix"))
        twins = [fsv.container("twin", "abcdef012345" + cid_of("tw%d" % i)[12:])
                 for i in range(3)]

        def idprefix_a(m):
            got = [d["container"] for d, v in
                   m.select("collectd_container_state", instance="h-s_idprefix")]
            check("same name, ids sharing their first 12 characters: still 3 series",
                  len(set(got)) == 3, "series %r" % sorted(got))
        add(Case("s_idprefix", "same name and ids sharing 12 characters",
                 docker_block("s_idprefix", srv.url), hosts=["h-s_idprefix"],
                 on=lambda ctl=ctl: ctl.set_data(containers=[t[0] for t in twins],
                                                 inspects={t[0]["Id"]: t[1] for t in twins}),
                 off=lambda ctl=ctl: ctl.set_data(**clean_docker("s_idprefix")),
                 extra_a=idprefix_a, quiet=True))

    def define_tls_cases(self):
        add = self.cases.append
        c = self.certs
        front = self.tls_front.url
        dk = "https://127.0.0.1:%d" % self.docker_tls_port

        def env_values(src, env):
            return lambda m: (m.up(src) == 1 and m.state("fx-run", env, "bb:latest") == 1,
                              "up %r fx-run %r" % (m.up(src), m.state("fx-run", env,
                                                                       "bb:latest")))
        add(Case("t_pt_noca", "TLS: self-signed Portainer, verification on, no CACert",
                 portainer_block("t_pt_noca", front, token(API_KEY),
                                 '    EndpointInclude "^tlsnoca$"\n'),
                 kind="tls", cause="tls: ", from_start=True, recover=False,
                 withdrawn=["tlsnoca"]))
        add(Case("t_pt_ca", "TLS: self-signed Portainer with CACert",
                 portainer_block("t_pt_ca", front, token(API_KEY),
                                 '    EndpointInclude "^tlsca$"\n    CACert "%s"\n' % c["pt.crt"]),
                 values=env_values("t_pt_ca", "tlsca"), quiet=True))
        add(Case("t_pt_nover", "TLS: VerifyPeer false, VerifyHost false",
                 portainer_block("t_pt_nover", front, token(API_KEY),
                                 '    EndpointInclude "^tlsnover$"\n    VerifyPeer false\n'
                                 '    VerifyHost false\n'),
                 values=env_values("t_pt_nover", "tlsnover")))
        mtls = '    CACert "%s"\n    ClientCert "%s"\n    ClientKey "%s"\n' % (
            c["ca.crt"], c["cli.crt"], c["cli.key"])
        add(Case("t_dk_mtls", "TLS: Docker daemon requiring client certificates, with them",
                 """  <Docker "t_dk_mtls">
    URL "%s"
    Host "tlsdocker"
%s  </Docker>""" % (dk, mtls),
                 values=lambda m: (m.up("t_dk_mtls") == 1
                                   and m.state("fx-run", "tlsdocker", "bb:latest") == 1,
                                   "up %r" % m.up("t_dk_mtls")), quiet=True))
        add(Case("t_dk_nocert", "TLS: Docker daemon requiring client certificates, without",
                 docker_block("t_dk_nocert", dk, '    CACert "%s"\n' % c["ca.crt"]),
                 kind="tls", cause="tls: ", what='source "t_dk_nocert": Docker host '
                 '"h-t_dk_nocert"', from_start=True, recover=False))
        add(Case("t_dk_noca", "TLS: Docker daemon's certificate without CACert",
                 docker_block("t_dk_noca", dk, '    ClientCert "%s"\n    ClientKey "%s"\n'
                              % (c["cli.crt"], c["cli.key"])),
                 kind="tls", cause="tls: ", what='source "t_dk_noca": Docker host '
                 '"h-t_dk_noca"', from_start=True, recover=False))

    # -- the configuration cases ---------------------------------------------------------

    def config_collectd(self):
        """A collectd with broken blocks and a good one; another with only
        broken ones.  Returns [(collectd, expectations)]."""
        h = self.h
        empty = os.path.join(self.run_dir, "token-empty")
        open(empty, "w").close()
        os.chmod(empty, 0o600)
        tok = token(CFG_TOKEN)
        u = '    URL "http://127.0.0.1:9"\n'
        named = [  # (name, body, substring of the cause line)
            ("b_url_num", "    URL 42\n" + tok, "URL"),
            ("b_url_nohost", '    URL "http://"\n' + tok, "URL"),
            ("b_url_userinfo", '    URL "ftp://admin:%s@127.0.0.1"\n' % CFG_PASSWORD + tok,
             "must start with http"),
            ("b_token_empty", u + '    Token ""', "Token"),
            ("b_timeout_neg", u + tok + "\n    Timeout -5", "Timeout must be a whole number between"),
            ("b_timeout_big", u + tok + "\n    Timeout 3600001", "Timeout must be a whole number between"),
            ("b_interval_zero", u + tok + "\n    Interval 0", "Interval must be"),
            ("b_interval_str", u + tok + '\n    Interval "soon"', "Interval"),
            ("b_maxresp_small", u + tok + "\n    MaxResponseSize 100", "MaxResponseSize"),
            ("b_maxresp_huge", u + tok + "\n    MaxResponseSize 99999999999",
             "MaxResponseSize"),
            ("b_conc_big", u + tok + "\n    MaxConcurrentRequests 2000",
             "MaxConcurrentRequests"),
            ("b_page_zero", u + tok + "\n    PageSize 0", "PageSize"),
            ("b_full_zero", u + tok + "\n    FullInspectEvery 0", "FullInspectEvery"),
            ("b_cregex", u + tok + '\n    ContainerExclude "a{2,1}"',
             "not a valid regular expression"),
            ("b_eregex", u + tok + '\n    EndpointExclude "("', "not a valid regular expression"),
            ("b_shard_zero", u + tok + '\n    Shard "0/2"', "Shard must look like"),
            ("b_shard_div0", u + tok + '\n    Shard "1/0"', "Shard must look like"),
            ("b_shard_word", u + tok + '\n    Shard "one/two"', "Shard must look like"),
            ("b_shard_extra", u + tok + '\n    Shard "1/2/3"', "Shard must look like"),
            ("b_collect_num", u + tok + "\n    Collect 5", "Collect takes signal names"),
            ("b_ti_bad", u + tok + '\n    TypeInstance "imagex"', "TypeInstance must be"),
            ("b_verifyhost", u + tok + '\n    VerifyHost "sometimes"', "VerifyHost"),
            ("b_clientcert", u + tok + '\n    ClientCert "/nonexistent/cli.pem"',
             'ClientCert "/nonexistent/cli.pem"'),
            ("b_tokenfile_empty", u + '    TokenFile "%s"' % empty, "holds no token"),
            ("b_tokenfile_dir", u + '    TokenFile "/etc"', "TokenFile"),
            ("b_pw_only", u + '    Password "%s"' % CFG_PASSWORD, "Password needs Username"),
            ("b_both_creds", u + tok + "\n" + login("admin", CFG_PASSWORD), "not both"),
            ("b_pt_host", u + tok + '\n    Host "x"', "belong in a <Docker> block"),
        ]
        docker_named = [
            ("b_dk_endpoint", '    Socket "%s"\n    EndpointInclude "x"' % h.socket,
             "belong in a <Portainer> block"),
            ("b_dk_user", '    Socket "%s"\n' % h.socket + login("admin", CFG_PASSWORD),
             "belong in a <Portainer> block"),
            ("b_dk_ftp", '    URL "ftp://127.0.0.1"', "must start with http"),
            ("b_dk_timeout_str", '    Socket "%s"\n    Timeout "soon"' % h.socket, "Timeout"),
            ("b_dk_both", '    Socket "%s"\n    URL "http://127.0.0.1:9"' % h.socket,
             "Socket or URL, not both"),
            ("b_nested", '    Socket "%s"\n    <Extra "x">\n    </Extra>' % h.socket,
             'unknown option "Extra"'),
        ]
        blocks = []
        for n, body, _ in named:
            blocks.append('  <Portainer "%s">\n%s\n  </Portainer>' % (n, body))
        for n, body, _ in docker_named:
            blocks.append('  <Docker "%s">\n%s\n  </Docker>' % (n, body))
        nameless = ['  <Portainer>\n%s%s\n  </Portainer>' % (u, tok),
                    '  <Portainer "">\n%s%s\n  </Portainer>' % (u, tok),
                    '  <Portainer "a" "b">\n%s%s\n  </Portainer>' % (u, tok),
                    '  <Docker 5>\n    Socket "%s"\n  </Docker>' % h.socket]
        blocks += nameless
        blocks += ['  <Kubernetes "k8s">\n    URL "http://127.0.0.1:9"\n  </Kubernetes>',
                   "  Interval 5",
                   '  <Docker "dup">\n    Socket "%s"\n    Host "cfgdup"\n  </Docker>' % h.socket,
                   '  <Docker "dup">\n    Socket "%s"\n    Host "cfgdup2"\n  </Docker>' % h.socket,
                   '  <Docker "cfg_good">\n    Socket "%s"\n    Host "cfggood"\n  </Docker>'
                   % h.socket]
        ns = (self.resolv, self.hosts_file)
        cfg = Collectd(self.run_dir, "config", self.args.build_dir, "\n".join(blocks),
                       free_port(), netns=ns)
        self.keep(cfg)
        cfg.start()
        # Only blocks the plugin rejects (b_url_nohost and b_token_empty, say,
        # are accepted today: see FAULTS.md).
        only_broken = "\n".join([b for b, (n, _, _) in zip(blocks, named)
                                 if n in ("b_url_num", "b_shard_zero", "b_ti_bad")]
                                + nameless[:1])
        cfg2 = Collectd(self.run_dir, "config-broken", self.args.build_dir, only_broken,
                        free_port(), netns=ns)
        self.keep(cfg2)
        cfg2.start()
        return cfg, cfg2, named + docker_named, len(nameless)

    def check_config(self, cfg, cfg2, named, n_nameless):
        def good():
            m = Metrics(cfg.port)
            return (m.state("fx-run", "cfggood", "bb:latest") == 1
                    and m.state("fx-run", "cfgdup", "bb:latest") == 1,
                    "cfg_good %r dup %r" % (m.state("fx-run", "cfggood", "bb:latest"),
                                            m.state("fx-run", "cfgdup", "bb:latest")))
        eventually("config: the good blocks report next to %d broken ones" % (len(named) + 7),
                   good, timeout=15)
        time.sleep(INTERVAL)
        lines = cfg.read_log().split("\n")
        m = Metrics(cfg.port)
        for name, _, cause in named:
            started = [ln for ln in lines if 'source "%s" not started' % name in ln]
            causes = [ln for ln in lines if cause in ln and "[error]" in ln[:40]
                      and ('source "%s"' % name in ln or "cf_util" in ln
                           or "option" in ln)]
            series = [d for d, v in m.select("collectd_portainer_up", portainer=name)]
            check("config: %s rejected with one line naming it and the cause" % name,
                  len(started) == 1 and causes and not series,
                  "'not started' lines %d, cause lines %r, series %r"
                  % (len(started), causes[:2], series[:1]))
        check("config: blocks without exactly one name rejected, one line each",
              sum("needs exactly one name" in ln for ln in lines) == n_nameless,
              "%d lines" % sum("needs exactly one name" in ln for ln in lines))
        check("config: unknown block and option inside <Plugin portainer> named",
              any('unknown option "Kubernetes"' in ln for ln in lines)
              and any('unknown option "Interval"' in ln for ln in lines))
        dup = [ln for ln in lines if 'source "dup" is defined twice' in ln]
        check("config: a source defined twice: the first runs, the second is ignored, "
              "one line", len(dup) == 1 and m.state("fx-run", "cfgdup2", "bb:latest") is None,
              "%d lines" % len(dup))
        check("config: collectd runs on", cfg.alive())
        log2 = cfg2.read_log()
        check("config: only broken blocks: collectd stays up, the plugin says so",
              cfg2.alive() and "no source could be started" in log2,
              "alive %r" % cfg2.alive())
        for c in (cfg, cfg2):
            text = c.read_log() + open(c.stdout, errors="replace").read()
            leaked = [s for s in SECRETS if s in text]
            check("config (%s): no token or password in the log" % c.name, not leaked,
                  "leaked %r" % leaked)

    # -- the timeline ------------------------------------------------------------------

    def sampler(self):
        """Every second: the healthy sources' freshness, and the cases that
        watch every scrape."""
        for _ in range(100000):
            if self.sample_stop.wait(0.5):
                return
            try:
                m = Metrics(self.cd.port)
            except Exception as e:
                self.scrape_errors.append(str(e))
                continue
            now = time.time()
            rel = time.monotonic() - self.t_a
            for src, host in self.healthy:
                ls = m.last_success(src)
                self.samples.setdefault(src, []).append((now - ls if ls else 1e9, rel))
                if m.state("fx-run", host, "bb:latest") != 1:
                    self.missing.setdefault(src, []).append(round(rel, 1))
            try:
                m10 = Metrics(self.cds["tenk"].port)
                ls = m10.last_success("dock10k")
                self.tenk_ages.append(now - ls if ls else 1e9)
            except Exception as e:
                self.scrape_errors.append("tenk: %s" % e)
            for c in self.cases:
                if c.where != "main":
                    continue
                if c.sample == "up" and m.up(c.name) != 1:
                    c.sample_bad = getattr(c, "sample_bad", []) + ["up %r" % m.up(c.name)]
                if c.sample == "pages":
                    for e in ("pg-b", "pg-c"):
                        u = m.up("p_pages", "environment", e)
                        n = m.get("collectd_portainer_containers", portainer="p_pages",
                                  instance=e)
                        if u == 0 or (n is not None and n != 1):
                            c.sample_bad = getattr(c, "sample_bad", []) + [
                                "%s up %r containers %r" % (e, u, n)]

    def cd_of(self, c):
        return self.cds[c.where]

    def metrics_all(self):
        return {k: Metrics(v.port) for k, v in self.cds.items()}

    def isolation_works(self):
        """collectd must not reach any name server: refuse to run without the
        mount namespace rather than risk a DNS query leaving loopback."""
        probe = os.path.join(self.run_dir, "resolv.probe")
        with open(probe, "w") as f:
            f.write("nameserver 127.0.0.1\n")
        try:
            cp = subprocess.run(["unshare", "-m", "--propagation", "private", "--", "sh", "-c",
                                 'mount --bind "$1" /etc/resolv.conf && cat /etc/resolv.conf',
                                 "sh", probe], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            return False, str(e)
        return (cp.returncode == 0 and cp.stdout.strip() == "nameserver 127.0.0.1",
                (cp.stderr or cp.stdout).strip()[:200])

    def run(self):
        ok, why = self.isolation_works()
        if not check("collectd can run in a mount namespace whose resolv.conf points at "
                     "127.0.0.1 (unshare -m)", ok, why):
            return
        self.build_world()
        self.define_cases()
        cfg, cfg2, named, n_nameless = self.config_collectd()

        # The 10k case runs in its own collectd: 10k new series keep
        # write_prometheus busy for seconds (collectd's limit, see README
        # sizing), which would delay every other source's values.
        ns = (self.resolv, self.hosts_file)
        self.cds = {}
        for where in ("main", "tenk"):
            conf = "\n".join(c.conf for c in self.cases if c.where == where)
            self.cds[where] = self.keep(Collectd(
                self.run_dir, where, self.args.build_dir, conf, free_port(), netns=ns,
                strace=self.args.strace if where == "main" else None,
                read_threads=self.args.read_threads))
            info("collectd %s: %d sources" % (where, sum(c.where == where for c in self.cases)))
        for cd in self.cds.values():
            cd.start()
        self.cd = self.cds["main"]

        # --- phase 0: everything healthy (but what fails from the start) ---------------
        t0 = time.monotonic()
        for c in self.cases:
            if c.from_start:
                continue
            ok, detail = wait_until(lambda c=c: c.healthy(Metrics(self.cd_of(c).port)),
                                    max(1.0, 25 - (time.monotonic() - t0)))
            if not ok:
                check("%s: healthy before the fault" % c.row, False, detail)
        info("phase 0 (all healthy) reached in %.1f s" % (time.monotonic() - t0))
        time.sleep(INTERVAL)
        self.check_config(cfg, cfg2, named, n_nameless)
        cfg.stop()
        cfg2.stop()

        ms = self.metrics_all()
        rss0, fds0 = proc_usage(self.cd.pid)
        offs = {k: v.log_size() for k, v in self.cds.items()}
        for c in self.cases:
            c.base = ms[c.where].errors(c.name) if not c.from_start else {k: 0.0 for k in KINDS}
            c.log_from = 0 if c.from_start else offs[c.where]

        # --- phase A: every fault on ----------------------------------------------------
        t_a = self.t_a = time.monotonic()
        sampler = threading.Thread(target=self.sampler, daemon=True)
        sampler.start()
        for c in self.cases:
            if c.on:
                c.on()
        info("phase A: faults on")
        time.sleep(FAULT_POLLS * INTERVAL)
        for c in self.cases:
            self.check_fault(c)
        ms = self.metrics_all()
        for c in self.cases:
            if c.extra_a:
                try:
                    c.extra_a(ms[c.where])
                except Exception as e:
                    check("%s: checks during the fault" % c.row, False, "%s: %s"
                          % (type(e).__name__, e))
        self.promtool(ms["main"], "phase A, hostile names present")
        for k, cd in self.cds.items():
            check("collectd %s still running after the faults" % k, cd.alive())
        info("phase A took %.0f s" % (time.monotonic() - t_a))

        # --- phase B: every fault off --------------------------------------------------
        t_b = time.monotonic()
        for c in self.cases:
            if c.off and c.recover:
                c.off()
        info("phase B: faults off")
        for c in self.cases:
            if c.kind is not None and c.recover:
                eventually("%s: reports again within %d s" % (c.row, RECOVER),
                           lambda c=c: c.healthy(Metrics(self.cd_of(c).port)),
                           timeout=max(1.0, RECOVER - (time.monotonic() - t_b)))
        time.sleep(2 * INTERVAL)
        ms = self.metrics_all()
        for c in self.cases:
            self.check_log(c)
            if c.extra_b:
                try:
                    c.extra_b(ms[c.where])
                except Exception as e:
                    check("%s: checks after the fault" % c.row, False, "%s: %s"
                          % (type(e).__name__, e))
            if c.sample in ("up", "pages"):
                bad = getattr(c, "sample_bad", [])
                check("%s: never reported down in any scrape" % c.row, not bad, "%r" % bad[:3])
        self.sample_stop.set()
        sampler.join(10)
        self.check_healthy()
        self.promtool(Metrics(self.cd.port), "phase B")
        info("phase B took %.0f s" % (time.monotonic() - t_b))

        # --- leaks: not asserted here (valgrind runs elsewhere), reported -------------
        rss1, fds1 = proc_usage(self.cd.pid)
        time.sleep(3 * INTERVAL)
        rss2, fds2 = proc_usage(self.cd.pid)
        info("collectd main: RSS %s kB before the faults, %s kB after, %s kB %d s later; "
             "open fds %s, %s, %s" % (rss0, rss1, rss2, 3 * INTERVAL, fds0, fds1, fds2))
        r10, f10 = proc_usage(self.cds["tenk"].pid)
        info("collectd tenk (10k containers came and went): RSS %s kB, open fds %s" % (r10, f10))
        self.usage = (rss0, rss1, rss2, fds0, fds1, fds2)
        check("open descriptors flat once the faults are over",
              None not in (fds1, fds2) and fds2 <= fds1, "%s -> %s" % (fds1, fds2))

        # --- secrets -------------------------------------------------------------------------
        log = "".join(cd.read_log() + open(cd.stdout, errors="replace").read()
                      for cd in self.cds.values())
        leaked = [s for s in SECRETS if s in log]
        check("no token, password or JWT anywhere in the collectd log", not leaked,
              "leaked %r: %r" % (leaked, [ln for ln in log.split("\n")
                                          if any(s in ln for s in leaked)][:3]))
        tf = src_lines(log.split("\n"), "sec_tf", needle="can be read by others")
        check("TokenFile with mode 0644 draws one warning", len(tf) == 1 and "0644" in tf[0],
              "%r" % tf)
        nv = src_lines(log.split("\n"), "t_pt_nover", needle="TLS verification is off")
        check("VerifyPeer false logs one warning", len(nv) == 1, "%r" % nv)
        reqs = self.ctl_main.requests(200)
        in_url = [r["path"] for r in reqs if re.search(r"(?i)x-api-key=|[?&]token=", r["path"])]
        check("the API key travels in a header, never in a URL", not in_url and reqs,
              "%r" % in_url[:2])
        for k, cd in self.cds.items():
            check("collectd %s stayed up to the end" % k, cd.alive())
            cd.stop()
        if self.args.strace:
            self.check_strace(self.args.strace)

    # -- checks ---------------------------------------------------------------------------

    def check_fault(self, c):
        if c.kind is None:
            return
        if c.stays_up:
            def fn():
                m = Metrics(self.cd_of(c).port)
                rose = {k: m.errors(c.name)[k] - c.base[k] for k in KINDS}
                rose = {k: v for k, v in rose.items() if v}
                ok = m.up(c.name) == 1 and rose.get(c.kind, 0) >= 2 and set(rose) == {c.kind}
                return ok, "up %r, errors rose %r" % (m.up(c.name), rose)
            eventually("%s: errors of kind %s rise, the source stays up" % (c.row, c.kind),
                       fn, timeout=3 * INTERVAL)
        else:
            def fn():
                m = Metrics(self.cd_of(c).port)
                up = c.fault_up(m)
                rose = {k: m.errors(c.name)[k] - c.base[k] for k in KINDS}
                rose = {k: v for k, v in rose.items() if v}
                ok = up == 0 and rose.get(c.kind, 0) >= 2 and set(rose) == {c.kind}
                return ok, "up %r, errors rose %r" % (up, rose)
            eventually("%s: up 0, errors of kind %s only" % (c.row, c.kind), fn,
                       timeout=3 * INTERVAL)

            def gone():
                m = Metrics(self.cd_of(c).port)
                left = [d for d, v in m.select("collectd_container_state")
                        if d["instance"] in c.withdrawn]
                return not left, "still there: %r" % left[:2]
            if c.withdrawn:
                eventually("%s: its container values are withdrawn" % c.row, gone,
                           timeout=3 * INTERVAL)
        lines = self.cd_of(c).lines_since(c.log_from)
        err = src_lines(lines, c.name, level="error")
        good = [ln for ln in err if c.what + ": " in ln and c.cause in ln]
        check("%s: one log line naming it and the cause" % c.row,
              len(err) == 1 and len(good) == 1, "%d lines: %r (want %r ... %r)"
              % (len(err), [ln[22:260] for ln in err[:3]], c.what, c.cause))

    def check_log(self, c):
        lines = self.cd_of(c).lines_since(c.log_from)
        err = src_lines(lines, c.name, level="error")
        if c.kind is None:
            if c.quiet:
                once = {a: [ln for ln in err if a in ln] for a in c.allowed_once}
                rest = [ln for ln in err if not any(a in ln for a in c.allowed_once)]
                check("%s: no error logged%s" % (c.row, " (but one line for: %s)" % ", ".join(
                    c.allowed_once) if c.allowed_once else ""),
                      not rest and all(len(v) <= 1 for v in once.values()),
                      "%r" % [ln[22:240] for ln in err[:3]])
            return
        again = src_lines(lines, c.name, needle="answering again")
        if c.recover:
            ok = (len(again) == 1 and c.what + ": " in again[0]
                  and "answering again" in again[0])
            check("%s: one \"answering again\" line" % c.row, ok,
                  "%r" % [ln[22:200] for ln in again[:4]])
        check("%s: still one error line at the end" % c.row, len(err) == 1,
              "%d: %r" % (len(err), [ln[22:200] for ln in err[:4]]))

    def check_healthy(self):
        for src, host in self.healthy:
            ages = self.samples.get(src, [])
            worst = max(ages) if ages else (None, None)
            late = [(round(a, 1), round(t, 1)) for a, t in ages if a > ON_TIME]
            check("%s kept reporting on time while the others failed (%d scrapes, oldest "
                  "last_success %.1f s, bound %.1f s)" % (src, len(ages), worst[0] or -1,
                                                          ON_TIME),
                  ages and not late and not self.missing.get(src),
                  "late (age, seconds into the faults) %r; scrapes without its values at %r"
                  % (late[:5], self.missing.get(src, [])[:5]))
            info("%s: last_success ages %s" % (src, " ".join("%.1f" % a for a, t in ages)))
        worst = max(self.tenk_ages) if self.tenk_ages else None
        info("next to 10k new containers (own collectd), the healthy source's last_success "
             "was at most %s s old (%s)" % ("%.1f" % worst if worst is not None else "?",
                                           "missing from the scrape at times: write_prometheus"
                                           " settling 10k new series"
                                           if worst and worst > 1e8 else "on time"))
        check("write_prometheus answered every scrape", not self.scrape_errors,
              "%r" % self.scrape_errors[:2])

    def promtool(self, m, when):
        if not shutil.which("promtool"):
            skip("write_prometheus output parses (%s)" % when, "no promtool (Debian's "
                 "prometheus package)")
            return
        cp = subprocess.run(["promtool", "check", "metrics"], input=m.raw,
                            capture_output=True, timeout=120)
        out = (cp.stdout + cp.stderr).decode("utf-8", "replace")
        bad = cp.returncode == 1 or "parsing error" in out
        detail = ""
        if bad:
            mm = re.search(r"line (\d+)", out)
            if mm:
                n = int(mm.group(1))
                detail = " line %d: %r" % (n, m.raw.split(b"\n")[n - 1][:300])
        check("write_prometheus output parses as Prometheus text: promtool check metrics "
              "(%s)" % when, not bad, out.strip()[:300] + detail)

    def check_strace(self, path):
        """Every connect/sendto of collectd went to loopback or a unix socket."""
        try:
            text = open(path, errors="replace").read()
        except OSError as e:
            check("strace: every address collectd dialled is loopback", False, str(e))
            return
        addrs = re.findall(r'inet_addr\("([0-9.]+)"\)', text)
        addrs += re.findall(r'inet_pton\(AF_INET6, "([0-9a-f:.]+)"', text)
        outside = sorted({a for a in addrs if not (a.startswith("127.") or a == "::1")})
        dns = len(re.findall(r"htons\(53\)", text))
        info("strace: %d connect/send calls with an inet address, %d to port 53, addresses %s"
             % (len(addrs), dns, sorted(set(addrs))))
        check("strace: every address collectd dialled is loopback (DNS included)",
              addrs and not outside, "outside loopback: %r" % outside)


class _Holder:
    """Stops whatever stand-in currently sits in a one-element list."""

    def __init__(self, box):
        self.box = box

    def stop(self):
        if self.box and self.box[0] is not None:
            self.box[0].stop()
            self.box[0] = None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--run-dir", default=None)
    ap.add_argument("--strace", default=None, metavar="FILE",
                    help="run the main collectd under strace (connect, sendto) and check "
                         "that every address is loopback")
    ap.add_argument("--read-threads", type=int, default=None,
                    help="collectd's ReadThreads for the main instance (default: collectd's)")
    args = ap.parse_args()
    so = os.path.join(args.build_dir, ".libs", "portainer.so")
    if not os.path.exists(so):
        sys.exit("no %s: build first" % so)
    if args.strace:
        args.strace = os.path.abspath(args.strace)
    run_dir = args.run_dir or tempfile.mkdtemp(prefix="pt-faults-")
    os.makedirs(run_dir, exist_ok=True)
    suite = Suite(args, run_dir)
    atexit.register(suite.stop_all)
    # A CI timeout's SIGTERM still stops everything this suite started.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    t0 = time.monotonic()
    try:
        suite.run()
    except Exception:
        traceback.print_exc()
        check("suite ran to the end", False, "exception (see above)")
    finally:
        suite.sample_stop.set()
        suite.stop_all()
        if args.run_dir is None:
            shutil.rmtree(run_dir, ignore_errors=True)
    print("fault suite took %.0f s" % (time.monotonic() - t0))
    line = "%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"])
    if RESULTS["skipped"]:
        line += ", %d skipped" % RESULTS["skipped"]
    print(line)
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
