#!/bin/bash
# tests/valgrind/run.sh [seconds]: the real collectd with the plugin under
# valgrind memcheck, polling every second (default 45 s) against a private
# dockerd and the Portainer stand-in while containers and environments come
# and go; then SIGTERM, and the valgrind report is checked:
#   - no definite or indirect leak whose stack goes through the plugin;
#   - no invalid read/write/free, no use of uninitialised memory, anywhere.
# collectd.supp silences collectd's and the libraries' own noise only (by
# their function names, never a plugin frame).  Prints PASS or FAIL last.
#
# The run directory (logs, reports) is kept after a FAIL, and removed after
# a PASS unless VG_KEEP=1.
#
# The plugin is built without sanitizers into $VG_BUILD (default
# /tmp/vg-build).  Needs valgrind, collectd-core, collectd-utils, docker.io.
set -u

dur=${1:-45}
case "$dur" in
'' | *[!0-9]*)
  echo "usage: $0 [seconds]" >&2
  exit 2
  ;;
esac

TOP=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$TOP/tests/valgrind"
BUILD=${VG_BUILD:-/tmp/vg-build}
RUN=$(mktemp -d /tmp/vg-run.XXXXXX)
TAG=valgrind
. "$HERE/common.sh"

trap vg_cleanup EXIT
trap 'exit 1' INT TERM

say "run directory $RUN"
say "building the plugin (no sanitizers) in $BUILD"
vg_build || fail "build failed (see $RUN/build.log)"

say "starting dockerd and the Portainer stand-in"
vg_rig_up || fail "the rig did not start (see $RUN/rig.log)"
vg_static_containers

vg_write_conf "$RUN/collectd.conf"
mkdir -p "$RUN/collectd"
say "starting collectd under valgrind"
valgrind --tool=memcheck --leak-check=full \
  --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
  --track-fds=yes --num-callers=40 --fullpath-after= \
  --suppressions="$HERE/collectd.supp" --log-file="$RUN/valgrind.log" \
  collectd -f -C "$RUN/collectd.conf" >"$RUN/collectd.out" 2>&1 &
COLLECTD_PID=$!
vg_wait_started || fail "collectd did not start (see $RUN/collectd.log, $RUN/valgrind.log)"

say "churning containers for ${dur}s"
vg_churn $(($(date +%s) + dur)) &
CHURN_PID=$!
# Bounded: the churn loop stops at its deadline or after 400 rounds.
for _ in $(seq 1 $((dur + 120))); do
  kill -0 "$CHURN_PID" 2>/dev/null || break
  sleep 1
done
kill -TERM "$CHURN_PID" 2>/dev/null
wait "$CHURN_PID" 2>/dev/null
CHURN_PID=""
sleep 2 # one more poll after the churn

vg_report_values
kill -0 "$COLLECTD_PID" 2>/dev/null || fail "collectd died during the run"

say "stopping collectd (SIGTERM)"
vg_stop_collectd 90 || fail "collectd did not exit after SIGTERM"
say "collectd exited with status $COLLECTD_RC (99: valgrind found errors)"
say "plugin log lines: $(grep -c 'portainer plugin' "$RUN/collectd.log")"

python3 "$HERE/check_vg_log.py" "$RUN/valgrind.log" "$TOP/src"
check=$?
[ "${VG_CONTAINER_SERIES:-0}" -gt 0 ] ||
  fail "no container series reached collectd (the plugin did not poll?)"
[ $check -eq 0 ] || fail "valgrind found problems (see $RUN/valgrind.log)"
case "$COLLECTD_RC" in
0 | 99) ;;
*) fail "collectd exited with status $COLLECTD_RC" ;;
esac
vg_pass_cleanup
echo "valgrind: PASS: ${dur}s of polls under churn, no plugin leak, no invalid access"
