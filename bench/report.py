#!/usr/bin/python3
"""report.py RESULTS_DIR: the benchmark's markdown tables, from the JSON lines
run.sh collected (driver_<size>.jsonl, refs_<size>.jsonl, python_<size>.jsonl,
manifest_<size>.json, run.json)."""

import json
import os
import statistics
import sys

SIZES = ["1k", "10k", "50k"]


def jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def med(xs):
    return statistics.median(xs) if xs else None


def f(x, nd=3):
    if x is None:
        return "n/a"
    if isinstance(x, int):
        return "{:,}".format(x)
    return ("%." + str(nd) + "f") % x


def ratio(a, b):
    if a is None or b is None or b <= 0:
        return None
    return a / b


def load(rdir, size):
    polls = jsonl(os.path.join(rdir, "driver_%s.jsonl" % size))
    if not polls:
        return None
    d = {"size": size}
    with open(os.path.join(rdir, "manifest_%s.json" % size)) as fh:
        d["manifest"] = m = json.load(fh)
    cold = polls[0]
    steady = [p for p in polls[1:] if p["overlay"] == "none"]
    changed = [p for p in polls[1:] if p["overlay"] in ("changed", "revert")]

    def summary(ps):
        if not ps:
            return None
        return {k: med([p[k] for p in ps]) for k in
                ("wall", "cpu", "emit_cpu", "requests", "inspects", "values", "maxrss_kb",
                 "errors", "containers")} | {"n": len(ps), "up": all(p["up"] for p in ps)}

    d["cold"], d["steady"], d["changed"] = summary([cold]), summary(steady), summary(changed)
    d["rss_base_mb"] = cold["rss_base_kb"] / 1024.0
    d["rss_peak_mb"] = max(p["maxrss_kb"] for p in polls) / 1024.0
    d["errors"] = sum(p["errors"] for p in polls)
    d["all_up"] = all(p["up"] for p in polls)
    refs = jsonl(os.path.join(rdir, "refs_%s.jsonl" % size))
    for r in refs:
        kind = r["ref"] + ("_" + r["label"].split("/")[1] if "/" in r["label"] else "")
        d[kind] = r
    py = jsonl(os.path.join(rdir, "python_%s.jsonl" % size))
    if py:
        p = py[-1]
        scale = 1.0
        if p.get("sampled_envs"):
            scale = m["envs"] / float(p["envs"])
        d["python"] = dict(p, wall_full=p["wall"] * scale, cpu_full=p["cpu"] * scale,
                           scale=scale)
    return d


