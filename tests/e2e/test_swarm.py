#!/usr/bin/env python3
"""Swarm agent environments (issue 8, section 7): the real collectd with the
built plugin, two real dockerd daemons as the Swarm's nodes behind the
Portainer stand-in's agent environments.

    python3 tests/e2e/test_swarm.py --build-dir build/dev [--run-dir DIR]

- Two nodes sharing a hostname: the inspect routed by NodeName reaches the
  wrong node and answers 404; the container the list shows stays reported.
- A node whose agent fails its ping is left out of the merged list (the
  agent still answers 200): the environment reads up 0 with one log line
  naming the node, the other node's containers keep their names ("web@node-a"
  never becomes "web"), and everything is back when the node answers.
- A node that leaves the Swarm is forgotten: up 1 again, names unchanged.

Prints one line per check, ends with "N passed, N failed"; stops every
process it starts.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import rig  # noqa: E402
import portainer_standin as ps  # noqa: E402
from harness import (API_KEY, INTERVAL, Collectd, Metrics, check,  # noqa: E402
                     docker_hosts, eventually, free_port, run_suite_main)

IMG = "bb:latest"


def state(m, env, name):
    return m.get("collectd_container_state", container=name, type=IMG, instance=env)


def env_up(m, env):
    return m.get("collectd_portainer_up", portainer="pt", type="environment", instance=env)


def watch(port, seconds, fn):
    """Scrapes every half second for this long; returns the first
    complaint fn(metrics) makes, or None."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        bad = fn(Metrics(port))
        if bad:
            return bad
        time.sleep(0.5)
    return None


