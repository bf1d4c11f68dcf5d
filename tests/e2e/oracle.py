"""The engine as the oracle: what the plugin must report for one container,
computed from the engine's own inspect (Docker's or Podman's
Docker-compatible API) taken at the time of the scrape.

    ok, detail = compare(port, engine, container_label, type_label, instance, name)

The expected values follow the README's *Values* table and its *Choices made
where the issues were silent*:

- ``state``: ``State.Status`` as a code (README *Per container*).
- ``health``: README *Per container* ("always 0 for a container that is not
  running": health checks run only in running containers; issue 8 section 2,
  and *Choices made where the issues were silent*): a container that is not
  running (exited, dead, created, paused, restarting) reports 0 whatever
  inspect's ``State.Health.Status`` says (dockerd marks a stopped or paused
  container ``unhealthy``); a running one reports its ``State.Health.Status``
  (0 without a healthcheck).
- ``restart_count``: ``RestartCount``, exact.
- ``exit_code`` and ``oom_killed``: ``State.ExitCode`` and ``State.OOMKilled``
  for exited, dead and restarting containers only; absent otherwise.
- ``uptime``: for running and paused containers only, the sample's own
  timestamp minus ``State.StartedAt``, within 2 s.
- ``failing_streak``: running containers with a healthcheck only; inspect's
  ``FailingStreak`` minus at most the probes that ran since the poll (and
  two for the poll's own duration and the probes' jitter).

A scrape shows the last poll, up to an interval old. When the engine says the
container started or finished after (or just before) that poll, the poll
cannot have seen it: the comparison is inconclusive (not ok, "changed since
the poll") and eventually() asks again.
"""

import datetime
import math
import re
import time
import urllib.request

from harness import HEALTH, LABEL, LINE, STATE

SIGNALS = ("state", "health", "restart_count", "exit_code", "oom_killed", "uptime",
           "failing_streak")
STOPPED = ("exited", "dead", "restarting")     # exit_code, oom_killed sent
UP = ("running", "paused")                      # uptime sent
UPTIME_SLACK = 2.0
# A change this close before the poll's dispatch may not be in it (the poll
# started up to a poll's duration earlier; the engine's list lags a little).
CHANGE_MARGIN = 1.5