def main():
    rdir = sys.argv[1]
    runinfo = {}
    for r in jsonl(os.path.join(rdir, "run.json")):
        runinfo.update(r)
    data = [d for d in (load(rdir, s) for s in SIZES) if d]
    out = []
    w = out.append
    w("## Portainer plugin benchmark (%s)" % runinfo.get("date", "?"))
    w("")
    w("%d cores; %d transfers in flight (plugin and curl); load average at start %s, at end %s; "
      "%s s in all." % (runinfo.get("nproc", 0), runinfo.get("parallel", 0),
                        runinfo.get("loadavg_start", "?"), runinfo.get("loadavg_end", "?"),
                        runinfo.get("seconds", "?")))
    w("")
    w("### The plugin's poll code (bench/driver.c, one process, per poll)")
    w("")
    w("| fleet | poll | wall s | CPU s | emit CPU s | requests | inspects | containers | value lists | peak RSS MB |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for d in data:
        m = d["manifest"]
        name = "%s (%d env x %d)" % (d["size"], m["envs"], m["containers_per_env"])
        for key, label in (("cold", "cold (first)"), ("steady", "steady, nothing changed"),
                           ("changed", "steady, 1% changed")):
            p = d[key]
            if p is None:
                continue
            if p["n"] > 1:
                label += " (median of %d)" % p["n"]
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f |" % (
                name, label, f(p["wall"]), f(p["cpu"]), f(p["emit_cpu"]), f(int(p["requests"])),
                f(int(p["inspects"])), f(int(p["containers"])), f(int(p["values"])),
                p["maxrss_kb"] / 1024.0))
        if d["errors"] or not d["all_up"]:
            w("| %s | **%d API errors; up on every poll: %s** | | | | | | | | |" %
              (name, d["errors"], d["all_up"]))
    w("")
    w("### References, same documents, same run")
    w("")
    w("| fleet | curl lists: wall / CPU s | curl lists+inspects: wall / CPU s | json_verify lists CPU s "
      "| json_verify all CPU s | collectd dispatch CPU s/interval | collectd + plugin CPU s/interval "
      "| Python sequential: wall / CPU s |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for d in data:
        cl, ca = d.get("curl_lists"), d.get("curl_all")
        jl, ja = d.get("json_verify_lists"), d.get("json_verify_all")
        cd, cp = d.get("collectd_dispatch"), d.get("collectd_portainer")
        py = d.get("python")
        pys = "n/a"
        if py:
            pys = "%s / %s" % (f(py["wall_full"], 2), f(py["cpu_full"], 2))
            if py["scale"] != 1.0:
                pys += " (%d of %d environments, scaled)" % (py["envs"], d["manifest"]["envs"])
        w("| %s | %s / %s | %s / %s | %s | %s | %s | %s | %s |" % (
            d["size"], f(cl and cl["wall"]), f(cl and cl["cpu"]), f(ca and ca["wall"]),
            f(ca and ca["cpu"]), f(jl and jl["cpu"]), f(ja and ja["cpu"]),
            f(cd and cd["cpu_per_interval"]) + (" (%s values)" % f(cd["values"]) if cd else ""),
            f(cp and cp["cpu_per_interval"]), pys))
    w("")
    w("### Targets (issue 4)")
    w("")
    hdr = "| ratio | " + " | ".join(d["size"] for d in data) + " | target | verdict |"
    w(hdr)
    w("|---|" + "---:|" * len(data) + "---|---|")

    def row(label, fn, target, at, ok, nd=2):
        vals = {d["size"]: fn(d) for d in data}
        cells = [f(vals[d["size"]], nd) for d in data]
        v = vals.get(at)
        if at is None:
            verdict = ""
        elif v is None:
            verdict = "not measured"
        else:
            verdict = "met at %s" % at if ok(v) else "**MISSED at %s**" % at
        w("| %s | %s | %s | %s |" % (label, " | ".join(cells), target, verdict))

    def steady_req_per_env(d):
        return d["steady"]["requests"] / d["manifest"]["envs"]

    def steady_req_per_env_no_pages(d):
        return (d["steady"]["requests"] - d["manifest"]["pages"]) / d["manifest"]["envs"]

    def dispatch(d):
        cd = d.get("collectd_dispatch")
        return cd and cd["cpu_per_interval"]

    def cpu_ratio(d):
        jl, D = d.get("json_verify_lists"), dispatch(d)
        if not jl or D is None:
            return None
        s = d["steady"]
        return ratio(s["cpu"] + s["emit_cpu"] + D, jl["cpu"] + D)

    def cpu_ratio_collectd(d):
        jl, D, cp = d.get("json_verify_lists"), dispatch(d), d.get("collectd_portainer")
        if not jl or D is None or not cp:
            return None
        return ratio(cp["cpu_per_interval"], jl["cpu"] + D)

    row("steady requests per environment (list + events; the environment pages, one per "
        "100 environments, not counted)", steady_req_per_env_no_pages, "<= 2", "10k",
        lambda v: v <= 2.0)
    row("steady requests per environment, the pages counted", steady_req_per_env,
        "(information)", None, lambda v: True)
    row("steady wall / curl wall (list documents)",
        lambda d: ratio(d["steady"]["wall"], d.get("curl_lists", {}).get("wall")),
        "<= 1.5", "10k", lambda v: v <= 1.5)
    row("steady CPU (poll + emit + dispatch) / (json_verify lists + dispatch)", cpu_ratio,
        "<= 1.5", "10k", lambda v: v <= 1.5)
    row("collectd + plugin CPU per interval / (json_verify lists + dispatch)",
        cpu_ratio_collectd, "<= 1.5", "10k", lambda v: v <= 1.5)
    row("steady poll CPU / json_verify lists CPU (no dispatch on either side)",
        lambda d: ratio(d["steady"]["cpu"], d.get("json_verify_lists", {}).get("cpu")),
        "(information)", None, lambda v: True)
    row("cold wall / curl wall (lists + inspects)",
        lambda d: ratio(d["cold"]["wall"], d.get("curl_all", {}).get("wall")),
        "<= 1.5", "10k", lambda v: v <= 1.5)
    row("cold CPU / curl CPU (lists + inspects)",
        lambda d: ratio(d["cold"]["cpu"], d.get("curl_all", {}).get("cpu")),
        "(information)", None, lambda v: True)
    row("peak RSS growth, MB (peak - before the first poll)",
        lambda d: d["rss_peak_mb"] - d["rss_base_mb"], "<= 32 MB", "50k", lambda v: v <= 32.0, 1)
    row("speed-up: Python sequential wall / steady wall",
        lambda d: ratio(d.get("python", {}).get("wall_full"), d["steady"]["wall"]),
        ">= 50", "10k", lambda v: v >= 50.0, 0)
    row("speed-up: Python sequential wall / cold wall",
        lambda d: ratio(d.get("python", {}).get("wall_full"), d["cold"]["wall"]),
        "(information)", None, lambda v: True, 1)
    w("")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
