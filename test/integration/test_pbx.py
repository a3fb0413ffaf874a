"""welcomedlyd on an Asterisk set up the way FreePBX sets one up
(sandbox-asterisk --profile freepbx): extensions in pjsip.conf, contacts in
astdb, no realtime, the PBX's own dialplan plus the drop-in kit of
asterisk-conf/freepbx/. Agents are bound to extensions that exist
("provision": false); reachability comes from ARI's endpoint events alone.

The instance runs beside the default one, on ports 100 above the test
ports (ARI, SIP) and 1000 above the RTP range. Benchmarks print
`measure: ...` lines; they are not timed assertions.
"""

import os
import re
import statistics
import subprocess
import sys
import time
import unittest
from datetime import datetime, timezone

_ARI = int(os.environ.get("WELCOMEDLY_TEST_ARI_PORT", "18088"))
_SIP = int(os.environ.get("WELCOMEDLY_TEST_SIP_PORT", "15060"))
_RTP = int(os.environ.get("WELCOMEDLY_TEST_RTP_START", "21000"))
_NAME = os.environ.get("WELCOMEDLY_TEST_SANDBOX", "itest")
# The harness reads these when imported: point it at this profile's instance.
os.environ.update({"WELCOMEDLY_TEST_ARI_PORT": str(_ARI + 100),
                   "WELCOMEDLY_TEST_SIP_PORT": str(_SIP + 100),
                   "WELCOMEDLY_TEST_RTP_START": str(_RTP + 1000),
                   "WELCOMEDLY_TEST_SANDBOX": _NAME + "-freepbx"})

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acd  # noqa: E402
import api  # noqa: E402
import apispec  # noqa: E402
import harness  # noqa: E402

TRUNK_PORT = harness.SIP_PORT + 5
INSTANCE_ETC = os.path.join(acd.INSTANCE, "etc")


def harness_log():
    """The instance's messages log."""
    return subprocess.run([os.path.join(harness.TOOLS, "sandbox-asterisk"), "log", "--name",
                           harness.SANDBOX], check=True, capture_output=True,
                          text=True).stdout.strip()


def harness_cli(command):
    subprocess.run([os.path.join(harness.TOOLS, "sandbox-asterisk"), "cli", "--name",
                    harness.SANDBOX, "--", command], check=True, capture_output=True)
V1 = "/api/v1"


def own_database():
    """A database of its own, so that what this daemon makes (and nothing
    the other instance's realtime reads) counts in pg_stat_database."""
    base = harness.pg_url()
    harness.sql_admin("DROP DATABASE IF EXISTS welcomedly_pbx WITH (FORCE)")
    harness.sql_admin("CREATE DATABASE welcomedly_pbx OWNER welcomedly")
    harness._pg_url = base.rsplit("/", 1)[0] + "/welcomedly_pbx"


