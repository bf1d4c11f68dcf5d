#!/usr/bin/env python3
"""Every comparison with a daemon's times on that daemon's clock (issue 8,
section 5): the real collectd with the built plugin, a real dockerd 20.10
behind the Portainer stand-in, whose environments' daemons run an hour ahead
of the collector's clock and an hour behind it (the stand-in's clock_shift:
their Date header and the times in their documents move, since/until go back
before they reach the real dockerd).

    python3 tests/e2e/test_clocks.py --build-dir build/dev [--run-dir DIR]

Checked, on both environments, FullInspectEvery 1000:
- the stand-in really shifts (inspect, list, events, Date);
- uptime is right: within 2 s of the real clock minus `docker inspect`'s
  StartedAt, at the sample's own timestamp;
- no inspects in steady polls (counted at the stand-in);
- a container restarted by its restart policy between polls: the new
  restart count is seen;
- then the daemon's clock steps back 10 minutes mid-run with a restart in
  the same gap between polls: one full inspect (every container once), the
  new restart count seen, one info line naming the environment.

Prints one line per check, ends with "N passed, N failed"; stops every
process it starts.
"""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import rig  # noqa: E402
import portainer_standin as ps  # noqa: E402
from harness import (API_KEY, INTERVAL, LABEL, LINE, Collectd, Metrics, check,  # noqa: E402
                     docker_hosts, eventually, free_port, run_suite_main)

IMG = "bb:latest"
AHEAD, BEHIND = 1, 2
SHIFTS = {AHEAD: 3600, BEHIND: -3600}
NAMES = {AHEAD: "ahead", BEHIND: "behind"}
STEP_BACK = 600           # the ahead daemon's clock steps back this much
CONTAINERS = ("steady", "done", "flappy", "probed")
# flappy exits 1 (and its restart policy starts it again) when /x appears.
FLAPPY = "while [ ! -e /x ]; do sleep 0.2; done; rm -f /x; exit 1"


def rfc3339(s):
    """Unix seconds (float) of a Go RFC 3339 UTC time."""
    import datetime
    base, _, frac = s.rstrip("Z").partition(".")
    t = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S")
    t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
    return t + (float("0." + frac) if frac else 0.0)


def stamped(port, name, **labels):
    """(value, timestamp in s or None) of one series, from the raw text."""
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        text = r.read().decode("utf-8", "replace")
    want = sorted(labels.items())
    for line in text.splitlines():
        m = LINE.match(line)
        if not m or m.group(1) != name:
            continue
        if sorted(LABEL.findall(m.group(2) or "")) == want:
            return float(m.group(3)), (int(m.group(4)) / 1000.0 if m.group(4) else None)
    return None, None


def lab(env, container):
    return dict(container=container, type=IMG, instance=NAMES[env])


def env_counts(client, env):
    d = client.counters()["by_env"].get(str(env), {})
    return d.get("lists", 0), d.get("inspects", 0)


