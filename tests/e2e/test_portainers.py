#!/usr/bin/env python3
"""Several Portainers, one collectd (issue 8, section 6): the real collectd
with the built plugin, two Portainer stand-ins, each with an environment
named "local" (Portainer's default) on its own real dockerd, each running a
container named "portainer" (running on one, exited on the other).

    python3 tests/e2e/test_portainers.py --build-dir build/dev [--run-dir DIR]

- Without HostPrefix both would write the same collectd identity: one log
  line names both sources and the environment, the source configured first
  keeps the identity, and the scraped value never flips between them.  A
  Docker source with Host "local" takes part the same way.
- With HostPrefix on the second block, both are reported, apart.

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
                     docker_hosts, docker_source_conf, eventually, free_port, run_suite_main)

IMG = "bb:latest"


def portainer_block(name, url, extra=""):
    return """  <Portainer "%s">
    URL "%s"
    Token "%s"%s
  </Portainer>""" % (name, url, API_KEY, extra)


def state(m, host, name):
    return m.get("collectd_container_state", container=name, type=IMG, instance=host)


def suite(args, run_dir, started):
    a, b = docker_hosts(("pa", "pb"), run_dir, started)
    a.docker("run", "-d", "--name", "portainer", "--network", "none", rig.IMAGE,
             "sleep", "1000000")
    a.docker("run", "-d", "--name", "only-alpha", "--network", "none", rig.IMAGE,
             "sleep", "1000000")
    b.docker("run", "--name", "portainer", "--network", "none", rig.IMAGE,
             "sh", "-c", "exit 3", check=False)
    b.docker("run", "-d", "--name", "only-beta", "--network", "none", rig.IMAGE,
             "sleep", "1000000")
    standins = []
    for h in (a, b):
        si = ps.StandIn({"api_keys": [API_KEY], "users": {}, "snapshot_interval": 60,
                         "environments": [{"id": 1, "name": "local", "kind": "docker",
                                           "socket": h.socket}]}).start()
        started.append(si)
        standins.append(si)
    alpha_url, beta_url = standins[0].url, standins[1].url

    # --- without HostPrefix: one writer per identity -------------------------
    port = free_port()
    cd = Collectd(run_dir, "shared", args.build_dir, "\n".join([
        portainer_block("alpha", alpha_url),
        portainer_block("beta", beta_url),
        docker_source_conf("dock", b.socket, "local")]), port).start()
    started.append(cd)
    line = 'source "beta": environment "local" (id 1): container "portainer"'
    eventually("one log line names both sources and the environment",
               lambda: (cd.log_count(line) == 1
                        and cd.log_count('also written by source "alpha", configured first')
                        >= 1, cd.read_log()[-800:]), timeout=30)
    eventually("a Docker source writing the same host takes part (its own line)",
               lambda: (cd.log_count('source "dock": Docker host "local": container '
                                     '"portainer"') == 1, cd.read_log()[-800:]), timeout=20)
    seen = []
    for _ in range(4 * INTERVAL * 2):
        seen.append(state(Metrics(port), "local", "portainer"))
        time.sleep(0.5)
    check("consecutive scrapes: the value never flips, the first source's (running)",
          set(seen) == {1.0}, repr(seen))
    m = Metrics(port)
    check("what only one source has is reported (only-alpha, only-beta)",
          state(m, "local", "only-alpha") == 1 and state(m, "local", "only-beta") == 1,
          "%r %r" % (state(m, "local", "only-alpha"), state(m, "local", "only-beta")))
    check("each source's environment self values stay its own",
          m.get("collectd_portainer_up", portainer="alpha", type="environment",
                instance="local") == 1
          and m.get("collectd_portainer_up", portainer="beta", type="environment",
                    instance="local") == 1)
    # Three pairs share identities: beta and dock with alpha ("portainer"),
    # dock with beta ("only-beta": both read the second daemon).
    check("one line per pair of sources, not every poll",
          cd.log_count(line) == 1 and cd.log_count("set HostPrefix") == 3
          and cd.log_count('source "dock": Docker host "local": container "only-beta" '
                           '(and any other with the same host, name and type) is also '
                           'written by source "beta"') == 1,
          "%d, %d" % (cd.log_count(line), cd.log_count("set HostPrefix")))
    cd.stop()
    started.remove(cd)

    # --- with HostPrefix: both, apart ----------------------------------------
    port = free_port()
    cd = Collectd(run_dir, "prefixed", args.build_dir, "\n".join([
        portainer_block("alpha", alpha_url),
        portainer_block("beta", beta_url, '\n    HostPrefix "pt2-"')]), port).start()
    started.append(cd)
    eventually("HostPrefix: both containers reported, under distinct hosts",
               lambda: (state(Metrics(port), "local", "portainer") == 1
                        and state(Metrics(port), "pt2-local", "portainer") == 0,
                        "%r %r" % (state(Metrics(port), "local", "portainer"),
                                   state(Metrics(port), "pt2-local", "portainer"))),
               timeout=30)
    m = Metrics(port)
    check("HostPrefix: the environment's self values carry the prefix too",
          m.get("collectd_portainer_up", portainer="beta", type="environment",
                instance="pt2-local") == 1
          and m.get("collectd_container_exit_code", container="portainer", type=IMG,
                    instance="pt2-local") == 3)
    time.sleep(2 * INTERVAL)
    check("HostPrefix: no conflict logged", cd.log_count("configured first") == 0)
    check("collectd still running", cd.alive())


if __name__ == "__main__":
    sys.exit(run_suite_main(__doc__, suite, "pt-multi-"))
