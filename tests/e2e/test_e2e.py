#!/usr/bin/env python3
"""End-to-end tests: the real collectd 5.12 loading the built portainer.so,
real Docker daemons with real containers in every state, the Portainer
stand-in in front of them, and the Prometheus text that collectd's own
write_prometheus serves, scraped over HTTP.

    python3 tests/e2e/test_e2e.py --build-dir build/test [--run-dir DIR]

Prints one line per check and ends with "N passed, N failed".  Stops every
process it starts, also on failure or Ctrl-C.  Loopback and unix sockets
only.
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import rig  # noqa: E402
import portainer_standin as ps  # noqa: E402
from harness import (API_KEY, HEALTH, INTERVAL, PASSWORD, STATE,  # noqa: E402
                     USERNAME, Collectd, Metrics, check, docker_source_conf,
                     eventually, free_port, skip, summary)

# --------------------------------------------------------------------------
# Identity rules (as in src/identity.c), for names past 127 bytes
# --------------------------------------------------------------------------


def fnv1a(s):
    h = 2166136261
    for b in s.encode():
        h ^= b
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def ident(s):
    s = re.sub(r'["\\\x00-\x1f\x7f]', "_", s)
    b = s.encode()
    if len(b) <= 127:
        return s.replace("/", "_")
    mark = "~%08x" % fnv1a(s)
    keep = b[:127 - len(mark)].decode("utf-8", "ignore")
    return (keep + mark).replace("/", "_")


# --------------------------------------------------------------------------
# The suite
# --------------------------------------------------------------------------


def expect_container(m, host, name, f, typ=None, require_inspect=True):
    """Checks every value of one container against its facts; returns
    (ok, detail)."""
    pi = ident(name)
    ti = typ if typ is not None else ident(f["image"])
    lab = dict(container=pi, type=ti, instance=host)
    st = m.get("collectd_container_state", **lab)
    errors = []
    want_state = STATE[f["state"]]
    if f["state"] == "restarting":
        if st not in (1.0, 4.0, 0.0):
            errors.append("state %r, want restarting/running" % st)
    elif st != want_state:
        errors.append("state %r, want %r" % (st, want_state))
    h = m.get("collectd_container_health", **lab)
    if f["state"] in ("running", "paused") and h != HEALTH[f["health"]] and f["state"] != "paused":
        errors.append("health %r, want %r" % (h, HEALTH[f["health"]]))
    if h is None:
        errors.append("no health")
    rc = m.get("collectd_container_restart_count", **lab)
    if require_inspect:
        if rc is None or rc < f.get("restart_count_min", 0):
            errors.append("restart_count %r, want >= %r" % (rc, f.get("restart_count_min", 0)))
    ec = m.get("collectd_container_exit_code", **lab)
    oom = m.get("collectd_container_oom_killed", **lab)
    up = m.get("collectd_container_uptime", **lab)
    fs = m.get("collectd_container_failing_streak", **lab)
    if f["state"] in ("exited", "dead"):
        if ec != f["exit_code"]:
            errors.append("exit_code %r, want %r" % (ec, f["exit_code"]))
        if require_inspect and oom != (1.0 if f.get("oom_killed") else 0.0):
            errors.append("oom_killed %r" % oom)
        if up is not None:
            errors.append("uptime %r for a stopped container" % up)
    elif f["state"] == "created":
        if ec is not None or up is not None:
            errors.append("exit_code/uptime for a created container")
    elif f["state"] in ("running", "paused"):
        if ec is not None:
            errors.append("exit_code %r for a running container" % ec)
        if require_inspect and (up is None or up < 0 or up > 3600):
            errors.append("uptime %r" % up)
    if require_inspect:
        if f["health"] is None and fs is not None:
            errors.append("failing_streak %r without a healthcheck" % fs)
        if f["health"] == "unhealthy" and (fs is None or fs < 1):
            errors.append("failing_streak %r for an unhealthy container" % fs)
        if f["health"] in ("healthy", "starting") and fs != 0:
            errors.append("failing_streak %r" % fs)
    return (not errors, "; ".join(errors) + " (labels %s)" % lab)


def check_host(port, host, facts, label, typ_of=None, require_inspect=True):
    for name, f in sorted(facts.items()):
        if f.get("oom_worked") is False:
            skip("%s %s" % (label, name), "the kernel here did not OOM-kill")
            continue
        typ = typ_of(name, f) if typ_of else None
        eventually("%s: %s" % (label, name[:60]),
                   lambda name=name, f=f, typ=typ: expect_container(
                       Metrics(port), host, name, f, typ, require_inspect), timeout=30)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--run-dir", default=None)
    ap.add_argument("--no-podman", action="store_true")
    ap.add_argument("--installed", action="store_true",
                    help="also check the plugin installed by 'make install' with "
                         "the default configuration (local Docker socket)")
    args = ap.parse_args()
    so = os.path.join(args.build_dir, ".libs", "portainer.so")
    if not os.path.exists(so):
        sys.exit("no %s: build first" % so)

    run_dir = args.run_dir or tempfile.mkdtemp(prefix="pt-e2e-")
    os.makedirs(run_dir, exist_ok=True)
    started = []  # things to stop, last first
    t0 = time.monotonic()
    try:
        run_suite(args, run_dir, started)
    except Exception:
        traceback.print_exc()
        check("suite ran to the end", False, "exception (see above)")
    finally:
        for thing in reversed(started):
            try:
                thing.stop()
            except Exception as e:
                print("warning: stopping %r: %s" % (thing, e), file=sys.stderr)
        if args.run_dir is None:
            shutil.rmtree(run_dir, ignore_errors=True)
    print("e2e suite took %.0f s" % (time.monotonic() - t0))
    return summary()


def run_suite(args, run_dir, started):
    # --- two real Docker hosts ------------------------------------------------
    tar = rig.build_busybox_tar(run_dir)
    hosts = []
    for n in ("h1", "h2"):
        h = rig.DockerHost(n, run_dir)
        h.start()
        started.append(h)
        rig.build_busybox_image(h, tar)
        hosts.append(h)
    h1, h2 = hosts
    facts1 = rig.populate(h1, "e2e-h1-")
    facts2 = rig.populate(h2, "e2e-h2-", oom=False)
    # The same name on both hosts: behind one agent environment they must
    # not collapse into one series.
    for h in hosts:
        h.docker("run", "-d", "--name", "e2e-twin", "--network", "none", rig.IMAGE,
                 "sleep", "1000000")
    # A container that runs until told to, then eats memory: an OOM kill
    # between two polls of an already inspected container.
    h1.docker("run", "-d", "--name", "e2e-h1-oomlater", "--network", "none",
              "-m", "16m", "--memory-swap", "16m", rig.IMAGE, "sh", "-c",
              "while [ ! -f /tmp/go ]; do sleep 0.2; done; " + rig.OOM_LOOP)
    # A container whose health the test flips.
    h1.docker("run", "-d", "--name", "e2e-h1-flip", "--network", "none",
              "--health-cmd", "test -f /tmp/ok", "--health-interval", "1s",
              "--health-retries", "1", rig.IMAGE, "sleep", "1000000")
    if facts1["e2e-h1-oom"].get("oom_worked", False):
        check("OOM kill possible here (oom_killed = 1 is checked for real)", True)
    else:
        skip("OOM kill", "the kernel's memory cgroup did not OOM-kill here (or dockerd "
             "lost the flag); oom_killed = 1 is then only covered by unit tests")

    # --- Podman (optional) ---------------------------------------------------
    pm = None
    pm_facts = {}
    if not args.no_podman:
        pm = rig.Podman(run_dir)
        if pm.start():
            started.append(pm)
            try:
                pm.import_image(tar)
                pm_facts = rig.populate_podman(pm, "e2e-pm-")
            except Exception as e:
                skip("podman containers", str(e))
                pm_facts = {}
        else:
            skip("podman", "podman's service did not start here: %s" % pm.reason)
            pm = None

    # --- the Portainer stand-in ------------------------------------------------
    cfg = ps.example_config([(h.name, h.socket) for h in hosts], api_key=API_KEY,
                            username=USERNAME, password=PASSWORD)
    standin = ps.StandIn(cfg).start()
    started.append(standin)
    ctl = ps.Client(standin.url)

    # --- collectd --------------------------------------------------------------
    closed = free_port()
    conf = "\n".join([
        docker_source_conf("h1", h1.socket, "dockerhost-1"),
        """  <Portainer "pt">
    URL "%s"
    Token "%s"
    PageSize 2
  </Portainer>""" % (standin.url, API_KEY),
        """  <Portainer "ptjwt">
    URL "%s/"
    Username "%s"
    Password "%s"
    EndpointInclude "^docker-h2$"
    TypeInstance "label:com.docker.swarm.service.name"
    Collect "state" "health"
  </Portainer>""" % (standin.url, USERNAME, PASSWORD),
        """  <Portainer "off">
    URL "http://127.0.0.1:%d"
    Token "ptr_off"
    Timeout 1000
  </Portainer>""" % closed,
        """  <Portainer "broken">
    Token "ptr_broken"
  </Portainer>""",
    ] + ([docker_source_conf("podman", pm.socket, "podhost")] if pm and pm_facts else []))
    port = free_port()
    cd = Collectd(run_dir, "main", args.build_dir, conf, port).start()
    started.append(cd)

    # --- every signal, every state: Docker source -----------------------------
    check_host(port, "dockerhost-1", facts1, "docker source")
    # Already inspected before the OOM kill happens (see below).
    eventually("OOM candidate running and inspected",
               lambda: (Metrics(port).get("collectd_container_uptime",
                                          container="e2e-h1-oomlater", type="bb:latest",
                                          instance="dockerhost-1") is not None, ""))
    # --- ... and through Portainer ---------------------------------------------
    check_host(port, "local", facts1, "portainer env local")
    check_host(port, "docker-h2", facts2, "portainer env docker-h2")
    # Swarm agent environment: both nodes' containers, inspects routed to the
    # node that runs them (without X-PortainerAgent-Target the receiving node
    # answers 404 for the other's containers, and they would be missing).
    check_host(port, "swarm", {k: v for k, v in facts2.items()
                               if v["state"] != "restarting"}, "portainer swarm env")

    def twins():
        m = Metrics(port)
        a = m.get("collectd_container_state", container="e2e-twin@node-h1",
                  type="bb:latest", instance="swarm")
        b = m.get("collectd_container_state", container="e2e-twin@node-h2",
                  type="bb:latest", instance="swarm")
        return a == 1 and b == 1, "twin series: %r %r" % (a, b)
    eventually("same name on two Swarm nodes: two series", twins)

    def single_twin():
        m = Metrics(port)
        v = m.get("collectd_container_state", container="e2e-twin", type="bb:latest",
                  instance="local")
        return v == 1, "e2e-twin in env local: %r" % v
    eventually("no suffix where names do not collide", single_twin)

    # Label as type_instance (Swarm service name), and Collect.
    def label_ti():
        m = Metrics(port)
        v = m.get("collectd_container_state", container="e2e-h2-swarm", type="stack1_web",
                  instance="docker-h2")
        rc = m.select("collectd_container_restart_count", type="stack1_web")
        return v == 1 and not rc, "state %r, restart_count series %r" % (v, rc)
    eventually("TypeInstance label:com.docker.swarm.service.name, Collect state health",
               label_ti)

    # --- self metrics ---------------------------------------------------------
    def env_up():
        m = Metrics(port)
        want = {"local": 1, "swarm": 1, "docker-h2": 1, "edge-site": 0, "gone": 0,
                "deadsock": 0}
        got = {k: m.get("collectd_portainer_up", portainer="pt", type="environment",
                        instance=k) for k in want}
        kube = m.select("collectd_portainer_up", instance="kube")
        api = m.get("collectd_portainer_up", portainer="pt", type="api", instance="collector")
        ok = got == {k: float(v) for k, v in want.items()} and not kube and api == 1
        return ok, "env up %r, kube %r, api %r" % (got, kube, api)
    eventually("up per source and per environment (down, Edge, dead socket = 0)", env_up)

    def edge_no_values():
        m = Metrics(port)
        bad = [d for d, _ in m.select("collectd_container_state")
               if d["instance"] in ("edge-site", "gone", "deadsock", "kube")]
        return not bad, "values for unreachable environments: %r" % bad[:3]
    eventually("no container values from environments that are down", edge_no_values)

    def counts():
        m = Metrics(port)
        n_local = m.get("collectd_portainer_containers", portainer="pt", instance="local")
        listed = len(h1.containers())
        return n_local == listed, "containers local %r, docker lists %r" % (n_local, listed)
    eventually("containers per environment", counts)

    def self_metrics():
        m = Metrics(port)
        ls = m.get("collectd_portainer_last_success_seconds", portainer="pt",
                   instance="collector")
        dur = m.get("collectd_portainer_poll_duration_seconds", portainer="pt",
                    instance="collector")
        req = m.get("collectd_portainer_api_requests_total", portainer="pt",
                    instance="collector")
        e5 = m.get("collectd_portainer_api_errors_total", portainer="pt", type="http_5xx",
                   instance="collector")
        ok = (ls is not None and abs(ls - time.time()) < 30 and dur is not None
              and 0 <= dur < INTERVAL and req and req > 0 and e5 and e5 >= 3)
        return ok, "last_success %r duration %r requests %r 5xx %r" % (ls, dur, req, e5)
    eventually("last success, poll duration, requests and errors by kind", self_metrics)

    def off_source():
        m = Metrics(port)
        up = m.get("collectd_portainer_up", portainer="off", type="api", instance="collector")
        err = m.get("collectd_portainer_api_errors_total", portainer="off", type="connect",
                    instance="collector")
        ls = m.get("collectd_portainer_last_success_seconds", portainer="off",
                   instance="collector")
        return up == 0 and err and err > 0 and ls is None, "up %r errors %r" % (up, err)
    eventually("a Portainer that refuses connections: up 0, others unaffected", off_source)

    def jwt_source():
        m = Metrics(port)
        up = m.get("collectd_portainer_up", portainer="ptjwt", type="api",
                   instance="collector")
        return up == 1, "ptjwt up %r" % up
    eventually("username and password: JWT login", jwt_source)

    # --- the log ---------------------------------------------------------------
    time.sleep(3 * INTERVAL)
    log = cd.read_log()
    check("kubernetes environment skipped with one info line",
          log.count('environment "kube" (id 4) is of type 5') == 1,
          "%d lines" % log.count('environment "kube"'))
    check("environment down: one line, not one per poll",
          log.count('environment "gone" (id 5): HTTP 502 (empty body)') == 1)
    check("Edge without tunnel: one line naming the cause",
          log.count('environment "edge-site" (id 3): HTTP 500: Unable to get the active '
                    'tunnel') == 1)
    check("source without URL: rejected at start with a clear line",
          'source "broken" not started: no URL' in log)
    check("no token or password in the log",
          API_KEY not in log and PASSWORD not in log and "ptr_off" not in log)
    check("collectd still running", cd.alive())

    # --- Podman ----------------------------------------------------------------
    if pm and pm_facts:
        # Podman names local images "localhost/<name>".
        check_host(port, "podhost", pm_facts, "podman source",
                   typ_of=lambda name, f: "localhost_" + ident(f["image"]))

    # --- the world changes --------------------------------------------------------
    def value(name, container, host, typ="bb:latest"):
        return Metrics(port).get(name, container=container, type=typ, instance=host)

    before_rc = value("collectd_container_restart_count", "e2e-h1-restarting", "dockerhost-1")
    h1.docker("kill", "e2e-h1-running")
    h1.docker("unpause", "e2e-h1-paused")
    h1.docker("exec", "e2e-h1-flip", "touch", "/tmp/ok")
    h1.docker("rm", "-f", "e2e-h1-exited0")
    h1.docker("create", "--name", "e2e-h1-new", "--network", "none", rig.IMAGE, "true")
    up_before = value("collectd_container_uptime", "e2e-h1-healthy", "dockerhost-1")
    h1.docker("restart", "-t", "0", "e2e-h1-healthy")
    h1.docker("exec", "e2e-h1-oomlater", "touch", "/tmp/go")
    oom_info = rig.wait_for(h1, "e2e-h1-oomlater", state="exited", timeout=30)
    oom_now = bool(oom_info["State"].get("OOMKilled"))
    for host in ("dockerhost-1", "local"):
        label = "%s: " % host
        eventually(label + "killed container: state exited, exit code 137",
                   lambda host=host: (
                       value("collectd_container_state", "e2e-h1-running", host) == 0 and
                       value("collectd_container_exit_code", "e2e-h1-running", host) == 137,
                       "state %r exit %r" % (
                           value("collectd_container_state", "e2e-h1-running", host),
                           value("collectd_container_exit_code", "e2e-h1-running", host))))
        eventually(label + "unpaused container: state running",
                   lambda host=host: (value("collectd_container_state", "e2e-h1-paused",
                                            host) == 1, ""))
        eventually(label + "health flips unhealthy -> healthy",
                   lambda host=host: (value("collectd_container_health", "e2e-h1-flip",
                                            host) == 1, ""))
        eventually(label + "removed container disappears",
                   lambda host=host: (value("collectd_container_state", "e2e-h1-exited0",
                                            host) is None, ""), timeout=30)
        eventually(label + "created container appears with state 3",
                   lambda host=host: (value("collectd_container_state", "e2e-h1-new",
                                            host) == 3, ""))
        eventually(label + "restarted container: uptime starts again",
                   lambda host=host: (
                       (value("collectd_container_uptime", "e2e-h1-healthy", host) or 1e9)
                       < (up_before or 0), "uptime before %r now %r" % (
                           up_before, value("collectd_container_uptime", "e2e-h1-healthy",
                                            host))))
        if oom_now:
            eventually(label + "OOM kill between two polls: oom_killed 1, exit code 137",
                       lambda host=host: (
                           value("collectd_container_oom_killed", "e2e-h1-oomlater",
                                 host) == 1 and
                           value("collectd_container_exit_code", "e2e-h1-oomlater",
                                 host) == 137, ""))
        else:
            skip(label + "OOM kill between two polls", "dockerd did not record an OOM "
                 "kill this time (%r)" % oom_info["State"])
        eventually(label + "restart count rises between polls (incremental inspects)",
                   lambda host=host: (
                       (value("collectd_container_restart_count", "e2e-h1-restarting", host)
                        or 0) > (before_rc or 0), "before %r" % before_rc), timeout=40)

    # --- faults come and go -----------------------------------------------------------
    ctl.ctl("POST", "env/1/mode", {"mode": "down"})
    eventually("environment goes down: up 0 and its container values go",
               lambda: (value("collectd_container_state", "e2e-twin", "local") is None and
                        Metrics(port).get("collectd_portainer_up", portainer="pt",
                                          type="environment", instance="local") == 0, ""),
               timeout=30)
    eventually("...while the other environments keep reporting",
               lambda: (value("collectd_container_state", "e2e-twin", "docker-h2") == 1, ""))
    ctl.ctl("POST", "env/1/mode", {"mode": "ok"})
    eventually("environment back: values in the next polls",
               lambda: (value("collectd_container_state", "e2e-twin", "local") == 1, ""))
    ctl.ctl("POST", "jwt/invalidate", {})
    time.sleep(2 * INTERVAL)
    eventually("Portainer restarted (JWTs invalid): logs in again",
               lambda: (Metrics(port).get("collectd_portainer_up", portainer="ptjwt",
                                          type="api", instance="collector") == 1, ""))
    check("collectd survived it all", cd.alive())

    # --- sharding: two collectd instances split the environments -----------------------
    shard_conf = """  <Portainer "pt">
    URL "%s"
    Token "%s"
    Shard "%%d/2"
  </Portainer>""" % (standin.url, API_KEY)
    shards = []
    for i in (1, 2):
        c = Collectd(run_dir, "shard%d" % i, args.build_dir, shard_conf % i, free_port())
        started.append(c.start())
        shards.append(c)

    def shard_split():
        main_set = {(d["instance"], d["container"]) for d, _ in
                    Metrics(port).select("collectd_container_state")
                    if d["instance"] in ("local", "swarm", "docker-h2")}
        parts = [{(d["instance"], d["container"]) for d, _ in
                  Metrics(c.port).select("collectd_container_state")} for c in shards]
        ok = (parts[0] and parts[1] and not (parts[0] & parts[1])
              and (parts[0] | parts[1]) == main_set)
        return ok, "shard sizes %d + %d, overlap %d, all %d" % (
            len(parts[0]), len(parts[1]), len(parts[0] & parts[1]), len(main_set))
    eventually("Shard 1/2 + 2/2 report every container exactly once", shard_split, timeout=30)
    for c in shards:
        c.stop()

    cd.stop()
    check("collectd stopped cleanly", True)

    if args.installed:
        installed_check(run_dir, h1, facts1, started)


def installed_check(run_dir, h1, facts1, started):
    """collectd loads the plugin from its own plugin directory (make install),
    and "LoadPlugin portainer" alone watches /var/run/docker.sock."""
    sock = "/var/run/docker.sock"
    if os.path.lexists(sock):
        skip("installed plugin, default source", "%s exists here (a real Docker): "
             "not replacing it" % sock)
        return
    os.symlink(h1.socket, sock)
    try:
        port = free_port()
        c = Collectd(run_dir, "installed", None, None, port, installed=True).start()
        started.append(c)
        eventually("installed plugin: LoadPlugin portainer alone reports the local "
                   "Docker socket",
                   lambda: expect_container(Metrics(port), "collector", "e2e-h1-exited42",
                                            facts1["e2e-h1-exited42"]))
        check("installed plugin: default source logged",
              'watching the local Docker socket' in c.read_log())
        c.stop()
    finally:
        os.unlink(sock)


if __name__ == "__main__":
    sys.exit(main())
