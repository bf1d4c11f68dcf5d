"""Checks a Grafana dashboard JSON against Grafana's own dashboard types.

The npm package @grafana/schema holds Grafana's dashboard model as
TypeScript types (Dashboard, Panel, VariableModel, value mappings...) and
each core panel's options and field config.  check() writes the dashboard
into a TypeScript file as an object literal checked with `satisfies` against
those types (unknown keys, wrong types and invalid enum values are errors),
and each panel's options and custom field config against its panel type's,
then runs tsc on it.

The packages are installed with npm into a directory of the build tree
(never committed) by the set-up step of scripts/test.sh, with the other
packages the tests need:

    python3 tests/e2e/grafana_schema.py --install DIR

check() itself never installs (the tests send nothing off this machine): it
raises Unavailable, naming what is missing, when DIR does not hold them.
"""

import json
import os
import subprocess

SCHEMA = "@grafana/schema@13.2.3"
TYPESCRIPT = "typescript@5.9.3"
PANELCFG = "@grafana/schema/dist/esm/raw/composable/%s/panelcfg/x/%sPanelCfg_types.gen"
# Grafana panel type -> the name of its types in @grafana/schema.
PANEL_TYPES = {
    "state-timeline": ("statetimeline", "StateTimeline"),
    "timeseries": ("timeseries", "TimeSeries"),
    "table": ("table", "Table"),
    "stat": ("stat", "Stat"),
    "bargauge": ("bargauge", "BarGauge"),
}

# Enums in Grafana's types are TypeScript enums; JSON holds their values.
# Json<T> is T with every enum replaced by the union of its values.
PRELUDE = """
type Json<T> = T extends string ? `${T}`
  : T extends number ? T
  : T extends boolean ? T
  : T extends Array<infer U> ? Array<Json<U>>
  : T extends object ? { [K in keyof T]: Json<T[K]> }
  : T;
"""


class Unavailable(Exception):
    """npm or the registry cannot be reached: the check cannot run."""


def _run(cmd, cwd=None, timeout=600):
    return subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def install(npm_dir):
    """Installs @grafana/schema and typescript into npm_dir (once)."""
    npm_dir = os.path.abspath(npm_dir)
    tsc = installed(npm_dir)
    if tsc is not None:
        return tsc
    if _run(["sh", "-c", "command -v npm"]).returncode != 0:
        raise Unavailable("npm is not installed (Debian: apt-get install npm)")
    os.makedirs(npm_dir, exist_ok=True)
    r = _run(["npm", "install", "--prefix", npm_dir, "--no-audit", "--no-fund",
              "--loglevel=error", SCHEMA, TYPESCRIPT])
    if r.returncode != 0:
        ping = _run(["npm", "ping"], timeout=120)
        if ping.returncode != 0:
            raise Unavailable("the npm registry is unreachable: %s"
                              % (ping.stderr.strip() or ping.stdout.strip())[-300:])
        raise RuntimeError("npm install failed: %s" % r.stderr[-1000:])
    tsc = installed(npm_dir)
    if tsc is None:
        raise RuntimeError("npm install left no %s in %s" % (SCHEMA, npm_dir))
    return tsc


def typescript_for(dash):
    """The TypeScript source that type-checks dash; raises KeyError for a
    panel type without types here."""
    lines = ["import type { Dashboard } from '@grafana/schema';"]
    used = sorted({p["type"] for p in dash.get("panels", []) if p.get("type") != "row"})
    for t in used:
        d, n = PANEL_TYPES[t]
        lines.append("import type * as %s from '%s';" % (n, PANELCFG % (d, n)))
    lines.append(PRELUDE)
    lines.append("export const dashboard = %s satisfies Json<Dashboard>;"
                 % json.dumps(dash, indent=1, ensure_ascii=False))
    for i, p in enumerate(dash.get("panels", [])):
        if p.get("type") == "row":
            continue
        n = PANEL_TYPES[p["type"]][1]
        lines.append("export const panel%d_options = %s satisfies Json<%s.Options>;"
                     % (i, json.dumps(p.get("options", {}), indent=1), n))
        custom = p.get("fieldConfig", {}).get("defaults", {}).get("custom", {})
        lines.append("export const panel%d_custom = %s satisfies Json<%s.FieldConfig>;"
                     % (i, json.dumps(custom, indent=1), n))
    return "\n".join(lines) + "\n"


def installed(npm_dir):
    """tsc, when the pinned packages are installed in npm_dir; else None."""
    tsc = os.path.join(npm_dir, "node_modules", ".bin", "tsc")
    pkg = os.path.join(npm_dir, "node_modules", "@grafana", "schema", "package.json")
    if not (os.path.exists(tsc) and os.path.exists(pkg)):
        return None
    with open(pkg) as f:
        return tsc if json.load(f).get("version") == SCHEMA.rsplit("@", 1)[1] else None


def check(dashboard_path, npm_dir):
    """Returns (ok, detail).  Raises Unavailable when the packages are not
    installed in npm_dir."""
    with open(dashboard_path, encoding="utf-8") as f:
        dash = json.load(f)
    unknown = sorted({p.get("type") for p in dash.get("panels", [])} -
                     set(PANEL_TYPES) - {"row"})
    if unknown:
        return False, "panel types without a schema check here: %s" % unknown
    npm_dir = os.path.abspath(npm_dir)
    tsc = installed(npm_dir)
    if tsc is None:
        raise Unavailable("%s and %s are not installed in %s (scripts/test.sh's set-up "
                          "step installs them: grafana_schema.py --install DIR)"
                          % (SCHEMA, TYPESCRIPT, npm_dir))
    src = os.path.join(npm_dir, "dashboard_check.ts")
    with open(src, "w", encoding="utf-8") as f:
        f.write(typescript_for(dash))
    r = _run([tsc, "--noEmit", "--strict", "--skipLibCheck", "--target", "es2022",
              "--module", "esnext", "--moduleResolution", "bundler", src], cwd=npm_dir)
    out = (r.stdout + r.stderr).strip()
    return r.returncode == 0, out[-3000:]


if __name__ == "__main__":
    import argparse
    import sys
    ap = argparse.ArgumentParser(description="installs the dashboard check's npm packages")
    ap.add_argument("--install", metavar="DIR", required=True)
    a = ap.parse_args()
    try:
        print("installed: %s" % install(a.install))
    except (Unavailable, RuntimeError) as e:
        sys.exit(str(e))
