#!/usr/bin/env python3
"""A small misbehaving HTTP server for the fault suite (tests/e2e/test_faults.py).

Python 3 standard library only.  It listens on a loopback address and
answers, by default, like a healthy Docker Engine API (``kind="docker"``),
a healthy Portainer (``kind="portainer"``: environment pages, ``/api/auth``
and ``/api/endpoints/{id}/docker/...``) or as a reverse proxy to another
loopback server (``kind="proxy"``, e.g. a TLS front for the Portainer
stand-in).  Rules, switchable at run time through its control API, make it
misbehave on the requests they match.

Library use::

    srv = FaultServer("docker", containers=[...]).start()
    ctl = FaultClient(srv.url)
    ctl.set_rules([{"match": r"/containers/json", "action": "hang"}])
    ...
    ctl.clear()          # back to healthy answers; held requests are released
    srv.stop()           # closes the port and every open connection

Command line (manual use)::

    python3 tests/e2e/fault_server.py --kind docker --listen 127.0.0.1:PORT
                                      [--tls CERT KEY] [--upstream URL]

Rules (``POST /__fault/rules`` with a JSON list, first match wins)::

    {"match": REGEX,          # searched in the request target (path?query)
     "method": "GET",         # optional
     "once": false,           # drop the rule after its first use
     "action": ...,  ...parameters}

Actions:

    status    answer ``status`` with ``body`` (text) or ``body_b64`` (bytes),
              ``content_type`` (default application/json), ``headers``.
    hang      read the request and answer nothing until the rule is removed
              (then answer normally) or ``seconds`` (default 60) pass.
    drip      the normal answer, its body sent ``chunk`` bytes (default 1)
              every ``delay`` seconds (default 0.01).
    endless   200, chunked: ``prefix`` then ``filler`` (default spaces)
              forever, until the client goes away (bounded by ``max_bytes``,
              default 4 GiB, and ``seconds``, default 60).
    truncate  Content-Length says ``missing`` (default 100) bytes more than
              the body (the normal one, or ``body``/``body_b64``) that is
              sent; then the connection is closed.
    close     close the connection without answering.
    echo      answer ``status`` (default 401) with a JSON error document
              whose message repeats the credentials the request carried
              (X-API-Key, Authorization, the POST body): a hostile server
              that tries to make the client log its own secrets.  ``pad``
              (text) goes before the message, to place the secret at a
              given offset.
    mutate    the normal answer, then the environment list becomes ``envs``
              (Portainer kind; with ``once`` this changes the list between
              the first page and the next ones).

Other control requests (loopback clients only, no auth):

    GET    /__fault/state      rules, data keys, request counts
    DELETE /__fault/rules      clear every rule
    POST   /__fault/rule       append one rule
    POST   /__fault/data       merge into the data (keys below; ``*_b64``
                               values are base64 and stored as bytes)
    GET    /__fault/requests   the last requests (method, path, action)
    POST   /__fault/counters/reset

Data keys: ``containers`` (list items as dicts), ``list_raw`` (bytes: the
list body as is), ``inspects`` ({id: dict, bytes, or {"__raw_b64__": base64}
for bytes sent through the control API}), ``inspect_template``
(bytes with ``@ID@`` for the id: canned inspects), ``envs`` (Portainer
environment dicts), ``env_containers`` ({env id: list items}), ``users``
({username: password}; None accepts anyone), ``api_keys`` (list; None
accepts any), ``jwt``.  Secrets are never recorded: requests are logged by
method and path only.
"""

import argparse
import base64
import email.utils
import http.client
import http.server
import json
import re
import selectors
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse

CONTROL = "/__fault/"
FILLER = b" " * 65536
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
              "te", "trailer", "upgrade", "host", "content-length"}


def _is_loopback(addr):
    return addr.startswith("127.") or addr in ("::1", "localhost")


# --------------------------------------------------------------------------
# Canned Docker objects
# --------------------------------------------------------------------------


