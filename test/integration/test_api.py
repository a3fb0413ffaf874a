"""The admin API against the real daemon, PostgreSQL and Asterisk: CRUD of
every resource, the auth matrix of the route table, a table of bad inputs,
/healthz through an Asterisk outage and /metrics.

Every JSON response is checked against schemas/openapi.yaml (api.request
calls apispec.validate). Run by meson (suite 'integration').
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api  # noqa: E402
import harness  # noqa: E402

V1 = "/api/v1"
ADMIN = api.ADMIN_TOKEN
GARBAGE = "0" * 64
_sip_port = [harness.SIP_PORT + 1540]  # 16600 with the default ports


def count(table, where="true"):
    return int(harness.sql(f"SELECT count(*) FROM {table} WHERE {where}")[0][0])


def counts():
    """Row counts that a refused request must leave as they were."""
    tables = ("campaigns", "agents", "dids", "ps_endpoints", "ps_auths", "ps_aors",
              "sip_peers", "campaign_agents", "dispositions", "api_tokens")
    # One psql for all of them, with a digest of the rows so that an update
    # that keeps the count shows too. A phone's registration status is
    # Asterisk's to change at any moment (the daemon mirrors it), not the
    # API's: it stays out of the digest.
    live = {"sip_peers": " - 'status' - 'last_registered'"}
    query = " UNION ALL ".join(
        f"SELECT '{t}', count(*), md5(coalesce(string_agg((to_jsonb(x){live.get(t, '')})::text,"
        f" ',' ORDER BY (to_jsonb(x){live.get(t, '')})::text), ''))"
        f" FROM {t} x" for t in tables)
    return {r[0]: (int(r[1]), r[2]) for r in harness.sql(query)}


def unique(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def did_number():
    return "+1" + str(uuid.uuid4().int % 10**9).rjust(9, "0")


def route_table():
    """(method, path template, role) from `welcomedlyd routes`."""
    out = subprocess.run([harness.DAEMON, "routes"], check=True, capture_output=True,
                         text=True).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return [(m, p, r) for m, p, r in rows]


def setUpModule():
    harness.asterisk_start()
    # Earlier runs of this file leave rows behind in the sandbox's database;
    # the ids restart, so a registration left in ps_contacts by another
    # test would make a new agentN registered from the start.
    harness.sql("TRUNCATE campaigns, agents, dids, api_tokens, sip_peers, ps_endpoints,"
                " ps_auths, ps_aors, ps_contacts RESTART IDENTITY CASCADE")


class ApiCase(api.DaemonCase):
    """One daemon with its API per class; self.c is an admin client."""

    def setUp(self):
        # Differences from the spec are gathered while the test goes on
        # checking behaviour; the test fails with all of them at its end.
        api.spec_errors = []
        self.addCleanup(self.check_spec)

    def check_spec(self):
        left, api.spec_errors = api.spec_errors, []
        # One line per operation and kind of difference, however many
        # responses or list items showed it.
        seen = {}
        for e in left:
            head, _, rest = e.partition(": ")
            method, path = head.split(" ")[:2]
            status = head.rpartition(" ")[2]
            what = [re.sub(r"items/\d+", "items/*", line.strip()) for line in rest.splitlines()
                    if line.strip().startswith("at ") or not line.startswith(" ")]
            key = f"{method} {api.apispec.template_for(path)} -> {status}: " + \
                "; ".join(dict.fromkeys(what))
            seen[key] = seen.get(key, 0) + 1
        if seen:
            self.fail(f"{len(seen)} kind(s) of response differ from schemas/openapi.yaml:\n" +
                      "\n".join(f"  {k} (x{n})" for k, n in seen.items()))

    def set_state(self, aid, state, reason=None, client=None):
        """POST /agents/{id}/state; returns the agent. An agent the API
        created a moment ago must be known at once: a 404 then is waited
        out (so the test goes on) and reported when the test ends."""
        client = client or self.c
        body = {"state": state} if reason is None else {"state": state, "reason": reason}
        path = f"{V1}/agents/{aid}/state"
        r = client.post(path, body)
        if r.status == 404:
            self.addCleanup(self.fail, f"POST {path} {body} right after the agent was created"
                            f" -> 404: {r.raw[:200]!r}")
            harness.wait_for(lambda: client.post(path, body).status != 404, 10,
                             what="the new agent known to the state service")
            r = client.post(path, body)
        self.assertEqual(r.status, 200, r.raw[:300])
        return r.body

    def client(self, token):
        return api.Client(self.port, token)

    def campaign(self, **fields):
        body = dict({"name": unique("c")}, **fields)
        return self.c.ok("POST", V1 + "/campaigns", body, expect=201)

    def agent(self, **fields):
        body = dict({"name": unique("a")}, **fields)
        return self.c.ok("POST", V1 + "/agents", body, expect=201)

    def assertProblem(self, r, status, slug):
        self.assertEqual(r.status, status, r.raw[:400])
        self.assertTrue(r.headers.get("content-type", "").startswith(
            "application/problem+json"), r.headers)
        self.assertEqual(r.body["type"], "urn:welcomedly:problem:" + slug, r.body)
        self.assertEqual(r.body["status"], status)
        self.assertTrue(r.body.get("detail"), r.body)


class CrudTest(ApiCase):
    def test_campaign_defaults_roundtrip_patch_delete(self):
        r = self.c.post(V1 + "/campaigns", {"name": "defaults " + unique()})
        self.assertEqual(r.status, 201, r.raw)
        got = r.body
        self.assertEqual(r.headers.get("location"), f"{V1}/campaigns/{got['id']}")
        defaults = {"strategy": "rrmemory", "ring_timeout": 30, "retry_delay": 5,
                    "max_queue_length": 100, "wrapup_time": 15, "announce_frequency": 90,
                    "moh_class": "default", "dial_template": "PJSIP/{number}@trunk",
                    "caller_id": None, "allowed_prefixes": [], "max_wait_time": None,
                    "no_agents_action": "hangup", "overflow_campaign_id": None,
                    "service_level_seconds": 20, "max_no_answer": 3,
                    "skill_requirements": {}, "skill_relax_seconds": 30}
        for k, v in defaults.items():
            self.assertEqual(got[k], v, k)
        self.assertEqual(harness.sql(f"SELECT name, strategy, ring_timeout FROM campaigns"
                                     f" WHERE id = {got['id']}"),
                         [[got["name"], "rrmemory", "30"]])

        other = self.campaign()
        full = {"name": unique("full"), "strategy": "longest_idle", "ring_timeout": 7,
                "retry_delay": 0, "max_queue_length": 3, "wrapup_time": 0,
                "announce_frequency": 0, "moh_class": "jazz",
                "dial_template": "PJSIP/9{number}@carrier", "caller_id": "+15550001",
                "allowed_prefixes": ["+1", "44"], "max_wait_time": 120,
                "no_agents_action": "overflow", "overflow_campaign_id": other["id"],
                "service_level_seconds": 15, "max_no_answer": 0,
                "skill_requirements": {"es": 3, "billing": 10}, "skill_relax_seconds": 0}
        r = self.c.post(V1 + "/campaigns", full)
        self.assertEqual(r.status, 201, r.raw)
        cid = r.body["id"]
        for view in (r.body, self.c.ok("GET", f"{V1}/campaigns/{cid}")):
            for k, v in full.items():
                self.assertEqual(view[k], v, k)
        self.assertEqual(harness.sql(
            f"SELECT strategy, overflow_campaign_id, max_wait_time FROM campaigns"
            f" WHERE id = {cid}"), [["longest_idle", str(other["id"]), "120"]])

        before = self.c.ok("GET", f"{V1}/campaigns/{cid}")
        time.sleep(0.01)
        patched = self.c.ok("PATCH", f"{V1}/campaigns/{cid}",
                            {"ring_timeout": 9, "caller_id": None, "max_wait_time": None})
        self.assertEqual((patched["ring_timeout"], patched["caller_id"],
                          patched["max_wait_time"]), (9, None, None))
        for k in full:
            if k not in ("ring_timeout", "caller_id", "max_wait_time"):
                self.assertEqual(patched[k], before[k], k)
        self.assertEqual(patched["created_at"], before["created_at"])
        self.assertEqual(harness.sql(f"SELECT ring_timeout, caller_id IS NULL FROM campaigns"
                                     f" WHERE id = {cid}"), [["9", "t"]])

        # No class: callers wait in silence.
        self.assertEqual(self.c.ok("PATCH", f"{V1}/campaigns/{cid}",
                                   {"moh_class": ""})["moh_class"], "")

        r = self.c.delete(f"{V1}/campaigns/{cid}")
        self.assertEqual(r.status, 204, r.raw)
        self.assertEqual(r.raw, b"")
        self.assertEqual(count("campaigns", f"id = {cid}"), 0)
        self.assertProblem(self.c.get(f"{V1}/campaigns/{cid}"), 404, "not-found")
        self.assertProblem(self.c.delete(f"{V1}/campaigns/{cid}"), 404, "not-found")
        self.assertProblem(self.c.patch(f"{V1}/campaigns/{cid}", {"ring_timeout": 3}),
                           404, "not-found")

    def walk(self, base, key):
        """Every item of a list, 2 a page, following next_cursor."""
        got, pages = [], 0
        for page in api.pages(lambda path: self.c.ok("GET", path), f"{base}?limit=2"):
            self.assertLessEqual(len(page["items"]), 2)
            self.assertIsInstance(page["next_cursor"], (str, type(None)))
            got += [i[key] for i in page["items"]]
            pages += 1
        return got, pages

    def test_campaign_list_pages(self):
        for _ in range(5):
            self.campaign()
        want = [int(r[0]) for r in harness.sql("SELECT id FROM campaigns ORDER BY id")]
        got, pages = self.walk(f"{V1}/campaigns", "id")
        self.assertEqual(got, want)
        self.assertGreaterEqual(pages, 3)
        # Lists built from live state (the queues) page the same way.
        harness.wait_for(lambda: len(self.c.ok("GET", f"{V1}/queues?limit=500")["items"])
                         == len(want), 10, what="every campaign's queue")
        got, pages = self.walk(f"{V1}/queues", "campaign_id")
        self.assertEqual(got, want)
        self.assertGreaterEqual(pages, 3)
        whole = self.c.ok("GET", f"{V1}/campaigns")
        self.assertEqual([i["id"] for i in whole["items"]], want)
        self.assertIsNone(whole["next_cursor"])
        one = self.c.ok("GET", f"{V1}/campaigns?limit=500")
        self.assertEqual(len(one["items"]), len(want))

    def test_dids(self):
        cid = self.campaign()["id"]
        number = did_number()
        r = self.c.post(V1 + "/dids", {"number": number, "campaign_id": cid})
        self.assertEqual(r.status, 201, r.raw)
        self.assertEqual((r.body["number"], r.body["campaign_id"]), (number, cid))
        self.assertEqual(harness.sql(f"SELECT campaign_id FROM dids WHERE number = '{number}'"),
                         [[str(cid)]])
        got = self.c.ok("GET", f"{V1}/dids/{number}")
        self.assertEqual((got["number"], got["campaign_id"]), (number, cid))
        listed = self.c.ok("GET", V1 + "/dids")["items"]
        self.assertIn(number, [d["number"] for d in listed])
        self.assertEqual([d["number"] for d in listed], sorted(d["number"] for d in listed),
                         "dids are ordered by number")

        before = counts()
        self.assertProblem(self.c.post(V1 + "/dids", {"number": number}), 409, "conflict")
        self.assertEqual(counts(), before)

        patched = self.c.ok("PATCH", f"{V1}/dids/{number}", {"campaign_id": None})
        self.assertIsNone(patched["campaign_id"])
        self.assertEqual(harness.sql(f"SELECT campaign_id IS NULL FROM dids"
                                     f" WHERE number = '{number}'"), [["t"]])
        self.c.ok("PATCH", f"{V1}/dids/{number}", {"campaign_id": cid})
        self.assertEqual(self.c.ok("GET", f"{V1}/dids/{number}")["campaign_id"], cid)

        r = self.c.delete(f"{V1}/dids/{number}")
        self.assertEqual(r.status, 204, r.raw)
        self.assertEqual(count("dids", f"number = '{number}'"), 0)
        self.assertProblem(self.c.get(f"{V1}/dids/{number}"), 404, "not-found")

    def test_agent_lifecycle_with_registration(self):
        ext = unique("ext")
        r = self.c.post(V1 + "/agents", {"name": "Ana", "external_user_id": ext})
        self.assertEqual(r.status, 201, r.raw)
        ag = r.body
        aid, user, pw = ag["id"], ag["sip_username"], ag["sip_password"]
        self.assertEqual(user, f"agent{aid}")
        self.assertGreaterEqual(len(pw), 24)
        self.assertEqual((ag["name"], ag["external_user_id"], ag["state"],
                          ag["registration"]), ("Ana", ext, "offline", "unregistered"))
        for table, col in (("ps_endpoints", "id"), ("ps_auths", "id"), ("ps_aors", "id"),
                           ("sip_peers", "sip_username")):
            self.assertEqual(count(table, f"{col} = '{user}'"), 1, table)
        self.assertEqual(harness.sql(f"SELECT username, password FROM ps_auths"
                                     f" WHERE id = '{user}'"), [[user, pw]])
        self.assertEqual(harness.sql(f"SELECT agent_id FROM sip_peers"
                                     f" WHERE sip_username = '{user}'"), [[str(aid)]])
        got = self.c.ok("GET", f"{V1}/agents/{aid}")
        self.assertNotIn("sip_password", got, "the password is shown once")
        self.assertEqual(got["sip_username"], user)

        _sip_port[0] += 10
        res = harness.sipp("register.xml", "-s", user, "-au", user, "-ap", pw,
                           local_port=_sip_port[0])
        self.assertEqual(res.returncode, 0, res.stdout[-1500:] + res.stderr[-1500:])
        harness.wait_for(lambda: self.c.ok("GET", f"{V1}/agents/{aid}")["registration"]
                         == "registered", 10, what="registration shown as registered")

        named = self.c.ok("PATCH", f"{V1}/agents/{aid}", {"name": "Ana Maria"})
        self.assertEqual((named["name"], named["external_user_id"]), ("Ana Maria", ext))
        self.assertEqual(harness.sql(f"SELECT name FROM agents WHERE id = {aid}"),
                         [["Ana Maria"]])

        custom = self.c.ok("POST", V1 + "/agents", {"name": "Bo", "sip_username": "bo.desk-1"},
                           expect=201)
        self.assertEqual(custom["sip_username"], "bo.desk-1")
        self.assertEqual(count("ps_endpoints", "id = 'bo.desk-1'"), 1)
        before = counts()
        self.assertProblem(self.c.post(V1 + "/agents", {"name": "Bo2",
                                                         "sip_username": "bo.desk-1"}),
                           409, "conflict")
        self.assertEqual(counts(), before)

        r = self.c.delete(f"{V1}/agents/{aid}")
        self.assertEqual(r.status, 204, r.raw)
        for table, col in (("ps_endpoints", "id"), ("ps_auths", "id"), ("ps_aors", "id"),
                           ("sip_peers", "sip_username")):
            self.assertEqual(count(table, f"{col} = '{user}'"), 0, table)
        self.assertEqual(count("agents", f"id = {aid}"), 0)
        self.assertProblem(self.c.get(f"{V1}/agents/{aid}"), 404, "not-found")
        self.assertProblem(self.c.delete(f"{V1}/agents/{aid}"), 404, "not-found")

    def test_memberships(self):
        cid = self.campaign()["id"]
        a1, a2 = self.agent()["id"], self.agent()["id"]
        path = f"{V1}/campaigns/{cid}/agents"
        r = self.c.post(path, {"agent_id": a1, "penalty": 2, "skills": {"es": 5}})
        self.assertEqual(r.status, 201, r.raw)
        self.assertEqual(r.body, {"agent_id": a1, "campaign_id": cid, "penalty": 2,
                                  "skills": {"es": 5}})
        r = self.c.post(path, {"agent_id": a1, "penalty": 0, "skills": {"en": 10}})
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual((r.body["penalty"], r.body["skills"]), (0, {"en": 10}))
        self.c.ok("POST", path, {"agent_id": a2}, expect=201)
        self.assertEqual(harness.sql(f"SELECT agent_id, penalty FROM campaign_agents"
                                     f" WHERE campaign_id = {cid} ORDER BY agent_id"),
                         [[str(a1), "0"], [str(a2), "0"]])
        items = self.c.ok("GET", path)["items"]
        self.assertEqual(sorted(i["agent_id"] for i in items), [a1, a2])
        self.assertEqual(next(i for i in items if i["agent_id"] == a1)["skills"], {"en": 10})
        before = counts()
        self.assertProblem(self.c.post(path, {"agent_id": 9_000_000_000}), 422, "invalid-body")
        self.assertProblem(self.c.post(f"{V1}/campaigns/9000000000/agents",
                                       {"agent_id": a1}), 404, "not-found")
        self.assertEqual(counts(), before)
        r = self.c.delete(f"{path}/{a1}")
        self.assertEqual(r.status, 204, r.raw)
        self.assertEqual(count("campaign_agents", f"campaign_id = {cid}"), 1)
        self.assertProblem(self.c.delete(f"{path}/{a1}"), 404, "not-found")
        self.assertEqual([i["agent_id"] for i in self.c.ok("GET", path)["items"]], [a2])

    def test_dispositions(self):
        cid = self.campaign()["id"]
        path = f"{V1}/campaigns/{cid}/dispositions"
        body = {"code": "sale_ok", "label": "Sold", "is_sale": True, "is_callback": False,
                "is_do_not_call": False, "is_final": True}
        r = self.c.post(path, body)
        self.assertEqual(r.status, 201, r.raw)
        for k, v in body.items():
            self.assertEqual(r.body[k], v, k)
        self.c.ok("POST", path, {"code": "call_back", "label": "Later", "is_callback": True},
                  expect=201)
        self.assertEqual(count("dispositions", f"campaign_id = {cid}"), 2)
        items = self.c.ok("GET", path)["items"]
        self.assertEqual(sorted(i["code"] for i in items), ["call_back", "sale_ok"])
        before = counts()
        self.assertProblem(self.c.post(path, dict(body, label="again")), 409, "conflict")
        self.assertEqual(counts(), before)
        r = self.c.delete(f"{path}/sale_ok")
        self.assertEqual(r.status, 204, r.raw)
        self.assertEqual(harness.sql(f"SELECT code FROM dispositions WHERE campaign_id = {cid}"),
                         [["call_back"]])
        self.assertProblem(self.c.delete(f"{path}/sale_ok"), 404, "not-found")

    def test_tokens(self):
        aid = self.agent()["id"]
        made = {}
        for role in ("admin", "supervisor", "agent"):
            body = {"role": role}
            if role == "agent":
                body["agent_id"] = aid
            r = self.c.post(V1 + "/tokens", body)
            self.assertEqual(r.status, 201, r.raw)
            self.assertEqual(r.body["role"], role)
            self.assertEqual(r.body["agent_id"], aid if role == "agent" else None)
            self.assertRegex(r.body["token"], r"^[0-9a-f]{64}$")
            made[role] = r.body
            stored = harness.sql(f"SELECT token_hash, role FROM api_tokens"
                                 f" WHERE id = {r.body['id']}")
            import hashlib
            self.assertEqual(stored, [[hashlib.sha256(r.body["token"].encode()).hexdigest(),
                                       role]])
        listed = self.c.ok("GET", V1 + "/tokens")["items"]
        by_id = {t["id"]: t for t in listed}
        for role, t in made.items():
            self.assertEqual(by_id[t["id"]]["role"], role)
            self.assertIsNone(by_id[t["id"]]["revoked_at"])
        for t in listed:
            self.assertEqual(set(t), {"id", "role", "agent_id", "created_at", "revoked_at"},
                             "no token and no hash in the list")
        self.assertNotIn(made["admin"]["token"], json.dumps(listed))

        sup = self.client(made["supervisor"]["token"])
        self.assertEqual(sup.get(V1 + "/campaigns").status, 200)
        r = self.c.delete(f"{V1}/tokens/{made['supervisor']['id']}")
        self.assertEqual(r.status, 204, r.raw)
        self.assertEqual(harness.sql(f"SELECT revoked_at IS NOT NULL FROM api_tokens"
                                     f" WHERE id = {made['supervisor']['id']}"), [["t"]])
        harness.wait_for(lambda: sup.get(V1 + "/campaigns").status == 401, 5,
                         what="the revoked token refused")
        r = sup.get(V1 + "/campaigns")
        self.assertProblem(r, 401, "unauthorized")
        self.assertTrue(r.headers.get("www-authenticate", "").startswith("Bearer"))
        revoked = {t["id"]: t for t in self.c.ok("GET", V1 + "/tokens")["items"]}
        self.assertIsNotNone(revoked[made["supervisor"]["id"]]["revoked_at"])
        # The other tokens still work.
        self.assertEqual(self.client(made["admin"]["token"]).get(V1 + "/tokens").status, 200)
        before = counts()
        self.assertProblem(self.c.post(V1 + "/tokens", {"role": "agent"}), 422,
                           "invalid-body")
        self.assertEqual(counts(), before)

    def test_agent_state(self):
        ag = self.agent()
        aid = ag["id"]
        path = f"{V1}/agents/{aid}/state"
        got = self.set_state(aid, "available")
        self.assertEqual((got["state"], got["state_reason"]), ("available", None))
        self.assertEqual(harness.sql(f"SELECT state FROM agents WHERE id = {aid}"),
                         [["available"]])
        got = self.c.ok("POST", path, {"state": "paused", "reason": "lunch"})
        self.assertEqual((got["state"], got["state_reason"]), ("paused", "lunch"))
        self.assertEqual(harness.sql(f"SELECT state, state_reason FROM agents"
                                     f" WHERE id = {aid}"), [["paused", "lunch"]])
        got = self.c.ok("GET", f"{V1}/agents/{aid}")
        self.assertEqual((got["state"], got["state_reason"]), ("paused", "lunch"))
        self.assertGreaterEqual(got["time_in_state"], 0)
        got = self.c.ok("POST", path, {"state": "offline"})
        self.assertEqual(got["state"], "offline")
        self.assertEqual(harness.sql(f"SELECT state FROM agents WHERE id = {aid}"),
                         [["offline"]])
        # A supervisor may change the state too; the agent itself as well.
        _, sup = api.make_token(self.port, ADMIN, "supervisor")
        self.assertEqual(self.client(sup).ok("POST", path, {"state": "available"})["state"],
                         "available")
        _, own = api.make_token(self.port, ADMIN, "agent", aid)
        self.assertEqual(self.client(own).ok("POST", path, {"state": "offline"})["state"],
                         "offline")
        self.assertEqual(harness.sql(f"SELECT state FROM agents WHERE id = {aid}"),
                         [["offline"]])


def fill(template, ids):
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), template)


class AuthMatrixTest(ApiCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        cls.cid = c.ok("POST", V1 + "/campaigns", {"name": unique("auth")}, expect=201)["id"]
        cls.me = c.ok("POST", V1 + "/agents", {"name": "me"}, expect=201)["id"]
        cls.other = c.ok("POST", V1 + "/agents", {"name": "other"}, expect=201)["id"]
        cls.number = did_number()
        c.ok("POST", V1 + "/dids", {"number": cls.number, "campaign_id": cls.cid},
             expect=201)
        c.ok("POST", f"{V1}/campaigns/{cls.cid}/dispositions",
             {"code": "done", "label": "Done"}, expect=201)
        c.ok("POST", f"{V1}/campaigns/{cls.cid}/agents", {"agent_id": cls.me}, expect=201)
        cls.sup_id, cls.sup = api.make_token(cls.port, ADMIN, "supervisor")
        cls.agent_tok_id, cls.agent_tok = api.make_token(cls.port, ADMIN, "agent", cls.me)
        cls.ids = {"id": cls.cid, "agent_id": cls.me, "code": "done", "number": cls.number,
                   "campaign_id": cls.cid}
        cls.routes = route_table()
        # The agents' own tokens act on them below; the state service must
        # know them first (a delay there is CrudTest's to report).
        for aid in (cls.me, cls.other):
            harness.wait_for(lambda: c.post(f"{V1}/agents/{aid}/state",
                                            {"state": "offline"}).status == 200,
                             10, what=f"agent {aid} known")

    def concrete(self, path):
        ids = dict(self.ids)
        if path.startswith(V1 + "/tokens/"):
            ids["id"] = self.sup_id
        elif path.startswith(V1 + "/agents/"):
            ids["id"] = self.me
        elif path.startswith(V1 + "/calls/"):
            ids["id"] = "wd-call-00000000"
        return fill(path, ids)

    def body_for(self, method, path):
        return {} if method in ("POST", "PATCH") else None

    def ws_status(self, token):
        import websocket
        try:
            ws = api.ws_connect(self.port, token)
        except websocket.WebSocketBadStatusException as e:
            if e.status_code == 401:
                headers = {k.lower(): v for k, v in (e.resp_headers or {}).items()}
                self.assertTrue(headers.get("www-authenticate", "").startswith("Bearer"),
                                e.resp_headers)
            return e.status_code
        ws.close()
        return 101

    def test_routes_match_the_spec(self):
        spec_ops = {(m, t) for (m, t) in api.apispec.spec().operations}
        served = {(m, p) for m, p, _ in self.routes}
        self.assertEqual(served - spec_ops, set(), "routes missing from the spec")
        self.assertEqual({op for op in spec_ops if op[1].startswith(V1)} - served, set(),
                         "spec operations not served")

    def test_no_token_and_garbage_token(self):
        for method, path, role in self.routes:
            if role == "none" or path == V1 + "/events":
                continue
            p = self.concrete(path)
            with self.subTest(method=method, path=p):
                before = counts()
                r = api.request(self.port, method, p, self.body_for(method, path))
                self.assertProblem(r, 401, "unauthorized")
                self.assertTrue(r.headers.get("www-authenticate", "").startswith("Bearer"),
                                r.headers)
                r = api.request(self.port, method, p, self.body_for(method, path),
                                token=GARBAGE)
                self.assertProblem(r, 401, "unauthorized")
                self.assertTrue(r.headers.get("www-authenticate", "").startswith("Bearer"))
                r = api.request(self.port, method, p, self.body_for(method, path),
                                headers={"Authorization": "Basic " + ADMIN})
                self.assertProblem(r, 401, "unauthorized")
                self.assertEqual(counts(), before)
        self.assertEqual(self.ws_status(None), 401)
        self.assertEqual(self.ws_status(GARBAGE), 401)
        self.assertEqual(self.ws_status(self.agent_tok), 101)

    def test_roles_too_low(self):
        for method, path, role in self.routes:
            p = self.concrete(path)
            lower = {"admin": [self.sup, self.agent_tok], "supervisor": [self.agent_tok]}
            for token in lower.get(role, []):
                with self.subTest(method=method, path=p, role=role,
                                  token="supervisor" if token == self.sup else "agent"):
                    before = counts()
                    r = api.request(self.port, method, p, self.body_for(method, path),
                                    token=token)
                    self.assertProblem(r, 403, "forbidden")
                    self.assertEqual(counts(), before)

    def test_agent_token_self_only(self):
        own = self.client(self.agent_tok)
        for aid, status in ((self.other, 403), (self.me, 200)):
            with self.subTest(agent=aid):
                r = own.get(f"{V1}/agents/{aid}")
                self.assertEqual(r.status, status, r.raw)
                r = own.post(f"{V1}/agents/{aid}/state", {"state": "paused",
                                                          "reason": "x"})
                self.assertEqual(r.status, status, r.raw)
                if status == 403:
                    self.assertProblem(r, 403, "forbidden")
        self.assertEqual(harness.sql(f"SELECT id, state FROM agents WHERE id IN"
                                     f" ({self.me}, {self.other}) ORDER BY id"),
                         [[str(self.me), "paused"], [str(self.other), "offline"]])
        self.assertEqual(own.ok("GET", f"{V1}/agents/{self.me}")["id"], self.me)
        own.ok("POST", f"{V1}/agents/{self.me}/state", {"state": "offline"})

    def test_no_auth_routes_and_revoked(self):
        r = api.request(self.port, "GET", "/healthz")
        self.assertEqual(r.status, 200, r.raw)
        r = api.request(self.port, "GET", "/metrics")
        self.assertEqual(r.status, 200, r.raw)
        tid, tok = api.make_token(self.port, ADMIN, "admin")
        self.assertEqual(self.client(tok).get(V1 + "/tokens").status, 200)
        self.c.ok("DELETE", f"{V1}/tokens/{tid}", expect=204)
        r = self.client(tok).get(V1 + "/tokens")
        self.assertProblem(r, 401, "unauthorized")
        self.assertEqual(self.ws_status(tok), 401)


class BadInputTest(ApiCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cid = cls.c.ok("POST", V1 + "/campaigns", {"name": unique("bad")}, expect=201)["id"]
        cls.aid = cls.c.ok("POST", V1 + "/agents", {"name": "bad"}, expect=201)["id"]
        cls.number = did_number()
        cls.c.ok("POST", V1 + "/dids", {"number": cls.number}, expect=201)

    def rows(self):
        c, a = f"{V1}/campaigns", f"{V1}/agents"
        mem = f"{c}/{self.cid}/agents"
        disp = f"{c}/{self.cid}/dispositions"
        big = '{"name": "' + "x" * (2 * 1024 * 1024) + '"}'
        ok = {"name": "fine"}
        table = [
            # (method, path, body or raw, headers, status, slug, errors' field)
            ("POST", c, {"raw": '{"name": "x",'}, None, 400, "invalid-json", None),
            ("POST", c, {"raw": "not json"}, None, 400, "invalid-json", None),
            ("POST", c, {"raw": '[{"name": "x"}]'}, None, 400, "invalid-json", None),
            ("POST", c, {"raw": '"name"'}, None, 400, "invalid-json", None),
            ("POST", c, {"raw": ""}, None, 400, "invalid-json", None),
            ("POST", c, {"raw": '{"name": "a", "name": "b"}'}, None, 400, "invalid-json",
             None),
            ("POST", c, {"name": 5}, None, 422, "invalid-body", "name"),
            ("POST", c, {"name": None}, None, 422, "invalid-body", "name"),
            ("POST", c, dict(ok, ring_timeout="5"), None, 422, "invalid-body", "ring_timeout"),
            ("POST", c, dict(ok, ring_timeout=1.5), None, 422, "invalid-body", "ring_timeout"),
            ("POST", c, dict(ok, ring_timeout=True), None, 422, "invalid-body", "ring_timeout"),
            ("POST", c, dict(ok, ring_timeout=None), None, 422, "invalid-body", "ring_timeout"),
            ("POST", c, dict(ok, caller_id=5), None, 422, "invalid-body", "caller_id"),
            ("POST", c, dict(ok, max_wait_time="10"), None, 422, "invalid-body",
             "max_wait_time"),
            ("POST", c, dict(ok, allowed_prefixes="123"), None, 422, "invalid-body",
             "allowed_prefixes"),
            ("POST", c, dict(ok, allowed_prefixes=[1]), None, 422, "invalid-body",
             "allowed_prefixes"),
            ("POST", c, dict(ok, allowed_prefixes=["12a"]), None, 422, "invalid-body",
             "allowed_prefixes"),
            ("POST", c, dict(ok, skill_requirements=[]), None, 422, "invalid-body",
             "skill_requirements"),
            ("POST", c, dict(ok, skill_requirements={"es": "5"}), None, 422, "invalid-body",
             "skill_requirements"),
            ("POST", c, dict(ok, strategy=3), None, 422, "invalid-body", "strategy"),
            ("POST", c, dict(ok, bogus=1), None, 422, "invalid-body", "bogus"),
            ("POST", c, dict(ok, id=77), None, 422, "invalid-body", "id"),
            ("POST", c, {}, None, 422, "invalid-body", "name"),
            ("POST", c, {"strategy": "linear"}, None, 422, "invalid-body", "name"),
            ("POST", c, dict(ok, ring_timeout=0), None, 422, "invalid-body", "ring_timeout"),
            ("POST", c, dict(ok, retry_delay=-1), None, 422, "invalid-body", "retry_delay"),
            ("POST", c, dict(ok, max_wait_time=0), None, 422, "invalid-body",
             "max_wait_time"),
            ("POST", c, dict(ok, service_level_seconds=0), None, 422, "invalid-body",
             "service_level_seconds"),
            # Past int64 the JSON parser itself refuses the number.
            ("POST", c, dict(ok, ring_timeout=2**63), None, 400, "invalid-json", None),
            ("POST", c, dict(ok, ring_timeout=2**62), None, 422, "invalid-body",
             "ring_timeout"),
            ("POST", c, dict(ok, skill_requirements={"es": 11}), None, 422, "invalid-body",
             "skill_requirements"),
            ("POST", c, dict(ok, strategy="fifo"), None, 422, "invalid-body", "strategy"),
            ("POST", c, dict(ok, no_agents_action="voicemail"), None, 422, "invalid-body",
             "no_agents_action"),
            ("POST", c, dict(ok, dial_template="PJSIP/x@trunk"), None, 422, "invalid-body",
             "dial_template"),
            # The class goes into an ARI query as it is.
            ("POST", c, dict(ok, moh_class="jazz&mohClass=x"), None, 422, "invalid-body",
             "moh_class"),
            ("POST", c, dict(ok, moh_class="two words"), None, 422, "invalid-body",
             "moh_class"),
            ("POST", c, {"name": ""}, None, 422, "invalid-body", "name"),
            ("POST", c, {"name": "x" * 101}, None, 422, "invalid-body", "name"),
            ("POST", c, {"name": "a\u0000b"}, None, 422, "invalid-body", "name"),
            ("POST", c, {"raw": big}, None, 413, "body-too-large", None),
            ("POST", c, {"raw": '{"name": "plain"}'}, {"Content-Type": "text/plain"}, 415,
             "unsupported-media-type", None),
            ("PATCH", f"{c}/{self.cid}", {"ring_timeout": 0}, None, 422, "invalid-body",
             "ring_timeout"),
            ("PATCH", f"{c}/{self.cid}", {"name": None}, None, 422, "invalid-body", "name"),
            ("PATCH", f"{c}/{self.cid}", {"raw": "[]"}, None, 400, "invalid-json", None),
            ("PATCH", f"{c}/{self.cid}", {"overflow_campaign_id": 9_000_000_000}, None, 422,
             "invalid-body", "overflow_campaign_id"),
            ("POST", mem, {"agent_id": self.aid, "penalty": -1}, None, 422, "invalid-body",
             "penalty"),
            ("POST", mem, {"agent_id": self.aid, "skills": {"es": 11}}, None, 422,
             "invalid-body", "skills"),
            ("POST", mem, {"agent_id": self.aid, "skills": {"es": -1}}, None, 422,
             "invalid-body", "skills"),
            ("POST", mem, {"penalty": 1}, None, 422, "invalid-body", "agent_id"),
            ("POST", mem, {"agent_id": "1"}, None, 422, "invalid-body", "agent_id"),
            ("POST", disp, {"code": "Bad Code", "label": "x"}, None, 422, "invalid-body",
             "code"),
            ("POST", disp, {"code": "x" * 41, "label": "x"}, None, 422, "invalid-body", "code"),
            ("POST", disp, {"code": "ok", "label": "x", "is_sale": "yes"}, None, 422,
             "invalid-body", "is_sale"),
            ("POST", f"{V1}/dids", {"number": "12"}, None, 422, "invalid-body", "number"),
            ("POST", f"{V1}/dids", {"number": "12a45"}, None, 422, "invalid-body", "number"),
            ("POST", f"{V1}/dids", {"number": "1" * 21}, None, 422, "invalid-body", "number"),
            ("POST", f"{V1}/dids", {"number": 5551234}, None, 422, "invalid-body", "number"),
            ("POST", f"{V1}/dids", {"number": "5559876", "campaign_id": 9_000_000_000}, None,
             422, "invalid-body", "campaign_id"),
            ("PATCH", f"{V1}/dids/{self.number}", {"number": "5550000"}, None, 422,
             "invalid-body", "number"),
            ("POST", a, {}, None, 422, "invalid-body", "name"),
            ("POST", a, {"name": "x", "sip_username": "AB"}, None, 422, "invalid-body",
             "sip_username"),
            ("POST", a, {"name": "x", "sip_username": "a b; drop"}, None, 422, "invalid-body",
             "sip_username"),
            ("POST", a, {"name": "x", "sip_password": "mine"}, None, 422, "invalid-body",
             "sip_password"),
            ("POST", a, {"name": "x", "external_user_id": 7}, None, 422, "invalid-body",
             "external_user_id"),
            ("PATCH", f"{a}/{self.aid}", {"state": "available"}, None, 422, "invalid-body",
             "state"),
            ("POST", f"{a}/{self.aid}/state", {"state": "ringing"}, None, 422,
             "invalid-body", "state"),
            ("POST", f"{a}/{self.aid}/state", {}, None, 422, "invalid-body", "state"),
            ("POST", f"{a}/{self.aid}/state", {"state": "paused", "reason": "r" * 101},
             None, 422, "invalid-body", "reason"),
            ("POST", f"{V1}/tokens", {"role": "root"}, None, 422, "invalid-body", "role"),
            ("POST", f"{V1}/tokens", {"role": "admin", "name": "x"}, None, 422,
             "invalid-body", "name"),
            ("POST", f"{V1}/tokens", {"role": "admin", "agent_id": self.aid}, None, 422,
             "invalid-body", "agent_id"),
            # Paths: SQL in ids, bad ids, unknown routes, other methods.
            # ";params" stay in the path segment: the id is refused (or a
            # campaign 1 read); either way nothing else runs.
            ("GET", f"{c}/1;DROP%20TABLE%20campaigns", None, None, (200, 400, 404), None,
             None),
            ("DELETE", f"{c}/1%20OR%201=1", None, None, 400, "bad-request", None),
            ("GET", f"{V1}/dids/'or'1'='1", None, None, (400, 404), None, None),
            ("DELETE", f"{V1}/dids/'or'1'='1", None, None, (400, 404), None, None),
            ("GET", f"{c}/abc", None, None, 400, "bad-request", None),
            ("GET", f"{c}/0", None, None, 400, "bad-request", None),
            ("GET", f"{c}/-1", None, None, 400, "bad-request", None),
            ("GET", f"{c}/1.5", None, None, 400, "bad-request", None),
            # Digits past int64: well formed, and no such row can exist.
            ("GET", f"{c}/99999999999999999999", None, None, 404, "not-found", None),
            ("GET", f"{c}/9223372036854775807", None, None, 404, "not-found", None),
            ("GET", f"{a}/9223372036854775807", None, None, 404, "not-found", None),
            ("GET", f"{a}/abc", None, None, 400, "bad-request", None),
            ("DELETE", f"{V1}/tokens/abc", None, None, 400, "bad-request", None),
            ("DELETE", f"{V1}/tokens/9223372036854775807", None, None, 404, "not-found", None),
            ("GET", f"{V1}/dids/99999999", None, None, 404, "not-found", None),
            ("GET", f"{V1}/nothing", None, None, 404, "not-found", None),
            ("GET", "/api/v2/campaigns", None, None, 404, "not-found", None),
            ("GET", f"{c}/{self.cid}/nothing", None, None, 404, "not-found", None),
            ("PUT", c, {"name": "x"}, None, 405, "method-not-allowed", None),
            ("DELETE", c, None, None, 405, "method-not-allowed", None),
            ("PATCH", f"{V1}/tokens", {}, None, 405, "method-not-allowed", None),
            # Query parameters.
            ("GET", f"{c}?limit=0", None, None, 400, "bad-request", None),
            ("GET", f"{c}?limit=501", None, None, 400, "bad-request", None),
            ("GET", f"{c}?limit=1000", None, None, 400, "bad-request", None),
            ("GET", f"{c}?limit=abc", None, None, 400, "bad-request", None),
            ("GET", f"{c}?limit=-1", None, None, 400, "bad-request", None),
            ("GET", f"{c}?cursor=garbage", None, None, 400, "bad-request", None),
            ("GET", f"{V1}/dids?cursor=%01%02", None, None, (200, 400), None, None),
            ("GET", f"{a}?limit=0", None, None, 400, "bad-request", None),
            ("GET", f"{a}?cursor=garbage", None, None, 400, "bad-request", None),
            ("GET", f"{V1}/tokens?limit=abc", None, None, 400, "bad-request", None),
            # Bytes that are not UTF-8 text in a path or a query are a 400
            # before any handler or query (issue 14); a valid id cut to a
            # length (64 bytes) inside a character still gets a problem body.
            ("GET", f"{c}/%ff", None, None, 400, "bad-request", None),
            ("GET", f"{a}/%ff", None, None, 400, "bad-request", None),
            ("GET", f"{V1}/queues/%ff", None, None, 400, "bad-request", None),
            ("DELETE", f"{V1}/tokens/%ff", None, None, 400, "bad-request", None),
            ("GET", f"{c}/%C3", None, None, 400, "bad-request", None),
            ("GET", f"{c}?cursor=%ff", None, None, 400, "bad-request", None),
            ("GET", f"{V1}/leads?campaign_id={self.cid}&status=%ff", None, None, 400,
             "bad-request", None),
            ("GET", f"{a}/{'x' * 63}%C3%A9", None, None, (400, 404), None, None),
            ("GET", f"{V1}/calls/{'x' * 63}%C3%A9", None, None, (400, 404), None, None),
        ]
        return table

    def test_table(self):
        for method, path, body, headers, status, slug, field in self.rows():
            label = (json.dumps(body)[:80] if body is not None else "")
            with self.subTest(method=method, path=path, body=label):
                before = counts()
                raw = body.get("raw") if isinstance(body, dict) and "raw" in body else None
                r = self.c.request(method, path, None if raw is not None else body,
                                   raw=raw, headers=headers)
                statuses = status if isinstance(status, tuple) else (status,)
                self.assertIn(r.status, statuses, r.raw[:300])
                if slug:
                    self.assertProblem(r, r.status, slug)
                elif r.status < 400:
                    pass
                else:
                    self.assertTrue(r.headers.get("content-type", "").startswith(
                        "application/problem+json"))
                if r.status == 405:
                    allow = {m.strip() for m in r.headers.get("allow", "").split(",")}
                    self.assertTrue(allow and method not in allow, r.headers)
                    self.assertIn("GET", allow)
                if field:
                    fields = [e["field"] for e in r.body.get("errors", [])]
                    self.assertIn(field, fields, r.body)
                self.assertEqual(counts(), before, "nothing changed")
        self.assertTrue(self.daemon.alive())
        self.assertEqual(api.request(self.port, "GET", "/healthz").status, 200)

    def raw_exchange(self, data):
        """Sends data as is on a new connection; returns (status, headers,
        body) of what the server answers before it closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(data)
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        head, _, body = got.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.assertRegex(lines[0], r"^HTTP/1\.1 \d{3} ", got[:300])
        headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
        return int(lines[0].split(" ")[1]), headers, body

    def test_http_edge(self):
        """What the HTTP edge once hung up on, answered with an HTML 403 or
        served (issue 14, item 6) gets its status and a problem body."""
        host = b"Host: x\r\n"
        auth = f"Authorization: Bearer {api.ADMIN_TOKEN}\r\n".encode()
        many = "&".join(["a=1"] * 200)
        cases = [
            (b"GET /healthz HTTP/1.1\r\n" + host + b"X-Big: " + b"h" * 9000 + b"\r\n\r\n",
             431, "header-fields-too-large"),
            (b"GET /" + b"u" * 9000 + b" HTTP/1.1\r\n" + host + b"\r\n", 414, "uri-too-long"),
            (f"GET {V1}/campaigns?{many} HTTP/1.1\r\n".encode() + host + auth + b"\r\n",
             414, "uri-too-long"),
            (f"GET {V1}/campaigns%00 HTTP/1.1\r\n".encode() + host + auth + b"\r\n",
             400, "bad-request"),
            (b"GET /healthz HTTP/1.1\r\n" + host + b"X-A: a\r\n b\r\n\r\n", 400,
             "bad-request"),
            (b"GET /healthz HTTP/1.1\r\n" + host + b"X-A: a\x00b\r\n\r\n", 400, "bad-request"),
            (b"CONNECT x:443 HTTP/1.1\r\n" + host + b"\r\n", 501, "not-implemented"),
            (b"TRACE /healthz HTTP/1.1\r\n" + host + b"\r\n", 501, "not-implemented"),
            (b"OPTIONS * HTTP/1.1\r\n" + host + b"\r\n", 501, "not-implemented"),
            (b"GET /healthz%0aHTTP/1.1 HTTP/1.1\r\n" + host + b"\r\n", 400, "bad-request"),
            (f"POST {V1}/campaigns%0d%0aX-Inj:%201 HTTP/1.1\r\n".encode() + host + auth +
             b"Content-Type: application/json\r\nContent-Length: 15\r\n\r\n"
             b'{"name": "inj"}', 400, "bad-request"),
        ]
        for data, status, slug in cases:
            with self.subTest(request=data[:60]):
                before = counts()
                got, headers, body = self.raw_exchange(data)
                self.assertEqual(got, status, body[:300])
                self.assertEqual(headers.get("content-type"), "application/problem+json")
                problem = json.loads(body)
                self.assertEqual((problem["status"], problem["type"]),
                                 (status, "urn:welcomedly:problem:" + slug))
                if status == 501:
                    self.assertIn("GET", headers.get("allow", ""))
                self.assertEqual(counts(), before, "nothing changed")
        self.assertTrue(self.daemon.alive())

    def test_allow_headers(self):
        def allow(r):
            self.assertProblem(r, 405, "method-not-allowed")
            return {m.strip() for m in r.headers["allow"].split(",")}
        self.assertEqual(allow(self.c.request("PUT", f"{V1}/campaigns", {})), {"GET", "POST"})
        self.assertEqual(allow(self.c.request("POST", f"{V1}/campaigns/{self.cid}", {})),
                         {"GET", "PATCH", "DELETE"})
        self.assertEqual(allow(self.c.request("DELETE", f"{V1}/tokens")), {"GET", "POST"})
        # A PUT without Content-Length is refused at once (411) rather than
        # left waiting for a body that never comes.
        before = counts()
        r = self.c.request("PUT", f"{V1}/campaigns")
        self.assertProblem(r, 411, "length-required")
        self.assertEqual(counts(), before)

    def test_sql_metacharacters_and_unicode_stored_verbatim(self):
        tables = {r[0] for r in harness.sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        for name in ("O'Brien \"quoted\" ; DROP TABLE campaigns; --",
                     "Café 東京 😀 \\ back\\slash", "'); DELETE FROM agents; --"):
            with self.subTest(name=name):
                got = self.c.ok("POST", V1 + "/campaigns", {"name": name}, expect=201)
                self.assertEqual(got["name"], name)
                self.assertEqual(self.c.ok("GET", f"{V1}/campaigns/{got['id']}")["name"], name)
                self.assertEqual(harness.sql(f"SELECT name FROM campaigns"
                                             f" WHERE id = {got['id']}"), [[name]])
                ag = self.c.ok("POST", V1 + "/agents", {"name": name,
                                                        "external_user_id": name},
                               expect=201)
                self.assertEqual((ag["name"], ag["external_user_id"]), (name, name))
                self.assertEqual(self.c.ok("GET", f"{V1}/agents/{ag['id']}")["name"], name)
        self.assertEqual({r[0] for r in harness.sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}, tables)
        self.assertGreater(count("agents"), 0)

    def test_zz_daemon_log_clean(self):
        self.assertTrue(self.daemon.alive())
        self.assertEqual(api.request(self.port, "GET", "/healthz").status, 200)
        # Log lines are "<time> <level> <text>"; a crash or a refused
        # request logged as an error both count.
        bad = [line for line in self.daemon.log().splitlines()
               if re.match(r"\S+ (error|crit|alert|emerg)\b", line)
               or re.search(r"ERROR|AddressSanitizer|runtime error|Segmentation|Aborted|"
                            r"assertion|double free|panic", line)]
        self.assertEqual(bad, [], self.daemon.log_path)


class MetricsTest(ApiCase):
    FAMILIES = {"welcomedly_calls_total": "counter", "welcomedly_queue_waiting": "gauge",
                "welcomedly_agents": "gauge", "welcomedly_ari_reconnects_total": "counter",
                "welcomedly_ari_rest_duration_seconds": "histogram",
                "welcomedly_event_loop_lag_seconds": "gauge",
                "welcomedly_cdr_journal_bytes": "gauge",
                "welcomedly_journal_pending_records": "gauge",
                "welcomedly_http_requests_total": "counter"}

    def scrape(self):
        from prometheus_client.parser import text_string_to_metric_families
        r = api.request(self.port, "GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/plain; version=0.0.4"),
                        r.headers)
        text = r.raw.decode()
        return text, {f.name: f for f in text_string_to_metric_families(text)}

    def sample(self, families, family, sample_name, **labels):
        for s in families[family].samples:
            if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        return None

    def test_families_present(self):
        text, fams = self.scrape()
        for name, kind in self.FAMILIES.items():
            with self.subTest(family=name):
                # prometheus_client names a counter's family without _total.
                base = name[:-6] if kind == "counter" else name
                self.assertIn(f"# TYPE {name} {kind}", text)
                self.assertIn(base, fams)
                self.assertEqual(fams[base].type, kind)
        buckets = [s for s in fams["welcomedly_ari_rest_duration_seconds"].samples
                   if s.name.endswith("_bucket")]
        self.assertTrue(any(s.labels.get("le") == "+Inf" for s in buckets), buckets)

    def test_http_requests_grow(self):
        _, fams = self.scrape()
        before = self.sample(fams, "welcomedly_http_requests", "welcomedly_http_requests_total",
                             code="404") or 0
        before200 = self.sample(fams, "welcomedly_http_requests",
                                "welcomedly_http_requests_total", code="200") or 0
        for _ in range(3):
            self.assertEqual(self.c.get(V1 + "/nothing").status, 404)
        self.c.ok("GET", V1 + "/campaigns")
        _, fams = self.scrape()
        after = self.sample(fams, "welcomedly_http_requests", "welcomedly_http_requests_total",
                            code="404")
        after200 = self.sample(fams, "welcomedly_http_requests",
                               "welcomedly_http_requests_total", code="200")
        self.assertEqual(after - before, 3)
        # The campaigns list and the scrape before this one.
        self.assertGreaterEqual(after200 - before200, 2)

    def test_agents_by_state(self):
        ids = [self.c.ok("POST", V1 + "/agents", {"name": unique("m")}, expect=201)["id"]
               for _ in range(3)]
        for aid in ids[:2]:
            self.set_state(aid, "available")
        self.set_state(ids[2], "paused", "x")

        def matches():
            _, fams = self.scrape()
            want = {s: count("agents", f"state = '{s}'") for s in ("available", "paused",
                                                                   "offline")}
            got = {s: self.sample(fams, "welcomedly_agents", "welcomedly_agents", state=s)
                   for s in want}
            return got == want and want["available"] >= 2
        harness.wait_for(matches, 5, what="welcomedly_agents equal to the agents table")
        for aid in ids:
            self.c.ok("POST", f"{V1}/agents/{aid}/state", {"state": "offline"})