def scrape(port):
    """{(name, labels tuple): (value, timestamp in s or None)} from
    write_prometheus, keeping the per-sample timestamps."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        text = r.read().decode("utf-8", "replace")
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        if not m:
            raise ValueError("not Prometheus text: %r" % line[:200])
        labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
        ts = int(m.group(4)) / 1000.0 if m.group(4) else None
        out[(m.group(1), labels)] = (float(m.group(3)), ts)
    return out


def sample(series, signal, **labels):
    """(value, timestamp) of collectd_container_<signal>{labels}, or None."""
    return series.get(("collectd_container_" + signal, tuple(sorted(labels.items()))))


_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?"
                   r"(Z|[+-]\d\d:\d\d)$")


def parse_time(s):
    """An engine's RFC 3339 (nanoseconds) time as unix seconds; None for the
    zero time (never started / never finished) or anything unparsable."""
    m = _TIME.match(s or "")
    if not m or m.group(1) == "0001":
        return None
    y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
    t = datetime.datetime(y, mo, d, h, mi, sec, tzinfo=datetime.timezone.utc).timestamp()
    if m.group(7):
        t += float("0" + m.group(7))
    z = m.group(8)
    if z != "Z":
        sign = 1 if z[0] == "+" else -1
        t -= sign * (int(z[1:3]) * 3600 + int(z[4:6]) * 60)
    return t


def expected(info):
    """What the plugin must send for a container whose inspect is info:
    {signal: value or None (absent)}; uptime as ("since", StartedAt) and
    failing_streak as ("streak", FailingStreak, probe interval in s)."""
    st = info.get("State") or {}
    status = st.get("Status")
    if status not in STATE:
        raise ValueError("inspect State.Status %r unknown" % status)
    health = st.get("Health") or {}
    hc = ((info.get("Config") or {}).get("Healthcheck") or {})
    has_check = bool(health) and health.get("Status") not in (None, "", "none")
    want = dict.fromkeys(SIGNALS)
    want["state"] = float(STATE[status])
    # README (issue 8, section 2): health checks run only in running
    # containers; any other state reports health 0 (none).
    want["health"] = float(HEALTH.get(health.get("Status"), 0)) if status == "running" else 0.0
    want["restart_count"] = float(info.get("RestartCount") or 0)
    if status in STOPPED:
        want["exit_code"] = float(st.get("ExitCode") or 0)
        want["oom_killed"] = 1.0 if st.get("OOMKilled") else 0.0
    if status in UP:
        want["uptime"] = ("since", parse_time(st.get("StartedAt")))
    if status == "running" and has_check:
        every = (hc.get("Interval") or 30 * 10**9) / 1e9  # Docker's default: 30 s
        want["failing_streak"] = ("streak", int(health.get("FailingStreak") or 0), every)
    return want


def last_change(info):
    st = info.get("State") or {}
    ts = [t for t in (parse_time(st.get("StartedAt")), parse_time(st.get("FinishedAt")))
          if t is not None]
    return max(ts) if ts else None


def compare_series(series, info, labels, signals=SIGNALS, now=None):
    """(ok, detail): the scraped series of one container (labels) against
    the engine's inspect info.  Signals outside `signals` are not looked at
    (a source's Collect)."""
    now = time.time() if now is None else now
    want = expected(info)
    got = {s: sample(series, s, **labels) for s in signals}
    errors = []
    if got.get("state") is None:
        return False, "no state series (labels %s)" % (labels,)
    ts = got["state"][1]
    changed = last_change(info)
    if ts is not None and changed is not None and changed > ts - CHANGE_MARGIN:
        return False, "changed since the poll (engine %.1f, poll %.1f): ask again" % (
            changed, ts)
    for s in signals:
        w, g = want[s], got[s]
        gv = None if g is None else g[0]
        if w is None:
            if g is not None:
                errors.append("%s %r, want none" % (s, gv))
        elif isinstance(w, tuple) and w[0] == "since":
            if w[1] is None:
                errors.append("uptime: inspect has no StartedAt")
            elif g is None:
                errors.append("no uptime, want %.0f" % ((ts or now) - w[1]))
            else:
                want_up = (g[1] if g[1] is not None else now) - w[1]
                if abs(gv - want_up) > UPTIME_SLACK:
                    errors.append("uptime %r, want %.1f (StartedAt) +- %.0f" % (
                        gv, want_up, UPTIME_SLACK))
        elif isinstance(w, tuple) and w[0] == "streak":
            cur, every = w[1], w[2]
            if g is None:
                errors.append("no failing_streak, want %d" % cur)
            else:
                since = now - (g[1] if g[1] is not None else now)
                lo = max(0, cur - int(math.ceil(since / every)) - 2)
                if not lo <= gv <= cur:
                    errors.append("failing_streak %r, want %d..%d (inspect %d)" % (
                        gv, lo, cur, cur))
        elif gv != w:
            errors.append("%s %r, want %r" % (s, gv, w))
    st = info.get("State") or {}
    return not errors, "%s (inspect: %s, restarts %s, exit %s, oom %s, health %s; labels %s)" % (
        "; ".join(errors) or "as inspect says", st.get("Status"), info.get("RestartCount"),
        st.get("ExitCode"), st.get("OOMKilled"), (st.get("Health") or {}).get("Status"),
        labels)


def compare(port, inspect, name, labels, signals=SIGNALS):
    """Scrape, then inspect container `name` through `inspect` (a function:
    name -> dict or None), and compare.  For eventually()."""
    series = scrape(port)
    info = inspect(name)
    if info is None:
        return False, "the engine has no container %r" % name
    return compare_series(series, info, labels, signals)
