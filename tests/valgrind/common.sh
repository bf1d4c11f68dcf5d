# tests/valgrind/common.sh: shared by run.sh (valgrind) and asan_run.sh.
# Sourced, not run.  Everything it starts is recorded and stopped by
# vg_cleanup (installed as an EXIT trap by the callers); every wait is
# bounded; only unix sockets and 127.0.0.1 are used.
#
# The callers set: TOP (source tree), RUN (private run directory), BUILD
# (build directory), TAG (a short name for messages).

RIG="$TOP/tests/e2e/rig.py"
RIG_DIR="$RUN/rig"
CHURN_PID=""
COLLECTD_PID=""
STANDIN_PORT=""
DOCKER_SOCK=""

say() {
  echo "[$TAG] $*"
}

# The script's verdict line, then out.
fail() {
  say "$*"
  echo "$TAG: FAIL: $*"
  exit 1
}

# ---- build --------------------------------------------------------------

# vg_build <configure args...>: the plugin into $BUILD (.libs/portainer.so).
# Tried twice: other builds regenerate the shared tree now and then, and a
# build that starts meanwhile can fail for a moment.
vg_build() {
  local log="$RUN/build.log" attempt rc=1
  for attempt in 1 2; do
    (
      set -e
      cd "$TOP"
      # Regenerate only when the build files changed (an unneeded
      # autoreconf would race with the other builds of the tree).
      if [ ! -x configure ] || [ configure.ac -nt configure ] ||
        [ Makefile.am -nt Makefile.in ]; then
        autoreconf -fi
      fi
      mkdir -p "$BUILD"
      cd "$BUILD"
      if [ ! -f Makefile ] || [ "$TOP/configure" -nt config.status ]; then
        "$TOP/configure" -q "$@"
      fi
      make -j2
    ) >>"$log" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && [ -f "$BUILD/.libs/portainer.so" ]; then
      return 0
    fi
    [ $attempt = 1 ] && sleep 15
  done
  tail -30 "$log"
  return 1
}

# ---- processes ----------------------------------------------------------

