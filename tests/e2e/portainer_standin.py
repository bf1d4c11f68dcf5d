#!/usr/bin/env python3
"""A Portainer CE 2.23 stand-in in front of real Docker daemons (stdlib only).

    python3 portainer_standin.py --listen 127.0.0.1:PORT --config FILE.json [--verbose]

It serves the parts of Portainer's HTTP API a monitoring client touches
(/api/auth, /api/system/status, /api/endpoints, /api/endpoints/{id}/docker/...)
with the status codes, bodies and headers documented in
shared/reference/portainer-and-docker-api.md, and proxies Docker calls to real
daemons over their unix sockets.  A control API under /__standin/ (loopback,
no auth) lets tests change environments at runtime and read counters.

Config file (JSON)::

    {
      "version": "2.23.0",                 # optional
      "instance_id": "....",               # optional
      "api_keys": ["ptr_..."],
      "users": {"admin": "password"},      # or {"admin": {"password": "...", "role": 1, "id": 1}}
      "jwt_lifetime": 28800,               # seconds
      "snapshot_interval": 5,              # seconds between background snapshots (Portainer: 300)
      "auth_rate_limit": true,             # 10 POST /api/auth per second per IP, then a ban
      "auth_ban_seconds": 3600,
      "edge_checkin_interval": 5,
      "recent_requests": 200,              # how many requests /__standin/requests keeps
      "environments": [
        {"id": 1, "name": "local", "kind": "docker", "socket": "/run/x/docker.sock"},
        {"id": 2, "name": "swarm", "kind": "agent",
         "nodes": [{"name": "node-a", "socket": "..."}, {"name": "node-b", "socket": "..."}]},
         # node keys: name (its NodeName = Swarm hostname; two nodes may share
         # one), socket, role ("manager"|"worker"; default: the first node is
         # the manager), availability ("active"|"pause"|"drain"), unreachable
         # (its agent fails the ping: left out of merged lists), state
         # (Swarm Status.State; default "down" while unreachable, else "ready")
        {"id": 3, "name": "edge", "kind": "edge"},
        {"id": 4, "name": "kube", "kind": "kubernetes"},
        {"id": 5, "name": "gone", "kind": "down", "type": 2},
        {"id": 6, "name": "deadsock", "kind": "socket_down", "socket": "/nonexistent/docker.sock"},
        {"id": 7, "name": "hole", "kind": "blackhole"}
      ]
    }

Environment keys common to all kinds: id, name, kind, type (override), group_id,
tag_ids, status (fixed Status; default: set by the snapshot job), url,
public_url, engine ("docker"|"podman"), mode ("ok"|"down"|"edge"|"slow"|"error"|
"blackhole"), delay (seconds, for slow/edge), error_status, error_body,
resource_controls, clock_shift (whole seconds: its daemon's clock runs that
far ahead of the real one, negative behind; see "Clock shift" below; not a
Portainer feature).

Edge keys: edge_id ("" = no agent registered), async, trusted, tunnel (bool:
while the agent checks in, the tunnel opens and requests go to ``socket``),
socket (snapshots/tunnel), checkin_interval (EdgeCheckinInterval; 0: the
global edge_checkin_interval), ping_interval / snapshot_interval /
command_interval (the Edge object's, for async agents), checking_in (bool,
default true: the agent checks in every check-in interval, so LastCheckInDate
advances in steps; false: it stopped, LastCheckInDate stays), snapshots (bool,
default true: the agent sends snapshots while it checks in), snapshot_age
(control only: the snapshot Portainer holds is that many seconds old),
last_check_in_ago / last_check_in (a fixed LastCheckInDate, relative or unix
seconds; 0: never).  Without tunnel a proxied request waits ``delay``, by
default 2 x the check-in interval as Portainer does, then answers 500.
Settings: edge_checkin_interval (5), edge_async_intervals ({"ping": 60,
"snapshot": 60, "command": 60}).
"""

import argparse
import base64
import collections
import hashlib
import hmac
import http.client
import http.server
import ipaddress
import json
import os
import re
import select
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid

API_VERSION = "2.23.0"
AUTH_COOKIE = "portainer_api_key"
AGENT_TARGET_HEADER = "X-PortainerAgent-Target"

KIND_TYPES = {"docker": 1, "socket_down": 1, "down": 1, "agent": 2, "edge": 4,
              "kubernetes": 5, "blackhole": 2}
MODES = ("ok", "down", "edge", "slow", "error", "blackhole")
# Portainer's Edge rules (api/internal/endpointutils): online while
# now - LastCheckInDate <= interval * 2 + 20; async agents use the smallest of
# their ping, command and snapshot intervals, at most 60 s.
EDGE_MULTIPLIER, EDGE_ADD, EDGE_ASYNC_DEFAULT = 2, 20, 60
MAX_DELAY = 600.0  # every sleep is bounded

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
              "te", "trailer", "trailers", "transfer-encoding", "upgrade", "content-length"}
SECRET_HEADERS = {"x-api-key", "authorization", "cookie", "set-cookie"}

VERSION_RE = re.compile(r"^/v[0-9]+(\.[0-9]+)?(?=/|$)")
INSPECT_RE = re.compile(r"^/containers/[^/]+/json$")
ENDPOINT_PROXY_RE = re.compile(r"^/api/endpoints/([^/]*)/(docker|agent/docker)(/.*)?$")
ENDPOINT_ONE_RE = re.compile(r"^/api/endpoints/([^/]*)$")
ENDPOINT_SNAPSHOT_RE = re.compile(r"^/api/endpoints/([^/]*)/snapshot$")


# --------------------------------------------------------------------------
# Go-style JSON
# --------------------------------------------------------------------------


class Struct(dict):
    """A dict whose keys keep their order when encoded (a Go struct).

    Plain dicts are Go maps: in "rewrite" mode (Portainer decoded a Docker
    response into interface{} and re-marshalled it) their keys are sorted.
    """


def _go_number(v, rewrite):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        if rewrite:  # went through float64
            f = float(v)
            if abs(f) < 1e21:
                return str(int(f))
            return _go_float(f)
        return str(v)
    return _go_float(v)


def _go_float(f):
    if f == int(f) and abs(f) < 1e21:
        return str(int(f))
    r = repr(f)
    if "e" in r:
        mant, exp = r.split("e")
        sign = exp[0] if exp[0] in "+-" else "+"
        digits = exp.lstrip("+-").lstrip("0") or "0"
        if len(digits) < 2:
            digits = "0" + digits
        r = "%se%s%s" % (mant, sign, digits)
    return r


def _go_encode(obj, rewrite, out):
    if obj is None:
        out.append("null")
    elif isinstance(obj, (bool, int, float)):
        out.append(_go_number(obj, rewrite))
    elif isinstance(obj, str):
        out.append(json.dumps(obj, ensure_ascii=False))
    elif isinstance(obj, dict):
        items = list(obj.items())
        if rewrite and not isinstance(obj, Struct):
            items.sort(key=lambda kv: kv[0])
        out.append("{")
        for i, (k, v) in enumerate(items):
            if i:
                out.append(",")
            out.append(json.dumps(str(k), ensure_ascii=False))
            out.append(":")
            _go_encode(v, rewrite, out)
        out.append("}")
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for i, v in enumerate(obj):
            if i:
                out.append(",")
            _go_encode(v, rewrite, out)
        out.append("]")
    else:
        raise TypeError("cannot encode %r" % type(obj))


def go_json(obj, rewrite=False):
    """Encode like Go's encoding/json: compact, HTML-escaped, no newline.

    ``rewrite`` sorts map keys and rounds integers through float64, as
    json.Marshal does on a decoded interface{}.
    """
    out = []
    _go_encode(obj, rewrite, out)
    s = "".join(out)
    s = (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
         .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return s.encode("utf-8")


def err_body(message, details=None):
    d = Struct(message=message)
    if details:
        d["details"] = details
    return d


def capitalize(s):
    return s[:1].upper() + s[1:] if s else s


def secret_fingerprint(value):
    """How secrets appear in /__standin/requests: never the value itself."""
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:16]


# --------------------------------------------------------------------------
# HTTP over a unix socket (upstream Docker daemons)
# --------------------------------------------------------------------------


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("docker", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.unix_path)
        except OSError:
            s.close()
            raise
        self.sock = s


def dial_error(path, exc):
    """Go's net.Dial error text for a unix socket, e.g. 'dial unix /x: connect: ...'."""
    reason = os.strerror(exc.errno).lower() if getattr(exc, "errno", None) else str(exc)
    return "dial unix %s: connect: %s" % (path, reason)


def docker_get_json(sock, path, timeout=5.0):
    conn = UnixConn(sock, timeout)
    try:
        conn.request("GET", path, headers={"Host": "docker"})
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise OSError("GET %s: status %d" % (path, r.status))
        return json.loads(body)
    finally:
        conn.close()