class SlowClientTest(ApiCase):
    """Slowloris (issue 14): 256 connections sending their headers slowly
    used to fill the connection cap, and every request, /healthz included,
    got 503 until the server dropped them."""

    SLOW = 260
    HEAD = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"

    def slow_sockets(self, n):
        socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            s.sendall(self.HEAD)
            socks.append(s)
        self.addCleanup(lambda: [s.close() for s in socks])
        return socks

    def test_api_served_while_one_address_holds_slow_heads(self):
        socks = self.slow_sockets(self.SLOW)
        self.assertEqual(api.request(self.port, "GET", "/healthz").status, 200)
        self.assertEqual(api.request(self.port, "GET", "/metrics").status, 200)
        self.c.ok("GET", V1 + "/campaigns")
        # The slow ones get a 408 problem once the header timeout is over.
        socks[0].settimeout(10)
        got = b""
        while b"\r\n\r\n" not in got or not got.endswith(b"}"):
            chunk = socks[0].recv(4096)
            if not chunk:
                break
            got += chunk
        self.assertRegex(got, rb"^HTTP/1\.1 408 ")
        body = json.loads(got.partition(b"\r\n\r\n")[2])
        self.assertEqual((body["status"], body["type"]),
                         (408, "urn:welcomedly:problem:request-timeout"))