def start_instance():
    own_database()
    harness.migrate(harness.pg_url())
    # Fresh: registrations of an earlier run would be in its astdb.
    subprocess.run([os.path.join(harness.TOOLS, "sandbox-asterisk"), "destroy",
                    "--name", harness.SANDBOX], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([os.path.join(harness.TOOLS, "sandbox-asterisk"), "start"]
                   + harness.asterisk_args()
                   + ["--profile", "freepbx", "--trunk-peer-port", str(TRUNK_PORT)],
                   check=True, stdout=subprocess.DEVNULL)


def log_time(line):
    """Wall-clock seconds of a daemon log line."""
    stamp = line.split(" ", 1)[0]
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


def sipp_ok_time(trace):
    """Wall-clock seconds at which sipp received its last message (the 200
    OK of a REGISTER), from its -trace_msg file."""
    with open(trace, errors="replace") as f:
        stamps = re.findall(r"^-+ (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d+)\s*\n"
                            r"UDP message received", f.read(), re.M)
    day, clock = stamps[-1]
    return datetime.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M:%S.%f").timestamp()


class PbxTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        start_instance()

    @classmethod
    def tearDownClass(cls):
        harness.asterisk_stop()
        harness.sql_admin("DROP DATABASE IF EXISTS welcomedly_pbx WITH (FORCE)")

    def setUp(self):
        harness.sql("TRUNCATE agents, campaigns, dids CASCADE")
        acd._next_port[0] = harness.SIP_PORT + 1040
        self.spec_errors = []
        self.phones = []
        self.agents = []
        self.trunks = []
        self.daemon, self.port = api.start_daemon(
            "pbx", journal=os.path.join(harness.LOG_DIR, "j-pbx"))
        self.addCleanup(lambda: self.daemon.kill())
        self.daemon.wait_log(r"ARI endpoints resync done")
        self.daemon.wait_log(r"campaigns loaded")

    def tearDown(self):
        for t in self.trunks:
            t.stop()
        for p in self.phones:
            p.stop()
        harness.wait_idle()
        for a in self.agents:
            acd.login(a, "logout")
        acd.wait_stable(self.agents)
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log_path)
        if self.spec_errors:
            self.fail("differences from schemas/openapi.yaml:\n" +
                      "\n".join(dict.fromkeys(self.spec_errors)))

    # -- helpers ---------------------------------------------------------------

    def req(self, method, path, body=None):
        r = api.request(self.port, method, path, body, token=api.ADMIN_TOKEN,
                        check=False)
        try:
            apispec.validate(method, path, r.status, r.body, r.headers.get("content-type"))
        except AssertionError as e:
            self.spec_errors.append(str(e))
        return r

    def ok(self, method, path, body=None, expect=200):
        r = self.req(method, path, body)
        self.assertEqual(r.status, expect, f"{method} {path} {body}: {r.raw[:400]!r}")
        return r.body

    def bind(self, ext, cid):
        """An agent on extension ext of the PBX, in campaign cid."""
        ag = self.ok("POST", V1 + "/agents", {"name": f"Ext {ext}", "sip_username": ext,
                                              "provision": False}, expect=201)
        self.agents.append(ag["id"])
        self.ok("POST", f"{V1}/campaigns/{cid}/agents", {"agent_id": ag["id"]}, expect=201)
        return ag

    def register(self, ext, scenario="uas-answer.xml"):
        phone = acd.Phone(ext, f"pw-{ext}", scenario)
        self.phones.append(phone)
        return phone

    def unregister(self, phone, ext):
        """The phone signs off: its UAS stops, then its binding goes."""
        phone.stop()
        res = harness.sipp("unregister.xml", "-s", ext, "-au", ext, "-ap", f"pw-{ext}",
                           local_port=phone.port)
        self.assertEqual(res.returncode, 0, res.stdout[-1500:] + res.stderr[-1500:])

    def login(self, aid):
        harness.wait_for(lambda: self.req("POST", f"{V1}/agents/{aid}/state",
                                          {"state": "available"}).status == 200,
                         15, what=f"agent {aid} available")

    def reachable(self, aid, ext, count=1):
        self.daemon.wait_log(rf"agent={aid} phone={ext} reachable", timeout=5, count=count)

    def inbound(self, did, talk_ms=1000):
        res = harness.sipp("uac-hangup.xml", "-s", did, "-d", str(talk_ms), timeout=60)
        self.assertEqual(res.returncode, 0, res.stdout[-2000:] + res.stderr[-2000:])

    def last_cdr(self, cid):
        rows = harness.sql(f"SELECT coalesce(agent_id, 0), answer_time IS NOT NULL"
                           f" FROM calls WHERE campaign_id = {cid} AND end_time IS NOT NULL"
                           f" ORDER BY start_time DESC LIMIT 1")
        return (int(rows[0][0]), rows[0][1] == "t") if rows else None

    # -- tests -----------------------------------------------------------------

    def test_bound_agent_writes_no_realtime_rows(self):
        cid, _ = acd.campaign(wrapup_time=0)
        ag = self.bind("201", cid)
        self.assertEqual((ag["sip_username"], ag["provisioned"], ag["registration"]),
                         ("201", False, "unregistered"))
        self.assertNotIn("sip_password", ag)
        for table, col in (("ps_endpoints", "id"), ("ps_auths", "id"), ("ps_aors", "id")):
            self.assertEqual(harness.sql(f"SELECT count(*) FROM {table}"
                                         f" WHERE {col} = '201'"), [["0"]], table)
        self.assertEqual(harness.sql("SELECT provisioned FROM sip_peers"
                                     " WHERE sip_username = '201'"), [["f"]])
        r = self.req("POST", V1 + "/agents", {"name": "x", "provision": False})
        self.assertEqual(r.status, 422, r.raw)
        self.register("201")
        self.reachable(ag["id"], "201")
        harness.wait_for(lambda: self.ok("GET", f"{V1}/agents/{ag['id']}")["registration"]
                         == "registered", 5, what="registration shown")
        harness.wait_for(lambda: harness.sql("SELECT status FROM sip_peers WHERE"
                                             " sip_username = '201'") == [["registered"]],
                         5, what="sip_peers.status follows")
        self.ok("DELETE", f"{V1}/agents/{ag['id']}", expect=204)
        self.agents.remove(ag["id"])

    def test_inbound_offered_and_answered(self):
        cid, did = acd.campaign(wrapup_time=0)
        ag = self.bind("202", cid)
        self.register("202")
        self.reachable(ag["id"], "202")
        self.login(ag["id"])
        self.inbound(did)
        acd.wait_calls(1, campaign_id=cid)
        self.assertEqual(self.last_cdr(cid), (ag["id"], True))

    def test_outbound_placed(self):
        from test_outbound import Trunk
        cid, _ = acd.campaign(wrapup_time=0)
        ag = self.bind("203", cid)
        self.register("203")
        self.reachable(ag["id"], "203")
        trunk = Trunk("uas-answer.xml", ring_ms=500)
        self.trunks.append(trunk)
        self.login(ag["id"])
        placed = self.ok("POST", V1 + "/calls", {"agent_id": ag["id"], "campaign_id": cid,
                                                 "number": "+12125550147"}, expect=202)
        harness.wait_for(lambda: trunk.invites(), 20, what="the customer dialed")
        self.assertIn("12125550147", trunk.invites()[0])
        harness.wait_for(lambda: next((c for c in self.ok("GET", V1 + "/calls")["items"]
                                       if c["id"] == placed["id"]
                                       and c["state"] == "talking"), None),
                         20, what="the call talking")
        self.assertEqual(self.req("DELETE", f"{V1}/calls/{placed['id']}").status, 202)

    def test_unregistered_skipped_registered_offered_at_once(self):
        cid, did = acd.campaign(wrapup_time=0)
        a = self.bind("204", cid)
        b = self.bind("205", cid)
        pa, pb = self.register("204"), self.register("205")
        self.reachable(a["id"], "204")
        self.reachable(b["id"], "205")
        self.login(a["id"])
        self.login(b["id"])

        self.unregister(pa, "204")
        self.daemon.wait_log(rf"agent={a['id']} phone=204 unreachable", timeout=1)
        self.inbound(did)
        acd.wait_calls(1, campaign_id=cid)
        self.assertEqual(self.last_cdr(cid), (b["id"], True), "the unregistered phone skipped")
        acd.wait_stable(self.agents)

        self.unregister(pb, "205")
        self.daemon.wait_log(rf"agent={b['id']} phone=205 unreachable", timeout=1)
        self.register("204")
        self.reachable(a["id"], "204", count=2)
        self.inbound(did)
        acd.wait_calls(2, campaign_id=cid)
        self.assertEqual(self.last_cdr(cid), (a["id"], True), "the registered phone offered")

    def test_kit_fallback_without_the_daemon(self):
        """With welcomedlyd away, Stasis() fails at once and the kit's
        dialplan answers, says so and hangs up: never dead air."""
        cid, did = acd.campaign(wrapup_time=0)
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log_path)
        harness.wait_for(lambda: not harness.app_registered(), 5,
                         what="the application gone")
        res = harness.sipp("uac-expect-bye.xml", "-s", did, timeout=30)
        self.assertEqual(res.returncode, 0, res.stdout[-2000:] + res.stderr[-2000:])
        self.assertIn("ss-noservice", open(harness_log()).read()[-20000:])

    # -- welcomedlyd doctor ----------------------------------------------------

    def doctor(self, migrations=os.path.join(harness.SOURCE, "migrations")):
        env = dict(os.environ, ARI_URL=harness.ARI_URL, ARI_USERNAME=harness.ARI_USER,
                   ARI_PASSWORD=harness.ARI_PASSWORD, DATABASE_URL=harness.pg_url(),
                   LOG_LEVEL="warning", MIGRATIONS_DIR=migrations)
        res = subprocess.run([harness.DAEMON, "doctor"], env=env, capture_output=True,
                             text=True, timeout=30)
        return res.returncode, res.stdout + res.stderr

    def without(self, conf, reload, edit):
        """Runs the doctor with the instance's conf edited by edit (text ->
        text) and Asterisk told by reload; puts the file back after."""
        path = os.path.join(INSTANCE_ETC, conf)
        with open(path) as f:
            kept = f.read()
        try:
            with open(path, "w") as f:
                f.write(edit(kept))
            harness_cli(reload)
            return self.doctor()
        finally:
            with open(path, "w") as f:
                f.write(kept)
            harness_cli(reload)

    def test_doctor(self):
        rc, out = self.doctor()
        self.assertEqual(rc, 0, out)
        for check in ("ari-user", "dialplan", "recordings", "database"):
            self.assertRegex(out, rf"(?m)^ok +{check} ", out)
        self.assertIn("application 'welcomedly' is registered", out)

        rc, out = self.without("ari_additional_custom.conf", "module reload res_ari.so",
                               lambda text: "")
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"(?m)^FAIL +ari-user .*refused user 'welcomedly'", out)
        self.assertIn("ari_additional_custom.conf", out)

        rc, out = self.without("extensions_custom.conf", "dialplan reload",
                               lambda text: text.split("[welcomedly-check]")[0])
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"(?m)^FAIL +dialplan ", out)
        self.assertIn("extensions_custom.conf", out)
        self.assertRegex(out, r"(?m)^ok +ari-user ", out)

        rc, out = self.doctor()
        self.assertEqual(rc, 0, out)

    def test_doctor_schema_behind(self):
        """A database that lacks a migration of MIGRATIONS_DIR (a binary
        upgraded before `welcomedlyd migrate`) fails the check."""
        newest = max(f for f in os.listdir(os.path.join(harness.SOURCE, "migrations"))
                     if f.endswith(".sql"))
        rc, out = self.doctor()
        self.assertRegex(out, r"(?m)^ok +database +PostgreSQL answers; last migration"
                         rf" {int(newest.split('_')[0])}$", out)
        rc, out = self.doctor(migrations=harness.migrations_ahead())
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"(?m)^FAIL +database .* but 1 migration\(s\) of \S+ not"
                         r" applied, first 9999_ahead.sql$", out)
        self.assertIn("fix: run welcomedlyd migrate, then restart welcomedlyd", out)

    def test_zz_measure_register_to_offerable(self):
        """REGISTER answered (200 OK at the phone) to the agent offerable
        (the daemon's `reachable` line), over 50 registrations."""
        cid, _ = acd.campaign(wrapup_time=0)
        ag = self.bind("210", cid)
        port = harness.SIP_PORT + 1040 + 500
        samples = []
        for i in range(50):
            trace = os.path.join(harness.LOG_DIR, f"reg-210-{i}.msg")
            res = harness.sipp("register.xml", "-s", "210", "-au", "210", "-ap", "pw-210",
                               "-trace_msg", "-message_file", trace, local_port=port)
            self.assertEqual(res.returncode, 0, res.stdout[-1500:])
            self.reachable(ag["id"], "210", count=i + 1)
            line = re.findall(rf"^.*agent={ag['id']} phone=210 reachable.*$",
                              self.daemon.log(), re.M)[i]
            samples.append((log_time(line) - sipp_ok_time(trace)) * 1000)
            res = harness.sipp("unregister.xml", "-s", "210", "-au", "210", "-ap", "pw-210",
                               local_port=port)
            self.assertEqual(res.returncode, 0, res.stdout[-1500:])
            self.daemon.wait_log(rf"agent={ag['id']} phone=210 unreachable", timeout=5,
                                 count=i + 1)
        samples.sort()
        print(f"measure: freepbx profile REGISTER->offerable ms p50="
              f"{statistics.median(samples):.1f} p99={samples[int(len(samples) * 0.99) - 1]:.1f}"
              f" max={samples[-1]:.1f} n={len(samples)}", flush=True)

    def test_zz_measure_idle_queries(self):
        """Database transactions per second while idle with 500 agents."""
        cid, _ = acd.campaign(wrapup_time=0)
        harness.sql("WITH a AS (INSERT INTO agents (name) SELECT 'idle ' || g"
                    " FROM generate_series(1, 500) g RETURNING id)"
                    " INSERT INTO sip_peers (agent_id, sip_username, sip_password,"
                    " sip_server, provisioned) SELECT id, 'idle' || id, '', '127.0.0.1',"
                    " false FROM a")
        self.daemon.wait_log(r"agents loaded count=500", timeout=10)
        # An idle backend reports its counts up to 10 s late: let the
        # load's own be counted first.
        time.sleep(12)

        def commits():
            return int(harness.sql("SELECT xact_commit + xact_rollback FROM"
                                   " pg_stat_database WHERE datname = current_database()")[0][0])
        harness.sql("SELECT pg_stat_clear_snapshot()")
        before, t0 = commits(), time.monotonic()
        time.sleep(10)
        after, t1 = commits(), time.monotonic()
        # Each reading is itself one transaction.
        rate = (after - before - 1) / (t1 - t0)
        print(f"measure: idle database transactions/s with 500 agents = {rate:.2f}",
              flush=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
