"""Browser agents end to end (issue 11): the agent page in headless Chromium,
its SIP.js softphone registered over WebSocket to the real Asterisk, media
with ICE and DTLS-SRTP, through the real coturn when the page is told to
relay, sipp callers and customers on the trunk, and welcomedlyd serving the
page, its API and the event feed.

Runs in a network namespace of its own (browser.enter_netns) with its own
PostgreSQL, Asterisk and coturn. Screenshots of each state, the browser's
console and the measured delays (`measure: ...` lines) go to
WELCOMEDLY_TEST_LOGS. Run by meson (suite 'integration').
"""

import datetime
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import unittest
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser  # noqa: E402

browser.enter_netns()

import acd  # noqa: E402
import api  # noqa: E402
import harness  # noqa: E402
from rtp import RtpPeer  # noqa: E402
from test_outbound import TRUNK_PORT, Trunk, number  # noqa: E402

PAGES_DIR = os.path.join(os.path.dirname(os.path.abspath(harness.DAEMON)), "pages")
TURN_SECRET = secrets.token_hex(16)
# The caller stays this long after the daemon answered it: long enough to
# ring the page, answer and measure the media on a loaded machine.
CALLER_HOLD_MS = 9000
MEASURES = os.path.join(harness.LOG_DIR, "webrtc-measures.log")
# The pitch of the page's fake microphone (browser.Chromium's default).
TONE_HZ = 440.0


def measure(**values):
    line = "measure: " + " ".join(f"{k}={v}" for k, v in values.items())
    print(line, flush=True)
    with open(MEASURES, "a") as f:
        f.write(line + "\n")


def rtp_peer():
    """The trunk caller's media: a 1000 Hz tone; listens for the page's."""
    return RtpPeer(freq=1000.0, tones=(TONE_HZ,))


