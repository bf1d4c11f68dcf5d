#!/usr/bin/env bash
# The plugin's main job, live: installs what is missing (Debian packages),
# builds the plugin, starts a real dockerd with containers in different
# states, and collectd with the plugin and write_prometheus; then shows the
# metrics it serves.  No Portainer needed: the source is a Docker socket.
#
#   scripts/demo.sh          start (or restart) the demo   (as root; or: sudo scripts/demo.sh)
#   scripts/demo.sh stop     stop everything it started
set -euo pipefail
. "$(dirname "$0")/common.sh"

RUN="$TOP/run/demo"
BUILD="$TOP/build/demo"
PORT="${DEMO_PORT:-9103}"

stop_demo() {
  if [ -f "$RUN/collectd.pid" ]; then
    kill "$(cat "$RUN/collectd.pid")" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$(cat "$RUN/collectd.pid")" 2>/dev/null || break
      sleep 0.1
    done
    rm -f "$RUN/collectd.pid"
  fi
  [ -f "$RUN/rig.json" ] && python3 "$TOP/tests/e2e/rig.py" down --run-dir "$RUN" >/dev/null 2>&1 || true
  return 0
}

if [ "${1:-start}" = "stop" ]; then
  stop_demo
  say "demo stopped"
  exit 0
fi

need_root
install_pkgs $BUILD_PKGS $RUN_PKGS
build "$BUILD"
stop_demo
mkdir -p "$RUN"

say "starting a real dockerd with containers in every state (about a minute)"
python3 "$TOP/tests/e2e/rig.py" up --run-dir "$RUN" --hosts 1 --populate >"$RUN/rig.out"
SOCKET="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hosts"][0]["socket"])' "$RUN/rig.json")"

cat >"$RUN/collectd.conf" <<CONF
Hostname "demo-collector"
FQDNLookup false
Interval 5
BaseDir "$RUN"
PIDFile "$RUN/collectd.pid"
TypesDB "/usr/share/collectd/types.db" "$TOP/src/portainer.types.db"
PluginDir "/usr/lib/collectd"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "$RUN/collectd.log"
</Plugin>
LoadPlugin write_prometheus
<Plugin write_prometheus>
  Port "$PORT"
</Plugin>
PluginDir "$BUILD/.libs"
LoadPlugin portainer
<Plugin portainer>
  <Docker "local">
    Socket "$SOCKET"
    Host "demo-docker"
  </Docker>
</Plugin>
CONF

say "starting collectd with the plugin and write_prometheus on port $PORT"
collectd -C "$RUN/collectd.conf" -P "$RUN/collectd.pid"
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$PORT/metrics" 2>/dev/null | grep -q '^collectd_container_state' && break
  sleep 0.5
done
echo
curl -sf "http://127.0.0.1:$PORT/metrics" | grep -E '^collectd_(container|portainer)_' | sed 's/ [0-9]*$//' | sort
echo
say "live at http://127.0.0.1:$PORT/metrics (collectd log: $RUN/collectd.log)"
say "change the world with: docker -H unix://$SOCKET stop|start|pause|rm ..."
say "stop it all with:      $(as_invoked scripts/demo.sh stop)"