# Stops, by pid, what this script started: collectd, the churn loop, then
# the rig (dockerd, containerd, shims, the Portainer stand-in).
vg_cleanup() {
  if [ -n "$CHURN_PID" ] && kill -0 "$CHURN_PID" 2>/dev/null; then
    kill -TERM "$CHURN_PID" 2>/dev/null
    wait "$CHURN_PID" 2>/dev/null
  fi
  CHURN_PID=""
  if [ -n "$COLLECTD_PID" ] && kill -0 "$COLLECTD_PID" 2>/dev/null; then
    kill -KILL "$COLLECTD_PID" 2>/dev/null
    wait "$COLLECTD_PID" 2>/dev/null
  fi
  COLLECTD_PID=""
  if [ -f "$RIG_DIR/rig.json" ]; then
    timeout 120 python3 "$RIG" down --run-dir "$RIG_DIR" --clean \
      >>"$RUN/rig.log" 2>&1
  fi
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# One dockerd and the Portainer stand-in in front of it.
vg_rig_up() {
  STANDIN_PORT=$(free_port)
  mkdir -p "$RIG_DIR"
  if ! timeout 180 python3 "$RIG" up --run-dir "$RIG_DIR" --hosts 1 \
    --standin-port "$STANDIN_PORT" >"$RUN/rig.json.out" 2>>"$RUN/rig.log"; then
    tail -20 "$RUN/rig.log"
    return 1
  fi
  DOCKER_SOCK=$(python3 -c 'import json,sys
print(json.load(open(sys.argv[1]))["hosts"][0]["socket"])' "$RIG_DIR/rig.json")
  export DOCKER_HOST="unix://$DOCKER_SOCK"
  export DOCKER_CONFIG="$RUN/docker-cli"
  mkdir -p "$DOCKER_CONFIG"
  # The stand-in answers once it is up (bounded wait).
  local i
  for i in $(seq 1 50); do
    if curl -s -m 2 "http://127.0.0.1:$STANDIN_PORT/api/system/status" \
      >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  say "the Portainer stand-in did not answer"
  return 1
}

dk() {
  timeout 30 docker "$@" >>"$RUN/docker.log" 2>&1
}

# Containers in the states that stay: healthy, unhealthy, restarting,
# paused, exited (42), created, and one with hostile names and labels.
vg_static_containers() {
  local run="--network none"
  dk run -d $run --name st-healthy --health-cmd true --health-interval 1s \
    --label com.example.team=ops bb:latest sleep 600
  dk run -d $run --name st-unhealthy --health-cmd false --health-interval 1s \
    --health-retries 1 bb:latest sleep 600
  dk run -d $run --name st-restarting --restart always bb:latest \
    sh -c 'sleep 1; exit 3'
  dk run -d $run --name st-paused bb:latest sleep 600
  dk pause st-paused
  dk run $run --name st-exited42 bb:latest sh -c 'exit 42'
  dk create $run --name st-created bb:latest true
  dk run -d $run --name "st-$(printf 'long%.0s' $(seq 1 40))" \
    --label "com.example.team=$(printf 'q"u\\o\tte\nnl \xc3\xa9\xff')" \
    registry.example.org/team/app:1.2 sleep 600
  return 0
}

sc() {
  curl -s -m 5 -X "$1" "http://127.0.0.1:$STANDIN_PORT/__standin/$2" \
    ${3:+-H 'Content-Type: application/json' -d "$3"} >/dev/null 2>&1
}

# Containers (and Portainer environments) coming and going until the
# deadline (seconds since the epoch), at most 400 rounds.
vg_churn() {
  local deadline=$1 i=0
  while [ "$i" -lt 400 ] && [ "$(date +%s)" -lt "$deadline" ]; do
    i=$((i + 1))
    dk run -d --network none --name "ch-$i" \
      --label "com.example.team=t$((i % 3))" bb:latest sleep 60
    dk run -d --network none --name "ex-$i" bb:latest sh -c "exit $((i % 5))"
    dk create --network none --name "cr-$i" bb:latest true
    case $((i % 4)) in
    0) dk stop -t 0 "ch-$((i - 1))" ;;
    1) dk start "cr-$((i - 1))" ;;
    2) dk pause "ch-$((i - 1))" ;;
    3) dk unpause "ch-$((i - 2))" ;;
    esac
    if [ "$i" -gt 2 ]; then
      dk rm -f "ch-$((i - 3))" "ex-$((i - 3))" "cr-$((i - 3))"
    fi
    case $((i % 6)) in
    0)
      sc POST env "{\"id\": 40, \"name\": \"churn-env\", \"kind\": \"docker\", \"socket\": \"$DOCKER_SOCK\"}"
      ;;
    2) sc POST env/1/mode '{"mode": "down"}' ;;
    3)
      sc DELETE env/40
      sc POST env/1/mode '{"mode": "ok"}'
      ;;
    4) sc POST jwt/invalidate ;;
    esac
    sleep 0.3
  done
  # Leave the daemon as it was: the churned containers go.
  local names
  names=$(timeout 30 docker ps -aq --filter name='^(ch|ex|cr)-' 2>/dev/null)
  [ -n "$names" ] && dk rm -f $names
  sc POST env/1/mode '{"mode": "ok"}'
  return 0
}

# After a PASS: the run directory goes, unless VG_KEEP=1 (after a FAIL it
# always stays, for its logs).
vg_pass_cleanup() {
  vg_cleanup
  if [ "${VG_KEEP:-0}" = 1 ]; then
    say "logs kept in $RUN"
  else
    rm -rf "$RUN"
  fi
}

# ---- collectd -----------------------------------------------------------