def container(name, cid, state="running", image="img:1", labels=None,
              exit_code=0, restart_count=0, health=None, started="2024-01-02T03:04:05Z"):
    """A (list item, inspect document) pair as Docker 20.10 sends them."""
    if state == "running":
        status = "Up 5 minutes" + (" (%s)" % health if health else "")
    elif state == "exited":
        status = "Exited (%d) 2 minutes ago" % exit_code
    elif state == "created":
        status = "Created"
    else:
        status = state.capitalize()
    item = {"Id": cid, "Names": ["/" + name], "Image": image,
            "ImageID": "sha256:" + "0" * 64, "Command": "sleep 1000",
            "Created": 1700000000, "Ports": [], "Labels": labels or {},
            "State": state, "Status": status, "HostConfig": {"NetworkMode": "none"},
            "NetworkSettings": {"Networks": {}}, "Mounts": []}
    st = {"Status": state, "Running": state == "running", "Paused": False,
          "Restarting": False, "OOMKilled": False, "Dead": False,
          "Pid": 4242 if state == "running" else 0, "ExitCode": exit_code, "Error": "",
          "StartedAt": started if state != "created" else "0001-01-01T00:00:00Z",
          "FinishedAt": "2024-01-02T03:09:05Z" if state == "exited"
          else "0001-01-01T00:00:00Z"}
    if health:
        st["Health"] = {"Status": health, "FailingStreak": 0, "Log": []}
    insp = {"Id": cid, "Created": "2024-01-02T03:00:00Z", "Path": "sleep",
            "Args": ["1000"], "State": st, "Image": "sha256:" + "0" * 64,
            "Name": "/" + name, "RestartCount": restart_count,
            "Config": {"Image": image, "Labels": labels or {}}}
    return item, insp


def env(eid, name, etype=1):
    """A Portainer environment as GET /api/endpoints?excludeSnapshots=true lists it."""
    return {"Id": eid, "Name": name, "Type": etype, "URL": "unix:///var/run/docker.sock",
            "GroupId": 1, "PublicURL": "", "Gpus": [], "TLSConfig": {"TLS": False},
            "TagIds": [], "Status": 1, "Snapshots": [], "Kubernetes": {"Snapshots": []}}


def _dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


# --------------------------------------------------------------------------
# Healthy answers (shared by both engines)
# --------------------------------------------------------------------------


class _Req:
    """What the answers need of a request: method, target, headers, body."""

    __slots__ = ("command", "path", "headers", "body")

    def __init__(self, command, path, headers, body):
        self.command, self.path, self.headers, self.body = command, path, headers, body


class _Headers(dict):
    """Request headers of the fast engine: case-insensitive get()."""

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)


def normal_answer(fs, req):
    """(status, headers, body, content type) of the healthy answer."""
    if fs.kind == "proxy":
        return _proxy(fs, req)
    path, _, query = req.path.partition("?")
    if fs.kind == "portainer":
        return _portainer(fs, req, path, query)
    return _docker(fs, path, fs.data.get("containers"), None)


def _docker(fs, path, items, env_id):
    d = fs.data
    path = re.sub(r"^/v[0-9]+\.[0-9]+(?=/)", "", path)
    if path == "/_ping":
        return 200, {}, b"OK", "text/plain; charset=utf-8"
    if path == "/containers/json":
        raw = d.get("list_raw") if env_id is None else None
        if raw is None:
            raw = fs._list_body(env_id, items)
        return 200, {}, raw, "application/json"
    m = re.match(r"^/containers/([^/]+)/json$", path)
    if m:
        cid = urllib.parse.unquote(m.group(1))
        doc = (d.get("inspects") or {}).get(cid)
        if isinstance(doc, dict) and "__raw_b64__" in doc:   # bytes through JSON control
            doc = base64.b64decode(doc["__raw_b64__"])
        if doc is None and d.get("inspect_template") is not None:
            doc = d["inspect_template"].replace(b"@ID@", cid.encode())
        if doc is None:
            for it in items or []:
                if isinstance(it, dict) and it.get("Id") == cid:
                    doc = {"Id": cid, "RestartCount": 0,
                           "State": {"Status": it.get("State", "running"),
                                     "ExitCode": 0, "OOMKilled": False,
                                     "StartedAt": "2024-01-02T03:04:05Z",
                                     "FinishedAt": "0001-01-01T00:00:00Z"}}
        if doc is None:
            return 404, {}, _dumps({"message": "No such container: " + cid}), \
                "application/json"
        return 200, {}, doc if isinstance(doc, bytes) else _dumps(doc), "application/json"
    if path == "/events":
        return 200, {}, b"", "application/json"
    if path == "/version":
        return 200, {}, _dumps({"Version": "20.10.24", "ApiVersion": "1.41"}), \
            "application/json"
    if path == "/info":
        return 200, {}, _dumps({"Name": "fault", "Containers": len(items or [])}), \
            "application/json"
    return 404, {}, _dumps({"message": "page not found"}), "application/json"


