#!/bin/sh
# Starts collectd in the foreground with the portainer plugin and
# write_prometheus.  Configuration, from the environment:
#
#   PORTAINER_URL, PORTAINER_TOKEN  watch a Portainer server (the plugin reads
#                                   both itself: the token is written nowhere)
#   otherwise                       watch the Docker socket mounted at
#                                   DOCKER_SOCKET (/var/run/docker.sock)
#   HOST_NAME        host (label "instance") of a Docker socket's values and
#                    of the self metrics (default: the container's hostname)
#   INTERVAL         seconds between polls (default 30)
#   LISTEN_PORT      write_prometheus's port (default 9103)
#   LISTEN_ADDRESS   ... and address (default 0.0.0.0: Docker turns IPv6 off
#                    in most containers, where write_prometheus's default,
#                    "[::]", cannot be bound)
#   NOTIFY           the plugin's Notify option, e.g. "true" (default: none)
#
# A configuration mounted at /etc/collectd-portainer/collectd.conf is used as
# it is instead.
set -eu

CONF=/etc/collectd-portainer/collectd.conf
if [ ! -s "$CONF" ]; then
  mkdir -p /run/collectd-portainer
  CONF=/run/collectd-portainer/collectd.conf
  host="${HOST_NAME:-$(hostname)}"
  notify=""
  [ -n "${NOTIFY:-}" ] && notify="    Notify ${NOTIFY}"
  if [ -n "${PORTAINER_URL:-}" ]; then
    source="  <Portainer \"portainer\">
$notify
  </Portainer>"
  else
    source="  <Docker \"local\">
    Socket \"${DOCKER_SOCKET:-/var/run/docker.sock}\"
    Host \"$host\"
$notify
  </Docker>"
  fi
  cat >"$CONF" <<CONF
Hostname "$host"
FQDNLookup false
Interval ${INTERVAL:-30}
TypesDB "/usr/share/collectd/types.db" "/usr/share/collectd/portainer.types.db"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File STDOUT
  Timestamp true
</Plugin>
LoadPlugin write_prometheus
<Plugin write_prometheus>
  Host "${LISTEN_ADDRESS:-0.0.0.0}"
  Port "${LISTEN_PORT:-9103}"
</Plugin>
LoadPlugin portainer
<Plugin portainer>
$source
</Plugin>
CONF
fi
exec collectd -f -C "$CONF"