class FeedClock(threading.Thread):
    """An admin feed connection that notes when each event arrived."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.ws = api.ws_connect(port, api.ADMIN_TOKEN, timeout=1)
        self.events = []
        self.stopped = False
        self.start()

    def run(self):
        import websocket
        while not self.stopped:
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            except Exception:
                return
            self.events.append((time.time(), msg))

    def first(self, type_, timeout=15, **data):
        def find():
            for at, m in self.events:
                if m.get("type") == type_ and all(m.get("data", {}).get(k) == v
                                                  for k, v in data.items()):
                    return at, m
            return None
        return harness.wait_for(find, timeout, what=f"{type_} {data} on the feed")

    def stop(self):
        self.stopped = True
        try:
            self.ws.close()
        except Exception:
            pass


class WebRtcTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.isfile(os.path.join(PAGES_DIR, "agent", "index.html")):
            raise AssertionError(f"no agent page in {PAGES_DIR}: build with ninja first")
        harness.asterisk_start(trunk_peer_port=TRUNK_PORT)
        cls.turn = browser.Coturn(TURN_SECRET).start()

    @classmethod
    def tearDownClass(cls):
        cls.turn.stop()
        harness.asterisk_stop()

    def setUp(self):
        self.closers = []
        self.agents = []
        self.campaign_names = {}
        # The page keeps its origin: a restarted daemon must listen where
        # the first one did.
        self.api_port = browser.free_port()
        self.daemon = None
        self.start_daemon()

    def start_daemon(self):
        harness.wait_for(lambda: api.port_free(self.api_port), 10,
                         what=f"port {self.api_port} free")
        self.daemon, port = api.start_daemon(
            "webrtc", journal=os.path.join(harness.LOG_DIR, "j-webrtc"),
            API_LISTEN=f"127.0.0.1:{self.api_port}", PAGES_DIR=PAGES_DIR,
            ASTERISK_WSS_URL=f"ws://127.0.0.1:{harness.ARI_PORT}/ws",
            STUN_SERVER=f"stun:{browser.HOST_ADDR}:{browser.TURN_PORT}",
            TURN_SERVER=f"turn:{browser.HOST_ADDR}:{browser.TURN_PORT}?transport=udp",
            TURN_SECRET=TURN_SECRET, TURN_TTL="600")
        self.assertEqual(port, self.api_port)
        self.daemon.wait_log(r"campaigns loaded")
        d = self.daemon
        self.addCleanup(d.kill)

    def tearDown(self):
        for close in reversed(self.closers):
            try:
                close()
            except Exception as e:  # the others must still be closed
                print(f"cleanup: {e}", file=sys.stderr)
        left = self.hang_up_leftovers()
        for a in self.agents:
            acd.login(a, "logout")
        acd.wait_stable(self.agents)
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log_path)
        self.assertEqual(left, [], "channels left in Asterisk after the test")

    @staticmethod
    def hang_up_leftovers():
        """Waits for Asterisk to be idle; channels still there then (a
        caller whose sipp was killed by a failed test has no one to hang it
        up) are hung up so that the next test starts clean. Returns their
        names."""
        try:
            harness.wait_idle(10)
            return []
        except AssertionError:
            left = harness.channels()
            for ch in left:
                harness.ari("DELETE", f"/channels/{ch['id']}", expect=None)
            harness.wait_idle()
            return [ch["name"] for ch in left]

    # -- provisioning ------------------------------------------------------------

    def ok(self, method, path, body=None, expect=200, token=None):
        r = api.request(self.api_port, method, path, body,
                        token=token or api.ADMIN_TOKEN)
        self.assertEqual(r.status, expect, f"{method} {path} {body}: {r.raw[:400]!r}")
        return r.body

    def campaign(self, **settings):
        """A campaign with dispositions and a DID; returns (id, did)."""
        body = dict({"name": "rtc-" + uuid.uuid4().hex[:8], "wrapup_time": 120}, **settings)
        camp = self.ok("POST", "/api/v1/campaigns", body, expect=201)
        cid = camp["id"]
        self.campaign_names[cid] = camp["name"]
        for code, flags in (("sale", {"is_sale": True, "is_final": True}),
                            ("no_interest", {"is_final": True})):
            self.ok("POST", f"/api/v1/campaigns/{cid}/dispositions",
                    dict({"code": code, "label": code.replace("_", " ")}, **flags),
                    expect=201)
        did = str(7000 + uuid.uuid4().int % 2000)
        harness.sql(f"INSERT INTO dids (number, campaign_id) VALUES ('{did}', {cid})"
                    f" ON CONFLICT (number) DO UPDATE SET campaign_id = {cid}")
        return cid, did

    def web_agent(self, cid):
        """A browser agent of the campaign; returns (agent, agent token)."""
        ag = self.ok("POST", "/api/v1/agents",
                     {"name": "web " + uuid.uuid4().hex[:6], "webrtc": True}, expect=201)
        self.assertTrue(ag["webrtc"], ag)
        self.agents.append(ag["id"])
        self.ok("POST", f"/api/v1/campaigns/{cid}/agents", {"agent_id": ag["id"]},
                expect=201)
        browser.bind_media(ag["sip_username"], harness.sql)
        _, token = api.make_token(self.api_port, api.ADMIN_TOKEN, "agent", ag["id"])
        return ag, token

    # -- the page ----------------------------------------------------------------

    def chromium(self, name):
        chrome = browser.Chromium(name).start()
        self.closers.append(chrome.stop)
        page = chrome.page()
        page.chrome = chrome
        page.trace_websockets()
        return page

    def sign_in(self, page, agent, token, query=""):
        """Opens the agent page, starts the shift, waits for the phone and
        the feed, and goes available."""
        page.navigate(f"http://127.0.0.1:{self.api_port}/agent/{query}#token={token}")
        page.screenshot("signin")
        page.click("button[data-testid=start-shift]")
        page.wait_text("[data-testid=softphone-status]", "registered", 15)
        page.wait_text("[data-testid=feed-status]", "live", 10)
        self.daemon.wait_log(rf"agent={agent['id']} phone=\S+ reachable", timeout=10)
        if page.wait_text("[data-testid=agent-state]",
                          ("offline", "available", "paused"), 10) == "available":
            return
        # The membership reaches the dispatcher with the next configuration
        # load; until then the state change may be refused.
        deadline = time.monotonic() + 15
        while True:
            page.click("button[data-testid=go-available]")
            try:
                page.wait_text("[data-testid=agent-state]", "available", 3)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
        # The page shows the state from the feed, sent as the change is
        # made; its row is stored a moment later.
        harness.wait_for(lambda: acd.agent_state(agent["id"])[0] == "available", 5,
                         what="the available state stored")
        page.screenshot("available")

    def watch_shown(self, page, testid):
        """Notes in window.__wdShown[testid] when that view is first shown
        (Date.now(), ms)."""
        page.evaluate(f"""(() => {{
            window.__wdShown = window.__wdShown || {{}};
            const id = {json.dumps(testid)};
            const el = document.querySelector(`[data-testid=${{id}}]`);
            const check = () => {{ if (!el.hidden && !(id in window.__wdShown))
                window.__wdShown[id] = Date.now(); }};
            new MutationObserver(check).observe(el, {{attributes: true}});
            check();
        }})()""")

    @staticmethod
    def first_message_at(trunk, head, sent=False):
        """When the trunk's sipp first received (or sent) a SIP message whose
        text matches the regex head from its start (Unix ms)."""
        how = (r"UDP message sent \(\d+ bytes\):" if sent
               else r"UDP message received \[\d+\] bytes :")
        m = re.search(r"^-+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\s*\n"
                      + how + r"\s*\n\s*" + head, trunk.message_text(), re.M)
        assert m, f"no {head!r} in " + trunk.messages
        at = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
        return at.timestamp() * 1000

    @classmethod
    def first_invite_at(cls, trunk):
        return cls.first_message_at(trunk, "INVITE ")

    @classmethod
    def first_answer_at(cls, trunk):
        """When the trunk answered its first INVITE: its 200 OK (header
        lines up to the blank one) with CSeq INVITE."""
        return cls.first_message_at(
            trunk, r"SIP/2.0 200 OK\r?\n(?:[^\r\n]+\r?\n)*?CSeq: *\d+ INVITE", sent=True)

    def answer(self, page, timeout=10.0):
        """Clicks answer; returns ms from the click to the first inbound RTP
        packet the page counts."""
        page.wait_visible("[data-testid=incoming]", timeout)
        page.screenshot("incoming")
        clicked = time.time() * 1000
        page.click("button[data-testid=answer]")
        first = page.evaluate("""(async () => {
            const t0 = Date.now();
            while (Date.now() - t0 < 10000) {
                const s = await window.welcomedly.mediaStats();
                if (s && s.inboundPackets > 0) return Date.now();
                await new Promise(r => setTimeout(r, 10));
            }
            return null;
        })()""", timeout=15)
        self.assertIsNotNone(first, "no inbound RTP within 10 s of answering")
        return first - clicked

    def media_flows(self, page, rtp=None, since=None, seconds=1.5):
        """Packet counts rise both ways over a while, with audio energy;
        returns the last stats."""
        s0 = page.evaluate("window.welcomedly.mediaStats()")
        self.assertIsNotNone(s0, "no call in the page")
        page.pump(seconds)
        s1 = page.evaluate("window.welcomedly.mediaStats()")
        self.assertIsNotNone(s1, "the call ended while media was measured")
        self.assertGreater(s1["inboundPackets"], s0["inboundPackets"] + 20, (s0, s1))
        self.assertGreater(s1["outboundPackets"], s0["outboundPackets"] + 20, (s0, s1))
        self.assertGreater(s1["inboundAudioEnergy"], s0["inboundAudioEnergy"], (s0, s1))
        self.assertTrue(s1["dtls"], s1)
        if rtp is not None:
            # The caller hears the agent: RTP with the page's tone in it
            # (not silence, nor the queue's music) since the answer.
            tone = rtp.heard(TONE_HZ, since)
            self.assertGreater(tone, 20, f"{tone} of {rtp.count_since(since)} packets at"
                               f" the caller carry the page's {TONE_HZ} Hz tone; per"
                               f" 0.1 s: {rtp.timeline(TONE_HZ, since)}")
        return s1

    # -- calls --------------------------------------------------------------------

    def caller(self, did, hold_ms=CALLER_HOLD_MS):
        """A trunk caller with real media (an RtpPeer); returns (sipp, rtp)."""
        rtp = rtp_peer()
        self.closers.append(rtp.stop)
        log = open(os.path.join(harness.LOG_DIR, f"caller-{time.time_ns()}.log"), "w")
        proc = subprocess.Popen(
            ["sipp", f"127.0.0.1:{harness.SIP_PORT}", "-sf",
             os.path.join(harness.SCENARIOS, "uac-media.xml"), "-s", did,
             "-d", str(hold_ms), "-key", "rtp_port", str(rtp.port), "-m", "1",
             "-i", "127.0.0.1", "-nostdin", "-timeout", "60s", "-timeout_error"],
            stdout=log, stderr=subprocess.STDOUT)

        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            log.close()
        self.closers.append(stop)
        return proc, rtp

    def wait_cdr(self, agent_id, timeout=20):
        def row():
            rows = harness.sql(
                "SELECT call_id, coalesce(recording_url, ''), answer_time IS NOT NULL,"
                " coalesce(disposition, ''), coalesce(disposition_code, ''),"
                " coalesce(campaign_id, 0), billsec"
                f" FROM calls WHERE agent_id = {agent_id} AND end_time IS NOT NULL"
                " ORDER BY id DESC LIMIT 1")
            return rows[0] if rows else None
        r = harness.wait_for(row, timeout, what=f"a CDR of agent {agent_id}")
        return {"call_id": r[0], "recording_url": r[1], "answered": r[2] == "t",
                "disposition": r[3], "code": r[4], "campaign_id": int(r[5]),
                "billsec": int(r[6])}

    def dispose(self, page, code="sale", notes="browser test"):
        page.wait_visible("form[data-testid=disposition]", 15)
        page.wait_js(f"[...document.querySelectorAll('[data-testid=disposition-code] option')]"
                     f".some(o => o.value === {json.dumps(code)})", 10,
                     what=f"disposition code {code} offered")
        page.evaluate(f"""(() => {{
            const s = document.querySelector('select[data-testid=disposition-code]');
            s.value = {json.dumps(code)};
            s.dispatchEvent(new Event('change', {{bubbles: true}}));
        }})()""")
        page.type("textarea[data-testid=disposition-notes]", notes)
        page.screenshot("disposition")
        page.click("button[data-testid=disposition-submit]")
        page.wait_visible("form[data-testid=disposition]", 10, visible=False)

    # -- 1. an inbound call answered in the browser ----------------------------------

    def test_1_inbound_call_answered_in_the_browser(self):
        cid, did = self.campaign()
        agent, token = self.web_agent(cid)
        page = self.chromium("inbound")
        self.sign_in(page, agent, token)
        clock = FeedClock(self.api_port)
        self.closers.append(clock.stop)
        self.watch_shown(page, "incoming")

        sipp, rtp = self.caller(did)
        offered_at, offered = clock.first("call.offered", agent_id=agent["id"])
        page.wait_visible("[data-testid=incoming]", 10)
        self.assertEqual(page.text("[data-testid=incoming-campaign]"), self.campaign_names[cid])
        page.wait_js("document.querySelector('[data-testid=incoming-number]')"
                     ".textContent.includes('1555000')", 5, what="the caller's number shown")
        shown_at = page.evaluate("window.__wdShown.incoming")
        # When the daemon offered the call: the event's own time (the
        # feed's reader here may run late), or its arrival if that is all.
        if "." in offered.get("at", ""):
            offered_at = datetime.datetime.fromisoformat(
                offered["at"].replace("Z", "+00:00")).timestamp()
        answered = time.monotonic()
        click_ms = self.answer(page)
        measure(offer_to_ring_ms=round(shown_at - offered_at * 1000),
                click_to_media_ms=round(click_ms))
        page.wait_visible("[data-testid=in-call]", 5)
        page.wait_text("[data-testid=agent-state]", "in_call", 5)
        stats = self.media_flows(page, rtp, answered)
        self.assertIn(stats["localCandidateType"], ("host", "prflx"), stats)
        page.screenshot("in-call")

        # The caller hangs up: the page asks for the outcome.
        self.assertEqual(sipp.wait(30), 0, "the caller's sipp failed")
        page.wait_text("[data-testid=agent-state]", "after_call_work", 10)
        page.wait_visible("[data-testid=in-call]", 5, visible=False)
        page.screenshot("wrapup")
        self.dispose(page, "sale")
        page.wait_text("[data-testid=agent-state]", "available", 10)
        # The page shows the state from the feed, sent as the change is
        # made; its row is stored a moment later.
        harness.wait_for(lambda: acd.agent_state(agent["id"])[0] == "available", 5,
                         what="the available state stored")
        page.screenshot("available-again")

        row = self.wait_cdr(agent["id"])
        self.assertEqual(row["call_id"], offered["data"]["call_id"])
        self.assertTrue(row["answered"], row)
        self.assertEqual((row["disposition"], row["code"], row["campaign_id"]),
                         ("ANSWERED", "sale", cid), row)
        self.assertTrue(row["recording_url"], row)
        self.assertGreater(acd.recording_seconds(row["call_id"]), 1.0)
        self.assertEqual(page.exceptions, [], "exceptions in the page")

    # -- 2. the same call through the TURN relay ---------------------------------------

    def test_2_relay_through_coturn_and_forged_credential(self):
        cid, did = self.campaign(wrapup_time=0)
        agent, token = self.web_agent(cid)
        creds = self.ok("GET", f"/api/v1/agents/{agent['id']}/webrtc", token=token)
        turn = [s for s in creds["ice_servers"] if "credential" in s]
        self.assertEqual(len(turn), 1, creds["ice_servers"])
        ok, out = self.turn.allocate(turn[0]["username"], turn[0]["credential"])
        self.assertTrue(ok, "coturn refused the credential of /webrtc:\n" + out[-1500:])
        expired = browser.turn_credentials(TURN_SECRET, expiry=time.time() - 60)
        ok, out = self.turn.allocate(*expired)
        self.assertFalse(ok, "coturn accepted an expired credential:\n" + out[-1500:])

        page = self.chromium("relay")
        self.sign_in(page, agent, token, "?relay=1")
        sipp, rtp = self.caller(did)
        answered = time.monotonic()
        click_ms = self.answer(page)
        stats = self.media_flows(page, rtp, answered)
        self.assertEqual(stats["localCandidateType"], "relay", stats)
        measure(relay_click_to_media_ms=round(click_ms))
        page.screenshot("relay-in-call")
        self.assertEqual(sipp.wait(30), 0, "the caller's sipp failed")
        page.wait_text("[data-testid=agent-state]", ("after_call_work", "available"), 10)
        page.wait_visible("[data-testid=in-call]", 5, visible=False)

        # A forged TURN credential: coturn refuses it and the page says so.
        page.chrome.stop()
        forged = self.chromium("forged")
        forged.rewrite_responses("*/api/v1/agents/*/webrtc", self.forge)
        forged.watch_ice_errors()
        self.sign_in(forged, agent, token, "?relay=1")
        sipp, rtp = self.caller(did, hold_ms=15000)
        forged.wait_visible("[data-testid=incoming]", 10)
        forged.click("button[data-testid=answer]")
        refused = forged.wait_js("window.__wdIceErrors.filter(e => e.code === 401).length", 10,
                                 what="coturn's 401 to the forged credential")
        self.assertTrue(refused)
        # The page gives media 8 s after the answer before it says so.
        forged.wait_visible("[data-testid=error]", 15)
        error = forged.text("[data-testid=error]")
        self.assertIn("TURN", error)
        forged.screenshot("forged-error")
        stats = forged.evaluate("window.welcomedly.mediaStats()")
        self.assertFalse(stats and stats["inboundPackets"], stats)
        sipp.wait(30)

    def forge(self, url, method, headers):
        """The real answer of /webrtc with every TURN credential replaced."""
        req = urllib.request.Request(url, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=10) as r:
            body = json.loads(r.read())
            status = r.status
        for s in body.get("ice_servers", []):
            if "credential" in s:
                s["credential"] = "Zm9yZ2VkLWNyZWRlbnRpYWw="
        return status, json.dumps(body).encode(), "application/json"

    # -- 3. click-to-call from a lead -------------------------------------------------

    def test_3_click_to_call_from_a_lead(self):
        cid, _ = self.campaign(caller_id="+12125550100",
                               allowed_prefixes=["+1212"])
        phone = number()
        self.ok("POST", f"/api/v1/campaigns/{cid}/leads",
                [{"phone": phone, "name": "Browser Lead"}])
        lead_id = self.ok("GET", f"/api/v1/leads?campaign_id={cid}")["items"][0]["id"]
        agent, token = self.web_agent(cid)
        customer = rtp_peer()
        self.closers.append(customer.stop)
        trunk = Trunk("uas-answer-media.xml", ring_ms=500,
                      args=["-key", "rtp_port", str(customer.port)])
        self.closers.append(trunk.stop)
        page = self.chromium("c2c")
        self.sign_in(page, agent, token)
        button = f"button[data-testid=lead-call][data-lead-id=\"{lead_id}\"]"
        page.wait_visible(button, 10)
        page.screenshot("leads")
        self.watch_shown(page, "in-call")
        # When the page's ringback starts and stops, what it shows then,
        # whether its tone plays, and the sound the call brought 0.3 s in
        # (the trunk answers 0.5 s after its INVITE).
        page.evaluate("""(() => {
            const r = window.__wdRingback = {};
            const timer = setInterval(() => {
                const on = window.welcomedly.state.ringback;
                if (on && !r.on) {
                    r.on = Date.now();
                    r.flags = document.querySelector("#call-flags").textContent;
                    r.sound = window.welcomedly.ringingBack();
                    setTimeout(async () => {
                        r.energy = (await window.welcomedly.mediaStats()).inboundAudioEnergy;
                    }, 300);
                }
                if (!on && r.on && !r.off) r.off = Date.now(), clearInterval(timer);
            }, 5);
        })()""")
        page.click(button)
        # The agent's leg first: the browser gets the INVITE (and answers
        # its own call by itself), and only then is the customer dialed.
        page.wait_visible("[data-testid=in-call]", 10)
        harness.wait_for(lambda: trunk.invites(), 15, what="the customer's INVITE")
        self.assertIn(phone.lstrip("+"), trunk.invites()[0])
        agent_at = page.evaluate("window.__wdShown['in-call']")
        customer_at = self.first_invite_at(trunk)
        self.assertLess(agent_at, customer_at, "the customer was dialed before the agent")
        measure(c2c_agent_to_customer_ms=round(customer_at - agent_at))
        first_in = page.wait_js(
            "window.welcomedly.mediaStats().then(s => s && s.inboundPackets > 0)", 10,
            what="media in the page")
        self.assertTrue(first_in)
        # The window starts once the customer, in the bridge, gets RTP.
        harness.wait_for(lambda: customer.count_since(0) > 0, 10,
                         what="media at the customer")
        self.media_flows(page, customer, time.monotonic())
        # The page played the ringback from the agent's answer to the
        # customer's, and the server none (no sound came over the call).
        ring = page.wait_js("window.__wdRingback.off && window.__wdRingback", 5,
                            what="the page's ringback stopped")
        self.assertIn("Ringing the customer", ring["flags"])
        self.assertTrue(ring["sound"], ring)
        self.assertLess(ring.get("energy", 1), 1e-6, ring)
        answered_at = self.first_answer_at(trunk)
        self.assertLess(ring["on"], answered_at, ring)
        self.assertGreater(ring["off"], answered_at, ring)
        # So the customer hears the agent from the first packets: a
        # ringback tone sent over the call made the browser's echo
        # canceller mute the agent's first 14-22 packets (0.3-0.4 s).
        before = customer.packets_before(TONE_HZ, 0)
        measure(c2c_packets_before_tone=before)
        self.assertIsNotNone(before, "the customer never heard the agent's tone")
        self.assertLessEqual(before, 5, f"the customer got {before} packets before the"
                             f" agent's tone; per 0.1 s: {customer.timeline(TONE_HZ, 0)}")
        page.screenshot("c2c-in-call")
        page.click("button[data-testid=hangup]")
        page.wait_visible("[data-testid=in-call]", 10, visible=False)
        trunk.wait(15)
        self.dispose(page, "no_interest")
        page.wait_text("[data-testid=agent-state]", "available", 10)
        row = self.wait_cdr(agent["id"])
        self.assertEqual((row["disposition"], row["code"]), ("ANSWERED", "no_interest"), row)
        status = harness.sql(f"SELECT status FROM leads WHERE id = {lead_id}")[0][0]
        self.assertEqual(status, "no_interest")

    # -- 4. the feed drops mid-call --------------------------------------------------

    def test_4_feed_drops_mid_call(self):
        cid, did = self.campaign()
        agent, token = self.web_agent(cid)
        page = self.chromium("restart")
        self.sign_in(page, agent, token)
        sipp, rtp = self.caller(did, hold_ms=12000)
        self.answer(page)
        page.wait_text("[data-testid=agent-state]", "in_call", 5)

        self.assertEqual(self.daemon.stop(), 0, self.daemon.log_path)
        page.wait_text("[data-testid=feed-status]", ("reconnecting", "connecting"), 10)
        page.screenshot("feed-down")
        self.start_daemon()
        page.wait_text("[data-testid=feed-status]", "live", 30)
        page.screenshot("feed-back")
        self.assertEqual(page.text("[data-testid=softphone-status]"), "registered")
        # The page shows what the server holds: the new daemon takes the
        # call over as it is, so the agent is still talking, with media.
        state = self.settled_state(page, agent["id"])
        measure(state_after_restart=state)
        self.assertEqual(state, "in_call", "the restart dropped the conversation")
        page.wait_visible("[data-testid=in-call]", 5)
        self.media_flows(page, rtp, time.monotonic())
        page.screenshot("in-call-again")
        self.assertEqual(sipp.wait(40), 0, "the caller's sipp failed")
        page.wait_text("[data-testid=agent-state]", "after_call_work", 15)
        self.dispose(page)
        page.wait_text("[data-testid=agent-state]", "available", 10)
        row = self.wait_cdr(agent["id"])
        self.assertEqual((row["disposition"], row["code"]), ("ANSWERED", "sale"), row)
        self.assertTrue(row["recording_url"], row)
        calls = harness.sql(f"SELECT count(*) FROM calls WHERE agent_id = {agent['id']}")
        self.assertEqual(calls, [["1"]], "one call, one record, across the restart")

    def settled_state(self, page, agent_id, timeout=15):
        """The agent's state once the page and the database agree on it for
        half a second."""
        def agreed():
            db = acd.agent_state(agent_id)[0]
            if page.text("[data-testid=agent-state]") != db:
                return None
            page.pump(0.5)
            again = acd.agent_state(agent_id)[0]
            return db if page.text("[data-testid=agent-state]") == again == db else None
        return harness.wait_for(agreed, timeout, what="the page showing the agent's state")


if __name__ == "__main__":
    unittest.main()