def _authorized(fs, req):
    d = fs.data
    keys = d.get("api_keys")
    if keys is None:
        return True
    key = req.headers.get("X-API-Key")
    if key is not None and key in keys:
        return True
    auth = req.headers.get("Authorization") or ""
    return auth.startswith("Bearer ") and auth[7:] == d.get("jwt", "")


def _portainer(fs, req, path, query):
    d = fs.data
    qs = urllib.parse.parse_qs(query)
    if path == "/api/auth" and req.command == "POST":
        try:
            creds = json.loads(req.body or b"{}")
            user = creds.get("Username", creds.get("username"))
            pw = creds.get("Password", creds.get("password"))
        except (ValueError, AttributeError):
            return 400, {}, _dumps({"message": "Invalid request payload"}), \
                "application/json"
        users = d.get("users")
        if users is not None and users.get(user) != pw:
            return 422, {}, _dumps({"message": "Invalid credentials",
                                    "details": "Unauthorized"}), "application/json"
        return 200, {}, _dumps({"jwt": d.get("jwt", "fault.jwt.token")}), \
            "application/json"
    if path in ("/api/status", "/api/system/status"):
        return 200, {}, _dumps({"Version": "2.23.0"}), "application/json"
    if not _authorized(fs, req):
        return 401, {}, _dumps({"message": "Unauthorized",
                                "details": "A valid authorisation token is missing"}), \
            "application/json"
    if path == "/api/endpoints":
        envs = list(d.get("envs") or [])
        try:
            start = int((qs.get("start") or ["1"])[0])
            limit = int((qs.get("limit") or ["0"])[0])
        except ValueError:
            return 400, {}, _dumps({"message": "Invalid query parameter"}), \
                "application/json"
        page = envs[max(start, 1) - 1:]
        if limit > 0:
            page = page[:limit]
        return 200, {"X-Total-Count": len(envs), "X-Total-Available": len(envs)}, \
            _dumps(page), "application/json"
    m = re.match(r"^/api/endpoints/([0-9]+)/docker(/.*)$", path)
    if m:
        eid = m.group(1)
        known = {str(e.get("Id")) for e in d.get("envs") or [] if isinstance(e, dict)}
        if eid not in known:
            return 404, {}, _dumps({"message": "Unable to find an environment with "
                                    "the specified identifier inside the database",
                                    "details": "Object not found inside the database"}), \
                "application/json"
        per_env = d.get("env_containers") or {}
        items = per_env.get(eid, d.get("containers"))
        return _docker(fs, m.group(2), items, eid)
    return 404, {}, b"404 page not found\n", "text/plain; charset=utf-8"


