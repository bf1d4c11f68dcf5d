#!/bin/bash
# tests/valgrind/asan_run.sh [seconds]: the real collectd with the plugin
# built by `configure --enable-sanitizers` (ASan + UBSan), polling every
# second (default 20 s) against a private dockerd and the Portainer
# stand-in while containers and environments come and go; then SIGTERM.
#
# collectd itself is not instrumented, so the sanitizer runtimes are
# preloaded (LD_PRELOAD libasan, libubsan).  LeakSanitizer runs when collectd
# exits; lsan.supp names collectd's own allocation sites only, never a
# plugin frame.  FAIL on any ASan or UBSan report, on a leak whose stack goes
# through the plugin, or if collectd dies.  Prints PASS or FAIL last.
#
# The run directory (logs, reports) is kept after a FAIL, and removed after
# a PASS unless VG_KEEP=1.
#
# The plugin is built into $ASAN_BUILD (default /tmp/asan-build).
set -u

dur=${1:-20}
case "$dur" in
'' | *[!0-9]*)
  echo "usage: $0 [seconds]" >&2
  exit 2
  ;;
esac

TOP=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$TOP/tests/valgrind"
BUILD=${ASAN_BUILD:-/tmp/asan-build}
RUN=$(mktemp -d /tmp/asan-run.XXXXXX)
TAG=asan
. "$HERE/common.sh"

trap vg_cleanup EXIT
trap 'exit 1' INT TERM

say "run directory $RUN"
say "building the plugin with --enable-sanitizers in $BUILD"
vg_build --enable-sanitizers || fail "build failed (see $RUN/build.log)"
grep -q -- '-fsanitize=address' "$BUILD/Makefile" ||
  fail "$BUILD was not configured with --enable-sanitizers"

libasan=$(gcc -print-file-name=libasan.so)
libubsan=$(gcc -print-file-name=libubsan.so)
[ -f "$libasan" ] && [ -f "$libubsan" ] || fail "gcc's libasan/libubsan not found"

say "starting dockerd and the Portainer stand-in"
vg_rig_up || fail "the rig did not start (see $RUN/rig.log)"
vg_static_containers

vg_write_conf "$RUN/collectd.conf"
mkdir -p "$RUN/collectd"
say "starting collectd with the sanitizer runtimes preloaded"
# Reports go to $RUN/asan.<pid>; full unwinding for exact leak stacks.
LD_PRELOAD="$libasan $libubsan" \
  ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0:malloc_context_size=40:log_path=$RUN/asan:abort_on_error=0:halt_on_error=1" \
  LSAN_OPTIONS="suppressions=$HERE/lsan.supp:print_suppressions=1:report_objects=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$RUN/ubsan" \
  collectd -f -C "$RUN/collectd.conf" >"$RUN/collectd.out" 2>&1 &
COLLECTD_PID=$!
vg_wait_started || fail "collectd did not start (see $RUN/collectd.log, $RUN/asan.*)"
# The runtimes are really in: an instrumented portainer.so would not even
# load without them, but check the process itself.
grep -q libasan "/proc/$COLLECTD_PID/maps" && grep -q libubsan "/proc/$COLLECTD_PID/maps" ||
  fail "collectd runs without the sanitizer runtimes"
grep -q "$BUILD/.libs/portainer.so" "/proc/$COLLECTD_PID/maps" ||
  fail "collectd did not load $BUILD/.libs/portainer.so"

say "churning containers for ${dur}s"
vg_churn $(($(date +%s) + dur)) &
CHURN_PID=$!
for _ in $(seq 1 $((dur + 120))); do
  kill -0 "$CHURN_PID" 2>/dev/null || break
  sleep 1
done
kill -TERM "$CHURN_PID" 2>/dev/null
wait "$CHURN_PID" 2>/dev/null
CHURN_PID=""
sleep 2

vg_report_values
alive=yes
kill -0 "$COLLECTD_PID" 2>/dev/null || alive=no

if [ $alive = yes ]; then
  say "stopping collectd (SIGTERM)"
  vg_stop_collectd 60 || fail "collectd did not exit after SIGTERM"
  say "collectd exited with status $COLLECTD_RC"
else
  wait "$COLLECTD_PID" 2>/dev/null
  COLLECTD_RC=$?
  COLLECTD_PID=""
fi

python3 - "$RUN" "$TOP/src" <<'EOF'
import glob, re, sys
run, src = sys.argv[1], sys.argv[2].rstrip("/") + "/"
reports = sorted(glob.glob(run + "/asan.*") + glob.glob(run + "/ubsan.*"))
bad = 0
for path in reports:
    text = open(path, errors="replace").read()
    # Leak reports: one block per "Direct leak"/"Indirect leak".
    blocks = re.split(r"\n(?=(?:Direct|Indirect) leak of )", text)
    for b in blocks:
        if re.match(r"(Direct|Indirect) leak of ", b):
            if "portainer.so" in b or src in b:
                print("LEAK through the plugin (%s):\n%s" % (path, b[:3000]))
                bad += 1
            else:
                first = b.splitlines()[0]
                print("leak outside the plugin (not failing): %s" % first)
    for m in re.finditer(r"ERROR: AddressSanitizer.*|runtime error:.*", text):
        print("SANITIZER REPORT (%s): %s" % (path, m.group(0)))
        print(text[m.start():m.start() + 4000])
        bad += 1
    sup = re.search(r"Suppressions used:[\s\S]*?(?=\n\n|\Z)", text)
    if sup:
        print(sup.group(0))
print("sanitizer report files: %d, problems: %d" % (len(reports), bad))
sys.exit(1 if bad else 0)
EOF
check=$?
[ $alive = yes ] || fail "collectd died during the run (status $COLLECTD_RC; see $RUN/asan.*)"
[ "${VG_CONTAINER_SERIES:-0}" -gt 0 ] ||
  fail "no container series reached collectd (the plugin did not poll?)"
[ $check -eq 0 ] || fail "sanitizers found problems (see $RUN/asan.*)"
case "$COLLECTD_RC" in
0) ;;
*) fail "collectd exited with status $COLLECTD_RC (23: leaks; see $RUN/asan.*)" ;;
esac
vg_pass_cleanup
echo "asan: PASS: ${dur}s of polls under churn, no ASan/UBSan report, no plugin leak"
