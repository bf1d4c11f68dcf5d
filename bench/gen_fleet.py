#!/usr/bin/python3
"""gen_fleet.py: a synthetic Portainer fleet as static files for nginx.

Writes N environments x M containers in the shapes a Portainer 2.23 server and
a Docker 20.10 daemon (API 1.41, the dockerd of this machine kind) send: the
key order and field set of tests/fixtures/ (captured from a real dockerd) and
of the reference's Portainer samples, with the content production containers
carry (compose and OCI labels, bind and volume mounts, published ports on
IPv4 and IPv6, a compose network, healthchecks with their probe log, overlay2
layer paths).

Layout under OUT (nginx serves it; see nginx_conf() and run.sh):

  base/endpoints/p_<start>_<limit>.json  GET /api/endpoints?start=&limit= (1-based)
  base/e<id>/list.json                   GET .../docker/containers/json?all=1
  base/e<id>/c/<cid>.json                GET .../docker/containers/<cid>/json
  base/e<id>/events.json                 GET .../docker/events (empty: nothing happened)
  changed/e<id>/...                      overlay: 1% of containers changed state
                                         (lists, inspects and the events naming them)
  revert/e<id>/events.json               overlay: the same containers changed back
                                         (base documents, events naming them)
  none/                                  empty overlay
  cur -> none                            the overlay nginx looks at first
  streams/lists.json, streams/all.json   the same bytes concatenated, for json_verify -s
  urls/lists.txt, urls/all.txt           request paths (pages + lists; + inspects)
  manifest.json                          counts and byte sizes

The base fleet is steady: no container is restarting (a crash loop is a change
by definition; restarting containers come with the changed overlay).  Status
strings agree with StartedAt/FinishedAt at generation time and stay in the
same go-units duration bucket for at least an hour, so a client that checks
"Up 3 days" against the StartedAt it learnt sees no restart.  Regenerate for
every run.

Deterministic for a given --seed (except for the timestamps, which follow the
clock).  Python 3 standard library only.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import time

# --------------------------------------------------------------------------
# Encoding as Go's encoding/json does it: no blanks, <, > and & escaped.


def go_json(obj):
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def hexid(*parts):
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


def rfc3339nano(t):
    """Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped."""
    sec = int(t)
    ns = int(round((t - sec) * 1e9))
    if ns >= 1000000000:
        sec, ns = sec + 1, ns - 1000000000
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    if ns == 0:
        return base + "Z"
    return base + ("." + ("%09d" % ns).rstrip("0")) + "Z"


ZERO_TIME = "0001-01-01T00:00:00Z"


def human_duration(seconds):
    """docker/go-units HumanDuration, as in a Status string."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return "%d seconds" % s
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return "%d minutes" % m
    h = int(seconds / 3600.0 + 0.5)
    if h == 1:
        return "About an hour"
    if h < 48:
        return "%d hours" % h
    if h < 24 * 7 * 2:
        return "%d days" % (h // 24)
    if h < 24 * 30 * 2:
        return "%d weeks" % (h // 24 // 7)
    if h < 24 * 365 * 2:
        return "%d months" % (h // 24 // 30)
    return "%d years" % int(seconds / 3600.0 / 24 / 365)


def stable_age(rng):
    """An age (s) whose HumanDuration keeps its value for more than an hour:
    N days (2-13), N weeks (2-7) or N months (2-23), inside the bucket."""
    r = rng.random()
    if r < 0.5:
        n = rng.randint(2, 13)
        return n * 86400 + rng.randint(2 * 3600, 20 * 3600)
    if r < 0.8:
        n = rng.randint(2, 7)
        return n * 7 * 86400 + rng.randint(86400, 6 * 86400)
    n = rng.randint(2, 23)
    return n * 30 * 86400 + rng.randint(2 * 86400, 27 * 86400)


# --------------------------------------------------------------------------
# What runs in the fleet: compose projects of typical services.

SERVICES = [
    # name, image, command, entrypoint, ports [(private, public|None, proto)],
    # healthcheck command or None, volumes [(kind, name/source, destination, rw)]
    ("web", "nginx:1.25.3", ["nginx", "-g", "daemon off;"], ["/docker-entrypoint.sh"],
     [(80, 8080, "tcp"), (443, 8443, "tcp")], "curl -fsS http://localhost/ || exit 1",
     [("bind", "/srv/{p}/nginx/conf.d", "/etc/nginx/conf.d", False),
      ("bind", "/srv/{p}/certs", "/etc/nginx/certs", False)]),
    ("api", "registry.example.org/{p}/api:2.14.1", ["gunicorn", "-w", "4", "-b", "0.0.0.0:8000", "app.wsgi:application"],
     ["/usr/local/bin/docker-entrypoint.sh"], [(8000, None, "tcp")],
     "curl -fsS http://localhost:8000/healthz || exit 1",
     [("volume", "{p}_media", "/app/media", True), ("bind", "/srv/{p}/api/config.yml", "/app/config.yml", False)]),
    ("worker", "registry.example.org/{p}/api:2.14.1", ["celery", "-A", "app", "worker", "--loglevel=INFO", "--concurrency=4"],
     ["/usr/local/bin/docker-entrypoint.sh"], [], None,
     [("volume", "{p}_media", "/app/media", True)]),
    ("db", "postgres:15.4", ["postgres"], ["docker-entrypoint.sh"], [(5432, None, "tcp")],
     "pg_isready -U postgres && psql -U postgres -c 'select 1' > /dev/null",
     [("volume", "{p}_pgdata", "/var/lib/postgresql/data", True),
      ("bind", "/srv/{p}/db/init", "/docker-entrypoint-initdb.d", False)]),
    ("cache", "redis:7.2.3-alpine", ["redis-server", "--appendonly", "yes"], ["docker-entrypoint.sh"],
     [(6379, None, "tcp")], None, [("volume", "{p}_redis", "/data", True)]),
    ("metrics", "prom/node-exporter:v1.7.0", ["--path.rootfs=/host"], ["/bin/node_exporter"],
     [(9100, 9100, "tcp")], None, [("bind", "/", "/host", False)]),
    ("proxy", "traefik:v2.10.7", ["--providers.docker=true", "--entrypoints.web.address=:80"], ["/entrypoint.sh"],
     [(80, 80, "tcp"), (443, 443, "tcp"), (8080, None, "tcp")], "traefik healthcheck --ping",
     [("bind", "/var/run/docker.sock", "/var/run/docker.sock", False),
      ("volume", "{p}_acme", "/letsencrypt", True)]),
    ("logs", "grafana/promtail:2.9.2", ["-config.file=/etc/promtail/config.yml"], ["/usr/bin/promtail"],
     [(9080, None, "tcp")], None,
     [("bind", "/var/lib/docker/containers", "/var/lib/docker/containers", False),
      ("bind", "/srv/{p}/promtail.yml", "/etc/promtail/config.yml", False)]),
]
PROJECTS = ["shop", "billing", "crm", "auth", "search", "media", "reports", "portal",
            "backoffice", "analytics", "mail", "chat", "wiki", "ci", "monitoring", "erp"]


MASKED = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


class Ctr:
    """One container's facts, from which the list item, the inspect document
    and events are rendered."""

    __slots__ = ("env", "idx", "id", "name", "project", "service", "number", "image",
                 "image_id", "cmd", "entrypoint", "ports", "health_cmd", "volumes",
                 "created", "state", "exit_code", "oom", "started", "finished",
                 "health", "streak", "restart_count", "pid", "ip", "mac", "net_id",
                 "endpoint_id", "sandbox", "layers", "env_vars", "labels", "restart_policy")


def make_container(rng, env_id, idx, now, net_ids):
    c = Ctr()
    c.env, c.idx = env_id, idx
    c.id = hexid("ctr", env_id, idx)
    proj_i, svc_i = divmod(idx, len(SERVICES))
    proj = PROJECTS[proj_i % len(PROJECTS)]
    if proj_i >= len(PROJECTS):
        proj = "%s%d" % (proj, proj_i // len(PROJECTS) + 1)
    svc = SERVICES[svc_i]
    c.project, c.service, c.number = proj, svc[0], 1
    c.name = "%s-%s-%d" % (proj, svc[0], c.number)
    c.image = svc[1].replace("{p}", proj)
    c.image_id = "sha256:" + hexid("img", c.image)
    c.cmd, c.entrypoint = svc[2], svc[3]
    c.ports = svc[4]
    c.health_cmd = svc[5]
    c.volumes = [(k, s.replace("{p}", proj), d, rw) for (k, s, d, rw) in svc[6]]
    c.restart_policy = rng.choice(["unless-stopped", "unless-stopped", "always", "on-failure", "no"])
    c.layers = [hexid("layer", c.image, i) for i in range(rng.randint(5, 11))]
    c.env_vars = ["TZ=Europe/Paris", "APP_ENV=production", "LOG_LEVEL=info",
                  "%s_SERVICE=%s" % (proj.upper(), svc[0]),
                  "DATABASE_URL=postgres://%s@%s-db-1:5432/%s" % (proj, proj, proj),
                  "REDIS_URL=redis://%s-cache-1:6379/0" % proj,
                  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                  "LANG=C.UTF-8"]
    c.labels = {
        "com.docker.compose.config-hash": hexid("cfg", env_id, idx),
        "com.docker.compose.container-number": "1",
        "com.docker.compose.depends_on": "" if svc[0] in ("db", "cache") else "%s-db:service_started:false" % proj,
        "com.docker.compose.image": c.image_id,
        "com.docker.compose.oneoff": "False",
        "com.docker.compose.project": proj,
        "com.docker.compose.project.config_files": "/srv/%s/docker-compose.yml" % proj,
        "com.docker.compose.project.working_dir": "/srv/%s" % proj,
        "com.docker.compose.service": svc[0],
        "com.docker.compose.version": "2.21.0",
        "maintainer": "platform-team@example.org",
        "org.opencontainers.image.created": "2023-11-%02dT10:%02d:00Z" % (rng.randint(1, 28), rng.randint(0, 59)),
        "org.opencontainers.image.revision": hexid("rev", c.image)[:40],
        "org.opencontainers.image.source": "https://git.example.org/%s/%s" % (proj, svc[0]),
        "org.opencontainers.image.version": c.image.rsplit(":", 1)[-1],
        "com.example.team": rng.choice(["payments", "core", "data", "ops", "growth"]),
        "com.example.tier": rng.choice(["frontend", "backend", "data", "infra"]),
    }
    if svc[0] in ("web", "api"):
        c.labels["traefik.enable"] = "true"
        c.labels["traefik.http.routers.%s-%s.rule" % (proj, svc[0])] = \
            "Host(`%s.example.org`) && PathPrefix(`/%s`)" % (proj, svc[0])
    c.net_id = net_ids(proj)
    c.endpoint_id = hexid("ep", env_id, idx)
    c.sandbox = hexid("sb", env_id, idx)
    c.ip = "172.%d.%d.%d" % (18 + proj_i % 12, (idx // 250) % 256, 2 + idx % 250)
    c.mac = "02:42:ac:%02x:%02x:%02x" % (18 + proj_i % 12, (idx // 250) % 256, 2 + idx % 250)
    c.restart_count = 0
    c.oom = False
    c.exit_code = 0
    c.health = None
    c.streak = 0

    # State: a steady production mix.
    r = rng.random()
    age = stable_age(rng)
    c.created = now - age - rng.randint(60, 86400)
    if r < 0.02:
        c.state = "created"
        c.started, c.finished = None, None
    elif r < 0.09:
        c.state = "exited"
        c.finished = now - stable_age(rng)
        c.started = min(c.finished - rng.randint(60, 30 * 86400), c.finished - 1)
        c.created = min(c.created, c.started - 10)
        c.exit_code = 0 if r < 0.07 else rng.choice([1, 2, 137, 143])
        c.oom = c.exit_code == 137 and rng.random() < 0.5
    elif r < 0.095:
        c.state = "paused"
        c.started, c.finished = now - age, None
    else:
        c.state = "running"
        c.started, c.finished = now - age, None
    if c.health_cmd is not None and c.state in ("running", "paused"):
        c.health = "unhealthy" if rng.random() < 0.04 else "healthy"
        c.streak = rng.randint(3, 40) if c.health == "unhealthy" else 0
    elif c.health_cmd is not None and c.state == "exited":
        c.health = "unhealthy"  # the monitor stopped (daemon/container/health.go)
        c.streak = 0
    c.pid = 0 if c.state not in ("running", "paused") else 1000 + (idx * 7919 + env_id * 31) % 4000000
    return c


def status_string(c, now):
    if c.state == "created":
        return "Created"
    if c.state == "exited":
        return "Exited (%d) %s ago" % (c.exit_code, human_duration(now - c.finished))
    if c.state == "restarting":
        return "Restarting (%d) %s ago" % (c.exit_code, human_duration(now - c.finished))
    up = "Up " + human_duration(now - c.started)
    if c.state == "paused":
        return up + " (Paused)"
    if c.health == "healthy":
        return up + " (healthy)"
    if c.health == "unhealthy":
        return up + " (unhealthy)"
    if c.health == "starting":
        return up + " (health: starting)"
    return up


def mounts(c):
    out = []
    for kind, src, dst, rw in c.volumes:
        if kind == "volume":
            out.append({"Type": "volume", "Name": src,
                        "Source": "/var/lib/docker/volumes/%s/_data" % src,
                        "Destination": dst, "Driver": "local", "Mode": "z", "RW": rw,
                        "Propagation": ""})
        else:
            out.append({"Type": "bind", "Source": src, "Destination": dst,
                        "Mode": "ro" if not rw else "", "RW": rw, "Propagation": "rprivate"})
    return out


def network_endpoint(c, aliases):
    running = c.state in ("running", "paused", "restarting")
    return {"IPAMConfig": None, "Links": None, "Aliases": aliases,
            "NetworkID": c.net_id, "EndpointID": c.endpoint_id if running else "",
            "Gateway": c.ip.rsplit(".", 2)[0] + ".0.1" if running else "",
            "IPAddress": c.ip if running else "", "IPPrefixLen": 16 if running else 0,
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "MacAddress": c.mac if running else "", "DriverOpts": None}


def list_item(c, now):
    ports = []
    running = c.state in ("running", "paused")
    for priv, pub, proto in c.ports:
        if pub is not None and running:
            ports.append({"IP": "0.0.0.0", "PrivatePort": priv, "PublicPort": pub, "Type": proto})
            ports.append({"IP": "::", "PrivatePort": priv, "PublicPort": pub, "Type": proto})
        else:
            ports.append({"PrivatePort": priv, "Type": proto})
    net = c.project + "_default"
    cmd = " ".join(c.entrypoint + c.cmd)
    return {"Id": c.id, "Names": ["/" + c.name], "Image": c.image, "ImageID": c.image_id,
            "Command": cmd, "Created": int(c.created), "Ports": ports, "Labels": c.labels,
            "State": c.state, "Status": status_string(c, now),
            "HostConfig": {"NetworkMode": net},
            "NetworkSettings": {"Networks": {net: network_endpoint(c, None)}},
            "Mounts": mounts(c)}


def health_log(c, now):
    out = []
    ok = c.health == "healthy"
    for k in range(5):
        t = now - (5 - k) * 30 - 0.2
        out.append({"Start": rfc3339nano(t), "End": rfc3339nano(t + 0.04),
                    "ExitCode": 0 if ok else 1,
                    "Output": "" if ok else
                    "curl: (7) Failed to connect to localhost port 8000 after 0 ms: Connection refused\n"})
    return out


def inspect_doc(c, now):
    running = c.state in ("running", "paused", "restarting")
    state = {"Status": c.state, "Running": running, "Paused": c.state == "paused",
             "Restarting": c.state == "restarting", "OOMKilled": c.oom, "Dead": False,
             "Pid": c.pid if c.state in ("running", "paused") else 0,
             "ExitCode": c.exit_code, "Error": "",
             "StartedAt": rfc3339nano(c.started) if c.started else ZERO_TIME,
             "FinishedAt": rfc3339nano(c.finished) if c.finished else ZERO_TIME}
    if c.health is not None:
        state["Health"] = {"Status": c.health, "FailingStreak": c.streak, "Log": health_log(c, now)}
    croot = "/var/lib/docker/containers/" + c.id
    net = c.project + "_default"
    port_bindings, exposed, ns_ports = {}, {}, {}
    for priv, pub, proto in c.ports:
        key = "%d/%s" % (priv, proto)
        exposed[key] = {}
        if pub is not None:
            port_bindings[key] = [{"HostIp": "", "HostPort": str(pub)}]
            ns_ports[key] = [{"HostIp": "0.0.0.0", "HostPort": str(pub)},
                             {"HostIp": "::", "HostPort": str(pub)}] if running else None
        elif running:
            ns_ports[key] = None
    binds = ["%s:%s:%s" % (s, d, "rw" if rw else "ro") for (k, s, d, rw) in c.volumes]
    lower = ":".join(["/var/lib/docker/overlay2/%s-init/diff" % hexid("init", c.id)] +
                     ["/var/lib/docker/overlay2/%s/diff" % l for l in c.layers])
    upper = "/var/lib/docker/overlay2/" + hexid("init", c.id)
    host_config = {
        "Binds": binds, "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": {"max-file": "3", "max-size": "10m"}},
        "NetworkMode": net, "PortBindings": port_bindings,
        "RestartPolicy": {"Name": c.restart_policy, "MaximumRetryCount": 0},
        "AutoRemove": False, "VolumeDriver": "", "VolumesFrom": None, "CapAdd": None,
        "CapDrop": None, "CgroupnsMode": "host", "Dns": [], "DnsOptions": [], "DnsSearch": [],
        "ExtraHosts": ["host.docker.internal:host-gateway"], "GroupAdd": None,
        "IpcMode": "private", "Cgroup": "", "Links": None, "OomScoreAdj": 0, "PidMode": "",
        "Privileged": False, "PublishAllPorts": False, "ReadonlyRootfs": False,
        "SecurityOpt": None, "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864,
        "Runtime": "runc", "ConsoleSize": [0, 0], "Isolation": "", "CpuShares": 0,
        "Memory": 536870912, "NanoCpus": 1000000000, "CgroupParent": "", "BlkioWeight": 0,
        "BlkioWeightDevice": None, "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None,
        "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None, "CpuPeriod": 0,
        "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "",
        "CpusetMems": "", "Devices": None, "DeviceCgroupRules": None, "DeviceRequests": None,
        "KernelMemory": 0, "KernelMemoryTCP": 0, "MemoryReservation": 0,
        "MemorySwap": 1073741824, "MemorySwappiness": None, "OomKillDisable": False,
        "PidsLimit": None, "Ulimits": None, "CpuCount": 0, "CpuPercent": 0,
        "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "MaskedPaths": MASKED,
        "ReadonlyPaths": READONLY}
    config = {"Hostname": c.id[:12], "Domainname": "", "User": "",
              "AttachStdin": False, "AttachStdout": True, "AttachStderr": True,
              "ExposedPorts": exposed or None, "Tty": False, "OpenStdin": False,
              "StdinOnce": False, "Env": c.env_vars, "Cmd": c.cmd, "Image": c.image,
              "Volumes": {d: {} for (k, s, d, rw) in c.volumes if k == "volume"} or None,
              "WorkingDir": "/app", "Entrypoint": c.entrypoint, "OnBuild": None,
              "Labels": c.labels}
    if c.health_cmd is not None:
        config["Healthcheck"] = {"Test": ["CMD-SHELL", c.health_cmd], "Interval": 30000000000,
                                 "Timeout": 5000000000, "Retries": 3}
    ordered_config = {}
    for k in ["Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr",
              "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck",
              "Image", "Volumes", "WorkingDir", "Entrypoint", "OnBuild", "Labels"]:
        if k in config and not (k == "ExposedPorts" and config[k] is None):
            ordered_config[k] = config[k]
    netset = {"Bridge": "", "SandboxID": c.sandbox if running else "",
              "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
              "Ports": ns_ports, "SandboxKey": "/var/run/docker/netns/" + c.sandbox[:12] if running else "",
              "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None, "EndpointID": "",
              "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
              "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
              "Networks": {net: network_endpoint(c, [c.name, c.service, c.id[:12]])}}
    return {"Id": c.id, "Created": rfc3339nano(c.created), "Path": c.entrypoint[0],
            "Args": c.entrypoint[1:] + c.cmd, "State": state, "Image": c.image_id,
            "ResolvConfPath": croot + "/resolv.conf", "HostnamePath": croot + "/hostname",
            "HostsPath": croot + "/hosts", "LogPath": "%s/%s-json.log" % (croot, c.id),
            "Name": "/" + c.name, "RestartCount": c.restart_count, "Driver": "overlay2",
            "Platform": "linux", "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
            "ExecIDs": None, "HostConfig": host_config,
            "GraphDriver": {"Data": {"LowerDir": lower, "MergedDir": upper + "/merged",
                                     "UpperDir": upper + "/diff", "WorkDir": upper + "/work"},
                            "Name": "overlay2"},
            "Mounts": mounts(c), "Config": ordered_config, "NetworkSettings": netset}


def event(c, action, t, extra=None):
    attrs = dict(c.labels)
    if extra:
        attrs.update(extra)
    attrs["image"] = c.image
    attrs["name"] = c.name
    ev = {"status": action, "id": c.id, "from": c.image, "Type": "container",
          "Action": action, "Actor": {"ID": c.id, "Attributes": attrs},
          "scope": "local", "time": int(t), "timeNano": int(t * 1e9)}
    return go_json(ev)


# --------------------------------------------------------------------------
# Portainer environments (CE 2.23, excludeSnapshots=true).

def endpoint_item(env_id, name, etype, now):
    e = {"Id": env_id, "Name": name, "Type": etype, "ContainerEngine": "docker",
         "URL": {1: "unix:///var/run/docker.sock", 2: "tcp://%s.agents.example.org:9001" % name,
                 4: "portainer.example.org:9443"}[etype],
         "GroupId": 1 + env_id % 7, "PublicURL": "", "Gpus": [],
         "TLSConfig": {"TLS": etype == 2, "TLSSkipVerify": etype == 2},
         "AzureCredentials": {"ApplicationID": "", "TenantID": "", "AuthenticationKey": ""},
         "TagIds": [1 + env_id % 5, 6 + env_id % 3], "Status": 1, "Snapshots": [],
         "UserAccessPolicies": {}, "TeamAccessPolicies": {"2": {"RoleId": 3}}}
    if etype == 4:
        e["EdgeID"] = "%s-%s-%s-%s-%s" % tuple(hexid("edge", env_id)[i:j] for i, j in
                                                ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32)))
    e.update({
        "EdgeKey": "", "EdgeCheckinInterval": 5,
        "Kubernetes": {"Snapshots": [],
                       "Configuration": {"UseLoadBalancer": False, "UseServerMetrics": False,
                                         "EnableResourceOverCommit": True,
                                         "ResourceOverCommitPercentage": 80,
                                         "StorageClasses": None, "IngressClasses": None,
                                         "RestrictDefaultNamespace": False,
                                         "IngressAvailabilityPerNamespace": True,
                                         "AllowNoneIngressClass": False},
                       "Flags": {"IsServerMetricsDetected": False,
                                 "IsServerIngressClassDetected": False,
                                 "IsServerStorageDetected": False}},
        "ComposeSyntaxMaxVersion": "3.9",
        "SecuritySettings": {"allowBindMountsForRegularUsers": True,
                             "allowPrivilegedModeForRegularUsers": True,
                             "allowVolumeBrowserForRegularUsers": False,
                             "allowHostNamespaceForRegularUsers": True,
                             "allowDeviceMappingForRegularUsers": True,
                             "allowStackManagementForRegularUsers": True,
                             "allowContainerCapabilitiesForRegularUsers": True,
                             "allowSysctlSettingForRegularUsers": False,
                             "enableHostManagementFeatures": False},
        "LastCheckInDate": int(now) - 3 if etype == 4 else 0,
        "QueryDate": int(now) if etype == 4 else 0, "Heartbeat": etype == 4})
    if etype == 4:
        e["UserTrusted"] = True
    e.update({"PostInitMigrations": {"MigrateIngresses": True, "MigrateGPUs": True},
              "Edge": {"AsyncMode": False, "PingInterval": 0, "SnapshotInterval": 0,
                       "CommandInterval": 0},
              "Agent": {"Version": "2.23.0" if etype in (2, 4) else ""},
              "AuthorizedUsers": None, "AuthorizedTeams": None, "Tags": None})
    return e


# --------------------------------------------------------------------------
# The 1% change, and its reversal.

def change(c, now, rng):
    """Mutates c into a changed container; returns the events (JSON lines)
    a daemon would have logged for it."""
    t = now - 2
    evs = []
    if c.state == "running" and c.health == "healthy":
        c.health, c.streak = "unhealthy", 3
        evs.append(event(c, "health_status: unhealthy", t))
    elif c.state == "running":
        k = c.idx % 3
        if k == 0:  # died
            c.state, c.finished, c.exit_code, c.pid = "exited", t, 1, 0
            evs.append(event(c, "die", t, {"exitCode": "1"}))
        elif k == 1:  # restarted by its policy
            c.restart_count += 1
            c.finished, c.started = t - 1, t
            evs.append(event(c, "die", t - 1, {"exitCode": "137"}))
            evs.append(event(c, "start", t))
        else:  # crash loop
            c.state, c.finished, c.exit_code = "restarting", t, 2
            c.restart_count += 4
            evs.append(event(c, "die", t, {"exitCode": "2"}))
    elif c.state in ("exited", "created"):
        c.state, c.started, c.finished, c.exit_code, c.oom = "running", t, None, 0, False
        c.pid = 4000 + c.idx
        if c.health is not None:
            c.health, c.streak = "starting", 0
        evs.append(event(c, "start", t))
    elif c.state == "paused":
        c.state = "running"
        evs.append(event(c, "unpause", t))
    return evs


# --------------------------------------------------------------------------

def write(path, data):
    with open(path, "w", encoding="utf-8") as f:
        f.write(data)


def generate(args):
    now = time.time()
    out = args.out
    if os.path.exists(out):
        shutil.rmtree(out)
    for d in ("base/endpoints", "changed", "revert", "none", "streams", "urls"):
        os.makedirs(os.path.join(out, d))
    os.symlink("none", os.path.join(out, "cur"))
    rng = random.Random(args.seed)
    page_sizes = sorted({int(x) for x in args.page_sizes.split(",") if x})
    n_env, per_env = args.envs, args.containers

    # Environments: mostly agents, some Edge, a few local sockets.
    envs = []
    for i in range(n_env):
        env_id = i + 1
        etype = 1 if i % 20 == 0 else (4 if i % 5 == 4 else 2)
        region = ["eu-west", "eu-central", "us-east", "us-west", "ap-south"][i % 5]
        envs.append((env_id, "%s-%s-%03d" % ("prod" if i % 4 else "staging", region, env_id), etype))

    bytes_pages = bytes_lists = bytes_inspects = 0
    lists_stream = open(os.path.join(out, "streams", "lists.json"), "w", encoding="utf-8")
    all_stream = open(os.path.join(out, "streams", "all.json"), "w", encoding="utf-8")
    url_lists = open(os.path.join(out, "urls", "lists.txt"), "w")
    url_all = open(os.path.join(out, "urls", "all.txt"), "w")

    items = [endpoint_item(eid, name, et, now) for (eid, name, et) in envs]
    for limit in page_sizes:
        for start in range(1, max(n_env, 1) + 1, limit):
            doc = go_json(items[start - 1:start - 1 + limit])
            write(os.path.join(out, "base/endpoints/p_%d_%d.json" % (start, limit)), doc)
            if limit == args.page_size:
                bytes_pages += len(doc.encode())
                lists_stream.write(doc + "\n")
                all_stream.write(doc + "\n")
                path = "/api/endpoints?start=%d&limit=%d&excludeSnapshots=true" % (start, limit)
                url_lists.write(path + "\n")
                url_all.write(path + "\n")

    # Which containers change: 1% of all, spread over the fleet.
    total = n_env * per_env
    n_changed = int(round(total * args.changed_pct / 100.0))
    changed = set(rng.sample(range(total), n_changed)) if n_changed else set()
    changed_envs = 0

    for (env_id, name, etype) in envs:
        edir = os.path.join(out, "base", "e%d" % env_id)
        os.makedirs(os.path.join(edir, "c"))
        nets = {}

        def net_ids(proj, env_id=env_id):
            return nets.setdefault(proj, hexid("net", env_id, proj))

        ctrs = [make_container(rng, env_id, k, now, net_ids) for k in range(per_env)]
        lst = go_json([list_item(c, now) for c in ctrs])
        write(os.path.join(edir, "list.json"), lst)
        write(os.path.join(edir, "events.json"), "")
        bytes_lists += len(lst.encode())
        lists_stream.write(lst + "\n")
        all_stream.write(lst + "\n")
        lpath = "/api/endpoints/%d/docker/containers/json?all=1" % env_id
        url_lists.write(lpath + "\n")
        url_all.write(lpath + "\n")
        for c in ctrs:
            doc = go_json(inspect_doc(c, now))
            write(os.path.join(edir, "c", c.id + ".json"), doc)
            bytes_inspects += len(doc.encode())
            all_stream.write(doc + "\n")
            url_all.write("/api/endpoints/%d/docker/containers/%s/json\n" % (env_id, c.id))

        mine = [c for c in ctrs if (env_id - 1) * per_env + c.idx in changed]
        if not mine:
            continue
        changed_envs += 1
        cdir = os.path.join(out, "changed", "e%d" % env_id)
        rdir = os.path.join(out, "revert", "e%d" % env_id)
        os.makedirs(os.path.join(cdir, "c"))
        os.makedirs(rdir)
        fwd, back = [], []
        for c in mine:
            before = dict(state=c.state, health=c.health)
            fwd += change(c, now, rng)
            write(os.path.join(cdir, "c", c.id + ".json"), go_json(inspect_doc(c, now)))
            # Back to the base documents: the reverse events.
            if before["state"] != c.state:
                back.append(event(c, "start" if before["state"] == "running" else "die",
                                  now - 1))
            else:
                back.append(event(c, "health_status: %s" % before["health"], now - 1))
        write(os.path.join(cdir, "list.json"), go_json([list_item(c, now) for c in ctrs]))
        write(os.path.join(cdir, "events.json"), "\n".join(fwd) + "\n")
        write(os.path.join(rdir, "events.json"), "\n".join(back) + "\n")

    for f in (lists_stream, all_stream, url_lists, url_all):
        f.close()
    manifest = {
        "generated_at": now, "seed": args.seed, "envs": n_env, "containers_per_env": per_env,
        "containers": total, "page_size": args.page_size, "page_sizes": page_sizes,
        "pages": (n_env + args.page_size - 1) // args.page_size if n_env else 1,
        "changed_containers": n_changed, "changed_envs": changed_envs,
        "bytes": {"pages": bytes_pages, "lists": bytes_lists, "inspects": bytes_inspects},
    }
    write(os.path.join(out, "manifest.json"), json.dumps(manifest, indent=1) + "\n")
    return manifest


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output directory (replaced)")
    ap.add_argument("--envs", type=int, required=True, help="Docker environments")
    ap.add_argument("--containers", type=int, required=True, help="containers per environment")
    ap.add_argument("--page-size", type=int, default=100,
                    help="the page size the client uses (streams and url lists)")
    ap.add_argument("--page-sizes", default="100,20,10", help="page files to write")
    ap.add_argument("--changed-pct", type=float, default=1.0,
                    help="percentage of containers the 'changed' overlay changes")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    if args.envs < 0 or args.containers < 0 or args.envs > 100000 or args.containers > 100000:
        ap.error("sizes out of range")
    if str(args.page_size) not in args.page_sizes.split(","):
        args.page_sizes += ",%d" % args.page_size
    t0 = time.time()
    m = generate(args)
    b = m["bytes"]
    print("fleet %s: %d envs x %d containers, pages %.1f kB, lists %.1f MB, inspects %.1f MB,"
          " %d changed in %d envs (%.1f s)" %
          (args.out, m["envs"], m["containers_per_env"], b["pages"] / 1e3, b["lists"] / 1e6,
           b["inspects"] / 1e6, m["changed_containers"], m["changed_envs"], time.time() - t0),
          file=sys.stderr)


if __name__ == "__main__":
    main()