# --------------------------------------------------------------------------
# Clock shift: a Docker daemon whose clock is off the collector's
# --------------------------------------------------------------------------
#
# Not something Portainer does: an environment's ``clock_shift`` (seconds,
# whole; changeable at run time with POST /__standin/env/{id}) makes its
# proxied Docker answers look as if its daemon's clock were that far ahead
# (negative: behind).  The Date header (the daemon's, which Portainer's Go
# reverse proxy passes through: net/http adds its own only when the handler
# set none) and the times inside the documents move by the shift: the list's
# Created, inspect's Created, State.StartedAt, State.FinishedAt and
# State.Health.Log[].Start/End, the events' time and timeNano.  Relative
# texts ("Up 3 minutes") are the same on any clock.  The since/until of a
# request go back by the shift before it reaches the real daemon.

RFC3339_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")
UNIX_TIME_RE = re.compile(r"^(-?\d+)(\.\d+)?$")


def clock_shift_of(env):
    """An environment's clock shift in whole seconds (0: none)."""
    try:
        return int(round(float(env.get("clock_shift", 0))))
    except (TypeError, ValueError):
        return 0


def shift_rfc3339(v, shift):
    """A Go RFC 3339 time moved by shift seconds, its fraction and zone kept;
    Go's zero time (never) and anything else unchanged."""
    import datetime
    if not shift or not isinstance(v, str) or v.startswith("0001-01-01"):
        return v
    m = RFC3339_RE.match(v)
    if not m:
        return v
    try:
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
        t += datetime.timedelta(seconds=shift)
    except (ValueError, OverflowError):
        return v
    return "%04d-%s%s%s" % (t.year, t.strftime("%m-%dT%H:%M:%S"), m.group(2) or "",
                            m.group(3))


def shift_query_time(v, shift):
    """A since/until value (unix seconds with an optional fraction, or RFC
    3339) taken back by shift seconds; durations ("10m", relative to the
    daemon's own now) unchanged."""
    m = UNIX_TIME_RE.match(v)
    if m:
        return "%d%s" % (int(m.group(1)) - shift, m.group(2) or "")
    return shift_rfc3339(v, -shift)


def shift_query(query, shift):
    if not shift or not query:
        return query
    out = []
    for part in query.split("&"):
        k, eq, v = part.partition("=")
        if eq and k in ("since", "until"):
            part = k + "=" + urllib.parse.quote(
                shift_query_time(urllib.parse.unquote(v), shift), safe=":")
        out.append(part)
    return "&".join(out)


def _shift_int(obj, key, by):
    v = obj.get(key)
    if isinstance(v, int) and not isinstance(v, bool) and v > 0:
        obj[key] = v + by


def shift_doc(kind, data, shift):
    """The times of one Docker document of this kind (lists, inspects, events)
    moved by shift seconds, in place; returns it."""
    if not shift:
        return data
    if kind == "lists" and isinstance(data, list):
        for item in data:
            if isinstance(item, dict):
                _shift_int(item, "Created", shift)
    elif kind == "inspects" and isinstance(data, dict):
        data["Created"] = shift_rfc3339(data.get("Created"), shift)
        st = data.get("State")
        if isinstance(st, dict):
            for k in ("StartedAt", "FinishedAt"):
                if k in st:
                    st[k] = shift_rfc3339(st[k], shift)
            health = st.get("Health")
            if isinstance(health, dict) and isinstance(health.get("Log"), list):
                for probe in health["Log"]:
                    if isinstance(probe, dict):
                        for k in ("Start", "End"):
                            if k in probe:
                                probe[k] = shift_rfc3339(probe[k], shift)
    elif kind == "events" and isinstance(data, dict):
        _shift_int(data, "time", shift)
        _shift_int(data, "timeNano", shift * 10 ** 9)
    return data


class ClockShifted:
    """An upstream Docker answer (http.client.HTTPResponse) whose documents
    are read with their times moved: whole documents for lists and inspects,
    line by line (one JSON object each, as dockerd writes them) for events.
    Its length changes, so it has no Content-Length."""

    def __init__(self, resp, shift, kind):
        self.resp, self.shift, self.kind = resp, shift, kind
        self.status, self.reason = resp.status, resp.reason
        self._buf, self._eof = b"", False

    def getheader(self, name, default=None):
        if name.lower() == "content-length":
            return default
        return self.resp.getheader(name, default)

    def getheaders(self):
        return [(k, v) for k, v in self.resp.getheaders() if k.lower() != "content-length"]

    def _lines(self, raw):
        out = []
        for line in raw.splitlines(True):
            try:
                obj = json.loads(line)
            except ValueError:
                out.append(line)
                continue
            end = b"\n" if line.endswith(b"\n") else b""
            out.append(go_json(shift_doc(self.kind, obj, self.shift)) + end)
        return b"".join(out)

    def read(self, amt=None):
        if amt is not None:
            return self.read1(amt)
        raw = self._buf + self.resp.read()
        self._buf, self._eof = b"", True
        if self.kind == "events":
            return self._lines(raw)
        try:
            data = json.loads(raw)
        except ValueError:
            return raw
        return go_json(shift_doc(self.kind, data, self.shift))

    def read1(self, n=65536):
        if self.kind != "events":
            return b"" if self._eof else self.read()
        for _ in range(10 ** 7):  # until a whole line is in, or the end
            if b"\n" in self._buf or self._eof:
                break
            try:
                piece = self.resp.read1(n)
            except (OSError, http.client.HTTPException):
                piece = b""
            if not piece:
                self._eof = True
                break
            self._buf += piece
        if self._eof:
            out, self._buf = self._buf, b""
        else:
            cut = self._buf.rindex(b"\n") + 1
            out, self._buf = self._buf[:cut], self._buf[cut:]
        return self._lines(out)


# --------------------------------------------------------------------------
# Environments
# --------------------------------------------------------------------------

SUMMARY_ORDER = ["Id", "Names", "Image", "ImageID", "Command", "Created", "Ports",
                 "SizeRw", "SizeRootFs", "Labels", "State", "Status", "HostConfig",
                 "NetworkSettings", "Mounts"]
SUMMARY_DEFAULTS = {"Id": "", "Names": None, "Image": "", "ImageID": "", "Command": "",
                    "Created": 0, "Ports": None, "Labels": None, "State": "",
                    "Status": "", "NetworkSettings": None, "Mounts": None}


def snapshot_container(c):
    """A container as Portainer stores it: Docker SDK v26 types.Container order,
    unknown fields (Health, Portainer decoration) dropped, maps sorted."""
    out = Struct()
    for k in SUMMARY_ORDER:
        if k in ("SizeRw", "SizeRootFs"):
            if c.get(k):
                out[k] = c[k]
            continue
        if k == "HostConfig":
            hc = c.get("HostConfig") or {}
            h = Struct(NetworkMode=hc.get("NetworkMode", ""))
            if hc.get("Annotations"):
                h["Annotations"] = dict(sorted(hc["Annotations"].items()))
            out[k] = h
            continue
        v = c.get(k, SUMMARY_DEFAULTS.get(k))
        if k == "Labels" and isinstance(v, dict):
            v = dict(sorted(v.items()))
        out[k] = v
    if c.get("Env"):
        out["Env"] = c["Env"]
    return out


