#!/usr/bin/env python3
"""The Debian package: built with dpkg-buildpackage in a copy of the tree,
installed with dpkg -i, then the real collectd loads the plugin from the
installed files alone (collectd's plugin directory, the packaged types file)
and reports a real dockerd's container; finally dpkg --purge.  The machine is
left as it was found: files at the package's paths that no package owned
(a "make install", say) are put back after the purge.

    python3 tests/e2e/test_package.py [--out-dir DIR] [--keep-deb DIR]

Needs root (dpkg -i).  Ends with "N passed, N failed".  Stops every process
it starts, by PID.  Unix sockets and loopback only.
"""

import argparse
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
from harness import (Collectd, Metrics, check, docker_source_conf,  # noqa: E402
                     eventually, free_port, run_and_stop, summary)

PACKAGE = "collectd-portainer"
WANT_FILES = [
    "/usr/lib/collectd/portainer.so",
    "/usr/share/collectd/portainer.types.db",
    "/usr/share/man/man5/collectd-portainer.5.gz",
    "/usr/share/doc/collectd-portainer/collectd.conf.example",
    "/usr/share/doc/collectd-portainer/README.md.gz",
    "/usr/share/doc/collectd-portainer/copyright",
]


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 600)
    return subprocess.run(cmd, check=False, **kw)


def dpkg(*args):
    """dpkg, waiting (bounded) while another dpkg or apt holds its lock (other
    work on this machine may be installing packages)."""
    deadline = time.monotonic() + 300
    while True:
        cp = run(["dpkg"] + list(args))
        if cp.returncode == 0 or "lock" not in cp.stderr or \
                time.monotonic() >= deadline:
            return cp
        time.sleep(2)


def installed():
    cp = run(["dpkg-query", "-W", "-f=${Status}", PACKAGE])
    return "install ok installed" in cp.stdout


def copy_tree(dst):
    """The source tree as git sees it (tracked and new files, not ignored
    ones: no build directories, no generated autotools files)."""
    cp = run(["git", "-C", TOP, "ls-files", "-co", "--exclude-standard", "-z"])
    if cp.returncode == 0 and cp.stdout:
        names = [n for n in cp.stdout.split("\0") if n]
    else:  # not a git checkout: every file but build and run output
        names = []
        for root, dirs, files in os.walk(TOP):
            dirs[:] = [d for d in dirs if d not in (".git", "build", "run",
                                                    "autom4te.cache")]
            names += [os.path.relpath(os.path.join(root, f), TOP) for f in files]
    for n in names:
        src = os.path.join(TOP, n)
        if not os.path.isfile(src):
            continue  # deleted in the work tree
        os.makedirs(os.path.dirname(os.path.join(dst, n)), exist_ok=True)
        shutil.copy2(src, os.path.join(dst, n))
    return len(names)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=None, help="build here (default: a temporary "
                    "directory, removed afterwards)")
    ap.add_argument("--keep-deb", default=None,
                    help="copy the built .deb into this directory")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (dpkg -i)")
    if installed():
        check("%s not installed before the test" % PACKAGE, False,
              "it is: not touching an installation this test did not make")
        return summary()
    work = args.out_dir or tempfile.mkdtemp(prefix="pt-deb-")
    os.makedirs(work, exist_ok=True)
    started = []
    saved = {}

    def cleanup():
        if installed():
            dpkg("--purge", PACKAGE)
        for path, copy in saved.items():  # what was there before, back
            os.makedirs(os.path.dirname(path), exist_ok=True)
            shutil.copy2(copy, path)
        if args.out_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    took = run_and_stop(lambda: run_suite(args, work, started, saved), started, cleanup)
    check("package purged, files found here before put back",
          not installed() and all(os.path.exists(p) for p in saved),
          "still installed" if installed() else "")
    print("package suite took %.0f s" % took)
    return summary()


