#!/usr/bin/env python3
"""Regenerates fuzz/corpus/<harness>/ from tests/fixtures/ (the real responses
recorded from dockerd and Portainer) plus a few hand-written seeds.

Python 3 standard library only.  Run from anywhere:
    python3 fuzz/make_seeds.py
Only small files are written (events.json is split into short streams).
"""
import glob
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "tests", "fixtures")
CORPUS = os.path.join(HERE, "corpus")
MAX_SEED = 12 * 1024


def put(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_SEED:
        raise SystemExit("seed %s/%s too large (%d)" % (harness, name, len(data)))
    with open(os.path.join(d, name), "wb") as fh:
        fh.write(data)


def fixture(name):
    with open(os.path.join(FIX, name), "rb") as fh:
        return fh.read()


def main():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)

    # Container lists.
    for name in ["list_all.json", "docker_api152_containers_json_item.json",
                 "docker_proxy_containers_json_agent_swarm.json"]:
        put("list", name, fixture(name))
    put("list", "empty.json", "[]")

    # Inspect documents.
    for path in sorted(glob.glob(os.path.join(FIX, "inspect_*.json"))):
        put("inspect", os.path.basename(path), fixture(os.path.basename(path)))

    # Events: short streams cut from the recording, one per kind of event.
    lines = [l for l in fixture("events.json").split(b"\n") if l.strip()]
    seen = {}
    for l in lines:
        ev = json.loads(l)
        key = (ev.get("Type"), ev.get("Action", "").split(":")[0])
        seen.setdefault(key, l)
    for i, (key, l) in enumerate(sorted(seen.items())):
        put("events", "event_%02d_%s_%s.json" % (i, key[0], key[1]), l + b"\n")
    put("events", "stream_head.json", b"\n".join(lines[:12]) + b"\n")
    put("events", "stream_concat.json", b"".join(lines[12:20]))
    put("events", "empty.json", "")

    # Environment lists.
    for name in ["endpoints_list_excludeSnapshots.json",
                 "endpoints_list_with_snapshot.json"]:
        put("endpoints", name, fixture(name))
    put("endpoints", "empty.json", "[]")

    # Error bodies, auth responses, credentials (user NUL password), ids.
    put("errors", "error_404.json", fixture("error_404.json"))
    put("errors", "portainer_error.json",
        '{"message":"Unable to find an environment","details":"object not found inside the database"}')
    put("errors", "portainer_auth_422.json",
        '{"message":"Invalid credentials","details":"Unauthorized"}')
    put("errors", "libhttp_err.json", '{"err":"Access denied to resource"}')
    put("errors", "auth_ok.json",
        '{"jwt":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6MSwidXNlcm5hbWUiOiJhZG1pbiJ9.c2lnbmF0dXJl"}')
    put("errors", "credentials.bin", b"admin\x00s3cr\"et\\pa\nss")
    put("errors", "container_id.txt",
        "4bab8c78b5f2f3f58c622aa6a6dfbead5af3bff68273b108a5fc62acb53024e9")

    # Status strings and times seen in the recordings.
    n = 0
    for name in ["list_all.json", "docker_api152_containers_json_item.json",
                 "docker_proxy_containers_json_agent_swarm.json"]:
        doc = json.loads(fixture(name))
        for item in doc if isinstance(doc, list) else [doc]:
            if isinstance(item, dict) and isinstance(item.get("Status"), str):
                put("status_time", "status_%02d.txt" % n, item["Status"])
                n += 1
    times = set()
    for path in sorted(glob.glob(os.path.join(FIX, "inspect_*.json"))):
        st = json.loads(fixture(os.path.basename(path)))["State"]
        times.add(st["StartedAt"])
        times.add(st["FinishedAt"])
        if isinstance(st.get("Health"), dict):
            for entry in st["Health"].get("Log") or []:
                times.add(entry.get("Start", ""))
    times.add("2024-02-29T23:59:60+01:00")
    for i, t in enumerate(sorted(times)):
        put("status_time", "time_%02d.txt" % i, t)
    for s in ["running", "exited", "paused", "Removal In Progress", "Dead",
              "healthy", "unhealthy", "starting", "none"]:
        put("status_time", "word_%s.txt" % s.replace(" ", "_"), s)

    # Identities: name \t image \t label \t node \t id, one container a line.
    put("identity", "distinct.txt",
        "web\tnginx:1.25\tops\tnode1\t4bab8c78b5f2f3f58c622aa6a6dfbead5af3bff68273b108a5fc62acb53024e9\n"
        "db\tregistry.example.org/team/app:1.2\t\t\te2905b301443d738d6917dfbd09f78a4735d124e93eb2042757f928e77610ced\n")
    put("identity", "same_name.txt",
        "web\tnginx\tops\tnode1\t\nweb\tnginx\tops\tnode2\t\nweb\tnginx\tops\tnode2\t\nweb\tnginx\t\t\t\n")
    put("identity", "long.txt",
        ("x" * 200) + "a\tlocalhost:5000/deep/path/to/some_image-name.x:v1.0.0-rc.1\t\t" + ("n" * 100) + "\t\n" +
        ("x" * 200) + "b\tbb\t\t\t\n" + "caf\xe9\t\xe2\x82\xac\t\"q\\\t\x01\t\n")

    # Configuration blocks (see fuzz_config.c for the line format).
    put("config", "portainer_token.txt",
        'Portainer "main"\nURL "http://127.0.0.1:9000/"\nToken "ptr_abcdef"\n'
        'Timeout 2000\nInterval 10\nPageSize 50\nEndpointInclude "^prod"\n'
        'ContainerExclude "^tmp-"\nShard "2/4"\nTypeInstance "label:com.example.team"\n'
        'Collect "state" "health" "uptime"\n')
    put("config", "portainer_login.txt",
        'Portainer "pt"\nURL "https://portainer.example:9443"\nUsername "admin"\n'
        'Password "hunter2-pass"\nVerifyPeer false\nCACert "ca.pem"\n'
        'MaxResponseSize 1048576\nMaxConcurrentRequests 4\nFullInspectEvery 5\n')
    put("config", "portainer_tokenfile.txt",
        'Portainer "tf"\nURL "http://127.0.0.1:9000"\nTokenFile "token_open"\n')
    put("config", "docker_socket.txt",
        'Docker "local"\nSocket "/run/docker.sock"\nHost "node-a"\nTypeInstance "none"\n'
        'ContainerInclude "web|db"\nVerifyHost false\n')
    put("config", "docker_tls.txt",
        'Docker "tcp"\nURL "https://127.0.0.1:2376"\nClientCert "ca.pem"\nClientKey "ca.pem"\n'
        'Timeout 100 200\n Nested 1\n')
    put("config", "bad_mix.txt",
        'Docker "bad"\nToken "x"\nShard "1/2"\nCollect "nope"\nSocket 3\n')

    # Log lines (see fuzz_redact.c for the byte format): secrets, then
    # pieces.  A 5-byte secret ending a 1024-byte line, one straddling a
    # cut, and secrets of 1, 2 and 3 bytes.
    def u16(v):
        return bytes([v >> 8, v & 0xff])

    def planted(fill, at, cut, trim=0):
        return bytes([2]) + u16(fill) + bytes([0]) + u16(at) + u16(cut) + \
            b"f" * fill + bytes([trim])

    one = bytes([0, 4]) + b"QZXJV"
    put("redact", "end_of_line.bin", one + bytes([0, 3]) + b"x: " + planted(1016, 1016, 1021))
    put("redact", "straddling.bin", one + bytes([0, 3]) + b"x: " + planted(1016, 1016, 1018))
    put("redact", "short.bin", bytes([2, 0]) + b"Q" + bytes([1]) + b"ZX" + bytes([2]) + b"JVK" +
        bytes([1]) + u16(20) + b"bad key Q ZX JVK JV." + bytes([1]) +
        bytes([3]) + u16(6) + b"got JV" + bytes([4]) + u16(9) + b"ZX..QZX.J" + u16(8))


if __name__ == "__main__":
    main()