class ZHealthTest(ApiCase):
    """Last (classes run by name): it stops and restarts the sandbox's Asterisk."""

    def health(self):
        r = api.request(self.port, "GET", "/healthz")
        return r.status, r.body

    def test_healthz_follows_asterisk(self):
        status, body = self.health()
        self.assertEqual(status, 200)
        self.assertEqual((body["status"], body["ari"], body["database"]),
                         ("ok", "up", "up"))
        self.assertTrue(body["version"])
        try:
            harness.asterisk_stop()
            harness.wait_for(lambda: self.health()[0] == 503, 10,
                             what="/healthz 503 while Asterisk is down")
            status, body = self.health()
            self.assertEqual((body["status"], body["ari"], body["database"]),
                             ("unavailable", "down", "up"))
            # The API still answers what needs no ARI.
            self.c.ok("GET", V1 + "/campaigns")
        finally:
            harness.asterisk_start()
        harness.wait_for(lambda: self.health()[0] == 200, 30,
                         what="/healthz 200 once Asterisk is back")
        self.assertEqual(self.health()[1]["status"], "ok")
        harness.wait_for(harness.app_registered, 10, what="the application registered again")


def sip_register_ws(user, password, expires=60):
    """REGISTERs user over Asterisk's WebSocket transport (/ws, subprotocol
    "sip") as a browser does, answering the digest challenge with password.
    Returns (final status code, the open socket) - close it to unregister:
    Asterisk drops a WebSocket contact with its socket."""
    import hashlib
    import websocket
    ws = websocket.create_connection(f"ws://127.0.0.1:{harness.ARI_PORT}/ws",
                                     subprotocols=["sip"], timeout=5)
    call_id, tag = uuid.uuid4().hex, uuid.uuid4().hex[:10]
    uri = "sip:127.0.0.1"

    def send(cseq, auth=None):
        lines = [f"REGISTER {uri} SIP/2.0",
                 f"Via: SIP/2.0/WS wd.invalid;branch=z9hG4bK{uuid.uuid4().hex[:16]}",
                 "Max-Forwards: 70",
                 f"From: <sip:{user}@127.0.0.1>;tag={tag}",
                 f"To: <sip:{user}@127.0.0.1>",
                 f"Call-ID: {call_id}", f"CSeq: {cseq} REGISTER",
                 f"Contact: <sip:{user}@wd.invalid;transport=ws>;expires={expires}",
                 f"Expires: {expires}"]
        if auth:
            lines.append("Authorization: " + auth)
        ws.send("\r\n".join(lines + ["Content-Length: 0", "", ""]))
        while True:
            text = ws.recv()
            status = int(text.split(" ", 2)[1])
            if status >= 200:
                return status, text

    status, text = send(1)
    if status != 401:
        return status, ws
    challenge = next(line.split(":", 1)[1].strip() for line in text.split("\r\n")
                     if line.lower().startswith("www-authenticate:")
                     and "SHA-256" not in line)
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    md5 = lambda t: hashlib.md5(t.encode()).hexdigest()  # noqa: E731
    ha1 = md5(f"{user}:{fields['realm']}:{password}")
    ha2 = md5(f"REGISTER:{uri}")
    cnonce, nc = uuid.uuid4().hex[:8], "00000001"
    response = md5(f"{ha1}:{fields['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    auth = (f'Digest username="{user}", realm="{fields["realm"]}", nonce="{fields["nonce"]}",'
            f' uri="{uri}", response="{response}", algorithm=MD5, qop=auth, nc={nc},'
            f' cnonce="{cnonce}"' + (f', opaque="{fields["opaque"]}"' if "opaque" in fields
                                     else ""))
    status, _ = send(2, auth)
    return status, ws


