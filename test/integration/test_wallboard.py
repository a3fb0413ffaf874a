"""The wallboard (/wallboard/) in headless Chromium against the real daemon,
Asterisk and PostgreSQL: a campaign with one agent phone (sipp); a caller
queued while the agent is paused shows up within a second, the agent
answers, a second caller abandons; after each step the page's figures equal
GET /api/v1/queues. A supervisor listens in from the page (their sipp phone
answers) and the feed says call.supervised; without their agent id the page
says so in words. Screenshots go to WELCOMEDLY_TEST_LOGS (wallboard-*.png).

The campaign, agents, phones and callers are test_api_live's helpers; this
class inherits them and runs only its own test. Run by meson (suite
'integration').
"""

import datetime
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402
import harness  # noqa: E402
import test_api_live  # noqa: E402

FIGURES = ("waiting", "longest-wait", "service-level", "asa", "abandon-rate",
           "answered", "abandoned", "last-15-minutes")


def rounded(v):
    """Math.round for the non-negative numbers the page shows."""
    return int(v + 0.5)


def expected(q):
    """What the page should show for a Queue of GET /api/v1/queues."""
    total = q["answered"] + q["abandoned"]
    pct = (lambda v: "—" if v is None else f"{rounded(v)}%")
    return {
        "waiting": str(q["waiting"]),
        "service-level": pct(q["service_level"]),
        "asa": "—" if q["average_speed_of_answer"] is None
        else f"{rounded(q['average_speed_of_answer'])} s",
        "abandon-rate": pct(100 * q["abandoned"] / total if total else None),
        "answered": str(q["answered"]),
        "abandoned": str(q["abandoned"]),
        "last-15-minutes": window(q["last_15_minutes"], pct),
    }


def window(w, pct):
    """The sentence of the last 15 minutes' figures."""
    total = w["answered"] + w["abandoned"]
    asa = w["average_speed_of_answer"]
    return (f"Last 15 min: service level {pct(w['service_level'])}, answer in "
            f"{'—' if asa is None else f'{rounded(asa)} s'}, abandon "
            f"{pct(100 * w['abandoned'] / total if total else None)} "
            f"({w['answered']} answered, {w['abandoned']} abandoned)")


def clock_seconds(text):
    s = 0
    for part in text.split(":"):
        s = s * 60 + int(part)
    return s


def ms(at):
    return datetime.datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() * 1000