def run_suite(args, work, started, saved):
    # --- build in a copy of the tree ------------------------------------------
    src = os.path.join(work, "src")
    n = copy_tree(src)
    check("tree copied (%d files)" % n, os.path.isfile(os.path.join(src, "debian",
                                                                     "control")))
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck")  # unit tests run elsewhere
    cp = run(["dpkg-buildpackage", "-us", "-uc", "-b", "-Pnocheck"], cwd=src, env=env,
             timeout=1200)
    with open(os.path.join(work, "build.log"), "w") as f:
        f.write(cp.stdout + cp.stderr)
    debs = [f for f in os.listdir(work) if f.startswith(PACKAGE + "_")
            and f.endswith(".deb")]
    if not check("dpkg-buildpackage -us -uc -b builds the .deb", cp.returncode == 0
                 and len(debs) == 1, "exit %d, %r; log: %s" % (
                     cp.returncode, debs, (cp.stdout + cp.stderr)[-1500:])):
        return
    deb = os.path.join(work, debs[0])
    if args.keep_deb:
        os.makedirs(args.keep_deb, exist_ok=True)
        shutil.copy2(deb, args.keep_deb)

    # --- what it holds and needs -------------------------------------------------
    listing = run(["dpkg-deb", "-c", deb]).stdout
    paths = ["/" + l.split()[-1].lstrip("./") for l in listing.splitlines()
             if not l.startswith("d")]
    missing = [p for p in WANT_FILES if p not in paths]
    check("the .deb holds plugin, types, man page, example and docs", not missing,
          "missing %r" % missing)
    check("no libtool .la in the package", not [p for p in paths if p.endswith(".la")])
    depends = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
    check("depends on collectd-core, libcurl and yajl (shlibs)",
          "collectd-core" in depends and "libcurl" in depends and "libyajl" in depends,
          depends.strip())

    # --- install, keeping what no package owned ------------------------------------
    for p in paths:
        if os.path.isfile(p) and run(["dpkg", "-S", p]).returncode != 0:
            keep = os.path.join(work, "saved" + p)
            os.makedirs(os.path.dirname(keep), exist_ok=True)
            shutil.copy2(p, keep)
            saved[p] = keep
    cp = dpkg("-i", deb)
    if not check("dpkg -i installs it", cp.returncode == 0 and installed(),
                 (cp.stdout + cp.stderr)[-1500:]):
        return
    cp = run(["man", "-w", "collectd-portainer"])
    check("man collectd-portainer finds the page",
          cp.stdout.strip() == "/usr/share/man/man5/collectd-portainer.5.gz",
          cp.stdout + cp.stderr)

    # --- collectd from the installed files ---------------------------------------------
    h = rig.DockerHost("p1", work)
    h.start()
    started.append(h)
    rig.build_busybox_image(h)
    h.docker("run", "--pull", "never", "-d", "--name", "pkg-exited42", "--network", "none", rig.IMAGE,
             "sh", "-c", "exit 42")
    rig.wait_for(h, "pkg-exited42", state="exited")
    port = free_port()
    cd = Collectd(work, "pkg", None, docker_source_conf("d", h.socket, "pkghost"),
                  port, installed=True)
    with open(cd.conf) as f:
        conf = f.read()
    check("collectd.conf: the packaged types file, collectd's plugin directory only",
          '"/usr/share/collectd/portainer.types.db"' in conf and
          conf.count("PluginDir") == 1 and 'PluginDir "/usr/lib/collectd"' in conf)
    cd.start()
    started.append(cd)
    eventually("LoadPlugin portainer (installed): the container's exit code is scraped",
               lambda: (Metrics(port).get("collectd_container_exit_code",
                                          container="pkg-exited42", type="bb:latest",
                                          instance="pkghost") == 42, ""))
    check("collectd running with the packaged plugin", cd.alive())
    cd.stop()
    h.stop()

    # --- purge ---------------------------------------------------------------------------
    cp = dpkg("--purge", PACKAGE)
    check("dpkg --purge removes it", cp.returncode == 0 and not installed(),
          (cp.stdout + cp.stderr)[-800:])
    left = [p for p in paths if os.path.exists(p) and p not in saved
            and not os.path.isdir(p)]
    check("no file of the package left", not left, repr(left))


if __name__ == "__main__":
    sys.exit(main())