class WebrtcTest(ApiCase):
    """Browser agents: their WebRTC endpoints, the registration settings of
    GET /agents/{id}/webrtc checked against the real Asterisk (a REGISTER
    over its WebSocket transport), TURN REST credentials, switching a phone's
    kind, GET /me, an agent's leads, and the pages served from PAGES_DIR."""

    SECRET = "s3cret-for-coturn"
    env = {"TURN_SECRET": SECRET, "TURN_TTL": "600",
           "STUN_SERVER": "stun:192.0.2.1:3478",
           "TURN_SERVER": "turn:192.0.2.1:3478?transport=udp,turns:192.0.2.1:443?transport=tcp",
           "ASTERISK_SIP_DOMAIN": "pbx.example.com"}

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.pages = tempfile.mkdtemp(prefix="wd-pages-")
        for rel, text in (("agent/index.html", "<!doctype html><title>agent</title>"),
                          ("common/api.js", "export const x = 1;\n"),
                          ("agent/.hidden.js", "no"), ("agent/notes.bin", "no")):
            os.makedirs(os.path.dirname(os.path.join(cls.pages, rel)), exist_ok=True)
            with open(os.path.join(cls.pages, rel), "w") as f:
                f.write(text)
        with open(os.path.join(os.path.dirname(cls.pages), "wd-outside.js"), "w") as f:
            f.write("OUTSIDE-THE-TREE")
        cls.env = dict(cls.env, PAGES_DIR=cls.pages)
        super().setUpClass()

    def settings(self, aid, client=None, expect=200):
        r = (client or self.c).get(f"{V1}/agents/{aid}/webrtc")
        self.assertEqual(r.status, expect, r.raw[:400])
        return r.body

    def endpoint(self, user):
        return harness.sql("SELECT transport, webrtc, allow, coalesce(dtls_auto_generate_cert,"
                           f" '-') FROM ps_endpoints WHERE id = '{user}'")

    def test_webrtc_agent_registers_with_rotated_password(self):
        import base64
        import hashlib
        import hmac
        ag = self.agent(webrtc=True)
        aid, user = ag["id"], ag["sip_username"]
        self.assertIs(ag["webrtc"], True)
        self.assertEqual(self.endpoint(user), [["transport-ws", "yes", "opus,ulaw,alaw", "yes"]])
        self.assertEqual(harness.sql(f"SELECT max_contacts, remove_existing FROM ps_aors"
                                     f" WHERE id = '{user}'"), [["1", "yes"]])
        before = time.time()
        s = self.settings(aid)
        self.assertEqual(s["ws_url"], f"ws://127.0.0.1:{harness.ARI_PORT}/ws")
        self.assertEqual(s["sip_uri"], f"sip:{user}@pbx.example.com")
        self.assertEqual((s["authorization_username"], s["display_name"]), (user, ag["name"]))
        stun, turn = s["ice_servers"]
        self.assertEqual(stun, {"urls": ["stun:192.0.2.1:3478"]})
        self.assertEqual(turn["urls"], ["turn:192.0.2.1:3478?transport=udp",
                                        "turns:192.0.2.1:443?transport=tcp"])
        expiry, who = turn["username"].split(":")
        self.assertEqual(who, str(aid))
        self.assertLessEqual(abs(int(expiry) - (before + 600)), 5)
        mac = hmac.new(self.SECRET.encode(), turn["username"].encode(), hashlib.sha1)
        self.assertEqual(turn["credential"], base64.b64encode(mac.digest()).decode())
        self.assertEqual(harness.sql(f"SELECT password FROM ps_auths WHERE id = '{user}'"),
                         [[s["authorization_password"]]])

        # The real Asterisk takes the handed-out password over its WebSocket
        # transport, and refuses the one from before the next login.
        status, ws = sip_register_ws(user, s["authorization_password"])
        self.assertEqual(status, 200)
        harness.wait_for(lambda: self.c.ok("GET", f"{V1}/agents/{aid}")["registration"]
                         == "registered", 10, what="the browser agent registered")
        ws.close()
        again = self.settings(aid)
        self.assertNotEqual(again["authorization_password"], s["authorization_password"])
        status, ws = sip_register_ws(user, s["authorization_password"])
        ws.close()
        self.assertIn(status, (401, 403), "the previous password must stop working")
        status, ws = sip_register_ws(user, again["authorization_password"])
        ws.close()
        self.assertEqual(status, 200)
        self.assertProblem(self.c.get(f"{V1}/agents/999999/webrtc"), 404, "not-found")

    def test_who_may_read_the_settings(self):
        mine = self.agent(webrtc=True)["id"]
        other = self.agent(webrtc=True)["id"]
        sip = self.agent()["id"]
        _, tok = api.make_token(self.port, ADMIN, "agent", mine)
        _, sup = api.make_token(self.port, ADMIN, "supervisor")
        self.settings(mine, self.client(tok))
        self.settings(mine, self.client(sup))
        self.assertProblem(self.client(tok).get(f"{V1}/agents/{other}/webrtc"), 403,
                           "forbidden")
        self.assertProblem(self.c.get(f"{V1}/agents/{sip}/webrtc"), 409, "conflict")
        self.assertEqual(self.client(tok).ok("GET", V1 + "/me"),
                         {"role": "agent", "agent_id": mine,
                          "token_id": self.client(tok).ok("GET", V1 + "/me")["token_id"]})
        self.assertEqual(self.client(sup).ok("GET", V1 + "/me")["role"], "supervisor")
        self.assertEqual(self.c.ok("GET", V1 + "/me"),
                         {"role": "admin", "agent_id": None, "token_id": None})

    def test_switching_the_phone_keeps_the_agent(self):
        ag = self.agent()
        aid, user = ag["id"], ag["sip_username"]
        cid = self.campaign()["id"]
        self.c.ok("POST", f"{V1}/campaigns/{cid}/agents", {"agent_id": aid}, expect=201)
        self.assertEqual(self.endpoint(user), [["transport-udp", "no", "ulaw,alaw", "-"]])
        harness.sql(f"INSERT INTO ps_contacts (id, endpoint, uri, expiration_time) VALUES"
                    f" ('{user}^3Bold', '{user}', 'sip:{user}@127.0.0.1:5999', '9999999999')")
        got = self.c.ok("PATCH", f"{V1}/agents/{aid}", {"webrtc": True})
        self.assertEqual((got["id"], got["webrtc"], got["name"]), (aid, True, ag["name"]))
        self.assertEqual(self.endpoint(user), [["transport-ws", "yes", "opus,ulaw,alaw", "yes"]])
        self.assertEqual(count("ps_contacts", f"endpoint = '{user}'"), 0,
                         "the SIP phone's registration goes with the switch")
        self.assertEqual(count("campaign_agents", f"agent_id = {aid}"), 1)
        self.settings(aid)
        got = self.c.ok("PATCH", f"{V1}/agents/{aid}", {"webrtc": False, "name": "Renamed"})
        self.assertEqual((got["webrtc"], got["name"]), (False, "Renamed"))
        self.assertEqual(self.endpoint(user), [["transport-udp", "no", "ulaw,alaw", "-"]])
        self.assertProblem(self.c.get(f"{V1}/agents/{aid}/webrtc"), 409, "conflict")
        self.assertIs(self.c.ok("GET", f"{V1}/agents/{aid}")["webrtc"], False)
        r = self.c.patch(f"{V1}/agents/{aid}", {"webrtc": "yes"})
        self.assertProblem(r, 422, "invalid-body")

    def test_agent_lists_the_leads_of_its_campaigns(self):
        aid = self.agent()["id"]
        mine_c = self.campaign()
        mine, theirs = mine_c["id"], self.campaign()["id"]
        self.c.ok("POST", f"{V1}/campaigns/{mine}/agents", {"agent_id": aid}, expect=201)
        for cid, phone in ((mine, "+12025550101"), (theirs, "+12025550102")):
            self.c.ok("POST", f"{V1}/campaigns/{cid}/leads",
                      [{"phone": phone, "name": "L"}], expect=(200, 201))
        _, tok = api.make_token(self.port, ADMIN, "agent", aid)
        seen = self.client(tok).ok("GET", V1 + "/leads")["items"]
        self.assertEqual({(x["campaign_id"], x["campaign_name"], x["phone"]) for x in seen},
                         {(mine, mine_c["name"], "+12025550101")})
        self.assertEqual(self.client(tok).ok("GET", f"{V1}/leads?campaign_id={theirs}")
                         ["items"], [])
        self.assertGreaterEqual(len(self.c.ok("GET", V1 + "/leads")["items"]), 2)

    def test_pages_served_from_memory(self):
        r = api.request(self.port, "GET", "/agent")
        self.assertEqual((r.status, r.headers.get("location")), (308, "/agent/"))
        r = api.request(self.port, "GET", "/")
        self.assertEqual((r.status, r.headers.get("location")), (308, "/agent/"))
        r = api.request(self.port, "GET", "/agent/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.raw, b"<!doctype html><title>agent</title>")
        self.assertTrue(r.headers["content-type"].startswith("text/html"))
        self.assertIn("default-src 'self'", r.headers["content-security-policy"])
        self.assertEqual(r.headers["x-content-type-options"], "nosniff")
        etag = r.headers["etag"]
        r = api.request(self.port, "GET", "/agent/index.html",
                        headers={"If-None-Match": etag})
        self.assertEqual((r.status, r.raw), (304, b""))
        r = api.request(self.port, "GET", "/common/api.js")
        self.assertEqual((r.status, r.headers["content-type"]),
                         (200, "text/javascript; charset=utf-8"))
        r = api.request(self.port, "HEAD", "/common/api.js")
        self.assertEqual((r.status, r.raw), (200, b""))
        for path in ("/agent/.hidden.js", "/agent/notes.bin", "/agent/../../wd-outside.js",
                     "/agent/%2e%2e/%2e%2e/wd-outside.js", "/common/missing.js",
                     "/api/v1/agent/"):
            with self.subTest(path=path):
                r = api.request(self.port, "GET", path)
                self.assertNotEqual(r.status, 200, r.raw[:200])
                self.assertNotIn(b"OUTSIDE-THE-TREE", r.raw)
        self.assertProblem(api.request(self.port, "GET", "/common/missing.js"), 404,
                           "not-found")
        r = api.request(self.port, "POST", "/agent/", {})
        self.assertNotEqual(r.status, 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
