#!/usr/bin/env python3
"""Reads a valgrind memcheck log of collectd running the plugin and decides.

    check_vg_log.py LOG SRC_DIR

FAIL when
  - valgrind did not finish (no ERROR SUMMARY) or the process died of a signal;
  - any memory error (invalid read/write/free, uninitialised value, mismatched
    free, overlap, bad syscall argument), wherever it is: collectd's own would
    have to be suppressed by name in collectd.supp;
  - a definitely or indirectly lost block whose stack goes through the plugin
    (a frame in portainer.so or in SRC_DIR).
Leaks whose stacks do not touch the plugin are listed but do not fail.
Descriptors the plugin left open at exit (--track-fds) are listed as warnings.
Python 3 standard library only.
"""
import re
import sys

ERROR_HEADS = (
    "Invalid read", "Invalid write", "Invalid free", "Mismatched free",
    "Conditional jump or move depends on uninitialised",
    "Use of uninitialised value", "Syscall param", "Source and destination overlap",
    "Argument 'size' of function", "Invalid alignment",
)
LEAK_RE = re.compile(r"bytes in [\d,]+ blocks are (definitely|indirectly) lost")


def records(lines):
    """Groups '==PID== text' lines into records separated by blank ones."""
    rec = []
    for line in lines:
        m = re.match(r"^==\d+== ?(.*)$", line.rstrip("\n"))
        if not m:
            continue
        text = m.group(1)
        if text.strip() == "":
            if rec:
                yield rec
            rec = []
        else:
            rec.append(text)
    if rec:
        yield rec


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, src = sys.argv[1], sys.argv[2].rstrip("/") + "/"
    with open(path, errors="replace") as fh:
        lines = fh.readlines()

    def ours(rec):
        return any("portainer.so" in l or src in l for l in rec)

    errors, plugin_leaks, other_leaks, fds = [], [], [], []
    summary = None
    fatal = None
    for rec in records(lines):
        head = rec[0]
        for line in rec:
            if line.startswith("ERROR SUMMARY:"):
                summary = line
            if line.startswith("Process terminating with default action"):
                fatal = rec
        if any(head.startswith(h) for h in ERROR_HEADS):
            errors.append(rec)
        elif LEAK_RE.search(head):
            (plugin_leaks if ours(rec) else other_leaks).append(rec)
        elif head.startswith("Open ") and ours(rec):
            fds.append(rec)

    def show(title, recs, limit=5):
        print("%s: %d" % (title, len(recs)))
        for rec in recs[:limit]:
            print("  " + "\n  ".join(rec[:25]))
            print("  --")

    ok = True
    if summary is None:
        print("valgrind did not finish (no ERROR SUMMARY in %s)" % path)
        ok = False
    else:
        print(summary)
    if fatal:
        show("process killed by a signal", [fatal])
        ok = False
    if errors:
        show("memory errors", errors)
        ok = False
    if plugin_leaks:
        show("definite/indirect leaks through the plugin", plugin_leaks)
        ok = False
    if other_leaks:
        show("definite/indirect leaks outside the plugin (not failing)", other_leaks, 3)
    if fds:
        show("WARNING: descriptors opened by the plugin still open at exit", fds, 3)
    m = re.search(r"definitely lost: ([\d,]+) bytes", "".join(lines))
    if m:
        print("definitely lost (whole process): %s bytes" % m.group(1))
    m = re.search(r"total heap usage: ([\d,]+) allocs, ([\d,]+) frees", "".join(lines))
    if m:
        print("heap: %s allocs, %s frees" % (m.group(1), m.group(2)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
