#!/usr/bin/env python3
"""Soak run (documented, not in CI): the real collectd with the plugin,
polling every second for a long time (default 30 minutes) against two real
dockerd hosts directly and through the Portainer stand-in, while containers
come and go; collectd's RSS and open file descriptors are sampled every 30 s.

    python3 tests/soak/soak.py --build-dir DIR [--minutes 30] [--out FILE]

Prints the samples and a verdict line: RSS and fds must stay flat (the last
third's maximum within 10 % / 8 fds of the first third's maximum, after a
warm-up).  Stops everything it starts.  Loopback and unix sockets only.
"""

import argparse
import json
import os
import random
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.join(os.path.dirname(HERE), "e2e")
sys.path.insert(0, E2E)

import rig  # noqa: E402
import portainer_standin as ps  # noqa: E402
from harness import Collectd, Metrics, free_port, API_KEY, docker_source_conf  # noqa: E402


def proc_sample(pid):
    rss = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    fds = len(os.listdir("/proc/%d/fd" % pid))
    return rss, fds


def churn(h, i, rnd):
    """One bounded step of change on host h."""
    name = "soak-%d" % (i % 40)
    action = rnd.choice(["run", "rm", "stop", "start", "pause", "unpause", "exit"])
    args = {
        "run": ["run", "-d", "--name", name, "--network", "none", rig.IMAGE, "sleep", "100000"],
        "exit": ["run", "-d", "--name", name, "--network", "none", rig.IMAGE, "sh", "-c",
                 "exit %d" % rnd.randint(0, 3)],
        "rm": ["rm", "-f", name],
        "stop": ["stop", "-t", "0", name],
        "start": ["start", name],
        "pause": ["pause", name],
        "unpause": ["unpause", name],
    }[action]
    h.docker(*args, check=False, timeout=30)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--out", default=None, help="write the samples as JSON here")
    args = ap.parse_args()

    run_dir = tempfile.mkdtemp(prefix="pt-soak-")
    started = []
    samples = []
    rnd = random.Random(42)
    try:
        tar = rig.build_busybox_tar(run_dir)
        hosts = []
        for n in ("h1", "h2"):
            h = rig.DockerHost(n, run_dir)
            h.start()
            started.append(h)
            rig.build_busybox_image(h, tar)
            hosts.append(h)
        rig.populate(hosts[0], "soak-h1-")
        standin = ps.StandIn(ps.example_config([(h.name, h.socket) for h in hosts],
                                               api_key=API_KEY)).start()
        started.append(standin)
        conf = "\n".join([
            docker_source_conf("h1", hosts[0].socket, "dockerhost-1"),
            docker_source_conf("h2", hosts[1].socket, "dockerhost-2"),
            """  <Portainer "pt">
    URL "%s"
    Token "%s"
    Interval 1
  </Portainer>""" % (standin.url, API_KEY),
        ])
        port = free_port()
        cd = Collectd(run_dir, "soak", args.build_dir, conf, port)
        # Poll every second.
        with open(cd.conf) as f:
            text = f.read().replace("Interval 2\n", "Interval 1\n", 1)
        with open(cd.conf, "w") as f:
            f.write(text)
        cd.start()
        started.append(cd)
        pid = cd.proc.pid
        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        next_sample = t0
        i = 0
        while time.monotonic() < end and i < 10 ** 6:
            if not cd.alive():
                print("FAIL: collectd died")
                return 1
            churn(hosts[i % 2], i, rnd)
            i += 1
            if time.monotonic() >= next_sample:
                rss, fds = proc_sample(pid)
                series = len(Metrics(port).s)
                samples.append({"t": round(time.monotonic() - t0), "rss_kb": rss,
                                "fds": fds, "series": series, "churn_steps": i})
                print("t=%5ds rss=%6d kB fds=%4d series=%5d churn=%d" % (
                    samples[-1]["t"], rss, fds, series, i), flush=True)
                next_sample += 30
            time.sleep(0.5)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(samples, f, indent=1)
        # Verdict: skip the first 3 minutes (warm-up: series, connections).
        warm = [s for s in samples if s["t"] >= 180] or samples
        third = max(1, len(warm) // 3)
        first, last = warm[:third], warm[-third:]
        rss0, rss1 = max(s["rss_kb"] for s in first), max(s["rss_kb"] for s in last)
        fd0, fd1 = max(s["fds"] for s in first), max(s["fds"] for s in last)
        ok = rss1 <= rss0 * 1.10 and fd1 <= fd0 + 8
        print("soak: %s after %.0f min, %d churn steps: RSS %d -> %d kB (max of first / "
              "last third after warm-up), fds %d -> %d" % (
                  "PASS" if ok else "FAIL", args.minutes, i, rss0, rss1, fd0, fd1))
        return 0 if ok else 1
    finally:
        for thing in reversed(started):
            try:
                thing.stop()
            except Exception as e:
                print("warning: stopping: %s" % e, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
