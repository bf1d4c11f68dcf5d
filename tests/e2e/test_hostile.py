#!/usr/bin/env python3
"""Hostile servers and secrets (issue 9), against the real collectd 5.12
loading the built portainer.so, scraped through write_prometheus.

    python3 tests/e2e/test_hostile.py --build-dir DIR [--run-dir DIR] [--keep]

Cases (docs/FAULTS.md, "Hostile servers and secrets"):

  - servers that echo the credentials they receive (fault_server.py's
    ``echo``), with the secret placed where lines used to be cut: a
    5-character token ending a 1024-byte line (crashed collectd), a token
    straddling the 511-byte cut of the server's message, a 2-character token
    and a 3-character password;
  - paging: a server that ignores start and limit and resends the same page
    without X-Total-Count; a page with malformed entries followed by more;
  - a base URL with a 3000-byte path prefix, through a real nginx reverse
    proxy (login, pages, lists, events, inspects);
  - warnings: credentials over http:// to a host that is not loopback (a name
    that the collectd's own mount namespace maps to 127.0.0.1 in its hosts
    file; its resolv.conf points at 127.0.0.1, so nothing leaves loopback);
    a Token or Password written inline in a configuration file others can
    read (directly, or in a file it includes), none for a 0600 file, and
    TokenFile unchanged.

Every process this suite starts is stopped by its PID, also on failure.
Prints one line per check and "N passed, N failed[, N skipped]".
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fault_server as fsv  # noqa: E402
import harness  # noqa: E402
from harness import Collectd, Metrics, check, eventually, free_port  # noqa: E402

# Upper-case letters and digits: the fillers below are lower case.
TOKEN_END = "QZ7XW"                                 # 5 characters
TOKEN_CUT = "QZXJVKWYPBGM0123456789QZXJVKWYPBGM0123"  # 38 characters
TOKEN_SHORT = "QZ"
PASSWORD_SHORT = "Q9X"
TOKEN_LONGURL = "ptr_HostileLongUrlNotUsed"
PASSWORD_LONGURL = "hostile-long-url-password-31"
TOKEN_REMOTE = "ptr_HostileRemoteToken0001"
TOKEN_INLINE = "ptr_HostileInlineToken0002"
PASSWORD_INLINE = "hostile-inline-password-0003"
TOKEN_FILE = "ptr_HostileTokenFile0004"
SECRETS = [TOKEN_END, TOKEN_CUT, TOKEN_SHORT, PASSWORD_SHORT, PASSWORD_LONGURL,
           TOKEN_REMOTE, TOKEN_INLINE, PASSWORD_INLINE, TOKEN_FILE]
PREFIX = "/" + "".join(chr(ord("a") + i % 26) for i in range(3000))
CID = "c0ffee" + "0" * 58


def block(kind, name, **opts):
    lines = ['  <%s "%s">' % (kind, name)]
    for k, v in opts.items():
        lines.append('    %s %s' % (k, v if isinstance(v, int) else '"%s"' % v))
    lines.append("  </%s>" % kind)
    return "\n".join(lines)


def lines_of(cd, needle):
    return [ln for ln in cd.read_log().splitlines() if needle in ln]


class Suite:
    def __init__(self, args, run_dir):
        self.args = args
        self.run_dir = run_dir
        self.started = []  # stopped by harness.run_and_stop, last first

    def keep(self, thing):
        self.started.append(thing)
        return thing

    def server(self, envs, rules=None, **data):
        item, insp = fsv.container("h-web", CID, restart_count=3)
        data.setdefault("containers", [item])
        data.setdefault("inspects", {CID: insp})
        srv = self.keep(fsv.FaultServer("portainer", envs=envs, **data).start())
        ctl = fsv.FaultClient(srv.url)
        if rules:
            ctl.set_rules(rules)
        return srv, ctl

    def collectd(self, name, conf, prefix=None):
        return Collectd(self.run_dir, name, self.args.build_dir, conf, free_port(),
                        prefix=prefix)

    def start(self, cd):
        self.keep(cd)
        try:
            cd.start()
            return True
        except RuntimeError as e:
            check("%s: collectd starts" % os.path.basename(cd.dir), False, str(e)[-500:])
            return False

    # -- the world -----------------------------------------------------------------

    def nginx(self, upstream_port):
        d = os.path.join(self.run_dir, "nginx")
        os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
        port = free_port()
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""user root root;
worker_processes 1;
daemon off;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events { worker_connections 64; }
http {
  access_log %(d)s/access.log;
  client_body_temp_path %(d)s/tmp/body;
  proxy_temp_path %(d)s/tmp/proxy;
  fastcgi_temp_path %(d)s/tmp/fastcgi;
  uwsgi_temp_path %(d)s/tmp/uwsgi;
  scgi_temp_path %(d)s/tmp/scgi;
  large_client_header_buffers 4 16k;
  server {
    listen 127.0.0.1:%(port)d;
    location %(prefix)s/ {
      proxy_pass http://127.0.0.1:%(up)d/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
""" % {"d": d, "port": port, "prefix": PREFIX, "up": upstream_port})
        proc = subprocess.Popen(["nginx", "-p", d, "-c", conf], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                start_new_session=True)

        class Proc:
            def stop(self):
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(timeout=10)
        self.keep(Proc())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                with open(os.path.join(d, "error.log")) as f:
                    raise RuntimeError("nginx exited: " + f.read()[-1000:])
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return "http://127.0.0.1:%d%s" % (port, PREFIX)
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nginx never listened")

    def netns(self):
        """unshare -m with a resolv.conf that points at 127.0.0.1 and a hosts
        file mapping portainer-remote.test to 127.0.0.1."""
        resolv = os.path.join(self.run_dir, "resolv.conf")
        with open(resolv, "w") as f:
            f.write("# test_hostile: lookups stay on loopback\n"
                    "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        hosts = os.path.join(self.run_dir, "hosts")
        with open(hosts, "w") as f:
            f.write("127.0.0.1 localhost\n127.0.0.1 portainer-remote.test\n")
        return ["unshare", "-m", "--propagation", "private", "--", "sh", "-c",
                'mount --bind "$1" /etc/resolv.conf && mount --bind "$2" /etc/hosts '
                '&& shift 2 && exec "$@"', "sh", resolv, hosts]

    # -- cases -----------------------------------------------------------------------

    def run(self):
        env = fsv.env
        echo_rule = {"match": r"^/api/endpoints", "action": "echo", "status": 401}

        # Echoes (items 1 and 2).
        cut_srv, _ = self.server([env(1, "h-cut")], [dict(echo_rule, pad="p" * 494)])
        short_srv, _ = self.server([env(1, "h-short")], [echo_rule])
        pw_srv, _ = self.server([env(1, "h-pw")], [
            {"match": r"^/api/auth", "action": "echo", "status": 422}])
        end_srv, _ = self.server([env(1, "h-end")], [dict(echo_rule, pad="p" * 490)])

        # Paging (item 5).
        two = [env(1, "pr-a"), env(2, "pr-b")]
        pr_srv, pr_ctl = self.server(two, [{"match": r"^/api/endpoints\?", "action": "status",
                                            "status": 200, "body": fsv._dumps(two).decode()}])
        pm_envs = [env(1, "pm-a"), env(4, "pm-d")]
        pm_page1 = [pm_envs[0], {"Id": "2", "Name": "string id", "Type": 1},
                    {"Name": "no id", "Type": 1}]
        pm_srv, _ = self.server(pm_envs, [
            {"match": r"^/api/endpoints\?start=1&", "action": "status", "status": 200,
             "body": fsv._dumps(pm_page1).decode()},
            {"match": r"^/api/endpoints\?start=4&", "action": "status", "status": 200,
             "body": fsv._dumps([pm_envs[1]]).decode()}])

        # A long base URL through nginx (item 6).
        lu_srv, lu_ctl = self.server([env(1, "lu-env")], users={"admin": PASSWORD_LONGURL},
                                     jwt="long.url.jwt", api_keys=[TOKEN_LONGURL])
        try:
            lu_url = self.nginx(lu_srv.port)
        except (OSError, RuntimeError) as e:
            check("nginx starts", False, str(e))
            lu_url = None

        # Credentials to a host that is not loopback (item 4).
        rm_srv, _ = self.server([env(1, "rm-env")])

        conf = "\n".join([
            block("Portainer", "h_cut", URL=cut_srv.url, Token=TOKEN_CUT),
            block("Portainer", "h_short", URL=short_srv.url, Token=TOKEN_SHORT),
            block("Portainer", "h_pw", URL=pw_srv.url, Username="admin",
                  Password=PASSWORD_SHORT),
            block("Portainer", "h_pr", URL=pr_srv.url, Token="ptr_pr", PageSize=2),
            block("Portainer", "h_pm", URL=pm_srv.url, Token="ptr_pm", PageSize=3),
            block("Portainer", "h_remote",
                  URL="http://portainer-remote.test:%d" % rm_srv.port, Token=TOKEN_REMOTE),
            block("Portainer", "h_local", URL=rm_srv.url, Token=TOKEN_REMOTE),
        ] + ([block("Portainer", "h_long", URL=lu_url, Username="admin",
                    Password=PASSWORD_LONGURL)] if lu_url else []))
        main = self.collectd("main", conf, prefix=self.netns())
        os.chmod(main.conf, 0o600)
        # The crash: a collectd of its own (it took every source down).
        end_name = "e" + "n" * 492
        end = self.collectd("end", block("Portainer", end_name, URL=end_srv.url,
                                         Token=TOKEN_END))
        os.chmod(end.conf, 0o600)
        inline = self.inline_collectds(rm_srv.url)

        up_main = self.start(main)
        up_end = self.start(end)
        up_inline = [self.start(cd) for cd, _ in inline]

        if up_end:
            self.check_end(end, end_name)
        if up_main:
            self.check_echoes(main)
            self.check_paging(main, pr_ctl)
            self.check_cleartext(main)
            if lu_url:
                self.check_long_url(main, lu_ctl)
        for (cd, expect), up in zip(inline, up_inline):
            if up:
                expect(cd)
        self.check_no_secret([main, end] + [cd for cd, _ in inline])

    # -- echoes ------------------------------------------------------------------------

    def check_end(self, cd, name):
        """A 5-character token ending exactly at byte 1023 of the plugin's
        line: redact() called memmove with a negative size."""
        line = 'source "%s": HTTP 401' % name

        def logged():
            return len(lines_of(cd, line)) >= 1, "no error line yet"
        eventually("echo: a 5-character token ending a 1024-byte line: logged", logged)
        time.sleep(3 * harness.INTERVAL)  # more polls
        check("echo: ... collectd survives polls that echo it", cd.alive(),
              "collectd exited: %s" % cd.read_log()[-500:])
        check("echo: ... logged once", len(lines_of(cd, line)) == 1,
              "%d lines" % len(lines_of(cd, line)))

    def echo_line(self, cd, src, name, timeout=25):
        lines = []

        def logged():
            lines[:] = lines_of(cd, 'source "%s": HTTP 4' % src)
            return len(lines) >= 1, "no error line for %s" % src
        eventually(name + ": logged", logged, timeout=timeout)
        return lines

    def check_echoes(self, cd):
        lines = self.echo_line(cd, "h_cut", "echo: a token straddling the 511-byte cut")
        if lines:
            ln = lines[0]
            heads = [k for k in range(1, len(TOKEN_CUT) + 1) if "key=" + TOKEN_CUT[:k] in ln]
            check("echo: ... no head of the token at the old cut", not heads,
                  "shows %d characters of it" % (max(heads) if heads else 0))
            check("echo: ... the token masked whole", "Rejected: key=<secret> auth=" in ln,
                  ln[-200:])
            check("echo: ... one line", len(lines) == 1, "%d lines" % len(lines))
        lines = self.echo_line(cd, "h_short", "echo: a 2-character token")
        if lines:
            check("echo: ... masked", "key=<secret> auth=" in lines[0] and
                  "key=" + TOKEN_SHORT not in lines[0], lines[0][-200:])
        lines = self.echo_line(cd, "h_pw", "echo: a 3-character password (422 on login)")
        if lines:
            check("echo: ... masked", '"Password":"<secret>"' in lines[0] and
                  PASSWORD_SHORT not in lines[0], lines[0][-200:])
        warn = lines_of(cd, "shorter than 4 characters")
        check("echo: short token and password: one start-up warning each",
              sorted(w.split('source "')[1].split('"')[0] for w in warn) == ["h_pw", "h_short"],
              repr(warn))

    # -- paging ------------------------------------------------------------------------

    def env_values(self, cd, src, names):
        def f():
            m = Metrics(cd.port)
            up = {n: m.get("collectd_portainer_up", portainer=src, type="environment",
                           instance=n) for n in names}
            states = {n: m.select("collectd_container_state", container="h-web",
                                  instance=n) for n in names}
            ok = all(v == 1 for v in up.values()) and all(states.values())
            return ok, "up %r, states %r" % (up, {k: len(v) for k, v in states.items()})
        return f

    def check_paging(self, cd, pr_ctl):
        eventually("paging: the same page again and again, no X-Total-Count: both "
                   "environments report", self.env_values(cd, "h_pr", ["pr-a", "pr-b"]))
        pr_ctl.ctl("POST", "counters/reset")
        t0 = time.monotonic()
        time.sleep(3 * harness.INTERVAL + 0.5)
        polls = (time.monotonic() - t0) / harness.INTERVAL + 1
        pages = pr_ctl.counts().get("endpoints", 0)
        check("paging: ... two pages per poll, not until the deadline",
              1 <= pages <= 2 * polls + 2, "%d page requests in %.0f polls" % (pages, polls))
        m = Metrics(cd.port)
        check("paging: ... the API is up", m.get("collectd_portainer_up", portainer="h_pr",
                                                 type="api", instance="collector") == 1)
        said = lines_of(cd, 'source "h_pr": environment page start=3 (PageSize 2) brought '
                            'no environment not seen on an earlier page')
        check("paging: ... said once", len(said) == 1, "%d lines" % len(said))

        eventually("paging: malformed entries fill page 1: the environment on page 2 "
                   "reports too", self.env_values(cd, "h_pm", ["pm-a", "pm-d"]))
        said = lines_of(cd, 'source "h_pm": environment page start=1: 2 of its 3 entries '
                            'have no usable Id or Name and were skipped')
        check("paging: ... the malformed entries said once", len(said) == 1,
              "%d lines" % len(said))

    # -- long URL, cleartext -----------------------------------------------------------

    def check_long_url(self, cd, ctl):
        def f():
            m = Metrics(cd.port)
            rc = m.select("collectd_container_restart_count", container="h-web",
                          instance="lu-env")
            return bool(rc) and rc[0][1] == 3, "restart_count %r" % rc
        eventually("long URL (3000-byte path prefix, nginx): login, page, list and "
                   "inspect reach the server", f)

        def events():
            paths = [r["path"] for r in ctl.requests()]
            want = ["/api/auth", "/api/endpoints?start=1&limit=100&excludeSnapshots=true",
                    "/api/endpoints/1/docker/containers/json?all=1",
                    "/api/endpoints/1/docker/containers/%s/json" % CID,
                    "/api/endpoints/1/docker/events?since="]
            missing = [w for w in want if not any(p.startswith(w) for p in paths)]
            return not missing, "never asked: %r" % missing
        eventually("long URL: ... and the events", events)

    def check_cleartext(self, cd):
        def f():
            m = Metrics(cd.port)
            return m.get("collectd_portainer_up", portainer="h_remote", type="api",
                         instance="collector") == 1, "h_remote not up"
        eventually("cleartext: http:// to a name (mapped to 127.0.0.1 in the "
                   "namespace) works", f)
        warn = lines_of(cd, "sent over http:// to a host that is not loopback")
        check("cleartext: one warning, for that source only",
              len(warn) == 1 and 'source "h_remote": the token is sent' in warn[0],
              repr(warn))

    # -- inline secrets ---------------------------------------------------------------

    def inline_collectds(self, url):
        out = []

        def expect_file(needle_of, count):
            def expect(cd):
                needle = needle_of(cd)
                got = lines_of(cd, needle)
                check("inline secret: %s: %d warning(s)" % (os.path.basename(cd.dir), count),
                      len(got) == count, "%r" % got)
                others = lines_of(cd, "is written in") + lines_of(cd, "can be read by others")
                check("inline secret: %s: no other warning" % os.path.basename(cd.dir),
                      len(others) == count, "%r" % others)
            return expect

        a = self.collectd("inline_0644", block("Portainer", "in_a", URL=url,
                                               Token=TOKEN_INLINE))
        os.chmod(a.conf, 0o644)
        out.append((a, expect_file(
            lambda cd: 'source "in_a": the Token is written in "%s", which others can read '
                       '(mode 0644)' % cd.conf, 1)))
        b = self.collectd("inline_0600", block("Portainer", "in_b", URL=url,
                                               Token=TOKEN_INLINE))
        os.chmod(b.conf, 0o600)
        out.append((b, expect_file(lambda cd: "is written in", 0)))
        tf = os.path.join(self.run_dir, "token")
        with open(tf, "w") as f:
            f.write(TOKEN_FILE + "\n")
        os.chmod(tf, 0o600)
        c = self.collectd("tokenfile", block("Portainer", "in_c", URL=url, TokenFile=tf))
        os.chmod(c.conf, 0o644)
        out.append((c, expect_file(lambda cd: "is written in", 0)))
        d = self.collectd("include", None)
        inc = os.path.join(d.dir, "portainer.conf")
        with open(inc, "w") as f:
            f.write("<Plugin portainer>\n%s\n</Plugin>\n" % block(
                "Portainer", "in_d", URL=url, Username="admin", Password=PASSWORD_INLINE))
        os.chmod(inc, 0o644)
        with open(d.conf, "a") as f:
            f.write('Include "%s"\n' % inc)
        os.chmod(d.conf, 0o600)
        out.append((d, expect_file(
            lambda cd: 'source "in_d": the Password is written in "%s", which others can '
                       'read (mode 0644)' % os.path.join(cd.dir, "portainer.conf"), 1)))
        return out

    # -- secrets -------------------------------------------------------------------------

    def check_no_secret(self, cds):
        leaks = []
        for cd in cds:
            texts = [cd.read_log()]
            try:
                with open(os.path.join(cd.dir, "stdout.log"), errors="replace") as f:
                    texts.append(f.read())
            except OSError:
                pass
            for s in SECRETS:
                if len(s) >= 4 and any(s in t for t in texts):
                    leaks.append("%s in %s" % (s, os.path.basename(cd.dir)))
        check("no token or password in any log (%d of them)" % len(SECRETS), not leaks,
              ", ".join(leaks))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--run-dir")
    ap.add_argument("--keep", action="store_true", help="keep the run directory")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.build_dir, ".libs", "portainer.so")):
        print("no portainer.so in %s/.libs: build first" % args.build_dir, file=sys.stderr)
        return 2
    run_dir = args.run_dir or tempfile.mkdtemp(prefix="portainer-hostile-")
    os.makedirs(run_dir, exist_ok=True)
    suite = Suite(args, run_dir)
    # A CI timeout's SIGTERM still stops everything this suite started.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))

    def cleanup():
        if args.keep:
            print("run directory kept: %s" % run_dir)
        elif not args.run_dir:
            shutil.rmtree(run_dir, ignore_errors=True)
    took = harness.run_and_stop(suite.run, suite.started, cleanup)
    print("hostile suite took %.0f s" % took)
    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
