#!/usr/bin/env python3
"""End-to-end tests of the Notify option: the real collectd 5.12 loading the
built portainer.so, a real dockerd whose containers exit, get OOM-killed,
loop through restarts and flip health, and the Portainer stand-in (run as its
own process) whose environment and whole API go down and come back.  The
notifications are read from collectd's own logfile plugin, which logs every
notification it receives.

    python3 tests/e2e/test_notify.py --build-dir build/dev [--run-dir DIR]

Prints one line per check and ends with "N passed, N failed".  Stops every
process it starts, by PID, also on failure.  Loopback and unix sockets only.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import rig  # noqa: E402
import portainer_standin as ps  # noqa: E402
from harness import (API_KEY, INTERVAL, Collectd, Metrics, check,  # noqa: E402
                     eventually, free_port, run_and_stop, skip, summary)

DOCKER_HOST = "nt-docker"  # Host of the Docker source

# "[2026-12-02 16:52:19] " starts every logfile line; a notification's line
# has no newline of its own, so the next line's stamp ends it.
STAMP = r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] "
NOTIF = re.compile(r"Notification: severity = (.*?)(?=%s|\n|$)" % STAMP)
FIELDS = ("host", "plugin", "plugin_instance", "type", "type_instance")


def notifications(cd):
    """Every notification in the log, in order, as dicts."""
    out = []
    for m in NOTIF.finditer(cd.read_log()):
        text = m.group(1)
        head, _, message = text.partition(", message = ")
        parts = head.split(", ")
        n = {"severity": parts[0], "message": message.rstrip()}
        for p in parts[1:]:
            k, _, v = p.partition(" = ")
            n[k] = v
        out.append(n)
    return out


def select(cd, **want):
    return [n for n in notifications(cd) if all(n.get(k) == v for k, v in want.items())]


def one(cd, label, **want):
    """Exactly one notification with these fields appears (and stays one)."""
    ok = eventually(label, lambda: (len(select(cd, **want)) >= 1,
                                    "none with %r" % want), timeout=40)
    if ok:
        # Two more polls: a second one would show up by then.
        time.sleep(2 * INTERVAL + 1)
        got = select(cd, **want)
        check(label + ": exactly one", len(got) == 1,
              "%d: %r" % (len(got), [n["message"] for n in got]))
    return select(cd, **want)


class StandInProcess:
    """The stand-in as its own process, so that stopping it closes every
    connection (as a Portainer going away does)."""

    def __init__(self, run_dir, config, port):
        self.cfg_path = os.path.join(run_dir, "standin.json")
        with open(self.cfg_path, "w") as f:
            json.dump(config, f)
        self.port = port
        self.log = os.path.join(run_dir, "standin.log")
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "portainer_standin.py"), "--listen",
             "127.0.0.1:%d" % self.port, "--config", self.cfg_path],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            start_new_session=True)
        logf.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                ps.Client(self.url, timeout=2).request("GET", "/api/system/status")
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the stand-in did not answer")

    def stop(self):
        if self.proc is not None:
            rig.terminate_pid(self.proc.pid, term_timeout=10)
            self.proc.wait(timeout=10)
            self.proc = None


def relay(listen, target):
    """Relays every connection to ``listen`` to the unix socket ``target``
    until killed (run as its own process by Relay)."""
    import socket
    import threading

    def pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(listen)
    srv.listen(64)
    while True:
        c, _ = srv.accept()
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            u.connect(target)
        except OSError:
            c.close()
            continue
        for a, b in ((c, u), (u, c)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


class Relay:
    """A unix socket in front of the daemon's: stopping it closes every
    connection through it, as a daemon going away does."""

    def __init__(self, path, target):
        self.path, self.target, self.proc = path, target, None

    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--relay", self.path, self.target],
            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.path) and time.monotonic() < deadline:
            time.sleep(0.1)
        return self

    def stop(self):
        if self.proc is not None:
            rig.terminate_pid(self.proc.pid, term_timeout=5)
            self.proc.wait(timeout=10)
            self.proc = None
        if os.path.exists(self.path):
            os.unlink(self.path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir")
    ap.add_argument("--run-dir", default=None)
    ap.add_argument("--relay", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.relay:
        relay(*args.relay)
        return 0
    if not args.build_dir:
        ap.error("--build-dir is required")
    so = os.path.join(args.build_dir, ".libs", "portainer.so")
    if not os.path.exists(so):
        sys.exit("no %s: build first" % so)
    run_dir = args.run_dir or tempfile.mkdtemp(prefix="pt-notify-")
    os.makedirs(run_dir, exist_ok=True)
    started = []
    took = run_and_stop(lambda: run_suite(args, run_dir, started), started,
                        lambda: args.run_dir is None and shutil.rmtree(
                            run_dir, ignore_errors=True))
    print("notify suite took %.0f s" % took)
    return summary()


def wait_then(cmd):
    """A container command that waits for /tmp/go, then runs cmd."""
    return ["sh", "-c", "while [ ! -f /tmp/go ]; do sleep 0.2; done; " + cmd]


def run_suite(args, run_dir, started):
    h = rig.DockerHost("n1", run_dir)
    h.start()
    started.append(h)
    rig.build_busybox_image(h)
    run = ["run", "--pull", "never", "-d", "--network", "none"]
    # Already failed or unhealthy before collectd starts: no notification.
    h.docker(*run, "--name", "nt-pre42", rig.IMAGE, "sh", "-c", "exit 42")
    h.docker(*run, "--name", "nt-preunhealthy", "--health-cmd", "false",
             "--health-retries", "1", "--health-interval", "1s", rig.IMAGE,
             "sleep", "1000000")
    # Running until the test says so.
    h.docker(*run, "--name", "nt-exit3", rig.IMAGE, *wait_then("exit 3"))
    h.docker(*run, "--name", "nt-exit0", rig.IMAGE, *wait_then("exit 0"))
    h.docker(*run, "--name", "nt-oom", "-m", "16m", "--memory-swap", "16m", rig.IMAGE,
             *wait_then(rig.OOM_LOOP))
    # /tmp/go stays in the container's layer: once there, every restart exits.
    h.docker(*run, "--name", "nt-loop", "--restart", "always", rig.IMAGE,
             *wait_then("exit 3"))
    h.docker(*run, "--name", "nt-flip", "--health-cmd", "test -f /tmp/ok",
             "--health-interval", "1s", "--health-retries", "1", rig.IMAGE,
             "sh", "-c", "touch /tmp/ok; exec sleep 1000000")
    rig.wait_for(h, "nt-pre42", state="exited")
    rig.wait_for(h, "nt-preunhealthy", health="unhealthy")
    rig.wait_for(h, "nt-flip", health="healthy")

    cfg = {"version": ps.API_VERSION, "api_keys": [API_KEY], "users": {"admin": "e2e-password-123"},
           "snapshot_interval": 5, "environments": [
               {"id": 1, "name": "nt-local", "kind": "docker", "socket": h.socket},
               {"id": 2, "name": "nt-other", "kind": "docker", "socket": h.socket}]}
    standin = StandInProcess(run_dir, cfg, free_port()).start()
    started.append(standin)
    ctl = ps.Client(standin.url)

    # The Docker source reaches the daemon through a relay the test stops.
    link = os.path.join(run_dir, "d.sock")
    rl = Relay(link, h.socket).start()
    started.append(rl)
    conf = """  <Docker "d">
    Socket "%s"
    Host "%s"
    Notify true
  </Docker>
  <Portainer "pt">
    URL "%s"
    Token "%s"
    Notify "down"
  </Portainer>""" % (link, DOCKER_HOST, standin.url, API_KEY)
    port = free_port()
    cd = Collectd(run_dir, "notify", args.build_dir, conf, port).start()
    started.append(cd)

    def value(name, container, host=DOCKER_HOST):
        return Metrics(port).get(name, container=container, type="bb:latest",
                                 instance=host)

    # --- start-up: a baseline, nothing told ------------------------------------
    eventually("containers listed and inspected",
               lambda: (value("collectd_container_uptime", "nt-exit3") is not None and
                        value("collectd_container_exit_code", "nt-pre42") == 42 and
                        value("collectd_container_health", "nt-preunhealthy") == 2 and
                        value("collectd_container_state", "nt-pre42",
                              "nt-local") == 0, ""))
    time.sleep(3 * INTERVAL)
    got = notifications(cd)
    check("start-up: nothing notified (exited 42 and unhealthy already)", got == [],
          repr(got[:3]))

    # --- exits --------------------------------------------------------------------
    for name in ("nt-exit3", "nt-exit0"):
        h.docker("exec", name, "touch", "/tmp/go")
    n3 = one(cd, "exit 3: a FAILURE", severity="FAILURE", host=DOCKER_HOST,
             plugin="container", plugin_instance="nt-exit3", type="exit_code",
             type_instance="bb:latest")
    if n3:
        msg = n3[0]["message"]
        check("exit 3: the message names container, host, code and time",
              'container "nt-exit3" on "nt-docker" exited with exit code 3 at 20' in msg,
              msg)
    one(cd, "exit 0: an OKAY", severity="OKAY", host=DOCKER_HOST,
        plugin_instance="nt-exit0", type="exit_code")
    check("exit 0: no FAILURE for it",
          not select(cd, severity="FAILURE", plugin_instance="nt-exit0"))

    # A container that appears after start-up and fails between two polls.
    h.docker(*run, "--name", "nt-new5", rig.IMAGE, "sh", "-c", "exit 5")
    n5 = one(cd, "new container exiting 5 between polls: a FAILURE", severity="FAILURE",
             plugin_instance="nt-new5", type="exit_code")
    if n5:
        check("new container: its code", "exit code 5" in n5[0]["message"],
              n5[0]["message"])

    # --- OOM kill --------------------------------------------------------------------
    h.docker("exec", "nt-oom", "touch", "/tmp/go")
    info = rig.wait_for(h, "nt-oom", state="exited", timeout=60)
    if info["State"].get("OOMKilled"):
        no = one(cd, "OOM kill: one notification", severity="FAILURE",
                 plugin_instance="nt-oom", type="oom_killed")
        if no:
            check("OOM kill: the message says so", "OOM killer" in no[0]["message"],
                  no[0]["message"])
        check("OOM kill: not also told as a plain exit",
              not select(cd, plugin_instance="nt-oom", type="exit_code"))
    else:
        skip("OOM kill notification", "dockerd recorded no OOM kill this time (%r)"
             % info["State"])
        one(cd, "killed (137 without OOM flag): one exit FAILURE", severity="FAILURE",
            plugin_instance="nt-oom", type="exit_code")

    # --- restart loop ------------------------------------------------------------------
    h.docker("exec", "nt-loop", "touch", "/tmp/go")

    def restarts():
        return [n for n in select(cd, plugin_instance="nt-loop", type="restart_count")]
    eventually("restart loop: restarts notified",
               lambda: (len(restarts()) >= 3, "%d so far" % len(restarts())), timeout=60)
    h.docker("rm", "-f", "nt-loop")
    time.sleep(2 * INTERVAL + 1)
    chain = []
    for n in restarts():
        m = re.search(r"restart count (\d+) \(was (\d+)\)", n["message"])
        chain.append((int(m.group(1)), int(m.group(2))) if m else None)
    ok = bool(chain) and None not in chain and chain[0][1] == 0 and all(
        now > was for now, was in chain) and all(
        chain[i][1] == chain[i - 1][0] for i in range(1, len(chain)))
    check("restart loop: one per rise seen, none twice (each 'was' is the last "
          "'count')", ok, repr(chain))
    check("restart loop: WARNING severity",
          all(n["severity"] == "WARNING" for n in restarts()))

    # --- health flips --------------------------------------------------------------------
    h.docker("exec", "nt-flip", "rm", "/tmp/ok")
    one(cd, "turns unhealthy: a FAILURE", severity="FAILURE", plugin_instance="nt-flip",
        type="health")
    h.docker("exec", "nt-flip", "touch", "/tmp/ok")
    nh = one(cd, "healthy again: an OKAY", severity="OKAY", plugin_instance="nt-flip",
             type="health")
    if nh:
        check("healthy again: the message", "is healthy again" in nh[0]["message"],
              nh[0]["message"])

    # --- not one per poll ------------------------------------------------------------------
    before = len(notifications(cd))
    time.sleep(5 * INTERVAL)
    after = notifications(cd)
    check("nothing more over five polls without news", len(after) == before,
          "%d -> %d: %r" % (before, len(after), [n["message"] for n in after[before:]]))
    check("pre-existing failures never told",
          not select(cd, plugin_instance="nt-pre42") and
          not select(cd, plugin_instance="nt-preunhealthy"))

    # --- an environment down and back ---------------------------------------------------------
    ctl.ctl("POST", "env/1/mode", {"mode": "down"})
    nd = one(cd, "environment down: a FAILURE", severity="FAILURE", host="nt-local",
             plugin="portainer", plugin_instance="pt", type="up",
             type_instance="environment")
    if nd:
        check("environment down: the message",
              'environment "nt-local" (id 1) of source "pt" is down since' in
              nd[0]["message"], nd[0]["message"])
    ctl.ctl("POST", "env/1/mode", {"mode": "ok"})
    one(cd, "environment back: an OKAY", severity="OKAY", host="nt-local",
        type="up", type_instance="environment")
    check("the other environment: nothing", not select(cd, host="nt-other"))

    # --- the whole Portainer down and back ------------------------------------------------------
    standin.stop()
    one(cd, "Portainer down: a FAILURE for the source", severity="FAILURE",
        host="collector", plugin="portainer", plugin_instance="pt", type="up",
        type_instance="api")
    standin.start()
    one(cd, "Portainer back: an OKAY", severity="OKAY", host="collector",
        plugin_instance="pt", type_instance="api")
    check("Portainer down: its environments not told down as well",
          len(select(cd, plugin_instance="pt", type_instance="environment")) == 2)

    # --- the Docker source's daemon down and back ---------------------------------------------------
    rl.stop()
    one(cd, "Docker daemon gone: a FAILURE for its host", severity="FAILURE",
        host=DOCKER_HOST, plugin="portainer", plugin_instance="d", type="up",
        type_instance="environment")
    rl.start()
    one(cd, "Docker daemon back: an OKAY", severity="OKAY", host=DOCKER_HOST,
        plugin_instance="d", type_instance="environment")
    check("Docker source: its host told, not also the source",
          not select(cd, plugin_instance="d", type_instance="api"))
    # Containers did not change meanwhile: the outage made no container news.
    check("no container news from the outages",
          not [n for n in notifications(cd)[before:] if n.get("plugin") == "container"])
    check("collectd still running", cd.alive())


if __name__ == "__main__":
    sys.exit(main())
