#!/usr/bin/env python3
"""A fleet as people run it (issue 8, item 1): offline Edge devices, agents
that accept and never answer, an Edge agent whose tunnel never comes up, an
async Edge agent, and a few healthy environments listed after all of them.

    python3 tests/e2e/test_fleet.py --build-dir build/test [--run-dir DIR]

The real collectd 5.12 loads the built plugin with `Interval 10` and every
other option at its default (Timeout 5000 ms, MaxConcurrentRequests 16), in
front of the Portainer stand-in, which keeps real Portainer's timing: a
proxied request to an Edge agent without tunnel is held 2 x its check-in
interval (10 s) and then answered 500; a black-holed agent holds it until
the client gives up.  Portainer lists in storage order, so here, as in the
issue, the 40 Edge devices registered first come first, then 30 black-holed
agents and 4 Edge agents without tunnel (34 requests that never answer in
time: more than twice the 16 slots), then the rest.

Checks: every healthy environment reads up 1 with its container values in
every scrape over several consecutive polls, the first one included; no
request reaches an offline Edge device, and each is logged once; an Edge
device that starts checking in is asked in the next poll; the async Edge
agent reports its snapshot's containers, and goes up 0 (logged once) when its
snapshot is stale.  Prints one line per check, ends with "N passed, N
failed"; stops every process it starts.  Loopback and unix sockets only.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import rig  # noqa: E402
import portainer_standin as ps  # noqa: E402
from harness import (API_KEY, Collectd, Metrics, check, eventually,  # noqa: E402
                     free_port, run_and_stop, summary)

INTERVAL = 10
OFFLINE = range(1, 41)        # Edge devices that stopped checking in
HOLES = range(41, 71)         # TCP agents that accept and never answer
NO_TUNNEL = range(71, 75)     # Edge agents checking in, tunnel never up
LATE = 75                     # an Edge device that starts checking in later
ASYNC = 76                    # an async Edge agent, from its snapshot
SITES = range(77, 82)         # healthy Docker environments
CONTAINERS = {"fleet-run": {"state": 1, "health": 0},
              "fleet-healthy": {"state": 1, "health": 1},
              "fleet-exit42": {"state": 0, "health": 0, "exit_code": 42}}


def name_of(eid):
    if eid in OFFLINE:
        return "edge-off-%02d" % eid
    if eid in HOLES:
        return "hole-%02d" % eid
    if eid in NO_TUNNEL:
        return "edge-notunnel-%02d" % eid
    return {LATE: "edge-late", ASYNC: "edge-async"}.get(eid, "site-%02d" % eid)


def fleet_config(sock, now):
    envs = []
    for eid in OFFLINE:
        # Half never checked in, half stopped an hour ago.  Asked, each would
        # hold a request 10 s, as real Portainer does.
        envs.append({"id": eid, "name": name_of(eid), "kind": "edge", "checking_in": False,
                     "last_check_in": 0 if eid % 2 else int(now - 3600)})
    for eid in HOLES:
        envs.append({"id": eid, "name": name_of(eid), "kind": "blackhole"})
    for eid in NO_TUNNEL:
        envs.append({"id": eid, "name": name_of(eid), "kind": "edge"})
    envs.append({"id": LATE, "name": name_of(LATE), "kind": "edge", "checking_in": False,
                 "last_check_in": int(now - 3600), "tunnel": True, "socket": sock})
    envs.append({"id": ASYNC, "name": name_of(ASYNC), "kind": "edge", "async": True,
                 "snapshot_interval": 10, "socket": sock})
    for eid in SITES:
        envs.append({"id": eid, "name": name_of(eid), "kind": "docker", "socket": sock})
    return {"api_keys": [API_KEY], "users": {}, "snapshot_interval": 2,
            "recent_requests": 20000, "environments": envs}


def env_up(m, eid):
    return m.get("collectd_portainer_up", portainer="fleet", type="environment",
                 instance=name_of(eid))


def site_ok(m, eid):
    """(ok, detail): up 1 and every container's values."""
    host = name_of(eid)
    errs = []
    if env_up(m, eid) != 1:
        errs.append("up %r" % env_up(m, eid))
    for c, want in CONTAINERS.items():
        lab = dict(container=c, type="bb:latest", instance=host)
        st = m.get("collectd_container_state", **lab)
        h = m.get("collectd_container_health", **lab)
        if st != want["state"] or h != want["health"]:
            errs.append("%s state %r health %r" % (c, st, h))
        if "exit_code" in want and m.get("collectd_container_exit_code", **lab) != 42:
            errs.append("%s exit_code %r" % (c, m.get("collectd_container_exit_code", **lab)))
        if m.get("collectd_container_restart_count", **lab) is None:
            errs.append("%s restart_count missing" % c)
    return not errs, "%s: %s" % (host, "; ".join(errs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--run-dir", default=None)
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.build_dir, ".libs", "portainer.so")):
        sys.exit("no %s/.libs/portainer.so: build first" % args.build_dir)
    run_dir = args.run_dir or tempfile.mkdtemp(prefix="pt-fleet-")
    os.makedirs(run_dir, exist_ok=True)
    started = []
    took = run_and_stop(lambda: run(args, run_dir, started), started,
                        lambda: args.run_dir is None and shutil.rmtree(
                            run_dir, ignore_errors=True))
    print("fleet suite took %.0f s" % took)
    return summary()


