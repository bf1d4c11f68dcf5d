#!/usr/bin/env python3
"""Checks the Portainer stand-in against the reference (stdlib only, no pytest).

Starts two real Docker daemons (rig.py), a few containers and the stand-in (as
a subprocess, like the plugin's tests will), then checks status codes, bodies,
headers, pagination, filters, agent routing, broken environments and auth.
Prints one line per check and ends with "N passed, N failed".

    python3 tests/e2e/test_standin.py [--run-dir DIR] [--keep]
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import rig  # noqa: E402
import portainer_standin as ps  # noqa: E402

PASSED = 0
FAILED = 0
API_KEY = "ptr_TestKey+/=" + "A" * 40
USER, PASSWORD = "admin", "s3cret-Pa55word"


def check(name, cond, detail=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print("ok   - %s" % name)
    else:
        FAILED += 1
        print("FAIL - %s%s" % (name, (": " + str(detail)[:400]) if detail else ""))
    sys.stdout.flush()
    return bool(cond)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class StandinProc:
    """The stand-in as a subprocess (CLI), with its stderr in a file."""

    def __init__(self, cfg_path, port, log_path):
        self.cfg_path, self.port, self.log_path = cfg_path, port, log_path
        self.proc = None

    def start(self):
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-X", "dev", os.path.join(HERE, "portainer_standin.py"), "--listen",
             "127.0.0.1:%d" % self.port, "--config", self.cfg_path, "--verbose"],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        c = ps.Client("http://127.0.0.1:%d" % self.port, timeout=5)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with open(self.log_path, errors="replace") as f:
                    raise RuntimeError("stand-in exited: %s" % f.read()[-2000:])
            try:
                if c.request("GET", "/api/system/status")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("stand-in did not start")

    def stop(self, timeout=10):
        """SIGTERM; returns (exit code, seconds) or (None, t) if it had to be killed."""
        if self.proc is None:
            return None, 0
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                self.proc = None
                return None, time.monotonic() - t0
        rc = self.proc.returncode
        self.proc = None
        return rc, time.monotonic() - t0


def jload(b):
    try:
        return json.loads(b)
    except ValueError:
        return None


def run(run_dir):
    h1 = rig.DockerHost("h1", run_dir)
    h2 = rig.DockerHost("h2", run_dir)
    si = None
    try:
        h1.start()
        h2.start()
        tar = rig.build_busybox_tar(run_dir)
        for h in (h1, h2):
            rig.build_busybox_image(h, tar)
        h1.docker("run", "-d", "--name", "t1-run", "--network", "none",
                  "--label", "note=<a&b>", "--label", "uni=" + rig.UNICODE_LABEL,
                  "bb", "sleep", "100000")
        h1.docker("run", "--name", "t1-ex42", "--network", "none", "bb", "sh", "-c",
                  "exit 42", check=False)
        h2.docker("run", "-d", "--name", "t2-run", "--network", "none",
                  rig.STRESS_TAGS[0], "sleep", "100000")
        check("rig: two daemons answer /_ping", h1.alive() and h2.alive())
        st = h1.inspect("t1-ex42")["State"]
        check("rig: exited container has ExitCode 42", st["ExitCode"] == 42, st)

        cfg = ps.example_config([("h1", h1.socket), ("h2", h2.socket)], api_key=API_KEY,
                                username=USER, password=PASSWORD)
        cfg["snapshot_interval"] = 2
        cfg["environments"] += [
            {"id": 8, "name": "edge-tunnel", "kind": "edge", "tunnel": True,
             "socket": h2.socket},
            {"id": 9, "name": "edge-async", "kind": "edge", "async": True},
            {"id": 10, "name": "edge-noagent", "kind": "edge", "edge_id": ""},
            {"id": 11, "name": "edge-untrusted", "kind": "edge", "trusted": False},
            {"id": 12, "name": "edge-stale", "kind": "edge", "last_check_in_ago": 3600},
            # Portainer's timing and rules (§1.4, §3.5), checked in checks_edge.
            {"id": 13, "name": "edge-wait", "kind": "edge", "checkin_interval": 1},
            {"id": 14, "name": "edge-30", "kind": "edge", "last_check_in_ago": 30},
            {"id": 15, "name": "edge-31", "kind": "edge", "last_check_in_ago": 31},
            {"id": 16, "name": "edge-ticks", "kind": "edge", "checkin_interval": 1,
             "tunnel": True, "socket": h1.socket},
            {"id": 17, "name": "async-140", "kind": "edge", "async": True,
             "last_check_in_ago": 140},
            {"id": 18, "name": "async-141", "kind": "edge", "async": True,
             "last_check_in_ago": 141},
            {"id": 19, "name": "async-snap10", "kind": "edge", "async": True,
             "snapshot_interval": 10, "last_check_in_ago": 41},
            {"id": 20, "name": "async-h1", "kind": "edge", "async": True,
             "socket": h1.socket},
            {"id": 21, "name": "hole", "kind": "blackhole"},
        ]
        cfg_path = os.path.join(run_dir, "standin.json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        port = free_port()
        log_path = os.path.join(run_dir, "standin.log")
        si = StandinProc(cfg_path, port, log_path).start()
        c = ps.Client("http://127.0.0.1:%d" % port, timeout=20)
        K = {"X-API-Key": API_KEY}

        checks_public(c)
        jwt = checks_auth(c, K)
        checks_endpoints(c, K)
        checks_proxy(c, K, h1, h2)
        checks_agent(c, K)
        checks_broken(c, K)
        checks_control(c, K, h2)
        checks_edge(c, K, port)
        checks_keepalive(port)
        checks_ratelimit(c)

        # Restart: SIGTERM is clean, old JWTs die with the process.
        rc, took = si.stop()
        check("SIGTERM: stand-in exits 0 promptly", rc == 0 and took < 5, (rc, took))
        si.start()
        s, _, b = c.request("GET", "/api/endpoints?limit=1",
                            headers={"Authorization": "Bearer " + jwt})
        check("restart: JWT from the previous process is rejected",
              s == 401 and jload(b) == {"message": "Invalid JWT token",
                                        "details": "Unauthorized"}, (s, b))
        s, _, _ = c.request("GET", "/api/endpoints?limit=1", headers=K)
        check("restart: API key still works", s == 200, s)
        rc, _ = si.stop()
        si = None
        with open(log_path, encoding="utf-8", errors="replace") as f:
            logtext = f.read()
        check("verbose log never contains the API key or the password",
              API_KEY not in logtext and PASSWORD not in logtext and "GET /api/endpoints"
              in logtext)
    finally:
        if si is not None:
            si.stop()
        h1.stop()
        h2.stop()
    check("cleanup: no dockerd left for this run",
          not rig.pids_with_cmdline(h1.exec_root) and not rig.pids_with_cmdline(h2.exec_root))


# --------------------------------------------------------------------------


def checks_public(c):
    for path in ("/api/system/status", "/api/status"):
        s, h, b = c.request("GET", path)
        d = jload(b)
        check("%s is public: 200 {Version, InstanceID}" % path,
              s == 200 and isinstance(d, dict) and list(d) == ["Version", "InstanceID"]
              and d["Version"] == "2.23.0", (s, b))
        check("%s: JSON content type, exact Content-Length, no trailing newline" % path,
              h.get("content-type") == "application/json"
              and int(h.get("content-length", -1)) == len(b) and not b.endswith(b"\n"), h)
    s, h, b = c.request("GET", "/api/nothing-here")
    check("unknown /api route: plain 404", s == 404 and b == b"404 page not found\n", (s, b))


def checks_auth(c, K):
    s, _, b = c.request("GET", "/api/endpoints")
    check("no credentials: 401 'A valid authorization token is missing'",
          s == 401 and b == b'{"message":"A valid authorization token is missing",'
          b'"details":"Unauthorized"}', (s, b))
    s, _, b = c.request("GET", "/api/endpoints", headers={"X-API-Key": "ptr_wrong"})
    check("unknown API key: 401 'Invalid JWT token'",
          s == 401 and jload(b) == {"message": "Invalid JWT token", "details": "Unauthorized"},
          (s, b))
    s, _, _ = c.request("GET", "/api/endpoints?limit=1", headers={"x-api-key": API_KEY})
    check("API key header name is case-insensitive", s == 200, s)
    s, _, _ = c.request("GET", "/api/endpoints?limit=1&x-api-key=" +
                        __import__("urllib.parse").parse.quote(API_KEY, safe=""))
    check("API key as X-API-KEY query parameter", s == 200, s)
    s, h, b = c.request("POST", "/api/auth", {"Username": USER, "Password": PASSWORD})
    d = jload(b) or {}
    jwt = d.get("jwt", "")
    check("POST /api/auth: 200 {jwt}", s == 200 and list(d) == ["jwt"] and jwt.count(".") == 2,
          (s, b))
    ck = h.get("set-cookie", "")
    check("POST /api/auth: Set-Cookie portainer_api_key HttpOnly SameSite=Strict",
          ck.startswith("portainer_api_key=" + jwt + ";") and "HttpOnly" in ck
          and "SameSite=Strict" in ck and "Path=/" in ck, ck[:80])
    s, _, b = c.request("POST", "/api/auth", {"Username": USER, "Password": "nope"})
    check("bad password: 422 Invalid credentials",
          s == 422 and b == b'{"message":"Invalid credentials","details":"Unauthorized"}',
          (s, b))
    s, _, b = c.request("POST", "/api/auth", {"Username": "nobody", "Password": "x"})
    check("unknown user: 422 Invalid credentials", s == 422, (s, b))
    s, _, b = c.request("POST", "/api/auth", {"Username": "", "Password": "x"})
    check("empty username: 400 Invalid request payload / Invalid username",
          s == 400 and b == b'{"message":"Invalid request payload","details":"Invalid username"}',
          (s, b))
    s, _, b = c.request("POST", "/api/auth", {"Username": USER, "Password": ""})
    check("empty password: 400 Invalid password",
          s == 400 and (jload(b) or {}).get("details") == "Invalid password", (s, b))
    s, _, b = c.request("GET", "/api/endpoints?limit=1",
                        headers={"Authorization": "Bearer " + jwt})
    check("JWT as Authorization: Bearer", s == 200, (s, b[:100]))
    s, _, _ = c.request("GET", "/api/endpoints?limit=1", headers={"Authorization": jwt})
    check("JWT as bare Authorization value", s == 200, s)
    s, _, _ = c.request("GET", "/api/endpoints?limit=1",
                        headers={"Cookie": "portainer_api_key=" + jwt})
    check("JWT in the portainer_api_key cookie", s == 200, s)
    s, _, b = c.request("GET", "/api/endpoints?limit=1",
                        headers={"Authorization": "Bearer not.a.jwt"})
    check("garbage JWT: 401 Invalid JWT token",
          s == 401 and (jload(b) or {}).get("message") == "Invalid JWT token", (s, b))
    s, _, b = c.request("GET", "/api/endpoints", headers={"X-API-Key": API_KEY,
                                                          "Authorization": "Bearer " + jwt})
    check("X-API-Key and Authorization together: 403 (2.20+ body)",
          s == 403 and jload(b) == {
              "message": "api key and auth header are not allowed at the same time",
              "details": "Api key and auth header are not allowed at the same time"}, (s, b))
    s, _, b = c.request("GET", "/api/system/status", headers={"X-API-Key": API_KEY,
                                                              "Authorization": "x"})
    check("both headers are refused even on the public status route", s == 403, s)
    c.invalidate_jwts()
    s, _, b = c.request("GET", "/api/endpoints?limit=1",
                        headers={"Authorization": "Bearer " + jwt})
    check("control: invalidated JWT gives 401 Invalid JWT token",
          s == 401 and (jload(b) or {}).get("message") == "Invalid JWT token", (s, b))
    s, _, b = c.request("POST", "/api/auth", {"Username": USER, "Password": PASSWORD})
    jwt = (jload(b) or {}).get("jwt", "")
    s, _, _ = c.request("GET", "/api/endpoints?limit=1",
                        headers={"Authorization": "Bearer " + jwt})
    check("a fresh login after invalidation works", s == 200, s)
    return jwt


def checks_endpoints(c, K):
    c.snapshot()
    s, h, b = c.request("GET", "/api/endpoints", headers=K)
    full = jload(b) or []
    ids = [e["Id"] for e in full]
    check("list: 200, storage (id) order, untrusted Edge hidden",
          s == 200 and ids == sorted(ids) and 11 not in ids and 1 in ids, ids)
    check("list: X-Total-Count and X-Total-Available headers",
          h.get("x-total-count") == str(len(full)) and
          int(h.get("x-total-available", 0)) == len(full) + 1, h)
    check("list: no trailing newline, Content-Length exact",
          not b.endswith(b"\n") and int(h["content-length"]) == len(b))
    e1 = full[0]
    keys = list(e1)
    want_prefix = ["Id", "Name", "Type", "ContainerEngine", "URL", "GroupId", "PublicURL",
                   "Gpus", "TLSConfig", "AzureCredentials", "TagIds", "Status", "Snapshots",
                   "UserAccessPolicies", "TeamAccessPolicies", "EdgeKey",
                   "EdgeCheckinInterval", "Kubernetes", "ComposeSyntaxMaxVersion",
                   "SecuritySettings", "LastCheckInDate", "QueryDate", "Heartbeat",
                   "PostInitMigrations", "Edge", "Agent", "AuthorizedUsers",
                   "AuthorizedTeams", "Tags"]
    check("endpoint JSON: Go field names in struct order (type 1)", keys == want_prefix, keys)
    check("endpoint JSON: EdgeID/UserTrusted omitted, Tags null, checkin 5",
          "EdgeID" not in e1 and "UserTrusted" not in e1 and e1["Tags"] is None
          and e1["EdgeCheckinInterval"] == 5)
    snap = (e1.get("Snapshots") or [{}])[0]
    names = [n for c_ in (snap.get("DockerSnapshotRaw") or {}).get("Containers", [])
             for n in c_.get("Names", [])]
    check("list: Snapshots[0].DockerSnapshotRaw.Containers from the real daemon",
          "/t1-run" in names and "/t1-ex42" in names, names)
    cont = next((x for x in snap["DockerSnapshotRaw"]["Containers"]
                 if x["Names"] == ["/t1-ex42"]), {})
    check("snapshot container: SDK field order, Exited (42) status",
          list(cont)[:6] == ["Id", "Names", "Image", "ImageID", "Command", "Created"]
          and cont.get("Status", "").startswith("Exited (42)") and "Health" not in cont, cont)
    check("snapshot: DockerSnapshot fields, counts 0 for health (2.20+)",
          list(snap)[:3] == ["Time", "DockerVersion", "Swarm"]
          and snap["HealthyContainerCount"] == 0 and snap["ContainerCount"] >= 2)
    edge = next((e for e in full if e["Id"] == 3), {})
    check("edge env: type 4, EdgeID, UserTrusted true, Heartbeat true, LastCheckInDate set",
          edge.get("Type") == 4 and edge.get("EdgeID") and edge.get("UserTrusted") is True
          and edge.get("Heartbeat") is True and edge.get("LastCheckInDate", 0) > 0, edge)
    stale = next((e for e in full if e["Id"] == 12), {})
    check("edge env with an old check-in: Heartbeat false", stale.get("Heartbeat") is False)
    dead = next((e for e in full if e["Id"] == 6), {})
    check("dead-socket env: Status 2 after the snapshot job", dead.get("Status") == 2, dead)
    agent = next((e for e in full if e["Id"] == 2), {})
    check("agent env: type 2, Agent.Version, TLS, Swarm snapshot with both nodes",
          agent.get("Type") == 2 and agent["Agent"]["Version"] == "2.23.0"
          and agent["TLSConfig"]["TLS"] is True
          and agent["Snapshots"][0]["Swarm"] is True and agent["Snapshots"][0]["NodeCount"] == 2)
    s, h, b = c.request("GET", "/api/endpoints?excludeSnapshots=true", headers=K)
    check("excludeSnapshots=true: every Snapshots is []",
          all(e["Snapshots"] == [] for e in jload(b)), b[:200])
    s, h, b = c.request("GET", "/api/endpoints?edgeDeviceUntrusted=true&excludeSnapshots=true",
                        headers=K)
    check("edgeDeviceUntrusted=true lists the untrusted Edge env",
          11 in [e["Id"] for e in jload(b)])
    s, h, b = c.request("GET", "/api/endpoints?types[]=1&types[]=2&excludeSnapshots=true",
                        headers=K)
    got = jload(b) or []
    check("types[]=1&types[]=2 keeps only types 1 and 2, X-Total-Count filtered",
          got and all(e["Type"] in (1, 2) for e in got)
          and h.get("x-total-count") == str(len(got))
          and h.get("x-total-available") == str(len(full) + 1), (h, [e["Type"] for e in got]))
    s, h, b = c.request("GET", "/api/endpoints?types=1&excludeSnapshots=true", headers=K)
    check("plain types=1 is ignored", len(jload(b)) == len(full))
    s, h, b = c.request("GET", "/api/endpoints?types[]=abc", headers=K)
    check("types[]=abc: 400 Invalid query parameters",
          s == 400 and (jload(b) or {}).get("message") == "Invalid query parameters", (s, b))
    pages = {}
    for start in (0, 1):
        s, h, b = c.request("GET", "/api/endpoints?excludeSnapshots=true&limit=2&start=%d"
                            % start, headers=K)
        pages[start] = [e["Id"] for e in jload(b)]
    check("start=0 and start=1 both give the first page", pages[0] == pages[1] == ids[:2], pages)
    walked = []
    start = 1
    for _ in range(50):
        s, h, b = c.request("GET", "/api/endpoints?excludeSnapshots=true&limit=3&start=%d"
                            % start, headers=K)
        page = jload(b)
        if not page:
            break
        walked += [e["Id"] for e in page]
        check_total = h.get("x-total-count") == str(len(full))
        start += 3
    check("1-based paging with limit=3 walks the whole list once",
          walked == ids and check_total, (walked, ids))
    s, h, b = c.request("GET", "/api/endpoints?excludeSnapshots=true&limit=0", headers=K)
    check("limit=0 means all", len(jload(b)) == len(full))
    s, h, b = c.request("GET", "/api/endpoints?excludeSnapshots=true&limit=5&start=999",
                        headers=K)
    check("start past the end: [] with X-Total-Count kept",
          b == b"[]" and h.get("x-total-count") == str(len(full)), (b, h))
    s, h, b = c.request("GET", "/api/endpoints/1?excludeSnapshot=true", headers=K)
    d = jload(b) or {}
    check("GET /api/endpoints/1?excludeSnapshot=true", s == 200 and d.get("Id") == 1
          and d.get("Snapshots") == [], (s, b[:100]))


def checks_proxy(c, K, h1, h2):
    s, h, b = c.request("GET", "/api/endpoints/1/docker/v1.41/containers/json?all=1", headers=K)
    lst = jload(b) or []
    names = sorted(n for x in lst for n in x.get("Names", []))
    check("type 1 list with /v1.41 prefix: the daemon's containers",
          s == 200 and names == ["/t1-ex42", "/t1-run"], (s, names))
    check("type 1 list rewritten like Portainer: sorted keys, HTML-escaped, no newline",
          lst and list(lst[0]) == sorted(lst[0]) and b"\\u003ca\\u0026b\\u003e" in b
          and not b.endswith(b"\n") and int(h["content-length"]) == len(b), b[:200])
    item = next((x for x in lst if x["Names"] == ["/t1-run"]), {})
    check("unicode label survives the proxy", item.get("Labels", {}).get("uni")
          == rig.UNICODE_LABEL, item.get("Labels"))
    s, h, b = c.request("GET", "/api/endpoints/1/docker/v1.99/containers/json", headers=K)
    check("type 1 keeps the version prefix (daemon refuses v1.99 itself)",
          s == 400 and b"1.99" in b, (s, b))
    s, h, b = c.request("GET", "/api/endpoints/1/docker/containers/json?all=1&filters=" +
                        "%7B%22status%22%3A%5B%22exited%22%5D%7D", headers=K)
    check("query string forwarded verbatim (status filter)",
          [x["Names"] for x in jload(b) or []] == [["/t1-ex42"]], b[:200])
    s, h, b = c.request("GET", "/api/endpoints/1/docker/containers/t1-ex42/json", headers=K)
    d = jload(b) or {}
    check("type 1 inspect: State.ExitCode 42, RestartCount present",
          s == 200 and d.get("State", {}).get("ExitCode") == 42 and "RestartCount" in d, s)
    s, h, b = c.request("GET", "/api/endpoints/1/docker/containers/nope/json", headers=K)
    check("Docker's own 404 passes through unchanged",
          s == 404 and b == b'{"message":"No such container: nope"}\n', (s, b))
    s, h, b = c.request("GET", "/api/endpoints/1/agent/docker/containers/json", headers=K)
    check("/{id}/agent/docker/... prefix works too", s == 200 and len(jload(b)) == 1, s)
    until = int(time.time()) + 1
    t0 = time.monotonic()
    s, h, b = c.request("GET", "/api/endpoints/1/docker/events?since=0&until=%d" % until,
                        headers=K)
    evs = [jload(x) for x in b.splitlines() if x.strip()]
    check("events with since/until: streamed, then closed by the daemon",
          s == 200 and evs and all(isinstance(e, dict) for e in evs)
          and any(e.get("Action") == "die" for e in evs) and time.monotonic() - t0 < 10,
          (s, len(evs)))
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=10)
    codes = []
    try:
        for verb in ("pause", "unpause"):
            conn.request("POST", "/api/endpoints/1/docker/v1.41/containers/t1-run/" + verb,
                         headers=K)
            r = conn.getresponse()
            codes.append((r.status, r.read(), r.getheader("Content-Length")))
    finally:
        conn.close()
    check("POST pause/unpause through the proxy: 204, no body, same connection",
          [x[:2] for x in codes] == [(204, b""), (204, b"")], codes)
    s, h, b = c.request("GET", "/api/endpoints/7/docker/containers/json", headers=K)
    check("second docker env reaches the second daemon",
          [x["Names"] for x in jload(b) or []] == [["/t2-run"]]
          and jload(b)[0]["Image"] == rig.STRESS_TAGS[0], b[:200])


def checks_agent(c, K):
    s, h, b = c.request("GET", "/api/endpoints/2/docker/v1.41/containers/json?all=1", headers=K)
    lst = jload(b) or []
    where = {x["Names"][0]: ((x.get("Portainer") or {}).get("Agent") or {}).get("NodeName")
             for x in lst}
    check("agent list merges both nodes, each item tagged with its NodeName",
          where == {"/t1-run": "node-h1", "/t1-ex42": "node-h1", "/t2-run": "node-h2"}, where)
    check("agent list: sorted keys (Portainer re-marshals)",
          lst and list(lst[0]) == sorted(lst[0]))
    s, h, b = c.request("GET", "/api/endpoints/2/docker/containers/json?all=1",
                        headers=dict(K, **{"X-PortainerAgent-Target": "node-h1"}))
    lst = jload(b) or []
    check("agent list with target = receiving node: that node only, undecorated",
          sorted(x["Names"][0] for x in lst) == ["/t1-ex42", "/t1-run"]
          and all("Portainer" not in x for x in lst), b[:200])
    s, h, b = c.request("GET", "/api/endpoints/2/docker/v1.99/containers/json", headers=K)
    check("agent strips the version prefix (v1.99 accepted)", s == 200, (s, b[:100]))
    s, h, b = c.request("GET", "/api/endpoints/2/docker/containers/t2-run/json", headers=K)
    check("agent inspect without target goes to the receiving node: Docker's 404",
          s == 404 and b"No such container: t2-run" in b, (s, b))
    c.clear_requests()
    s, h, b = c.request("GET", "/api/endpoints/2/docker/containers/t2-run/json",
                        headers=dict(K, **{"X-PortainerAgent-Target": "node-h2"}))
    check("agent inspect with X-PortainerAgent-Target: the right node answers",
          s == 200 and (jload(b) or {}).get("Name") == "/t2-run", s)
    recs = c.requests(5)
    last = recs[-1]["headers"] if recs else {}
    check("control: recorded headers show the target, secrets only as fingerprints",
          last.get("X-PortainerAgent-Target") == "node-h2"
          and last.get("X-API-Key") == ps.secret_fingerprint(API_KEY)
          and API_KEY not in json.dumps(recs), last)
    s, h, b = c.request("GET", "/api/endpoints/2/docker/containers/t2-run/json",
                        headers=dict(K, **{"X-PortainerAgent-Target": "node-zz"}))
    check("agent: unknown target node: 500 'unable to contact any other agent'",
          s == 500 and jload(b) == {"message": "The agent was unable to contact any other agent",
                                    "details": "Unable to find the targeted agent"}, (s, b))


def checks_broken(c, K):
    s, h, b = c.request("GET", "/api/endpoints/3/docker/containers/json", headers=K)
    check("edge (type 4) without tunnel: 500 Unable to get the active tunnel",
          s == 500 and b == b'{"message":"Unable to get the active tunnel",'
          b'"details":"Unable to open the tunnel"}', (s, b))
    c.update_env(3, delay=1.0)
    t0 = time.monotonic()
    s, h, b = c.request("GET", "/api/endpoints/3/docker/containers/json", headers=K)
    took = time.monotonic() - t0
    check("edge tunnel failure after the configured delay", s == 500 and 0.9 <= took < 5, took)
    c.update_env(3, delay=0)
    s, h, b = c.request("GET", "/api/endpoints/8/docker/v1.41/containers/json", headers=K)
    check("edge with an open tunnel: the agent answers (version stripped)",
          s == 200 and [x["Names"] for x in jload(b)] == [["/t2-run"]], (s, b[:100]))
    s, h, b = c.request("GET", "/api/endpoints/9/docker/containers/json", headers=K)
    check("async edge: 500 'Cannot open a tunnel for async edge environments'",
          s == 500 and (jload(b) or {}).get("details") ==
          "Cannot open a tunnel for async edge environments", (s, b))
    s, h, b = c.request("GET", "/api/endpoints/10/docker/containers/json", headers=K)
    check("edge without EdgeID: 500 'No Edge agent registered'",
          s == 500 and jload(b) == {"message": "No Edge agent registered with the environment",
                                    "details": "No agent available"}, (s, b))
    s, h, b = c.request("GET", "/api/endpoints/4/docker/containers/json", headers=K)
    check("kubernetes (type 5): plain 404",
          s == 404 and b == b"404 page not found\n"
          and h.get("content-type", "").startswith("text/plain"), (s, b))
    s, h, b = c.request("GET", "/api/endpoints/5/docker/containers/json", headers=K)
    check("down TCP agent env: 502 with an empty body",
          s == 502 and b == b"" and h.get("content-length") == "0", (s, h, b))
    s, h, b = c.request("GET", "/api/endpoints/6/docker/containers/json", headers=K)
    d = jload(b) or {}
    check("dead unix socket: 500 'Unable to proxy the request via the Docker socket'",
          s == 500 and d.get("message") == "Unable to proxy the request via the Docker socket"
          and d.get("details") == "Dial unix /nonexistent-standin/docker.sock: connect: "
          "no such file or directory", (s, b))
    s, h, b = c.request("GET", "/api/endpoints/99/docker/containers/json", headers=K)
    check("unknown environment id: 404 with the database message",
          s == 404 and jload(b) == {
              "message": "Unable to find an environment with the specified identifier "
                         "inside the database",
              "details": "Object not found inside the database (bucket=endpoints, key=99)"},
          (s, b))
    s, h, b = c.request("GET", "/api/endpoints/abc/docker/containers/json", headers=K)
    check("non-numeric environment id: 400",
          s == 400 and (jload(b) or {}).get("message") ==
          "Invalid environment identifier route variable", (s, b))
    s, h, b = c.request("GET", "/api/endpoints/1/docker/containers/json")
    check("proxy without credentials: 401", s == 401, s)


def checks_control(c, K, h2):
    c.set_mode(1, "down")
    s, h, b = c.request("GET", "/api/endpoints/1/docker/containers/json", headers=K)
    check("control: mode down gives 502 empty", s == 502 and b == b"", (s, b))
    c.snapshot(1)
    s, h, b = c.request("GET", "/api/endpoints/1?excludeSnapshot=true", headers=K)
    check("control: snapshot of a down env sets Status 2", (jload(b) or {}).get("Status") == 2)
    c.set_mode(1, "error", status=503, body={"message": "boom"})
    s, h, b = c.request("GET", "/api/endpoints/1/docker/containers/json", headers=K)
    check("control: mode error with status and body", s == 503 and b == b'{"message":"boom"}',
          (s, b))
    c.set_mode(1, "edge")
    s, h, b = c.request("GET", "/api/endpoints/1/docker/containers/json", headers=K)
    check("control: mode edge on a docker env", s == 500 and b"active tunnel" in b, (s, b))
    c.set_mode(1, "slow", delay=1.0)
    t0 = time.monotonic()
    s, h, b = c.request("GET", "/api/endpoints/1/docker/containers/json", headers=K)
    took = time.monotonic() - t0
    check("control: mode slow delays then answers", s == 200 and 0.9 <= took < 5, (s, took))
    c.set_mode(1, "ok")
    c.snapshot(1)
    s, h, b = c.request("GET", "/api/endpoints/1?excludeSnapshot=true", headers=K)
    check("control: back to ok, Status 1 after a snapshot", (jload(b) or {}).get("Status") == 1)
    c.add_env({"id": 50, "name": "added", "kind": "docker", "socket": h2.socket})
    s, h, b = c.request("GET", "/api/endpoints/50/docker/containers/json", headers=K)
    check("control: added env is proxied", s == 200 and len(jload(b)) == 1, (s, b[:100]))
    c.remove_env(50)
    s, h, b = c.request("GET", "/api/endpoints/50/docker/containers/json", headers=K)
    check("control: removed env gives 404", s == 404, s)
    c.reset_counters()
    c.request("GET", "/api/endpoints?limit=2", headers=K)
    c.request("GET", "/api/endpoints/1/docker/containers/json", headers=K)
    c.request("GET", "/api/endpoints/2/docker/containers/json", headers=K)
    c.request("GET", "/api/endpoints/1/docker/containers/t1-run/json", headers=K)
    c.request("GET", "/api/endpoints", headers={})
    cn = c.counters()
    tot = cn["total"]
    check("control: counters per kind",
          tot.get("endpoints") == 1 and tot.get("lists") == 2 and tot.get("inspects") == 1
          and tot.get("unauthorized") == 1 and cn["by_env"]["1"] == {"lists": 1, "inspects": 1},
          cn)
    s, h, b = c.request("GET", "/__standin/nope")
    check("control: unknown control path is a 404", s == 404, s)


def edge_env(c, K, eid):
    s, _, b = c.request("GET", "/api/endpoints/%d?excludeSnapshot=true" % eid, headers=K)
    return jload(b) or {}


def checks_edge(c, K, port):
    """Portainer's Edge timing and rules (reference §1.4, §1.7, §3.5, §4)."""
    t0 = time.monotonic()
    s, _, b = c.request("GET", "/api/endpoints/13/docker/containers/json", headers=K)
    took = time.monotonic() - t0
    check("edge without tunnel: Portainer waits 2 x the check-in interval (1 s here), "
          "then 500", s == 500 and 1.9 <= took < 5 and jload(b) == {
              "message": "Unable to get the active tunnel",
              "details": "Unable to open the tunnel"}, (s, took, b))
    d14, d15 = edge_env(c, K, 14), edge_env(c, K, 15)
    check("Heartbeat = QueryDate - LastCheckInDate <= 2 x 5 + 20: 30 s true, 31 s false",
          d14.get("Heartbeat") is True and d15.get("Heartbeat") is False
          and d14["QueryDate"] - d14["LastCheckInDate"] == 30
          and d15["QueryDate"] - d15["LastCheckInDate"] == 31
          and d14["EdgeCheckinInterval"] == 5, (d14.get("Heartbeat"), d15.get("Heartbeat")))
    a140, a141, a10 = edge_env(c, K, 17), edge_env(c, K, 18), edge_env(c, K, 19)
    check("async Heartbeat: the smallest Edge interval (default 60): 140 s true, 141 s "
          "false; SnapshotInterval 10: 41 s false",
          a140.get("Heartbeat") is True and a141.get("Heartbeat") is False
          and a10.get("Heartbeat") is False and a10["Edge"]["SnapshotInterval"] == 10
          and a140["Edge"]["AsyncMode"] is True, (a140, a141, a10))

    first = edge_env(c, K, 16)
    time.sleep(2.2)
    second = edge_env(c, K, 16)
    check("a checking-in agent: LastCheckInDate advances, at most one interval behind",
          second.get("LastCheckInDate", 0) > first.get("LastCheckInDate", 0)
          and 0 <= second["QueryDate"] - second["LastCheckInDate"] <= 1
          and second.get("Heartbeat") is True, (first, second))
    s, _, b = c.request("GET", "/api/endpoints/16/docker/containers/json", headers=K)
    check("a checking-in agent with a tunnel is proxied", s == 200 and isinstance(jload(b), list),
          (s, b[:100]))
    c.update_env(16, checking_in=False)
    stopped = edge_env(c, K, 16)
    time.sleep(2.2)
    later = edge_env(c, K, 16)
    check("an agent that stopped checking in: LastCheckInDate stays, QueryDate moves on",
          later["LastCheckInDate"] == stopped["LastCheckInDate"]
          and later["QueryDate"] >= stopped["QueryDate"] + 2, (stopped, later))
    t0 = time.monotonic()
    s, _, b = c.request("GET", "/api/endpoints/16/docker/containers/json", headers=K)
    took = time.monotonic() - t0
    check("an agent that stopped checking in opens no tunnel: 500 after 2 x its interval",
          s == 500 and 1.9 <= took < 5, (s, took))
    c.update_env(16, last_check_in_ago=60)
    check("... and once its last check-in is past the rule, Heartbeat false",
          edge_env(c, K, 16).get("Heartbeat") is False)
    c.update_env(16, last_check_in_ago=None, checking_in=True)
    back = edge_env(c, K, 16)
    check("it checks in again: LastCheckInDate now, Heartbeat true",
          back.get("Heartbeat") is True and back["QueryDate"] - back["LastCheckInDate"] <= 1,
          back)

    # Async Edge with snapshot data from a real daemon.
    c.snapshot(20)
    s, _, b = c.request("GET", "/api/endpoints/20", headers=K)
    d = jload(b) or {}
    snap = (d.get("Snapshots") or [{}])[0]
    names = [n for x in (snap.get("DockerSnapshotRaw") or {}).get("Containers") or []
             for n in x.get("Names", [])]
    check("async edge: GET /api/endpoints/{id} carries its snapshot from the real daemon",
          "/t1-run" in names and abs(snap.get("Time", 0) - time.time()) < 30, (names, snap.get("Time")))
    s, _, b = c.request("GET", "/api/endpoints/20/docker/containers/json", headers=K)
    check("async edge: the proxy refuses at once",
          s == 500 and (jload(b) or {}).get("details") ==
          "Cannot open a tunnel for async edge environments", (s, b))
    c.update_env(20, snapshots=False, snapshot_age=3600)
    c.snapshot(20)
    s, _, b = c.request("GET", "/api/endpoints/20", headers=K)
    t = ((jload(b) or {}).get("Snapshots") or [{}])[0].get("Time", 0)
    check("async edge that stopped sending snapshots: the old one stays, its Time too",
          3590 <= time.time() - t <= 3700, t)

    # A TCP agent that accepts and never answers.
    c.reset_counters()
    quick = ps.Client("http://127.0.0.1:%d" % port, timeout=1.5)
    t0 = time.monotonic()
    try:
        quick.request("GET", "/api/endpoints/21/docker/containers/json", headers=K)
        hung = False
    except (socket.timeout, TimeoutError):
        hung = True
    took = time.monotonic() - t0
    cn = c.counters()
    check("black-holed agent: no answer at all until the client gives up",
          hung and took >= 1.4 and cn["by_env"].get("21", {}).get("lists") == 1,
          (hung, took, cn))
    s, _, _ = c.request("GET", "/api/system/status")
    check("black-holed agent: the stand-in answers others meanwhile", s == 200, s)


