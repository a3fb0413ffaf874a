"""The inbound contact center through a real Asterisk: campaign queues, the
dispatcher's strategies, ring-no-answer, auto-pause, abandon, the ringall
race, wrap-up, overflow, no agents, recordings and CDRs.

Agents are sipp phones that REGISTER with their own credentials; callers are
sipp on the trunk. Run by meson (suite 'integration').
"""

import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acd  # noqa: E402
import harness  # noqa: E402


def cdrs(campaign_id):
    return harness.sql(
        "SELECT call_id, coalesce(agent_id, 0), disposition, abandoned,"
        " coalesce(queue_wait_seconds, -1), billsec, coalesce(recording_url, ''),"
        " answer_time IS NOT NULL FROM calls"
        f" WHERE campaign_id = {campaign_id} AND end_time IS NOT NULL ORDER BY start_time")


class AcdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.asterisk_start()

    def setUp(self):
        self.phones = []
        self.agents = []
        self.daemon = harness.Daemon(DATABASE_URL=harness.pg_url(),
                                     JOURNAL_DIR=os.path.join(harness.LOG_DIR, "j-acd")).start()
        self.addCleanup(lambda: self.daemon.kill())
        self.daemon.wait_log(r"ARI resync done")
        self.daemon.wait_log(r"campaigns loaded")

    def tearDown(self):
        for p in self.phones:
            p.stop()
        for a in self.agents:
            acd.login(a, "logout")
        harness.wait_idle()
        acd.wait_stable(self.agents)
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log_path)

    def setup_campaign(self, n_agents, scenarios=None, ring_ms=200, **settings):
        cid, did = acd.campaign(**settings)
        users = []
        for i in range(n_agents):
            aid, user, pw = acd.agent(cid)
            self.agents.append(aid)
            users.append((aid, user, pw))
        acd.reload()
        self.daemon.wait_log(r"campaigns loaded", count=2)
        for i, (aid, user, pw) in enumerate(users):
            scenario = scenarios[i] if scenarios else "uas-answer.xml"
            self.phones.append(acd.Phone(user, pw, scenario, ring_ms=ring_ms))
            self.daemon.wait_log(rf"agent={aid} phone=\S+ reachable", timeout=10)
            acd.login(aid)
            self.daemon.wait_log(rf"agent={aid} \w+ --login--> available")
        return cid, did, [u[0] for u in users]

    def call(self, did, talk_ms=1000, scenario="uac-hangup.xml", calls=1, rate=None,
             wait=True):
        args = ["-s", did, "-d", str(talk_ms)]
        if rate:
            args += ["-r", str(rate)]
        if not wait:
            return subprocess.Popen(
                ["sipp", f"127.0.0.1:{harness.SIP_PORT}", "-sf",
                 os.path.join(harness.SCENARIOS, scenario), "-m", str(calls), "-i",
                 "127.0.0.1", "-nostdin", "-timeout", "60s"] + args,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        res = harness.sipp(scenario, *args, calls=calls, timeout=120)
        self.assertEqual(res.returncode, 0, res.stdout[-2000:] + res.stderr[-2000:])
        return res

    def test_rrmemory_rotates_3_3_3(self):
        cid, did, agents = self.setup_campaign(3, strategy="rrmemory", wrapup_time=0)
        for _ in range(9):
            self.call(did, talk_ms=1500)
            acd.wait_stable(agents)
        acd.wait_calls(9, campaign_id=cid)
        order = [int(r[1]) for r in cdrs(cid)]
        self.assertEqual(sorted(order.count(a) for a in agents), [3, 3, 3], order)
        self.assertEqual(order[:3] * 3, order, "rotation order")

    def assert_phones_unsubscribed(self):
        app = {}

        def unsubscribed():
            app.update(harness.ari("GET", "/applications/welcomedly-phones"))
            return app["endpoint_ids"] == []
        try:
            harness.wait_for(unsubscribed, 5)
        except AssertionError:
            self.fail(f"the phones' application still subscribed: {app}")
        self.assertEqual(self.daemon.count(r"endpoint states no longer watched"), 1)

    def test_phones_application_unsubscribes_with_contacts(self):
        """Registrations are in ps_contacts: ARI's endpoint states mean
        nothing there, and the phones' application stops being told them
        (at the first endpoint event once the contacts are read: a trunk
        call makes two), also through the subscriptions an earlier process
        left (Asterisk counts them, one per POST)."""
        cid, did, agents = self.setup_campaign(1, wrapup_time=0)
        self.call(did, talk_ms=500)
        acd.wait_calls(1, campaign_id=cid)
        self.assert_phones_unsubscribed()
        for _ in range(2):
            harness.ari("POST", "/applications/welcomedly-phones/subscription",
                        query={"eventSource": "endpoint:PJSIP"})
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log_path)
        self.daemon = harness.Daemon(DATABASE_URL=harness.pg_url(),
                                     JOURNAL_DIR=os.path.join(harness.LOG_DIR, "j-acd")).start()
        self.daemon.wait_log(r"ARI resync done")
        self.daemon.wait_log(rf"agent={agents[0]} phone=\S+ reachable", timeout=10)
        acd.wait_stable(agents)
        self.call(did, talk_ms=500)
        acd.wait_calls(2, campaign_id=cid)
        self.assert_phones_unsubscribed()

    def test_ring_no_answer_moves_on_and_auto_pauses(self):
        cid, did, (ignorer, answerer) = self.setup_campaign(
            2, scenarios=["uas-noanswer.xml", "uas-answer.xml"], strategy="linear",
            ring_timeout=2, retry_delay=1, wrapup_time=0, max_no_answer=2)
        for n in range(2):
            # The caller stays long enough for a ring-out, a rest, an answer.
            self.call(did, talk_ms=6000)
            acd.wait_calls(n + 1, campaign_id=cid)
        rows = cdrs(cid)
        self.assertEqual([int(r[1]) for r in rows], [answerer, answerer])
        # Rang the first agent 2 s, rested 1 s, then the second answered.
        self.assertGreaterEqual(int(rows[0][4]), 2)
        self.assertEqual(acd.agent_state(ignorer), ["paused", "no_answer"])
        decisions = harness.sql(
            f"SELECT chosen FROM routing_decisions WHERE call_id = '{rows[0][0]}' ORDER BY id")
        self.assertEqual([d[0] for d in decisions], [f"{{{ignorer}}}", f"{{{answerer}}}"])

    def test_caller_abandons_while_agent_rings(self):
        cid, did, (agent,) = self.setup_campaign(
            1, scenarios=["uas-noanswer.xml"], ring_timeout=30, wrapup_time=0)
        self.call(did, talk_ms=2500)
        acd.wait_calls(1, campaign_id=cid)
        row = cdrs(cid)[0]
        self.assertEqual(row[3], "t", "abandoned")
        self.assertIn(int(row[4]), (1, 2, 3), "wait time")
        self.assertEqual(int(row[1]), 0, "no agent")
        harness.wait_for(lambda: acd.agent_state(agent)[0] == "available", 10,
                         what="the agent available again")

    def test_ringall_race_bridges_exactly_one(self):
        cid, did, agents = self.setup_campaign(2, ring_ms=0, strategy="ringall",
                                               wrapup_time=0)
        self.call(did, talk_ms=1500)
        acd.wait_calls(1, campaign_id=cid)
        row = cdrs(cid)[0]
        self.assertIn(int(row[1]), agents)
        self.assertEqual(self.daemon.count(r"answered by agent="), 1)
        acd.wait_stable(agents)

    def test_wrapup_is_honoured(self):
        cid, did, (agent,) = self.setup_campaign(1, wrapup_time=3)
        self.call(did, talk_ms=500)
        second = self.call(did, talk_ms=6000, wait=False)
        out, _ = second.communicate(timeout=60)
        self.assertEqual(second.returncode, 0, out)
        acd.wait_calls(2, campaign_id=cid)
        rows = cdrs(cid)
        self.assertEqual([int(r[1]) for r in rows], [agent, agent])
        self.assertGreaterEqual(int(rows[1][4]), 2, "waited through the wrap-up")
        self.assertIn("after_call_work --wrapup_done--> available", self.daemon.log())

    def test_full_queue_overflows_to_a_prompt(self):
        cid, did, (agent,) = self.setup_campaign(
            1, scenarios=["uas-noanswer.xml"], ring_timeout=20, max_queue_length=1)
        first = self.call(did, talk_ms=6000, wait=False)
        self.daemon.wait_log(r"offered agent=")
        self.call(did, scenario="uac-expect-bye.xml")
        self.daemon.wait_log(rf"campaign={cid} full")
        out, _ = first.communicate(timeout=30)
        self.assertEqual(first.returncode, 0, out)
        acd.wait_calls(2, campaign_id=cid)
        rows = cdrs(cid)
        self.assertEqual([(r[2], r[3]) for r in rows],
                         [("NO ANSWER", "t"), ("ANSWERED", "f")],
                         "the first waited and gave up; the second heard the prompt")

    def test_no_agents_prompt_or_overflow(self):
        empty, empty_did = acd.campaign(no_agents_action="hangup")
        acd.reload()
        self.daemon.wait_log(r"campaigns loaded", count=2)
        self.call(empty_did, scenario="uac-expect-bye.xml")
        self.daemon.wait_log(rf"campaign={empty} has no agents")
        cid, did, (agent,) = self.setup_campaign(1, wrapup_time=0)
        harness.sql(f"UPDATE campaigns SET no_agents_action = 'overflow',"
                    f" overflow_campaign_id = {cid} WHERE id = {empty}")
        acd.reload()
        self.daemon.wait_log(r"campaigns loaded", count=4)
        self.call(empty_did, talk_ms=500)
        acd.wait_calls(1, campaign_id=cid)
        self.assertEqual(int(cdrs(cid)[0][1]), agent)

    def test_other_strategies_share_calls(self):
        # Sequential calls with no wrap-up: the three strategies that look
        # at history alternate; the random ones spread over the members.
        for strategy, alternate in (("leastrecent", True), ("fewestcalls", True),
                                    ("longest_idle", True), ("random", False),
                                    ("wrandom", False)):
            with self.subTest(strategy=strategy):
                cid, did, agents = self.setup_campaign(2, strategy=strategy,
                                                       wrapup_time=0)
                for _ in range(4):
                    self.call(did, talk_ms=800)
                    acd.wait_stable(agents)
                acd.wait_calls(4, campaign_id=cid)
                order = [int(r[1]) for r in cdrs(cid)]
                self.assertTrue(set(order) <= set(agents), order)
                if alternate:
                    self.assertEqual(order, [order[0], order[1]] * 2, order)
                    self.assertNotEqual(order[0], order[1], order)
                for p in self.phones:
                    p.stop()
                self.phones = []
                for a in agents:
                    acd.login(a, "logout")

    def test_announcements_and_max_wait(self):
        cid, did, (agent,) = self.setup_campaign(1, announce_frequency=1,
                                                 max_wait_time=4)
        acd.login(agent, "pause", "lunch")
        self.daemon.wait_log(rf"agent={agent} available --pause--> paused")
        # Nobody can answer: a position announcement after a second, then the
        # campaign's maximum wait sends the caller to the prompt.
        self.call(did, scenario="uac-expect-bye.xml")
        self.assertGreaterEqual(self.daemon.count(r"announced position=1"), 1)
        self.daemon.wait_log(r"waited the campaign's maximum")
        acd.wait_calls(1, campaign_id=cid)
        self.assertEqual(acd.agent_state(agent), ["paused", "lunch"])

    def test_queued_caller_keeps_place_across_restart(self):
        cid, did, (agent,) = self.setup_campaign(1, wrapup_time=0)
        acd.login(agent, "pause", "break")
        self.daemon.wait_log(rf"agent={agent} available --pause--> paused")
        caller = self.call(did, talk_ms=12000, wait=False)
        self.daemon.wait_log(rf"queued campaign={cid}")
        self.assertEqual(self.daemon.stop(), 0)
        time.sleep(2)
        self.daemon = harness.Daemon(DATABASE_URL=harness.pg_url(),
                                     JOURNAL_DIR=os.path.join(harness.LOG_DIR, "j-acd")).start()
        self.daemon.wait_log(r"adopted after resync")
        self.daemon.wait_log(r"keeps its place")
        acd.login(agent)
        self.daemon.wait_log(r"answered by agent=")
        out, _ = caller.communicate(timeout=30)
        self.assertEqual(caller.returncode, 0, out)
        acd.wait_calls(1, campaign_id=cid)
        row = cdrs(cid)[0]
        self.assertEqual((int(row[1]), row[2]), (agent, "ANSWERED"))
        self.assertGreaterEqual(int(row[4]), 2, "the wait counts from before the restart")

    def test_recording_and_cdr_of_an_answered_call(self):
        cid, did, (agent,) = self.setup_campaign(1, ring_ms=500, wrapup_time=0)
        self.call(did, talk_ms=3000)
        acd.wait_calls(1, campaign_id=cid)
        call_id, agent_id, disposition, abandoned, wait, billsec, url, answered = cdrs(cid)[0]
        self.assertEqual((int(agent_id), disposition, abandoned, answered),
                         (agent, "ANSWERED", "f", "t"))
        self.assertEqual(url, f"/api/v1/calls/{call_id}/recording")
        self.assertIn(int(wait), (0, 1))
        harness.wait_for(lambda: os.path.exists(os.path.join(acd.SPOOL, call_id + ".wav")),
                         10, what="the recording file")
        talk = acd.recording_seconds(call_id)
        self.assertLess(abs(talk - 2.5), 1.0, f"recording of {talk:.2f}s")
        self.assertLessEqual(abs(int(billsec) - talk), 1.0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
