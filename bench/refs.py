#!/usr/bin/python3
"""refs.py: the reference measurements of the benchmark, one JSON line each.

  refs.py curl --base URL --urls FILE --parallel N [--repeat 3]
      curl fetching the same documents with the same parallelism
      (curl --parallel --parallel-max N, one process, connections reused).
  refs.py json_verify --stream FILE [--repeat 3]
      yajl's json_verify -s parsing the same bytes.
  refs.py collectd --conf-dir DIR --plugin-dir DIR --types-db F... --values N
          [--hosts H] [--interval S] [--warm W] [--measure M]
      collectd 5.12 dispatching N value lists per interval from a trivial
      plugin (bench_dispatch.so); CPU of the collectd process per interval.
  refs.py collectd ... --portainer-url URL --portainer-plugin-dir DIR
      the same collectd running the real portainer plugin against the fleet
      (and the trivial plugin's do-nothing writer); CPU per interval.

Wall and CPU are medians over the repeats; CPU is user + system time of the
child (getrusage RUSAGE_CHILDREN), or of the collectd process (/proc).
"""

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time

TOKEN = "ptr_benchmarkbenchmarkbenchmarkbenchmarkbench="


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(cmd, stdin=None):
    c0 = children_cpu()
    t0 = time.monotonic()
    with open(stdin, "rb") if stdin else open(os.devnull, "rb") as f:
        p = subprocess.run(cmd, stdin=f, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=600)
    wall = time.monotonic() - t0
    cpu = children_cpu() - c0
    if p.returncode != 0:
        sys.exit("%s failed (%d): %s" % (cmd[0], p.returncode, p.stderr.decode()[-500:]))
    return wall, cpu


def cmd_curl(a):
    cfg = a.urls + ".curlrc"
    n = 0
    with open(a.urls) as src, open(cfg, "w") as out:
        for line in src:
            path = line.strip()
            if path:
                out.write('url = "%s%s"\noutput = "/dev/null"\n' % (a.base, path))
                n += 1
    walls, cpus = [], []
    for _ in range(a.repeat):
        w, c = timed(["curl", "--silent", "--show-error", "--fail", "--no-progress-meter",
                      "--parallel", "--parallel-max", str(a.parallel),
                      "-H", "X-API-Key: " + TOKEN, "-K", cfg])
        walls.append(w)
        cpus.append(c)
    return {"ref": "curl", "label": a.label, "requests": n, "parallel": a.parallel,
            "wall": statistics.median(walls), "cpu": statistics.median(cpus),
            "walls": walls}


def cmd_json_verify(a):
    walls, cpus = [], []
    for _ in range(a.repeat):
        w, c = timed(["json_verify", "-s", "-q"], stdin=a.stream)
        walls.append(w)
        cpus.append(c)
    return {"ref": "json_verify", "label": a.label, "bytes": os.path.getsize(a.stream),
            "wall": statistics.median(walls), "cpu": statistics.median(cpus)}


def proc_cpu(pid):
    """user + system seconds of a process, from /proc/<pid>/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / float(tck)


def proc_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def cmd_collectd(a):
    os.makedirs(a.conf_dir, exist_ok=True)
    conf = os.path.join(a.conf_dir, "collectd.conf")
    log = os.path.join(a.conf_dir, "collectd.log")
    types = " ".join('"%s"' % t for t in a.types_db)
    lines = [
        'Hostname "bench"', "FQDNLookup false", 'BaseDir "%s"' % a.conf_dir,
        'PIDFile "%s/collectd.pid"' % a.conf_dir, "Interval %g" % a.interval,
        "ReadThreads 2", "TypesDB %s" % types,
        'PluginDir "/usr/lib/collectd"', "LoadPlugin logfile",
        "<Plugin logfile>", "  LogLevel info", "  File STDOUT", "</Plugin>",
        'PluginDir "%s"' % a.plugin_dir, "LoadPlugin bench_dispatch",
        "<Plugin bench_dispatch>", "  Values %d" % (0 if a.portainer_url else a.values),
        "  PerContainer %d" % a.per_container, "  Hosts %d" % a.hosts, "</Plugin>",
    ]
    if a.portainer_url:
        lines += ['PluginDir "%s"' % a.portainer_plugin_dir, "LoadPlugin portainer",
                  "<Plugin portainer>", '  <Portainer "bench">',
                  '    URL "%s"' % a.portainer_url, '    Token "%s"' % TOKEN,
                  "    MaxConcurrentRequests %d" % a.max_in_flight,
                  "  </Portainer>", "</Plugin>"]
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(log, "w") as out:
        p = subprocess.Popen(["collectd", "-f", "-C", conf], stdout=out, stderr=out)
    try:
        # Wait for the read loop (bounded), then skip the warm-up intervals.
        for _ in range(100):
            time.sleep(0.1)
            if p.poll() is not None:
                break
            with open(log) as f:
                if "entering read-loop" in f.read():
                    break
        if p.poll() is not None:
            with open(log) as f:
                sys.exit("collectd exited early:\n" + f.read()[-2000:])
        time.sleep(a.interval * (a.warm + 0.5))
        c0, t0 = proc_cpu(p.pid), time.monotonic()
        time.sleep(a.interval * a.measure)
        c1, t1 = proc_cpu(p.pid), time.monotonic()
        rss = proc_rss_kb(p.pid)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    with open(log) as f:
        errors = [l.strip() for l in f if "error" in l.lower() or "failed" in l.lower()]
    intervals = (t1 - t0) / a.interval
    return {"ref": "collectd_portainer" if a.portainer_url else "collectd_dispatch",
            "label": a.label, "values": a.values, "interval": a.interval,
            "cpu_per_interval": (c1 - c0) / intervals, "intervals": intervals,
            "peak_rss_kb": rss, "log_errors": errors[:5]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("curl")
    c.add_argument("--base", required=True)
    c.add_argument("--urls", required=True)
    c.add_argument("--parallel", type=int, default=16)
    c.add_argument("--repeat", type=int, default=3)
    j = sub.add_parser("json_verify")
    j.add_argument("--stream", required=True)
    j.add_argument("--repeat", type=int, default=3)
    d = sub.add_parser("collectd")
    d.add_argument("--conf-dir", required=True)
    d.add_argument("--plugin-dir", required=True, help="where bench_dispatch.so is")
    d.add_argument("--types-db", nargs="+", required=True)
    d.add_argument("--values", type=int, default=0)
    d.add_argument("--per-container", type=int, default=5)
    d.add_argument("--hosts", type=int, default=100)
    d.add_argument("--interval", type=float, default=5)
    d.add_argument("--warm", type=int, default=2)
    d.add_argument("--measure", type=int, default=3)
    d.add_argument("--portainer-url")
    d.add_argument("--portainer-plugin-dir")
    d.add_argument("--max-in-flight", type=int, default=16)
    for p in (c, j, d):
        p.add_argument("--label", default="")
    a = ap.parse_args()
    if a.cmd == "collectd" and not (1 <= a.warm + a.measure <= 20):
        ap.error("warm + measure: 1..20 intervals")
    fn = {"curl": cmd_curl, "json_verify": cmd_json_verify, "collectd": cmd_collectd}[a.cmd]
    print(json.dumps(fn(a)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
