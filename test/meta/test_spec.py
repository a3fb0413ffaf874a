"""Meta-tests that keep schemas/openapi.yaml honest.

- the spec parses, every $ref resolves, every schema is valid JSON Schema
  once converted, and every operation says who may call it;
- the daemon's route table (`welcomedlyd routes`) and the spec list the same
  (method, path) pairs with the same minimum roles;
- test/integration/apispec.py accepts valid bodies and rejects broken ones.

WELCOMEDLYD names the daemon binary (meson passes it); without it the route
table test is skipped.
"""

import copy
import json
import os
import re
import subprocess
import sys
import unittest

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import apispec  # noqa: E402

ROLES = ("admin", "supervisor", "agent", "none")


def walk(node, path=""):
    """Yields (json pointer, node) for every dict and list in node."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, (dict, list)):
                yield from walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            if isinstance(v, (dict, list)):
                yield from walk(v, f"{path}/{i}")


def campaign(**over):
    c = {
        "id": 12, "name": "Sales", "strategy": "rrmemory", "ring_timeout": 30,
        "retry_delay": 5, "max_queue_length": 100, "wrapup_time": 15,
        "announce_frequency": 90, "moh_class": "default",
        "dial_template": "PJSIP/{number}@trunk", "caller_id": None,
        "allowed_prefixes": ["+34", "6"], "max_wait_time": None,
        "no_agents_action": "hangup", "overflow_campaign_id": None,
        "service_level_seconds": 20, "max_no_answer": 3,
        "skill_requirements": {"spanish": 5}, "skill_relax_seconds": 30,
        "country_code": "1", "trunk_prefix": "1", "intl_prefix": "011",
        "national_min": 10, "national_max": 10, "allow_international": False,
        "allow_premium": False,
        "created_at": "2024-11-24T17:14:00Z", "updated_at": "2024-11-24T17:14:00.123+01:00",
    }
    c.update(over)
    return c


def problem(status, slug, **over):
    p = {"type": f"urn:welcomedly:problem:{slug}", "title": "T", "status": status,
         "detail": "A sentence."}
    p.update(over)
    return p


class SpecDocumentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(apispec.SPEC_PATH) as f:
            cls.doc = yaml.safe_load(f)
        cls.spec = apispec.Spec()

    def operations(self):
        for method, full in sorted(self.spec.operations):
            yield method, full, self.spec.operations[(method, full)]

    def test_openapi_version_and_servers(self):
        self.assertEqual(self.doc["openapi"], "3.0.3")
        self.assertEqual(self.doc["servers"], [{"url": "/api/v1"}])
        for p in ("/healthz", "/metrics"):
            self.assertEqual(self.doc["paths"][p].get("servers"), [{"url": "/"}], p)

    def test_every_ref_resolves(self):
        refs = 0
        for where, node in walk(self.doc):
            if isinstance(node, dict) and isinstance(node.get("$ref"), str):
                refs += 1
                try:
                    apispec._pointer(self.doc, node["$ref"])
                except (KeyError, IndexError, ValueError) as e:
                    self.fail(f"{where}: {e}")
        self.assertGreater(refs, 100)

    def test_every_schema_is_valid_json_schema(self):
        for name, node in self.doc["components"]["schemas"].items():
            with self.subTest(schema=name):
                jsonschema.Draft4Validator.check_schema(self.spec.json_schema(node))

    def test_operations_declare_role_and_auth(self):
        ids = set()
        for method, full, op in self.operations():
            what = f"{method} {full}"
            with self.subTest(op=what):
                self.assertIn(op.get("x-min-role"), ROLES, what)
                self.assertNotIn(op["operationId"], ids, what)
                ids.add(op["operationId"])
                open_op = op.get("security") == []
                self.assertEqual(open_op, op["x-min-role"] == "none",
                                 f"{what}: security: [] iff x-min-role none")
                if op.get("x-agent-self"):
                    self.assertEqual(op["x-min-role"], "agent", what)
                self.assertTrue(op.get("responses"), what)
                if op["x-min-role"] != "none":
                    self.assertIn("401", op["responses"], what)
                    self.assertIn("403", op["responses"], what)

    def test_path_parameters_declared(self):
        for tmpl, item in self.doc["paths"].items():
            names = set(re.findall(r"\{(\w+)\}", tmpl))
            for method in apispec.METHODS:
                if method not in item:
                    continue
                params = [self.spec.resolve(p) for p in
                          item.get("parameters", []) + item[method].get("parameters", [])]
                declared = {p["name"] for p in params if p["in"] == "path"}
                self.assertEqual(declared, names, f"{method.upper()} {tmpl}")
                if names:
                    self.assertIn("404", item[method]["responses"], f"{method} {tmpl}")

    def test_request_bodies_are_closed(self):
        """Every object a request body may be has additionalProperties: false,
        so that unknown fields are documented as 422."""
        def closed(schema, where):
            if "oneOf" in schema and "properties" not in schema:
                for i, branch in enumerate(schema["oneOf"]):
                    closed(branch, f"{where}/oneOf/{i}")
                return
            if schema.get("type") == "array":
                closed(schema["items"], where + "/items")
                return
            if schema.get("type") == "object":
                self.assertIs(schema.get("additionalProperties"), False, where)
        bodies = 0
        for method, full, op in self.operations():
            if "requestBody" not in op:
                continue
            for media, content in self.spec.resolve(op["requestBody"])["content"].items():
                if media == "application/json":
                    bodies += 1
                    closed(self.spec.json_schema(content["schema"]), f"{method} {full}")
        self.assertGreaterEqual(bodies, 14)

    def test_problem_slugs_cover_documented_error_statuses(self):
        for method, full, op in self.operations():
            for status, resp in op["responses"].items():
                resp = self.spec.resolve(resp)
                if "application/problem+json" in resp.get("content", {}):
                    self.assertIn(int(status), self.spec.problem_slugs, f"{method} {full} {status}")

    def test_issue6_routes_present(self):
        for method, full in [("POST", "/api/v1/calls"),
                             ("POST", "/api/v1/calls/{id}/disposition"),
                             ("POST", "/api/v1/campaigns/{id}/leads"),
                             ("GET", "/api/v1/leads"),
                             ("GET", "/api/v1/events"),
                             ("GET", "/healthz"), ("GET", "/metrics")]:
            self.assertIn((method, full), self.spec.operations)


@unittest.skipUnless(os.environ.get("WELCOMEDLYD"), "WELCOMEDLYD is not set")
class RouteTableTest(unittest.TestCase):
    """`welcomedlyd routes` and the spec, both ways."""

    def daemon_routes(self):
        proc = subprocess.run([os.environ["WELCOMEDLYD"], "routes"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 0,
                         f"`welcomedlyd routes` failed ({proc.returncode}): {proc.stderr.strip()}")
        routes = {}
        for n, line in enumerate(proc.stdout.splitlines(), 1):
            if not line.strip():
                continue
            fields = line.split()
            self.assertEqual(len(fields), 3, f"line {n}: {line!r}: want METHOD PATH ROLE")
            method, path, role = fields
            self.assertIn(role, ROLES, f"line {n}: {line!r}")
            self.assertNotIn((method, path), routes, f"line {n}: listed twice")
            routes[(method, path)] = role
        return routes

    def test_routes_match_spec_both_ways(self):
        routes = self.daemon_routes()
        spec = apispec.Spec()
        documented = {k: op["x-min-role"] for k, op in spec.operations.items()}
        # Every difference at once: one run tells the whole story.
        diffs = [f"not served by the daemon: {m} {p}"
                 for m, p in sorted(set(documented) - set(routes))]
        diffs += [f"not documented in the spec: {m} {p}"
                  for m, p in sorted(set(routes) - set(documented))]
        diffs += [f"role differs: {m} {p}: daemon {routes[(m, p)]}, spec {documented[(m, p)]}"
                  for m, p in sorted(set(routes) & set(documented))
                  if routes[(m, p)] != documented[(m, p)]]
        self.assertEqual(diffs, [], "\n".join(["", "welcomedlyd routes vs the spec:"] + diffs))


class ApiSpecTest(unittest.TestCase):
    """test/integration/apispec.py on hand-made responses."""

    def test_template_for(self):
        self.assertEqual(apispec.template_for("/api/v1/campaigns/12"), "/api/v1/campaigns/{id}")
        self.assertEqual(apispec.template_for("/api/v1/campaigns/12/agents/3?x=1"),
                         "/api/v1/campaigns/{id}/agents/{agent_id}")
        self.assertEqual(apispec.template_for("/api/v1/queues/4"), "/api/v1/queues/{campaign_id}")
        self.assertEqual(apispec.template_for("/healthz"), "/healthz")
        self.assertIsNone(apispec.template_for("/api/v1/healthz"))
        self.assertIsNone(apispec.template_for("/api/v1/nope"))
        self.assertIsNone(apispec.template_for("/api/v1/campaigns//agents"))

    def test_valid_campaign_passes(self):
        apispec.validate("GET", "/api/v1/campaigns/{id}", 200, campaign(), "application/json")
        page = json.dumps({"items": [campaign(), campaign(id=13)], "next_cursor": "abc"})
        apispec.validate("GET", "/api/v1/campaigns", 200, page, "application/json")
        apispec.validate("POST", "/api/v1/campaigns", 201, campaign(max_wait_time=60,
                         caller_id="+3491"), "application/json; charset=utf-8")

    def test_campaign_with_string_ring_timeout_fails(self):
        with self.assertRaises(AssertionError) as cm:
            apispec.validate("GET", "/api/v1/campaigns/12", 200, campaign(ring_timeout="30"),
                             "application/json")
        self.assertIn("ring_timeout", str(cm.exception))

    def test_campaign_schema_errors(self):
        bad = [campaign(strategy="fifo"), campaign(ring_timeout=0),
               campaign(ring_timeout=30.0), campaign(extra=1),
               campaign(created_at="yesterday"), campaign(caller_id=5),
               campaign(skill_requirements={"x": 11}), campaign(allowed_prefixes=["34a"])]
        c = campaign()
        del c["name"]
        bad.append(c)
        for body in bad:
            with self.subTest(body=body), self.assertRaises(AssertionError):
                apispec.validate("GET", "/api/v1/campaigns/12", 200, body, "application/json")

    def test_status_and_content_type(self):
        with self.assertRaisesRegex(AssertionError, "not documented"):
            apispec.validate("GET", "/api/v1/campaigns/12", 418, campaign(), "application/json")
        with self.assertRaisesRegex(AssertionError, "content type"):
            apispec.validate("GET", "/api/v1/campaigns/12", 200, campaign(), "text/plain")
        with self.assertRaisesRegex(AssertionError, "no body"):
            apispec.validate("DELETE", "/api/v1/campaigns/12", 204, "{}", None)
        apispec.validate("DELETE", "/api/v1/campaigns/12", 204, b"", None)
        with self.assertRaisesRegex(AssertionError, "not JSON"):
            apispec.validate("GET", "/api/v1/campaigns/12", 200, "{", "application/json")

    def test_problems(self):
        apispec.validate("GET", "/api/v1/campaigns/9", 404, problem(404, "not-found"),
                         "application/problem+json")
        apispec.validate("POST", "/api/v1/campaigns", 422,
                         problem(422, "invalid-body", errors=[{"field": "name", "detail": "x"}]),
                         "application/problem+json")
        with self.assertRaisesRegex(AssertionError, "slug"):
            apispec.validate("GET", "/api/v1/campaigns/9", 404, problem(404, "conflict"),
                             "application/problem+json")
        with self.assertRaisesRegex(AssertionError, "HTTP status"):
            apispec.validate("GET", "/api/v1/campaigns/9", 404, problem(400, "not-found"),
                             "application/problem+json")
        with self.assertRaises(AssertionError):
            apispec.validate("GET", "/api/v1/campaigns/9", 404, {"title": "x"},
                             "application/problem+json")
        # Unknown paths and methods: the generic 404 and 405.
        apispec.validate("GET", "/api/v1/nope", 404, problem(404, "not-found"),
                         "application/problem+json")
        apispec.validate("PUT", "/api/v1/campaigns/9", 405,
                         problem(405, "method-not-allowed"), "application/problem+json")
        with self.assertRaises(AssertionError):
            apispec.validate("PUT", "/api/v1/campaigns/9", 200, campaign(), "application/json")

    def test_nullable_and_oneof(self):
        live = {"id": "wd-call-1", "direction": "inbound", "state": "queued",
                "caller_number": "600111222", "callee_number": None, "campaign_id": 1,
                "agent_id": None, "channels": {"caller": "c1", "agent": None},
                "bridge_id": None, "started_at": "2024-11-24T17:00:00Z",
                "answered_at": None, "wait_seconds": 3}
        apispec.validate("GET", "/api/v1/calls/wd-call-1", 200, live, "application/json")
        ended = {"state": "ended", "call_id": "wd-call-1", "agent_id": None,
                 "campaign_id": None, "lead_id": None, "direction": "inbound",
                 "caller_number": "600", "callee_number": None,
                 "start_time": "2024-11-24T17:00:00Z", "answer_time": None,
                 "end_time": "2024-11-24T17:01:00Z", "duration": 60, "billsec": 0,
                 "disposition": "NO ANSWER", "recording_url": None,
                 "queue_wait_seconds": 59, "abandoned": True, "hangup_cause": 16,
                 "hangup_cause_text": "Normal Clearing", "hangup_by": "caller",
                 "id": "wd-call-1", "disposition_code": None,
                 "disposition_notes": None, "disposition_at": None,
                 "callback_at": None, "supervisions": []}
        apispec.validate("GET", "/api/v1/calls/wd-call-1", 200, ended, "application/json")
        broken = dict(ended, disposition="MAYBE")
        with self.assertRaisesRegex(AssertionError, "branch"):
            apispec.validate("GET", "/api/v1/calls/wd-call-1", 200, broken, "application/json")
        apispec.validate("GET", "/healthz", 503, {"status": "unavailable", "ari": "down",
                                                  "database": "up", "version": "0.1.0"},
                         "application/json")
        apispec.validate("GET", "/metrics", 200, "welcomedly_ari_reconnects_total 0\n",
                         "text/plain; version=0.0.4")
        apispec.validate("GET", "/api/v1/calls/wd-call-1/recording", 206, b"RIFF\xff\x00",
                         "audio/wav")
        with self.assertRaisesRegex(AssertionError, "binary"):
            apispec.validate("GET", "/api/v1/calls/wd-call-1/recording", 200, b"", "audio/wav")

    def test_events(self):
        apispec.validate_event({"seq": 4, "epoch": "e1", "type": "call.offered",
                                "at": "2024-11-24T17:00:00Z",
                                "data": {"call_id": "wd-call-1", "agent_id": 2, "campaign_id": 1,
                                         "campaign_name": "Sales", "caller_number": None,
                                         "wait_seconds": 3}})
        apispec.validate_event('{"seq": null, "type": "feed.gap", '
                               '"data": {"since": 3, "oldest": 900}}')
        with self.assertRaises(AssertionError):
            apispec.validate_event({"seq": 4, "epoch": "e1", "type": "call.offered",
                                    "at": "2024-11-24T17:00:00Z", "data": {"call_id": "x"}})

    def test_request_schemas(self):
        ok = [("TokenCreate", {"role": "agent", "agent_id": 3}),
              ("TokenCreate", {"role": "supervisor"}),
              ("CallTransfer", {"number": "+34600111222"}),
              ("CallCreate", {"agent_id": 1, "campaign_id": 2, "lead_id": 3}),
              ("CampaignCreate", {"name": "x", "max_wait_time": None})]
        bad = [("TokenCreate", {"role": "agent"}),
               ("TokenCreate", {"role": "admin", "agent_id": 3}),
               ("TokenCreate", {"role": "admin", "name": "x"}),
               ("CallTransfer", {"number": "+34600111222", "agent_id": 2}),
               ("CallTransfer", {}),
               ("CallCreate", {"agent_id": 1, "campaign_id": 2}),
               ("CampaignCreate", {"name": "x", "ring_timeout": None}),
               ("CampaignPatch", {"bogus": 1})]
        for name, body in ok:
            with self.subTest(name=name, body=body):
                apispec.validate_schema(name, body)
        for name, body in bad:
            with self.subTest(name=name, body=body), self.assertRaises(AssertionError):
                apispec.validate_schema(name, body)

    def test_spec_is_not_mutated(self):
        before = copy.deepcopy(apispec.spec().doc)
        apispec.validate("GET", "/api/v1/campaigns/12", 200, campaign(), "application/json")
        self.assertEqual(apispec.spec().doc, before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
