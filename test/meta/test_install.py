"""`meson install` puts everything where Debian expects it, and the systemd
unit it installs passes `systemd-analyze verify` with an exposure score of
at most 3.0 (`systemd-analyze security --offline=yes`).

The tree is installed with --destdir into a temporary directory; paths are
checked under the build's prefix (/usr/local unless configured otherwise;
tools/package configures /usr).
"""

import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

SOURCE = os.environ["WELCOMEDLY_SOURCE"]
BUILD = os.environ["WELCOMEDLY_BUILD"]
DAEMON = os.environ["WELCOMEDLYD"]
MAX_EXPOSURE = 3.0


def build_options():
    out = subprocess.run(["meson", "introspect", "--buildoptions", BUILD],
                         capture_output=True, text=True, check=True).stdout
    return {o["name"]: o["value"] for o in json.loads(out)}


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="welcomedly-install-")
        subprocess.run(["meson", "install", "-C", BUILD, "--destdir", cls.tmp,
                        "--no-rebuild", "--quiet"], check=True,
                       stdout=subprocess.DEVNULL)
        opts = build_options()
        cls.opts = opts
        cls.prefix = os.path.join(cls.tmp, opts["prefix"].lstrip("/"))
        unitdir = opts.get("systemdunitdir") or os.path.join(opts["prefix"], "lib",
                                                             "systemd", "system")
        cls.unit = os.path.join(cls.tmp, unitdir.lstrip("/"), "welcomedly.service")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.prefix, *parts)

    def assertExecutable(self, path):
        self.assertTrue(os.path.isfile(path), path)
        self.assertTrue(os.access(path, os.X_OK), path + " is not executable")

    def test_programs(self):
        self.assertExecutable(self.path(self.opts["sbindir"], "welcomedlyd"))
        self.assertExecutable(self.path(self.opts["bindir"], "welcomedlyctl"))

    def test_migrations_and_pages(self):
        share = self.path(self.opts["datadir"], "welcomedly")
        sources = sorted(os.path.basename(p)
                         for p in glob.glob(os.path.join(SOURCE, "migrations", "*.sql")))
        self.assertTrue(sources)
        self.assertEqual(sorted(os.listdir(os.path.join(share, "migrations"))), sources)
        for page in ("agent/index.html", "common/softphone.js"):
            self.assertTrue(os.path.isfile(os.path.join(share, "pages", page)), page)
        self.assertTrue(glob.glob(os.path.join(share, "pages", "vendor", "**", "*.js"),
                                  recursive=True), "SIP.js is not installed")

    def test_examples(self):
        examples = self.path(self.opts["datadir"], "doc", "welcomedly", "examples")
        self.assertTrue(os.path.isfile(os.path.join(examples, "welcomedly.env")))
        conf = os.path.join(SOURCE, "asterisk-conf")
        for root, _, files in os.walk(conf):
            for name in files:
                rel = os.path.relpath(os.path.join(root, name), conf)
                self.assertTrue(os.path.isfile(os.path.join(examples, "asterisk-conf", rel)),
                                rel)

    def test_example_env_names_known_settings(self):
        out = subprocess.run([DAEMON, "--help"], capture_output=True, text=True,
                             check=True).stdout
        known = set(re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s", out.split("Environment:", 1)[1],
                               re.M))
        examples = self.path(self.opts["datadir"], "doc", "welcomedly", "examples")
        with open(os.path.join(examples, "welcomedly.env")) as f:
            named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", f.read(), re.M))
        self.assertTrue(named)
        self.assertEqual(named - known, set())

    def test_unit_runs_the_installed_daemon(self):
        with open(self.unit) as f:
            text = f.read()
        sbin = os.path.join(self.opts["prefix"], self.opts["sbindir"], "welcomedlyd")
        self.assertIn(f"ExecStart={sbin} run\n", text)
        for line in ("Type=notify", "EnvironmentFile=/etc/welcomedly/welcomedly.env",
                     "Restart=on-failure", "ProtectSystem=strict",
                     "ReadWritePaths=/var/lib/welcomedly", "NoNewPrivileges=yes",
                     "PrivateTmp=yes", "User=welcomedly"):
            self.assertIn(line + "\n", text)
        self.assertRegex(text, r"\nWatchdogSec=\d+")

    def checkable_unit(self, tmp):
        """The unit with ExecStart on the built daemon: verify wants the
        program to exist."""
        with open(self.unit) as f:
            text = re.sub(r"^ExecStart=\S+", "ExecStart=" + DAEMON, f.read(), flags=re.M)
        path = os.path.join(tmp, "welcomedly.service")
        with open(path, "w") as f:
            f.write(text)
        return path

    @unittest.skipUnless(shutil.which("systemd-analyze"), "no systemd-analyze")
    def test_unit_verifies(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run(["systemd-analyze", "verify", self.checkable_unit(tmp)],
                               capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.strip(), "")

    @unittest.skipUnless(shutil.which("systemd-analyze"), "no systemd-analyze")
    def test_unit_exposure(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                                "--no-pager", self.checkable_unit(tmp)],
                               capture_output=True, text=True)
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        print(f"exposure {m.group(1)}")
        self.assertLessEqual(float(m.group(1)), MAX_EXPOSURE, r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