def checks_keepalive(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    ok = True
    sock_ids = set()
    try:
        for path in ("/api/system/status", "/api/endpoints", "/api/system/status"):
            conn.request("GET", path, headers={"X-API-Key": API_KEY}
                         if path == "/api/endpoints" else {})
            r = conn.getresponse()
            r.read()
            ok = ok and r.status == 200 and r.getheader("Content-Length") is not None
            sock_ids.add(id(conn.sock))
    finally:
        conn.close()
    check("HTTP/1.1 keep-alive: three requests on one connection", ok and len(sock_ids) == 1,
          sock_ids)


def checks_ratelimit(c):
    statuses = []
    for _ in range(13):
        statuses.append(c.request("POST", "/api/auth",
                                  {"Username": USER, "Password": "wrong"})[0])
    s, _, b = c.request("POST", "/api/auth", {"Username": USER, "Password": PASSWORD})
    check("auth rate limit: >10/s from one IP gives 403 Access denied",
          403 in statuses and s == 403 and jload(b) == {"message": "Access denied",
                                                        "details": "Access denied to resource"},
          (statuses, s, b))
    c.ctl("POST", "ratelimit/reset")
    s, _, _ = c.request("POST", "/api/auth", {"Username": USER, "Password": PASSWORD})
    check("control: rate-limit ban can be lifted", s == 200, s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", default="")
    ap.add_argument("--keep", action="store_true", help="keep the run dir")
    args = ap.parse_args()
    run_dir = args.run_dir or tempfile.mkdtemp(prefix="e2e-st-", dir="/tmp")
    os.makedirs(run_dir, exist_ok=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)
    t0 = time.monotonic()
    try:
        run(run_dir)
    except KeyboardInterrupt:
        check("interrupted", False)
    except Exception as e:  # setup failure: count it, still print the summary
        import traceback
        traceback.print_exc()
        check("setup/run raised %s" % type(e).__name__, False, e)
    finally:
        if not args.keep and not args.run_dir:
            shutil.rmtree(run_dir, ignore_errors=True)
    sys.stderr.write("took %.1f s\n" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