class WallboardTest(test_api_live.LiveApiTest):
    def setUp(self):
        self.callers = []
        # The pages as the build lays them out next to the daemon.
        self.pages_dir = os.path.join(os.path.dirname(os.path.abspath(harness.DAEMON)),
                                      "pages")
        self.assertTrue(os.path.isfile(os.path.join(self.pages_dir, "wallboard", "index.html")),
                        f"no wallboard in {self.pages_dir}: build first")
        # The inherited setUp starts the daemon with this environment.
        os.environ["PAGES_DIR"] = self.pages_dir
        try:
            super().setUp()
        finally:
            del os.environ["PAGES_DIR"]
        self.browser = cdp.Browser(os.path.join(harness.LOG_DIR, "chromium.log"))
        self.addCleanup(self.browser.close)

    def tearDown(self):
        # After a failure: no call left in Asterisk for the inherited checks.
        for k in self.live_calls():
            self.req("DELETE", f"/api/v1/calls/{k['id']}")
        self.kill_callers()
        super().tearDown()

    def kill_callers(self):
        for p in self.callers:
            if p.poll() is None:
                p.kill()
            p.communicate()

    def caller(self, did, **kw):
        p = self.call(did, **kw)
        self.callers.append(p)
        return p

    # -- the page ------------------------------------------------------------

    def shot(self, name, cid=None):
        if cid is not None:  # other tests' campaigns may come first
            self.page.eval(f"{self.card(cid)}.scrollIntoView()")
        self.page.screenshot(os.path.join(harness.LOG_DIR, f"wallboard-{name}.png"))

    def card(self, cid):
        return f"document.querySelector('[data-testid=campaign][data-campaign-id=\"{cid}\"]')"

    def shown(self, cid):
        """The campaign's figures as the page shows them."""
        return self.page.eval(
            f"(() => {{ const c = {self.card(cid)}; if (!c) return null; const o = {{}};"
            f" for (const t of {list(FIGURES)!r}) o[t] = c.querySelector("
            f"`[data-testid=${{t}}]`).textContent; return o; }})()")

    def queue(self, cid):
        items = self.ok("GET", "/api/v1/queues", token=self.sup)["items"]
        return next(q for q in items if q["campaign_id"] == cid)

    def assert_figures_match(self, cid, timeout=4.0):
        """The page and GET /queues agree (queue.stats reaches the page at
        most a second after a change); the longest wait within 2 s."""
        deadline = time.monotonic() + timeout
        while True:
            before, q, after = self.shown(cid), self.queue(cid), self.shown(cid)
            want = expected(q)
            for page in (before, after):
                if page and all(page[k] == v for k, v in want.items()) and abs(
                        clock_seconds(page["longest-wait"]) - q["longest_wait_seconds"]) <= 2:
                    return q
            if time.monotonic() > deadline:
                self.fail(f"the wallboard shows {after}, GET /queues answers {q}")
            time.sleep(0.2)

    def click(self, call_id, mode):
        self.page.eval(f"document.querySelector('[data-testid=call][data-call-id=\"{call_id}\"]"
                       f" [data-testid={mode}]').click()")

    # -- the test ------------------------------------------------------------

    def test_wallboard_follows_the_queue(self):
        cid, did, (agent, sup) = self.setup_campaign(2, wrapup_time=0,
                                                     service_level_seconds=20)
        aid = agent["id"]
        # The second agent is the supervisor: out of the campaign.
        self.ok("DELETE", f"/api/v1/campaigns/{cid}/agents/{sup['id']}", expect=204)
        self.set_state(aid, "paused", "meeting")
        feed = self.feed(self.sup)

        self.page = self.browser.page()
        self.page.viewport(1366, 860)
        self.page.navigate(f"http://127.0.0.1:{self.port}/wallboard/#token={self.sup}")
        self.page.wait("document.querySelector('[data-testid=feed-status]')"
                       ".textContent === 'live'", what="the feed live")
        self.page.wait(f"{self.card(cid)}?.querySelector('[data-testid=agent]"
                       f"[data-agent-id=\"{aid}\"] [data-testid=agent-state]')"
                       f"?.textContent === 'paused'", what="the paused agent listed")
        self.assertEqual(self.page.eval("location.hash"), "", "the token left the URL")
        q = self.assert_figures_match(cid)
        self.assertEqual((q["waiting"], q["answered"], q["abandoned"]), (0, 0, 0))
        self.shot("1-signed-in", cid)

        # The feed drops: the page says so, and what happened meanwhile
        # comes with the reconnection (?since=).
        self.page.eval("(e => { window.feedStates = []; new MutationObserver(() =>"
                       " window.feedStates.push(e.textContent)).observe(e, {childList: true,"
                       " characterData: true, subtree: true}); })"
                       "(document.querySelector('[data-testid=feed-status]'))")
        self.assertEqual(self.page.close_websockets(), 1)
        self.set_state(aid, "offline")
        self.page.wait(f"{self.card(cid)}.querySelector('[data-agent-id=\"{aid}\"]"
                       " [data-testid=agent-state]').textContent === 'offline'",
                       what="the change made while away")
        self.page.wait("document.querySelector('[data-testid=feed-status]')"
                       ".textContent === 'live'", what="the feed live again")
        self.assertIn("reconnecting", self.page.eval("window.feedStates"))
        self.set_state(aid, "paused", "meeting")

        # 1. A caller waits while the agent is paused.
        self.page.eval(
            f"(() => {{ const e = {self.card(cid)}.querySelector('[data-testid=waiting]');"
            " window.queuedSeen = null; new MutationObserver(() => {"
            " if (e.textContent === '1' && window.queuedSeen === null)"
            " window.queuedSeen = Date.now(); }).observe(e, {childList: true,"
            " characterData: true, subtree: true}); })()")
        first = self.caller(did, scenario="uac-expect-bye.xml", timeout=90)
        queued = feed.until(lambda m: m["type"] == "call.queued"
                            and m["data"]["campaign_id"] == cid, what="call.queued")[-1]
        call_id = queued["data"]["call_id"]
        seen = self.page.wait("window.queuedSeen", timeout=5, what="waiting 1 on the page")
        delay = seen - ms(queued["at"])
        print(f"measure: queued_to_wallboard_ms={delay:.0f}")
        self.assertLess(delay, 1000, "the queued caller on the wallboard within 1 s")
        q = self.assert_figures_match(cid)
        self.assertEqual(q["waiting"], 1)
        self.page.wait(f"!!{self.card(cid)}.querySelector('[data-testid=call]"
                       f"[data-call-id=\"{call_id}\"]')", what="the waiting call listed")
        self.shot("2-queued", cid)

        # 2. The agent comes back and answers.
        self.set_state(aid, "available")
        row = (f"{self.card(cid)}.querySelector('[data-testid=calls]"
               f" [data-testid=call][data-call-id=\"{call_id}\"]')")
        self.page.wait(f"{row}?.dataset.state === 'talking'", what="the call talking")
        q = self.assert_figures_match(cid)
        self.assertEqual((q["waiting"], q["answered"], q["abandoned"]), (0, 1, 0))
        for mode in ("listen", "whisper", "barge"):
            self.assertTrue(self.page.eval(
                f"{row}.querySelector('[data-testid={mode}]').disabled === false"), mode)
        self.page.wait(f"{self.card(cid)}.querySelector('[data-agent-id=\"{aid}\"]"
                       f" [data-testid=agent-state]').textContent === 'in call'",
                       what="the agent in call")
        self.shot("3-answered", cid)

        # Listening without one's own agent id: said in words, nothing sent.
        self.page.eval("localStorage.removeItem('wallboard.supervisorAgentId');"
                       "document.getElementById('supervisor-agent-id').value = ''")
        self.click(call_id, "listen")
        error = self.page.wait("(e => e && !e.hidden && e.textContent)"
                               "(document.querySelector('[data-testid=error]'))",
                               what="an error in words")
        self.assertIn("agent id", error)
        # With it: the supervisor's phone rings, answers, and listens.
        self.page.eval(f"(e => {{ e.value = '{sup['id']}';"
                       " e.dispatchEvent(new Event('input')); })"
                       "(document.getElementById('supervisor-agent-id'))")
        self.click(call_id, "listen")
        supervised = feed.until(lambda m: m["type"] == "call.supervised"
                                and m["data"]["call_id"] == call_id,
                                what="call.supervised")[-1]
        self.assertEqual((supervised["data"]["mode"], supervised["data"]["supervisor_agent_id"]),
                         ("listen", sup["id"]))
        self.page.wait(f"{row}.querySelector('.call-state').textContent.includes('listen')",
                       what="the supervision shown")
        self.assertTrue(self.page.eval("document.querySelector('[data-testid=error]').hidden"),
                        "the error cleared")
        self.shot("4-listening", cid)
        # Twice: the server's refusal, in words.
        self.click(call_id, "listen")
        error = self.page.wait("(e => e && !e.hidden && e.textContent)"
                               "(document.querySelector('[data-testid=error]'))",
                               what="the refusal in words")
        self.assertRegex(error, r"^Could not listen to the call: \w+ .*\w")
        self.page.eval("document.querySelector('[data-testid=error]').click()")
        self.page.pump(0.2)
        self.assertEqual([e for e in self.page.errors if "409 (Conflict)" not in e], [])
        self.page.errors.clear()  # Chromium logs the refused request

        # 3. A second caller waits for the busy agent, then hangs up.
        second = self.caller(did, talk_ms=2500)
        ended = feed.until(lambda m: m["type"] == "call.ended"
                           and m["data"]["call_id"] != call_id
                           and m["data"]["campaign_id"] == cid, what="the abandoned call")[-1]
        self.assertTrue(ended["data"]["abandoned"], ended)
        self.page.wait(f"{self.card(cid)}.querySelector('[data-testid=abandoned]')"
                       ".textContent === '1'", what="abandoned 1")
        q = self.assert_figures_match(cid)
        self.assertEqual((q["waiting"], q["answered"], q["abandoned"]), (0, 1, 1))
        self.shot("5-abandoned", cid)

        # The same board in TV mode, as on a wall.
        self.page.viewport(1920, 1080)
        self.page.eval("document.querySelector('[data-testid=tv-toggle]').click()")
        self.assertTrue(self.page.eval("document.body.classList.contains('tv')"))
        self.page.pump(0.3)
        self.shot("6-tv", cid)

        self.ok("DELETE", f"/api/v1/calls/{call_id}", expect=202)
        self.finish(first)
        self.finish(second)
        self.page.wait(f"!{row}", what="the ended call gone from the page")
        self.page.pump(0.2)
        self.assertEqual(self.page.errors, [], "errors in the page")

        # Tokens that cannot show the wallboard are told apart, in words.
        _, agent_token = self.token("agent", aid)
        for token, words, tv in ((agent_token, "agent token", "1"), ("0" * 64, "refused", "0")):
            self.page.navigate(f"http://127.0.0.1:{self.port}/wallboard/?tv={tv}#token={token}")
            error = self.page.wait("(e => e && !e.hidden && e.textContent)"
                                   "(document.querySelector('[data-testid=error]'))",
                                   what=f"the {words} error")
            self.assertIn(words, error)
            self.assertFalse(self.page.eval("document.getElementById('sign-in').hidden"))
            self.assertEqual(self.page.eval("document.body.classList.contains('tv')"),
                             tv == "1", "?tv=")
            self.page.pump(0.2)
            self.assertEqual([e for e in self.page.errors if "401" not in e], [])
            self.page.errors.clear()  # Chromium logs the refused token
        self.shot("7-refused")


def load_tests(loader, tests, pattern):
    # Only this class's own test: the inherited ones run in test_api_live.
    return unittest.TestSuite([WallboardTest("test_wallboard_follows_the_queue")])


if __name__ == "__main__":
    unittest.main(verbosity=2)
