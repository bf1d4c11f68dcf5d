# Shared by scripts/demo.sh and scripts/test.sh: installing what is missing
# (Debian packages only) and building the plugin out of tree.
# shellcheck shell=bash

TOP="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# What building, running and testing the plugin needs, from Debian 12.
BUILD_PKGS="gcc make autoconf automake libtool pkg-config collectd-core
  collectd-dev libcurl4-openssl-dev libyajl-dev libcmocka-dev
  libmicrohttpd12 libprotobuf-c1 curl perl"
RUN_PKGS="docker.io busybox-static python3"
TEST_PKGS="collectd-utils yajl-tools lcov clang libclang-rt-14-dev podman runc
  prometheus nginx valgrind iproute2 python3 openssl python3-yaml
  tinyproxy"
# The Debian package, the man page and the container image (debootstrap
# makes the image's Debian base).
PKG_TEST_PKGS="debhelper dpkg-dev man-db groff-base debootstrap"
# npm installs Grafana's dashboard schema and tsc for tests/e2e/test_prometheus.py
# (into the build tree): Debian's, where no npm is installed yet.
NPM_PKGS="npm"

say() { printf '==> %s\n' "$*"; }

# The command as the user typed it: with "sudo " in front when run through
# sudo, as is when run as root (a fresh Debian 12 has no sudo).
as_invoked() {
  if [ -n "${SUDO_USER:-}" ]; then echo "sudo $*"; else echo "$*"; fi
}

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "This needs root (it installs Debian packages and starts dockerd): run it as root ($0), or with sudo from an account that has it (sudo $0)." >&2
    exit 1
  fi
}

# Installs the Debian packages given that are not installed yet.
install_pkgs() {
  local missing=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  say "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq $missing >/dev/null
  # Debian's packages start their services where systemd runs; the project
  # starts its own instances, so stop the stock ones if they came up.
  for svc in collectd prometheus prometheus-node-exporter nginx docker tinyproxy; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
      systemctl stop "$svc" 2>/dev/null || true
    fi
  done
}

# build DIR [configure options...]: configures (once) and builds in DIR.
build() {
  local dir="$1"
  shift
  if [ ! -x "$TOP/configure" ]; then
    say "autoreconf"
    (cd "$TOP" && autoreconf -fi >/dev/null 2>&1) || (cd "$TOP" && autoreconf -fi)
  fi
  mkdir -p "$dir"
  if [ ! -f "$dir/Makefile" ]; then
    say "configure $*"
    (cd "$dir" && "$TOP/configure" -q "$@")
  fi
  say "make ($dir)"
  make -s -C "$dir" -j"$(nproc)"
}
