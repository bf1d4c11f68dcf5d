#!/usr/bin/env python3
"""contrib/ end to end: a real Prometheus (Debian's package) scrapes the real
collectd with the plugin through the two scrape jobs of
contrib/prometheus/prometheus.yml and evaluates contrib/prometheus/rules.yml,
over a real dockerd with containers in every state, behind the Portainer
stand-in and straight from the Docker socket.  Checked through Prometheus's
HTTP API:

- the seeds' names: the first exporter's series and labels, its Grafana
  query, the second exporter's PromQL examples, with the values the daemon
  reports; the plugin's own names still there in their own job;
- every alerting rule while the world is in the state it describes (and
  silent where it is not); the rule unit tests (promtool test rules) reject
  naive versions of each rule;
- every query of the Grafana dashboard (contrib/grafana/), after template
  substitution, returns data; the dashboard type-checks against Grafana's
  own schema (@grafana/schema, from the npm registry, with tsc).

    python3 tests/e2e/test_prometheus.py --build-dir DIR [--run-dir DIR]

Prints one line per check and ends with "N passed, N failed[, N skipped]".
Stops every process it starts, by pid, also on failure.  Loopback and unix
sockets only.
"""

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import grafana_schema  # noqa: E402
import portainer_standin as ps  # noqa: E402
import rig  # noqa: E402
from harness import (API_KEY, HEALTH, STATE, Collectd, check, eventually,  # noqa: E402
                     free_port, run_and_stop, skip, stop_process, summary)
from test_e2e import ident  # noqa: E402  (the plugin's naming rules)

PROM_DIR = os.path.join(TOP, "contrib", "prometheus")
JOBS_FILE = os.path.join(PROM_DIR, "prometheus.yml")
RULES_FILE = os.path.join(PROM_DIR, "rules.yml")
RULES_TEST_FILE = os.path.join(PROM_DIR, "rules_test.yml")
DASHBOARD = os.path.join(TOP, "contrib", "grafana", "collectd-portainer.json")
OWN_JOB = "collectd-portainer"
SEED_JOB = "collectd-portainer-seed-names"
SWARM_TI = "label:com.docker.swarm.service.name"
SWARM_LABEL = "container_label_com_docker_swarm_service_name"
PREFIX = "pm-"
# Containers of Swarm services that exited: (name, service, exit code).
SERVICES = [("pm-svc-a1", "stack_a", 1), ("pm-svc-a2", "stack_a", 2),
            ("pm-svc-b1", "stack_b", 3), ("pm-svc-b2", "stack_b", 0)]


# --------------------------------------------------------------------------
# Prometheus
# --------------------------------------------------------------------------