def run(args, run_dir, started):
    host = rig.DockerHost("f1", run_dir)
    host.start()
    started.append(host)
    rig.build_busybox_image(host, rig.build_busybox_tar(run_dir))
    host.docker("run", "-d", "--name", "fleet-run", "--network", "none", rig.IMAGE,
                "sleep", "1000000")
    host.docker("run", "-d", "--name", "fleet-healthy", "--network", "none",
                "--health-cmd", "true", "--health-interval", "1s", rig.IMAGE,
                "sleep", "1000000")
    host.docker("run", "--name", "fleet-exit42", "--network", "none", rig.IMAGE,
                "sh", "-c", "exit 42", check=False)
    rig.wait_for(host, "fleet-healthy", health="healthy", timeout=60)

    standin = ps.StandIn(fleet_config(host.socket, time.time())).start()
    started.append(standin)
    ctl = ps.Client(standin.url)
    ctl.snapshot(ASYNC)

    conf = """  <Portainer "fleet">
    URL "%s"
    Token "%s"
  </Portainer>""" % (standin.url, API_KEY)
    port = free_port()
    cd = Collectd(run_dir, "fleet", args.build_dir, conf, port, interval=INTERVAL).start()
    started.append(cd)

    phase_steady(cd, port, ctl)
    phase_late_edge(cd, port, ctl)
    phase_async(cd, port, ctl)


def phase_steady(cd, port, ctl):
    # From the first scrape that shows a poll, every scrape over four more
    # polls: consecutive, not "eventually".
    deadline = time.monotonic() + 3 * INTERVAL
    while time.monotonic() < deadline:
        if Metrics(port).get("collectd_portainer_up", portainer="fleet", type="api",
                             instance="collector") is not None:
            break
        time.sleep(0.5)
    polls, scrapes, bad, slow_polls = set(), 0, [], []
    end = time.monotonic() + 4 * INTERVAL + 2
    while time.monotonic() < end:
        m = Metrics(port)
        scrapes += 1
        last = m.get("collectd_portainer_last_success_seconds", portainer="fleet",
                     instance="collector")
        if last is not None:
            polls.add(last)
        dur = m.get("collectd_portainer_poll_duration_seconds", portainer="fleet",
                    instance="collector")
        if dur is None or dur >= INTERVAL:
            slow_polls.append(dur)
        for eid in SITES:
            ok, detail = site_ok(m, eid)
            if not ok:
                bad.append("scrape %d: %s" % (scrapes, detail))
        for eid in list(OFFLINE) + list(HOLES) + list(NO_TUNNEL) + [LATE]:
            if env_up(m, eid) != 0:
                bad.append("scrape %d: %s up %r" % (scrapes, name_of(eid), env_up(m, eid)))
        time.sleep(2)
    check("%d consecutive scrapes over %d polls: every healthy environment up 1 with "
          "all its values, every unanswering one up 0" % (scrapes, len(polls)),
          not bad and len(polls) >= 4 and scrapes >= 15,
          "%d bad: %s" % (len(bad), "; ".join(b[:160] for b in bad[:4])))
    check("every poll ends within the interval (poll deadline kept)", not slow_polls,
          repr(slow_polls[:5]))

    by_env = ctl.counters()["by_env"]
    asked = {eid: by_env.get(str(eid)) for eid in OFFLINE if by_env.get(str(eid))}
    check("no request at all to the 40 Edge devices Portainer reports offline", not asked,
          "%d asked: %r" % (len(asked), dict(list(asked.items())[:3])))
    holes = sum((by_env.get(str(eid)) or {}).get("lists", 0) for eid in HOLES)
    check("black-holed agents are still asked every poll (they may answer again)",
          holes >= len(HOLES) * 4, "%d lists" % holes)
    log = cd.read_log()
    once = [name_of(eid) for eid in OFFLINE
            if log.count('environment "%s" (id %d): Edge agent offline (' % (name_of(eid), eid))
            != 1]
    check("each offline Edge device logged once, with its last check-in", not once
          and log.count("Edge agent offline (never checked in;") == 20
          and log.count(" s ago; Portainer expects one every 5 s): not asked until it "
                        "checks in again") == 21, repr(once[:5]))  # with edge-late
    hole_lines = [name_of(eid) for eid in HOLES
                  if log.count('environment "%s" (id %d): timeout' % (name_of(eid), eid)) != 1]
    check("each black-holed agent logged once (timeout)", not hole_lines,
          repr(hole_lines[:5]))


