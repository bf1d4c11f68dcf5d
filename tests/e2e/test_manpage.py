#!/usr/bin/env python3
"""The man page collectd-portainer(5): its POD is clean, it renders with
man(1) without a warning, and it documents every option the configuration
accepts, every value of Collect, Notify and TypeInstance, every type with its
Prometheus name and every error kind.  The names are taken from the sources
(src/config.c, src/portainer.c, src/fault.c, src/portainer.types.db), so an
option added without documentation fails here.

    python3 tests/e2e/test_manpage.py --build-dir build/dev

Ends with "N passed, N failed".
"""

import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from harness import check, summary  # noqa: E402


def read(rel):
    with open(os.path.join(TOP, rel), encoding="utf-8") as f:
        return f.read()


def table(source, name):
    """The quoted names of a C table such as collect_names[] = {{"a", X}, ...}."""
    m = re.search(r"\b%s\[[^\]]*\]\s*=\s*\{(.*?)\};" % name, source, re.S)
    return re.findall(r'"([^"]+)"', m.group(1)) if m else []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    args = ap.parse_args()
    page = os.path.join(args.build_dir, "doc", "collectd-portainer.5")
    pod = os.path.join(TOP, "doc", "collectd-portainer.5.pod")
    if not os.path.exists(page):
        sys.exit("no %s: build first" % page)

    cp = subprocess.run(["podchecker", "-warnings", "-warnings", pod],
                        capture_output=True, text=True, timeout=60)
    problems = [l for l in cp.stderr.splitlines() if "pod syntax OK" not in l]
    check("podchecker: no error or warning", cp.returncode == 0 and not problems,
          "\n".join(problems[:10]))

    env = dict(os.environ, MANWIDTH="80", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    env.pop("MAN_KEEP_FORMATTING", None)
    cp = subprocess.run(["man", "--warnings=all", "-l", page], capture_output=True,
                        text=True, timeout=60, env=env)
    text = cp.stdout
    check("man -l renders it without a warning", cp.returncode == 0 and not cp.stderr
          and "COLLECTD-PORTAINER(5)" in text,
          "exit %d, stderr %r" % (cp.returncode, cp.stderr[:500]))

    def item(regex):
        return re.search(regex, text, re.M) is not None

    config_c = read("src/config.c")
    options = sorted(set(re.findall(r'strcasecmp\("([A-Za-z]+)", o->key\)', config_c)))
    check("options found in src/config.c", len(options) >= 20, repr(options))
    missing = [o for o in options if not item(r"^ {7}%s( |$)" % re.escape(o))]
    check("every option of src/config.c has its item (%d)" % len(options), not missing,
          "undocumented: %s" % ", ".join(missing))

    blocks = re.findall(r'strcasecmp\("([A-Za-z]+)", child->key\)', read("src/portainer.c"))
    missing = [b for b in blocks if not item(r"^ {7}<%s Name>" % re.escape(b))]
    check("every block of src/portainer.c has its item (%s)" % ", ".join(blocks),
          blocks and not missing, "undocumented: %s" % ", ".join(missing))

    signals = table(config_c, "collect_names")
    missing = [s for s in signals
               if not item(r"^ {7}%s - collectd_container_%s$" % (s, s))]
    check("every Collect signal with its Prometheus name (%d)" % len(signals),
          signals and not missing, "undocumented: %s" % ", ".join(missing))

    kinds = table(config_c, "notify_names")
    # (man puts a short item's text on the item's own line: "oom a ...")
    missing = [k for k in kinds if not item(r"^ {11}%s( |$)" % re.escape(k))]
    check("every Notify kind (%d)" % len(kinds), kinds and not missing,
          "undocumented: %s" % ", ".join(missing))

    ti = re.findall(r'strn?casecmp\(v, "([a-z:]+)"', config_c)
    missing = [v for v in ti if v not in text]
    check("every TypeInstance value (%s)" % ", ".join(ti), ti and not missing,
          "undocumented: %s" % ", ".join(missing))

    types = [l.split()[0] for l in read("src/portainer.types.db").splitlines()
             if l.strip() and not l.startswith("#")]
    own = [t for t in types if t not in signals]
    missing = [t for t in own if not item(r"^ {7}%s - collectd_portainer_%s" % (t, t))]
    check("every self type with its Prometheus name (%d)" % len(own),
          own and not missing, "undocumented: %s" % ", ".join(missing))

    errors = table(read("src/fault.c"), "err_kind_names")
    missing = [e for e in errors if not re.search(r"\b%s\b" % e, text)]
    check("every api_errors kind (%d)" % len(errors), errors and not missing,
          "undocumented: %s" % ", ".join(missing))
    return summary()


if __name__ == "__main__":
    sys.exit(main())
