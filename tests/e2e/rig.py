#!/usr/bin/env python3
"""End-to-end rig: real Docker daemons (and optionally Podman) on this machine.

Python 3 standard library only.  Everything runs on unix sockets under a run
directory; containers use ``--network none``; no traffic leaves the machine.

Library use::

    from rig import DockerHost, build_busybox_image, populate, wait_for
    with DockerHost("h1", "/tmp/run") as h:
        build_busybox_image(h)
        facts = populate(h, "e2e-")

Command line (manual use)::

    python3 tests/e2e/rig.py up   --run-dir DIR [--hosts 2] [--populate] [--podman]
                                  [--standin-port PORT]
    python3 tests/e2e/rig.py down --run-dir DIR

``up`` leaves the daemons running and records what it started in
``DIR/rig.json``; ``down`` stops exactly those processes (by pid) and nothing
else.  Every wait in this file is bounded.
"""

import argparse
import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Busybox applets linked into the image.
APPLETS = [
    "sh", "ash", "sleep", "true", "false", "cat", "echo", "kill", "ls", "ps",
    "env", "date", "dd", "head", "tail", "yes", "printf", "test", "[", "id",
    "hostname", "mkdir", "rm", "touch", "wc", "grep", "sed", "awk", "seq",
    "timeout", "uname", "top", "free", "nproc", "pidof", "killall", "tr",
    "cut", "sort", "uniq", "expr", "stat",
]

IMAGE = "bb:latest"
# Extra tags of the same image with names that stress parsers and metrics
# (slashes, dots, ports, digits, dashes, underscores).
STRESS_TAGS = [
    "registry.example.org/team/app:1.2",
    "localhost:5000/deep/path/to/some_image-name.x:v1.0.0-rc.1",
]

UNIX_PATH_MAX = 107  # sun_path is 108 bytes including the NUL


def log(msg):
    """Rig diagnostics go to stderr, never stdout (stdout is for results)."""
    sys.stderr.write("[rig] %s\n" % msg)
    sys.stderr.flush()


# --------------------------------------------------------------------------
# HTTP over a unix socket
# --------------------------------------------------------------------------


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client connection whose transport is a unix stream socket."""

    def __init__(self, path, timeout=10.0):
        super().__init__("localhost", timeout=timeout)
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


def unix_http(sock_path, method, path, body=None, headers=None, timeout=10.0):
    """One request over a unix socket.  Returns (status, headers dict, body bytes).

    Header names in the returned dict are lower-cased.  Raises OSError when
    the socket cannot be reached.
    """
    conn = UnixHTTPConnection(sock_path, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def unix_get(sock_path, path, timeout=10.0):
    """GET over a unix socket: (status, headers, body bytes)."""
    return unix_http(sock_path, "GET", path, timeout=timeout)


# --------------------------------------------------------------------------
# Process helpers (only ever applied to pids this rig started)
# --------------------------------------------------------------------------


def pid_alive(pid):
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as dead.
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        if st.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    except OSError:
        return False
    return True


def pid_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def reap(pid):
    """Collect a child's exit status if it is our child; ignore otherwise."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    except OSError:
        pass


def terminate_pid(pid, term_timeout=20.0, kill_timeout=5.0, sig=signal.SIGTERM):
    """SIGTERM, wait (bounded), then SIGKILL.  Returns True when it is gone."""
    if not pid_alive(pid):
        reap(pid)
        return True
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + term_timeout
    while time.monotonic() < deadline:
        reap(pid)
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + kill_timeout
    while time.monotonic() < deadline:
        reap(pid)
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


def pids_with_cmdline(needle):
    """Pids whose command line contains ``needle`` (a path unique to this rig)."""
    out = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return out
    me = os.getpid()
    for e in entries:
        if not e.isdigit():
            continue
        pid = int(e)
        if pid == me:
            continue
        if needle in pid_cmdline(pid):
            out.append(pid)
    return out


def read_pidfile(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or "0")
    except (OSError, ValueError):
        return 0


def unmount_under(prefixes):
    """Lazily unmount anything mounted below one of ``prefixes`` (deepest first)."""
    mounts = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 4:
                    mp = parts[4].replace("\\040", " ")
                    for p in prefixes:
                        if p and (mp == p or mp.startswith(p.rstrip("/") + "/")):
                            mounts.append(mp)
    except OSError:
        return
    for mp in sorted(set(mounts), key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=20, check=False)


