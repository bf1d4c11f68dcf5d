#!/usr/bin/env bash
# Installs what the tests need (Debian packages) and runs every test:
# the cmocka unit suites, then the end-to-end suite (real collectd, real
# dockerd, Podman, the Portainer stand-in), with line and branch coverage of
# src/ from both.  Exits non-zero on any failure.
#
#   scripts/test.sh          (as root; or, from an account with sudo: sudo scripts/test.sh)
set -euo pipefail
. "$(dirname "$0")/common.sh"

BUILD="$TOP/build/test"
need_root
install_pkgs $BUILD_PKGS $RUN_PKGS $TEST_PKGS $PKG_TEST_PKGS
command -v npm >/dev/null 2>&1 || install_pkgs $NPM_PKGS
# Grafana's dashboard schema and tsc, from the npm registry, for the dashboard
# check in test_prometheus.py (installed here, not by the test).
NPM_DIR="$TOP/build/npm"
python3 "$TOP/tests/e2e/grafana_schema.py" --install "$NPM_DIR" >/dev/null ||
  say "could not install the dashboard check's npm packages: that check will fail"
# The container image test's Debian base comes from Debian's package archive,
# like the packages above: fetched here, so that the tests themselves send
# nothing off this machine.
IMAGE_BASE="$TOP/build/image-base-bookworm.tar"
if [ ! -f "$IMAGE_BASE" ]; then
  say "the container image's Debian base (debootstrap, from Debian's archive)"
  mkdir -p "$TOP/build"
  python3 "$TOP/tests/e2e/test_docker_image.py" --make-base "$IMAGE_BASE" ||
    say "could not make the image base: the image test will fail"
fi

# A fresh coverage build each time: stale .gcda files would mix runs.
rm -rf "$BUILD"
build "$BUILD" --enable-coverage
make -s -C "$BUILD" coverage-reset

status=0

say "unit tests (cmocka)"
if ! make -s -C "$BUILD" -j"$(nproc)" check >"$BUILD/check.out" 2>&1; then
  status=1
  cat "$BUILD/check.out"
fi
for log in "$BUILD"/tests/unit/test_*.log; do
  # cmocka's own closing lines, one suite after another.
  grep -E '^\[==========\] .*run\.|^\[  (PASSED|FAILED)  \]|FAILED TEST' "$log" || true
done

say "the Portainer stand-in against the reference"
python3 "$TOP/tests/e2e/test_standin.py" || status=1

say "end-to-end tests (real collectd, dockerd, Podman, Portainer stand-in)"
# The plugin as "make install" puts it: collectd's own plugin directory.
make -s -C "$BUILD" install >/dev/null
if ! python3 "$TOP/tests/e2e/test_e2e.py" --build-dir "$BUILD" --installed; then
  status=1
fi
# Exactly the files that install wrote (plugin, types, man page under
# /usr/local): left behind, they would shadow the Debian package's below.
make -s -C "$BUILD" uninstall >/dev/null || status=1

say "fault matrix (docs/FAULTS.md): hostile and failing servers, TLS, config, secrets"
if ! python3 "$TOP/tests/e2e/test_faults.py" --build-dir "$BUILD"; then
  status=1
fi

say "issue 8: fresh failing streak, several Portainers, Swarm agent environments"
for suite in test_streak test_portainers test_swarm; do
  python3 "$TOP/tests/e2e/$suite.py" --build-dir "$BUILD" || status=1
done

say "shutdown with a poll in flight (also under valgrind), Proxy through real proxies"
if ! python3 "$TOP/tests/e2e/test_shutdown.py" --build-dir "$BUILD"; then
  status=1
fi

say "hostile servers and secrets (docs/FAULTS.md, issue 9): echoes, paging, long URLs, warnings"
python3 "$TOP/tests/e2e/test_hostile.py" --build-dir "$BUILD" || status=1

say "a fleet as people run it: offline Edge devices, black-holed agents, async Edge"
if ! python3 "$TOP/tests/e2e/test_fleet.py" --build-dir "$BUILD"; then
  status=1
fi

say "issue 8, 5: daemons an hour ahead of and behind the collector, a clock stepping back"
python3 "$TOP/tests/e2e/test_clocks.py" --build-dir "$BUILD" || status=1

say "notifications (Notify) through collectd's logfile, real dockerd and stand-in"
python3 "$TOP/tests/e2e/test_notify.py" --build-dir "$BUILD" || status=1

say "man page collectd-portainer(5): renders, documents every option"
python3 "$TOP/tests/e2e/test_manpage.py" --build-dir "$BUILD" || status=1

say "the README's commands run as root without sudo"
python3 "$TOP/tests/e2e/test_scripts.py" || status=1

say "contrib/prometheus: promtool check rules, promtool test rules"
(cd "$TOP/contrib/prometheus" && promtool check rules rules.yml && promtool test rules rules_test.yml) ||
  status=1

say "Prometheus and Grafana (contrib/): the seeds' names, the alerts, the dashboard, live"
if ! python3 "$TOP/tests/e2e/test_prometheus.py" --build-dir "$BUILD" --npm-dir "$NPM_DIR"; then
  status=1
fi

say "coverage of src/ (unit + end-to-end)"
make -s -C "$BUILD" coverage 2>&1 | grep -E '^ +(lines|functions|branches)\.' || status=1

say "unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
ASAN="$TOP/build/asan"
rm -rf "$ASAN"
build "$ASAN" --enable-sanitizers
if ! make -s -C "$ASAN" -j"$(nproc)" check >"$ASAN/check.out" 2>&1; then
  status=1
  cat "$ASAN/check.out"
fi
for log in "$ASAN"/tests/unit/test_*.log; do
  grep -E '^\[==========\] .*run\.|^\[  (PASSED|FAILED)  \]|FAILED TEST|ERROR: (Address|Leak)Sanitizer|runtime error' "$log" || true
done

say "collectd with the sanitizer-built plugin, containers coming and going"
bash "$TOP/tests/valgrind/asan_run.sh" || status=1

say "valgrind memcheck: collectd with the plugin through many polls"
bash "$TOP/tests/valgrind/run.sh" || status=1

# The package test puts back what it finds at the package's paths, and
# purges the package.
say "Debian package: build, install, collectd from the installed files, purge"
python3 "$TOP/tests/e2e/test_package.py" --keep-deb "$BUILD/deb" || status=1

say "container image (contrib/docker) on a Debian base made with debootstrap"
python3 "$TOP/tests/e2e/test_docker_image.py" --deb "$BUILD/deb" --base-tar "$IMAGE_BASE" ||
  status=1

say "fuzzing smoke run (libFuzzer, every harness; long runs: fuzz/RESULTS.md)"
FUZZ_OUT="$TOP/build/fuzz" bash "$TOP/fuzz/run.sh" 10 || status=1

if [ "$status" -ne 0 ]; then
  say "FAILED"
else
  say "all tests passed"
fi
exit "$status"
