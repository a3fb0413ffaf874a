"""A PostgreSQL outage under load: the cluster stops for OUTAGE_S seconds
while callers arrive at RATE a second and agents answer them. Calls keep
being queued, offered and bridged from memory; CDRs, agent states with
their history, and queue_entries wait in the journal and reach the
database, in order, when it returns; the API answers 503 meanwhile and
/healthz at once.

Asterisk runs the freepbx profile of test_pbx (extensions in pjsip.conf, no
realtime): with realtime PJSIP tables in the stopped cluster, Asterisk
itself could not find the agents' phones. Measurements print `measure: ...`
lines; they are not timed assertions.
"""

import os
import re
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_pbx  # noqa: E402  (sets the ports of the freepbx instance)
import acd  # noqa: E402
import api  # noqa: E402
import harness  # noqa: E402

RATE = 4          # calls a second
CALLS = 88        # 22 s of calls
TALK_MS = 3000    # the caller hangs up this long after the daemon answers
AGENTS = 18       # extensions 201-218
OUTAGE_S = 15
TRANSITION = re.compile(r"agent=(\d+) (\w+) --\w+--> (\w+)")


class Healthz(threading.Thread):
    """Polls /healthz every 100 ms; keeps (time, seconds taken, body)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.samples = []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            t = time.monotonic()
            r = api.request(self.port, "GET", "/healthz", check=False, timeout=10)
            self.samples.append((t, time.monotonic() - t, r.status, r.body))
            self.halt.wait(0.1)

    def between(self, start, end):
        return [s for s in self.samples if start <= s[0] <= end]


class PgOutageTest(test_pbx.PbxTest):
    OWN = ("test_outage_under_load", "test_restart_during_outage")

    def setUp(self):
        harness.sql("TRUNCATE agents, campaigns, dids, calls, queue_entries CASCADE")
        # 18 phones take 180 ports (and 180 media ports 20000 above):
        # a range of their own, above the one test_pbx's phones use.
        acd._next_port[0] = harness.SIP_PORT + 2040
        self.spec_errors, self.phones, self.agents, self.trunks = [], [], [], []
        self.daemons = []
        self.journal = os.path.join(harness.LOG_DIR, "j-pgoutage-" + uuid.uuid4().hex[:6])
        self.start_daemon()

    def start_daemon(self, database_up=True):
        self.daemon = harness.Daemon(name="pgoutage", DATABASE_URL=harness.pg_url(),
                                     JOURNAL_DIR=self.journal,
                                     API_TOKEN=api.ADMIN_TOKEN).start()
        self.addCleanup(self.daemon.kill)
        self.daemons.append(self.daemon)
        self.port = api.api_port(self.daemon)
        self.daemon.wait_log(r"ARI resync done", timeout=30)
        if database_up:
            self.daemon.wait_log(r"campaigns loaded")

    def tearDown(self):
        harness.pg_start()
        super().tearDown()

    def agents_answering(self, cid, n):
        for i in range(n):
            ext = str(201 + i)
            ag = self.bind(ext, cid)
            self.phones.append(acd.Phone(ext, f"pw-{ext}", calls=CALLS))
            self.reachable(ag["id"], ext)
            self.login(ag["id"])
        return list(self.agents)

    def stop_database(self):
        harness.pg_stop()
        self.daemon.wait_log(r"database connections up=0", timeout=10)
        return time.monotonic(), time.time()

    def histories(self, agents):
        """(made, stored): each agent's transitions in the daemons' logs,
        and its rows in agent_state_events, in order."""
        made = {a: [] for a in agents}
        log = "".join(d.log() for d in self.daemons)
        for aid, frm, to in TRANSITION.findall(log):
            if int(aid) in made and frm != to:
                made[int(aid)].append([frm, to])
        stored = {a: harness.sql(f"SELECT from_state, to_state FROM agent_state_events"
                                 f" WHERE agent_id = {a} ORDER BY seq") for a in agents}
        return made, stored

    def check_history(self, agents):
        """Each agent's stored history is the chain of transitions the
        daemon made, in order, and its row holds the last state. A
        transition can land between reading the log and the table (after
        call work ending): read both again until they agree or time is up."""
        deadline = time.monotonic() + 10
        made, stored = self.histories(agents)
        while made != stored and time.monotonic() < deadline:
            time.sleep(0.2)
            made, stored = self.histories(agents)
        for a in agents:
            self.assertEqual(stored[a], made[a], f"agent {a} history")
            self.assertEqual(acd.agent_state(a)[0], made[a][-1][1], f"agent {a} state")

    def test_outage_under_load(self):
        cid, did = acd.campaign(wrapup_time=0, max_wait_time=60)
        agents = self.agents_answering(cid, AGENTS)
        health = Healthz(self.port)
        health.start()
        self.addCleanup(health.halt.set)
        callers = []
        load = threading.Thread(target=lambda: callers.append(harness.sipp(
            "uac-hangup.xml", "-s", did, "-d", str(TALK_MS), "-r", str(RATE),
            calls=CALLS, timeout=180, local_port=harness.SIP_PORT + 9)))
        load.start()
        self.daemon.wait_log(r"call=\S+ ended", count=8, timeout=30)
        down, down_wall = self.stop_database()
        ended_before = self.daemon.count(r"call=\S+ ended")
        r = self.req("GET", V1 + "/agents")
        self.assertEqual((r.status, r.body.get("status")), (503, 503), r.raw)
        harness.wait_for(lambda: any(s[3]["journal_pending"] > 0
                                     for s in health.between(down, time.monotonic())), 10,
                         what="writes journaled")
        time.sleep(OUTAGE_S)  # the outage itself: calls go on meanwhile
        ended_during = self.daemon.count(r"call=\S+ ended") - ended_before
        harness.pg_start()
        back = time.monotonic()
        harness.wait_for(lambda: any(s[3]["database"] == "up" and s[3]["journal_pending"] == 0
                                     for s in health.between(back, time.monotonic())),
                         30, interval=0.05, what="the journal drained")
        after = health.between(back, time.monotonic())
        reconnected = next(s[0] for s in after if s[3]["database"] == "up")
        drained = next(s[0] for s in after
                       if s[3]["database"] == "up" and s[3]["journal_pending"] == 0)
        load.join(200)
        health.halt.set()
        res = callers[0]
        self.assertEqual(res.returncode, 0, res.stdout[-2000:] + res.stderr[-2000:])
        acd.wait_calls(CALLS, timeout=60, campaign_id=cid)
        rows = harness.sql(
            "SELECT count(*), count(DISTINCT call_id), count(agent_id),"
            " count(answer_time), count(*) FILTER (WHERE abandoned),"
            " count(*) FILTER (WHERE disposition = 'ANSWERED'),"
            f" count(*) FILTER (WHERE start_time >= to_timestamp({down_wall}))"
            f" FROM calls WHERE campaign_id = {cid}")[0]
        self.assertEqual([int(v) for v in rows[:6]], [CALLS, CALLS, CALLS, CALLS, 0, CALLS],
                         "CDRs: all, distinct, with an agent, answered, abandoned, ANSWERED")
        self.assertEqual(harness.sql("SELECT count(*) FROM queue_entries"), [["0"]])
        decided = harness.sql(
            "SELECT count(*) FROM calls c WHERE EXISTS (SELECT 1 FROM routing_decisions r"
            f" WHERE r.call_id = c.call_id AND r.campaign_id = {cid})"
            f" AND c.campaign_id = {cid}")
        self.assertEqual(decided, [[str(CALLS)]],
                         "a routing decision for every call, those of the outage too")
        self.check_history(agents)
        outage = health.between(down, back)
        slowest = max(s[1] for s in outage)
        self.assertTrue(all(s[3]["database"] == "down" for s in outage[2:-2]), outage[:3])
        self.assertLess(slowest, 1.0, "/healthz answered promptly during the outage")
        print(f"measure: {CALLS} calls at {RATE}/s, {AGENTS} agents; outage {OUTAGE_S} s:"
              f" calls ended during it {ended_during}, started after it began {rows[6]};"
              f" CDRs after {rows[0]}; after the cluster started, connected again in"
              f" {reconnected - back:.2f} s, journal drained in {drained - back:.2f} s;"
              f" /healthz during the outage {len(outage)} answers,"
              f" slowest {slowest * 1000:.1f} ms;"
              f" peak journal_pending {max(s[3]['journal_pending'] for s in outage)}")

    def test_restart_during_outage(self):
        """A daemon restarted while the database is away comes up (/healthz),
        keeps what the last one journaled, and serves calls once the
        database returns, the history of both processes in order."""
        cid, did = acd.campaign(wrapup_time=0)
        (agent,) = self.agents_answering(cid, 1)
        self.stop_database()
        r = self.req("POST", f"{V1}/agents/{agent}/state", {"state": "paused"})
        self.assertEqual(r.status, 503, r.raw)
        self.daemon.wait_log(rf"agent={agent} available --\w+--> ringing", count=0)
        res = harness.sipp("uac-hangup.xml", "-s", did, "-d", "2000", timeout=60)
        self.assertEqual(res.returncode, 0, res.stdout[-2000:] + res.stderr[-2000:])
        self.daemon.wait_log(r"call=\S+ ended")
        self.daemon.wait_log(rf"agent={agent} \w+ --\w+--> available", count=2)
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log_path)
        self.start_daemon(database_up=False)
        self.daemon.wait_log(r"CDR journal holds records=\d+ to replay")
        health = api.request(self.port, "GET", "/healthz", check=False).body
        self.assertEqual((health["status"], health["database"]), ("degraded", "down"))
        self.assertGreater(health["journal_pending"], 0)
        harness.pg_start()
        self.daemon.wait_log(r"info campaigns loaded", timeout=30)
        res = harness.sipp("uac-hangup.xml", "-s", did, "-d", "2000", timeout=60)
        self.assertEqual(res.returncode, 0, res.stdout[-2000:] + res.stderr[-2000:])
        acd.wait_calls(2, campaign_id=cid)
        self.assertEqual(harness.sql(
            f"SELECT count(agent_id), count(DISTINCT call_id) FROM calls"
            f" WHERE campaign_id = {cid}"), [["2", "2"]])
        self.assertEqual(harness.sql("SELECT count(*) FROM queue_entries"), [["0"]])
        acd.wait_stable([agent])
        self.check_history([agent])


V1 = test_pbx.V1


def load_tests(loader, tests, pattern):
    """This module's tests only, not the ones PbxTest's helpers come with."""
    return unittest.TestSuite(PgOutageTest(name) for name in PgOutageTest.OWN)


if __name__ == "__main__":
    unittest.main(verbosity=2)
