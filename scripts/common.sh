# Shared by scripts/demo.sh and scripts/test.sh: installing what is missing
# (Debian packages only) and building the plugin out of tree.
# shellcheck shell=bash

TOP="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# What building, running and testing the plugin needs, from Debian 12.
BUILD_PKGS="gcc make autoconf automake libtool pkg-config collectd-core
  collectd-dev libcurl4-openssl-dev libyajl-dev libcmocka-dev
  libmicrohttpd12 libprotobuf-c1 curl"
RUN_PKGS="docker.io busybox-static"
TEST_PKGS="collectd-utils yajl-tools lcov clang libclang-rt-14-dev podman runc
  prometheus nginx valgrind iproute2 python3 openssl tinyproxy"

say() { printf '==> %s\n' "$*"; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "This needs root (it installs Debian packages and starts dockerd): run it with sudo." >&2
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