def wait_lists(client, env, n, timeout):
    """Waits until env's container list has been asked n more times."""
    start = env_counts(client, env)[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if env_counts(client, env)[0] >= start + n:
            return True
        time.sleep(0.1)
    return False


def standin_shifts(h, client):
    """The stand-in's clock shift itself, against the real dockerd."""
    real = h.inspect("probed")
    for env, shift in SHIFTS.items():
        base = "/api/endpoints/%d/docker" % env
        st, hd, body = client.request("GET", base + "/containers/probed/json",
                                      headers={"X-API-Key": API_KEY})
        doc = json.loads(body)
        import email.utils
        date = email.utils.parsedate_to_datetime(hd.get("date")).timestamp()
        log = (doc["State"].get("Health") or {}).get("Log") or [{}]
        rlog = (real["State"].get("Health") or {}).get("Log") or [{}]
        got = (rfc3339(doc["State"]["StartedAt"]) - rfc3339(real["State"]["StartedAt"]),
               rfc3339(doc["Created"]) - rfc3339(real["Created"]),
               rfc3339(log[0]["Start"]) - rfc3339(rlog[0]["Start"]) if "Start" in rlog[0]
               else None,
               doc["State"]["FinishedAt"] == real["State"]["FinishedAt"])
        check("stand-in %s: inspect's times shifted by %+d s, Date too" % (NAMES[env], shift),
              st == 200 and got == (shift, shift, shift, True)
              and abs(date - (time.time() + shift)) < 3,
              "status %d, shifts %r, Date %s" % (st, got, hd.get("date")))
        st, _, body = client.request("GET", base + "/containers/json?all=1",
                                     headers={"X-API-Key": API_KEY})
        created = {c["Names"][0].lstrip("/"): c["Created"] for c in json.loads(body)}
        check("stand-in %s: the list's Created shifted" % NAMES[env],
              created.get("probed") == int(rfc3339(real["Created"])) + shift, repr(created))
        # Events: since/until on the shifted clock reach dockerd taken back.
        t0 = int(rfc3339(real["State"]["StartedAt"]))
        q = "/events?since=%d&until=%d" % (t0 - 5 + shift, int(time.time()) + shift)
        st, _, body = client.request("GET", base + q, headers={"X-API-Key": API_KEY})
        evs = [json.loads(x) for x in body.splitlines() if x.strip()]
        starts = [e for e in evs if e.get("Action") == "start"
                  and (e.get("Actor") or {}).get("Attributes", {}).get("name") == "probed"]
        check("stand-in %s: events asked on its clock, their times shifted" % NAMES[env],
              st == 200 and len(starts) == 1 and abs(starts[0]["time"] - (t0 + shift)) <= 1
              and starts[0]["timeNano"] // 10 ** 9 == starts[0]["time"],
              "status %d, %d events, probed starts %r" % (st, len(evs), starts))


def uptime_right(h, port, env, name="steady"):
    started = rfc3339(h.inspect(name)["State"]["StartedAt"])

    def fn():
        v, ts = stamped(port, "collectd_container_uptime", **lab(env, name))
        if v is None:
            return False, "no uptime"
        at = ts if ts is not None else time.time()
        want = at - started
        if want < 5:   # a young container's 0 would pass for right
            return False, "%s started %.1f s ago: too young to tell" % (name, want)
        slack = 2 if ts is not None else 2 + INTERVAL + 1
        return abs(v - want) <= slack, "scraped %r, real clock minus StartedAt %.1f%s" % (
            v, want, "" if ts is not None else " (no timestamp: scrape time)")
    eventually("%s (clock %+d s): uptime of %s right" % (NAMES[env], SHIFTS[env], name), fn,
               timeout=4 * INTERVAL + 5)


def restart_flappy(h):
    """flappy exits 1 and its policy starts it again: returns its new
    RestartCount, once it is running again."""
    before = h.inspect("flappy")["RestartCount"]
    h.docker("exec", "flappy", "touch", "/x")
    ok = rig.wait_for(h, "flappy", pred=lambda d: d["RestartCount"] > before
                      and d["State"]["Running"], timeout=30)
    check("flappy restarted by its policy (docker inspect)", ok)
    return h.inspect("flappy")["RestartCount"]


def restart_seen(port, env, count, what):
    eventually("%s: %s: restart_count %d seen" % (NAMES[env], what, count),
               lambda: (Metrics(port).get("collectd_container_restart_count",
                                          **lab(env, "flappy")) == count,
                        "scraped %r" % Metrics(port).get("collectd_container_restart_count",
                                                         **lab(env, "flappy"))),
               timeout=6 * INTERVAL)


def suite(args, run_dir, started):
    h, = docker_hosts(("ck",), run_dir, started)
    h.docker("run", "-d", "--name", "steady", "--network", "none", rig.IMAGE,
             "sleep", "1000000")
    h.docker("run", "--name", "done", "--network", "none", rig.IMAGE, "true")
    h.docker("run", "-d", "--name", "flappy", "--network", "none", "--restart", "always",
             rig.IMAGE, "sh", "-c", FLAPPY)
    h.docker("run", "-d", "--name", "probed", "--network", "none",
             "--health-cmd", "true", "--health-interval", "5s", rig.IMAGE,
             "sleep", "1000000")
    rig.wait_for(h, "probed", health="healthy", timeout=30)

    si = ps.StandIn({"api_keys": [API_KEY], "users": {}, "snapshot_interval": 60,
                     "environments": [
                         {"id": env, "name": NAMES[env], "kind": "docker",
                          "socket": h.socket, "clock_shift": shift}
                         for env, shift in SHIFTS.items()]}).start()
    started.append(si)
    client = ps.Client(si.url)
    standin_shifts(h, client)

    port = free_port()
    cd = Collectd(run_dir, "clocks", args.build_dir, """  <Portainer "pt">
    URL "%s"
    Token "%s"
    FullInspectEvery 1000
  </Portainer>""" % (si.url, API_KEY), port).start()
    started.append(cd)
    for env in SHIFTS:
        eventually("%s: every container reported" % NAMES[env],
                   lambda: (all(Metrics(port).get("collectd_container_state", **lab(env, c))
                                is not None for c in CONTAINERS), "not yet"), timeout=30)
    for env in SHIFTS:
        uptime_right(h, port, env)

    # Steady polls: past the cold poll, nothing changes.
    time.sleep(2 * INTERVAL)
    before = {env: env_counts(client, env) for env in SHIFTS}
    waited = all(wait_lists(client, env, 5, 20 * INTERVAL) for env in SHIFTS)
    for env in SHIFTS:
        lists, inspects = env_counts(client, env)
        check("%s (clock %+d s): no inspect in %d steady polls" %
              (NAMES[env], SHIFTS[env], lists - before[env][0]),
              waited and inspects == before[env][1],
              "%d inspects" % (inspects - before[env][1]))

    # A restart between polls.
    count = restart_flappy(h)
    for env in SHIFTS:
        restart_seen(port, env, count, "a restart between polls")
        uptime_right(h, port, env, "flappy")

    # The ahead daemon's clock steps back, a restart in the same gap.
    time.sleep(2 * INTERVAL)
    wait_lists(client, AHEAD, 1, 5 * INTERVAL)   # a poll just listed: act now
    before = env_counts(client, AHEAD)
    client.update_env(AHEAD, clock_shift=SHIFTS[AHEAD] - STEP_BACK)
    count = restart_flappy(h)
    fair = env_counts(client, AHEAD)[0] == before[0]
    print("      (no list of %s between the step and the restart: %s)" % (NAMES[AHEAD], fair))
    restart_seen(port, AHEAD, count, "clock stepped back %d s" % STEP_BACK)
    wait_lists(client, AHEAD, 3, 10 * INTERVAL)
    inspects = env_counts(client, AHEAD)[1] - before[1]
    n = len(CONTAINERS)
    # Every container once; flappy at most twice more, for the restart itself
    # (its events, or a list that caught it between exit and start).
    check("%s: clock stepped back: one full inspect (%d containers, at most two more "
          "for the restart)" % (NAMES[AHEAD], n), n <= inspects <= n + 2,
          "%d inspects" % inspects)
    line = 'environment "ahead" (id 1): the Docker daemon\'s clock went back'
    check("%s: one info line says its clock went back" % NAMES[AHEAD],
          cd.log_count(line) == 1, cd.read_log()[-1500:])
    SHIFTS[AHEAD] -= STEP_BACK
    uptime_right(h, port, AHEAD)
    check("collectd still running", cd.alive())


if __name__ == "__main__":
    sys.exit(run_suite_main(__doc__, suite, "pt-clocks-"))
