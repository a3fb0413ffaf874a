"""The admin API with real calls: the live event feed (lifecycle, resume,
the gap past the buffer, agent scope, auth), live calls and their hang-up,
CDRs with filters, pagination and CSV, routing decisions, recordings with
ranges, queue statistics, blind transfers and an agent token's view.

Campaigns, agents, memberships and DIDs are provisioned through the API
itself; agents are sipp phones registered with the SIP credentials that
POST /agents returned; callers are sipp on the trunk. Every JSON response
and every feed message is checked against schemas/openapi.yaml; a mismatch
fails the test at its end, after the behaviour has been checked too, so
that one report lists every difference. Run by meson (suite 'integration').
"""

import csv
import datetime
import io
import os
import re
import subprocess
import sys
import time
import unittest
import uuid

import websocket

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acd  # noqa: E402
import api  # noqa: E402
import apispec  # noqa: E402
import harness  # noqa: E402
import rtp  # noqa: E402

# Ports of this file's sipp processes, away from the other tests' phones
# (acd.Phone starts 1040 above the SIP port): phones from 2340 above it,
# callers from 3940 above (17400 and 19000 with the default ports); the
# media ports of both are 20000 above.
acd._next_port[0] = harness.SIP_PORT + 2340
_next_caller_port = [harness.SIP_PORT + 3940]

# The tones of the parties of test_supervision_audio_reaches_whom_the_mode_says.
CUSTOMER_HZ, AGENT_HZ, SUPERVISOR_HZ, SECOND_HZ = 600.0, 1000.0, 1700.0, 2300.0
CALL_EVENTS = ("call.queued", "call.offered", "call.answered", "call.ended")
FEED_BUFFER = 4096


def hears(peer, hz, since):
    """peer heard tone hz for half a second since monotonic time since."""
    return peer.heard(hz, since) >= 25


def utc(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def media(r):
    return r.headers.get("content-type", "").split(";", 1)[0].strip().lower()


class Feed:
    """One event-feed connection; every message is parsed and checked
    against the spec (differences go to the test's list)."""

    def __init__(self, test, ws):
        self.test = test
        self.ws = ws
        self.seen = []

    def recv(self, timeout=5.0):
        """The next message, or None after timeout seconds."""
        self.ws.settimeout(timeout)
        try:
            text = self.ws.recv()
        except websocket.WebSocketTimeoutException:
            return None
        import json
        msg = json.loads(text)
        try:
            apispec.validate_event(msg)
        except AssertionError as e:
            self.test.spec_error(str(e))
        self.seen.append(msg)
        return msg

    def until(self, predicate, timeout=20.0, what="an event"):
        """Messages up to and including the first that predicate accepts."""
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(max(0.05, deadline - time.monotonic()))
            if msg is None:
                continue
            out.append(msg)
            if predicate(msg):
                return out
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                             f"got {[m.get('type') for m in out]}")

    def drain(self, quiet=1.0):
        """Every message until none arrives for quiet seconds."""
        out = []
        while True:
            msg = self.recv(quiet)
            if msg is None:
                return out
            out.append(msg)

    def close(self):
        self.ws.close()


class LiveApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.asterisk_start()

    def setUp(self):
        self.spec_errors = []
        self.phones = []
        self.agents = []
        self.feeds = []
        self.started = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
            seconds=2)
        self.daemon, self.port = api.start_daemon(
            "apilive", journal=os.path.join(harness.LOG_DIR, "j-apilive"))
        self.addCleanup(lambda: self.daemon.kill())
        self.daemon.wait_log(r"campaigns loaded")
        _, self.sup = self.token("supervisor")

    def tearDown(self):
        for f in self.feeds:
            try:
                f.close()
            except Exception:
                pass
        for p in self.phones:
            p.stop()
        for a in self.agents:
            acd.login(a, "logout")
        harness.wait_idle()
        acd.wait_stable(self.agents)
        self.assertEqual(harness.channels(), [])
        self.assertEqual(harness.bridges(), [])
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log_path)
        if self.spec_errors:
            self.fail("differences from schemas/openapi.yaml and the contract:\n" +
                      "\n".join(self.spec_errors))

    # -- the API -------------------------------------------------------------

    def spec_error(self, text):
        self.spec_errors.append(text)

    def soft(self, condition, text):
        """A difference from the contract that the rest of the test can
        live with: reported at the end, with the spec's."""
        if not condition:
            self.spec_errors.append("contract: " + text)

    def req(self, method, path, body=None, token=None, headers=None, raw=None):
        """A request with the admin token unless told otherwise; the response
        is checked against the spec, differences kept for tearDown."""
        r = api.request(self.port, method, path, body,
                        token=api.ADMIN_TOKEN if token is None else token,
                        headers=headers, raw=raw, check=False)
        m = media(r)
        try:
            apispec.validate(method, path, r.status,
                             r.body if m.endswith("json")
                             else r.raw.decode() if m.startswith("text/") else r.raw,
                             r.headers.get("content-type"))
        except AssertionError as e:
            self.spec_error(str(e))
        return r

    def ok(self, method, path, body=None, expect=200, token=None, **kw):
        r = self.req(method, path, body, token=token, **kw)
        expected = (expect,) if isinstance(expect, int) else expect
        self.assertIn(r.status, expected, f"{method} {path} {body}: {r.raw[:400]!r}")
        return r.body

    def all_items(self, path):
        """Every item of a list, following next_cursor."""
        return [i for page in api.pages(lambda p: self.ok("GET", p), path)
                for i in page["items"]]

    def token(self, role, agent_id=None):
        body = {"role": role}
        if agent_id is not None:
            body["agent_id"] = agent_id
        t = self.ok("POST", "/api/v1/tokens", body, expect=201)
        self.assertEqual((t["role"], t["agent_id"]), (role, agent_id))
        self.assertRegex(t["token"], r"^[0-9a-f]{64}$")
        return t["id"], t["token"]

    def set_state(self, agent_id, state, reason=None, token=None, expect=200):
        body = {"state": state}
        if reason:
            body["reason"] = reason
        return self.ok("POST", f"/api/v1/agents/{agent_id}/state", body, expect=expect,
                       token=token)

    def feed(self, token, query="", header=True):
        f = Feed(self, api.ws_connect(self.port, token, query=query, header=header))
        self.feeds.append(f)
        return f

    # -- provisioning --------------------------------------------------------

    def setup_campaign(self, n_agents, scenarios=None, ring_ms=200, available=True,
                       extras=None, **settings):
        """A campaign, its DID and n agents with registered phones, all made
        through the API. Returns (campaign id, did, [agent objects])."""
        camp = self.ok("POST", "/api/v1/campaigns",
                       dict({"name": "live-" + uuid.uuid4().hex[:8]}, **settings),
                       expect=201)
        for k, v in settings.items():
            self.assertEqual(camp[k], v, k)
        cid = camp["id"]
        did = None
        while did is None:
            number = "79" + str(uuid.uuid4().int % 100000).zfill(5)
            r = self.req("POST", "/api/v1/dids", {"number": number, "campaign_id": cid})
            if r.status == 201:
                self.assertEqual((r.body["number"], r.body["campaign_id"]), (number, cid))
                did = number
            else:
                self.assertEqual(r.status, 409, r.raw)
        agents = []
        for i in range(n_agents):
            ag = self.ok("POST", "/api/v1/agents",
                         {"name": f"live agent {i} {uuid.uuid4().hex[:6]}"}, expect=201)
            self.assertEqual(ag["state"], "offline")
            self.assertGreaterEqual(len(ag["sip_password"]), 24)
            self.agents.append(ag["id"])
            m = self.ok("POST", f"/api/v1/campaigns/{cid}/agents", {"agent_id": ag["id"]},
                        expect=201)
            self.assertEqual(m["agent_id"], ag["id"])
            agents.append(ag)
        for i, ag in enumerate(agents):
            scenario = scenarios[i] if scenarios else "uas-answer.xml"
            self.phones.append(acd.Phone(ag["sip_username"], ag["sip_password"], scenario,
                                         ring_ms=ring_ms,
                                         extra=extras[i] if extras else ()))
            self.daemon.wait_log(rf"agent={ag['id']} phone=\S+ reachable", timeout=15)
            if available:
                self.make_available(ag["id"])
        return cid, did, agents

    def make_available(self, agent_id):
        # The membership reaches the dispatcher with the next configuration
        # load; until then the agent may not be known yet (404).
        harness.wait_for(lambda: self.req("POST", f"/api/v1/agents/{agent_id}/state",
                                          {"state": "available"}).status == 200,
                         15, what=f"agent {agent_id} available")
        self.assertEqual(acd.agent_state(agent_id)[0], "available")

    def call(self, did, talk_ms=1000, scenario="uac-hangup.xml", timeout=60, extra=()):
        """A caller on the trunk, in the background; returns the Popen."""
        port = _next_caller_port[0]
        _next_caller_port[0] += 4
        return subprocess.Popen(
            ["sipp", f"127.0.0.1:{harness.SIP_PORT}", "-sf",
             os.path.join(harness.SCENARIOS, scenario), "-m", "1", "-i", "127.0.0.1",
             "-p", str(port), "-mp", str(port + 20000), "-nostdin",
             "-timeout", f"{timeout}s", "-s", did, "-d", str(talk_ms), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def finish(self, caller, timeout=60):
        out, _ = caller.communicate(timeout=timeout)
        self.assertEqual(caller.returncode, 0, out[-2000:])

    def live_calls(self, token=None, campaign_id=None):
        items = self.ok("GET", "/api/v1/calls", token=token)["items"]
        return [c for c in items if campaign_id is None or c["campaign_id"] == campaign_id]

    def wait_live_call(self, campaign_id, state, timeout=20):
        return harness.wait_for(
            lambda: next((c for c in self.live_calls(campaign_id=campaign_id)
                          if c["state"] == state), None),
            timeout, what=f"a {state} call in campaign {campaign_id}")

    def wait_ended(self, call_id, timeout=20):
        harness.wait_for(lambda: harness.sql(
            f"SELECT 1 FROM calls WHERE call_id = '{call_id}' AND end_time IS NOT NULL"),
            timeout, what=f"the CDR of {call_id}")

    # -- 1. the live event feed ------------------------------------------------

    def test_feed_call_lifecycle_and_resume(self):
        cid, did, (agent,) = self.setup_campaign(1, available=False, wrapup_time=0)
        aid = agent["id"]
        feed = self.feed(self.sup)
        witness = self.feed(self.sup, header=False)  # ?access_token=
        self.set_state(aid, "available")
        msgs = feed.until(lambda m: m["type"] == "agent.state_changed"
                          and m["data"]["agent_id"] == aid, what="agent.state_changed")
        self.assertEqual((msgs[-1]["data"]["from"], msgs[-1]["data"]["to"]),
                         ("offline", "available"))
        epoch = msgs[-1].get("epoch")

        caller = self.call(did, talk_ms=2000)
        msgs += feed.until(lambda m: m["type"] == "call.ended"
                           and m["data"]["campaign_id"] == cid, what="call.ended")
        self.finish(caller)
        stats = [m["data"] for m in msgs if m["type"] == "queue.stats"
                 and m["data"]["campaign_id"] == cid]
        self.assertTrue(stats, "queue.stats of the campaign while the call went on")
        self.assertEqual(stats[-1]["answered"], 1, stats[-1])
        calls = [m for m in msgs if m["type"] in CALL_EVENTS]
        self.assertEqual([m["type"] for m in calls], list(CALL_EVENTS), calls)
        call_id = calls[0]["data"]["call_id"]
        # An inbound call is named by its caller's channel, which is in
        # Asterisk's list of channels while the call is up.
        self.assertTrue(call_id, calls[0])
        for m in calls:
            self.assertEqual((m["data"]["call_id"], m["data"]["campaign_id"]),
                             (call_id, cid), m)
        for m in calls[1:]:
            self.assertEqual(m["data"]["agent_id"], aid, m)
        self.assertEqual(calls[0]["data"]["position"], 1)
        ended = calls[-1]["data"]
        self.assertEqual((ended["direction"], ended["disposition"], ended["abandoned"]),
                         ("inbound", "ANSWERED", False))
        self.assertGreaterEqual(ended["billsec"], 1)
        seqs = [m["seq"] for m in msgs]
        self.assertEqual(seqs, sorted(set(seqs)), "seq strictly increasing")
        self.assertTrue(all(m.get("epoch") == epoch for m in msgs), "one epoch")

        # Resume: what this socket missed while away comes first, exactly.
        msgs += feed.drain()
        last = msgs[-1]["seq"]
        feed.close()
        self.set_state(aid, "paused", "coffee")
        self.set_state(aid, "available")
        witnessed = witness.until(
            lambda m: m["type"] == "agent.state_changed" and m["data"]["to"] == "available"
            and m["seq"] > last, what="the witness's copy")
        witnessed += witness.drain()
        missed = [m for m in witnessed if m["seq"] > last]
        self.assertGreaterEqual(len(missed), 2)
        again = self.feed(self.sup, query=f"since={last}")
        replay = [again.recv() for _ in missed]
        self.assertEqual([m["seq"] for m in replay], list(range(last + 1, last + 1 + len(missed))),
                         "no gap, no duplicate")
        self.assertEqual(replay, missed)
        changes = [(m["data"]["from"], m["data"]["to"], m["data"]["reason"]) for m in replay
                   if m["type"] == "agent.state_changed"]
        self.assertEqual(changes, [("available", "paused", "coffee"),
                                   ("paused", "available", None)])
        rest = again.drain(1.5)
        self.assertFalse([m for m in rest if m["type"] != "queue.stats"],
                         "nothing but the missed events")
        # The queue's numbers changed since the call (its agent is available
        # again): its last queue.stats must say so.
        stats = [m["data"] for m in msgs + replay + rest
                 if m["type"] == "queue.stats" and m["data"]["campaign_id"] == cid]
        self.assertEqual((stats[-1]["agents"]["in_call"], stats[-1]["agents"]["available"]),
                         (0, 1), f"the last queue.stats is stale: {stats[-1]}")
        self.assertEqual(harness.channels(), [])
        self.assertEqual(harness.bridges(), [])

    def test_feed_gap_past_the_buffer(self):
        cid, did, (agent,) = self.setup_campaign(1, wrapup_time=0)
        aid = agent["id"]
        feed = self.feed(self.sup)
        self.set_state(aid, "paused")
        first = feed.until(lambda m: m["type"] == "agent.state_changed")[-1]["seq"]
        feed.close()
        toggles = (FEED_BUFFER + 10) // 2 + 1
        for i in range(toggles):
            self.set_state(aid, "available")
            self.set_state(aid, "paused")
        late = self.feed(self.sup, query=f"since={first}")
        gap = late.recv()
        self.assertIsNotNone(gap, "a first message")
        self.assertEqual((gap["type"], gap["seq"]), ("feed.gap", None), gap)
        self.assertEqual(gap["data"]["since"], first)
        self.assertGreater(gap["data"]["oldest"], first + 1)
        # The live stream continues after the gap, and nothing is replayed.
        self.set_state(aid, "available")
        nxt = late.until(lambda m: m["type"] == "agent.state_changed"
                         and m["data"]["to"] == "available"
                         and m["seq"] > gap["data"]["oldest"] + FEED_BUFFER - 10,
                         timeout=30, what="the live state change after the gap")
        live = nxt[-1]
        # A reader whose since is still inside the buffer gets no gap.
        inside = self.feed(self.sup, query=f"since={live['seq'] - 1}")
        self.assertEqual(inside.recv()["seq"], live["seq"])
        replayed = [m for m in nxt[:-1] if m["type"] != "queue.stats"]
        self.assertEqual(len(replayed), 0,
                         f"after feed.gap the live stream must continue, but "
                         f"{len(replayed)} buffered events came first (seq "
                         f"{replayed[0]['seq'] if replayed else '-'}..)")
        self.assertEqual(harness.channels(), [])

    def test_feed_agent_scope_and_auth(self):
        cid, did, (mine, other) = self.setup_campaign(
            2, available=False, strategy="linear", wrapup_time=0)
        _, agent_token = self.token("agent", mine["id"])
        own = self.feed(agent_token)
        sup = self.feed(self.sup)
        self.set_state(other["id"], "available")
        self.set_state(mine["id"], "available", token=agent_token)
        self.set_state(other["id"], "paused", "meeting")
        # The agent's call: it is the only one available.
        caller = self.call(did, talk_ms=1500)
        seen = sup.until(lambda m: m["type"] == "call.ended"
                         and m["data"]["campaign_id"] == cid,
                         what="call.ended for the supervisor")
        self.finish(caller)
        # The supervisor got the queue's statistics during the call (the
        # agent must not); agent.state_changed of the other agent too.
        self.assertIn("queue.stats", [m["type"] for m in seen])
        self.assertIn(other["id"], [m["data"].get("agent_id") for m in seen
                                    if m["type"] == "agent.state_changed"])
        got = own.drain(2.0)
        types = [m["type"] for m in got]
        self.assertTrue(got, "the agent received its events")
        for m in got:
            self.assertEqual(m["data"].get("agent_id"), mine["id"], m)
        self.assertNotIn("queue.stats", types)
        self.assertEqual([t for t in types if t.startswith("call.")],
                         ["call.offered", "call.answered", "call.ended"])
        self.assertIn("agent.state_changed", types)
        # Acting on another agent with an agent token is refused.
        r = self.req("POST", f"/api/v1/agents/{other['id']}/state", {"state": "available"},
                     token=agent_token)
        self.assertEqual(r.status, 403, r.raw)
        # No token, or an unknown one: the upgrade is refused with 401.
        for token in (None, "0" * 64):
            with self.assertRaises(websocket.WebSocketBadStatusException) as ctx:
                api.ws_connect(self.port, token)
            self.assertEqual(ctx.exception.status_code, 401)
        with self.assertRaises(websocket.WebSocketBadStatusException) as ctx:
            api.ws_connect(self.port, "0" * 64, header=False)
        self.assertEqual(ctx.exception.status_code, 401)

    # -- 2. calls, CDRs, recordings, routing, queues --------------------------

    def test_queued_call_listed_and_hung_up(self):
        cid, did, (agent,) = self.setup_campaign(1, wrapup_time=0, announce_frequency=0)
        self.set_state(agent["id"], "paused", "lunch")
        caller = self.call(did, scenario="uac-expect-bye.xml", timeout=60)
        call = self.wait_live_call(cid, "queued")
        call_id = call["id"]
        self.assertEqual((call["direction"], call["agent_id"], call["callee_number"]),
                         ("inbound", None, did))
        self.assertIsNotNone(call["channels"]["caller"])
        time.sleep(2.2)
        later = self.ok("GET", f"/api/v1/calls/{call_id}")
        self.assertEqual(later["state"], "queued")
        self.assertGreater(later["wait_seconds"], call["wait_seconds"])
        self.assertGreaterEqual(later["wait_seconds"], 2)
        q = self.ok("GET", f"/api/v1/queues/{cid}")
        self.assertEqual((q["campaign_id"], q["waiting"]), (cid, 1))
        self.assertGreater(q["longest_wait_seconds"], 0)
        self.assertEqual(q["agents"]["paused"], 1)
        # On whichever page: a database that served earlier runs holds more
        # campaigns than one page.
        self.assertIn(cid, [x["campaign_id"] for x in self.all_items("/api/v1/queues")])
        # Only a talking call can be transferred.
        r = self.req("POST", f"/api/v1/calls/{call_id}/transfer", {"number": "5551234"})
        self.assertEqual(r.status, 409, r.raw)
        # A campaign with a waiting caller cannot be deleted.
        r = self.req("DELETE", f"/api/v1/campaigns/{cid}")
        self.assertEqual(r.status, 409, r.raw)

        caller_channel = later["channels"]["caller"]
        r = self.req("DELETE", f"/api/v1/calls/{call_id}")
        self.assertEqual(r.status, 202, r.raw)
        harness.wait_for(lambda: caller_channel not in [c["id"] for c in harness.channels()],
                         10, what="the caller's channel gone")
        self.finish(caller)
        self.wait_ended(call_id)
        ended = self.ok("GET", f"/api/v1/calls/{call_id}")
        self.assertEqual((ended["state"], ended["call_id"], ended["campaign_id"]),
                         ("ended", call_id, cid))
        self.assertIsNone(ended["agent_id"])
        self.assertIsNone(ended["answer_time"] if "answer_time" in ended else None)
        self.assertNotIn(call_id, [c["id"] for c in self.live_calls()])
        r = self.req("DELETE", f"/api/v1/calls/{call_id}")
        self.assertEqual(r.status, 404, r.raw)
        self.assertEqual(self.ok("GET", f"/api/v1/queues/{cid}")["waiting"], 0)
        r = self.req("GET", "/api/v1/calls/wd-call-nosuchcall")
        self.assertEqual(r.status, 404, r.raw)

    def test_connected_calls_cdr_recording_routing_queue(self):
        cid, did, (a1, a2) = self.setup_campaign(2, ring_ms=500, strategy="linear",
                                                 wrapup_time=0)
        _, t1 = self.token("agent", a1["id"])
        _, t2 = self.token("agent", a2["id"])
        first = self.call(did, talk_ms=9000)
        c1 = self.wait_live_call(cid, "talking")
        second = self.call(did, talk_ms=5000)
        c2 = harness.wait_for(lambda: next(
            (c for c in self.live_calls(campaign_id=cid)
             if c["state"] == "talking" and c["id"] != c1["id"]), None),
            20, what="the second call talking")
        self.assertEqual({c1["agent_id"], c2["agent_id"]}, {a1["id"], a2["id"]})
        for c in (c1, c2):
            got = self.ok("GET", f"/api/v1/calls/{c['id']}")
            self.assertEqual((got["state"], got["campaign_id"], got["direction"]),
                             ("talking", cid, "inbound"))
            self.assertIsNotNone(got["bridge_id"])
            self.assertIsNotNone(got["answered_at"])
            self.assertIn(got["bridge_id"], [b["id"] for b in harness.bridges()])
            chans = {ch["id"] for ch in harness.channels()}
            self.assertIn(got["channels"]["caller"], chans)
            self.assertIn(got["channels"]["agent"], chans)
            agent = self.ok("GET", f"/api/v1/agents/{got['agent_id']}")
            self.assertEqual((agent["state"], agent["current_call"]), ("in_call", c["id"]))
        # 4. Agent tokens: only their own call, and 403 for the other's.
        by_agent = {c1["agent_id"]: c1["id"], c2["agent_id"]: c2["id"]}
        for aid, tok in ((a1["id"], t1), (a2["id"], t2)):
            self.assertEqual([c["id"] for c in self.live_calls(token=tok)], [by_agent[aid]])
            other = by_agent[a2["id"] if aid == a1["id"] else a1["id"]]
            self.assertEqual(self.req("GET", f"/api/v1/calls/{other}", token=tok).status, 403)
        self.assertEqual(len(self.live_calls(token=self.sup, campaign_id=cid)), 2)
        self.finish(second)
        self.finish(first)
        for c in (c1, c2):
            self.wait_ended(c["id"])

        q = "/api/v1/cdr?campaign=%d" % cid
        rows = self.ok("GET", q, token=self.sup)["items"]
        self.assertEqual([r["call_id"] for r in rows], [c2["id"], c1["id"]], "newest first")
        for r in rows:
            self.assertEqual((r["disposition"], r["direction"], r["abandoned"]),
                             ("ANSWERED", "inbound", False))
            self.assertGreaterEqual(r["billsec"], 3)
            self.assertEqual(r["agent_id"], by_agent_inv(by_agent)[r["call_id"]])
        # Filters.
        for query, expected in (
                (f"&agent={c1['agent_id']}", [c1["id"]]),
                (f"&agent={c2['agent_id']}", [c2["id"]]),
                ("&direction=inbound", [c2["id"], c1["id"]]),
                ("&direction=outbound", []),
                ("&disposition=ANSWERED", [c2["id"], c1["id"]]),
                ("&disposition=NO%20ANSWER", []),
                ("&from=" + utc(self.started), [c2["id"], c1["id"]]),
                ("&from=" + utc(datetime.datetime.now(datetime.timezone.utc)
                                + datetime.timedelta(hours=1)), []),
                ("&to=" + utc(self.started), []),
                ("&to=" + utc(datetime.datetime.now(datetime.timezone.utc)
                              + datetime.timedelta(minutes=5)), [c2["id"], c1["id"]])):
            with self.subTest(filter=query):
                got = self.ok("GET", q + query, token=self.sup)["items"]
                self.assertEqual([r["call_id"] for r in got], expected)
        self.assertEqual(self.req("GET", q + "&direction=sideways").status, 400)
        # Pagination: limit=1 and the cursor walk every row once.
        walked = []
        for page in api.pages(lambda p: self.ok("GET", p, token=self.sup), q + "&limit=1",
                              most=6):
            self.assertLessEqual(len(page["items"]), 1)
            walked += [r["call_id"] for r in page["items"]]
        self.assertEqual(walked, [c2["id"], c1["id"]])
        # CSV: a header line and one row per call.
        r = self.req("GET", q + "&format=csv", token=self.sup)
        self.assertEqual((r.status, media(r)), (200, "text/csv"), r.raw[:300])
        table = list(csv.reader(io.StringIO(r.raw.decode())))
        self.assertIn("call_id", table[0])
        self.assertEqual(len(table), 3, table)
        col = table[0].index("call_id")
        self.assertEqual([row[col] for row in table[1:]], [c2["id"], c1["id"]])
        self.assertEqual(table[1][table[0].index("disposition")], "ANSWERED")
        r = self.req("GET", q, token=self.sup, headers={"Accept": "text/csv"})
        self.assertEqual(media(r), "text/csv")
        # 4. The agent's own CDRs only.
        for aid, tok in ((a1["id"], t1), (a2["id"], t2)):
            own = self.ok("GET", "/api/v1/cdr", token=tok)["items"]
            self.assertEqual([x["call_id"] for x in own], [by_agent[aid]])
            self.assertEqual(self.ok("GET", f"/api/v1/cdr?agent={a1['id'] + a2['id'] - aid}",
                                     token=tok, expect=(200, 403)).get("items", []), [])

        # Routing decisions name the agent chosen.
        for c in (c1, c2):
            routing = self.ok("GET", f"/api/v1/calls/{c['id']}/routing", token=self.sup)
            self.assertGreaterEqual(len(routing["items"]), 1)
            self.assertIn(c["agent_id"], routing["items"][-1]["chosen"])
            self.assertEqual(routing["items"][-1]["strategy"], "linear")
        # Recording with ranges.
        rec = f"/api/v1/calls/{c1['id']}/recording"
        harness.wait_for(lambda: self.req("GET", rec, token=self.sup).status == 200, 10,
                         what="the recording")
        r = self.req("GET", rec, token=self.sup)
        self.assertEqual(media(r), "audio/wav")
        self.assertEqual(r.raw[:4], b"RIFF")
        self.assertEqual(r.raw[8:12], b"WAVE")
        size = len(r.raw)
        self.assertGreater(size, 8000 * 2 * 5)
        r = self.req("GET", rec, token=self.sup, headers={"Range": "bytes=0-99"})
        self.assertEqual(r.status, 206, r.headers)
        self.assertEqual(r.headers.get("content-range"), f"bytes 0-99/{size}")
        self.assertEqual(len(r.raw), 100)
        r = self.req("GET", rec, token=self.sup, headers={"Range": "bytes=999999999-"})
        self.assertEqual(r.status, 416, r.headers)
        self.assertEqual(self.req("GET", rec, token=t1).status, 403)
        # The queue's statistics.
        q = self.ok("GET", f"/api/v1/queues/{cid}", token=self.sup)
        self.assertEqual((q["answered"], q["abandoned"], q["waiting"]), (2, 0, 0))
        self.assertIsInstance(q["service_level"], (int, float))
        self.assertEqual(q["service_level"], 100)
        self.assertIsInstance(q["average_speed_of_answer"], (int, float))
        self.assertLess(q["average_speed_of_answer"], 5)
        # Both agents are back once their wrap-up ends.
        harness.wait_for(lambda: self.ok("GET", f"/api/v1/queues/{cid}", token=self.sup)
                         ["agents"]["available"] == 2, 15, what="both agents available")
        self.assertEqual(self.req("GET", f"/api/v1/queues/{cid}", token=t1).status, 403)

    # -- 3. transfer ---------------------------------------------------------

    def test_blind_transfer_to_another_agent(self):
        cid, did, (a1, a2) = self.setup_campaign(2, strategy="linear", wrapup_time=5)
        # Only the first takes queue calls; the second waits for the transfer.
        self.ok("DELETE", f"/api/v1/campaigns/{cid}/agents/{a2['id']}", expect=204)
        caller = self.call(did, talk_ms=9000)
        call = self.wait_live_call(cid, "talking")
        self.assertEqual(call["agent_id"], a1["id"])
        r = self.req("POST", f"/api/v1/calls/{call['id']}/transfer",
                     {"agent_id": a2["id"], "number": "5551234"})
        self.assertEqual(r.status, 422, r.raw)
        self.assertTrue(r.body.get("errors"), r.body)
        r = self.req("POST", f"/api/v1/calls/{call['id']}/transfer", {})
        self.assertEqual(r.status, 422, r.raw)
        # A number leaves through the trunk: the toll-fraud guard of POST
        # /calls refuses premium, emergency, short and international ones.
        for number in ("19005551234", "+19005551234", "911", "411",
                       "+442079460018", "5551234"):
            r = self.req("POST", f"/api/v1/calls/{call['id']}/transfer",
                         {"number": number})
            self.assertEqual(r.status, 422, f"{number}: {r.raw}")
            self.assertIn("refused", r.body["detail"], r.body)
        self.assertEqual(self.ok("GET", f"/api/v1/calls/{call['id']}")["state"], "talking")
        r = self.req("POST", f"/api/v1/calls/{call['id']}/transfer", {"agent_id": a2["id"]})
        self.assertEqual(r.status, 202, r.raw)
        # The second phone answers: its channel comes up in Asterisk.
        user2 = a2["sip_username"]
        harness.wait_for(lambda: any(c["name"].startswith(f"PJSIP/{user2}-")
                                     and c["state"] == "Up" for c in harness.channels()),
                         15, what="the second agent's phone answered")
        harness.wait_for(lambda: acd.agent_state(a1["id"])[0] == "after_call_work", 10,
                         what="the first agent in after_call_work")
        self.assertEqual(self.ok("GET", f"/api/v1/agents/{a1['id']}")["state"],
                         "after_call_work")
        self.assertFalse(any(c["name"].startswith(f"PJSIP/{a1['sip_username']}-")
                             for c in harness.channels()), "the first agent's leg is gone")
        self.finish(caller)
        harness.wait_idle()
        self.wait_ended(call["id"])
        row = harness.sql(f"SELECT agent_id, disposition FROM calls"
                          f" WHERE call_id = '{call['id']}'")[0]
        self.assertEqual(row, [str(a1["id"]), "ANSWERED"])

    # -- 4. supervision ------------------------------------------------------

    def media_call(self, tones):
        """A caller talking to an agent, each party and each supervisor an
        RTP peer sending its tone of tones, in order: the customer, the
        agent, then the supervisors (agents out of the campaign). Returns
        (peers, (campaign id, live call, caller Popen, agent, *supervisors))."""
        peers = [rtp.RtpPeer(hz, tones) for hz in tones]
        for peer in peers:
            self.addCleanup(peer.stop)
        n = len(tones) - 1
        cid, did, agents = self.setup_campaign(
            n, scenarios=["uas-answer-media.xml"] * n, strategy="linear", wrapup_time=0,
            extras=[("-key", "rtp_port", str(p.port)) for p in peers[1:]])
        for s in agents[1:]:
            self.ok("DELETE", f"/api/v1/campaigns/{cid}/agents/{s['id']}", expect=204)
        caller = self.call(did, talk_ms=60000, scenario="uac-media.xml", timeout=90,
                           extra=("-key", "rtp_port", str(peers[0].port)))
        self.addCleanup(lambda: caller.poll() is None and caller.kill())
        call = self.wait_live_call(cid, "talking")
        return peers, (cid, call, caller, *agents)

    def test_supervise_listen_barge_whisper_and_end(self):
        # The phones send media, as real ones do: Asterisk lets a snoop that
        # was hung up go only once a frame from the channel it snoops on
        # passed (asterisk/asterisk#978); a snoop on a phone that sends no
        # RTP stays until that phone hangs up. The second agent supervises:
        # out of the campaign, it takes no call.
        _, (cid, call, caller, agent, sup) = self.media_call(
            (CUSTOMER_HZ, AGENT_HZ, SUPERVISOR_HZ))
        feed = self.feed(self.sup)
        path = f"/api/v1/calls/{call['id']}/supervise"
        body = {"mode": "listen", "supervisor_agent_id": sup["id"]}
        _, agent_token = self.token("agent", agent["id"])
        self.assertEqual(self.req("POST", path, body, token=agent_token).status, 403)
        r = self.req("POST", path, {"mode": "listen", "supervisor_agent_id": agent["id"]})
        self.assertEqual(r.status, 409, r.raw)
        self.assertEqual(self.req("POST", path, {"mode": "spy", "supervisor_agent_id":
                                                 sup["id"]}).status, 422)
        got = self.ok("POST", path, body, expect=202, token=self.sup)
        self.assertEqual((got["call_id"], got["mode"], got["status"]),
                         (call["id"], "listen", "ringing"))
        self.assertEqual(self.req("POST", path, body).status, 409, "twice")
        user = sup["sip_username"]

        def phone_up():
            return next((c for c in harness.channels()
                         if c["name"].startswith(f"PJSIP/{user}-") and c["state"] == "Up"),
                        None)

        def bridge_with(channel_id):
            return next((b for b in harness.bridges() if channel_id in b["channels"]), None)

        def snoops():
            """The supervisor's: on the agent's channel (the recorder snoops
            on the caller's)."""
            return [c for c in harness.channels()
                    if c["name"].startswith(f"Snoop/{call['channels']['agent']}-")]

        def supervised(mode):
            feed.until(lambda m: m["type"] == "call.supervised"
                       and m["data"]["call_id"] == call["id"]
                       and m["data"]["mode"] == mode, what=f"call.supervised {mode}")

        # Listen: the phone answers and meets a snoop on the agent's channel
        # in a bridge of its own; the call's bridge still holds two.
        phone = harness.wait_for(phone_up, 15, what="the supervisor's phone answered")
        supervised("listen")
        harness.wait_for(lambda: len(snoops()) == 1, 10, what="one snoop")
        own = harness.wait_for(lambda: bridge_with(phone["id"]), 10, what="its bridge")
        self.assertEqual(sorted(own["channels"]), sorted([phone["id"], snoops()[0]["id"]]))
        self.assertEqual(len(bridge_with(call["channels"]["caller"])["channels"]), 2)
        # Barge: the same phone, not rung again, in the call's bridge.
        got = self.ok("PATCH", path, {"mode": "barge", "supervisor_agent_id": sup["id"]})
        self.assertEqual((got["mode"], got["status"]), ("barge", "switched"))
        supervised("barge")
        harness.wait_for(lambda: len(bridge_with(call["channels"]["caller"])["channels"]) == 3,
                         10, what="three in the call's bridge")
        harness.wait_for(lambda: snoops() == [], 10, what="the snoop gone")
        self.assertEqual(phone_up()["id"], phone["id"])
        # Whisper: back to a snoop of its own.
        self.ok("PATCH", path, {"mode": "whisper", "supervisor_agent_id": sup["id"]})
        supervised("whisper")
        harness.wait_for(lambda: len(snoops()) == 1, 10, what="a snoop again")
        harness.wait_for(lambda: len(bridge_with(call["channels"]["caller"])["channels"]) == 2,
                         10, what="two in the call's bridge")
        self.assertEqual(phone_up()["id"], phone["id"])
        # Ended by the API: the phone is hung up, the snoop goes.
        self.assertEqual(self.req("DELETE", path).status, 400)
        self.assertEqual(self.req("DELETE", f"{path}?supervisor_agent_id={agent['id']}").status,
                         404)
        self.ok("DELETE", f"{path}?supervisor_agent_id={sup['id']}", expect=204)
        feed.until(lambda m: m["type"] == "call.supervision_ended"
                   and m["data"]["call_id"] == call["id"], what="call.supervision_ended")
        harness.wait_for(lambda: phone_up() is None and snoops() == [], 10,
                         what="the phone and the snoop gone")
        # Again, then the call ends: so does the supervision.
        self.ok("POST", path, body, expect=202)
        harness.wait_for(phone_up, 15, what="the supervisor's phone answered again")
        supervised("listen")
        self.ok("DELETE", f"/api/v1/calls/{call['id']}", expect=202)
        feed.until(lambda m: m["type"] == "call.supervision_ended", what="ended with the call")
        caller.communicate(timeout=60)  # hung up by Asterisk: sipp says it failed
        harness.wait_idle()
        self.wait_ended(call["id"])
        self.assertEqual(self.ok("GET", f"/api/v1/agents/{sup['id']}")["state"], "available",
                         "supervising leaves the supervisor's own state alone")
        # The CDR holds both supervisions: modes in order, rung, answered,
        # ended, inside the call's own times.
        cdr = harness.wait_for(
            lambda: next((c for c in self.ok("GET", f"/api/v1/cdr?campaign={cid}")
                          ["items"] if c["end_time"] and len(c["supervisions"]) == 2), None),
            10, what="the CDR with its supervisions")
        first, second = cdr["supervisions"]
        self.assertEqual((first["supervisor_agent_id"], first["mode"], first["modes"]),
                         (sup["id"], "whisper", ["listen", "barge", "whisper"]))
        self.assertEqual((second["supervisor_agent_id"], second["modes"]),
                         (sup["id"], ["listen"]))
        for s in (first, second):
            self.assertLessEqual(s["started_at"], s["answered_at"])
            self.assertLessEqual(s["answered_at"], s["ended_at"])
            self.assertLessEqual(cdr["answer_time"], s["started_at"])
        self.assertLessEqual(first["ended_at"], second["started_at"])

    def test_supervision_audio_reaches_whom_the_mode_says(self):
        """Each party sends its own tone: the customer 600 Hz, the agent
        1000 Hz, the supervisor 1700 Hz (a second one 2300 Hz). Listening, the
        supervisor hears both and nobody hears them (a second supervisor
        listening meanwhile too); whispering, the agent hears them and the
        customer does not; barging, both do."""
        (customer, agent_rtp, sup_rtp, second_rtp), (cid, call, caller, _, sup, second) = \
            self.media_call((CUSTOMER_HZ, AGENT_HZ, SUPERVISOR_HZ, SECOND_HZ))
        path = f"/api/v1/calls/{call['id']}/supervise"

        def settle_then(seconds=1.5):
            time.sleep(0.5)  # the mode's channels are set up meanwhile
            return time.monotonic(), time.monotonic() + seconds

        t = time.monotonic()
        harness.wait_for(lambda: hears(customer, AGENT_HZ, t) and hears(agent_rtp,
                                                                       CUSTOMER_HZ, t),
                         10, what="customer and agent hear each other")
        stages = (("listen", {sup_rtp: (CUSTOMER_HZ, AGENT_HZ)}, (customer, agent_rtp)),
                  ("whisper", {agent_rtp: (SUPERVISOR_HZ,), sup_rtp: (CUSTOMER_HZ, AGENT_HZ)},
                   (customer,)),
                  ("barge", {agent_rtp: (SUPERVISOR_HZ,), customer: (SUPERVISOR_HZ,),
                             sup_rtp: (CUSTOMER_HZ, AGENT_HZ)}, ()))
        body = {"supervisor_agent_id": sup["id"]}
        feed = self.feed(self.sup)
        for i, (mode, must, deaf) in enumerate(stages):
            asked = time.time()
            self.ok("POST" if i == 0 else "PATCH", path, dict(body, mode=mode),
                    expect=202 if i == 0 else 200)
            if i == 0:
                phone = harness.wait_for(lambda: next(
                    (c for c in harness.channels()
                     if c["name"].startswith(f"PJSIP/{sup['sip_username']}-")), None),
                    10, interval=0.02, what="the supervisor's phone rung")
                rung = datetime.datetime.strptime(phone["creationtime"],
                                                  "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
                print(f"measure: supervise_to_ring_ms={(rung - asked) * 1000:.1f}",
                      file=sys.stderr)
            feed.until(lambda m: m["type"] == "call.supervised" and m["data"]["mode"] == mode,
                       what=f"call.supervised {mode}")
            start, end = settle_then()
            for peer, hzs in must.items():
                for hz in hzs:
                    harness.wait_for(lambda: hears(peer, hz, start), 10,
                                     what=f"{mode}: {hz} Hz heard")
            if mode == "listen":
                # A second supervisor listens too, then leaves: both work.
                self.ok("POST", path, {"mode": "listen", "supervisor_agent_id": second["id"]},
                        expect=202)
                t2 = time.monotonic()
                for hz in (CUSTOMER_HZ, AGENT_HZ):
                    harness.wait_for(lambda: hears(second_rtp, hz, t2), 10,
                                     what=f"the second supervisor hears {hz} Hz")
                self.assertLess(customer.heard(SECOND_HZ, t2), 5)
                self.assertLess(agent_rtp.heard(SECOND_HZ, t2), 5)
                self.ok("DELETE", f"{path}?supervisor_agent_id={second['id']}", expect=204)
            while time.monotonic() < end:
                time.sleep(0.1)
            for peer in deaf:
                self.assertLess(peer.heard(SUPERVISOR_HZ, start), 5,
                                f"{mode}: the supervisor's tone reached a party it must not")
        self.ok("DELETE", f"{path}?supervisor_agent_id={sup['id']}", expect=204)
        self.ok("DELETE", f"/api/v1/calls/{call['id']}", expect=202)
        caller.communicate(timeout=60)
        self.wait_ended(call["id"])

    def restart_daemon(self, graceful):
        """Stops the daemon (SIGTERM when graceful, else SIGKILL) and starts
        the next one; returns the wall-clock time it was started at."""
        if graceful:
            self.assertEqual(self.daemon.stop(), 0, self.daemon.log_path)
        else:
            self.daemon.kill()
        started = time.time()
        self.daemon, self.port = api.start_daemon(
            "apilive", journal=os.path.join(harness.LOG_DIR, "j-apilive"))
        return started

    def test_supervision_ends_with_a_daemon_killed_while_ringing(self):
        """SIGKILLed while the supervisor's phone still rings: the next
        process takes the call over still talking, hangs up the phone as an
        orphan, and the CDR's supervision ends."""
        cid, did, (agent, sup) = self.setup_campaign(
            2, scenarios=["uas-answer.xml", "uas-noanswer.xml"], strategy="linear",
            wrapup_time=0)
        self.ok("DELETE", f"/api/v1/campaigns/{cid}/agents/{sup['id']}", expect=204)
        caller = self.call(did, scenario="uac-expect-bye.xml", timeout=90)
        self.addCleanup(lambda: caller.poll() is None and caller.kill())
        call = self.wait_live_call(cid, "talking")
        path = f"/api/v1/calls/{call['id']}/supervise"
        self.ok("POST", path, {"mode": "listen", "supervisor_agent_id": sup["id"]},
                expect=202)
        user = sup["sip_username"]
        harness.wait_for(lambda: any(c["name"].startswith(f"PJSIP/{user}-")
                                     and c["state"] == "Ringing" for c in harness.channels()),
                         15, what="the supervisor's phone ringing")
        harness.wait_for(lambda: harness.sql(
            f"SELECT jsonb_array_length(supervisions) FROM calls WHERE call_id = '{call['id']}'")
            == [["1"]], 10, what="the supervision in the CDR")
        self.restart_daemon(graceful=False)
        harness.wait_for(lambda: not any(c["name"].startswith(f"PJSIP/{user}-")
                                         for c in harness.channels()),
                         15, what="the supervisor's phone hung up")
        again = self.wait_live_call(cid, "talking", timeout=30)
        self.assertEqual(again["id"], call["id"], "the call goes on")
        harness.wait_for(lambda: harness.sql(
            f"SELECT s->>'supervisor_agent_id', s ? 'ended_at' FROM calls,"
            f" jsonb_array_elements(supervisions) s WHERE call_id = '{call['id']}'")
            == [[str(sup["id"]), "t"]], 10, what="the CDR's supervision ended")
        self.ok("DELETE", f"/api/v1/calls/{call['id']}", expect=202)
        self.finish(caller)
        self.wait_ended(call["id"])

    def test_supervision_survives_daemon_restarts(self):
        """A supervisor listening across a SIGKILL, whispering across a
        SIGTERM, barging across a SIGKILL: each next process takes the
        supervision over as it is (the phone not rung again, the same snoop
        and bridges), the audio goes where the mode says, mode switches and
        the end work, the feed says nothing of an end that did not happen,
        and the CDR keeps one entry from the first ring to the end."""
        (customer, agent_rtp, sup_rtp), (cid, call, caller, _, sup) = \
            self.media_call((CUSTOMER_HZ, AGENT_HZ, SUPERVISOR_HZ))
        path = f"/api/v1/calls/{call['id']}/supervise"
        body = {"supervisor_agent_id": sup["id"]}
        feed = self.feed(api.ADMIN_TOKEN)
        self.ok("POST", path, dict(body, mode="listen"), expect=202)
        feed.until(lambda m: m["type"] == "call.supervised", what="call.supervised listen")
        harness.wait_for(lambda: harness.sql(
            f"SELECT count(*) FROM calls, jsonb_array_elements(supervisions) s"
            f" WHERE call_id = '{call['id']}' AND s ? 'answered_at'") == [["1"]],
            10, what="the answered supervision in the CDR")
        first = harness.sql(f"SELECT s->>'started_at', s->>'answered_at' FROM calls,"
                            f" jsonb_array_elements(supervisions) s"
                            f" WHERE call_id = '{call['id']}'")

        def parts():
            """The supervisor's phone, its snoops and the bridges, by id."""
            chans = harness.channels()
            return ([c["id"] for c in chans if c["name"].startswith(f"PJSIP/{sup['sip_username']}-")],
                    sorted(c["id"] for c in chans
                           if c["name"].startswith(f"Snoop/{call['channels']['agent']}-")),
                    sorted((b["id"], tuple(sorted(b["channels"]))) for b in harness.bridges()))

        def check_audio(mode, since):
            must = {sup_rtp: (CUSTOMER_HZ, AGENT_HZ)}
            if mode != "listen":
                must[agent_rtp] = (SUPERVISOR_HZ,)
            if mode == "barge":
                must[customer] = (SUPERVISOR_HZ,)
            for peer, hzs in must.items():
                for hz in hzs:
                    harness.wait_for(lambda: hears(peer, hz, since), 10,
                                     what=f"{mode}: {hz} Hz heard")
            for peer in (p for p in (customer, agent_rtp) if p not in must):
                self.assertLess(peer.heard(SUPERVISOR_HZ, since), 5,
                                f"{mode}: the supervisor's tone reached a party it must not")

        def no_end(feed):
            self.assertEqual([m["type"] for m in feed.drain(0.5)
                              if m["type"] == "call.supervision_ended"], [],
                             "the feed says nothing of an end")

        def log_ms(log, pattern):
            m = re.search(r"^(\S+) \S+ " + pattern, log, re.M)
            return datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f%z"
                                              ).timestamp() * 1000

        def restart(graceful, mode):
            before = parts()
            self.assertEqual((len(before[0]), len(before[1])),
                             (1, 0 if mode == "barge" else 1), before)
            started = self.restart_daemon(graceful)
            t = time.monotonic()
            adopted = rf"call={re.escape(call['id'])} supervisor={sup['id']} adopted {mode} "
            self.daemon.wait_log(adopted)
            log = self.daemon.log()
            at = log_ms(log, adopted)
            began = log_ms(log, r"welcomedlyd \S+ starting")
            linked = log_ms(log, r"ARI connected app=welcomedly ")
            print(f"measure: {'sigterm' if graceful else 'sigkill'}_{mode}"
                  f" start_to_supervision_adopted_ms={at - began:.0f}"
                  f" ari_connected_to_adopted_ms={at - linked:.0f}"
                  f" spawn_to_adopted_ms={at - started * 1000:.0f}", file=sys.stderr)
            self.assertEqual(parts(), before, "the same phone, snoop and bridges")
            self.assertEqual(self.wait_live_call(cid, "talking")["id"], call["id"])
            check_audio(mode, t)
            feed = self.feed(api.ADMIN_TOKEN, query="since=0")
            no_end(feed)
            return feed

        def switch(feed, mode):
            """PATCH to mode, done by the process that took over: the same
            phone, not rung again."""
            phone = parts()[0]
            got = self.ok("PATCH", path, dict(body, mode=mode))
            self.assertEqual((got["mode"], got["status"]), (mode, "switched"))
            feed.until(lambda m: m["type"] == "call.supervised" and m["data"]["mode"] == mode,
                       what=f"call.supervised {mode}")
            time.sleep(0.5)  # what the old mode set up goes meanwhile
            check_audio(mode, time.monotonic())
            self.assertEqual(parts()[0], phone, "not rung again")
            no_end(feed)

        feed = restart(graceful=False, mode="listen")
        switch(feed, "whisper")
        feed = restart(graceful=True, mode="whisper")
        switch(feed, "barge")
        feed = restart(graceful=False, mode="barge")
        self.ok("DELETE", f"{path}?supervisor_agent_id={sup['id']}", expect=204)
        feed.until(lambda m: m["type"] == "call.supervision_ended"
                   and m["data"]["call_id"] == call["id"], what="call.supervision_ended")
        harness.wait_for(lambda: parts()[:2] == ([], []), 10,
                         what="the phone and the snoop gone")
        self.ok("DELETE", f"/api/v1/calls/{call['id']}", expect=202)
        caller.communicate(timeout=60)
        self.wait_ended(call["id"])
        cdr = harness.wait_for(
            lambda: next((c for c in self.ok("GET", f"/api/v1/cdr?campaign={cid}")["items"]
                          if c["end_time"]), None), 10, what="the CDR")
        self.assertEqual(len(cdr["supervisions"]), 1, cdr["supervisions"])
        s = cdr["supervisions"][0]
        self.assertEqual((s["supervisor_agent_id"], s["mode"], s["modes"]),
                         (sup["id"], "barge", ["listen", "whisper", "barge"]))
        self.assertEqual(harness.sql(f"SELECT s->>'started_at', s->>'answered_at' FROM calls,"
                                     f" jsonb_array_elements(supervisions) s"
                                     f" WHERE call_id = '{call['id']}'"), first,
                         "the entry of the first process goes on")
        self.assertLessEqual(s["answered_at"], s["ended_at"])
        self.assertLessEqual(s["ended_at"], cdr["end_time"])

    def test_talking_call_survives_a_daemon_killed(self):
        """SIGKILLed mid-conversation: the next process takes the call over
        as it is (same bridge, same agent, the recording going on), the two
        still hear each other, and the call ends with one complete CDR."""
        tones = (CUSTOMER_HZ, AGENT_HZ)
        customer, agent_rtp = (rtp.RtpPeer(hz, tones) for hz in tones)
        for peer in (customer, agent_rtp):
            self.addCleanup(peer.stop)
        cid, did, (agent,) = self.setup_campaign(
            1, scenarios=["uas-answer-media.xml"], wrapup_time=0,
            extras=[("-key", "rtp_port", str(agent_rtp.port))])
        caller = self.call(did, talk_ms=60000, scenario="uac-media.xml", timeout=90,
                           extra=("-key", "rtp_port", str(customer.port)))
        self.addCleanup(lambda: caller.poll() is None and caller.kill())
        call = self.wait_live_call(cid, "talking")
        bridge = call["bridge_id"]
        harness.wait_for(lambda: harness.sql(
            f"SELECT answer_time IS NOT NULL FROM calls WHERE call_id = '{call['id']}'")
            == [["t"]], 10, what="the answer in the CDR")
        answered = harness.sql(f"SELECT answer_time FROM calls WHERE call_id = '{call['id']}'")
        talking_since = time.monotonic()
        self.daemon.kill()
        killed = time.monotonic()
        self.daemon, self.port = api.start_daemon(
            "apilive", journal=os.path.join(harness.LOG_DIR, "j-apilive"))
        self.daemon.wait_log(rf"call={call['id']} adopted talking agent={agent['id']}")
        # The recorder of the first process goes on: no second one.
        self.daemon.wait_log(rf"call={call['id']} recorder=wd-rec-\S+ taken over")
        self.assertEqual(len([c for c in harness.channels() if c["name"].startswith(
            f"Snoop/{call['channels']['caller']}-")]), 1)
        again = self.wait_live_call(cid, "talking")
        self.assertEqual((again["id"], again["agent_id"], again["bridge_id"]),
                         (call["id"], agent["id"], bridge))
        self.assertEqual(acd.agent_state(agent["id"])[0], "in_call")
        b = next(b for b in harness.bridges() if b["id"] == bridge)
        self.assertIn(call["channels"]["caller"], b["channels"])
        t = max(killed, time.monotonic())
        harness.wait_for(lambda: customer.heard(AGENT_HZ, t) >= 25 and
                         agent_rtp.heard(CUSTOMER_HZ, t) >= 25, 10,
                         what="the two still hear each other")
        time.sleep(1.0)  # a second of talk recorded after the restart
        talked = time.monotonic() - talking_since
        self.ok("DELETE", f"/api/v1/calls/{call['id']}", expect=202)
        caller.communicate(timeout=60)
        self.wait_ended(call["id"])
        row = self.ok("GET", f"/api/v1/calls/{call['id']}")
        self.assertEqual((row["state"], row["disposition"], row["agent_id"],
                          row["campaign_id"]), ("ended", "ANSWERED", agent["id"], cid))
        self.assertEqual(harness.sql(f"SELECT answer_time FROM calls"
                                     f" WHERE call_id = '{call['id']}'"), answered,
                         "the answer time of the first process stays")
        # One recording from the answer to the hang-up, the restart included.
        self.assertGreaterEqual(acd.recording_seconds(call["id"]), talked - 0.5)
        harness.wait_for(lambda: acd.agent_state(agent["id"])[0] == "available", 10,
                         what="the agent free again")


def by_agent_inv(by_agent):
    return {call: agent for agent, call in by_agent.items()}


if __name__ == "__main__":
    unittest.main(verbosity=2)
