"""The ARI link against a real Asterisk: calls handled, restarts, bad credentials.

Run by meson (suite 'integration'); tools/test starts the sandboxes first.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from fakeari import FakeAri  # noqa: E402


class LinkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.asterisk_start()
        harness.wait_for(lambda: not harness.app_registered(), 10,
                         what="no leftover application")

    def setUp(self):
        self.daemon = harness.Daemon().start()
        self.addCleanup(lambda: self.daemon.kill())
        self.daemon.wait_log(r"ARI resync done")

    def tearDown(self):
        rc = self.daemon.stop()
        harness.wait_idle()
        self.assertEqual(rc, 0, f"welcomedlyd exit status; log {self.daemon.log_path}")

    def test_trunk_call_is_answered_prompted_and_hung_up(self):
        res = harness.sipp("uac-expect-bye.xml", "-s", "5000")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.daemon.wait_log(r"call=\S+ ended")
        self.assertEqual(self.daemon.count(r"call=\S+ entered"), 1)
        harness.wait_idle()

    def test_event_filter_lets_only_the_used_types_through(self):
        # Asterisk builds the JSON of every event it sends: the daemon asks
        # for the types it handles, not for the ChannelVarset and bridge
        # events that each call makes by the dozen.
        def allowed():
            app = harness.ari("GET", "/applications/welcomedly")
            return {f["type"] for f in app.get("events_allowed", [])}
        harness.wait_for(lambda: "StasisStart" in allowed(), 10,
                         what="the application's event filter")
        types = allowed()
        for used in ("StasisStart", "StasisEnd", "ChannelDestroyed", "Dial",
                     "ChannelHangupRequest", "PlaybackFinished",
                     "ApplicationReplaced", "RESTResponse"):
            self.assertIn(used, types)
        for unused in ("ChannelVarset", "ChannelStateChange", "ChannelEnteredBridge",
                       "ChannelLeftBridge", "BridgeDestroyed", "RecordingStarted"):
            self.assertNotIn(unused, types)

    def test_ari_originated_local_channel_is_handled(self):
        harness.ari("POST", "/channels", query={
            "endpoint": "Local/s@welcomedly-local", "app": "welcomedly",
            "appArgs": "inbound"})
        self.daemon.wait_log(r"call=\S+ entered")
        self.daemon.wait_log(r"call=\S+ ended", timeout=20)
        harness.wait_idle()

    def test_asterisk_restart_reconnects_and_resyncs(self):
        harness.asterisk_restart()
        self.daemon.wait_log(r"ARI connected app=welcomedly reconnects=1", timeout=40)
        self.daemon.wait_log(r"ARI resync done", count=2, timeout=10)
        self.assertTrue(harness.app_registered())
        res = harness.sipp("uac-expect-bye.xml", "-s", "5001")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.daemon.wait_log(r"call=\S+ ended")

    def test_a_new_process_takes_over_without_a_gap(self):
        # Make-before-break across processes: the new one connects while the
        # old one still holds the application; Asterisk tells the old one
        # (ApplicationReplaced), which hands over and exits cleanly.
        old = self.daemon
        self.daemon = harness.Daemon().start()
        self.daemon.wait_log(r"ARI resync done")
        old.wait_log(r"replaced by another connection")
        old.wait_log(r"handing over")
        harness.wait_for(lambda: not old.alive(), 10, what="the old process gone")
        self.assertEqual(old.stop(), 0, old.log_path)
        self.assertTrue(harness.app_registered())
        res = harness.sipp("uac-expect-bye.xml", "-s", "5002")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.daemon.wait_log(r"call=\S+ ended")

    def test_calls_left_in_stasis_are_adopted_after_restart(self):
        # The first owner plays ten seconds of silence and is stopped in the
        # middle: the channel stays in Stasis with nobody listening.
        self.daemon.stop()
        self.daemon = harness.Daemon(PROMPT_SOUND="sound:silence/10").start()
        self.daemon.wait_log(r"ARI resync done")
        harness.ari("POST", "/channels", query={
            "endpoint": "Local/s@welcomedly-local", "app": "welcomedly",
            "appArgs": "inbound"})
        self.daemon.wait_log(r"--refuse--> prompting")
        self.assertEqual(self.daemon.stop(), 0)
        self.assertTrue(harness.channels(), "the call must outlive its owner")
        # The next owner finds it in the application and finishes it.
        self.daemon = harness.Daemon().start()
        self.daemon.wait_log(r"call=\S+ adopted after resync")
        self.daemon.wait_log(r"call=\S+ ended", timeout=30)
        harness.wait_idle(timeout=10)


class BadCredentialsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.asterisk_start()

    def test_wrong_password_retries_with_backoff(self):
        d = harness.Daemon(ARI_PASSWORD="not-the-password").start()
        try:
            d.wait_log(r"ARI refused the credentials", timeout=10)
            time.sleep(6)
            self.assertTrue(d.alive(), "the daemon must keep running")
            attempts = d.count(r"ARI refused the credentials")
            # Backoff from 500 ms doubling: about 4 attempts in 6 s, never a
            # tight loop.
            self.assertGreaterEqual(attempts, 2)
            self.assertLessEqual(attempts, 6)
            self.assertFalse(harness.app_registered("welcomedly"))
        finally:
            self.assertEqual(d.stop(), 0)


class FaultyEventsTest(unittest.TestCase):
    """Faults a real Asterisk never sends, from the fake server."""

    def setUp(self):
        self.fake = FakeAri().start()
        self.addCleanup(self.fake.stop)
        # The fake server speaks ARI's HTTP; call control over its
        # WebSocket is covered against the real Asterisk.
        self.daemon = harness.Daemon(
            ARI_URL=f"http://127.0.0.1:{self.fake.port}",
            ARI_REST_TRANSPORT="http").start()
        self.addCleanup(lambda: self.daemon.kill())
        self.daemon.wait_log(r"ARI resync done")

    def tearDown(self):
        self.assertEqual(self.daemon.stop(), 0)

    def test_garbled_oversized_and_unknown_events_are_skipped(self):
        self.fake.send_text('{"type":"StasisStart","channel":')
        self.fake.send_text("\x00\x01not json")
        self.fake.send_text('{"type":"StasisStart","channel":{"id":"x"' +
                            ' ' * (2 << 20) + '}}')
        self.fake.send_event({"type": "SomethingNew", "application": "welcomedly"})
        self.fake.send_event({"type": "StasisStart", "application": "welcomedly",
                              "args": ["inbound"],
                              "channel": {"id": "1700000000.1", "state": "Ring",
                                          "caller": {"number": "100"}}},
                             fragments=4)
        harness.wait_for(lambda: any(
            m == "POST" and p.startswith("/ari/channels/1700000000.1/answer")
            for m, p, _ in self.fake.requests), 10, what="answer request")
        self.assertEqual(self.daemon.count(r"garbled ARI event"), 2)
        self.assertEqual(self.daemon.count(r"over the cap"), 1)
        self.assertEqual(self.daemon.count(r"type=SomethingNew skipped"), 1)
        self.assertTrue(self.daemon.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
