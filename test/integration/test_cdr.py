"""CDRs against a real PostgreSQL and Asterisk: rows, outages, crashes, realtime.

Run by meson (suite 'integration'); tools/test starts the sandboxes first.
"""

import os
import signal
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def cdr_rows():
    return harness.sql(
        "SELECT call_id, direction, caller_number, callee_number,"
        " answer_time IS NOT NULL, end_time IS NOT NULL, duration, billsec,"
        " disposition, hangup_by, caller_channel_id FROM calls ORDER BY id")


class MigrationsTest(unittest.TestCase):
    def test_from_empty_and_rerun(self):
        db = "mig_" + uuid.uuid4().hex[:8]
        harness.sql_admin(f"CREATE DATABASE {db} OWNER welcomedly")
        try:
            url = harness.pg_url().rsplit("/", 1)[0] + "/" + db
            files = sorted(f for f in os.listdir(os.path.join(harness.SOURCE, "migrations"))
                           if f.endswith(".sql"))
            out = harness.migrate(url)
            self.assertIn(f"migrations applied={len(files)}", out)
            self.assertIn("migrations applied=0", harness.migrate(url))
            versions = harness.sql("SELECT version, name FROM schema_migrations ORDER BY 1", url)
            self.assertEqual(versions, [[str(int(f[:4])), f[5:-4]] for f in files])
            self.assertEqual(versions[:2], [["1", "core"], ["2", "pjsip_realtime"]])
            cols = {r[0] for r in harness.sql(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'calls'", url)}
            designed = {"id", "call_id", "agent_id", "campaign_id", "lead_id",
                        "direction", "caller_number", "callee_number", "start_time",
                        "answer_time", "end_time", "duration", "billsec",
                        "disposition", "recording_url", "created_at", "updated_at"}
            self.assertTrue(designed <= cols, designed - cols)
            peers = {r[0] for r in harness.sql(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'sip_peers'", url)}
            self.assertTrue({"agent_id", "sip_username", "sip_password", "sip_server",
                             "websocket_url", "status", "last_registered",
                             "created_at"} <= peers)
        finally:
            harness.sql_admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


class CdrTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.asterisk_start()

    def setUp(self):
        harness.sql("TRUNCATE calls")
        self.journal = os.path.join(harness.LOG_DIR, "journal-" + uuid.uuid4().hex[:8])
        self.addCleanup(lambda: self.daemon.kill())
        self.start_daemon()

    def start_daemon(self):
        self.daemon = harness.Daemon(DATABASE_URL=harness.pg_url(),
                                     JOURNAL_DIR=self.journal).start()
        self.daemon.wait_log(r"ARI resync done")
        self.daemon.wait_log(r"database connections up=\d", timeout=10)

    def tearDown(self):
        # The database must be back whatever a test did to it.
        harness.pg_start()
        rc = self.daemon.stop()
        harness.wait_idle()
        self.assertEqual(rc, 0, f"welcomedlyd exit status; log {self.daemon.log_path}")

    def test_rows_for_real_calls(self):
        res = harness.sipp("uac-expect-bye.xml", "-s", "5000")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        # The caller hangs up first here: 300 ms after the answer.
        res = harness.sipp("uac-hangup.xml", "-s", "5001", "-d", "300")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        harness.wait_for(lambda: len([r for r in cdr_rows() if r[5] == "t"]) == 2,
                         10, what="two ended CDRs")
        first, second = cdr_rows()
        self.assertEqual(first[1:4], ["inbound", "15550001", "5000"])
        self.assertEqual(first[4:6], ["t", "t"])
        # The prompt lasts about 1.8 s; Asterisk's CDR rounds down.
        self.assertIn(int(first[6]), (1, 2))
        self.assertLessEqual(int(first[7]), int(first[6]))
        self.assertEqual(first[8:10], ["ANSWERED", "system"])
        self.assertEqual(first[0], first[10])
        self.assertEqual(second[3], "5001")
        self.assertEqual(second[8:10], ["ANSWERED", "caller"])
        self.assertEqual(int(second[7]), 0)

    def calls_while_database_down(self, number, calls, rate):
        harness.pg_stop()
        self.daemon.wait_log(r"database connections up=0", timeout=10)
        res = harness.sipp("uac-hangup.xml", "-s", number, "-d", "100",
                           "-r", str(rate), calls=calls, timeout=90)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.daemon.wait_log(r"call=\S+ ended", count=calls, timeout=30)

    def wait_ended_rows(self, n, what):
        def done():
            rows = cdr_rows()
            return len(rows) == n and all(r[5] == "t" for r in rows)
        harness.wait_for(done, 30, what=what)

    def test_postgres_down_during_20_calls(self):
        self.calls_while_database_down("5002", 20, 4)
        harness.pg_start()
        self.wait_ended_rows(20, "20 ended CDRs after the database returned")
        ids = [r[0] for r in cdr_rows()]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertEqual(harness.sql("SELECT count(*) FROM calls")[0][0], "20")

    def test_sigkill_with_journaled_writes_pending(self):
        self.calls_while_database_down("5003", 5, 5)
        # The last records reach the journal file through libuv's thread
        # pool after the calls ended: once written, a SIGKILL keeps them
        # (the kernel has them). Wait until its size holds still for a
        # second, however loaded the machine is.
        path = os.path.join(self.journal, "cdr.journal")
        sizes = []
        harness.wait_for(lambda: sizes.append(os.path.getsize(path)) or
                         (len(sizes) > 10 and len(set(sizes[-11:])) == 1), 20,
                         what="the journal written")
        self.daemon.proc.send_signal(signal.SIGKILL)
        self.daemon.proc.wait()
        self.assertGreater(os.path.getsize(os.path.join(self.journal, "cdr.journal")), 32)
        harness.pg_start()
        self.start_daemon()
        self.daemon.wait_log(r"CDR journal holds records=\d+ to replay")
        self.wait_ended_rows(5, "5 ended CDRs after the restart")
        self.assertEqual(harness.sql("SELECT count(DISTINCT call_id), count(*) FROM calls")[0],
                         ["5", "5"])


class RealtimeAgentTest(unittest.TestCase):
    """An agent provisioned in the PJSIP realtime tables registers and rings."""

    @classmethod
    def setUpClass(cls):
        harness.asterisk_start()

    def setUp(self):
        self.name = "agent" + uuid.uuid4().hex[:6]
        harness.sql(
            f"INSERT INTO ps_aors (id, max_contacts, remove_existing) VALUES ('{self.name}', 1, 'yes');"
            f"INSERT INTO ps_auths (id, auth_type, username, password)"
            f" VALUES ('{self.name}', 'userpass', '{self.name}', 'pw-{self.name}');"
            f"INSERT INTO ps_endpoints (id, transport, aors, auth, context, disallow, allow, direct_media)"
            f" VALUES ('{self.name}', 'transport-udp', '{self.name}', '{self.name}',"
            f" 'welcomedly-agents', 'all', 'ulaw,alaw', 'no')")

    def tearDown(self):
        for table in ("ps_contacts", "ps_endpoints", "ps_auths", "ps_aors"):
            key = "endpoint" if table == "ps_contacts" else "id"
            harness.sql(f"DELETE FROM {table} WHERE {key} = '{self.name}'")

    def test_registers_at_once_survives_restart_and_can_be_called(self):
        port = harness.SIP_PORT + 30  # 15090 with the default ports
        res = harness.sipp("register.xml", "-s", self.name, "-au", self.name,
                           "-ap", f"pw-{self.name}", local_port=port)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        harness.asterisk_restart()
        endpoint = harness.ari("GET", f"/endpoints/PJSIP/{self.name}")
        self.assertEqual(endpoint["resource"], self.name)
        harness.wait_for(lambda: harness.ari("GET", f"/endpoints/PJSIP/{self.name}")
                         ["state"] == "online", 10, what="the agent's contact back")
        import subprocess
        uas = subprocess.Popen(
            ["sipp", "-sf", os.path.join(harness.SCENARIOS, "uas-answer.xml"),
             "-p", str(port), "-i", "127.0.0.1", "-m", "1", "-nostdin",
             "-timeout", "30s"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(0.5)
            ch = harness.ari("POST", "/channels", query={
                "endpoint": f"PJSIP/{self.name}", "extension": "s",
                "context": "welcomedly-local", "timeout": "10"})
            harness.wait_for(lambda: any(c["id"] == ch["id"] and c["state"] == "Up"
                                         for c in harness.channels()), 10,
                             what="the agent's leg answered")
            harness.ari("DELETE", f"/channels/{ch['id']}")
            out, _ = uas.communicate(timeout=20)
            self.assertEqual(uas.returncode, 0, out)
        finally:
            if uas.poll() is None:
                uas.kill()
        harness.wait_idle()


if __name__ == "__main__":
    unittest.main(verbosity=2)
