"""Meta-tests that keep the docs and the names honest.

- every setting welcomedlyd reads is documented in README.md, and every
  setting README.md documents is one welcomedlyd reads;
- every exported symbol carries its module prefix: lib/<dir>/<file>.c exports
  <dir>_<file>_* or <dir>__* (lib/util/<file>.c: <file>_*), and
  app/<feature>/*.c exports <feature>_* or <feature>__*;
- the object files of each app/ folder use each other's symbols without a
  cycle (layers), and app/api uses nothing of a feature that uses app/api
  beyond the few reads listed in API_KEPT_USES.
"""

import os
import re
import subprocess
import sys
import unittest

SOURCE = os.environ["WELCOMEDLY_SOURCE"]
BUILD = os.environ["WELCOMEDLY_BUILD"]
DAEMON = os.environ["WELCOMEDLYD"]


def help_keys():
    out = subprocess.run([DAEMON, "--help"], capture_output=True, text=True,
                         check=True).stdout
    env = out.split("Environment:", 1)[1]
    return set(re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s", env, re.M))


def readme_keys():
    with open(os.path.join(SOURCE, "README.md")) as f:
        text = f.read()
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", table, re.M))


def allowed_prefixes(top, folder, obj):
    """The prefixes that an object file may export, from its source path."""
    base = os.path.basename(obj).split(".c.o")[0]
    if top == "lib" and folder == "util":
        return (base + "_",)
    if top == "lib":
        return (f"{folder}_{base}_", f"{folder}__")
    # app/: meson names app/calls/service.c's object calls_service.c.o.
    feature = base.split("_", 1)[0]
    return (feature + "_", feature + "__")


# What app/api still uses of feature folders that themselves use app/api.
# The server keeps the outbound placement service so that it outlives every
# request in flight; observe reads live state for the metrics and the feed.
# Shrink this list, never grow it: pass a callback through api_config or
# api_deps instead.
API_KEPT_USES = {
    "agents_acd", "agents_at",                    # metrics: agents by state
    "calls_queue_numbers",                        # metrics: callers waiting
    "campaigns_foreach", "campaigns_has_member",  # queue.stats, queue gauges
    "campaigns_stats_tick",                       # queue.stats as time passes
    "cdr_now_us",                                 # feed timestamps, start time
    "cdr_writer_get_stats",                       # metrics: the CDR writer
    "outbound_new", "outbound_free",              # the server's placement
}


def app_folder(obj):
    """The app/ folder of an object of libwapp.a ("" for app/*.c)."""
    base = os.path.basename(obj).split(".c.o")[0]
    folder = base.split("_", 1)[0]
    if "_" in base and os.path.isdir(os.path.join(SOURCE, "app", folder)):
        return folder
    return ""


def app_symbol_uses():
    """{(object, symbol, defining object)} over libwapp.a, between objects."""
    archive = os.path.join(BUILD, "app", "libwapp.a")

    def nm(*flags):
        out = subprocess.run(["nm", "-A", *flags, archive], capture_output=True,
                             text=True, check=True).stdout
        for line in out.splitlines():
            fields = line.split(":", 2)
            yield os.path.basename(fields[1]), fields[2].split()

    defined = {f[-1]: obj for obj, f in nm("--defined-only")
               if len(f) == 3 and f[1].isupper()}
    return {(obj, f[-1], defined[f[-1]]) for obj, f in nm("-u")
            if f and f[-1] in defined and defined[f[-1]] != obj}


def cycles(edges):
    """The strongly connected components of more than one node (Tarjan)."""
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def snapshot_keys():
    with open(os.path.join(SOURCE, "app", "cdr", "record.c")) as f:
        return set(re.findall(r'(?:set_str|set_int|json_object_set_new)\(o, "(\w+)"', f.read()))


def upsert_columns():
    with open(os.path.join(SOURCE, "app", "cdr", "writer.c")) as f:
        text = f.read()
    cols = text.split("json_to_recordset($1::json) AS x(", 1)[1].split(")", 1)[0]
    return set(re.findall(r"(\w+) (?:text|bigint|int|boolean|jsonb)", cols))


class MetaTest(unittest.TestCase):
    def test_cdr_snapshot_matches_schema_and_upsert(self):
        import json
        with open(os.path.join(SOURCE, "schemas", "cdr-snapshot.schema.json")) as f:
            schema = set(json.load(f)["properties"])
        keys = snapshot_keys()
        self.assertGreater(len(keys), 10)
        self.assertEqual(keys, schema, "cdr_snapshot() keys vs the JSON schema")
        self.assertEqual(upsert_columns(), schema, "the upsert's recordset vs the JSON schema")

    def test_config_keys_documented_both_ways(self):
        code, doc = help_keys(), readme_keys()
        self.assertTrue(code, "no settings found in --help")
        self.assertEqual(code - doc, set(), "settings missing from README.md")
        self.assertEqual(doc - code, set(), "README.md documents unknown settings")

    def test_platform_asterisk_names(self):
        """ASTERISK_* stand in for ARI_* when those are unset; the AMI port
        is refused with a message that names ARI's port."""
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("ARI_", "ASTERISK_"))}
        res = subprocess.run([DAEMON, "doctor"], capture_output=True, text=True,
                             timeout=30, env=dict(base, ASTERISK_PORT="5038"))
        self.assertEqual(res.returncode, 2, res.stderr)
        self.assertIn("AMI", res.stderr)
        self.assertIn("8088", res.stderr)
        # Nothing listens on port 1: the doctor says where it looked.
        res = subprocess.run([DAEMON, "doctor"], capture_output=True, text=True,
                             timeout=30, env=dict(base, ASTERISK_HOST="127.0.0.1",
                                                  ASTERISK_PORT="1", ASTERISK_USER="u1",
                                                  DATABASE_URL=""))
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertIn("nothing answers ARI at http://127.0.0.1:1/ari", res.stdout)
        res = subprocess.run([DAEMON, "doctor"], capture_output=True, text=True,
                             timeout=30, env=dict(base, ARI_URL="http://127.0.0.1:2",
                                                  ASTERISK_HOST="127.0.0.1",
                                                  ASTERISK_PORT="1", DATABASE_URL=""))
        self.assertIn("nothing answers ARI at http://127.0.0.1:2/ari", res.stdout,
                      "ARI_URL wins over ASTERISK_HOST")

    def test_exported_symbols_carry_their_prefix(self):
        bad = []
        checked = 0
        for top in ("lib", "app"):
            for root, _, files in os.walk(os.path.join(BUILD, top)):
                for name in files:
                    if not name.endswith(".a"):
                        continue
                    archive = os.path.join(root, name)
                    out = subprocess.run(["nm", "-g", "--defined-only", "-A", archive],
                                         capture_output=True, text=True, check=True).stdout
                    for line in out.splitlines():
                        fields = line.split(":")
                        obj, sym = fields[1], line.rpartition(" ")[2]
                        ok = allowed_prefixes(top, os.path.basename(root), obj)
                        checked += 1
                        if not sym.startswith(ok):
                            bad.append(f"{name}:{os.path.basename(obj)}: {sym} (expected {ok})")
        self.assertGreater(checked, 20)
        self.assertEqual(bad, [])

    def test_app_folders_are_layered(self):
        uses = app_symbol_uses()
        self.assertGreater(len(uses), 100)
        bad = []
        folders = {app_folder(o) for u in uses for o in (u[0], u[2])}
        for folder in sorted(folders - {""}):
            edges = {(a, b) for a, _, b in uses
                     if app_folder(a) == folder and app_folder(b) == folder}
            bad += [f"app/{folder}: cycle {c}" for c in cycles(edges)]
        # The features that use app/api: app/api must not use them back.
        users = {app_folder(a) for a, _, b in uses
                 if app_folder(b) == "api" and app_folder(a) not in ("", "api")}
        self.assertIn("agents", users)
        for a, sym, b in sorted(uses):
            if app_folder(a) != "api" or app_folder(b) == "api":
                continue
            if app_folder(b) == "":
                bad.append(f"app/api: {a} uses {sym} of app/{b}")
            elif app_folder(b) in users and sym not in API_KEPT_USES:
                bad.append(f"app/api: {a} uses {sym} of {b}")
        self.assertEqual(bad, [], "\n" + "\n".join(bad))


if __name__ == "__main__":
    unittest.main(verbosity=2)
