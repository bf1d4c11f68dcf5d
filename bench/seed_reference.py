#!/usr/bin/python3
"""seed_reference.py: the seeds' approach to the same poll, as a reference.

Python 3 with requests (Debian's python3-requests), strictly sequential, as
the exporters in ../shared/seeds/ poll: the environment list, then for every
Docker environment its container list and one inspect per container, each
answer decoded with .json() and reduced to state, health and restart count.
One requests.Session is kept for the whole run (connections are reused),
which is the kindest reading of "the seeds' approach".

--max-envs N polls only the first N environments (a sample, for fleets where
the whole run would take too long); the caller scales the result.

Prints one JSON object: wall and CPU seconds, peak RSS, requests, containers.
"""

import argparse
import json
import resource
import sys
import time

import requests

STATES = {"exited": 0, "running": 1, "paused": 2, "created": 3, "restarting": 4, "dead": 5}
HEALTH = {"none": 0, "healthy": 1, "unhealthy": 2, "starting": 3}


def poll(session, base, page_size, max_envs):
    requests_sent = 0
    envs = []
    start = 1
    for _ in range(10000):  # bounded: 10000 pages at most
        r = session.get(base + "/api/endpoints",
                        params={"start": start, "limit": page_size, "excludeSnapshots": "true"},
                        timeout=30)
        requests_sent += 1
        r.raise_for_status()
        page = r.json()
        envs += [e for e in page if e.get("Type") in (1, 2, 4)]
        total = int(r.headers.get("X-Total-Count", "0"))
        start += page_size
        if not page or start > total:
            break
    if max_envs:
        envs = envs[:max_envs]

    metrics = []
    containers = 0
    for env in envs:
        url = "%s/api/endpoints/%d/docker" % (base, env["Id"])
        r = session.get(url + "/containers/json", params={"all": 1}, timeout=30)
        requests_sent += 1
        r.raise_for_status()
        for c in r.json():
            containers += 1
            r2 = session.get("%s/containers/%s/json" % (url, c["Id"]), timeout=30)
            requests_sent += 1
            if r2.status_code == 404:
                continue
            r2.raise_for_status()
            d = r2.json()
            st = d.get("State") or {}
            health = (st.get("Health") or {}).get("Status", "none")
            metrics.append((env["Name"], c["Names"][0].lstrip("/"), c.get("Image", ""),
                            STATES.get(st.get("Status"), 6), HEALTH.get(health, 0),
                            d.get("RestartCount", 0)))
    return requests_sent, len(envs), containers, len(metrics)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="Portainer base URL")
    ap.add_argument("--token", default="ptr_benchmarkbenchmarkbenchmarkbenchmarkbench=")
    ap.add_argument("--page-size", type=int, default=100)
    ap.add_argument("--max-envs", type=int, default=0, help="sample: first N environments")
    ap.add_argument("--label", default="python")
    args = ap.parse_args()

    session = requests.Session()
    session.headers["X-API-Key"] = args.token
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    reqs, envs, containers, values = poll(session, args.url, args.page_size, args.max_envs)
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    print(json.dumps({"label": args.label, "wall": wall, "cpu": cpu, "maxrss_kb": ru1.ru_maxrss,
                      "requests": reqs, "envs": envs, "containers": containers,
                      "values": values, "sampled_envs": args.max_envs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