class Prometheus:
    """Debian's prometheus binary on a loopback port, its own config and
    storage under run_dir."""

    def __init__(self, run_dir, config):
        self.dir = os.path.join(run_dir, "prometheus")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.conf = os.path.join(self.dir, "prometheus.yml")
        with open(self.conf, "w") as f:
            yaml.safe_dump(config, f, sort_keys=False)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None

    def start(self):
        out = open(os.path.join(self.dir, "prometheus.log"), "ab")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + self.conf,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--storage.tsdb.retention.time=1d",
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        out.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("prometheus exited: %s" % self.log()[-2000:])
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=5) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError("prometheus never became ready")

    def stop(self):
        stop_process(self.proc, timeout=30)
        self.proc = None

    def log(self):
        try:
            with open(os.path.join(self.dir, "prometheus.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def api(self, path, **params):
        url = "%s/api/v1/%s?%s" % (self.url, path, urllib.parse.urlencode(params, doseq=True))
        with urllib.request.urlopen(url, timeout=30) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise RuntimeError("%s: %s" % (path, body))
        return body["data"]

    def query(self, expr):
        """Instant query: [(labels, value)]."""
        data = self.api("query", query=expr)
        if data["resultType"] != "vector":
            raise RuntimeError("not a vector: %r" % data["resultType"])
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def query_range(self, expr, seconds=120, step=2):
        now = time.time()
        data = self.api("query_range", query=expr, start=now - seconds, end=now, step=step)
        return [(r["metric"], r["values"]) for r in data["result"]]

    def alerts(self, name):
        """{frozenset(labels without alertname/alertstate): alertstate}."""
        out = {}
        for m, _ in self.query('ALERTS{alertname="%s"}' % name):
            state = m.pop("alertstate")
            m.pop("alertname")
            m.pop("__name__", None)
            out[frozenset(m.items())] = state
        return out


def prometheus_config(own_targets, seed_targets):
    """contrib/prometheus/prometheus.yml with this run's targets and short
    intervals; everything else (relabeling, rules) as shipped."""
    with open(JOBS_FILE) as f:
        cfg = yaml.safe_load(f)
    cfg["global"] = {"scrape_interval": "2s", "scrape_timeout": "2s",
                     "evaluation_interval": "1s"}
    cfg["rule_files"] = [RULES_FILE]
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    jobs[OWN_JOB]["static_configs"] = [{"targets": own_targets}]
    jobs[SEED_JOB]["static_configs"] = seed_targets
    return cfg


# --------------------------------------------------------------------------
# The rule unit tests reject naive rules
# --------------------------------------------------------------------------

# Rules that look right but are not: promtool's cases must fail each one.
NAIVE_RULES = [
    ("ContainerExitedNonZero", "expr", "collectd_container_exit_code != 0",
     "no state or OOM filter (restarting and OOM-killed containers)"),
    ("ContainerExitedNonZero", "expr", "collectd_container_exit_code >= 0",
     "exit 0 counts"),
    ("ContainerCrashLooping", "expr", "collectd_container_restart_count >= 3",
     "the count instead of its increase (a manual restart long ago)"),
    ("ContainerCrashLooping", "expr", "delta(collectd_container_restart_count[15m]) >= 1",
     "delta: slow restarts count"),
    ("ContainerUnhealthy", "for", None, "no 'for' (unhealthy for a moment)"),
    ("ContainerUnhealthy", "expr", "collectd_container_health != 1",
     "not healthy (none, starting) counts"),
    ("ContainerOOMKilled", "expr", "collectd_container_exit_code == 137",
     "137 taken for an OOM kill"),
    ("PortainerSourceDown", "for", None, "no 'for' (one failed poll)"),
    ("PortainerEnvironmentDown", "expr", 'collectd_portainer_up{type="environment"} == 0',
     "environments of a source that is down"),
    ("PortainerDataStale", "expr", 'collectd_portainer_up{type="api"} == 0',
     "a failing source taken for a stale one"),
    ("PortainerDataStale", "for", None, "no 'for'"),
]


def promtool_checks(scratch):
    r = subprocess.run(["promtool", "check", "config", JOBS_FILE], capture_output=True,
                       text=True, timeout=120)
    check("promtool check config contrib/prometheus/prometheus.yml", r.returncode == 0,
          r.stdout + r.stderr)
    r = subprocess.run(["promtool", "test", "rules", RULES_TEST_FILE], capture_output=True,
                       text=True, timeout=300)
    check("promtool test rules contrib/prometheus/rules_test.yml", r.returncode == 0,
          r.stdout + r.stderr)
    with open(RULES_FILE) as f:
        rules = yaml.safe_load(f)
    d = os.path.join(scratch, "naive")
    os.makedirs(d, exist_ok=True)
    shutil.copy(RULES_TEST_FILE, d)
    for alert, field, value, why in NAIVE_RULES:
        naive = copy.deepcopy(rules)
        found = [r for g in naive["groups"] for r in g["rules"] if r.get("alert") == alert]
        if len(found) != 1:
            check("naive %s: rule present" % alert, False, "%d rules" % len(found))
            continue
        if value is None:
            found[0].pop(field, None)
        else:
            found[0][field] = value
        with open(os.path.join(d, "rules.yml"), "w") as f:
            yaml.safe_dump(naive, f)
        r = subprocess.run(["promtool", "test", "rules", os.path.join(d, "rules_test.yml")],
                           capture_output=True, text=True, timeout=300)
        check("rule tests reject %s with %s" % (alert, why), r.returncode != 0,
              "promtool passed the naive rule")


# --------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------


def make_world(run_dir, started):
    tar = rig.build_busybox_tar(run_dir)
    h1 = rig.DockerHost("h1", run_dir)
    h1.start()
    started.append(h1)
    rig.build_busybox_image(h1, tar)

    cfg = ps.example_config([(h1.name, h1.socket)], api_key=API_KEY)
    standin = ps.StandIn(cfg).start()
    started.append(standin)

    # The first seed's world: Portainer, the image as type.
    main_conf = """  <Portainer "pt">
    URL "%s"
    Token "%s"
    EndpointInclude "^(local|gone)$"
  </Portainer>
  <Portainer "off">
    URL "http://127.0.0.1:%d"
    Token "ptr_off"
    Timeout 1000
  </Portainer>""" % (standin.url, API_KEY, free_port())
    # The second seed's: the Docker socket, the Swarm service as type.
    swarm_conf = """  <Docker "sw">
    Socket "%s"
    Host "dockerhost-1"
    TypeInstance "%s"
  </Docker>""" % (h1.socket, SWARM_TI)
    main = Collectd(run_dir, "main", BUILD_DIR, main_conf, free_port()).start()
    started.append(main)
    swarm = Collectd(run_dir, "swarm", BUILD_DIR, swarm_conf, free_port()).start()
    started.append(swarm)

    a_main = "127.0.0.1:%d" % main.port
    a_swarm = "127.0.0.1:%d" % swarm.port
    prom = Prometheus(run_dir, prometheus_config(
        [a_main, a_swarm],
        [{"targets": [a_main], "labels": {"portainer_type_instance": "image"}},
         {"targets": [a_swarm], "labels": {"portainer_type_instance": SWARM_TI}}])).start()
    started.append(prom)

    # Containers after Prometheus is up: it sees the restart count rise.
    facts = rig.populate(h1, PREFIX)
    for name, service, code in SERVICES:
        h1.docker("run", "-d", "--name", name, "--network", "none", "--label",
                  "com.docker.swarm.service.name=" + service, rig.IMAGE, "sh", "-c",
                  "exit %d" % code)
    for name, service, code in SERVICES:
        rig.wait_for(h1, name, state="exited", timeout=30)
        facts[name] = {"state": "exited", "health": None, "exit_code": code,
                       "oom_killed": False, "restart_count_min": 0, "image": rig.IMAGE,
                       "labels": {"com.docker.swarm.service.name": service}}
    return h1, facts, main, swarm, prom, a_main, a_swarm


# --------------------------------------------------------------------------
# The seeds' names
# --------------------------------------------------------------------------


def seed_one(prom, facts, a_main):
    want_labels = {"__name__", "container_name", "hostname", "image", "instance", "job"}

    def state():
        res = prom.query('container_state{hostname=~"local"}')
        got = {m["container_name"]: (m, v) for m, v in res}
        errors = []
        for name, f in facts.items():
            if ident(name) not in got:
                errors.append("%s missing" % name)
                continue
            m, v = got[ident(name)]
            ok_states = [STATE[s] for s in f.get("states_ok", [f["state"]])]
            if f["state"] == "restarting":  # exited for a moment between runs
                ok_states.append(STATE["exited"])
            if v not in ok_states:
                errors.append("%s state %r, want %r" % (name, v, ok_states))
            if set(m) != want_labels:
                errors.append("%s labels %s" % (name, sorted(m)))
            if m.get("image") != ident(f["image"]) or m.get("hostname") != "local" \
                    or m.get("instance") != a_main or m.get("job") != SEED_JOB:
                errors.append("%s labels %r" % (name, m))
        extra = set(got) - {ident(n) for n in facts}
        if extra:
            errors.append("unexpected containers %s" % sorted(extra))
        return not errors, "; ".join(errors[:6])
    eventually('container_state{hostname=~"local"}: every container, its state, '
               'labels container_name, hostname, image', state, timeout=60)

    # The first exporter's Grafana panel: container_state{hostname=~"$hostname"}
    # with $hostname = local and another environment (Grafana's multi-value
    # regex).  "gone" is down: no container values.
    def grafana():
        res = prom.query('container_state{hostname=~"(local|gone)"}')
        hosts = {m["hostname"] for m, _ in res}
        return hosts == {"local"} and len(res) == len(facts), \
            "hostnames %s, %d series" % (sorted(hosts), len(res))
    eventually('seed Grafana query container_state{hostname=~"$hostname"}', grafana)

    def image_mangled():
        name = PREFIX + "stressimg"
        res = prom.query('container_state{hostname="local",container_name="%s"}' % name)
        imgs = [m.get("image") for m, _ in res]
        return imgs == ["registry.example.org_team_app:1.2"], "image %r" % imgs
    eventually("an image with '/' arrives with '_' (collectd 5.12's naming)", image_mangled)

    def health():
        res = {m["container_name"]: v for m, v in
               prom.query('container_health{hostname="local"}')}
        bad = {n: (res.get(ident(n)), HEALTH[f["health"]]) for n, f in facts.items()
               if f["state"] == "running" and res.get(ident(n)) != HEALTH[f["health"]]}
        return not bad and len(res) == len(facts), "got/want %r" % bad
    eventually("container_health: 0 none, 1 healthy, 2 unhealthy, 3 starting", health)

    def restarts():
        name = PREFIX + "restarting"
        res = prom.query('container_restart_count{hostname="local",container_name="%s"}'
                         % name)
        zero = prom.query('container_restart_count{hostname="local",container_name="%s"}'
                          % (PREFIX + "exited42"))
        v = res[0][1] if res else None
        return (v is not None and v >= 2 and [z for _, z in zero] == [0.0],
                "restarting %r, exited42 %r" % (v, zero))
    eventually("container_restart_count: the real count (inspect), not 0", restarts)

    def exporter_up():
        res = {m.get("portainer"): (m, v) for m, v in prom.query("portainer_exporter_up")}
        ok = (set(res) == {"pt", "off", "sw"} and res["pt"][1] == 1 and res["off"][1] == 0
              and res["sw"][1] == 1
              and all(set(m) == {"__name__", "instance", "job", "portainer"}
                      for m, _ in res.values()))
        return ok, "%r" % res
    eventually("portainer_exporter_up: 1 per answering source, 0 for the one down", exporter_up)

    def last_scrape():
        res = {m.get("portainer"): v for m, v in
               prom.query("portainer_exporter_last_scrape_timestamp")}
        pt = res.get("pt")
        return (pt is not None and abs(pt - time.time()) < 60 and "off" not in res,
                "%r" % res)
    eventually("portainer_exporter_last_scrape_timestamp: the last successful poll",
               last_scrape)


def seed_two(prom, facts, a_swarm):
    # Containers that exited non-zero; the restart-looping one is in or out
    # depending on the moment (exit code only while it is not running).
    nonzero = {n for n, f in facts.items()
               if f["state"] in ("exited", "dead") and f["exit_code"] != 0}
    looping = PREFIX + "restarting"
    service_of = {n: s for n, s, _ in SERVICES}

    def exit_codes():
        res = prom.query("container_exit_code > 0")
        errors = []
        for host in ("local", "dockerhost-1"):
            got = {m["name"]: (m, v) for m, v in res if m.get("hostname") == host}
            names = set(got) - {looping}
            if names != nonzero:
                errors.append("%s: %s, want %s" % (host, sorted(names), sorted(nonzero)))
            for n, (m, v) in got.items():
                if v != facts[n]["exit_code"]:
                    errors.append("%s %s: %r, want %r" % (host, n, v, facts[n]["exit_code"]))
                if host == "dockerhost-1":
                    want = {"__name__", "name", "hostname", "instance", "job"}
                    if n in service_of:
                        want.add(SWARM_LABEL)
                    if set(m) != want or m.get(SWARM_LABEL, "") != service_of.get(n, "") \
                            or m["instance"] != a_swarm:
                        errors.append("%s labels %r" % (n, m))
                elif m.get("image") != ident(facts[n]["image"]) or "container_name" in m:
                    errors.append("%s labels %r" % (n, m))
        return not errors, "; ".join(errors[:6])
    eventually("container_exit_code > 0: stopped containers with their exit codes, "
               "labels name, image / container_label_com_docker_swarm_service_name",
               exit_codes, timeout=60)

    def by_service():
        res = prom.query("count by(%s) (container_exit_code > 0)" % SWARM_LABEL)
        got = {m.get(SWARM_LABEL, ""): v for m, v in res}
        # Everything without the label: the image-typed target's non-zero
        # exits, and the label-typed target's containers outside a service.
        plain = len(nonzero) + len(nonzero - set(service_of))
        ok = (got.get("stack_a") == 2 and got.get("stack_b") == 1 and
              plain <= got.get("", 0) <= plain + 2 and set(got) == {"stack_a", "stack_b", ""})
        return ok, "got %r, want stack_a 2, stack_b 1, '' %d(+2)" % (got, plain)
    eventually("count by(container_label_com_docker_swarm_service_name) "
               "(container_exit_code > 0)", by_service)


def own_names(prom, facts):
    def own():
        v = prom.query('collectd_container_state{container="%s",instance="local"}'
                       % (PREFIX + "exited42"))
        leaked = prom.query('{job="%s",__name__=~"collectd_.+"}' % SEED_JOB)
        renamed = prom.query('{job="%s",__name__=~"container_.+|portainer_exporter_.+"}'
                             % OWN_JOB)
        ok = ([(m.get("job"), x) for m, x in v] == [(OWN_JOB, 0.0)] and not leaked
              and not renamed)
        return ok, "own %r, collectd_* in the seed job %d, seed names in the own job %d" % (
            v, len(leaked), len(renamed))
    eventually("the plugin's own names in their own job; the jobs never overlap", own)

    def uptime():
        res = prom.query('collectd_container_uptime{instance="local"}')
        return len(res) > 0, "%d uptime series" % len(res)
    eventually("series the seeds did not have (uptime) stay in the own job", uptime)


# --------------------------------------------------------------------------
# Alerts
# --------------------------------------------------------------------------


def alerts(prom, facts, swarm):
    def fired(name, want, states=("firing",), absent=(), timeout=60):
        """want / absent: lists of label dicts, matched as subsets."""
        def fn():
            got = prom.alerts(name)
            errors = []
            for w in want:
                hit = [s for ls, s in got.items() if set(w.items()) <= ls]
                if not hit or hit[0] not in states:
                    errors.append("%r: %r" % (w, hit))
            for a in absent:
                hit = [s for ls, s in got.items() if set(a.items()) <= ls]
                if hit:
                    errors.append("%r should be silent: %r" % (a, hit))
            return not errors, "; ".join(errors[:5]) + " (alerts: %d)" % len(got)
        return fn

    def ctr(name, host="local"):
        return {"container": PREFIX + name if not name.startswith("pm-") else name,
                "instance": host}

    eventually("ContainerExitedNonZero fires for an exit 42 and the services' exits; "
               "silent for exit 0, paused, running",
               fired("ContainerExitedNonZero",
                     [ctr("exited42"), ctr("exited42", "dockerhost-1"), ctr("pm-svc-a1"),
                      ctr("pm-svc-b1", "dockerhost-1")],
                     absent=[ctr("exited0"), ctr("paused"), ctr("running"),
                             ctr("pm-svc-b2"), ctr("restarting")]))
    if facts[PREFIX + "oom"].get("oom_worked"):
        eventually("ContainerOOMKilled fires for the OOM-killed container, and "
                   "ContainerExitedNonZero leaves it alone",
                   lambda: (fired("ContainerOOMKilled", [ctr("oom")],
                                  absent=[ctr("exited42")])()[0] and
                            fired("ContainerExitedNonZero", [], absent=[ctr("oom")])()[0],
                            "%r %r" % (prom.alerts("ContainerOOMKilled"),
                                       prom.alerts("ContainerExitedNonZero"))))
    else:
        skip("ContainerOOMKilled", "the kernel here did not OOM-kill (dockerd recorded "
             "exit %r without OOMKilled)" % facts[PREFIX + "oom"].get("exit_code"))
    eventually("ContainerCrashLooping fires for the container its restart policy restarts; "
               "silent for the others",
               fired("ContainerCrashLooping", [ctr("restarting")],
                     absent=[ctr("exited42"), ctr("running"), ctr("paused")]), timeout=120)
    eventually("ContainerUnhealthy pending for the unhealthy container (for: 5m); "
               "silent for healthy, starting, paused",
               fired("ContainerUnhealthy", [ctr("unhealthy")], states=("pending", "firing"),
                     absent=[ctr("healthy"), ctr("starting"), ctr("paused")]))
    eventually("PortainerSourceDown pending for the source that refuses connections; "
               "silent for the others",
               fired("PortainerSourceDown", [{"portainer": "off"}],
                     states=("pending", "firing"),
                     absent=[{"portainer": "pt"}, {"portainer": "sw"}]))
    eventually("PortainerEnvironmentDown pending for the environment that is down "
               "(HTTP 502); silent for the one up",
               fired("PortainerEnvironmentDown", [{"portainer": "pt", "instance": "gone"}],
                     states=("pending", "firing"),
                     absent=[{"instance": "local"}, {"portainer": "off"}]))
    eventually("PortainerDataStale silent while every source polls",
               fired("PortainerDataStale", [], absent=[{"portainer": "pt"},
                                                       {"portainer": "sw"},
                                                       {"portainer": "off"}]), timeout=10)
    # collectd with the "sw" source stops: its series end.
    swarm.stop()
    eventually("PortainerDataStale pending once collectd with source sw is gone; "
               "silent for the sources still polling",
               fired("PortainerDataStale", [{"portainer": "sw"}],
                     states=("pending", "firing"),
                     absent=[{"portainer": "pt"}, {"portainer": "off"}]), timeout=60)


# --------------------------------------------------------------------------
# Grafana
# --------------------------------------------------------------------------


def grafana(prom, npm_dir):
    with open(DASHBOARD, encoding="utf-8") as f:
        dash = json.load(f)
    try:
        ok, out = grafana_schema.check(DASHBOARD, npm_dir)
        check("dashboard type-checks against Grafana's schema (%s, tsc)"
              % grafana_schema.SCHEMA, ok, out)
    except grafana_schema.Unavailable as e:
        check("dashboard against Grafana's schema", False, str(e))

    variables = {v["name"]: v for v in dash["templating"]["list"]}
    env = variables.get("environment")
    if not check("dashboard has an environment variable",
                 env is not None and env["type"] == "query"):
        return
    # Grafana runs label_values(<series>, <label>) as the label values API
    # restricted to that series.
    q = env["query"]["query"] if isinstance(env["query"], dict) else env["query"]
    m = re.match(r"^label_values\((.+),\s*(\w+)\)$", q)
    if check("environment variable: label_values(series, label)", m is not None, q):
        vals = prom.api("label/%s/values" % m.group(2), **{"match[]": m.group(1)})
        check("environment variable lists the environments", {"local", "gone",
                                                              "dockerhost-1"} <= set(vals),
              "%r" % vals)

    exprs = [(p["title"], t) for p in dash["panels"] for t in p.get("targets", [])]
    check("dashboard: panels for state, health, restarts, exit codes, OOM kills, up, "
          "poll duration", all(any(s in t["expr"] for _, t in exprs) for s in (
              "collectd_container_state", "collectd_container_health",
              "collectd_container_restart_count", "collectd_container_exit_code",
              "collectd_container_oom_killed", 'collectd_portainer_up{type="api"}',
              'collectd_portainer_up{type="environment"',
              "collectd_portainer_poll_duration_seconds")))
    state = [p for p in dash["panels"] if p["type"] == "state-timeline" and
             "collectd_container_state" in p["targets"][0]["expr"]]
    seed_colours = {"0": ("Exited", "gray"), "1": ("Running", "green"),
                    "2": ("Paused", "yellow"), "3": ("Created", "blue"),
                    "4": ("Restarting", "orange"), "5": ("Dead", "red")}
    if check("dashboard: a state timeline of collectd_container_state", len(state) == 1):
        opts = {}
        for mp in state[0]["fieldConfig"]["defaults"]["mappings"]:
            if mp["type"] == "value":
                opts.update(mp["options"])
        got = {k: (opts[k].get("text"), opts[k].get("color")) for k in seed_colours
               if k in opts}
        check("state timeline: the first seed's value mappings and colours",
              got == seed_colours, "%r" % got)

    for sub_name, sub in (("All", ".*"), ("local", "local")):
        for title, t in exprs:
            expr = t["expr"].replace("$environment", sub).replace("$__rate_interval", "1m")

            def returns(expr=expr, t=t):
                if t.get("instant"):
                    res = prom.query(expr)
                else:
                    res = prom.query_range(expr)
                return len(res) > 0, "%s: no data" % expr
            eventually("dashboard %s (environment=%s) %s returns data" % (
                title, sub_name, t["refId"]), returns, timeout=30)


# --------------------------------------------------------------------------


def run(args, run_dir, started):
    promtool_checks(run_dir)
    h1, facts, main, swarm, prom, a_main, a_swarm = make_world(run_dir, started)
    seed_one(prom, facts, a_main)
    seed_two(prom, facts, a_swarm)
    own_names(prom, facts)
    grafana(prom, args.npm_dir)
    alerts(prom, facts, swarm)  # last: it stops the second collectd
    check("collectd still running", main.alive())
    check("prometheus still running", prom.proc is not None and prom.proc.poll() is None,
          prom.log()[-1000:])


def main():
    global BUILD_DIR
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--npm-dir", required=True,
                    help="where grafana_schema.py --install put Grafana's schema and tsc")
    ap.add_argument("--run-dir", default=None)
    args = ap.parse_args()
    BUILD_DIR = args.build_dir
    if not os.path.exists(os.path.join(args.build_dir, ".libs", "portainer.so")):
        sys.exit("no %s/.libs/portainer.so: build first" % args.build_dir)
    run_dir = args.run_dir or tempfile.mkdtemp(prefix="pt-prom-")
    os.makedirs(run_dir, exist_ok=True)
    started = []
    took = run_and_stop(lambda: run(args, run_dir, started), started,
                        lambda: args.run_dir is None and shutil.rmtree(
                            run_dir, ignore_errors=True))
    print("prometheus suite took %.0f s" % took)
    return summary()


BUILD_DIR = None

if __name__ == "__main__":
    sys.exit(main())
