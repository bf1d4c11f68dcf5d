#!/usr/bin/env python3
"""The README's two commands, as a new user on a fresh Debian 12 types them:
as root, where there is no sudo.  Every command of the README's "The two
commands" block must be runnable here as written (its first word a file of
the tree that can be executed, or a program on PATH), none may lean on sudo,
and the scripts' own messages must name a command that works: as root the
plain one, through sudo the sudo one, and as another user a refusal that
says both.

    python3 tests/e2e/test_scripts.py

Runs "scripts/demo.sh stop" (which stops nothing that is not running) and
the scripts' root check as user nobody; nothing else.  Ends with
"N passed, N failed".
"""

import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from harness import check, summary  # noqa: E402


def two_commands():
    """The commands of the README's "The two commands" code block."""
    with open(os.path.join(TOP, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## The two commands\n(.*?)^## ", text, re.S | re.M)
    block = re.search(r"```sh\n(.*?)```", m.group(1), re.S) if m else None
    if block is None:
        return []
    cmds = []
    for line in block.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            cmds.append(line)
    return cmds


def runnable(word):
    path = os.path.join(TOP, word)
    if "/" in word:
        return os.path.isfile(path) and os.access(path, os.X_OK)
    return shutil.which(word) is not None


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=TOP,
                          check=False, **kw)


def main():
    cmds = two_commands()
    check("README: the two commands found", len(cmds) >= 2, repr(cmds))
    for c in cmds:
        first = c.split()[0]
        check("README: '%s' runs as written here (as root, sudo %s)" % (
            c, "installed" if shutil.which("sudo") else "not installed"),
            runnable(first), "%r is not an executable file of the tree nor a "
            "program on PATH" % first)
        check("README: '%s' does not need sudo" % c, first != "sudo")

    env = {k: v for k, v in os.environ.items() if k not in ("SUDO_USER", "SUDO_UID",
                                                            "SUDO_GID", "SUDO_COMMAND")}
    if os.geteuid() == 0:
        cp = run(["scripts/demo.sh", "stop"], env=env)
        check("as root: scripts/demo.sh stop works as written", cp.returncode == 0 and
              "demo stopped" in cp.stdout, cp.stdout + cp.stderr)

    def as_invoked(sudo_user):
        e = dict(env)
        if sudo_user:
            e["SUDO_USER"] = sudo_user
        cp = run(["bash", "-c", '. scripts/common.sh; as_invoked scripts/demo.sh stop'],
                 env=e)
        return cp.stdout.strip()
    check("the demo's closing hint, as root: 'scripts/demo.sh stop'",
          as_invoked(None) == "scripts/demo.sh stop", as_invoked(None))
    check("... through sudo: 'sudo scripts/demo.sh stop'",
          as_invoked("alice") == "sudo scripts/demo.sh stop", as_invoked("alice"))

    if os.geteuid() == 0 and shutil.which("setpriv"):
        for script in ("scripts/test.sh", "scripts/demo.sh"):
            cp = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                      "bash", script], env=env)
            check("as another user, %s refuses, naming both ways to run it" % script,
                  cp.returncode == 1 and "run it as root (%s)" % script in cp.stderr
                  and "(sudo %s)" % script in cp.stderr, cp.stdout + cp.stderr)

    with open(os.path.join(TOP, "scripts", "common.sh")) as f:
        common = f.read()
    calls = [l for l in common.splitlines() + open(os.path.join(
        TOP, "scripts", "test.sh")).read().splitlines() + open(os.path.join(
            TOP, "scripts", "demo.sh")).read().splitlines()
        if re.match(r"^\s*sudo\s", l)]
    check("the scripts never call sudo themselves", not calls, repr(calls))
    return summary()


if __name__ == "__main__":
    sys.exit(main())