def phase_late_edge(cd, port, ctl):
    # The device comes back: it must be asked in the first poll whose
    # environment list shows it checking in.
    ctl.clear_requests()
    t_change = time.time()
    ctl.update_env(LATE, checking_in=True)

    def asked_in_next_poll():
        reqs = ctl.requests(20000)
        pages = [i for i, r in enumerate(reqs)
                 if r["path"].startswith("/api/endpoints?") and r["time"] > t_change]
        if len(pages) < 2:
            return False, "waiting for two polls after the change (%d)" % len(pages)
        first, second = pages[0], pages[1]
        mid = [r for r in reqs[first:second] if r.get("env_id") == LATE
               and "/containers/json" in r["path"]]
        return bool(mid), "requests to edge-late between the two pages: %d" % len(mid)
    eventually("an Edge device that starts checking in is asked in the next poll",
               asked_in_next_poll, timeout=3 * INTERVAL, every=2)

    def late_up():
        m = Metrics(port)
        ok, detail = site_ok(m, LATE)
        return ok, detail
    eventually("... and reports up 1 with its containers", late_up, timeout=3 * INTERVAL)
    log = cd.read_log()
    check("its return logged once",
          log.count('environment "edge-late" (id 75): Edge agent checking in again') == 1
          and log.count('environment "edge-late" (id 75): Edge agent offline') == 1)


def phase_async(cd, port, ctl):
    def from_snapshot():
        m = Metrics(port)
        errs = []
        if env_up(m, ASYNC) != 1:
            errs.append("up %r" % env_up(m, ASYNC))
        for c, want in CONTAINERS.items():
            lab = dict(container=c, type="bb:latest", instance="edge-async")
            if m.get("collectd_container_state", **lab) != want["state"]:
                errs.append("%s state %r" % (c, m.get("collectd_container_state", **lab)))
            if m.get("collectd_container_health", **lab) != want["health"]:
                errs.append("%s health %r" % (c, m.get("collectd_container_health", **lab)))
            if m.get("collectd_container_restart_count", **lab) is not None:
                errs.append("%s: a restart count, which no snapshot has" % c)
        ec = m.get("collectd_container_exit_code", container="fleet-exit42", type="bb:latest",
                   instance="edge-async")
        if ec != 42:
            errs.append("exit code %r" % ec)
        age = m.get("collectd_portainer_snapshot_age_seconds", portainer="fleet",
                    instance="edge-async")
        if age is None or not 0 <= age <= 40:
            errs.append("snapshot age %r" % age)
        return not errs, "; ".join(errs)
    eventually("async Edge agent: its snapshot's containers (state, health, exit code; "
               "no restart count) and the snapshot's age", from_snapshot,
               timeout=3 * INTERVAL)
    by_env = ctl.counters()["by_env"].get(str(ASYNC)) or {}
    check("async Edge agent: never proxied, its snapshot read with the environment",
          not by_env.get("lists") and not by_env.get("inspects")
          and by_env.get("endpoint", 0) >= 1, repr(by_env))

    # The agent stops sending snapshots; Portainer's is an hour old.
    ctl.update_env(ASYNC, snapshots=False, snapshot_age=3600)

    def stale():
        m = Metrics(port)
        up = env_up(m, ASYNC)
        age = m.get("collectd_portainer_snapshot_age_seconds", portainer="fleet",
                    instance="edge-async")
        return up == 0 and age is not None and age >= 3600, "up %r age %r" % (up, age)
    eventually("a stale snapshot: up 0, its age shown", stale, timeout=3 * INTERVAL)
    time.sleep(2 * INTERVAL)
    m = Metrics(port)
    check("stale: still up 0 two polls later", env_up(m, ASYNC) == 0, repr(env_up(m, ASYNC)))
    check("stale: logged once, with the age and the rule",
          cd.log_count('environment "edge-async" (id 76): async Edge agent: Portainer\'s '
                       'snapshot is ') == 1
          and cd.log_count("fresh means at most 40 s): up 0 until a fresh one arrives") == 1)


if __name__ == "__main__":
    sys.exit(main())