# vg_write_conf <file>: every kind of source, pointed at the rig.
vg_write_conf() {
  cat >"$1" <<EOF
Interval 1
Hostname "vgtest"
FQDNLookup false
BaseDir "$RUN/collectd"
PIDFile "$RUN/collectd/collectd.pid"
TypesDB "/usr/share/collectd/types.db" "$TOP/src/portainer.types.db"
PluginDir "/usr/lib/collectd"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "$RUN/collectd.log"
  Timestamp true
</Plugin>
# A writer, so that values take collectd's whole dispatch path.
LoadPlugin csv
<Plugin csv>
  DataDir "$RUN/csv"
  StoreRates false
</Plugin>
LoadPlugin unixsock
<Plugin unixsock>
  SocketFile "$RUN/collectd/unixsock"
  SocketGroup "root"
</Plugin>
PluginDir "$BUILD/.libs"
LoadPlugin portainer
<Plugin portainer>
  <Docker "local">
    Socket "$DOCKER_SOCK"
    TypeInstance "label:com.example.team"
  </Docker>
  <Portainer "pt">
    URL "http://127.0.0.1:$STANDIN_PORT/"
    Token "ptr_e2eStandInTestKey0000000000000000000000000"
  </Portainer>
  <Portainer "pt-paged">
    URL "http://127.0.0.1:$STANDIN_PORT"
    Token "ptr_e2eStandInTestKey0000000000000000000000000"
    PageSize 2
    FullInspectEvery 1
    MaxConcurrentRequests 2
    ContainerExclude "^cr-"
    EndpointExclude "^kube"
    Collect "state" "health" "restart_count" "uptime"
    Interval 2
  </Portainer>
  <Portainer "login">
    URL "http://127.0.0.1:$STANDIN_PORT"
    Username "admin"
    Password "e2e-password-123"
  </Portainer>
  <Docker "gone">
    Socket "$RUN/nonexistent.sock"
  </Docker>
  <Portainer "refused">
    URL "http://127.0.0.1:1"
    Token "ptr_refused"
    Timeout 500
  </Portainer>
</Plugin>
EOF
}

# Waits (bounded) for collectd to enter its read loop.
vg_wait_started() {
  local i
  for i in $(seq 1 120); do
    if grep -q "Initialization complete" "$RUN/collectd.log" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$COLLECTD_PID" 2>/dev/null; then
      return 1
    fi
    sleep 0.5
  done
  return 1
}

# What collectd holds from the plugin: container series and the requests
# each source sent (api_requests), through unixsock.
vg_report_values() {
  local sock="$RUN/collectd/unixsock" list
  list=$(timeout 20 collectdctl -s "$sock" listval 2>/dev/null)
  VG_CONTAINER_SERIES=$(echo "$list" | grep -c '/container-' || true)
  say "container series in collectd's cache: $VG_CONTAINER_SERIES"
  local src v
  for src in local pt pt-paged login gone refused; do
    v=$(timeout 20 collectdctl -s "$sock" getval \
      "vgtest/portainer-$src/api_requests" 2>/dev/null | sed -n 's/^value=//p')
    say "source $src: api_requests rate ${v:-?}/s"
  done
}

# Sends SIGTERM and waits up to $1 seconds for collectd to exit; sets
# COLLECTD_RC.  SIGKILL (and failure) when it does not.
vg_stop_collectd() {
  local limit=$1 i
  COLLECTD_RC=""
  kill -TERM "$COLLECTD_PID" 2>/dev/null
  for i in $(seq 1 $((limit * 5))); do
    if ! kill -0 "$COLLECTD_PID" 2>/dev/null; then
      wait "$COLLECTD_PID"
      COLLECTD_RC=$?
      COLLECTD_PID=""
      return 0
    fi
    sleep 0.2
  done
  say "collectd did not exit ${limit}s after SIGTERM: killing it"
  kill -KILL "$COLLECTD_PID" 2>/dev/null
  wait "$COLLECTD_PID" 2>/dev/null
  COLLECTD_PID=""
  return 1
}