def _proxy(fs, req):
    up = urllib.parse.urlsplit(fs.upstream)
    conn = http.client.HTTPConnection(up.hostname, up.port or 80, timeout=30)
    try:
        hdrs = {k: v for k, v in req.headers.items() if k.lower() not in HOP_BY_HOP}
        hdrs["Connection"] = "close"
        conn.request(req.command, req.path, body=req.body or None, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        out = {k: v for k, v in r.getheaders()
               if k.lower() not in HOP_BY_HOP and k.lower() != "content-type"}
        return r.status, out, data, r.getheader("Content-Type")
    except OSError:
        return 502, {}, b"", None
    finally:
        conn.close()



# --------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr, handler, owner):
        self.owner = owner
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.owner.tls_ctx is not None:
            # The handshake runs in the handler's thread (setup), never here.
            sock = self.owner.tls_ctx.wrap_socket(sock, server_side=True,
                                                  do_handshake_on_connect=False)
        self.owner._track(sock, True)
        return sock, addr

    def shutdown_request(self, request):
        self.owner._track(request, False)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        pass  # clients that go away mid-answer are the point of this server


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fault"
    sys_version = ""
    timeout = 30  # idle keep-alive connections are closed after this

    def log_message(self, fmt, *args):
        pass

    @property
    def fs(self):
        return self.server.owner

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
        super().setup()

    # -- plumbing -----------------------------------------------------------

    def _body_in(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 16 * 1024 * 1024:
            raise ValueError("request body too large")
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, body=b"", ctype="application/json", headers=None,
              length=None):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        if status >= 200 and status not in (204, 304):
            self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def _dispatch(self):
        try:
            body = self._body_in()
        except (ValueError, OSError):
            self.close_connection = True
            return
        try:
            if self.path.startswith(CONTROL):
                if not _is_loopback(self.client_address[0]):
                    self._send(404, b'{"message":"not found"}')
                    return
                self._control(body)
                return
            rule = self.fs._match(self.command, self.path)
            self.fs._record(self.command, self.path, rule)
            if rule is None:
                st, hdrs, out, ctype = self._normal(body)
                self._send(st, out, ctype, hdrs)
            else:
                self._misbehave(rule, body)
        except (BrokenPipeError, ConnectionResetError, socket.timeout, ssl.SSLError):
            self.close_connection = True

    def _normal(self, body):
        return normal_answer(self.fs, _Req(self.command, self.path, self.headers, body))

    # -- faults ---------------------------------------------------------------

    def _rule_body(self, rule, default):
        if "body_b64" in rule:
            return base64.b64decode(rule["body_b64"])
        if "body" in rule:
            b = rule["body"]
            return b if isinstance(b, bytes) else str(b).encode()
        return default

    def _misbehave(self, rule, body):
        fs = self.fs
        act = rule.get("action", "status")
        if act == "status":
            self._send(int(rule.get("status", 500)), self._rule_body(rule, b""),
                       rule.get("content_type", "application/json"), rule.get("headers"))
        elif act == "hang":
            deadline = time.monotonic() + float(rule.get("seconds", 60))
            while time.monotonic() < deadline and not fs.stopping.is_set():
                if fs._match(self.command, self.path) is not rule:
                    break  # the rule was removed: answer normally, late
                fs.changed.wait(0.1)
            if fs.stopping.is_set():
                self.close_connection = True
                return
            st, hdrs, out, ctype = self._normal(body)
            self._send(st, out, ctype, hdrs)
        elif act == "drip":
            st, hdrs, out, ctype = self._normal(body)
            out = self._rule_body(rule, out)
            self.send_response(st)
            self.send_header("Content-Type", ctype or "application/json")
            for k, v in hdrs.items():
                self.send_header(k, str(v))
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.flush()
            step = max(1, int(rule.get("chunk", 1)))
            delay = float(rule.get("delay", 0.01))
            for i in range(0, len(out), step):
                if fs.stopping.is_set():
                    self.close_connection = True
                    return
                self.wfile.write(out[i:i + step])
                self.wfile.flush()
                time.sleep(delay)
        elif act == "endless":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            prefix = self._rule_body(rule, b"[")
            filler = rule.get("filler")
            filler = filler.encode() * (65536 // max(1, len(filler))) if filler else FILLER
            sent = 0
            max_bytes = int(rule.get("max_bytes", 4 << 30))
            deadline = time.monotonic() + float(rule.get("seconds", 60))
            piece = prefix
            self.close_connection = True
            while sent < max_bytes and time.monotonic() < deadline \
                    and not fs.stopping.is_set():
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
                piece = filler
            self.wfile.flush()
        elif act == "truncate":
            st, hdrs, out, ctype = self._normal(body)
            out = self._rule_body(rule, out)
            self._send(st, out, ctype, hdrs, length=len(out) + int(rule.get("missing", 100)))
            self.close_connection = True
            try:
                self.request.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        elif act == "close":
            self.close_connection = True
            try:
                self.request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif act == "echo":
            said = "key=%s auth=%s body=%s" % (self.headers.get("X-API-Key"),
                                              self.headers.get("Authorization"),
                                              body.decode("utf-8", "replace"))
            self._send(int(rule.get("status", 401)),
                       _dumps({"message": str(rule.get("pad", "")) + "Rejected: " + said,
                               "details": said}))
        elif act == "mutate":
            st, hdrs, out, ctype = self._normal(body)
            with fs.lock:
                fs.data["envs"] = list(rule.get("envs") or [])
            self._send(st, out, ctype, hdrs)
        else:
            self._send(500, _dumps({"message": "fault_server: unknown action %s" % act}))

    def _control(self, body):
        st, out = control_answer(self.fs, self.command, self.path, body)
        self._send(st, out)


def control_answer(fs, method, path, body):
    """The control API: (status, JSON body bytes)."""
    parts = [p for p in path.split("?")[0].split("/") if p][1:]
    try:
        payload = json.loads(body) if body.strip() else None
    except ValueError:
        return 400, b'{"message":"invalid JSON"}'
    if parts == ["state"] and method == "GET":
        with fs.lock:
            st = {"kind": fs.kind, "engine": fs.engine,
                  "rules": [{k: v for k, v in r.items()
                             if not k.startswith("_") and not isinstance(v, bytes)}
                            for r in fs.rules],
                  "data_keys": sorted(fs.data), "counts": dict(fs.counts)}
        return 200, _dumps(st)
    if parts == ["rules"] and method == "POST":
        fs.set_rules(payload or [])
        return 204, b""
    if parts == ["rules"] and method == "DELETE":
        fs.set_rules([])
        return 204, b""
    if parts == ["rule"] and method == "POST":
        fs.add_rule(payload or {})
        return 204, b""
    if parts == ["data"] and method == "POST":
        fs.set_data(**(payload or {}))
        return 204, b""
    if parts == ["requests"] and method == "GET":
        with fs.lock:
            recs = list(fs.recent)
        return 200, _dumps(recs)
    if parts == ["counters", "reset"] and method == "POST":
        with fs.lock:
            fs.counts.clear()
            fs.recent.clear()
        return 204, b""
    return 404, b'{"message":"unknown control path"}'


# --------------------------------------------------------------------------
# The fast engine: one thread, non-blocking sockets, healthy answers only
# --------------------------------------------------------------------------

_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 422: "Unprocessable Entity",
            429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable"}


class _FastLoop:
    """A minimal HTTP/1.1 keep-alive server on a selectors loop.

    http.server answers ~500 requests a second here; this one answers
    thousands, which the 10k-container case needs (one inspect each).  It
    speaks only what the plugin and the control client send: GET/POST/DELETE
    with Content-Length bodies.  Rules other than ``status`` are not
    supported (they need a thread per request)."""

    def __init__(self, owner, lsock):
        self.owner = owner
        self.lsock = lsock
        self.sel = selectors.DefaultSelector()
        self.conns = {}
        self._date = (0, b"")

    def date(self):
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, email.utils.formatdate(now, usegmt=True).encode())
        return self._date[1]

    def close(self, sock):
        try:
            self.sel.unregister(sock)
        except (KeyError, ValueError):
            pass
        self.conns.pop(sock, None)
        try:
            sock.close()
        except OSError:
            pass

    def run(self):
        fs = self.owner
        self.lsock.setblocking(False)
        self.sel.register(self.lsock, selectors.EVENT_READ, None)
        while not fs.stopping.is_set():
            for key, ev in self.sel.select(0.1):
                if key.data is None:
                    try:
                        sock, _ = self.lsock.accept()
                    except OSError:
                        continue
                    sock.setblocking(False)
                    st = {"in": b"", "out": bytearray()}
                    self.conns[sock] = st
                    self.sel.register(sock, selectors.EVENT_READ, st)
                    continue
                sock, st = key.fileobj, key.data
                if ev & selectors.EVENT_READ:
                    try:
                        data = sock.recv(262144)
                    except (BlockingIOError, InterruptedError):
                        data = None
                    except OSError:
                        data = b""
                    if data == b"":
                        self.close(sock)
                        continue
                    if data:
                        st["in"] += data
                        if not self.serve(st):
                            self.close(sock)
                            continue
                if st["out"]:
                    try:
                        n = sock.send(st["out"])
                        del st["out"][:n]
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        self.close(sock)
                        continue
                want = selectors.EVENT_READ | (selectors.EVENT_WRITE if st["out"] else 0)
                if key.events != want:
                    self.sel.modify(sock, want, st)
        for sock in list(self.conns):
            self.close(sock)
        self.sel.close()

    def serve(self, st):
        """Answers every complete request in st["in"]; False to close."""
        fs = self.owner
        for _ in range(10000):
            head, sep, rest = st["in"].partition(b"\r\n\r\n")
            if not sep:
                return len(st["in"]) < 65536
            lines = head.decode("latin-1").split("\r\n")
            try:
                method, target, _ = lines[0].split(" ", 2)
            except ValueError:
                return False
            hdrs = _Headers()
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                hdrs[k.strip().lower()] = v.strip()
            n = int(hdrs.get("content-length") or 0)
            if len(rest) < n:
                return True
            body, st["in"] = rest[:n], rest[n:]
            if target.startswith(CONTROL):
                status, out = control_answer(fs, method, target, body)
                hd, ctype = {}, "application/json"
            else:
                rule = fs._match(method, target)
                fs._record(method, target, rule)
                if rule is not None and rule.get("action", "status") == "status":
                    status = int(rule.get("status", 500))
                    out = rule.get("body", b"")
                    out = out if isinstance(out, bytes) else str(out).encode()
                    hd, ctype = rule.get("headers") or {}, rule.get("content_type",
                                                                     "application/json")
                else:
                    status, hd, out, ctype = normal_answer(fs, _Req(method, target, hdrs, body))
            resp = [b"HTTP/1.1 %d %s\r\nDate: %s\r\n" % (
                status, _REASONS.get(status, "Status").encode(), self.date())]
            if ctype:
                resp.append(b"Content-Type: %s\r\n" % ctype.encode())
            for k, v in hd.items():
                resp.append(("%s: %s\r\n" % (k, v)).encode("latin-1"))
            if status != 204:
                resp.append(b"Content-Length: %d\r\n" % len(out))
            resp.append(b"\r\n")
            st["out"] += b"".join(resp)
            if method != "HEAD" and status != 204:
                st["out"] += out
            if (hdrs.get("connection") or "").lower() == "close":
                return True
        return True


class FaultServer:
    """One misbehaving server.  ``start()`` may be called again after
    ``stop()``: it listens on the same port (a service coming back)."""

    def __init__(self, kind="docker", listen="127.0.0.1:0", tls=None, upstream=None,
                 engine="threads", **data):
        if kind not in ("docker", "portainer", "proxy"):
            raise ValueError("kind must be docker, portainer or proxy")
        host, _, port = listen.rpartition(":")
        if not _is_loopback(host):
            raise ValueError("loopback addresses only, not %r" % host)
        if engine not in ("threads", "fast") or (engine == "fast" and tls is not None):
            raise ValueError("engine must be threads, or fast without TLS")
        self.kind = kind
        self.engine = engine
        self._fast = None
        self.host = host
        self.port = int(port)
        self.upstream = upstream
        self.tls_ctx = None
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self.tls_ctx = ctx
        self.lock = threading.Lock()
        self.changed = threading.Event()
        self.stopping = threading.Event()
        self.rules = []
        self.data = {}
        self.counts = {}
        self.recent = []
        self._list_cache = {}
        self._conns = set()
        self.server = None
        self._thread = None
        self.set_data(**data)

    @property
    def url(self):
        return "%s://%s:%d" % ("https" if self.tls_ctx else "http", self.host, self.port)

    # -- lifecycle --------------------------------------------------------------

    def start(self):
        self.stopping.clear()
        last = None
        for _ in range(50):  # the port may linger briefly after a stop
            try:
                if self.engine == "fast":
                    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        ls.bind((self.host, self.port))
                        ls.listen(256)
                    except OSError:
                        ls.close()
                        raise
                    self._fast = _FastLoop(self, ls)
                    self.port = ls.getsockname()[1]
                    target, kwargs = self._fast.run, {}
                else:
                    self.server = _HTTPServer((self.host, self.port), _Handler, self)
                    self.port = self.server.server_address[1]
                    target, kwargs = self.server.serve_forever, {"poll_interval": 0.1}
                break
            except OSError as e:
                last = e
                time.sleep(0.1)
        else:
            raise last
        self._thread = threading.Thread(target=target, kwargs=kwargs, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops listening and closes every open connection (keep-alive ones
        included): clients see the service gone, not a zombie."""
        self.stopping.set()
        self.changed.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if self._fast is not None:
            try:
                self._fast.lsock.close()
            except OSError:
                pass
            self._fast = None
        with self.lock:
            conns = list(self._conns)
            self._conns.clear()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def _track(self, sock, add):
        with self.lock:
            if add:
                self._conns.add(sock)
            else:
                self._conns.discard(sock)

    # -- rules and data ------------------------------------------------------------

    def set_rules(self, rules):
        with self.lock:
            self.rules = [self._compile(r) for r in rules]
        self.changed.set()
        self.changed = threading.Event()

    def add_rule(self, rule):
        with self.lock:
            self.rules.append(self._compile(rule))

    @staticmethod
    def _compile(rule):
        r = dict(rule)
        r["_re"] = re.compile(r.get("match", ""))
        return r

    def set_data(self, **kw):
        with self.lock:
            for k, v in kw.items():
                if k.endswith("_b64"):
                    k, v = k[:-4], (base64.b64decode(v) if v is not None else None)
                self.data[k] = v
            self._list_cache = {}

    def _list_body(self, env_id, items):
        key = env_id
        with self.lock:
            body = self._list_cache.get(key)
            if body is None:
                body = _dumps(items or [])
                self._list_cache[key] = body
        return body

    def _match(self, method, path):
        with self.lock:
            for r in self.rules:
                if r.get("method") and r["method"] != method:
                    continue
                if r["_re"].search(path):
                    if r.get("once"):
                        self.rules.remove(r)
                    return r
        return None

    def _record(self, method, path, rule):
        p = path.split("?")[0]
        if re.search(r"/containers/json$", p):
            k = "list"
        elif re.search(r"/containers/[^/]+/json$", p):
            k = "inspect"
        elif p.endswith("/events"):
            k = "events"
        elif p == "/api/endpoints":
            k = "endpoints"
        elif p == "/api/auth":
            k = "auth"
        else:
            k = "other"
        with self.lock:
            self.counts[k] = self.counts.get(k, 0) + 1
            self.recent.append({"time": time.time(), "method": method,
                                "path": path[:300],
                                "action": rule.get("action") if rule else None})
            if len(self.recent) > 200:
                del self.recent[:100]


class FaultClient:
    """The control API over HTTP (what a test uses to switch faults)."""

    def __init__(self, url, cafile=None, timeout=10.0):
        u = urllib.parse.urlsplit(url)
        self.https = u.scheme == "https"
        self.host, self.port = u.hostname, u.port
        self.cafile = cafile
        self.timeout = timeout

    def _conn(self):
        if self.https:
            ctx = ssl.create_default_context(cafile=self.cafile)
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                               context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def ctl(self, method, path, payload=None):
        conn = self._conn()
        try:
            body = None if payload is None else json.dumps(payload).encode()
            conn.request(method, CONTROL + path, body=body,
                         headers={"Content-Type": "application/json"} if body else {})
            r = conn.getresponse()
            data = r.read()
            if r.status >= 300:
                raise RuntimeError("fault control %s %s -> %d %s"
                                   % (method, path, r.status, data[:200]))
            return json.loads(data) if data else None
        finally:
            conn.close()

    def set_rules(self, rules):
        return self.ctl("POST", "rules", rules)

    def add_rule(self, rule):
        return self.ctl("POST", "rule", rule)

    def clear(self):
        return self.ctl("DELETE", "rules")

    def set_data(self, **kw):
        out = {}
        for k, v in kw.items():
            if isinstance(v, bytes):
                out[k + "_b64"] = base64.b64encode(v).decode()
            else:
                out[k] = v
        return self.ctl("POST", "data", out)

    def state(self):
        return self.ctl("GET", "state")

    def counts(self):
        return self.state()["counts"]

    def requests(self):
        return self.ctl("GET", "requests")


def main(argv=None):
    ap = argparse.ArgumentParser(description="misbehaving HTTP server (fault suite)")
    ap.add_argument("--kind", default="docker", choices=("docker", "portainer", "proxy"))
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--upstream", help="proxy kind: http://127.0.0.1:PORT")
    args = ap.parse_args(argv)
    item, insp = container("fault-demo", "f" * 64)
    srv = FaultServer(args.kind, args.listen, tls=args.tls, upstream=args.upstream,
                      containers=[item], inspects={item["Id"]: insp},
                      envs=[env(1, "fault-env")])
    srv.start()
    sys.stderr.write("fault_server: %s listening on %s\n" % (args.kind, srv.url))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    while not done.wait(1):
        pass
    srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
