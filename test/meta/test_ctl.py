"""tools/welcomedlyctl against a small in-process fake of the admin API.

Checks table rendering, following next_cursor, --json, request bodies and
query strings, the event feed, and the exit statuses (1: HTTP error, 2:
cannot connect or usage).
"""

import base64
import hashlib
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
CTL = os.path.join(HERE, "..", "..", "tools", "welcomedlyctl")
TOKEN = "ab" * 32


def agent(i, name, state="available"):
    return {"id": i, "name": name, "external_user_id": None, "state": state,
            "state_reason": None, "state_since": "2024-11-24T17:00:00Z", "time_in_state": 7,
            "current_call": None, "sip_username": f"agent{i}", "registration": "registered",
            "created_at": "2024-11-24T17:00:00Z", "updated_at": "2024-11-24T17:00:00Z"}


def problem(status, slug, title, detail, **more):
    return dict({"type": f"urn:welcomedly:problem:{slug}", "title": title, "status": status,
                 "detail": detail}, **more)


def ws_frame(opcode, payload):
    n = len(payload)
    head = bytes([0x80 | opcode])
    head += bytes([n]) if n < 126 else bytes([126]) + n.to_bytes(2, "big")
    return head + payload


class FakeApi(http.server.BaseHTTPRequestHandler):
    """Answers from server.routes[(method, path)] -> fn(handler) returning
    (status, content type, body); records every request in server.log."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle(self):
        # Clients may drop a kept-alive connection at any time.
        try:
            super().handle()
        except ConnectionError:
            pass

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.query = dict(urllib.parse.parse_qsl(url.query))
        self.body = json.loads(raw) if raw else None
        self.url_path = url.path
        self.server.log.append((self.command, url.path, self.query, self.body,
                                self.headers.get("Authorization")))
        fn = self.server.routes.get((self.command, url.path))
        if fn is None:
            status, ctype, body = 404, "application/problem+json", problem(
                404, "not-found", "Not found", f"No route {url.path}.")
        else:
            status, ctype, body = fn(self)
        if status == 101:
            return
        data = body.encode() if isinstance(body, str) else (
            b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        if data:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = handle_any

    def websocket(self, messages):
        """Upgrades, sends messages as text frames, then closes."""
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.write(ws_frame(0x9, b"hi"))
        for m in messages:
            self.wfile.write(ws_frame(0x1, json.dumps(m).encode()))
        self.wfile.write(ws_frame(0x8, (1000).to_bytes(2, "big")))
        self.wfile.flush()
        # Wait for the client's pong and close before hanging up.
        self.connection.settimeout(5)
        try:
            while self.connection.recv(1024):
                pass
        except OSError:
            pass
        self.close_connection = True
        return 101, None, None


class CtlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
        cls.server.daemon_threads = True
        cls.server.routes = {}
        cls.server.log = []
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        cls.url = f"http://127.0.0.1:{cls.server.server_address[1]}"

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        cls.thread.join()

    def setUp(self):
        self.server.routes.clear()
        self.server.log.clear()

    def route(self, method, path, status, body, ctype="application/json"):
        self.server.routes[(method, path)] = lambda h: (status, ctype, body)

    def ctl(self, *args, env=None, python=None, url=True):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("WELCOMEDLY_API_")}
        full_env.update(env or {})
        argv = [python or sys.executable, CTL]
        if url:
            argv += ["--url", self.url, "--token", TOKEN]
        proc = subprocess.run(argv + list(args), capture_output=True, text=True,
                              env=full_env, timeout=30)
        return proc.returncode, proc.stdout, proc.stderr

    def pages_of_agents(self):
        def agents(h):
            if h.query.get("cursor") == "page2":
                return 200, "application/json", {"items": [agent(2, "Bob Long-Name", "paused")],
                                                 "next_cursor": None}
            return 200, "application/json", {"items": [agent(1, "Al")], "next_cursor": "page2"}
        self.server.routes[("GET", "/api/v1/agents")] = agents

    def test_list_follows_cursor_and_renders_a_table(self):
        self.pages_of_agents()
        rc, out, err = self.ctl("agents", "list")
        self.assertEqual((rc, err), (0, ""))
        lines = out.splitlines()
        self.assertEqual(len(lines), 3, out)
        self.assertTrue(lines[0].startswith("ID  NAME"), lines[0])
        col = lines[0].index("STATE")
        self.assertEqual(lines[1][col:].split()[0], "available")
        self.assertEqual(lines[2][col:].split()[0], "paused")
        self.assertIn("Bob Long-Name", lines[2])
        self.assertIn(" - ", lines[1])  # None shown as "-"
        queries = [entry[2] for entry in self.server.log]
        self.assertEqual(queries, [{"limit": "500"}, {"limit": "500", "cursor": "page2"}])
        self.assertEqual(self.server.log[0][4], "Bearer " + TOKEN)

    def test_json_merges_pages(self):
        self.pages_of_agents()
        rc, out, _ = self.ctl("--json", "agents", "list")
        self.assertEqual(rc, 0)
        self.assertEqual(json.loads(out), {"items": [agent(1, "Al"),
                                                     agent(2, "Bob Long-Name", "paused")],
                                           "next_cursor": None})

    def test_show_is_a_field_table(self):
        self.route("GET", "/api/v1/agents/1", 200, agent(1, "Al"))
        rc, out, _ = self.ctl("agents", "show", "1")
        self.assertEqual(rc, 0)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["FIELD", "VALUE"])
        self.assertIn("sip_username", out)
        value_col = lines[0].index("VALUE")
        self.assertTrue(all(len(ln) <= value_col or ln[value_col - 1] == " " for ln in lines))

    def test_problem_is_reported_with_exit_1(self):
        self.route("GET", "/api/v1/campaigns/9", 404,
                   problem(404, "not-found", "Not found", "No campaign 9."),
                   "application/problem+json")
        rc, out, err = self.ctl("campaigns", "show", "9")
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("Not found", err)
        self.assertIn("No campaign 9.", err)

    def test_field_errors_are_listed(self):
        self.route("POST", "/api/v1/campaigns", 422,
                   problem(422, "invalid-body", "Invalid body", "2 fields are invalid.",
                           errors=[{"field": "ring_timeout", "detail": "must be >= 1"},
                                   {"field": "strategy", "detail": "unknown"}]),
                   "application/problem+json")
        rc, _, err = self.ctl("campaigns", "create", "--name", "X", "--ring-timeout", "0")
        self.assertEqual(rc, 1)
        self.assertIn("ring_timeout: must be >= 1", err)
        self.assertIn("strategy: unknown", err)

    def test_non_problem_error(self):
        self.route("GET", "/api/v1/calls", 502, "bad gateway\n", "text/plain")
        rc, _, err = self.ctl("calls", "list")
        self.assertEqual(rc, 1)
        self.assertIn("HTTP 502: bad gateway", err)

    def test_cannot_connect_exits_2(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        rc, _, err = self.ctl("--url", f"http://127.0.0.1:{port}", "agents", "list", url=False)
        self.assertEqual(rc, 2)
        self.assertIn("cannot connect", err)

    def test_usage_errors_exit_2(self):
        for args in (["agents"], ["nope", "list"], ["agents", "state", "1", "dancing"],
                     ["calls", "transfer", "w1"], ["agents", "list", "--bogus", "1"],
                     ["campaigns", "update", "1", "--ring-timeout", "soon"]):
            with self.subTest(args=args):
                rc, out, _ = self.ctl(*args)
                self.assertEqual((rc, out), (2, ""))
        rc, out, _ = self.ctl("campaigns", "create", "--help")
        self.assertEqual(rc, 0)
        self.assertIn("--skill-requirements", out)

    def test_campaign_fields_and_generic_fields(self):
        self.server.routes[("POST", "/api/v1/campaigns")] = lambda h: (
            201, "application/json", dict(h.body, id=5))
        rc, out, err = self.ctl("--json", "campaigns", "create", "--name", "Sales",
                                "--strategy", "ringall", "--ring-timeout", "20",
                                "--max_wait_time", "null", "--allowed-prefixes", "+34,6",
                                "--skill-requirements", '{"es": 5}', "--future-field", "7",
                                "--other=text")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.server.log[0][3], {
            "name": "Sales", "strategy": "ringall", "ring_timeout": 20, "max_wait_time": None,
            "allowed_prefixes": ["+34", "6"], "skill_requirements": {"es": 5},
            "future_field": 7, "other": "text"})
        self.assertEqual(json.loads(out)["id"], 5)

    def test_update_add_agent_and_dids(self):
        self.server.routes[("PATCH", "/api/v1/campaigns/3")] = lambda h: (
            200, "application/json", dict(h.body, id=3))
        self.server.routes[("POST", "/api/v1/campaigns/3/agents")] = lambda h: (
            201, "application/json", dict({"penalty": 0, "skills": {}}, **h.body))
        self.route("POST", "/api/v1/dids", 201, {"number": "+34910000000", "campaign_id": 3,
                                                 "created_at": "2024-11-24T17:00:00Z"})
        self.route("DELETE", "/api/v1/dids/+34910000000", 204, None)
        self.assertEqual(self.ctl("campaigns", "update", "3", "--wrapup-time", "5")[0], 0)
        self.assertEqual(self.ctl("campaigns", "add-agent", "3", "8", "--penalty", "2",
                                  "--skills", '{"es": 3}')[0], 0)
        self.assertEqual(self.ctl("dids", "add", "+34910000000", "3")[0], 0)
        rc, out, _ = self.ctl("dids", "delete", "+34910000000")
        self.assertEqual((rc, out), (0, "number +34910000000 deleted\n"))
        bodies = [(m, p, b) for m, p, _, b, _ in self.server.log]
        self.assertEqual(bodies, [
            ("PATCH", "/api/v1/campaigns/3", {"wrapup_time": 5}),
            ("POST", "/api/v1/campaigns/3/agents", {"agent_id": 8, "penalty": 2,
                                                    "skills": {"es": 3}}),
            ("POST", "/api/v1/dids", {"number": "+34910000000", "campaign_id": 3}),
            ("DELETE", "/api/v1/dids/+34910000000", None)])

    def test_agent_state_transfer_tokens(self):
        self.route("POST", "/api/v1/agents/4/state", 202, dict(agent(4, "Di", "in_call"),
                                                               pending_state="paused"))
        self.route("POST", "/api/v1/calls/wd-call-1/transfer", 202, None)
        self.route("POST", "/api/v1/tokens", 201, {"id": 2, "role": "agent", "agent_id": 4,
                                                   "token": "cd" * 32,
                                                   "created_at": "2024-11-24T17:00:00Z"})
        rc, out, err = self.ctl("agents", "state", "4", "paused", "--reason", "lunch")
        self.assertEqual(rc, 0)
        self.assertIn("pending_state", out)
        self.assertIn("after its call", err)
        self.assertEqual(self.ctl("calls", "transfer", "wd-call-1", "--number", "+3460")[0], 0)
        rc, out, _ = self.ctl("tokens", "create", "--role", "agent", "--agent", "4")
        self.assertEqual(rc, 0)
        self.assertIn("cd" * 32, out)
        self.assertEqual([b for _, _, _, b, _ in self.server.log], [
            {"state": "paused", "reason": "lunch"}, {"number": "+3460"},
            {"role": "agent", "agent_id": 4}])

    def test_cdr_export_and_list_filters(self):
        csv_text = "call_id,direction\r\nc1,inbound\r\n"
        self.route("GET", "/api/v1/cdr", 200, csv_text, "text/csv")
        rc, out, _ = self.ctl("cdr", "export", "--from", "2024-11-01T00:00:00Z",
                              "--agent", "3", "--disposition", "NO ANSWER")
        self.assertEqual(rc, 0)
        self.assertEqual(out.replace("\r\n", "\n"), csv_text.replace("\r\n", "\n"))
        self.assertEqual(self.server.log[0][2], {"from": "2024-11-01T00:00:00Z", "agent": "3",
                                                 "disposition": "NO ANSWER", "format": "csv"})

    def test_queues_list_sends_no_limit(self):
        self.route("GET", "/api/v1/queues", 200, {"items": [], "next_cursor": None})
        rc, out, _ = self.ctl("queues", "list")
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("CAMPAIGN_ID"))
        self.assertEqual(self.server.log[0][2], {})

    def queue(self, cid=1, **agents):
        counts = dict({"offline": 0, "available": 0, "ringing": 0, "in_call": 0,
                       "after_call_work": 0, "paused": 0}, **agents)
        return {"campaign_id": cid, "name": f"q{cid}", "waiting": 1, "longest_wait_seconds": 4,
                "agents": counts, "answered": 3, "abandoned": 0, "service_level": 100.0,
                "average_speed_of_answer": 2.5, "service_level_seconds": 20,
                "stats_since": "2024-11-24T17:00:00Z"}

    def test_nested_values_are_sub_columns(self):
        self.route("GET", "/api/v1/queues", 200,
                   {"items": [self.queue(1, available=2, paused=1), self.queue(2)],
                    "next_cursor": None})
        rc, out, _ = self.ctl("queues", "list")
        self.assertEqual(rc, 0)
        lines = out.splitlines()
        self.assertTrue(lines[1].rstrip().endswith("available=2 paused=1"), lines[1])
        self.assertTrue(lines[2].rstrip().endswith("-"), lines[2])
        self.assertNotIn("{", out)
        self.route("GET", "/api/v1/queues/1", 200,
                   self.queue(1, in_call=1, after_call_work=2))
        rc, out, _ = self.ctl("queues", "show", "1")
        self.assertRegex(out, r"(?m)^agents\s+in_call=1 after_call_work=2$")
        # Deeper objects join their keys with dots; lists are comma-separated.
        member = {"agent_id": 3, "penalty": 0,
                  "skills": {"langs": {"en": 3, "fr": 1}, "tags": ["a", "b"]}}
        self.route("GET", "/api/v1/campaigns/1/agents", 200,
                   {"items": [member], "next_cursor": None})
        rc, out, _ = self.ctl("campaigns", "members", "1")
        self.assertIn("langs.en=3 langs.fr=1 tags=a, b", out)

    def test_watch_redraws(self):
        self.route("GET", "/api/v1/queues", 200,
                   {"items": [self.queue(1, available=1)], "next_cursor": None})
        rc, out, _ = self.ctl("queues", "list", "--watch", "--interval", "0.05", "--count", "3")
        self.assertEqual(rc, 0)
        self.assertEqual(len(self.server.log), 3)
        self.assertEqual(len(re.findall(r"(?m)^Every 0.05s: welcomedlyctl queues list ", out)),
                         3, out)
        self.assertEqual(out.count("available=1"), 3)
        self.assertNotIn("\x1b", out, "no screen clearing when not on a terminal")
        self.pages_of_agents()
        self.server.log.clear()
        rc, out, _ = self.ctl("agents", "list", "-w", "--interval", "0.05", "--count", "2")
        self.assertEqual(rc, 0)
        self.assertEqual(out.count("Bob Long-Name"), 2)
        self.assertEqual(len(self.server.log), 4)  # two pages per redraw

    def test_watch_keeps_going_after_an_error(self):
        self.route("GET", "/api/v1/queues/9", 404, problem(404, "not-found", "Not found",
                                                        "No campaign 9."),
                   "application/problem+json")
        rc, out, _ = self.ctl("queues", "show", "9", "--watch", "--interval", "0.05",
                              "--count", "2")
        self.assertEqual(rc, 0)
        self.assertEqual(out.count("No campaign 9."), 2)
        rc, _, err = self.ctl("--json", "queues", "list", "--watch", "--count", "1")
        self.assertEqual(rc, 2)
        self.assertIn("--watch", err)

    def test_health(self):
        health = {"status": "unavailable", "ari": "down", "database": "up", "version": "0.1.0"}
        self.route("GET", "/healthz", 503, health)
        rc, out, err = self.ctl("health")
        self.assertEqual(rc, 1)
        self.assertIn("unavailable", out)
        self.assertIn("unavailable", err)
        self.route("GET", "/healthz", 200, dict(health, status="ok", ari="up"))
        rc, out, _ = self.ctl("--json", "health")
        self.assertEqual((rc, json.loads(out)["status"]), (0, "ok"))
        self.route("GET", "/healthz", 503, dict(health, status="standby", role="standby"))
        rc, out, err = self.ctl("health")
        self.assertEqual(rc, 1)
        self.assertIn("standby", out)
        self.assertIn("is the standby (HTTP 503)", err)

    def test_environment_defaults(self):
        self.route("GET", "/api/v1/tokens", 200, {"items": [], "next_cursor": None})
        rc, out, _ = self.ctl("tokens", "list", url=False,
                              env={"WELCOMEDLY_API_URL": self.url + "/api/v1",
                                   "WELCOMEDLY_API_TOKEN": "t0k"})
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.split(), ["ID", "ROLE", "AGENT_ID", "CREATED_AT", "REVOKED_AT"])
        self.assertEqual(self.server.log[0][4], "Bearer t0k")

    def interpreters(self):
        """This Python (the built-in WebSocket client unless it has
        python3-websocket) and Debian's, which has it when installed."""
        found = [sys.executable]
        deb = "/usr/bin/python3"
        if os.path.exists(deb) and os.path.realpath(deb) != os.path.realpath(sys.executable):
            if subprocess.run([deb, "-c", "import websocket"], capture_output=True).returncode == 0:
                found.append(deb)
        return found

    def test_events(self):
        messages = [{"seq": 7, "epoch": "e1", "type": "agent.state_changed",
                     "at": "2024-11-24T17:00:00Z",
                     "data": {"agent_id": 1, "from": "paused", "to": "available",
                              "reason": None}},
                    {"seq": None, "type": "feed.gap", "data": {"since": 1, "oldest": 5}}]
        self.server.routes[("GET", "/api/v1/events")] = lambda h: h.websocket(messages)
        for python in self.interpreters():
            with self.subTest(python=python):
                self.server.log.clear()
                rc, out, err = self.ctl("--json", "events", "--since", "6", python=python)
                self.assertEqual(rc, 0, err)
                self.assertEqual([json.loads(ln) for ln in out.splitlines()], messages)
                self.assertEqual(self.server.log[0][2], {"since": "6"})
                self.assertEqual(self.server.log[0][4], "Bearer " + TOKEN)
                rc, out, err = self.ctl("events", python=python)
                self.assertEqual(rc, 0, err)
                self.assertIn("agent.state_changed", out.splitlines()[0])
                self.assertTrue(out.splitlines()[1].startswith("-  -  feed.gap"))

    def test_events_refused(self):
        self.route("GET", "/api/v1/events", 401,
                   problem(401, "unauthorized", "Authentication required", "No token."),
                   "application/problem+json")
        rc, _, err = self.ctl("events")
        self.assertEqual(rc, 1)
        self.assertIn("401", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
