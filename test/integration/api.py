"""Helpers for the admin API's integration tests: a small HTTP client, the
daemon started with its API, tokens of each role and the event feed.

    d, port = api.start_daemon("api", ADMIN)
    c = api.Client(port, ADMIN)
    status, headers, body = c.get("/api/v1/campaigns")

Every JSON response is checked against schemas/openapi.yaml (apispec) by
Client.request unless it is told not to (check=False).
"""

import http.client
import json
import os
import secrets
import select
import socket
import unittest
import urllib.parse

import apispec
import harness

ADMIN_TOKEN = secrets.token_hex(32)

# When a list, responses that differ from the spec are appended here (one
# line each) instead of raising, so that a test can go on checking the
# server's behaviour and report every difference at its end.
spec_errors = None


class Response(tuple):
    """(status, headers, body) where headers is a dict with lower-case
    names and body the parsed JSON (or the raw bytes for other types)."""

    def __new__(cls, status, headers, body, raw):
        self = super().__new__(cls, (status, headers, body))
        self.raw = raw
        return self

    @property
    def status(self):
        return self[0]

    @property
    def headers(self):
        return self[1]

    @property
    def body(self):
        return self[2]


def request(port, method, path, body=None, token=None, headers=None, raw=None,
            check=True, timeout=10):
    """One HTTP request over a fresh connection. body is serialised as JSON
    (unless raw bytes/str are given, sent as they are); token, when set, goes
    into Authorization: Bearer. Returns a Response. With check, the response
    is validated against the spec (AssertionError when it differs)."""
    hdrs = {}
    data = None
    if raw is not None:
        data = raw.encode() if isinstance(raw, str) else raw
        hdrs["Content-Type"] = "application/json"
    elif body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    hdrs.update(headers or {})
    hdrs = {k: v for k, v in hdrs.items() if v is not None}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        # skip_accept_encoding etc. are not needed; putrequest keeps the path
        # verbatim (no quoting) so that odd ids reach the server as written.
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders()
        if data is not None:
            _send_body(conn, data)
        resp = conn.getresponse()
        payload = resp.read()
        rheaders = {k.lower(): v for k, v in resp.getheaders()}
        status = resp.status
    finally:
        conn.close()
    ctype = rheaders.get("content-type", "")
    parsed = payload
    media = ctype.split(";", 1)[0].strip().lower()
    if payload and (media == "application/json" or media.endswith("+json")):
        try:
            parsed = json.loads(payload)
        except ValueError:
            raise AssertionError(f"{method} {path} -> {status}: not JSON: {payload[:200]!r}")
    elif not payload:
        parsed = None
    if check and path.startswith("/api/") and method != "HEAD":
        try:
            apispec.validate(method, path, status,
                             parsed if media.endswith("json") else payload, ctype or None)
        except AssertionError as e:
            if spec_errors is None:
                raise
            spec_errors.append(str(e))
    return Response(status, rheaders, parsed, payload)


def _send_body(conn, data):
    """Sends the body, except when the server has already answered after
    the headers (a 413 by Content-Length): then the answer is read as it is
    instead of racing the server's close with a large upload."""
    if len(data) > 65536:
        ready, _, _ = select.select([conn.sock], [], [], 1.0)
        if ready:
            return
    try:
        conn.send(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


class Client:
    """request() bound to a port and a token."""

    def __init__(self, port, token=None):
        self.port = port
        self.token = token

    def request(self, method, path, body=None, **kw):
        kw.setdefault("token", self.token)
        return request(self.port, method, path, body, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def ok(self, method, path, body=None, expect=(200,), **kw):
        """The request, asserting its status; returns the body."""
        r = self.request(method, path, body, **kw)
        if r.status not in ((expect,) if isinstance(expect, int) else expect):
            raise AssertionError(f"{method} {path} -> {r.status}, expected {expect}: "
                                 f"{r.raw[:400]!r}")
        return r.body


def pages(get, path, most=100):
    """The pages of the list at path, following next_cursor; get(path)
    returns one page. Fails past most pages: a cursor that does not
    advance."""
    cursor = None
    for _ in range(most):
        sep = "&" if "?" in path else "?"
        page = get(path + (f"{sep}cursor={urllib.parse.quote(cursor)}" if cursor else ""))
        yield page
        cursor = page["next_cursor"]
        if cursor is None:
            return
    raise AssertionError(f"{path}: the cursor does not advance in {most} pages")


def api_port(daemon, timeout=15.0):
    """The port from the daemon's `api listening on host:port` line."""
    import re
    harness.wait_for(lambda: re.search(r"api listening on [\d.]+:(\d+)", daemon.log()),
                     timeout, what=f"api listening in {daemon.log_path}")
    return int(re.search(r"api listening on [\d.]+:(\d+)", daemon.log()).group(1))


def start_daemon(name="api", token=ADMIN_TOKEN, journal=None, **env):
    """welcomedlyd with its API and a bootstrap admin token; waits until the
    token is accepted (it is stored once the database is up). Returns
    (daemon, port)."""
    journal = journal or os.path.join(harness.LOG_DIR, f"j-{name}")
    d = harness.Daemon(name=name, DATABASE_URL=harness.pg_url(), JOURNAL_DIR=journal,
                       API_TOKEN=token, **env).start()
    try:
        port = api_port(d)
        d.wait_log(r"ARI resync done")
        harness.wait_for(lambda: request(port, "GET", "/api/v1/tokens", token=token,
                                         check=False).status == 200,
                         15, what="the bootstrap token accepted")
    except Exception:
        d.kill()
        raise
    return d, port


def make_token(port, admin_token, role, agent_id=None):
    """A new token of role through POST /tokens; returns (id, token)."""
    body = {"role": role}
    if agent_id is not None:
        body["agent_id"] = agent_id
    r = request(port, "POST", "/api/v1/tokens", body, token=admin_token)
    if r.status != 201:
        raise AssertionError(f"POST /tokens {body} -> {r.status}: {r.raw[:300]!r}")
    return r.body["id"], r.body["token"]


def ws_connect(port, token=None, query="", header=True, timeout=5):
    """A websocket-client connection to /api/v1/events (the token in the
    Authorization header, or in ?access_token= when header is False)."""
    import websocket
    url = f"ws://127.0.0.1:{port}/api/v1/events"
    params = []
    if token and not header:
        params.append(f"access_token={token}")
    if query:
        params.append(query)
    if params:
        url += "?" + "&".join(params)
    hdrs = [f"Authorization: Bearer {token}"] if token and header else []
    return websocket.create_connection(url, header=hdrs, timeout=timeout)


def port_free(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class DaemonCase(unittest.TestCase):
    """One daemon with its API per class; cls.c is an admin client. The
    class fails when the daemon died or did not exit cleanly, or when a
    response differed from the spec."""

    env = {}  # the daemon's extra settings, per class

    @classmethod
    def setUpClass(cls):
        global spec_errors
        spec_errors = []
        cls.daemon, cls.port = start_daemon(cls.__name__, **cls.env)
        cls.c = Client(cls.port, ADMIN_TOKEN)

    @classmethod
    def tearDownClass(cls):
        global spec_errors
        alive = cls.daemon.alive()
        rc = cls.daemon.stop()
        harness.wait_idle()
        left, spec_errors = spec_errors, None
        if not alive or rc != 0:
            raise AssertionError(f"welcomedlyd exit status {rc}; log {cls.daemon.log_path}")
        if left:
            raise AssertionError("responses that differ from the spec:\n" + "\n".join(left))
