#!/usr/bin/env python3
"""contrib/docker: the container image built and run for real.

No registry is reachable here, so the base image is made from Debian's own
packages: debootstrap (minbase, plus collectd-core and the plugin's runtime
libraries) into a directory, imported into a private dockerd of the rig as
the Dockerfile's BASE.  The image is built from contrib/docker with the
Debian package (test_package.py --keep-deb) and no network, then run with the
daemon's socket mounted, as the seeds' users run their exporters; its
write_prometheus (on the host's loopback) is scraped, and a container stopped
meanwhile shows as a notification on the container's stdout.

    python3 tests/e2e/test_docker_image.py --deb DIR_OR_FILE [--base-tar FILE]

The base comes from Debian's package archive, so it is made in the set-up
step of scripts/test.sh (with apt's other downloads), not by the test:

    python3 tests/e2e/test_docker_image.py --make-base FILE   # set-up: debootstrap
    python3 tests/e2e/test_docker_image.py --deb DIR --base-tar FILE

The test itself sends nothing off this machine; without the base tarball it
fails, naming what is missing.  Needs root.  Ends with "N passed, N failed[, N skipped]".  Stops
every process it starts, by PID.
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import rig  # noqa: E402
from harness import (check, eventually, free_port, run_and_stop,  # noqa: E402
                     scrape, summary)

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
BASE_PKGS = "collectd-core,libmicrohttpd12,libprotobuf-c1,libcurl4,libyajl2"
BASE_TAG = "pt-base:bookworm"
IMAGE = "collectd-portainer:test"


def run(cmd, timeout=600, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          check=False, **kw)


def make_base(work, keep):
    """A Debian 12 root file system as a tarball; None (and why) on failure."""
    root = os.path.join(work, "rootfs")
    t0 = time.monotonic()
    cp = run(["debootstrap", "--variant=minbase", "--include=" + BASE_PKGS, SUITE, root,
              MIRROR], timeout=1200)
    if cp.returncode != 0:
        return None, "debootstrap failed: %s" % (cp.stdout + cp.stderr)[-600:]
    # As Debian's slim images: no package cache, no lists.
    for d in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for f in glob.glob(os.path.join(root, d, "*")):
            if os.path.isfile(f):
                os.unlink(f)
    tar = keep or os.path.join(work, "base.tar")
    part = tar + ".part"  # never a half-written tarball at tar's path
    cp = run(["tar", "-C", root, "-cf", part, "."], timeout=600)
    shutil.rmtree(root, ignore_errors=True)
    if cp.returncode != 0:
        if os.path.exists(part):
            os.unlink(part)
        return None, "tar failed: %s" % cp.stderr[-300:]
    os.rename(part, tar)
    print("base root file system: %.0f s, %.0f MB" % (
        time.monotonic() - t0, os.path.getsize(tar) / 1e6), flush=True)
    return tar, ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deb", help="the .deb, or a directory holding it")
    ap.add_argument("--base-tar", default=None)
    ap.add_argument("--make-base", metavar="FILE", default=None,
                    help="set-up only: debootstrap the base into FILE (a tarball) and exit")
    ap.add_argument("--run-dir", default=None)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root")
    if args.make_base:
        if os.path.isfile(args.make_base):
            return 0
        work = tempfile.mkdtemp(prefix="pt-base-")
        try:
            tar, why = make_base(work, args.make_base)
        finally:
            shutil.rmtree(work, ignore_errors=True)  # the tarball is elsewhere
        if tar is None:
            print(why, file=sys.stderr)
            return 1
        return 0
    if not args.deb:
        sys.exit("--deb is required")
    deb = args.deb
    if os.path.isdir(deb):
        found = sorted(glob.glob(os.path.join(deb, "collectd-portainer_*.deb")))
        deb = found[-1] if found else ""
    if not os.path.isfile(deb):
        check("the Debian package to put in the image", False, "none at %s" % args.deb)
        return summary()
    work = args.run_dir or tempfile.mkdtemp(prefix="pt-img-")
    os.makedirs(work, exist_ok=True)
    started = []
    took = run_and_stop(lambda: run_suite(args, deb, work, started), started,
                        lambda: args.run_dir is None and shutil.rmtree(
                            work, ignore_errors=True))
    print("image suite took %.0f s" % took)
    return summary()


def run_suite(args, deb, work, started):
    tar = args.base_tar
    if not check("the image's Debian base (made by the set-up step)",
                 tar is not None and os.path.isfile(tar),
                 "no base tarball %r: scripts/test.sh makes it with debootstrap from "
                 "Debian's package archive before the tests" % tar):
        return
    h = rig.DockerHost("i1", work)
    h.start()
    started.append(h)
    h.docker("import", tar, BASE_TAG, timeout=600)
    rig.build_busybox_image(h)

    # --- build: contrib/docker + the package, no network -------------------------
    ctx = os.path.join(work, "ctx")
    os.makedirs(ctx)
    for f in ("Dockerfile", "entrypoint.sh"):
        shutil.copy2(os.path.join(TOP, "contrib", "docker", f), ctx)
    shutil.copy2(deb, ctx)
    # FROM must find the base here: a missing image would be pulled.
    if not check("base image imported", h.docker("image", "inspect", BASE_TAG,
                                                 check=False).returncode == 0):
        return
    env = dict(h.env(), DOCKER_BUILDKIT="0")
    cp = run(["docker", "-H", h.url, "build", "--network", "none", "--build-arg",
              "BASE=" + BASE_TAG, "-t", IMAGE, ctx], timeout=900, env=env)
    if not check("docker build contrib/docker (BASE from Debian's packages, no network)",
                 cp.returncode == 0, (cp.stdout + cp.stderr)[-1500:]):
        return

    # --- run it as the seeds' users do: the daemon's socket mounted ---------------------
    h.docker("run", "--pull", "never", "-d", "--name", "img-exited42", "--network", "none", rig.IMAGE,
             "sh", "-c", "exit 42")
    h.docker("run", "--pull", "never", "-d", "--name", "img-running", "--network", "none", rig.IMAGE,
             "sleep", "1000000")
    rig.wait_for(h, "img-exited42", state="exited")
    # The host's network, write_prometheus on its loopback only.  (In a
    # network namespace with nothing but a loopback, write_prometheus cannot
    # listen at all: it resolves its address with AI_ADDRCONFIG.)
    port = free_port()
    h.docker("run", "--pull", "never", "-d", "--name", "img-collectd", "--network", "host",
             "-v", "%s:/var/run/docker.sock:ro" % h.socket,
             "-e", "HOST_NAME=imghost", "-e", "INTERVAL=2", "-e", "NOTIFY=true",
             "-e", "LISTEN_ADDRESS=127.0.0.1", "-e", "LISTEN_PORT=%d" % port, IMAGE)

    def metrics():
        try:
            return scrape(port)
        except OSError:
            return {}

    def value(name, container):
        return metrics().get((name, tuple(sorted({"container": container,
                                                  "type": "bb:latest",
                                                  "instance": "imghost"}.items()))))
    eventually("the image's collectd serves the plugin's values (exit code 42)",
               lambda: (value("collectd_container_exit_code", "img-exited42") == 42,
                        "logs: %s" % h.docker("logs", "img-collectd",
                                              check=False).stdout[-800:]), timeout=60)
    eventually("... and a running container's state",
               lambda: (value("collectd_container_state", "img-running") == 1, ""))
    time.sleep(4)
    h.docker("kill", "img-running")

    def notified():
        out = h.docker("logs", "img-collectd", check=False)
        text = out.stdout + out.stderr
        return ("Notification: severity = FAILURE, host = imghost, plugin = container, "
                "plugin_instance = img-running, type = exit_code" in text, text[-600:])
    eventually("NOTIFY=true: a stopped container is a notification on stdout", notified,
               timeout=40)
    logs = h.docker("logs", "img-collectd", check=False)
    text = logs.stdout + logs.stderr
    check("no failure in the container's log",
          "not started" not in text and "failed" not in text, text[-800:])
    h.docker("rm", "-f", "img-collectd")


if __name__ == "__main__":
    sys.exit(main())
