"""The event feed's edges against the real daemon, PostgreSQL and Asterisk:
?since= validation.

Upgrade refusals are checked against schemas/openapi.yaml like every other
response. Run by meson (suite 'integration').
"""

import os
import sys
import unittest

import websocket

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api  # noqa: E402
import harness  # noqa: E402

V1 = "/api/v1"
ADMIN = api.ADMIN_TOKEN


def setUpModule():
    harness.asterisk_start()


def upgrade_status(port, token, query):
    try:
        ws = api.ws_connect(port, token, query=query)
    except websocket.WebSocketBadStatusException as e:
        return e.status_code
    ws.close()
    return 101


class FeedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        api.spec_errors = []
        cls.daemon, cls.port = api.start_daemon(cls.__name__)
        cls.c = api.Client(cls.port, ADMIN)

    @classmethod
    def tearDownClass(cls):
        alive = cls.daemon.alive()
        rc = cls.daemon.stop()
        harness.wait_idle()
        left, api.spec_errors = api.spec_errors, None
        if not alive or rc != 0:
            raise AssertionError(f"welcomedlyd exit status {rc}; log {cls.daemon.log_path}")
        if left:
            raise AssertionError("responses that differ from the spec:\n" + "\n".join(left))

    # -- ?since= ---------------------------------------------------------------

    def test_since_validated(self):
        _, sup = api.make_token(self.port, ADMIN, "supervisor")
        for since in ("-1", "99999999999999999999999", "9223372036854775808",
                      "18446744073709551616", "abc", "1e3", "0x10", "", "%2B1"):
            with self.subTest(since=since):
                self.assertEqual(upgrade_status(self.port, sup, f"since={since}"), 400)
        for since in ("0", "9223372036854775807", "000042"):
            with self.subTest(since=since):
                self.assertEqual(upgrade_status(self.port, sup, f"since={since}"), 101)
        # The refusal is a problem, as the spec says.
        r = api.request(self.port, "GET", f"{V1}/events?since=99999999999999999999999",
                        token=sup, headers={
                            "Upgrade": "websocket", "Connection": "Upgrade",
                            "Sec-WebSocket-Version": "13",
                            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        self.assertEqual(r.status, 400, r.raw)
        self.assertIn("since", r.body["detail"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
