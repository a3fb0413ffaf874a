"""Outbound calls through a real Asterisk: an agent's sipp phone is rung
first, then the customer through the trunk, where a sipp UAS answers, is
busy, does not answer or rejects. Checks the agent's states, the live call,
CDR rows, leads, dispositions, the event feed, the toll-fraud guard (bad,
forbidden, premium, international and do-not-call numbers, the per-agent
rate limit: nothing dialed) and lead import as JSON and CSV.

Everything is provisioned through the API. Every JSON response and feed
message is checked against schemas/openapi.yaml; differences are listed at
the end of the test. Run by meson (suite 'integration').
"""

import json
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

# The PSTN side of PJSIP/<number>@trunk listens here (sandbox-asterisk's
# --trunk-peer-port); the agents' phones take the ports above it, their
# media ports 20000 higher.
TRUNK_PORT = int(os.environ.get("WELCOMEDLY_TEST_TRUNK_PORT", str(harness.SIP_PORT + 5)))
PHONE_PORT = harness.SIP_PORT + 10
# The customer's phone rings this long before the call is given up
# (app/calls/outbound.c).
CUSTOMER_RING_S = 45


def number(area="212"):
    """A fresh NANP number in E.164 (exchange and line never 0/1-led)."""
    n = uuid.uuid4().int
    # An N11 exchange (211 ... 911) is a service code, which the guard refuses.
    mid = n // 8 % 100 if n // 8 % 100 != 11 else 12
    return f"+1{area}{2 + n % 8}{mid:02d}{n // 800 % 10000:04d}"


def cdr(call_id):
    rows = harness.sql(
        "SELECT direction, coalesce(disposition, ''), billsec, coalesce(agent_id, 0),"
        " coalesce(campaign_id, 0), coalesce(callee_number, ''),"
        " coalesce(recording_url, ''), coalesce(lead_id, 0), answer_time IS NOT NULL,"
        " coalesce(disposition_code, '')"
        f" FROM calls WHERE call_id = '{call_id}' AND end_time IS NOT NULL")
    if not rows:
        return None
    r = rows[0]
    return {"direction": r[0], "disposition": r[1], "billsec": int(r[2]),
            "agent_id": int(r[3]), "campaign_id": int(r[4]), "callee_number": r[5],
            "recording_url": r[6], "lead_id": int(r[7]), "answered": r[8] == "t",
            "disposition_code": r[9]}


def lead(lead_id):
    r = harness.sql(f"SELECT status, attempts, phone FROM leads WHERE id = {lead_id}")[0]
    return r[0], int(r[1]), r[2]


class Trunk:
    """The customer: a sipp UAS on the trunk's peer port. Every message it
    receives goes to a file, so a test can tell what was dialed."""

    def __init__(self, scenario, ring_ms=0, calls=1, args=()):
        stem = os.path.join(harness.LOG_DIR, f"trunk-{time.time_ns()}")
        if not os.path.isabs(scenario):
            scenario = os.path.join(harness.SCENARIOS, scenario)
        self.messages = stem + ".msg"
        self._out = open(stem + ".log", "w")
        self.proc = subprocess.Popen(
            ["sipp", "-sf", scenario, "-p", str(TRUNK_PORT),
             "-mp", str(TRUNK_PORT + 20000), "-i", "127.0.0.1", "-m", str(calls),
             "-d", str(ring_ms), "-nostdin", "-timeout", "120s", "-trace_msg",
             "-message_file", self.messages, "-trace_err", "-error_file", stem + ".err"]
            + list(args), stdout=self._out, stderr=subprocess.STDOUT)

    def invites(self):
        """The Request-URI of every INVITE received so far (retransmissions
        counted once)."""
        try:
            with open(self.messages, errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            return []
        seen = []
        for uri, call in re.findall(r"^INVITE (\S+) SIP/2\.0.*?^Call-ID:\s*(\S+)", text,
                                    re.M | re.S | re.I):
            if (uri, call) not in seen:
                seen.append((uri, call))
        return [u for u, _ in seen]

    def message_text(self):
        with open(self.messages, errors="replace") as f:
            return f.read()

    def wait(self, timeout=30):
        return self.proc.wait(timeout)

    def stop(self):
        harness.stop_process(self.proc)
        self._out.close()


class Feed:
    """An event-feed connection; messages are checked against the spec."""

    def __init__(self, test, ws):
        self.test = test
        self.ws = ws
        self.seen = []

    def pump(self, timeout):
        self.ws.settimeout(timeout)
        try:
            msg = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return None
        try:
            apispec.validate_event(msg)
        except AssertionError as e:
            self.test.spec_errors.append(str(e))
        self.seen.append(msg)
        return msg

    def until(self, predicate, timeout=20.0, what="an event"):
        deadline = time.monotonic() + timeout
        for m in self.seen:
            if predicate(m):
                return m
        while time.monotonic() < deadline:
            m = self.pump(max(0.05, deadline - time.monotonic()))
            if m is not None and predicate(m):
                return m
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                             f"got {[m.get('type') for m in self.seen]}")

    def drain(self, quiet=0.5):
        while self.pump(quiet) is not None:
            pass
        return self.seen

    def of_call(self, call_id):
        return [m for m in self.seen if m["type"].startswith("call.")
                and m["data"].get("call_id") == call_id]

    def states(self, agent_id):
        return [(m["data"]["from"], m["data"]["to"]) for m in self.seen
                if m["type"] == "agent.state_changed" and m["data"]["agent_id"] == agent_id]


class OutboundTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The trunk's peer port is an option of the instance: restart it
        # with ours (a running instance would keep the port it has).
        harness.asterisk_start(trunk_peer_port=TRUNK_PORT)

    def setUp(self):
        acd._next_port[0] = PHONE_PORT
        self.spec_errors = []
        self.phones = []
        self.trunks = []
        self.agents = []
        self.feeds = []
        self.daemon, self.port = api.start_daemon(
            "outc", journal=os.path.join(harness.LOG_DIR, "j-outc"))
        self.addCleanup(lambda: self.daemon.kill())
        self.daemon.wait_log(r"campaigns loaded")
        _, self.sup = api.make_token(self.port, api.ADMIN_TOKEN, "supervisor")

    def tearDown(self):
        for f in self.feeds:
            try:
                f.ws.close()
            except Exception:
                pass
        for t in self.trunks:
            t.stop()
        for p in self.phones:
            p.stop()
        harness.wait_idle()
        self.assertEqual(harness.channels(), [])
        self.assertEqual(harness.bridges(), [])
        for a in self.agents:
            self.assertIn(acd.agent_state(a)[0], ("available", "paused", "offline"),
                          f"agent {a} left in a call or in after-call work")
            acd.login(a, "logout")
        acd.wait_stable(self.agents)
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log_path)
        if self.spec_errors:
            self.fail("differences from schemas/openapi.yaml and the contract:\n" +
                      "\n".join(dict.fromkeys(self.spec_errors)))

    # -- the API -------------------------------------------------------------

    def req(self, method, path, body=None, token=None, headers=None, raw=None):
        r = api.request(self.port, method, path, body,
                        token=api.ADMIN_TOKEN if token is None else token,
                        headers=headers, raw=raw, check=False)
        media = r.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        try:
            apispec.validate(method, path, r.status,
                             r.body if media.endswith("json") else r.raw,
                             r.headers.get("content-type"))
        except AssertionError as e:
            self.spec_errors.append(str(e))
        return r

    def ok(self, method, path, body=None, expect=200, **kw):
        r = self.req(method, path, body, **kw)
        self.assertEqual(r.status, expect, f"{method} {path} {body}: {r.raw[:400]!r}")
        return r.body

    def refused(self, body, status, slug, token=None, detail=None):
        """POST /calls refused with status and slug; nothing dialed."""
        r = self.req("POST", "/api/v1/calls", body, token=token)
        self.assertEqual(r.status, status, f"{body}: {r.raw[:400]!r}")
        self.assertEqual(r.body["type"], "urn:welcomedly:problem:" + slug, r.body)
        if detail:
            self.assertRegex(r.body.get("detail", "") + json.dumps(r.body.get("errors", [])),
                             detail, body)
        self.assertEqual(harness.channels(), [], f"a channel after refusing {body}")
        return r

    def soft(self, condition, text):
        """A difference from the contract that the rest of the test can live
        with: reported at the end, so that one run lists every one."""
        if not condition:
            self.spec_errors.append("contract: " + text)

    def feed(self):
        f = Feed(self, api.ws_connect(self.port, self.sup))
        self.feeds.append(f)
        return f

    # -- provisioning --------------------------------------------------------

    def campaign(self, **settings):
        body = dict({"name": "out-" + uuid.uuid4().hex[:8]}, **settings)
        camp = self.ok("POST", "/api/v1/campaigns", body, expect=201)
        for k, v in settings.items():
            self.assertEqual(camp[k], v, k)
        cid = camp["id"]
        for code, flags in (("sale", {"is_sale": True, "is_final": True}),
                            ("no_interest", {"is_final": True}),
                            ("dnc", {"is_do_not_call": True, "is_final": True})):
            d = self.ok("POST", f"/api/v1/campaigns/{cid}/dispositions",
                        dict({"code": code, "label": code}, **flags), expect=201)
            self.assertEqual(d["code"], code)
        return cid

    def agent(self, cid, scenario="uas-answer.xml", ring_ms=200, available=True):
        """An agent of the campaign with a registered sipp phone; returns
        (agent id, agent token)."""
        ag = self.ok("POST", "/api/v1/agents", {"name": "out " + uuid.uuid4().hex[:8]},
                     expect=201)
        self.agents.append(ag["id"])
        self.ok("POST", f"/api/v1/campaigns/{cid}/agents", {"agent_id": ag["id"]},
                expect=201)
        self.phones.append(acd.Phone(ag["sip_username"], ag["sip_password"], scenario,
                                     ring_ms=ring_ms))
        self.daemon.wait_log(rf"agent={ag['id']} phone=\S+ reachable", timeout=15)
        _, token = api.make_token(self.port, api.ADMIN_TOKEN, "agent", ag["id"])
        if available:
            self.available(ag["id"])
        return ag["id"], token

    def available(self, aid):
        # The membership reaches the dispatcher with the next configuration
        # load; until then the agent may be unknown.
        harness.wait_for(lambda: self.req("POST", f"/api/v1/agents/{aid}/state",
                                          {"state": "available"}).status == 200,
                         15, what=f"agent {aid} available")
        self.assertEqual(acd.agent_state(aid)[0], "available")

    def leads(self, cid, rows):
        res = self.ok("POST", f"/api/v1/campaigns/{cid}/leads", rows)
        self.assertEqual((res["imported"], res["errors"]), (len(rows), []))
        items = self.ok("GET", f"/api/v1/leads?campaign_id={cid}&status=new")["items"]
        return [i["id"] for i in items][-len(rows):]

    def place(self, body, token=None):
        r = self.ok("POST", "/api/v1/calls", body, expect=202, token=token)
        self.assertRegex(r["id"], r"^wd-out-")
        self.assertEqual((r["agent_id"], r["campaign_id"]),
                         (body["agent_id"], body["campaign_id"]))
        return r

    def wait_cdr(self, call_id, timeout=20):
        return harness.wait_for(lambda: cdr(call_id), timeout, what=f"the CDR of {call_id}")

    def wait_state(self, aid, state, timeout=15):
        harness.wait_for(lambda: acd.agent_state(aid)[0] == state, timeout,
                         what=f"agent {aid} {state}")

    def dispose(self, call_id, code, token, expect=200):
        return self.ok("POST", f"/api/v1/calls/{call_id}/disposition", {"code": code},
                       expect=expect, token=token)

    # -- 1. the customer answers ----------------------------------------------

    def test_customer_answers_lead_call_then_disposition(self):
        cid = self.campaign(wrapup_time=120, caller_id="+12125550100",
                            allowed_prefixes=["+1212"])
        phone = number()
        national = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
        (lead_id,) = self.leads(cid, [{"phone": national, "name": "Ann Lee"}])
        self.assertEqual(lead(lead_id), ("new", 0, phone), "stored in E.164")
        feed = self.feed()
        aid, tok = self.agent(cid, available=False)
        trunk = Trunk("uas-answer.xml", ring_ms=1000)
        self.trunks.append(trunk)
        self.available(aid)

        placed = self.place({"agent_id": aid, "campaign_id": cid, "lead_id": lead_id},
                            token=tok)
        call_id = placed["id"]
        self.assertEqual(placed["number"], phone, "the lead's phone is dialed")
        live = harness.wait_for(
            lambda: next((c for c in self.ok("GET", "/api/v1/calls")["items"]
                          if c["id"] == call_id and c["state"] == "talking"), None),
            30, what="the call talking")
        self.assertEqual((live["direction"], live["agent_id"], live["campaign_id"],
                          live["callee_number"]), ("outbound", aid, cid, phone))
        self.assertTrue(live["bridge_id"], live)
        self.assertIsNotNone(live["answered_at"])
        self.assertEqual(live["channels"]["agent"], call_id)
        self.assertIn(live["bridge_id"], [b["id"] for b in harness.bridges()])
        self.assertEqual(self.ok("GET", f"/api/v1/calls/{call_id}", token=tok)["state"],
                         "talking")
        mine = self.ok("GET", "/api/v1/calls", token=tok)["items"]
        self.assertEqual([c["id"] for c in mine], [call_id], "the agent sees its call")
        self.assertEqual(acd.agent_state(aid)[0], "in_call")
        invites = trunk.invites()
        self.assertEqual(len(invites), 1, invites)
        self.assertIn(phone, invites[0], "the customer leg dials the E.164 number")
        sent_from = re.search(r"(?m)^From:.*$", trunk.message_text()).group(0)
        self.soft("+12125550100" in sent_from,
                  f"POST /calls: the customer leg does not carry the campaign's caller_id"
                  f" +12125550100; the trunk saw {sent_from!r}")

        time.sleep(2)
        r = self.req("DELETE", f"/api/v1/calls/{call_id}", token=tok)
        self.assertEqual(r.status, 202, r.raw)
        row = self.wait_cdr(call_id)
        self.assertEqual((row["direction"], row["disposition"], row["agent_id"],
                          row["campaign_id"], row["callee_number"], row["lead_id"]),
                         ("outbound", "ANSWERED", aid, cid, phone, lead_id), row)
        self.assertGreater(row["billsec"], 0, row)
        self.assertEqual(row["recording_url"], f"/api/v1/calls/{call_id}/recording")
        harness.wait_idle()
        self.assertEqual(trunk.wait(), 0, "the customer's sipp saw a clean call")

        ended = self.ok("GET", f"/api/v1/calls/{call_id}")
        self.assertEqual((ended["state"], ended["disposition"]), ("ended", "ANSWERED"))
        rec = harness.wait_for(
            lambda: (lambda r: r if r.status == 200 else None)(
                self.req("GET", f"/api/v1/calls/{call_id}/recording")),
            10, what="the recording")
        self.assertEqual(rec.headers["content-type"].split(";")[0], "audio/wav")
        self.assertEqual((rec.raw[:4], rec.raw[8:12]), (b"RIFF", b"WAVE"))
        self.assertGreater(len(rec.raw), 8000, "about 2 s of audio")

        feed.until(lambda m: m["type"] == "call.ended" and m["data"]["call_id"] == call_id,
                   what="call.ended")
        events = feed.of_call(call_id)
        self.assertEqual([m["type"] for m in events],
                         ["call.offered", "call.answered", "call.ended"], events)
        end = events[-1]["data"]
        self.assertEqual((end["direction"], end["disposition"], end["agent_id"],
                          end["campaign_id"]), ("outbound", "ANSWERED", aid, cid))
        self.assertGreater(end["billsec"], 0)
        feed.until(lambda m: m["type"] == "agent.state_changed"
                   and m["data"]["agent_id"] == aid and m["data"]["to"] == "after_call_work",
                   what="after_call_work")
        self.assertEqual([to for _, to in feed.states(aid)],
                         ["available", "ringing", "in_call", "after_call_work"])
        self.assertEqual(feed.states(aid)[0][0], "offline")
        harness.wait_for(lambda: lead(lead_id)[1] == 1, 10, what="the lead's attempt")
        self.assertEqual(lead(lead_id)[:2], ("contacted", 1))

        # Another agent may not give this call a disposition.
        other = self.ok("POST", "/api/v1/agents", {"name": "other " + uuid.uuid4().hex[:8]},
                        expect=201)
        self.agents.append(other["id"])
        _, other_tok = api.make_token(self.port, api.ADMIN_TOKEN, "agent", other["id"])
        r = self.req("POST", f"/api/v1/calls/{call_id}/disposition", {"code": "sale"},
                     token=other_tok)
        self.assertEqual((r.status, r.body["type"]), (403, "urn:welcomedly:problem:forbidden"))
        self.assertEqual(cdr(call_id)["disposition_code"], "")
        # The disposition ends the 120 s wrap-up at once; a second is refused.
        d = self.dispose(call_id, "sale", tok)
        self.assertEqual((d["call_id"], d["code"], d["lead_id"]), (call_id, "sale", lead_id))
        self.wait_state(aid, "available", timeout=5)
        self.assertEqual(lead(lead_id)[:2], ("sale", 1))
        self.assertEqual(cdr(call_id)["disposition_code"], "sale")
        r = self.req("POST", f"/api/v1/calls/{call_id}/disposition", {"code": "no_interest"},
                     token=tok)
        self.assertEqual((r.status, r.body["type"]), (409, "urn:welcomedly:problem:conflict"))
        self.assertEqual(lead(lead_id)[0], "sale")
        listed = self.ok("GET", f"/api/v1/cdr?campaign={cid}&direction=outbound")["items"]
        self.assertEqual([c["call_id"] for c in listed], [call_id])

    # -- 2. the customer does not take the call -------------------------------

    def customer_fails(self, scenario, args=(), ring_ms=0, timeout=30):
        """A lead call whose customer leg fails; returns (call id, lead id,
        agent id, agent token, feed, the call's events)."""
        cid = self.campaign(wrapup_time=120)
        self.scenario_name = os.path.basename(scenario)
        (lead_id,) = self.leads(cid, [{"phone": number(), "name": "Bo"}])
        feed = self.feed()
        aid, tok = self.agent(cid)
        trunk = Trunk(scenario, ring_ms=ring_ms, args=args)
        self.trunks.append(trunk)
        call_id = self.place({"agent_id": aid, "campaign_id": cid, "lead_id": lead_id},
                             token=tok)["id"]
        feed.until(lambda m: m["type"] == "call.ended" and m["data"]["call_id"] == call_id,
                   timeout=timeout, what="call.ended")
        self.assertEqual(trunk.wait(), 0, "the customer's sipp ran its scenario")
        self.assertEqual(len(trunk.invites()), 1)
        self.wait_state(aid, "after_call_work")
        self.assertEqual(self.ok("GET", "/api/v1/calls")["items"], [])
        return call_id, lead_id, aid, tok, feed, feed.of_call(call_id)

    def check_failed(self, call_id, lead_id, aid, tok, events, reasons, disposition,
                     status):
        self.assertEqual([m["type"] for m in events],
                         ["call.offered", "call.customer_failed", "call.ended"], events)
        what = f"customer {self.scenario_name}, call {call_id}"
        self.soft(events[1]["data"]["reason"] in reasons,
                  f"{what}: call.customer_failed reason {events[1]['data']['reason']!r},"
                  f" expected one of {reasons}")
        self.assertEqual(events[1]["data"]["agent_id"], aid)
        self.soft(events[2]["data"]["disposition"] == disposition,
                  f"{what}: call.ended disposition {events[2]['data']['disposition']!r},"
                  f" expected {disposition!r}")
        row = self.wait_cdr(call_id)
        self.assertEqual((row["direction"], row["billsec"], row["answered"], row["agent_id"],
                          row["lead_id"]), ("outbound", 0, False, aid, lead_id), row)
        self.soft(row["disposition"] == disposition,
                  f"{what}: CDR disposition {row['disposition']!r}, expected {disposition!r}")
        harness.wait_for(lambda: lead(lead_id)[1] == 1, 10, what="the lead's attempt")
        self.assertEqual(lead(lead_id)[1], 1, "one attempt")
        self.soft(lead(lead_id)[0] == status,
                  f"{what}: lead status {lead(lead_id)[0]!r}, expected {status!r}")
        self.assertEqual(acd.agent_state(aid)[0], "after_call_work")

    def test_customer_busy_then_do_not_call(self):
        call_id, lead_id, aid, tok, feed, events = self.customer_fails("uas-busy.xml")
        self.check_failed(call_id, lead_id, aid, tok, events, ("BUSY",), "BUSY", "busy")
        self.assertEqual([to for _, to in feed.states(aid)],
                         ["available", "ringing", "in_call", "after_call_work"])
        # A do-not-call disposition lists the number: it is never dialed again.
        self.dispose(call_id, "dnc", tok)
        self.wait_state(aid, "available", timeout=5)
        phone = lead(lead_id)[2]
        self.assertEqual(harness.sql(f"SELECT count(*) FROM do_not_call WHERE number = '{phone}'"),
                         [["1"]])
        cid = int(harness.sql(f"SELECT campaign_id FROM leads WHERE id = {lead_id}")[0][0])
        self.refused({"agent_id": aid, "campaign_id": cid, "number": phone}, 422,
                     "invalid-body", token=tok, detail="do-not-call")
        self.refused({"agent_id": aid, "campaign_id": cid, "lead_id": lead_id}, 422,
                     "invalid-body", token=tok, detail="do-not-call")
        time.sleep(1)
        self.assertEqual(len(self.trunks[0].invites()), 1, "nothing dialed after the first")

    def test_customer_does_not_answer(self):
        call_id, lead_id, aid, tok, _, events = self.customer_fails(
            "uas-noanswer.xml", timeout=CUSTOMER_RING_S + 25)
        self.check_failed(call_id, lead_id, aid, tok, events, ("NO ANSWER",), "NO ANSWER",
                          "no_answer")
        self.dispose(call_id, "no_interest", tok)
        self.wait_state(aid, "available", timeout=5)

    def test_customer_rejects_403_and_503(self):
        with open(os.path.join(harness.SCENARIOS, "uas-reject.xml")) as f:
            text = f.read()
        unavailable = os.path.join(harness.LOG_DIR, "uas-reject-503.xml")
        with open(unavailable, "w") as f:
            f.write(text.replace("403 Forbidden", "503 Service Unavailable"))
        for code, scenario in (("403", "uas-reject.xml"), ("503", unavailable)):
            with self.subTest(code=code):
                call_id, lead_id, aid, tok, _, events = self.customer_fails(scenario)
                self.check_failed(call_id, lead_id, aid, tok, events,
                                  ("FAILED", "CONGESTION"), "FAILED", "failed")
                self.dispose(call_id, "no_interest", tok)
                self.wait_state(aid, "available", timeout=5)

    # -- 3. the agent does not take the call ----------------------------------

    def test_agent_does_not_answer(self):
        cid = self.campaign(ring_timeout=3, max_no_answer=5)
        trunk = Trunk("uas-answer.xml")
        self.trunks.append(trunk)
        feed = self.feed()
        for scenario in ("uas-busy.xml", "uas-noanswer.xml"):
            with self.subTest(phone=scenario):
                aid, tok = self.agent(cid, scenario=scenario)
                phone = number()
                call_id = self.place({"agent_id": aid, "campaign_id": cid,
                                      "number": phone}, token=tok)["id"]
                feed.until(lambda m: m["type"] == "call.ended"
                           and m["data"]["call_id"] == call_id, timeout=20,
                           what="call.ended")
                self.wait_state(aid, "available")
                row = self.wait_cdr(call_id)
                self.assertEqual((row["direction"], row["agent_id"], row["callee_number"],
                                  row["answered"], row["billsec"]),
                                 ("outbound", aid, phone, False, 0), row)
                self.assertIn(row["disposition"], ("NO ANSWER", "BUSY", "FAILED"), row)
                types = [m["type"] for m in feed.of_call(call_id)]
                self.assertEqual(types, ["call.offered", "call.ended"])
                self.assertEqual([to for _, to in feed.states(aid)],
                                 ["available", "ringing", "available"])
        time.sleep(1)
        self.assertEqual(trunk.invites(), [], "the customer was never dialed")

    # -- 4. refusals -----------------------------------------------------------

    def test_refusals_dial_nothing(self):
        cid = self.campaign(allowed_prefixes=["+1212"])
        other = self.campaign(allowed_prefixes=["+1212"])
        trunk = Trunk("uas-answer.xml")
        self.trunks.append(trunk)
        aid, tok = self.agent(cid)
        busy, busy_tok = self.agent(cid, available=False)
        (foreign_lead,) = self.leads(other, [{"phone": number()}])
        good = number()
        base = {"agent_id": aid, "campaign_id": cid}
        self.refused({"agent_id": busy, "campaign_id": cid, "number": good}, 409, "conflict",
                     detail="offline")
        self.refused({"agent_id": busy, "campaign_id": cid, "number": good}, 409, "conflict",
                     token=busy_tok)
        self.refused(dict(base, number=good), 403, "forbidden", token=busy_tok)
        for bad in ("abc", "", "12", "+1212555", "+12125550100999999"):
            self.refused(dict(base, number=bad), 422, "invalid-body")
        self.refused(dict(base, number=number("305")), 422, "invalid-body",
                     detail="allowed prefixes")
        self.refused(dict(base, number="+1 900 555 0123"), 422, "invalid-body",
                     detail="premium")
        self.refused(dict(base, number="+44 20 7946 0018"), 422, "invalid-body",
                     detail="international")
        self.refused(dict(base, number="011 44 20 7946 0018"), 422, "invalid-body",
                     detail="international")
        self.refused(dict(base, number="+1 876 555 0123"), 422, "invalid-body",
                     detail="international")
        self.refused(dict(base, number="911"), 422, "invalid-body")
        self.refused(dict(base, number=good, lead_id=foreign_lead), 422, "invalid-body")
        self.refused(dict(base), 422, "invalid-body")
        self.refused(dict(base, lead_id=foreign_lead), 422, "invalid-body", detail="lead")
        self.refused(dict(base, lead_id=2**40), 422, "invalid-body", detail="lead")
        self.refused({"agent_id": aid, "campaign_id": 2**40, "number": good}, 422,
                     "invalid-body", detail="campaign")
        self.refused({"agent_id": aid, "campaign_id": cid, "number": good, "x": 1}, 422,
                     "invalid-body")
        self.refused(dict(base, number=good, local_ringback="yes"), 422, "invalid-body",
                     detail="local_ringback")
        # International numbers pass once the campaign allows them, but
        # only through its allowed prefixes.
        self.ok("PATCH", f"/api/v1/campaigns/{cid}", {"allow_international": True})
        harness.wait_for(lambda: "allowed prefixes" in self.req(
            "POST", "/api/v1/calls", dict(base, number="+44 20 7946 0018")).raw.decode(),
            10, what="the campaign reloaded")
        self.assertEqual(harness.channels(), [])
        time.sleep(1)
        self.assertEqual(trunk.invites(), [], "nothing reached the trunk")
        self.assertEqual(acd.agent_state(aid)[0], "available")
        self.assertEqual(harness.sql(f"SELECT count(*) FROM calls WHERE campaign_id = {cid}"),
                         [["0"]], "no CDR for a refused call")
        self.assertGreaterEqual(self.daemon.count(r"outbound refused"), 10,
                                "refusals are logged")

    def test_rate_limit_per_agent(self):
        # The agent's phone refuses every call at once, so that the agent
        # is free again right away and only the rate limit stops the calls.
        # International numbers are allowed here: they are placed.
        cid = self.campaign(allow_international=True, allowed_prefixes=["+44"])
        trunk = Trunk("uas-answer.xml")
        self.trunks.append(trunk)
        aid, tok = self.agent(cid, scenario="uas-busy.xml")
        statuses = []
        limited = None
        start = time.monotonic()
        for _ in range(10):
            r = self.req("POST", "/api/v1/calls",
                         {"agent_id": aid, "campaign_id": cid, "number": "+44 20 7946 0018"},
                         token=tok)
            statuses.append(r.status)
            if r.status == 429:
                limited = r
                break
            self.assertEqual(r.status, 202, r.raw)
            self.assertEqual(r.body["number"], "+442079460018")
            self.wait_cdr(r.body["id"])
            self.wait_state(aid, "available")
        elapsed = time.monotonic() - start
        self.assertIsNotNone(limited, f"no 429 after {statuses} in {elapsed:.1f}s")
        self.assertEqual(limited.body["type"], "urn:welcomedly:problem:rate-limited")
        self.assertRegex(limited.headers.get("retry-after", ""), r"^[1-9]\d*$")
        # A burst of 5, then one call per 2 s.
        self.assertGreaterEqual(statuses.count(202), 5, statuses)
        self.assertLessEqual(statuses.count(202), 5 + int(elapsed / 2) + 1, statuses)
        n = statuses.count(202)
        self.assertEqual(harness.sql(f"SELECT count(*) FROM calls WHERE campaign_id = {cid}"),
                         [[str(n)]])
        self.assertEqual(harness.channels(), [])
        time.sleep(1)
        self.assertEqual(trunk.invites(), [], "the agent never answered: no customer leg")

    # -- 5. leads ----------------------------------------------------------------

    def test_talking_call_of_a_killed_daemon_goes_on(self):
        """A daemon killed while an outbound call talks: the next one takes
        the call over as it is (its campaign read back from the agent leg),
        and it ends with one complete record and the campaign's wrap-up."""
        cid = self.campaign(wrapup_time=2)
        aid, tok = self.agent(cid)
        trunk = Trunk("uas-answer.xml", ring_ms=200)
        self.trunks.append(trunk)
        call_id = self.place({"agent_id": aid, "campaign_id": cid, "number": number()},
                             token=tok)["id"]
        harness.wait_for(
            lambda: any(c["id"] == call_id and c["state"] == "talking"
                        for c in self.ok("GET", "/api/v1/calls")["items"]),
            30, what="the call talking")
        harness.wait_for(lambda: harness.sql(
            f"SELECT answer_time IS NOT NULL FROM calls WHERE call_id = '{call_id}'")
            == [["t"]], 10, what="the answer in the CDR")
        bridges = [b["id"] for b in harness.bridges()]
        self.daemon.kill()
        self.assertIsNone(cdr(call_id), "the record stays open while nobody owns it")
        self.daemon, self.port = api.start_daemon(
            "outc", journal=os.path.join(harness.LOG_DIR, "j-outc"))
        self.daemon.wait_log(rf"call={call_id} adopted talking agent={aid}")
        # The recorder on the customer's channel goes on, taken over.
        self.daemon.wait_log(rf"call={call_id} recorder=wd-rec-\S+ taken over")
        self.assertEqual(len([c for c in harness.channels()
                              if c["name"].startswith("Snoop/")]), 1)
        live = self.ok("GET", f"/api/v1/calls/{call_id}")
        self.assertEqual((live["state"], live["agent_id"], live["campaign_id"],
                          live["direction"]), ("talking", aid, cid, "outbound"), live)
        self.assertEqual([b["id"] for b in harness.bridges()], bridges)
        self.wait_state(aid, "in_call")
        self.ok("DELETE", f"/api/v1/calls/{call_id}", expect=202)
        row = self.wait_cdr(call_id)
        self.assertEqual((row["direction"], row["disposition"], row["agent_id"],
                          row["campaign_id"]), ("outbound", "ANSWERED", aid, cid), row)
        self.wait_state(aid, "after_call_work")
        self.wait_state(aid, "available")
        harness.wait_idle()
        self.assertEqual(harness.channels(), [])

    def test_customer_left_alone_by_a_killed_daemon_is_closed_by_the_next(self):
        """The agent hangs up while no daemon runs: the next one finds the
        customer alone in the call's bridge, hangs them up, and ends the
        answered call's record."""
        self.left_alone_after_kill(agent_hangs_up=True)

    def test_agent_left_alone_by_a_killed_daemon_is_closed_by_the_next(self):
        """The customer hangs up while no daemon runs: the agent's leg alone
        in the call's bridge still tells the call was answered."""
        self.left_alone_after_kill(agent_hangs_up=False)

    def left_alone_after_kill(self, agent_hangs_up):
        cid = self.campaign()
        aid, tok = self.agent(cid)
        trunk = Trunk("uas-answer.xml", ring_ms=200)
        self.trunks.append(trunk)
        call_id = self.place({"agent_id": aid, "campaign_id": cid, "number": number()},
                             token=tok)["id"]
        harness.wait_for(lambda: harness.sql(
            f"SELECT answer_time IS NOT NULL FROM calls WHERE call_id = '{call_id}'")
            == [["t"]], 30, what="the answer in the CDR")
        self.daemon.kill()
        if agent_hangs_up:
            gone = call_id
        else:
            gone = next(c["id"] for c in harness.channels()
                        if c["id"] != call_id and "cust" in c["id"])
        harness.ari("DELETE", f"/channels/{gone}")
        harness.wait_for(lambda: all(c["id"] != gone for c in harness.channels()),
                         10, what=f"leg {gone} gone")
        self.daemon, self.port = api.start_daemon(
            "outc", journal=os.path.join(harness.LOG_DIR, "j-outc"))
        row = self.wait_cdr(call_id)
        self.assertEqual((row["direction"], row["disposition"], row["agent_id"],
                          row["campaign_id"], row["answered"]),
                         ("outbound", "ANSWERED", aid, cid, True), row)
        self.assertEqual(harness.sql(f"SELECT hangup_by FROM calls WHERE call_id ="
                                     f" '{call_id}'"), [["system"]])
        harness.wait_idle()
        self.assertEqual((harness.channels(), harness.bridges()), ([], []))

    def test_ringing_call_of_a_killed_daemon_is_closed_by_the_next(self):
        """A daemon killed while an outbound call still rings the agent: the
        next one hangs up what is left in Asterisk and closes the record."""
        self.killed_while_ringing(record_stored=True)

    def test_ringing_call_whose_record_was_never_stored(self):
        """The daemon died before the call's first record reached the
        database (the record is taken away here, which a kill within
        milliseconds of the call does by itself): the next one still
        writes it, from what the agent's channel tells."""
        self.killed_while_ringing(record_stored=False)

    def killed_while_ringing(self, record_stored):
        cid = self.campaign()
        aid, tok = self.agent(cid, ring_ms=30000)
        customer = number()
        call_id = self.place({"agent_id": aid, "campaign_id": cid, "number": customer},
                             token=tok)["id"]
        harness.wait_for(lambda: any(c["name"].startswith("PJSIP/agent")
                                     for c in harness.channels()),
                         15, what="the agent's phone ringing")
        harness.wait_for(lambda: harness.sql(
            f"SELECT count(*) FROM calls WHERE call_id = '{call_id}'") == [["1"]],
            10, what="the call's first record")
        self.daemon.kill()
        if not record_stored:
            harness.sql(f"DELETE FROM calls WHERE call_id = '{call_id}'")
        self.daemon, self.port = api.start_daemon(
            "outc", journal=os.path.join(harness.LOG_DIR, "j-outc"))
        row = self.wait_cdr(call_id)
        self.assertEqual((row["direction"], row["disposition"], row["agent_id"],
                          row["campaign_id"], row["callee_number"], row["answered"]),
                         ("outbound", "FAILED", aid, cid, customer, False), row)
        self.assertEqual(harness.sql(f"SELECT hangup_by FROM calls WHERE call_id ="
                                     f" '{call_id}'"), [["system"]])
        harness.wait_idle()
        self.assertEqual(harness.channels(), [])
        self.wait_state(aid, "available")

    def test_lead_import_json_and_csv(self):
        cid = self.campaign()
        a, b, c, d = number(), number(), number("415"), number("415")
        res = self.ok("POST", f"/api/v1/campaigns/{cid}/leads",
                      [{"phone": a, "name": "Ann", "data": {"k": "v"}},
                       {"phone": "abc"},
                       {"name": "no phone"},
                       {"phone": b[2:], "name": None},
                       {"phone": a, "extra": 1}])
        self.assertEqual(res["imported"], 2, res)
        self.assertEqual([e["line"] for e in res["errors"]], [2, 3, 5], res)
        self.assertIn("letters", res["errors"][0]["detail"])
        csv_text = ("phone,name,extra\r\n"
                    f"{c},\"Lee, Ann\",\"x,y\"\r\n"
                    "12,Short,\r\n"
                    f"1 ({d[2:5]}) {d[5:8]}-{d[8:]},Cy,\"say \"\"hi\"\"\"\r\n")
        r = self.req("POST", f"/api/v1/campaigns/{cid}/leads", raw=csv_text,
                     headers={"Content-Type": "text/csv"})
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.body["imported"], 2, r.body)
        self.assertEqual([e["line"] for e in r.body["errors"]], [3], r.body)
        r = self.req("POST", f"/api/v1/campaigns/{cid}/leads", raw="phone\n" + a,
                     headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 415, r.raw)
        r = self.req("POST", f"/api/v1/campaigns/{cid}/leads", {"phone": a})
        self.assertEqual((r.status, r.body["type"]), (400, "urn:welcomedly:problem:invalid-json"))
        r = self.req("POST", f"/api/v1/campaigns/{cid}/leads", [{"phone": a}], token=self.sup)
        self.assertEqual(r.status, 403, r.raw)

        items = self.ok("GET", f"/api/v1/leads?campaign_id={cid}&status=new")["items"]
        got = [(i["phone"], i["name"], i["data"], i["status"], i["attempts"]) for i in items]
        self.assertEqual(got, [(a, "Ann", {"k": "v"}, "new", 0), (b, None, {}, "new", 0),
                               (c, "Lee, Ann", {"extra": "x,y"}, "new", 0),
                               (d, "Cy", {"extra": 'say "hi"'}, "new", 0)])
        self.assertTrue(all(i["campaign_id"] == cid for i in items))
        self.assertEqual(self.ok("GET", f"/api/v1/leads?campaign_id={cid}&status=sale")["items"],
                         [])
        page = self.ok("GET", f"/api/v1/leads?campaign_id={cid}&limit=3")
        self.assertEqual(len(page["items"]), 3)
        self.assertIsNotNone(page["next_cursor"])
        rest = self.ok("GET", f"/api/v1/leads?campaign_id={cid}&limit=3&cursor="
                       f"{page['next_cursor']}")
        self.assertEqual([i["phone"] for i in rest["items"]], [d])
        self.assertIsNone(rest["next_cursor"])

    def test_lead_import_skips_duplicates(self):
        """One lead per campaign and number: a number the campaign already
        has, or that an earlier row of the same import had, in any form, is
        skipped and counted; other campaigns keep their own."""
        cid, other = self.campaign(), self.campaign()
        a, b, c = number(), number(), number("415")
        res = self.ok("POST", f"/api/v1/campaigns/{cid}/leads",
                      [{"phone": a, "name": "Ann"}, {"phone": b},
                       {"phone": f"1 ({a[2:5]}) {a[5:8]}-{a[8:]}", "name": "Ann 2"}])
        self.assertEqual((res["imported"], res["skipped"], res["errors"]), (2, 1, []), res)
        csv_text = f"phone,name\r\n{a[2:]},Ann 3\r\n{c},Cy\r\n{c},Cy 2\r\nabc,Bad\r\n"
        r = self.req("POST", f"/api/v1/campaigns/{cid}/leads", raw=csv_text,
                     headers={"Content-Type": "text/csv"})
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual((r.body["imported"], r.body["skipped"]), (1, 2), r.body)
        self.assertEqual([e["line"] for e in r.body["errors"]], [5], r.body)
        again = self.ok("POST", f"/api/v1/campaigns/{cid}/leads",
                        [{"phone": a}, {"phone": b}, {"phone": c}])
        self.assertEqual((again["imported"], again["skipped"]), (0, 3), again)
        items = self.ok("GET", f"/api/v1/leads?campaign_id={cid}")["items"]
        self.assertEqual([(i["phone"], i["name"]) for i in items],
                         [(a, "Ann"), (b, None), (c, "Cy")])
        res = self.ok("POST", f"/api/v1/campaigns/{other}/leads", [{"phone": a}])
        self.assertEqual((res["imported"], res["skipped"]), (1, 0), res)


if __name__ == "__main__":
    unittest.main(verbosity=2)
