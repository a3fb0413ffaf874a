"""The event feed's edges against the real daemon, PostgreSQL and Asterisk:
?since= validation, and sockets closed when their token is revoked (through
the API or in the database).

Upgrade refusals are checked against schemas/openapi.yaml like every other
response. Run by meson (suite 'integration').
"""

import json
import os
import struct
import sys
import time
import unittest
import uuid

import websocket

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api  # noqa: E402
import harness  # noqa: E402

V1 = "/api/v1"
ADMIN = api.ADMIN_TOKEN


def setUpModule():
    harness.asterisk_start()


def close_frame(ws, timeout):
    """Reads until the close frame; returns (code, reason, seconds, events)."""
    start = time.monotonic()
    events = []
    ws.settimeout(timeout)
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
            return code, data[2:].decode(), time.monotonic() - start, events
        if opcode == websocket.ABNF.OPCODE_TEXT:
            events.append(json.loads(data))


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

    def agent(self):
        ag = self.c.ok("POST", V1 + "/agents", {"name": "feed-" + uuid.uuid4().hex[:8]},
                       expect=201)
        path = f"{V1}/agents/{ag['id']}/state"
        harness.wait_for(lambda: self.c.post(path, {"state": "paused"}).status == 200,
                         10, what="the new agent known to the state service")
        return ag["id"]

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

    # -- revoked tokens --------------------------------------------------------

    def assert_closed_for_policy(self, ws, within=1.0):
        code, reason, took, events = close_frame(ws, timeout=5)
        self.assertEqual(code, 1008, reason)
        self.assertIn("revoked", reason)
        self.assertLess(took, within, f"closed {took:.2f}s after the revocation")
        return events

    def test_revoked_tokens_lose_their_feed(self):
        aid = self.agent()
        keep_id, keep = api.make_token(self.port, ADMIN, "supervisor")
        kept = api.ws_connect(self.port, keep)
        self.addCleanup(kept.close)
        ways = {
            "api": lambda tid: self.c.ok("DELETE", f"{V1}/tokens/{tid}", expect=204),
            "sql-update": lambda tid: harness.sql(
                f"UPDATE api_tokens SET revoked_at = now() WHERE id = {tid}"),
            "sql-delete": lambda tid: harness.sql(f"DELETE FROM api_tokens WHERE id = {tid}"),
        }
        for way, revoke in ways.items():
            with self.subTest(way=way):
                tid, tok = api.make_token(self.port, ADMIN, "supervisor")
                # Through the header and through ?access_token= alike.
                socks = [api.ws_connect(self.port, tok),
                         api.ws_connect(self.port, tok, header=False)]
                for ws in socks:
                    self.addCleanup(ws.close)
                self.c.ok("POST", f"{V1}/agents/{aid}/state", {"state": "available"})
                for ws in socks:
                    ws.settimeout(5)
                    self.assertEqual(json.loads(ws.recv())["type"], "agent.state_changed")
                revoke(tid)
                for ws in socks:
                    self.assert_closed_for_policy(ws)
                self.assertEqual(upgrade_status(self.port, tok, ""), 401)
                self.c.ok("POST", f"{V1}/agents/{aid}/state", {"state": "paused"})
        # The other token's socket heard every change and is still open.
        kept.settimeout(5)
        seen = [json.loads(kept.recv()) for _ in range(2 * len(ways))]
        self.assertEqual([m["type"] for m in seen], ["agent.state_changed"] * 2 * len(ways))
        self.c.ok("DELETE", f"{V1}/tokens/{keep_id}", expect=204)
        self.assert_closed_for_policy(kept)


if __name__ == "__main__":
    unittest.main(verbosity=2)
