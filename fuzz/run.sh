#!/bin/bash
# fuzz/run.sh: builds every libFuzzer harness and runs each one for a while.
#
#   fuzz/run.sh [seconds] [harness...]     (default: 20 s, every harness)
#
# Needs Debian's clang and libclang-rt-14-dev, libyajl-dev, libcurl and
# collectd-dev (the config harness).  Builds with
# -fsanitize=fuzzer,address,undefined into $FUZZ_OUT (default
# /tmp/portainer-fuzz), runs each harness on a working corpus there seeded
# from fuzz/corpus/<harness>/, prints executions and coverage per harness
# and exits non-zero on any crash, leak, timeout, failed check or build
# error.  Crashing inputs are kept as $FUZZ_OUT/artifacts/<harness>-*.
#
# Environment: FUZZ_OUT, FUZZ_JOBS (harnesses run at once, default 1),
# CC (default clang).  Reproduce a crash:
#   $FUZZ_OUT/bin/fuzz_<harness> $FUZZ_OUT/artifacts/<harness>-crash-...
set -u

secs=${1:-20}
case "$secs" in
'' | *[!0-9]*)
  echo "usage: $0 [seconds] [harness...]" >&2
  exit 2
  ;;
esac
shift || true

ALL="list inspect events endpoints errors status_time identity config redact nodes"
harnesses=${*:-$ALL}

top=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_OUT:-/tmp/portainer-fuzz}
jobs=${FUZZ_JOBS:-1}
cc=${CC:-clang}

# -max_len per harness: bodies a real server sends are larger, but the
# parsers are streaming and the chunk plans cut every input anyway.
max_len() {
  case "$1" in
  list | endpoints | events | nodes) echo 16384 ;;
  redact) echo 8192 ;;
  inspect) echo 8192 ;;
  errors | identity) echo 4096 ;;
  config) echo 2048 ;;
  status_time) echo 256 ;;
  esac
}

# ---- build ------------------------------------------------------------------

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE $SAN"
COLLECTD="-DHAVE_CONFIG_H -I$top/src -I/usr/include/collectd/core/daemon -I/usr/include/collectd/core -I/usr/include/collectd -I$top/tests/unit"
WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror"
CORE="container json_stream docker_api portainer_api identity inventory secret"
FULL="$CORE http http_request http_transfer http_run http_client source_conf conf_files source login environments lists events inspects request fault edge snapshots nodes"

mkdir -p "$out/obj" "$out/bin" "$out/logs" "$out/artifacts" "$out/work"

# compile <object name> <source> <extra flags...>
compile() {
  local obj=$1 src=$2
  shift 2
  if ! "$cc" $CFLAGS -fsanitize=fuzzer-no-link "$@" -c "$src" \
    -o "$out/obj/$obj.o" 2>"$out/logs/build-$obj.log"; then
    cat "$out/logs/build-$obj.log" >&2
    echo "fuzz: FAIL: cannot compile $src" >&2
    exit 1
  fi
}

echo "fuzz: building into $out"
for m in $FULL; do
  compile "$m" "$top/src/$m.c" -I"$top/src"
done
compile config "$top/src/config.c" $COLLECTD
compile collectd_stub "$top/tests/unit/collectd_stub.c" $COLLECTD

for h in $harnesses; do
  case " $ALL " in
  *" $h "*) ;;
  *)
    echo "fuzz: unknown harness $h (one of: $ALL)" >&2
    exit 2
    ;;
  esac
  objs=""
  if [ "$h" = config ]; then
    compile "fuzz_$h" "$top/fuzz/fuzz_$h.c" $WARN $COLLECTD -I"$top/fuzz"
    for m in $FULL config collectd_stub; do objs="$objs $out/obj/$m.o"; done
    libs="-lyajl -lcurl"
  else
    compile "fuzz_$h" "$top/fuzz/fuzz_$h.c" $WARN -I"$top/src" -I"$top/fuzz"
    for m in $CORE; do objs="$objs $out/obj/$m.o"; done
    libs="-lyajl"
  fi
  if ! "$cc" $CFLAGS -fsanitize=fuzzer "$out/obj/fuzz_$h.o" $objs $libs \
    -o "$out/bin/fuzz_$h" 2>"$out/logs/build-link-$h.log"; then
    cat "$out/logs/build-link-$h.log" >&2
    echo "fuzz: FAIL: cannot link fuzz_$h" >&2
    exit 1
  fi
done

# ---- run --------------------------------------------------------------------

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"

run_one() {
  local h=$1 dict=""
  case "$h" in
  list | inspect | events | endpoints | errors | nodes) dict="-dict=$top/fuzz/json.dict" ;;
  esac
  mkdir -p "$out/work/$h"
  # Bounded twice: libFuzzer's own -max_total_time, and timeout(1) in case
  # it hangs outside an input.  stdin is /dev/null: nothing may block on it.
  timeout --kill-after=10 $((secs + 120)) \
    "$out/bin/fuzz_$h" -max_total_time="$secs" -max_len="$(max_len "$h")" \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$out/artifacts/$h-" $dict \
    "$out/work/$h" "$top/fuzz/corpus/$h" </dev/null >"$out/logs/$h.log" 2>&1
  echo $? >"$out/logs/$h.rc"
}

touch "$out/logs/.started"
echo "fuzz: running each harness for ${secs}s ($jobs at a time)"
running=0
for h in $harnesses; do
  rm -f "$out/logs/$h.rc"
  run_one "$h" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

# ---- report -----------------------------------------------------------------

status=0
printf '%-12s %12s %8s %8s %7s  %s\n' harness executions cov ft corpus result
for h in $harnesses; do
  log="$out/logs/$h.log"
  rc=$(cat "$out/logs/$h.rc" 2>/dev/null || echo 99)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
  cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
  result=ok
  if [ "$rc" != 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|FUZZ_CHECK failed' "$log"; then
    result="FAIL (rc $rc, see $log)"
    status=1
  fi
  printf '%-12s %12s %8s %8s %7s  %s\n' "$h" "${execs:-?}" "${cov:-?}" \
    "${ft:-?}" "${corp:-?}" "$result"
done
if [ "$status" != 0 ]; then
  echo "fuzz: FAIL: crashing inputs of this run:" >&2
  find "$out/artifacts" -type f -newer "$out/logs/.started" >&2
  for h in $harnesses; do
    if [ "$(cat "$out/logs/$h.rc" 2>/dev/null)" != 0 ]; then
      echo "---- $h ----" >&2
      grep -E -A12 'ERROR: |runtime error:|FUZZ_CHECK failed' "$out/logs/$h.log" | head -40 >&2
    fi
  done
else
  echo "fuzz: PASS: no crash, leak or failed check"
fi
exit $status
