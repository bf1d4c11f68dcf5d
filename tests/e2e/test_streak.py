#!/usr/bin/env python3
"""The failing streak sent is current (issue 8, section 4): the real collectd
with the built plugin, a real dockerd 20.10 (API 1.41: its container list
carries no Health object), FullInspectEvery left at its default.

    python3 tests/e2e/test_streak.py --build-dir build/dev [--run-dir DIR]

A container whose health check always fails but stays "starting" (100000
retries) has a FailingStreak that rises by one a second, and nothing else the
list shows changes.  Each scrape's failing_streak must equal what
`docker inspect` says within one poll interval's worth of probes: not the
value of the last full inspect, up to FullInspectEvery polls old.

Then a healthy container paused and stopped (dockerd then says "unhealthy"):
health 0 and no failing streak while it is not running, healthy again once
unpaused or started (issue 8, section 2).

Prints one line per check, ends with "N passed, N failed"; stops every
process it starts.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import rig  # noqa: E402
from harness import (INTERVAL, Collectd, Metrics, check, docker_hosts,  # noqa: E402
                     docker_source_conf, eventually, free_port, run_suite_main)

PROBE_INTERVAL = 1  # seconds, --health-interval
# A scrape shows the last poll's value: at most one interval (plus the time
# the poll and the scrape take) behind `docker inspect`.
SLACK = INTERVAL // PROBE_INTERVAL + 3
SAMPLES = 12  # over more than FullInspectEvery (10) polls


def suite(args, run_dir, started):
    h, = docker_hosts(("st",), run_dir, started)
    h.docker("run", "-d", "--name", "streaky", "--network", "none",
             "--health-cmd", "false", "--health-retries", "100000",
             "--health-interval", "%ds" % PROBE_INTERVAL, rig.IMAGE, "sleep", "1000000")
    h.docker("run", "-d", "--name", "fine", "--network", "none",
             "--health-cmd", "true", "--health-interval", "1s", rig.IMAGE,
             "sleep", "1000000")
    port = free_port()
    cd = Collectd(run_dir, "streak", args.build_dir,
                  docker_source_conf("d", h.socket, "streakhost"), port).start()
    started.append(cd)
    lab = dict(container="streaky", type="bb:latest", instance="streakhost")

    def streak():
        return (h.inspect("streaky")["State"].get("Health") or {}).get("FailingStreak", 0)

    eventually("streaky: failing_streak reported, health starting",
               lambda: (Metrics(port).get("collectd_container_failing_streak", **lab)
                        is not None and
                        Metrics(port).get("collectd_container_health", **lab) == 3,
                        "no value yet"), timeout=30)
    # A few polls in: past the cold poll's inspect of everything.
    time.sleep(3 * INTERVAL)
    worst, rows = 0, []
    for _ in range(SAMPLES):
        v = Metrics(port).get("collectd_container_failing_streak", **lab)
        now = streak()
        lag = None if v is None else now - v
        rows.append((v, now))
        if lag is None or lag < -1:
            worst = 10 ** 6
        else:
            worst = max(worst, lag)
        time.sleep(INTERVAL)
    check("failing_streak is current at every scrape (lag <= %d probes, FullInspectEvery "
          "at its default)" % SLACK, worst <= SLACK,
          "worst lag %r; (scraped, docker inspect): %r" % (worst, rows))
    check("the streak really rose while sampled (a fair test)",
          rows[-1][1] - rows[0][1] >= SAMPLES, repr(rows))
    check("a healthy container's streak is 0",
          Metrics(port).get("collectd_container_failing_streak", container="fine",
                            type="bb:latest", instance="streakhost") == 0)
    not_running_health(h, port)
    check("collectd still running", cd.alive())


def not_running_health(h, port):
    """Issue 8, section 2: dockerd marks a container it pauses or stops
    "unhealthy" as it ends the checks; the plugin sends health 0 for every
    container that is not running, and no failing streak."""
    lab = dict(container="fine", type="bb:latest", instance="streakhost")

    def values():
        m = Metrics(port)
        return (m.get("collectd_container_state", **lab),
                m.get("collectd_container_health", **lab),
                m.get("collectd_container_failing_streak", **lab))

    def engine():
        st = h.inspect("fine")["State"]
        return st.get("Status"), (st.get("Health") or {}).get("Status")

    eventually("fine: running and healthy", lambda: (values()[:2] == (1, 1), values()))
    for how, state, undo in (("pause", 2, "unpause"), ("stop", 0, "start")):
        h.docker(how, "fine")
        eventually("fine after docker %s: state %d, health 0, no failing_streak" % (how, state),
                   lambda: (values() == (state, 0, None),
                            "scraped %r; docker inspect: %r" % (values(), engine())),
                   timeout=6 * INTERVAL)
        h.docker(undo, "fine")
        eventually("fine after docker %s: running and healthy again" % undo,
                   lambda: (values() == (1, 1, 0),
                            "scraped %r; docker inspect: %r" % (values(), engine())),
                   timeout=6 * INTERVAL)


if __name__ == "__main__":
    sys.exit(run_suite_main(__doc__, suite, "pt-streak-"))
