"""The Debian package: tools/package builds it, apt-get installs it into a
fresh Debian 12 root (an overlay of the chroot tools/package keeps in
/var/cache/welcomedly, so the chroot is made once), and there
`welcomedlyd --version`, `welcomedlyd migrate` against the sandbox
PostgreSQL (a chroot shares the host's loopback) and `welcomedlyctl` run;
the system user, /var/lib/welcomedly and the conffile are checked.

Needs root. Run by meson (suite 'package'); tools/test runs that suite.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

SOURCE = harness.SOURCE
BUILD_ROOT = os.path.dirname(os.environ.get("WELCOMEDLY_BUILD",
                                            os.path.join(SOURCE, "build", "dev")))
CACHE = os.environ.get("WELCOMEDLY_CACHE", "/var/cache/welcomedly")
DB_NAME = "welcomedly_package"


def tool(*args):
    env = dict(os.environ, BUILD_ROOT=BUILD_ROOT)
    out = subprocess.run([os.path.join(SOURCE, "tools", "package"), *args], env=env,
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return out.strip().splitlines()[-1]


def sections(text):
    """{name: text} of the '== name' sections of in-chroot.sh's output."""
    parts = re.split(r"^== (\w+)\n", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


@unittest.skipUnless(os.geteuid() == 0, "needs root (chroot, mounts)")
class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.deb = tool("build")
        cls.chroot = tool("chroot")
        url = harness.pg_url()
        harness.sql_admin(f"DROP DATABASE IF EXISTS {DB_NAME}")
        harness.sql_admin(f"CREATE DATABASE {DB_NAME} OWNER welcomedly")
        cls.db_url = url.rsplit("/", 1)[0] + "/" + DB_NAME
        tmp = tempfile.mkdtemp(prefix="welcomedly-package-", dir="/var/tmp")
        try:
            r = subprocess.run(
                ["unshare", "--mount", "--propagation", "private", "--",
                 os.path.join(HERE, "in-chroot.sh"), cls.chroot, tmp, cls.deb, cls.db_url,
                 os.path.join(CACHE, "debian-bookworm-archives")],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        cls.output = r.stdout
        cls.returncode = r.returncode
        cls.parts = sections(r.stdout)
        with open(os.path.join(harness.LOG_DIR, "package-install.log"), "w") as f:
            f.write(r.stdout)

    @classmethod
    def tearDownClass(cls):
        harness.sql_admin(f"DROP DATABASE IF EXISTS {DB_NAME}")

    def test_installs_and_runs(self):
        self.assertEqual(self.returncode, 0, self.output[-3000:])
        self.assertIn("end", self.parts)
        size = os.path.getsize(self.deb)
        print(f"package {os.path.basename(self.deb)}: {size // 1024} KiB")
        self.assertLess(size, 8 << 20)

    def test_version(self):
        self.assertRegex(self.parts.get("version", ""), r"^welcomedlyd \d+\.\d+\.\d+\n")

    def test_migrate(self):
        n = len(glob.glob(os.path.join(SOURCE, "migrations", "*.sql")))
        self.assertIn(f"migrations applied={n}", self.parts.get("migrate", ""))
        rows = harness.sql("SELECT count(*) FROM schema_migrations", self.db_url)
        self.assertEqual(int(rows[0][0]), n)

    def test_doctor(self):
        out = self.parts.get("doctor", "")
        self.assertRegex(out, r"FAIL\s+ari-user\s+nothing answers ARI", out)
        self.assertIn("fix:", out)
        self.assertRegex(out, r"ok\s+database", out)
        self.assertIn("doctor exit=1", out)

    def test_ctl(self):
        self.assertIn("usage: welcomedlyctl", self.parts.get("ctl", ""))

    def test_user_state_directory_and_conffile(self):
        self.assertEqual(self.parts.get("user", "").split("\n")[:2],
                         ["welcomedly:welcomedly 750", "root:welcomedly 640"])
        self.assertIn("/etc/welcomedly/welcomedly.env", self.parts.get("conffiles", ""))
        self.assertIn("/lib/systemd/system/welcomedly.service", self.parts.get("unit", ""))


if __name__ == "__main__":
    unittest.main(verbosity=2)