class Env:
    """One environment: its config plus runtime state."""

    def __init__(self, cfg):
        cfg = dict(cfg)
        if "id" not in cfg:
            raise ValueError("environment without id")
        self.id = int(cfg["id"])
        kind = cfg.get("kind", "docker")
        if kind not in KIND_TYPES:
            raise ValueError("unknown environment kind %r" % kind)
        self.cfg = cfg
        self.lock = threading.Lock()
        self.snapshot = None       # last successful DockerSnapshot (Struct)
        self.snap_status = 1       # Status as the snapshot job last set it
        self.created = int(time.time())
        self.checkin_epoch = time.time()   # the agent's first check-in
        self.frozen_last = None            # LastCheckInDate once it stopped

    def get(self, k, default=None):
        v = self.cfg.get(k, default)
        return default if v is None else v

    @property
    def kind(self):
        return self.cfg.get("kind", "docker")

    @property
    def type(self):
        return int(self.get("type", KIND_TYPES[self.kind]))

    @property
    def name(self):
        return self.get("name", "env-%d" % self.id)

    @property
    def mode(self):
        return self.get("mode", "ok")

    @property
    def delay(self):
        try:
            return max(0.0, min(float(self.get("delay", 0)), MAX_DELAY))
        except (TypeError, ValueError):
            return 0.0

    @property
    def nodes(self):
        return list(self.get("nodes", []))

    def socket(self):
        if self.kind == "socket_down":
            return self.get("socket", "/nonexistent-standin/docker.sock")
        return self.get("socket", "")

    def url(self):
        if self.cfg.get("url"):
            return self.cfg["url"]
        if self.kind in ("docker", "socket_down"):
            return "unix://" + self.socket()
        if self.kind == "agent":
            return "tcp://tasks.agent:9001"
        if self.kind == "edge":
            return "portainer.invalid:9443"
        if self.kind == "kubernetes":
            return "https://kubernetes.default.svc"
        if self.kind == "blackhole":
            return "tcp://blackhole.invalid:9001"
        return "tcp://unreachable.invalid:%d" % (9001 if self.type == 2 else 2375)

    def status(self):
        if self.cfg.get("status") is not None:
            return int(self.cfg["status"])
        if self.type in (3, 4, 7):  # skipped by the snapshot job
            return 1
        return self.snap_status

    # -- Edge agents ---------------------------------------------------------

    def _int(self, k):
        try:
            return int(self.get(k, 0))
        except (TypeError, ValueError):
            return 0

    def checkin_interval(self, state):
        """getEndpointCheckinInterval: the interval of Portainer's online rule."""
        if self.get("async", False):
            v = EDGE_ASYNC_DEFAULT
            for own, glob in ((self._int("ping_interval"), state.edge_async["ping"]),
                              (self._int("command_interval"), state.edge_async["command"]),
                              (self._int("snapshot_interval"), state.edge_async["snapshot"])):
                eff = own if own > 0 else glob
                if 0 < eff < v:
                    v = eff
            return v
        return self._int("checkin_interval") or state.checkin

    def checking_in(self):
        return bool(self.get("checking_in", True))

    def last_check_in(self, state, now):
        """LastCheckInDate: the agent's last poll of Portainer."""
        if self.cfg.get("last_check_in") is not None:
            return self._int("last_check_in")
        if self.cfg.get("last_check_in_ago") is not None:
            return int(now - float(self.cfg["last_check_in_ago"]))
        if not self.checking_in():
            return self.frozen_last if self.frozen_last is not None else 0
        iv = max(1, self.checkin_interval(state))
        ticks = max(0, int((now - self.checkin_epoch) // iv))
        return int(self.checkin_epoch + ticks * iv)

    def set_checking_in(self, on, state, now):
        """The agent stops (LastCheckInDate stays) or starts checking in (at once)."""
        if on and not self.checking_in():
            self.checkin_epoch = now
            self.cfg.pop("last_check_in", None)      # a fixed date no more:
            self.cfg.pop("last_check_in_ago", None)  # it ticks from now on
        elif not on and self.checking_in():
            self.frozen_last = self.last_check_in(state, now)
        self.cfg["checking_in"] = bool(on)

    def tunnel_wait(self, state):
        """TunnelAddr: an agent without tunnel is waited for 2 x its check-in interval."""
        if self.cfg.get("delay") is not None:
            return self.delay
        return min(MAX_DELAY, float(EDGE_MULTIPLIER * self.checkin_interval(state)))

    def edge_id(self):
        if self.type not in (4, 7):
            return self.get("edge_id", "")
        return self.cfg.get("edge_id", "b6f2c4a0-5d1e-4c1f-9a47-%012d" % self.id)

    def public(self):
        """What /__standin/state shows."""
        d = {k: v for k, v in self.cfg.items()}
        d.update({"type": self.type, "mode": self.mode, "Status": self.status(),
                  "snapshot_time": (self.snapshot or {}).get("Time")})
        return d


# --------------------------------------------------------------------------
# Server state
# --------------------------------------------------------------------------


class State:
    def __init__(self, config):
        self.lock = threading.RLock()
        self.version = config.get("version", API_VERSION)
        self.instance_id = config.get("instance_id") or str(uuid.uuid4())
        self.api_keys = set(config.get("api_keys", []))
        self.users = {}
        self.set_users(config.get("users", {"admin": "adminpassword"}))
        self.jwt_lifetime = float(config.get("jwt_lifetime", 8 * 3600))
        self.snapshot_interval = float(config.get("snapshot_interval", 5))
        self.rate_limit = bool(config.get("auth_rate_limit", True))
        self.rate_per_sec = int(config.get("auth_rate_limit_per_second", 10))
        self.ban_seconds = float(config.get("auth_ban_seconds", 3600))
        self.checkin = int(config.get("edge_checkin_interval", 5))
        self.edge_async = {"ping": 60, "snapshot": 60, "command": 60}
        self.edge_async.update({k: int(v) for k, v in
                                (config.get("edge_async_intervals") or {}).items()
                                if k in self.edge_async})
        self.secret = os.urandom(32)   # per process: a restart invalidates JWTs
        self.jwt_generation = 0
        self.revoked = set()
        self.envs = {}
        for e in config.get("environments", []):
            env = Env(e)
            self.envs[env.id] = env
        self.counters = collections.Counter()
        self.env_counters = collections.defaultdict(collections.Counter)
        self.recent = collections.deque(maxlen=int(config.get("recent_requests", 200)))
        self.auth_hits = collections.defaultdict(collections.deque)
        self.banned = {}
        self.stopping = threading.Event()

    def set_users(self, users):
        out = {}
        for i, (name, v) in enumerate(sorted(users.items()), start=1):
            if isinstance(v, str):
                v = {"password": v}
            out[name] = {"password": v.get("password", ""), "role": int(v.get("role", 1)),
                         "id": int(v.get("id", i))}
        self.users = out

    def sorted_envs(self):
        with self.lock:
            return [self.envs[k] for k in sorted(self.envs)]

    def env(self, eid):
        with self.lock:
            return self.envs.get(eid)

    def count(self, kind, env_id=None):
        with self.lock:
            self.counters[kind] += 1
            if env_id is not None:
                self.env_counters[str(env_id)][kind] += 1

    # -- JWT -----------------------------------------------------------------

    def make_jwt(self, user):
        now = int(time.time())
        header = {"alg": "HS256", "typ": "JWT"}
        claims = {"id": user["id"], "username": user["name"], "role": user["role"],
                  "scope": "default", "forceChangePassword": False,
                  "exp": now + int(self.jwt_lifetime), "jti": str(uuid.uuid4()), "iat": now}

        def b64(d):
            raw = json.dumps(d, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        signing = b64(header) + "." + b64(claims)
        with self.lock:
            secret = self.secret
        sig = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
        return signing + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()

    def check_jwt(self, token):
        """Returns (claims, None) or (None, 401 message)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None, "Invalid JWT token"
        with self.lock:
            secret = self.secret
        want = hmac.new(secret, (parts[0] + "." + parts[1]).encode(), hashlib.sha256).digest()
        try:
            got = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except (ValueError, TypeError):
            return None, "Invalid JWT token"
        if not hmac.compare_digest(want, got) or not isinstance(claims, dict):
            return None, "Invalid JWT token"
        if claims.get("exp", 0) < time.time():
            return None, "Invalid JWT token"
        with self.lock:
            if claims.get("jti") in self.revoked:
                return None, "Invalid JWT token"
            if claims.get("username") not in self.users:
                return None, "An authorization token is invalid"
        return claims, None

    def invalidate_jwts(self):
        with self.lock:
            self.secret = os.urandom(32)
            self.jwt_generation += 1
            self.revoked.clear()

    # -- /api/auth rate limit ---------------------------------------------------

    def auth_allowed(self, ip):
        if not self.rate_limit:
            return True
        now = time.monotonic()
        with self.lock:
            until = self.banned.get(ip)
            if until is not None:
                if now < until:
                    return False
                del self.banned[ip]
            q = self.auth_hits[ip]
            q.append(now)
            while q and now - q[0] > 1.0:
                q.popleft()
            if len(q) > self.rate_per_sec:
                self.banned[ip] = now + self.ban_seconds
                q.clear()
                return False
        return True

    # -- snapshots ---------------------------------------------------------

    def take_snapshot(self, env):
        """The snapshot job for one environment (Portainer's SnapshotEndpoint)."""
        if env.type in (3, 5, 6, 7):
            return
        with env.lock:
            if env.type == 4:
                # Edge agents push their own snapshots while they check in;
                # Status is untouched.
                sock = env.get("socket")
                if sock and env.checking_in() and env.get("snapshots", True):
                    try:
                        env.snapshot = build_snapshot([(None, sock)], env)
                    except (OSError, ValueError):
                        pass
                return
            try:
                if env.mode in ("down", "edge", "error", "blackhole") \
                        or env.kind in ("down", "blackhole"):
                    raise OSError("environment unreachable")
                if env.kind == "agent":
                    nodes = [(n.get("name"), None if n.get("unreachable") else n.get("socket"))
                             for n in env.nodes]
                    env.snapshot = build_snapshot(nodes, env, swarm=True)
                else:
                    env.snapshot = build_snapshot([(None, env.socket())], env)
                env.snap_status = 1
            except (OSError, ValueError, http.client.HTTPException):
                env.snap_status = 2   # the old snapshot (if any) is kept

    def snapshot_all(self, only=None):
        threads = []
        for env in self.sorted_envs():
            if only is not None and env.id != only:
                continue
            t = threading.Thread(target=self.take_snapshot, args=(env,), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(30)


def build_snapshot(nodes, env, swarm=False):
    """DockerSnapshot from real daemons (several nodes for a Swarm agent)."""
    containers = []
    images, networks, volumes = [], [], []
    info = version = None
    first_error = None
    ok_nodes = 0
    for i, (_, sock) in enumerate(nodes):
        try:
            if sock is None:
                raise OSError("node unreachable")
            cl = docker_get_json(sock, "/containers/json?all=1")
            if info is None:
                info = docker_get_json(sock, "/info")
                version = docker_get_json(sock, "/version")
            images += docker_get_json(sock, "/images/json")
            networks += docker_get_json(sock, "/networks")
            vols = docker_get_json(sock, "/volumes")
            volumes += (vols or {}).get("Volumes") or []
            containers += [snapshot_container(c) for c in cl if isinstance(c, dict)]
            ok_nodes += 1
        except (OSError, ValueError, http.client.HTTPException) as e:
            if i == 0:      # the receiving agent / the daemon itself
                raise
            first_error = first_error or e
    running = sum(1 for c in containers if c.get("State") == "running")
    stopped = sum(1 for c in containers if c.get("State") in ("exited", "stopped"))
    stacks = set()
    for c in containers:
        lab = c.get("Labels") or {}
        for k in ("com.docker.compose.project", "com.docker.stack.namespace"):
            if lab.get(k):
                stacks.add(lab[k])
    is_podman = False
    for comp in (version or {}).get("Components") or []:
        if "podman" in str(comp.get("Name", "")).lower():
            is_podman = True
    if "podman" in str(((version or {}).get("Platform") or {}).get("Name", "")).lower():
        is_podman = True
    snap = Struct()
    snap["Time"] = int(time.time())
    snap["DockerVersion"] = (version or {}).get("Version", "")
    snap["Swarm"] = bool(swarm)
    snap["TotalCPU"] = (info or {}).get("NCPU", 0)
    snap["TotalMemory"] = (info or {}).get("MemTotal", 0)
    snap["ContainerCount"] = len(containers)
    snap["RunningContainerCount"] = running
    snap["StoppedContainerCount"] = stopped
    # Since 2.20 the server-side counts compare State with "healthy": always 0.
    snap["HealthyContainerCount"] = 0
    snap["UnhealthyContainerCount"] = 0
    snap["VolumeCount"] = len(volumes)
    snap["ImageCount"] = len(images)
    snap["ServiceCount"] = 0
    snap["StackCount"] = len(stacks)
    raw = Struct()
    raw["Containers"] = containers
    raw["Volumes"] = Struct(Volumes=volumes, Warnings=None)
    raw["Networks"] = networks
    raw["Images"] = images
    raw["Info"] = info
    raw["Version"] = version
    snap["DockerSnapshotRaw"] = raw
    snap["NodeCount"] = ok_nodes if swarm else 0
    snap["GpuUseAll"] = False
    snap["GpuUseList"] = []
    snap["IsPodman"] = is_podman
    return snap


def endpoint_json(state, env, with_snapshot, now):
    """The Endpoint struct of CE 2.23, in Go field order."""
    t = env.type
    is_edge = t in (4, 7)
    d = Struct()
    d["Id"] = env.id
    d["Name"] = env.name
    d["Type"] = t
    d["ContainerEngine"] = "" if t in (5, 6, 7) else env.get("engine", "docker")
    d["URL"] = env.url()
    d["GroupId"] = int(env.get("group_id", 1))
    d["PublicURL"] = env.get("public_url", "")
    d["Gpus"] = []
    tls = env.kind == "agent" or (env.kind == "down" and t == 2)
    d["TLSConfig"] = Struct(TLS=bool(env.get("tls", tls)),
                            TLSSkipVerify=bool(env.get("tls_skip_verify", tls)))
    d["AzureCredentials"] = Struct(ApplicationID="", TenantID="", AuthenticationKey="")
    d["TagIds"] = list(env.get("tag_ids", []))
    d["Status"] = env.status()
    snaps = []
    if with_snapshot and env.snapshot is not None:
        snaps = [env.snapshot]
    d["Snapshots"] = snaps
    d["UserAccessPolicies"] = {}
    d["TeamAccessPolicies"] = {}
    edge_id = env.edge_id()
    if edge_id:
        d["EdgeID"] = edge_id
    d["EdgeKey"] = base64.b64encode(("portainer.invalid:9443|portainer.invalid:8000|x|%d"
                                     % env.id).encode()).decode() if is_edge else ""
    d["EdgeCheckinInterval"] = int(env.get("checkin_interval", 0)) or state.checkin
    d["Kubernetes"] = Struct(
        Snapshots=[],
        Configuration=Struct(UseLoadBalancer=False, UseServerMetrics=False,
                             EnableResourceOverCommit=True, ResourceOverCommitPercentage=80,
                             StorageClasses=None, IngressClasses=None,
                             RestrictDefaultNamespace=False,
                             IngressAvailabilityPerNamespace=True, AllowNoneIngressClass=False),
        Flags=Struct(IsServerMetricsDetected=False, IsServerIngressClassDetected=False,
                     IsServerStorageDetected=False))
    d["ComposeSyntaxMaxVersion"] = "3.9"
    d["SecuritySettings"] = Struct(
        allowBindMountsForRegularUsers=True, allowPrivilegedModeForRegularUsers=True,
        allowVolumeBrowserForRegularUsers=False, allowHostNamespaceForRegularUsers=True,
        allowDeviceMappingForRegularUsers=True, allowStackManagementForRegularUsers=True,
        allowContainerCapabilitiesForRegularUsers=True,
        allowSysctlSettingForRegularUsers=False, enableHostManagementFeatures=False)
    if is_edge:
        last = env.last_check_in(state, now)
        d["LastCheckInDate"] = last
        d["QueryDate"] = int(now)
        d["Heartbeat"] = edge_online(d, env.checkin_interval(state))
    else:
        d["LastCheckInDate"] = 0
        d["QueryDate"] = 0
        d["Heartbeat"] = False
    if is_edge and env.get("trusted", True):
        d["UserTrusted"] = True
    d["PostInitMigrations"] = Struct(MigrateIngresses=True, MigrateGPUs=True)
    d["Edge"] = Struct(AsyncMode=bool(env.get("async", False)),
                       PingInterval=env._int("ping_interval"),
                       SnapshotInterval=env._int("snapshot_interval"),
                       CommandInterval=env._int("command_interval"))
    d["Agent"] = Struct(Version=state.version if t in (2, 4, 6, 7) else "")
    d["AuthorizedUsers"] = None
    d["AuthorizedTeams"] = None
    d["Tags"] = None
    return d


def edge_online(d, checkin):
    return d["QueryDate"] - d["LastCheckInDate"] <= checkin * EDGE_MULTIPLIER + EDGE_ADD


# --------------------------------------------------------------------------
# Request handler
# --------------------------------------------------------------------------


class Reply(Exception):
    """Raised to answer immediately: status, body bytes, content type."""

    def __init__(self, status, body=b"", ctype="application/json", headers=None):
        super().__init__(status)
        self.status = status
        self.body = body if isinstance(body, bytes) else go_json(body)
        self.ctype = ctype if self.body else None
        self.headers = headers or {}


def json_error(status, message, details=None):
    return Reply(status, err_body(message, details))


NOT_FOUND_PAGE = Reply(404, b"404 page not found\n", "text/plain; charset=utf-8",
                       {"X-Content-Type-Options": "nosniff"})


def is_loopback(host):
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "standin"
    sys_version = ""

    # Set by the server factory.
    state = None
    verbose = False

    # -- plumbing ----------------------------------------------------------

    def log_message(self, fmt, *args):  # silence BaseHTTPRequestHandler
        pass

    def vlog(self, msg):
        if self.verbose:
            sys.stderr.write("[standin] %s\n" % msg)

    def send_response(self, code, message=None):
        # Like Go's net/http: a Date header and no Server header.
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string(self.clock_now()))

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            total = 0
            for _ in range(100000):
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
                total += size
                if total > 64 * 1024 * 1024:
                    raise Reply(413, b"")
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        if n > 64 * 1024 * 1024:
            self.close_connection = True
            raise Reply(413, b"")
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, body=b"", ctype="application/json", headers=None):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            if isinstance(v, (list, tuple)):
                for x in v:
                    self.send_header(k, x)
            else:
                self.send_header(k, v)
        if status not in (204, 304) and status >= 200:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        self._status = status

    def _record(self, env_id=None):
        st = self.state
        hdrs = collections.OrderedDict()
        for k, v in self.headers.items():
            if k.lower() in SECRET_HEADERS:
                if k.lower() == "authorization":
                    pre, _, tok = v.partition(" ")
                    v = (pre + " " + secret_fingerprint(tok)) if tok else secret_fingerprint(v)
                else:
                    v = secret_fingerprint(v)
            hdrs[k] = v
        rec = {"time": time.time(), "client": self.client_address[0], "method": self.command,
               "path": redact_path(self.path), "headers": hdrs, "env_id": env_id}
        with st.lock:
            st.recent.append(rec)
        return rec

    def _dispatch(self):
        self._status = 0
        self._clock = None      # set by clock_begin() for a proxied request
        t0 = time.monotonic()
        rec = None
        try:
            try:
                body = self._read_body()
            except (ValueError, OSError):
                self.close_connection = True
                return
            path, _, query = self.path.partition("?")
            if path.startswith("/__standin/"):
                if not is_loopback(self.client_address[0]):
                    raise NOT_FOUND_PAGE
                self.control(path, query, body)
                return
            rec = self._record()
            self.route(path, query, body, rec)
        except Reply as r:
            try:
                self._send(r.status, r.body, r.ctype, r.headers)
            except OSError:
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
        except Exception:  # a bug in the stand-in: say so loudly, answer 500
            import traceback
            traceback.print_exc()
            self.close_connection = True
            if not self._status:
                try:
                    self._send(500, go_json(err_body("Stand-in internal error")))
                except OSError:
                    pass
        finally:
            if rec is not None:
                rec["status"] = self._status
            if self.verbose:
                self.vlog("%s %s -> %s (%.0f ms)" % (self.command, redact_path(self.path),
                                                     self._status,
                                                     (time.monotonic() - t0) * 1000))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    # -- clock shift (see "Clock shift" above) ---------------------------------

    def clock_begin(self, env, kind):
        """A request Portainer proxies to env's daemon: its answer is on that
        daemon's clock, shifted by env's clock_shift."""
        self._clock = {"shift": clock_shift_of(env), "kind": kind, "date": None}

    def clock_now(self):
        """The time of this answer's Date header: the daemon's own Date,
        passed through as Portainer's reverse proxy does, or the agent's clock
        for an answer it made (fanout); shifted.  Portainer's clock otherwise."""
        c = getattr(self, "_clock", None)
        if c is None or c["date"] is None:
            return time.time()
        return c["date"] + c["shift"]

    def clock_query(self, query):
        c = getattr(self, "_clock", None)
        return query if c is None else shift_query(query, c["shift"])

    def clock_answer(self, resp):
        """The daemon's answer: its Date kept, its times shifted."""
        import email.utils
        c = getattr(self, "_clock", None)
        if c is None:
            return resp
        try:
            c["date"] = email.utils.parsedate_to_datetime(resp.getheader("Date")).timestamp()
        except (TypeError, ValueError, IndexError):
            c["date"] = time.time()
        if c["shift"] and resp.status == 200 and c["kind"] in ("lists", "inspects", "events"):
            return ClockShifted(resp, c["shift"], c["kind"])
        return resp

    def clock_agent(self, results):
        """A Swarm agent's merged list: each node's items shifted; the
        agent's own Date."""
        c = getattr(self, "_clock", None)
        if c is None:
            return
        c["date"] = time.time()
        for r in results:
            if isinstance(r, list):
                shift_doc(c["kind"], r, c["shift"])

    # -- auth ----------------------------------------------------------------

    def csrf_guard(self):
        """security.ShouldSkipCSRFCheck: both headers at once is refused (2.20+)."""
        cookie = self.cookie(AUTH_COOKIE)
        if cookie:
            if self.command not in ("GET", "HEAD", "OPTIONS", "TRACE") \
                    and not self.headers.get("X-CSRF-Token"):
                raise Reply(403, b"Forbidden - CSRF token not found in request\n",
                            "text/plain; charset=utf-8", {"X-Content-Type-Options": "nosniff"})
            return
        if self.headers.get("X-API-Key") and self.headers.get("Authorization"):
            m = "api key and auth header are not allowed at the same time"
            raise json_error(403, m, capitalize(m))

    def cookie(self, name):
        raw = self.headers.get("Cookie") or ""
        for part in raw.split(";"):
            k, _, v = part.strip().partition("=")
            if k == name and v:
                return v
        return ""

    def authenticate(self, query):
        """bouncer.mwAuthenticatedUser: API key, then cookie, then bearer token."""
        try:
            return self._authenticate(query)
        except Reply:
            self.state.count("unauthorized")
            raise

    def _authenticate(self, query):
        st = self.state
        key = self.headers.get("X-API-Key") or ""
        if not key:
            for k, vals in urllib.parse.parse_qs(query).items():
                if k.upper() == "X-API-KEY" and vals:
                    key = vals[0]
        if key:
            with st.lock:
                ok = key in st.api_keys
            if not ok:
                raise json_error(401, "Invalid JWT token", "Unauthorized")
            return {"username": "apikey", "role": 1}
        token = self.cookie(AUTH_COOKIE)
        if not token:
            qs = urllib.parse.parse_qs(query)
            token = (qs.get("token") or [""])[0]
            auth = self.headers.get("Authorization")
            if auth is not None:
                token = auth[7:] if auth.startswith("Bearer ") else auth
        if not token:
            raise json_error(401, "A valid authorization token is missing", "Unauthorized")
        claims, msg = st.check_jwt(token)
        if claims is None:
            raise json_error(401, msg, "Unauthorized")
        return claims

    # -- routes --------------------------------------------------------------

    def route(self, path, query, body, rec):
        st = self.state
        m = self.command
        if not path.startswith("/api/"):
            raise NOT_FOUND_PAGE
        self.csrf_guard()
        if path in ("/api/system/status", "/api/status"):
            if m != "GET":
                raise Reply(405, b"")
            st.count("status")
            raise Reply(200, Struct(Version=st.version, InstanceID=st.instance_id))
        if path == "/api/auth":
            if m != "POST":
                raise Reply(405, b"")
            st.count("auth")
            self.auth(body)
            return
        if path == "/api/auth/logout":
            if m != "POST":
                raise Reply(405, b"")
            claims = self.authenticate(query)
            with st.lock:
                if claims.get("jti"):
                    st.revoked.add(claims["jti"])
            raise Reply(204, b"", None,
                        {"Set-Cookie": AUTH_COOKIE + "=; Path=/; Max-Age=0; HttpOnly; "
                         "SameSite=Strict"})
        if path == "/api/system/version" and m == "GET":
            self.authenticate(query)
            raise Reply(200, Struct(UpdateAvailable=False, LatestVersion="",
                                    ServerVersion=st.version, ServerEdition="CE",
                                    DatabaseVersion=st.version,
                                    Build=Struct(BuildNumber="standin", ImageTag="standin",
                                                 NodejsVersion="", YarnVersion="",
                                                 WebpackVersion="", GoVersion="",
                                                 GitCommit="")))
        if path == "/api/endpoints":
            if m != "GET":
                raise Reply(405, b"")
            self.authenticate(query)
            st.count("endpoints")
            self.endpoint_list(query)
            return
        mm = ENDPOINT_PROXY_RE.match(path)
        if mm:
            self.authenticate(query)
            env = self.lookup_env(mm.group(1))
            rec["env_id"] = env.id
            self.docker_proxy(env, mm.group(2), mm.group(3) or "/", query, body)
            return
        mm = ENDPOINT_SNAPSHOT_RE.match(path)
        if mm and m == "POST":
            self.authenticate(query)
            env = self.lookup_env(mm.group(1))
            st.snapshot_all(only=env.id)
            raise Reply(204, b"", None)
        mm = ENDPOINT_ONE_RE.match(path)
        if mm and m == "GET":
            self.authenticate(query)
            env = self.lookup_env(mm.group(1))
            st.count("endpoint", env.id)
            qs = urllib.parse.parse_qs(query, keep_blank_values=True)
            excl = (qs.get("excludeSnapshot") or [""])[0] == "true"
            raise Reply(200, endpoint_json(st, env, not excl, time.time()))
        raise NOT_FOUND_PAGE

    def lookup_env(self, raw):
        try:
            eid = int(raw)
        except ValueError:
            raise json_error(400, "Invalid environment identifier route variable",
                             'Strconv.Atoi: parsing "%s": invalid syntax' % raw)
        env = self.state.env(eid)
        if env is None:
            raise json_error(404, "Unable to find an environment with the specified "
                             "identifier inside the database",
                             "Object not found inside the database (bucket=endpoints, "
                             "key=%d)" % eid)
        return env

    def auth(self, body):
        st = self.state
        if not st.auth_allowed(self.client_address[0]):
            raise json_error(403, "Access denied", "Access denied to resource")
        text = body.decode("utf-8", "replace").strip()
        if not text:
            raise json_error(400, "Invalid request payload", "EOF")
        try:
            payload = json.loads(text)
        except ValueError:
            raise json_error(400, "Invalid request payload",
                             "Invalid character '%s' looking for beginning of value" % text[0])
        if not isinstance(payload, dict):
            raise json_error(400, "Invalid request payload",
                             "Json: cannot unmarshal %s into Go value of type "
                             "auth.authenticatePayload" % type(payload).__name__)
        user = payload.get("Username")
        pw = payload.get("Password")
        if not isinstance(user, str) or not user:
            raise json_error(400, "Invalid request payload", "Invalid username")
        if not isinstance(pw, str) or not pw:
            raise json_error(400, "Invalid request payload", "Invalid password")
        with st.lock:
            u = st.users.get(user)
        if u is None or not hmac.compare_digest(u["password"].encode(), pw.encode()):
            raise json_error(422, "Invalid credentials", "Unauthorized")
        tok = st.make_jwt(dict(u, name=user))
        exp = time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                            time.gmtime(time.time() + st.jwt_lifetime))
        raise Reply(200, Struct(jwt=tok), headers={
            "Set-Cookie": "%s=%s; Path=/; Expires=%s; HttpOnly; SameSite=Strict"
                          % (AUTH_COOKIE, tok, exp)})

    # -- GET /api/endpoints ----------------------------------------------------

    def endpoint_list(self, query):
        st = self.state
        qs = urllib.parse.parse_qs(query, keep_blank_values=True)

        def one(name, default=""):
            return (qs.get(name) or [default])[0]

        def num(name):
            try:
                return int(one(name, "0"))
            except ValueError:
                return 0

        def ints(name):
            out = []
            for v in qs.get(name + "[]", []):
                try:
                    out.append(int(v))
                except ValueError:
                    raise json_error(400, "Invalid query parameters",
                                     'Unable to parse parameter %s: strconv.Atoi: parsing '
                                     '"%s": invalid syntax' % (name, v))
            return out
        start = num("start")
        if start != 0:
            start -= 1
        limit = num("limit")
        types = ints("types")
        statuses = ints("status")
        groups = ints("groupIds")
        tags = ints("tagIds")
        ids = ints("endpointIds")
        excl = ints("excludeIds")
        search = one("search").lower()
        name = one("name")
        partial = one("tagsPartialMatch") == "true"
        exclude_snap = one("excludeSnapshots") == "true"
        untrusted = one("edgeDeviceUntrusted") == "true"
        now = time.time()
        envs = st.sorted_envs()
        available = len(envs)
        rows = [(e, endpoint_json(st, e, False, now)) for e in envs]
        out = []
        for e, d in rows:
            if ids and e.id not in ids:
                continue
            if excl and e.id in excl:
                continue
            if groups and d["GroupId"] not in groups:
                continue
            if types and d["Type"] not in types:
                continue
            if name and d["Name"] != name:
                continue
            if d["Type"] in (4, 7) and bool(d.get("UserTrusted", False)) == untrusted:
                continue
            if statuses:
                s = d["Status"]
                if d["Type"] in (4, 7):
                    s = 1 if edge_online(d, e.checkin_interval(st)) else 2
                if s not in statuses:
                    continue
            if tags:
                have = set(d["TagIds"])
                if partial and not (have & set(tags)):
                    continue
                if not partial and not set(tags) <= have:
                    continue
            if search:
                hay = [d["Name"].lower(), d["URL"].lower()]
                hit = any(search in h for h in hay)
                hit = hit or (search == "up" and d["Status"] == 1) \
                    or (search == "down" and d["Status"] == 2)
                if not hit:
                    continue
            out.append((e, d))
        sort = one("sort")
        if sort == "Name":
            out.sort(key=lambda ed: ed[1]["Name"].lower())
        elif sort == "Status":
            out.sort(key=lambda ed: ed[1]["Status"])
        elif sort == "LastCheckIn":
            out.sort(key=lambda ed: ed[1]["LastCheckInDate"])
        elif sort == "EdgeID":
            out.sort(key=lambda ed: ed[1].get("EdgeID", ""))
        elif sort == "Group":
            out.sort(key=lambda ed: ed[1]["GroupId"])
        if one("order") == "desc":
            out.reverse()
        total = len(out)
        if limit > 0:
            s = min(max(start, 0), total)
            out = out[s:s + limit]
        page = []
        for e, d in out:
            if not exclude_snap and e.snapshot is not None:
                d["Snapshots"] = [e.snapshot]
            page.append(d)
        raise Reply(200, page, headers={"X-Total-Count": str(total),
                                        "X-Total-Available": str(available)})

    # -- Docker proxy ----------------------------------------------------------

    def docker_proxy(self, env, prefix, rest, query, body):
        st = self.state
        bare = VERSION_RE.sub("", rest) or "/"
        if self.command == "GET" and bare == "/containers/json":
            kind = "lists"
        elif self.command == "GET" and INSPECT_RE.match(bare):
            kind = "inspects"
        elif bare == "/events":
            kind = "events"
        else:
            kind = "docker_other"
        st.count(kind, env.id)
        mode = env.mode
        if mode == "blackhole" or env.kind == "blackhole":
            self.hold_until_client_leaves()
            return
        if mode == "slow":
            st.stopping.wait(env.delay)
        elif mode == "down":
            raise Reply(502, b"", None)
        elif mode == "edge":
            st.stopping.wait(env.delay)
            raise json_error(500, "Unable to get the active tunnel", "Unable to open the tunnel")
        elif mode == "error":
            b = env.get("error_body", "")
            if isinstance(b, (dict, list)):
                raise Reply(int(env.get("error_status", 500)), b)
            raise Reply(int(env.get("error_status", 500)), str(b).encode(),
                        env.get("error_content_type", "application/json") if b else None)
        self.clock_begin(env, kind)
        k = env.kind
        if k == "down":
            raise Reply(502, b"", None)
        if k == "kubernetes":
            raise NOT_FOUND_PAGE
        if k == "edge":
            if not env.edge_id():
                raise json_error(500, "No Edge agent registered with the environment",
                                 "No agent available")
            if env.get("async", False):
                raise json_error(500, "Unable to get the active tunnel",
                                 "Cannot open a tunnel for async edge environments")
            if not env.get("trusted", True):
                raise json_error(500, "Unable to get the active tunnel",
                                 "Cannot open a tunnel for an invalid environment")
            if not (env.get("tunnel", False) and env.get("socket") and env.checking_in()):
                # The tunnel opens only when the agent checks in and sees the
                # request: Portainer waits 2 x the check-in interval for it.
                st.stopping.wait(env.tunnel_wait(st))
                raise json_error(500, "Unable to get the active tunnel",
                                 "Unable to open the tunnel")
            # Open tunnel: a standalone agent (version prefix stripped).
            self.forward(env, env.get("socket"), bare, query, body, kind, agent=True)
            return
        if k == "agent":
            self.agent(env, bare, query, body, kind)
            return
        # Type 1 on a unix socket (docker, socket_down).
        self.forward(env, env.socket(), rest, query, body, kind, agent=False)

    def hold_until_client_leaves(self):
        """A TCP agent that accepts and never answers: Portainer's proxy has no
        deadline of its own, so the request hangs until the client gives up
        (or MAX_DELAY, or the stand-in stops).  Nothing is sent."""
        sock = self.connection
        deadline = time.monotonic() + MAX_DELAY
        while time.monotonic() < deadline and not self.state.stopping.is_set():
            try:
                ready, _, _ = select.select([sock], [], [], 0.2)
                if ready and not sock.recv(1, socket.MSG_PEEK):
                    break           # the client closed its end
            except (OSError, ValueError):
                break
            if ready:
                time.sleep(0.2)     # a pipelined request: keep holding
        self.close_connection = True

    def upstream_headers(self, body):
        h = {}
        for k, v in self.headers.items():
            lk = k.lower()
            if lk in HOP_BY_HOP or lk in SECRET_HEADERS or lk == "host" \
                    or lk == AGENT_TARGET_HEADER.lower() or lk == "x-csrf-token":
                continue
            h[k] = v
        h["Host"] = "docker"
        if body or self.command in ("POST", "PUT", "PATCH"):
            h["Content-Length"] = str(len(body))
        return h

    def open_upstream(self, sock, path, query, body, timeout=120.0):
        conn = UnixConn(sock, timeout)
        query = self.clock_query(query)
        target = path + ("?" + query if query else "")
        conn.request(self.command, target, body=body or None,
                     headers=self.upstream_headers(body))
        return conn, self.clock_answer(conn.getresponse())

    def forward(self, env, sock, path, query, body, kind, agent):
        """Reverse-proxy one request to a daemon, rewriting list/inspect like Portainer."""
        try:
            conn, resp = self.open_upstream(sock, path, query, body)
        except OSError as e:
            if agent:
                raise Reply(502, b"", None)
            raise json_error(500, "Unable to proxy the request via the Docker socket",
                             capitalize(dial_error(sock, e)))
        try:
            self.relay(env, resp, kind)
        finally:
            conn.close()

    def relay(self, env, resp, kind, decorate_node=None):
        ctype = resp.getheader("Content-Type") or ""
        headers = collections.OrderedDict()
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() not in ("content-type", "date"):
                headers.setdefault(k, []).append(v)
        if kind in ("lists", "inspects") and resp.status == 200 \
                and ctype.split(";")[0].strip() in ("application/json", ""):
            raw = resp.read()
            try:
                data = json.loads(raw)
            except ValueError:
                data = None
            if data is not None:
                data = self.decorate(env, data)
                raise Reply(200, go_json(data, rewrite=True), ctype or "application/json",
                            headers)
            raise Reply(resp.status, raw, ctype or None, headers)
        length = resp.getheader("Content-Length")
        if resp.status in (204, 304) or self.command == "HEAD":
            resp.read()
            raise Reply(resp.status, b"", ctype or None, headers)
        if length is not None and kind != "events":
            raise Reply(resp.status, resp.read(), ctype or None, headers)
        # Stream (events, logs...): chunked towards the client, flushed as it comes.
        self.send_response(resp.status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, vs in headers.items():
            for v in vs:
                self.send_header(k, v)
        if length is not None:
            self.send_header("Content-Length", length)
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        self._status = resp.status
        for _ in range(10 ** 7):
            try:
                piece = resp.read1(65536)
            except (OSError, http.client.HTTPException):
                piece = b""
            if not piece:
                break
            if length is not None:
                self.wfile.write(piece)
            else:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
            if self.state.stopping.is_set():
                break
        if length is None:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def decorate(self, env, data):
        """Portainer's ResourceControl decoration (admin view)."""
        rcs = env.get("resource_controls", [])
        if not rcs:
            return data

        def one(obj):
            if not isinstance(obj, dict):
                return obj
            labels = obj.get("Labels")
            if labels is None:
                labels = (obj.get("Config") or {}).get("Labels")
            labels = labels if isinstance(labels, dict) else {}
            for rc in rcs:
                rtype = int(rc.get("Type", 1))
                rid = rc.get("ResourceId", "")
                hit = (rtype == 1 and rid == obj.get("Id"))
                if rtype == 6:
                    for lk in ("com.docker.stack.namespace", "com.docker.compose.project"):
                        if labels.get(lk) and rid == "%d_%s" % (env.id, labels[lk]):
                            hit = True
                if hit:
                    p = obj.get("Portainer")
                    if not isinstance(p, dict):
                        p = {}
                        obj["Portainer"] = p
                    p["ResourceControl"] = Struct(
                        Id=int(rc.get("Id", 1)), ResourceId=rid,
                        SubResourceIds=rc.get("SubResourceIds", []), Type=rtype,
                        UserAccesses=rc.get("UserAccesses", []),
                        TeamAccesses=rc.get("TeamAccesses", []),
                        Public=bool(rc.get("Public", False)),
                        AdministratorsOnly=bool(rc.get("AdministratorsOnly", True)),
                        System=bool(rc.get("System", False)))
                    break
            return obj
        if isinstance(data, list):
            return [one(o) for o in data]
        return one(data)

    # -- Swarm agent -------------------------------------------------------------

    FANOUT = {"/containers/json", "/images/json", "/volumes", "/networks"}

    def agent(self, env, bare, query, body, kind):
        nodes = env.nodes
        if not nodes or nodes[0].get("unreachable"):
            raise Reply(502, b"", None)
        receiving = nodes[0]
        target = self.headers.get(AGENT_TARGET_HEADER)
        if self.command == "GET" and bare in self.FANOUT:
            if target and target == receiving.get("name"):
                self.forward(env, receiving.get("socket"), bare, query, body, kind, agent=True)
                return
            self.fanout(env, nodes, bare, query, kind)
            return
        if self.command == "GET" and bare == "/nodes":
            self.swarm_nodes(env, nodes)    # a manager operation
        # The node named by the target, the first of that name (the agent's
        # GetMemberByNodeName), or the receiving node when it has that name.
        node = receiving
        if target:
            node = next((n for n in nodes if n.get("name") == target), None)
            if node is None:
                raise json_error(500, "The agent was unable to contact any other agent",
                                 "Unable to find the targeted agent")
        if node.get("unreachable"):
            raise Reply(502, b"", None)
        self.forward(env, node.get("socket"), bare, query, body, kind, agent=True)

    def swarm_nodes(self, env, nodes):
        """GET /nodes: answered by a manager of the Swarm, as moby's []Node."""
        managers = [i for i, n in enumerate(nodes)
                    if n.get("role", "manager" if i == 0 else "worker") == "manager"]
        if not any(not nodes[i].get("unreachable") for i in managers):
            raise json_error(500, "The agent was unable to contact any other agent "
                             "located on a manager node",
                             "Unable to find an agent on any manager node")
        out = []
        for i, n in enumerate(nodes):
            role = n.get("role", "manager" if i == 0 else "worker")
            nid = hashlib.sha256(("%d/%d" % (env.id, i)).encode()).hexdigest()[:25]
            d = Struct()
            d["ID"] = nid
            d["Version"] = Struct(Index=100 + i)
            d["CreatedAt"] = "2026-11-01T10:00:00.000000000Z"
            d["UpdatedAt"] = "2026-11-20T10:00:00.000000000Z"
            d["Spec"] = Struct(Labels={}, Role=role,
                               Availability=n.get("availability", "active"))
            d["Description"] = Struct(
                Hostname=n.get("name", ""),
                Platform=Struct(Architecture="x86_64", OS="linux"),
                Resources=Struct(NanoCPUs=2000000000, MemoryBytes=4125437952),
                Engine=Struct(EngineVersion="20.10.24+dfsg1", Plugins=[
                    Struct(Type="Log", Name="json-file"),
                    Struct(Type="Network", Name="overlay"),
                    Struct(Type="Volume", Name="local")]),
                TLSInfo=Struct(TrustRoot="-----BEGIN CERTIFICATE-----\n...\n"
                               "-----END CERTIFICATE-----\n",
                               CertIssuerSubject="MBMxETAPBgNVBAMTCHN3YXJtLWNh",
                               CertIssuerPublicKey="MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"))
            state = n.get("state", "down" if n.get("unreachable") else "ready")
            d["Status"] = Struct(State=state, Addr="10.0.%d.%d" % (env.id % 250, i + 2))
            if state == "down":
                d["Status"]["Message"] = "heartbeat failure"
            if role == "manager":
                d["ManagerStatus"] = Struct(
                    Leader=i == managers[0], Reachability="unreachable"
                    if n.get("unreachable") else "reachable",
                    Addr="10.0.%d.%d:2377" % (env.id % 250, i + 2))
            out.append(d)
        # Docker's own answer, passed through by the agent and Portainer.
        raise Reply(200, go_json(out) + b"\n", "application/json")

    def fanout(self, env, nodes, bare, query, kind):
        """Cluster operation: every node, merged, each item tagged with its node."""
        results = [None] * len(nodes)

        def fetch(i, node):
            if node.get("unreachable"):
                return          # fails the agent's 3-second ping: skipped
            try:
                conn = UnixConn(node.get("socket"), 30.0)
                try:
                    conn.request("GET", bare + ("?" + query if query else ""),
                                 headers={"Host": "docker"})
                    r = conn.getresponse()
                    raw = r.read()
                finally:
                    conn.close()
                if r.status == 200:
                    results[i] = json.loads(raw)
                elif i == 0:
                    results[i] = (r.status, raw, r.getheader("Content-Type"))
            except (OSError, ValueError, http.client.HTTPException):
                pass
        threads = [threading.Thread(target=fetch, args=(i, n), daemon=True)
                   for i, n in enumerate(nodes)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(130)
        self.clock_agent(results)
        first = results[0]
        if first is None:
            raise Reply(502, b"", None)     # the receiving agent itself is unreachable
        if isinstance(first, tuple):        # a Docker error on the receiving node
            raise Reply(first[0], first[1], first[2])
        merged = []
        vol_warnings = None
        for node, res in zip(nodes, results):
            if res is None:
                continue            # skipped, as the agent does, with a log line
            items = res
            if bare == "/volumes" and isinstance(res, dict):
                items = res.get("Volumes") or []
                vol_warnings = res.get("Warnings")
            if not isinstance(items, list):
                continue
            for it in items:
                if isinstance(it, dict):
                    it["Portainer"] = {"Agent": {"NodeName": node.get("name", "")}}
                merged.append(it)
        data = {"Volumes": merged, "Warnings": vol_warnings} if bare == "/volumes" else merged
        data = self.decorate(env, data) if kind == "lists" else data
        raise Reply(200, go_json(data, rewrite=True), "application/json")

    # -- control API (/__standin/) -------------------------------------------------

    def control(self, path, query, body):
        st = self.state
        m = self.command
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError:
            raise Reply(400, {"error": "invalid JSON"})
        parts = [p for p in path.split("/") if p][1:]   # drop "__standin"
        qs = urllib.parse.parse_qs(query)
        if parts == ["state"] and m == "GET":
            with st.lock:
                d = {"envs": [e.public() for e in st.sorted_envs()],
                     "jwt_generation": st.jwt_generation, "version": st.version,
                     "instance_id": st.instance_id, "users": sorted(st.users),
                     "api_key_count": len(st.api_keys)}
            raise Reply(200, json.dumps(d).encode())
        if parts == ["counters"] and m == "GET":
            with st.lock:
                d = {"total": dict(st.counters),
                     "by_env": {k: dict(v) for k, v in st.env_counters.items()}}
            raise Reply(200, json.dumps(d).encode())
        if parts in (["counters"], ["counters", "reset"]) and m in ("DELETE", "POST"):
            with st.lock:
                st.counters.clear()
                st.env_counters.clear()
            raise Reply(204, b"", None)
        if parts == ["requests"] and m == "GET":
            n = int((qs.get("n") or ["50"])[0])
            with st.lock:
                recs = list(st.recent)[-n:] if n > 0 else []
            raise Reply(200, json.dumps(recs).encode())
        if parts == ["requests"] and m == "DELETE":
            with st.lock:
                st.recent.clear()
            raise Reply(204, b"", None)
        if parts == ["jwt", "invalidate"] and m == "POST":
            st.invalidate_jwts()
            raise Reply(204, b"", None)
        if parts == ["ratelimit", "reset"] and m == "POST":
            with st.lock:
                st.banned.clear()
                st.auth_hits.clear()
            raise Reply(204, b"", None)
        if parts == ["config"] and m == "POST":
            with st.lock:
                if "api_keys" in payload:
                    st.api_keys = set(payload["api_keys"])
                if "users" in payload:
                    st.set_users(payload["users"])
                if isinstance(payload.get("edge_async_intervals"), dict):
                    st.edge_async.update({k: int(v) for k, v in
                                          payload["edge_async_intervals"].items()
                                          if k in st.edge_async})
                for key, attr, conv in (("jwt_lifetime", "jwt_lifetime", float),
                                        ("snapshot_interval", "snapshot_interval", float),
                                        ("auth_rate_limit", "rate_limit", bool),
                                        ("auth_ban_seconds", "ban_seconds", float),
                                        ("edge_checkin_interval", "checkin", int)):
                    if key in payload:
                        setattr(st, attr, conv(payload[key]))
            raise Reply(204, b"", None)
        if parts[:1] == ["snapshot"] and m == "POST":
            only = int(parts[1]) if len(parts) > 1 else None
            st.snapshot_all(only=only)
            raise Reply(204, b"", None)
        if parts == ["env"] and m == "POST":
            try:
                env = Env(payload)
            except (ValueError, TypeError) as e:
                raise Reply(400, json.dumps({"error": str(e)}).encode())
            with st.lock:
                if env.id in st.envs:
                    raise Reply(409, json.dumps({"error": "id exists"}).encode())
                st.envs[env.id] = env
            if payload.get("snapshot", True):
                st.snapshot_all(only=env.id)
            raise Reply(201, json.dumps(env.public()).encode())
        if len(parts) >= 2 and parts[0] == "env":
            try:
                eid = int(parts[1])
            except ValueError:
                raise Reply(400, b'{"error":"bad id"}')
            env = st.env(eid)
            if env is None:
                raise Reply(404, b'{"error":"no such environment"}')
            if len(parts) == 2 and m == "DELETE":
                with st.lock:
                    st.envs.pop(eid, None)
                raise Reply(204, b"", None)
            if len(parts) == 2 and m == "GET":
                raise Reply(200, json.dumps(env.public()).encode())
            if (len(parts) == 2 and m in ("POST", "PATCH")) or \
                    (len(parts) == 3 and parts[2] == "mode" and m == "POST"):
                upd = dict(payload)
                if len(parts) == 3:   # {"mode", "delay", "status", "body"}
                    upd = {"mode": payload.get("mode", "ok")}
                    if "delay" in payload:
                        upd["delay"] = payload["delay"]
                    if "status" in payload:
                        upd["error_status"] = payload["status"]
                    if "body" in payload:
                        upd["error_body"] = payload["body"]
                if upd.get("mode", env.mode) not in MODES:
                    raise Reply(400, json.dumps({"error": "mode must be one of %s"
                                                 % (MODES,)}).encode())
                upd.pop("id", None)
                now = time.time()
                with st.lock:
                    if "checking_in" in upd:
                        env.set_checking_in(bool(upd.pop("checking_in")), st, now)
                    age = upd.pop("snapshot_age", None)
                    if age is not None and env.snapshot is not None:
                        env.snapshot["Time"] = int(now - float(age))
                    env.cfg.update(upd)
                raise Reply(200, json.dumps(env.public()).encode())
        raise Reply(404, b'{"error":"unknown control path"}')


def redact_path(p):
    """A request target with X-API-KEY / token query values replaced by fingerprints."""
    path, sep, query = p.partition("?")
    if not sep:
        return p
    out = []
    for part in query.split("&"):
        k, eq, v = part.partition("=")
        if eq and k.upper() in ("X-API-KEY", "TOKEN"):
            v = secret_fingerprint(urllib.parse.unquote_plus(v))
        out.append(k + eq + v)
    return path + "?" + "&".join(out)


# --------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, family, verbose):
        self.address_family = family
        self.verbose = verbose
        super().__init__(addr, handler)

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


def parse_listen(s):
    host, _, port = s.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not is_loopback(host):
        raise ValueError("--listen must be a loopback address, got %r" % host)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    if host == "localhost":
        host = "127.0.0.1"
    return host, int(port), fam


class StandIn:
    """The stand-in as an object: ``StandIn(config).start()`` ... ``.stop()``."""

    def __init__(self, config, listen="127.0.0.1:0", verbose=False):
        if isinstance(config, str):
            with open(config) as f:
                config = json.load(f)
        self.config = config
        self.state = State(config)
        host, port, fam = parse_listen(listen)
        handler = type("BoundHandler", (Handler,), {"state": self.state, "verbose": verbose})
        self.server = Server((host, port), handler, fam, verbose)
        self.host = host
        self.port = self.server.server_address[1]
        self._thread = None
        self._snap_thread = None

    @property
    def url(self):
        h = "[%s]" % self.host if ":" in self.host else self.host
        return "http://%s:%d" % (h, self.port)

    def _snap_loop(self):
        st = self.state
        for _ in range(10 ** 9):
            interval = max(0.2, st.snapshot_interval)
            if st.stopping.wait(interval):
                return
            st.snapshot_all()

    def start_background(self):
        self.state.snapshot_all()   # first snapshot before serving
        self._snap_thread = threading.Thread(target=self._snap_loop, daemon=True)
        self._snap_thread.start()

    def start(self):
        """Serve in a background thread (library use)."""
        self.start_background()
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        self.start_background()
        self.server.serve_forever(poll_interval=0.2)

    def stop(self):
        self.state.stopping.set()
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(10)
            self._thread = None
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def example_config(hosts, api_key="ptr_e2eStandInTestKey0000000000000000000000000",
                   username="admin", password="e2e-password-123"):
    """A config with every kind of environment, for ``hosts`` = [(name, socket), ...].

    Ids: 1 docker (first host), 2 Swarm agent (all hosts as nodes), 3 Edge (no
    tunnel; its 500 comes at once here, the suites using it check the message,
    not Portainer's wait), 4 Kubernetes, 5 down TCP agent, 6 dead unix socket,
    and 7.. one docker environment per further host.
    """
    envs = []
    if hosts:
        envs.append({"id": 1, "name": "local", "kind": "docker", "socket": hosts[0][1]})
        envs.append({"id": 2, "name": "swarm", "kind": "agent",
                     "nodes": [{"name": "node-" + n, "socket": s} for n, s in hosts]})
    envs += [
        {"id": 3, "name": "edge-site", "kind": "edge", "delay": 0},
        {"id": 4, "name": "kube", "kind": "kubernetes"},
        {"id": 5, "name": "gone", "kind": "down", "type": 2},
        {"id": 6, "name": "deadsock", "kind": "socket_down",
         "socket": "/nonexistent-standin/docker.sock"},
    ]
    for i, (n, s) in enumerate(hosts[1:], start=7):
        envs.append({"id": i, "name": "docker-" + n, "kind": "docker", "socket": s})
    return {"version": API_VERSION, "api_keys": [api_key],
            "users": {username: password}, "snapshot_interval": 5,
            "environments": envs}


class Client:
    """Small stdlib client for the stand-in (API and control API), for tests."""

    def __init__(self, base_url, timeout=30.0):
        u = urllib.parse.urlsplit(base_url)
        self.host = u.hostname
        self.port = u.port or 80
        self.timeout = timeout

    def request(self, method, path, body=None, headers=None):
        """Returns (status, headers dict (lower-case names; lists joined), body bytes)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            h = dict(headers or {})
            if body is not None and not isinstance(body, (bytes, bytearray)):
                body = json.dumps(body).encode()
                h.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            hd = {}
            for k, v in r.getheaders():
                hd[k.lower()] = (hd[k.lower()] + ", " + v) if k.lower() in hd else v
            return r.status, hd, data
        finally:
            conn.close()

    def ctl(self, method, path, body=None):
        st, _, data = self.request(method, "/__standin/" + path.lstrip("/"), body)
        if st >= 300:
            raise RuntimeError("control %s %s -> %d %s" % (method, path, st, data[:200]))
        return json.loads(data) if data else None

    def set_mode(self, env_id, mode, delay=None, status=None, body=None):
        d = {"mode": mode}
        if delay is not None:
            d["delay"] = delay
        if status is not None:
            d["status"] = status
        if body is not None:
            d["body"] = body
        return self.ctl("POST", "env/%d/mode" % env_id, d)

    def update_env(self, env_id, **fields):
        return self.ctl("POST", "env/%d" % env_id, fields)

    def add_env(self, cfg):
        return self.ctl("POST", "env", cfg)

    def remove_env(self, env_id):
        return self.ctl("DELETE", "env/%d" % env_id)

    def invalidate_jwts(self):
        return self.ctl("POST", "jwt/invalidate")

    def snapshot(self, env_id=None):
        return self.ctl("POST", "snapshot" + ("/%d" % env_id if env_id else ""))

    def counters(self):
        return self.ctl("GET", "counters")

    def reset_counters(self):
        return self.ctl("POST", "counters/reset")

    def requests(self, n=50):
        return self.ctl("GET", "requests?n=%d" % n)

    def clear_requests(self):
        return self.ctl("DELETE", "requests")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Portainer CE 2.23 stand-in")
    ap.add_argument("--listen", default="127.0.0.1:9000", help="loopback HOST:PORT")
    ap.add_argument("--config", required=True, help="JSON config file")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = ap.parse_args(argv)
    try:
        si = StandIn(args.config, args.listen, args.verbose)
    except (OSError, ValueError) as e:
        sys.stderr.write("standin: %s\n" % e)
        return 2

    def on_term(signum, frame):
        si.state.stopping.set()
        threading.Thread(target=si.server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    sys.stderr.write("standin: listening on %s\n" % si.url)
    sys.stderr.flush()
    try:
        si.serve_forever()
    finally:
        si.server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
