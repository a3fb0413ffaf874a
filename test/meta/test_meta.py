"""Meta-tests that keep the docs and the names honest.

- every setting welcomedlyd reads is documented in README.md, and every
  setting README.md documents is one welcomedlyd reads;
- every exported symbol carries its module prefix: lib/<dir>/<file>.c exports
  <dir>_<file>_* or <dir>__* (lib/util/<file>.c: <file>_*), and
  app/<feature>/*.c exports <feature>_* or <feature>__*.
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


def snapshot_keys():
    with open(os.path.join(SOURCE, "app", "cdr", "record.c")) as f:
        return set(re.findall(r'(?:set_str|set_int|json_object_set_new)\(o, "(\w+)"', f.read()))


def upsert_columns():
    with open(os.path.join(SOURCE, "app", "cdr", "writer.c")) as f:
        text = f.read()
    cols = text.split("json_to_recordset($1::json) AS x(", 1)[1].split(")", 1)[0]
    return set(re.findall(r"(\w+) (?:text|bigint|int|boolean)", cols))


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


if __name__ == "__main__":
    unittest.main(verbosity=2)