# The test engines never reach a registry: an image they lack (a typo, a
# test that runs before its image is built) would otherwise be pulled, and
# the pull starts with a name lookup at the machine's resolver.  Every
# daemon here runs with its proxy on a closed loopback port, so a pull fails
# at once without a lookup or a packet off this machine.
NO_REGISTRY_ENV = {k: "http://127.0.0.1:9" for k in
                   ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
NO_REGISTRY_ENV.update({"NO_PROXY": "", "no_proxy": ""})

def short_dir(run_dir, need):
    """A directory for sockets: ``run_dir`` when paths stay short, else /tmp/e2e-*."""
    run_dir = os.path.abspath(run_dir)
    if len(run_dir) + need <= UNIX_PATH_MAX:
        return run_dir, False
    return tempfile.mkdtemp(prefix="e2e-", dir="/tmp"), True


# --------------------------------------------------------------------------
# Docker daemon
# --------------------------------------------------------------------------


class DockerError(RuntimeError):
    pass


class DockerHost:
    """A private dockerd (Debian docker.io) with its own roots and unix socket.

    ``name`` must be short ([a-z0-9-], a few chars); it names the files.
    """

    def __init__(self, name, run_dir, start=False, ready_timeout=60.0):
        self.name = name
        self.run_dir = os.path.abspath(run_dir)
        self.dir = os.path.join(self.run_dir, name)
        # Socket, exec-root (holds containerd's socket) must be short paths.
        # "<short>/<name>-x/containerd/containerd.sock" is the longest one.
        self.sdir, self.sdir_is_tmp = short_dir(self.run_dir, len(name) + 40)
        self.socket = os.path.join(self.sdir, name + ".sock")
        self.exec_root = os.path.join(self.sdir, name + "-x")
        self.data_root = os.path.join(self.dir, "data")
        self.pidfile = os.path.join(self.dir, "docker.pid")
        self.config_file = os.path.join(self.dir, "daemon.json")
        self.log_file = os.path.join(self.dir, "dockerd.log")
        self.cli_config = os.path.join(self.dir, "cli")
        self.proc = None
        self.pid = 0
        self.ready_timeout = ready_timeout
        self._atexit = False
        if start:
            self.start()

    # -- lifecycle ---------------------------------------------------------

    @property
    def url(self):
        return "unix://" + self.socket

    def state(self):
        """What ``down`` needs to stop this host later (JSON-serialisable)."""
        return {"name": self.name, "pid": self.pid, "socket": self.socket,
                "exec_root": self.exec_root, "data_root": self.data_root,
                "dir": self.dir, "sdir": self.sdir, "sdir_is_tmp": self.sdir_is_tmp,
                "pidfile": self.pidfile}

    def start(self, register_atexit=True, detach=False):
        for d in (self.dir, self.data_root, self.exec_root, self.cli_config):
            os.makedirs(d, exist_ok=True)
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        cfg = {
            "iptables": False,
            "ip-forward": False,
            "ip-masq": False,
            "bridge": "none",
            "storage-driver": "vfs",
            "hosts": ["unix://" + self.socket],
            "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 1024, "Soft": 1024}},
            "log-driver": "json-file",
            "userland-proxy": False,
        }
        with open(self.config_file, "w") as f:
            json.dump(cfg, f, indent=1)
        cmd = ["dockerd", "--config-file", self.config_file,
               "--data-root", self.data_root, "--exec-root", self.exec_root,
               "--pidfile", self.pidfile]
        logf = open(self.log_file, "ab")
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         env=dict(os.environ, **NO_REGISTRY_ENV))
        finally:
            logf.close()
        self.pid = self.proc.pid
        if register_atexit and not self._atexit:
            atexit.register(self.stop)
            self._atexit = True
        try:
            self.wait_ready(self.ready_timeout)
        except Exception:
            self.stop()
            raise
        if detach:
            # Let the daemon outlive us; "down" stops it by pid.
            self.proc = None
        return self

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise DockerError("dockerd %s exited (%s); log tail:\n%s"
                                  % (self.name, self.proc.returncode, self.log_tail()))
            try:
                st, _, body = unix_get(self.socket, "/_ping", timeout=2)
                if st == 200 and body.strip() == b"OK":
                    return
                last = "status %d" % st
            except OSError as e:
                last = str(e)
            time.sleep(0.2)
        raise DockerError("dockerd %s not ready after %ss (%s); log tail:\n%s"
                          % (self.name, timeout, last, self.log_tail()))

    def log_tail(self, n=30):
        try:
            with open(self.log_file, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"

    def alive(self):
        try:
            st, _, _ = unix_get(self.socket, "/_ping", timeout=2)
            return st == 200
        except OSError:
            return False

    def stop(self, remove_containers=True):
        """Stop dockerd, its containerd and shims; leave nothing running."""
        stop_docker_state(self.state(), remove_containers=remove_containers,
                          proc=self.proc)
        self.proc = None

    def __enter__(self):
        if self.pid == 0:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- clients -----------------------------------------------------------

    def env(self):
        e = dict(os.environ)
        e["DOCKER_CONFIG"] = self.cli_config
        e["DOCKER_HOST"] = self.url
        e["DOCKER_CLI_HINTS"] = "false"
        e.pop("DOCKER_CONTEXT", None)
        return e

    def docker(self, *args, check=True, timeout=60, input=None):
        """Run the docker CLI against this daemon; returns CompletedProcess (text)."""
        cmd = ["docker", "-H", self.url] + [str(a) for a in args]
        try:
            cp = subprocess.run(cmd, env=self.env(), input=input, capture_output=True,
                                text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as e:
            raise DockerError("timeout after %ss: %s" % (timeout, " ".join(cmd))) from e
        if check and cp.returncode != 0:
            raise DockerError("%s -> %d: %s" % (" ".join(cmd), cp.returncode,
                                                cp.stderr.strip()))
        return cp

    def get(self, path, timeout=10.0):
        return unix_get(self.socket, path, timeout=timeout)

    def get_json(self, path, timeout=10.0):
        st, _, body = unix_get(self.socket, path, timeout=timeout)
        if st != 200:
            raise DockerError("GET %s -> %d %s" % (path, st, body[:200]))
        return json.loads(body)

    def inspect(self, name):
        """Container inspect as a dict, or None when it does not exist."""
        st, _, body = unix_get(self.socket, "/containers/%s/json" % name)
        if st == 404:
            return None
        if st != 200:
            raise DockerError("inspect %s -> %d" % (name, st))
        return json.loads(body)

    def containers(self, all=True):
        return self.get_json("/containers/json?all=%d" % (1 if all else 0))


def _container_pids(data_root):
    """Pids still inside the cgroups of this daemon's containers."""
    pids = set()
    cdir = os.path.join(data_root, "containers")
    try:
        ids = [i for i in os.listdir(cdir) if len(i) == 64]
    except OSError:
        return pids
    for cid in ids:
        for ctl in ("pids", "memory", "cpu", "freezer", "systemd", "unified"):
            p = "/sys/fs/cgroup/%s/docker/%s/cgroup.procs" % (ctl, cid)
            try:
                with open(p) as f:
                    pids.update(int(x) for x in f.read().split() if x.isdigit())
            except OSError:
                pass
    return pids


def _thaw_containers(data_root):
    """Thaw frozen (paused) container cgroups so their processes can die."""
    cdir = os.path.join(data_root, "containers")
    try:
        ids = [i for i in os.listdir(cdir) if len(i) == 64]
    except OSError:
        return
    for cid in ids:
        p = "/sys/fs/cgroup/freezer/docker/%s/freezer.state" % cid
        try:
            with open(p, "w") as f:
                f.write("THAWED")
        except OSError:
            pass


def stop_docker_state(st, remove_containers=True, proc=None):
    """Stop the daemon described by ``DockerHost.state()``.  Only our pids."""
    sock = st["socket"]
    exec_root = st["exec_root"]
    pid = st.get("pid") or read_pidfile(st.get("pidfile", ""))
    # 1. Remove containers while the daemon still answers (fast: SIGKILL).
    if remove_containers and pid_alive(pid):
        try:
            s, _, body = unix_get(sock, "/containers/json?all=1", timeout=5)
            ids = [c["Id"] for c in json.loads(body)] if s == 200 else []
        except (OSError, ValueError):
            ids = []
        threads = []

        def rm(cid):
            try:
                unix_http(sock, "DELETE", "/containers/%s?force=1&v=1" % cid, timeout=30)
            except OSError:
                pass
        for cid in ids:
            t = threading.Thread(target=rm, args=(cid,), daemon=True)
            t.start()
            threads.append(t)
            if len(threads) >= 8:
                threads.pop(0).join(35)
        for t in threads:
            t.join(35)
    # 2. The daemon itself (it normally stops its containerd too).
    if pid:
        if proc is not None and proc.pid == pid:
            if proc.poll() is None:
                try:
                    proc.terminate()
                    proc.wait(timeout=25)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        pass
        elif "dockerd" in pid_cmdline(pid) and st["data_root"] in pid_cmdline(pid):
            terminate_pid(pid, term_timeout=25)
    # 3. The containerd that dockerd spawned, and its shims.
    cpid = read_pidfile(os.path.join(exec_root, "containerd", "containerd.pid"))
    if cpid and exec_root in pid_cmdline(cpid):
        terminate_pid(cpid, term_timeout=10)
    for _ in range(3):
        _thaw_containers(st["data_root"])
        left = pids_with_cmdline(exec_root + "/")
        left += list(_container_pids(st["data_root"]))
        left = [p for p in set(left) if p != os.getpid()]
        if not left:
            break
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.3)
        for p in left:
            reap(p)
    # 4. Mounts (shm, netns) left behind under our directories.
    unmount_under([exec_root, st["data_root"]])
    try:
        os.unlink(sock)
    except OSError:
        pass


# --------------------------------------------------------------------------
# Busybox image
# --------------------------------------------------------------------------


def build_busybox_tar(run_dir, busybox="/bin/busybox"):
    """Make ``run_dir/bb.tar`` (a root fs: /bin/busybox + applet links)."""
    out = os.path.join(os.path.abspath(run_dir), "bb.tar")
    if os.path.exists(out):
        return out
    if not os.path.exists(busybox):
        busybox = shutil.which("busybox") or busybox
    os.makedirs(run_dir, exist_ok=True)
    root = tempfile.mkdtemp(prefix="bbroot-", dir=run_dir)
    try:
        for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "root", "var"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        os.chmod(os.path.join(root, "tmp"), 0o1777)
        shutil.copy2(busybox, os.path.join(root, "bin", "busybox"))
        for a in APPLETS:
            os.symlink("busybox", os.path.join(root, "bin", a))
        with open(os.path.join(root, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        with open(os.path.join(root, "etc", "group"), "w") as f:
            f.write("root:x:0:\nnogroup:x:65534:\n")
        tmp = out + ".tmp"
        with tarfile.open(tmp, "w") as tf:
            for entry in sorted(os.listdir(root)):
                tf.add(os.path.join(root, entry), arcname=entry)
        os.rename(tmp, out)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return out


def build_busybox_image(host, tar=None, tags=STRESS_TAGS):
    """``docker import`` the busybox tarball as bb:latest and add stress tags."""
    tar = tar or build_busybox_tar(host.run_dir)
    have = host.docker("images", "-q", IMAGE, check=False).stdout.strip()
    if not have:
        host.docker("import", "-c", 'CMD ["/bin/sh"]', "-c", "ENV PATH=/bin",
                    tar, IMAGE, timeout=120)
    for t in tags:
        host.docker("tag", IMAGE, t)
    return IMAGE


# --------------------------------------------------------------------------
# Containers in every state
# --------------------------------------------------------------------------

UNICODE_LABEL = 'caf\u00e9 \u2615 \u65e5\u672c\u8a9e "q" <b>&amp; back\\slash \U0001F433'
OOM_LOOP = 'x=0123456789abcdef; while :; do x="$x$x"; done'


def wait_for(host, name, state=None, health=None, pred=None, timeout=30.0, interval=0.2):
    """Poll inspect until State.Status == state / State.Health.Status == health /
    pred(inspect) is true.  Returns the last inspect; raises DockerError on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = host.inspect(name)
        if last is not None:
            s = last.get("State") or {}
            ok = True
            if state is not None and s.get("Status") != state:
                ok = False
            if health is not None and (s.get("Health") or {}).get("Status") != health:
                ok = False
            if pred is not None and not pred(last):
                ok = False
            if ok:
                return last
        if time.monotonic() >= deadline:
            s = (last or {}).get("State")
            raise DockerError("%s: wanted state=%s health=%s, have %s"
                              % (name, state, health, json.dumps(s)))
        time.sleep(interval)


def wait_restart_count(host, name, minimum, timeout=30.0):
    return wait_for(host, name, pred=lambda i: (i.get("RestartCount") or 0) >= minimum,
                    timeout=timeout)


def _settle_oom(host, name, f, left, attempts=3):
    """Wait for the OOM container to exit with State.OOMKilled.

    dockerd 20.10 can process the exit event before the OOM event, leaving
    OOMKilled false for good (seen here about once in a few dozen runs).  Retry
    with a fresh container; the facts always say what really happened.
    """
    f["oom_worked"] = False
    f["oom_attempts"] = 0
    for attempt in range(attempts):
        f["oom_attempts"] = attempt + 1
        try:
            wait_for(host, name, state="exited", timeout=left())
            info = wait_for(host, name, pred=lambda i: i["State"].get("OOMKilled"),
                            timeout=2.0)
        except DockerError:
            info = host.inspect(name) or {"State": {}}
        f["exit_code"] = info["State"].get("ExitCode")
        f["oom_killed"] = bool(info["State"].get("OOMKilled"))
        f["oom_worked"] = f["oom_killed"]
        if f["oom_worked"] or attempt + 1 == attempts:
            break
        log("%s: exited %s without OOMKilled; retrying" % (name, f["exit_code"]))
        host.docker("rm", "-f", name)
        host.docker("run", "-d", "--name", name, "--network", "none", "--label",
                    "e2e.prefix=" + f["labels"]["e2e.prefix"], "-m", "16m",
                    "--memory-swap", "16m", f["image"], "sh", "-c", OOM_LOOP)
        f["id"] = host.inspect(name)["Id"]
    if not f["oom_worked"]:
        log("OOM kill not observed for %s (memory cgroup?)" % name)


def memory_cgroup_missing():
    """Why this machine cannot OOM-kill a container with ``-m``: a reason
    naming the missing capability, or None when the memory cgroup controller
    is there (cgroup v1: /sys/fs/cgroup/memory; v2: "memory" in the root's
    cgroup.controllers)."""
    if os.path.exists("/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        return None
    try:
        with open("/sys/fs/cgroup/cgroup.controllers") as f:
            if "memory" in f.read().split():
                return None
    except OSError:
        pass
    return "no memory cgroup controller (neither /sys/fs/cgroup/memory nor " \
           "\"memory\" in /sys/fs/cgroup/cgroup.controllers)"


def podman_missing():
    """A reason naming what is missing for the Podman case, or None."""
    if not shutil.which("podman"):
        return "podman binary absent"
    return None


def recreate_oom_later(host, name, image=IMAGE):
    """(Re)create ``name``: runs until /tmp/go exists, then eats memory under
    a 16 MiB limit (an OOM kill between two polls of an inspected container)."""
    if host.inspect(name) is not None:
        host.docker("rm", "-f", name)
    host.docker("run", "-d", "--name", name, "--network", "none", "-m", "16m",
                "--memory-swap", "16m", image, "sh", "-c",
                "while [ ! -f /tmp/go ]; do sleep 0.2; done; " + OOM_LOOP)
    return wait_for(host, name, state="running")


def populate(host, prefix="e2e-", image=IMAGE, oom=True, wait=True, timeout=60.0):
    """Create containers in every state/health on ``host``.

    Returns {name: facts} where facts has: state, health (None/"healthy"/
    "unhealthy"/"starting"), exit_code, oom_killed, restart_count_min, image,
    labels, id, and for the OOM case ``oom_worked`` (bool).
    """
    build_busybox_image(host)
    p = prefix
    long_name = (p + "long-" + "abcdefghij" * 25)[:210]
    swarm_labels = {
        "com.docker.swarm.service.name": "stack1_web",
        "com.docker.swarm.task.name": "stack1_web.1.abcdefghijklmnopqrstuvwxy",
        "com.docker.stack.namespace": "stack1",
        "com.docker.compose.project": "proj1",
    }
    specs = [
        # name, docker-run args, command, facts
        (p + "running", [], ["sleep", "1000000"],
         {"state": "running", "health": None}),
        (p + "healthy", ["--health-cmd", "true", "--health-interval", "1s"],
         ["sleep", "1000000"], {"state": "running", "health": "healthy"}),
        (p + "unhealthy", ["--health-cmd", "false", "--health-retries", "1",
                           "--health-interval", "1s"],
         ["sleep", "1000000"], {"state": "running", "health": "unhealthy"}),
        (p + "starting", ["--health-cmd", "true", "--health-interval", "300s",
                          "--health-start-period", "300s"],
         ["sleep", "1000000"], {"state": "running", "health": "starting"}),
        (p + "paused", [], ["sleep", "1000000"], {"state": "paused", "health": None}),
        (p + "exited0", [], ["true"], {"state": "exited", "health": None, "exit_code": 0}),
        (p + "exited42", [], ["sh", "-c", "exit 42"],
         {"state": "exited", "health": None, "exit_code": 42}),
        (p + "restarting", ["--restart", "always"], ["sh", "-c", "exit 3"],
         {"state": "restarting", "health": None, "exit_code": 3, "restart_count_min": 2}),
        (long_name, [], ["sleep", "1000000"], {"state": "running", "health": None}),
        (p + "unicode", ["--label", "description=" + UNICODE_LABEL], ["sleep", "1000000"],
         {"state": "running", "health": None}),
        (p + "swarm", sum([["--label", "%s=%s" % kv] for kv in swarm_labels.items()], []),
         ["sleep", "1000000"], {"state": "running", "health": None}),
        (p + "stressimg", [], ["sleep", "1000000"],
         {"state": "running", "health": None, "image": STRESS_TAGS[0]}),
    ]
    if oom:
        specs.append((p + "oom", ["-m", "16m", "--memory-swap", "16m"], ["sh", "-c", OOM_LOOP],
                      {"state": "exited", "health": None, "exit_code": 137, "oom_killed": True}))
    facts = {}
    for name, args, cmd, f in specs:
        img = f.get("image", image)
        f = dict(f)
        f.setdefault("image", img)
        f.setdefault("exit_code", 0)
        f.setdefault("oom_killed", False)
        f.setdefault("restart_count_min", 0)
        # A restart-looping container is "restarting" during its back-off and
        # briefly "running" in between: accept both.
        f["states_ok"] = ["restarting", "running"] if f["state"] == "restarting" \
            else [f["state"]]
        labels = {"e2e.prefix": p}
        for i in range(0, len(args) - 1):
            if args[i] == "--label":
                k, _, v = args[i + 1].partition("=")
                labels[k] = v
        f["labels"] = labels
        host.docker("create", "--name", name, "--network", "none",
                    "--label", "e2e.prefix=" + p, *args, img, *cmd)
        f["id"] = host.inspect(name)["Id"]
        facts[name] = f
    # The "created" container is never started.
    host.docker("create", "--name", p + "created", "--network", "none",
                "--label", "e2e.prefix=" + p, image, "sleep", "1000000")
    facts[p + "created"] = {"state": "created", "health": None, "exit_code": 0,
                            "oom_killed": False, "restart_count_min": 0, "image": image,
                            "labels": {"e2e.prefix": p}, "states_ok": ["created"],
                            "id": host.inspect(p + "created")["Id"]}
    for name, _, _, _ in specs:
        host.docker("start", name)
    if not wait:
        return facts
    deadline = time.monotonic() + timeout

    def left():
        return max(1.0, deadline - time.monotonic())
    host_pause = p + "paused"
    wait_for(host, host_pause, state="running", timeout=left())
    host.docker("pause", host_pause)
    for name, f in facts.items():
        if name == p + "oom":
            _settle_oom(host, name, f, left)
            continue
        if f["state"] == "restarting":
            wait_restart_count(host, name, f["restart_count_min"], timeout=left())
            continue
        wait_for(host, name, state=f["state"], health=f["health"], timeout=left())
    return facts


# --------------------------------------------------------------------------
# Podman (optional)
# --------------------------------------------------------------------------


class Podman:
    """``podman system service`` on a private unix socket (optional).

    ``start()`` returns True when the Docker-compatible API answers; on
    failure ``self.reason`` says why and nothing is left running.
    """

    def __init__(self, run_dir, name="pm"):
        self.run_dir = os.path.abspath(run_dir)
        self.dir = os.path.join(self.run_dir, name)
        self.sdir, self.sdir_is_tmp = short_dir(self.run_dir, len(name) + 12)
        self.socket = os.path.join(self.sdir, name + ".sock")
        self.root = os.path.join(self.dir, "root")
        self.runroot = os.path.join(self.sdir, name + "-run")
        self.conf = os.path.join(self.dir, "containers.conf")
        self.storage_conf = os.path.join(self.dir, "storage.conf")
        self.log_file = os.path.join(self.dir, "podman.log")
        self.tmpdir = os.path.join(self.dir, "tmp")
        self.proc = None
        self.pid = 0
        self.reason = ""
        self._atexit = False

    @property
    def url(self):
        return "unix://" + self.socket

    def state(self):
        return {"pid": self.pid, "socket": self.socket, "root": self.root,
                "runroot": self.runroot, "dir": self.dir, "sdir": self.sdir,
                "sdir_is_tmp": self.sdir_is_tmp, "conf": self.conf,
                "storage_conf": self.storage_conf, "base": self.base(), "env": {
                    "CONTAINERS_CONF": self.conf,
                    "CONTAINERS_STORAGE_CONF": self.storage_conf, "TMPDIR": self.tmpdir}}

    def env(self):
        e = dict(os.environ, **NO_REGISTRY_ENV)
        e["CONTAINERS_CONF"] = self.conf
        e["CONTAINERS_STORAGE_CONF"] = self.storage_conf
        e["TMPDIR"] = self.tmpdir
        return e

    def base(self):
        return ["podman", "--root", self.root, "--runroot", self.runroot,
                "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
                "--runtime", "runc", "--events-backend", "file", "--tmpdir", self.tmpdir]

    def podman(self, *args, check=True, timeout=60):
        cmd = self.base() + [str(a) for a in args]
        try:
            cp = subprocess.run(cmd, env=self.env(), capture_output=True, text=True,
                                timeout=timeout, check=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            raise DockerError("timeout: %s" % " ".join(cmd)) from e
        if check and cp.returncode != 0:
            raise DockerError("%s -> %d: %s" % (" ".join(cmd), cp.returncode,
                                                cp.stderr.strip()[-500:]))
        return cp

    def start(self, timeout=60.0, register_atexit=True, detach=False):
        if not shutil.which("podman"):
            self.reason = "podman not installed"
            return False
        for d in (self.dir, self.root, self.runroot, self.tmpdir):
            os.makedirs(d, exist_ok=True)
        with open(self.conf, "w") as f:
            f.write('[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
                    'netns = "none"\n\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n'
                    'events_logger = "file"\nevents_logfile_path = "%s"\n'
                    'tmp_dir = "%s"\n'
                    % (os.path.join(self.dir, "events.log"), self.tmpdir))
        with open(self.storage_conf, "w") as f:
            f.write('[storage]\ndriver = "vfs"\nrunroot = "%s"\ngraphroot = "%s"\n'
                    % (self.runroot, self.root))
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        logf = open(self.log_file, "ab")
        try:
            self.proc = subprocess.Popen(
                self.base() + ["system", "service", "--time=0", self.url],
                env=self.env(), stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            logf.close()
        self.pid = self.proc.pid
        if register_atexit and not self._atexit:
            atexit.register(self.stop)
            self._atexit = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.reason = "podman service exited: " + self._log_tail()
                self.stop()
                return False
            try:
                st, _, body = unix_get(self.socket, "/_ping", timeout=2)
                if st == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            self.reason = "podman service not ready in %ss" % timeout
            self.stop()
            return False
        if detach:
            self.proc = None
        return True

    def _log_tail(self, n=15):
        try:
            with open(self.log_file, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return ""

    def import_image(self, tar=None):
        tar = tar or build_busybox_tar(self.run_dir)
        self.podman("import", "--change", 'CMD ["/bin/sh"]', tar, "localhost/bb:latest",
                    timeout=120)
        self.podman("tag", "localhost/bb:latest", "bb:latest")
        return "bb:latest"

    def stop(self):
        stop_podman_state(self.state(), proc=self.proc, base=self.base(), env=self.env())
        self.proc = None

    def __enter__(self):
        if not self.start():
            raise DockerError("podman unavailable: " + self.reason)
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def populate_podman(pm, prefix="e2e-pm-", image="bb:latest"):
    """A few containers under Podman: running, healthy/unhealthy/starting (Podman
    runs checks only on ``podman healthcheck run``: done once here), exited 42,
    created, paused.  Returns {name: facts} like populate()."""
    p = prefix
    specs = [
        (p + "running", [], ["sleep", "1000000"], "running", None, 0),
        (p + "healthy", ["--health-cmd", "true"], ["sleep", "1000000"], "running",
         "healthy", 0),
        (p + "unhealthy", ["--health-cmd", "false", "--health-retries", "1"],
         ["sleep", "1000000"], "running", "unhealthy", 0),
        (p + "starting", ["--health-cmd", "true", "--health-start-period", "300s",
                          "--health-interval", "300s"], ["sleep", "1000000"], "running",
         "starting", 0),
        (p + "exited42", [], ["sh", "-c", "exit 42"], "exited", None, 42),
        (p + "paused", [], ["sleep", "1000000"], "paused", None, 0),
    ]
    facts = {}
    for name, args, cmd, state, health, code in specs:
        pm.podman("run", "-d", "--name", name, "--network", "none", *args, image, *cmd)
        facts[name] = {"state": state, "health": health, "exit_code": code,
                       "oom_killed": False, "restart_count_min": 0, "image": image,
                       "labels": {}}
    pm.podman("create", "--name", p + "created", "--network", "none", image, "true")
    facts[p + "created"] = {"state": "created", "health": None, "exit_code": 0,
                            "oom_killed": False, "restart_count_min": 0, "image": image,
                            "labels": {}}
    for name in (p + "healthy", p + "unhealthy"):
        pm.podman("healthcheck", "run", name, check=False)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = pm.podman("inspect", "--format", "{{.State.Status}}", p + "exited42",
                        check=False).stdout.strip()
        if out == "exited":
            break
        time.sleep(0.2)
    pm.podman("pause", p + "paused")
    return facts


def stop_podman_state(st, proc=None, base=None, env=None):
    if base is not None and st.get("pid") and pid_alive(st["pid"]):
        try:
            subprocess.run(base + ["rm", "-af", "-t", "0"], env=env, capture_output=True,
                           timeout=60, check=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pass
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    elif st.get("pid") and "podman" in pid_cmdline(st["pid"]):
        terminate_pid(st["pid"], term_timeout=15)
    # conmon and container processes that belong to our root/runroot.
    for _ in range(3):
        left = pids_with_cmdline(st["runroot"]) + pids_with_cmdline(st["root"] + "/")
        left = [p for p in set(left) if p != os.getpid()]
        if not left:
            break
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.3)
    unmount_under([st["root"], st["runroot"]])
    try:
        os.unlink(st["socket"])
    except OSError:
        pass


# --------------------------------------------------------------------------
# Command line: up / down
# --------------------------------------------------------------------------


def _state_path(run_dir):
    return os.path.join(os.path.abspath(run_dir), "rig.json")


def cmd_up(args):
    run_dir = os.path.abspath(args.run_dir)
    os.makedirs(run_dir, exist_ok=True)
    if os.path.exists(_state_path(run_dir)):
        sys.exit("rig.json exists in %s: run 'down' first" % run_dir)
    state = {"hosts": [], "podman": None, "standin": None, "run_dir": run_dir}

    def save():
        with open(_state_path(run_dir), "w") as f:
            json.dump(state, f, indent=1)
    hosts = []
    try:
        tar = build_busybox_tar(run_dir)
        for i in range(args.hosts):
            h = DockerHost("h%d" % (i + 1), run_dir)
            h.start(register_atexit=False, detach=True)
            state["hosts"].append(h.state())
            save()
            hosts.append(h)
            build_busybox_image(h, tar)
            if args.populate:
                state["hosts"][-1]["containers"] = sorted(populate(h, "e2e-h%d-" % (i + 1)))
                save()
        if args.podman:
            pm = Podman(run_dir)
            ok = pm.start(register_atexit=False, detach=True)
            state["podman"] = dict(pm.state(), ok=ok, reason=pm.reason)
            save()
            if ok:
                try:
                    pm.import_image(tar)
                    if args.populate:
                        state["podman"]["containers"] = sorted(populate_podman(pm, "e2e-pm-"))
                except DockerError as e:
                    state["podman"]["reason"] = "failed: %s" % e
                save()
        if args.standin_port:
            sys.path.insert(0, HERE)
            import portainer_standin as ps
            cfg = ps.example_config([(h.name, h.socket) for h in hosts])
            cfg_path = os.path.join(run_dir, "standin.json")
            with open(cfg_path, "w") as f:
                json.dump(cfg, f, indent=1)
            logf = open(os.path.join(run_dir, "standin.log"), "ab")
            proc = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "portainer_standin.py"), "--listen",
                 "127.0.0.1:%d" % args.standin_port, "--config", cfg_path],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                start_new_session=True)
            logf.close()
            state["standin"] = {"pid": proc.pid, "port": args.standin_port,
                                "config": cfg_path}
            save()
    except BaseException:
        log("up failed; stopping what was started")
        cmd_down(args)
        raise
    json.dump(state, sys.stdout, indent=1)
    sys.stdout.write("\n")


def cmd_down(args):
    path = _state_path(args.run_dir)
    try:
        with open(path) as f:
            state = json.load(f)
    except (OSError, ValueError):
        log("nothing to stop (no %s)" % path)
        return
    si = state.get("standin")
    if si and si.get("pid") and "portainer_standin" in pid_cmdline(si["pid"]):
        terminate_pid(si["pid"], term_timeout=10)
    pm = state.get("podman")
    if pm:
        stop_podman_state(pm, base=pm.get("base"), env=dict(os.environ, **pm.get("env", {})))
        if pm.get("sdir_is_tmp"):
            shutil.rmtree(pm["sdir"], ignore_errors=True)
    for h in state.get("hosts", []):
        stop_docker_state(h)
        if h.get("sdir_is_tmp"):
            shutil.rmtree(h["sdir"], ignore_errors=True)
    os.unlink(path)
    if getattr(args, "clean", False):
        # Only what "up" created: daemon dirs, the image tarball, stand-in files.
        rd = os.path.abspath(args.run_dir)
        for h in state.get("hosts", []):
            shutil.rmtree(h["dir"], ignore_errors=True)
            shutil.rmtree(h["exec_root"], ignore_errors=True)
        if pm:
            shutil.rmtree(pm["dir"], ignore_errors=True)
            shutil.rmtree(pm["runroot"], ignore_errors=True)
        for f in ("bb.tar", "standin.json", "standin.log"):
            try:
                os.unlink(os.path.join(rd, f))
            except OSError:
                pass
    log("stopped")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start daemons and leave them running")
    up.add_argument("--run-dir", required=True)
    up.add_argument("--hosts", type=int, default=2)
    up.add_argument("--populate", action="store_true",
                    help="create containers in every state on each host")
    up.add_argument("--podman", action="store_true", help="also start podman's service")
    up.add_argument("--standin-port", type=int, default=0,
                    help="also start the Portainer stand-in on 127.0.0.1:PORT")
    down = sub.add_parser("down", help="stop what 'up' started")
    down.add_argument("--run-dir", required=True)
    down.add_argument("--clean", action="store_true",
                      help="also delete the daemons' data under the run dir")
    args = ap.parse_args(argv)
    if args.cmd == "up":
        cmd_up(args)
    else:
        cmd_down(args)


if __name__ == "__main__":
    main()
