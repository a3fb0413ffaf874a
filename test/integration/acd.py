"""Contact-center fixtures for the integration tests: campaigns, agents with
real SIP accounts (PJSIP realtime rows), and their sipp phones."""

import os
import subprocess
import time
import uuid

import harness

CACHE = os.environ.get("WELCOMEDLY_CACHE", "/var/cache/welcomedly")
# The sandbox instance's own directory inside the chroot.
INSTANCE = os.path.join(CACHE, "asterisk-sid", "var", "lib", "welcomedly-sandbox",
                        harness.SANDBOX)
SPOOL = os.path.join(INSTANCE, "spool", "recording")


def asterisk_pid():
    """The pid of the sandbox's Asterisk (as tools/sandbox-asterisk wrote it)."""
    with open(os.path.join(INSTANCE, "sandbox.pid")) as f:
        return int(f.read())

# Phones take ports from here, 10 apart, relative to the sandbox's SIP port
# (16100 with the default 15060) so that suites on other ports run beside.
_next_port = [harness.SIP_PORT + 1040]


def campaign(**settings):
    """Creates a campaign and a DID for it; returns (id, did)."""
    name = "c-" + uuid.uuid4().hex[:8]
    did = str(7000 + int(uuid.uuid4().int % 2000))
    cols = ["name"] + list(settings)
    vals = [f"'{name}'"] + [repr(v) if not isinstance(v, str) else f"'{v}'"
                            for v in settings.values()]
    cid = harness.sql(f"INSERT INTO campaigns ({', '.join(cols)}) VALUES"
                      f" ({', '.join(vals)}) RETURNING id")[0][0]
    harness.sql(f"INSERT INTO dids (number, campaign_id) VALUES ('{did}', {cid})"
                f" ON CONFLICT (number) DO UPDATE SET campaign_id = {cid}")
    return int(cid), did


def agent(campaign_id, penalty=0, skills="{}"):
    """Creates an agent with a SIP account in a campaign; returns
    (agent id, sip username, password)."""
    user = "ag" + uuid.uuid4().hex[:8]
    pw = "pw-" + user
    aid = harness.sql(f"INSERT INTO agents (name) VALUES ('{user}') RETURNING id")[0][0]
    harness.sql(
        f"INSERT INTO sip_peers (agent_id, sip_username, sip_password, sip_server)"
        f" VALUES ({aid}, '{user}', '{pw}', '127.0.0.1');"
        f"INSERT INTO ps_aors (id, max_contacts, remove_existing) VALUES ('{user}', 1, 'yes');"
        f"INSERT INTO ps_auths (id, auth_type, username, password)"
        f" VALUES ('{user}', 'userpass', '{user}', '{pw}');"
        f"INSERT INTO ps_endpoints (id, transport, aors, auth, context, disallow, allow,"
        f" direct_media, send_connected_line) VALUES ('{user}', 'transport-udp', '{user}',"
        f" '{user}', 'welcomedly-agents', 'all', 'ulaw,alaw', 'no', 'no');"
        f"INSERT INTO campaign_agents (campaign_id, agent_id, penalty, skills)"
        f" VALUES ({campaign_id}, {aid}, {penalty}, '{skills}')")
    return int(aid), user, pw


def reload():
    harness.sql("NOTIFY welcomedly_config")


def login(agent_id, action="login", reason=""):
    harness.sql(f"NOTIFY welcomedly_agent, '{agent_id} {action} {reason}'")


def agent_state(agent_id):
    return harness.sql(f"SELECT state, coalesce(state_reason, '') FROM agents"
                       f" WHERE id = {agent_id}")[0]


class Phone:
    """An agent's sipp phone: REGISTERs, then answers (or not) calls."""

    def __init__(self, user, password, scenario="uas-answer.xml", ring_ms=200,
                 calls=10, extra=()):
        self.port = _next_port[0]
        # sipp binds the media port and the two above it (RTCP, video).
        _next_port[0] += 10
        res = harness.sipp("register.xml", "-s", user, "-au", user, "-ap", password,
                           local_port=self.port)
        if res.returncode != 0:
            raise AssertionError(f"REGISTER failed: {res.stdout}{res.stderr}")
        self.log = os.path.join(harness.LOG_DIR, f"phone-{user}.log")
        self._out = open(self.log, "w")
        self.proc = subprocess.Popen(
            ["sipp", "-sf", os.path.join(harness.SCENARIOS, scenario), "-p",
             str(self.port), "-mp", str(self.port + 20000), "-i", "127.0.0.1",
             "-m", str(calls), "-d", str(ring_ms), "-nostdin", "-timeout", "300s",
             "-trace_err", "-error_file", self.log + ".err", *extra],
            stdout=self._out, stderr=subprocess.STDOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._out.close()


def wait_stable(agent_ids, timeout=15):
    """Every agent back in a state that needs no call: not ringing or talking."""
    harness.wait_for(lambda: all(agent_state(a)[0] in ("available", "paused", "offline")
                                 for a in agent_ids), timeout,
                     what="agents back to a stable state")


def recording_seconds(call_id):
    import wave
    path = os.path.join(SPOOL, call_id + ".wav")
    with wave.open(path) as w:
        return w.getnframes() / w.getframerate()


def wait_calls(n, timeout=30, campaign_id=None):
    where = f" WHERE campaign_id = {campaign_id}" if campaign_id else ""
    harness.wait_for(lambda: int(harness.sql(
        f"SELECT count(*) FROM calls{where}" + (" AND" if where else " WHERE") +
        " end_time IS NOT NULL")[0][0]) >= n, timeout, what=f"{n} ended calls")


def settle():
    time.sleep(0.3)