def suite(args, run_dir, started):
    a, b = docker_hosts(("sa", "sb"), run_dir, started)
    for h, solo in ((a, "solo-a"), (b, "solo-b")):
        for name in ("web", solo):
            h.docker("run", "-d", "--name", name, "--network", "none", rig.IMAGE,
                     "sleep", "1000000")
    node_a = {"name": "node-a", "socket": a.socket}
    node_b = {"name": "node-b", "socket": b.socket}
    cfg = {"api_keys": [API_KEY], "users": {}, "snapshot_interval": 60,
           "environments": [
               {"id": 1, "name": "swarm", "kind": "agent", "nodes": [node_a, node_b]},
               {"id": 2, "name": "twins", "kind": "agent",
                "nodes": [{"name": "twin", "socket": a.socket},
                          {"name": "twin", "socket": b.socket}]}]}
    standin = ps.StandIn(cfg).start()
    started.append(standin)
    ctl = ps.Client(standin.url)
    port = free_port()
    cd = Collectd(run_dir, "swarm", args.build_dir, """  <Portainer "pt">
    URL "%s"
    Token "%s"
  </Portainer>""" % (standin.url, API_KEY), port).start()
    started.append(cd)

    # --- two nodes sharing a hostname -------------------------------------
    eventually("twins: both nodes' containers reported",
               lambda: (state(Metrics(port), "twins", "solo-a") == 1
                        and state(Metrics(port), "twins", "solo-b") == 1,
                        "solo-a %r, solo-b %r" % (state(Metrics(port), "twins", "solo-a"),
                                                   state(Metrics(port), "twins", "solo-b"))),
               timeout=30)
    bad = watch(port, 3 * INTERVAL, lambda m: None if state(m, "twins", "solo-b") == 1
                else "solo-b state %r" % state(m, "twins", "solo-b"))
    check("twins: the container whose targeted inspect answers 404 stays reported, every "
          "poll", bad is None, bad)
    m = Metrics(port)
    rc_b = m.get("collectd_container_restart_count", container="solo-b", type=IMG,
                 instance="twins")
    rc_a = m.get("collectd_container_restart_count", container="solo-a", type=IMG,
                 instance="twins")
    check("twins: it has the list's values only (no restart count); the other node's has "
          "them", state(m, "twins", "solo-b") == 1 and rc_b is None and rc_a == 0,
          "state %r, restart counts %r %r" % (state(m, "twins", "solo-b"), rc_a, rc_b))
    webs = sorted(d["container"] for d, v in m.select("collectd_container_state",
                                                      instance="twins")
                  if d["container"].startswith("web"))
    check("twins: the same name on both nodes, one NodeName: two series by short id",
          len(webs) == 2 and all(w.startswith("web@twin~") for w in webs), repr(webs))
    # (The first container to fail names the fault: solo-b or web on sb.)
    lines = [ln for ln in cd.read_log().splitlines()
             if 'environment "twins" (id 2): inspect of container' in ln]
    check("twins: the 404 is logged once, not every poll",
          len(lines) == 1 and "failed: HTTP 404: No such container" in lines[0],
          repr(lines))

    # --- a node drops out of the merged list -------------------------------
    eventually("swarm: both nodes, up 1, web@node-a and web@node-b",
               lambda: (env_up(Metrics(port), "swarm") == 1
                        and state(Metrics(port), "swarm", "web@node-a") == 1
                        and state(Metrics(port), "swarm", "web@node-b") == 1, ""), timeout=30)
    ctl.update_env(1, nodes=[node_a, dict(node_b, unreachable=True)])
    eventually("node-b missing from the agent's list: the environment reads up 0",
               lambda: (env_up(Metrics(port), "swarm") == 0,
                        "up %r" % env_up(Metrics(port), "swarm")), timeout=20)
    eventually("one log line names the missing node",
               lambda: (cd.log_count('environment "swarm" (id 1): Swarm node "node-b" '
                                     'missing') == 1, cd.read_log()[-600:]), timeout=10)

    def during_outage(m):
        if state(m, "swarm", "web") is not None:
            return "a plain \"web\" series appeared"
        if state(m, "swarm", "web@node-a") != 1 or state(m, "swarm", "solo-a") != 1:
            return "node-a's containers not reported: %r %r" % (
                state(m, "swarm", "web@node-a"), state(m, "swarm", "solo-a"))
        if env_up(m, "swarm") != 0:
            return "up %r while node-b is missing" % env_up(m, "swarm")
        return None
    bad = watch(port, 4 * INTERVAL, during_outage)
    check("while node-b is missing: up 0, node-a's containers reported under their names, "
          "no \"web\"", bad is None, bad)
    eventually("node-b's containers are not reported while it is missing",
               lambda: (state(Metrics(port), "swarm", "solo-b") is None
                        and state(Metrics(port), "swarm", "web@node-b") is None, ""),
               timeout=20)
    check("the missing node is logged once, not every poll",
          cd.log_count('Swarm node "node-b" missing') == 1)

    # --- back ---------------------------------------------------------------
    ctl.update_env(1, nodes=[node_a, node_b])
    eventually("node-b back: up 1, its containers under their old names",
               lambda: (env_up(Metrics(port), "swarm") == 1
                        and state(Metrics(port), "swarm", "web@node-b") == 1
                        and state(Metrics(port), "swarm", "solo-b") == 1, ""), timeout=20)
    check("its return is logged once",
          cd.log_count('environment "swarm" (id 1): every Swarm node is answering again')
          == 1)
    bad = watch(port, 2 * INTERVAL, lambda m: "a plain \"web\" series" if state(
        m, "swarm", "web") is not None else None)
    check("no \"web\" without suffix at any time", bad is None, bad)

    # --- node-b leaves the Swarm ------------------------------------------
    ctl.update_env(1, nodes=[node_a])
    eventually("node-b removed from the Swarm: its containers go, up stays 1",
               lambda: (state(Metrics(port), "swarm", "solo-b") is None
                        and env_up(Metrics(port), "swarm") == 1, ""), timeout=20)
    bad = watch(port, 3 * INTERVAL, lambda m: (
        "up %r" % env_up(m, "swarm") if env_up(m, "swarm") != 1 else
        "web@node-a %r, web %r" % (state(m, "swarm", "web@node-a"), state(m, "swarm", "web"))
        if state(m, "swarm", "web@node-a") != 1 or state(m, "swarm", "web") is not None
        else None))
    check("after it left: up 1, web on node-a keeps its name", bad is None, bad)
    check("no new 'missing' line for a node that left",
          cd.log_count("missing from the agent") == 1)
    check("collectd still running", cd.alive())


if __name__ == "__main__":
    sys.exit(run_suite_main(__doc__, suite, "pt-swarm-"))
