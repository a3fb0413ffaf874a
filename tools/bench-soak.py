"""A long soak: a realistic mixed load for MINUTES at RATE calls per second.

Run by `tools/bench soak [MINUTES] [RATE]`. One daemon, the sandbox Asterisk
and PostgreSQL, and sipp on every side:

- inbound callers (sipp UAC) to a campaign whose agents are several sipp
  UAS processes that answer, and four that never do (each of their offers
  rings out and the call goes on to another agent);
- abandons: callers to a second campaign whose only agents never answer,
  hanging up while they wait;
- blind transfers (POST /calls/{id}/transfer) of talking inbound calls to
  a number out through the trunk, where a sipp UAS answers;
- outbound calls (POST /calls) from agents of a third campaign, hung up
  with DELETE /calls/{id} and given a disposition;
- API traffic (GET /queues, /agents, /cdr, /calls) and event-feed
  subscribers that connect, read a while and leave.

Every minute one row: calls started and ended, the daemon's VmRSS and open
fds, Asterisk's channels and bridges, CDRs written against calls made, and
errors (failed sipp calls, unexpected API answers, error lines in the
daemon's log). Once the load has drained: channels and bridges left (0),
ended CDRs = calls made and none left open, every agent back, RSS and fd
drift; the exit status is 1 when any of these fails.
"""

import csv
import os
import random
import re
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "test", "integration"))
import acd  # noqa: E402
import api  # noqa: E402
import harness  # noqa: E402
import test_outbound  # noqa: E402

# Shares of RATE: inbound answered (some of them transferred), abandons,
# outbound calls.
SHARE_INBOUND, SHARE_ABANDON, SHARE_OUTBOUND = 0.70, 0.15, 0.15
TRANSFER_SHARE = 0.10  # of the inbound calls
TALK_MS = 6000  # inbound callers hang up this long after being answered
ABANDON_MS = 8000  # abandoning callers wait this long, then hang up
OUTBOUND_TALK_S = 4
ANSWER_GROUPS, AGENTS_PER_GROUP = 4, 8  # inbound agents that answer
NOANSWER_AGENTS = 4  # in the inbound campaign, and the abandon campaign's only agents
OUTBOUND_AGENTS = 8
DRAIN_S = 120
RSS_DRIFT_KB = 2048  # allowed growth from the first minute's row to the end


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.values = {}
        self.notes = []

    def add(self, name, n=1):
        with self.lock:
            self.values[name] = self.values.get(name, 0) + n

    def get(self, name):
        with self.lock:
            return self.values.get(name, 0)

    def error(self, what):
        self.add("api_errors")
        with self.lock:
            if len(self.notes) < 20:
                self.notes.append(what)


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


class PhoneGroup:
    """One sipp UAS answering (or not) for several agents, whose phones all
    register from its port."""

    def __init__(self, agents, scenario, ring_ms, seconds):
        self.port = acd._next_port[0]
        acd._next_port[0] += 10
        for ag in agents:
            res = harness.sipp("register.xml", "-s", ag["sip_username"], "-au",
                               ag["sip_username"], "-ap", ag["sip_password"],
                               local_port=self.port)
            if res.returncode != 0:
                raise AssertionError(f"REGISTER failed: {res.stdout}{res.stderr}")
        self.log = os.path.join(harness.LOG_DIR, f"phones-{self.port}.log")
        self._out = open(self.log, "w")
        self.proc = subprocess.Popen(
            ["sipp", "-sf", os.path.join(harness.SCENARIOS, scenario), "-p", str(self.port),
             "-mp", str(self.port + 20000), "-i", "127.0.0.1", "-m", "1000000",
             "-d", str(ring_ms), "-nostdin", "-timeout", f"{seconds}s", "-trace_err",
             "-error_file", self.log + ".err"], stdout=self._out, stderr=subprocess.STDOUT)

    def stop(self):
        harness.stop_process(self.proc)
        self._out.close()


class Callers:
    """A sipp UAC placing calls at a steady rate; its statistics file says
    how many it made and how they ended."""

    def __init__(self, name, did, rate, seconds, hold_ms, port):
        self.calls = max(1, round(rate * seconds))
        self.stats = os.path.join(harness.LOG_DIR, f"callers-{name}.csv")
        self._out = open(os.path.join(harness.LOG_DIR, f"callers-{name}.log"), "w")
        # -r per -rp milliseconds: tenths of a call per second.
        self.proc = subprocess.Popen(
            ["sipp", f"127.0.0.1:{harness.SIP_PORT}", "-sf",
             os.path.join(harness.SCENARIOS, "uac-hangup.xml"), "-s", did,
             "-d", str(hold_ms), "-r", str(max(1, round(rate * 10))), "-rp", "10000",
             "-m", str(self.calls), "-l", "300", "-i", "127.0.0.1", "-p", str(port),
             "-mp", str(port + 20000), "-nostdin", "-timeout", f"{seconds + DRAIN_S}s",
             "-trace_stat", "-stf", self.stats, "-fd", "5", "-trace_err", "-error_file",
             os.path.join(harness.LOG_DIR, f"callers-{name}.err")],
            stdout=self._out, stderr=subprocess.STDOUT)

    def counts(self):
        """(created, ended, failed) so far."""
        try:
            with open(self.stats, newline="") as f:
                rows = list(csv.DictReader(f, delimiter=";"))
        except FileNotFoundError:
            return 0, 0, 0
        if not rows:
            return 0, 0, 0
        last = rows[-1]
        ok, failed = int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])
        return int(last["TotalCallCreated"]), ok + failed, failed

    def done(self):
        return self.proc.poll() is not None

    def stop(self):
        harness.stop_process(self.proc)
        self._out.close()


class Soak:
    def __init__(self, minutes, rate):
        self.minutes = minutes
        self.rate = rate
        self.seconds = int(minutes * 60)
        self.n = Counters()
        self.stop_load = threading.Event()
        self.threads = []
        self.phones = []
        self.callers = []
        self.trunk = None
        self.daemon = None
        self.agents = {}  # id -> campaign role
        self.log_pos = 0

    # -- setup ---------------------------------------------------------------

    def client(self):
        return api.Client(self.port, api.ADMIN_TOKEN)

    def setup(self):
        harness.asterisk_start(trunk_peer_port=test_outbound.TRUNK_PORT)
        self.daemon, self.port = api.start_daemon(name="soak", LOG_LEVEL="info")
        c = self.client()
        common = dict(strategy="rrmemory", ring_timeout=3, retry_delay=1,
                      announce_frequency=0, max_no_answer=0, max_queue_length=300)
        self.cin, self.did_in = acd.campaign(wrapup_time=1, **common)
        self.cab, self.did_ab = acd.campaign(wrapup_time=1, **common)
        self.cout, _ = acd.campaign(wrapup_time=60, **common)
        for code in ("sale", "no_interest"):
            c.ok("POST", f"/api/v1/campaigns/{self.cout}/dispositions",
                 {"code": code, "label": code, "is_final": True}, expect=201)
        seconds = self.seconds + DRAIN_S + 300
        for _ in range(ANSWER_GROUPS):
            group = [self.agent(c, [self.cin]) for _ in range(AGENTS_PER_GROUP)]
            self.phones.append(PhoneGroup(group, "uas-answer.xml", 300, seconds))
        group = [self.agent(c, [self.cin, self.cab]) for _ in range(NOANSWER_AGENTS)]
        self.phones.append(PhoneGroup(group, "uas-noanswer.xml", 0, seconds))
        self.outbound_agents = [self.agent(c, [self.cout]) for _ in range(OUTBOUND_AGENTS)]
        self.phones.append(PhoneGroup(self.outbound_agents, "uas-answer.xml", 300, seconds))
        self.free_outbound = [a["id"] for a in self.outbound_agents]
        self.free_lock = threading.Lock()
        self.trunk = test_outbound.Trunk("uas-answer.xml", ring_ms=500, calls=1000000,
                                         args=("-timeout", f"{seconds}s"))
        for aid in self.agents:
            self.daemon.wait_log(rf"agent={aid} phone=\S+ reachable", timeout=30)
            harness.wait_for(lambda: c.post(f"/api/v1/agents/{aid}/state",
                                             {"state": "available"}).status == 200,
                             30, what=f"agent {aid} available")
        _, self.sup = api.make_token(self.port, api.ADMIN_TOKEN, "supervisor")
        # Only this run's CDRs count: the database may hold earlier ones.
        self.cdr_base = int(harness.sql("SELECT coalesce(max(id), 0) FROM calls")[0][0])

    def agent(self, c, campaigns):
        ag = c.ok("POST", "/api/v1/agents", {"name": "soak " + uuid.uuid4().hex[:8]},
                  expect=201)
        for cid in campaigns:
            c.ok("POST", f"/api/v1/campaigns/{cid}/agents", {"agent_id": ag["id"]},
                 expect=201)
        self.agents[ag["id"]] = campaigns
        return ag

    # -- load ----------------------------------------------------------------

    def start_load(self):
        # sipp binds its media port and the two above it: ports 10 apart.
        base = harness.SIP_PORT + 20
        self.callers = [
            Callers("inbound", self.did_in, self.rate * SHARE_INBOUND, self.seconds,
                    TALK_MS, base),
            Callers("abandon", self.did_ab, self.rate * SHARE_ABANDON, self.seconds,
                    ABANDON_MS, base + 10),
        ]
        for target in (self.outbound_loop, self.transfer_loop, self.api_loop,
                       self.feed_loop, self.feed_loop):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self.threads.append(t)

    def every(self, period, action):
        """Calls action every period seconds (from a steady clock) until the
        load stops."""
        due = time.monotonic()
        end = due + self.seconds
        while not self.stop_load.is_set() and time.monotonic() < end:
            due += period
            try:
                action()
            except Exception as e:  # a refused connection, a timeout
                self.n.error(f"{action.__name__}: {e!r}")
            self.stop_load.wait(max(0.0, due - time.monotonic()))

    def outbound_loop(self):
        self.every(1 / (self.rate * SHARE_OUTBOUND), self.place_outbound)

    def place_outbound(self):
        with self.free_lock:
            if not self.free_outbound:
                self.n.add("outbound_skipped")
                return
            aid = self.free_outbound.pop(0)
        r = self.client().post("/api/v1/calls", {"agent_id": aid, "campaign_id": self.cout,
                                                 "number": test_outbound.number()},
                               check=False)
        if r.status != 202:
            self.n.error(f"POST /calls -> {r.status} {r.raw[:200]!r}")
            self.release(aid)
            return
        self.n.add("outbound_started")
        t = threading.Thread(target=self.finish_outbound, args=(aid, r.body["id"]),
                             daemon=True)
        t.start()
        self.threads.append(t)

    def release(self, aid):
        with self.free_lock:
            self.free_outbound.append(aid)

    def finish_outbound(self, aid, call_id):
        """Talks a while, hangs up, gives the disposition that ends the
        wrap-up; the agent is free again once it is available."""
        c = self.client()
        try:
            time.sleep(OUTBOUND_TALK_S)
            r = c.delete(f"/api/v1/calls/{call_id}", check=False)
            if r.status not in (202, 404):  # 404: ended by itself
                self.n.error(f"DELETE /calls -> {r.status} {r.raw[:200]!r}")
            harness.wait_for(lambda: c.post(f"/api/v1/calls/{call_id}/disposition",
                                            {"code": random.choice(("sale", "no_interest"))},
                                            check=False).status in (200, 409),
                             30, interval=0.5, what=f"the disposition of {call_id}")
            self.n.add("outbound_ended")
            self.n.add("dispositions")
            harness.wait_for(lambda: acd.agent_state(aid)[0] == "available", 30,
                             interval=0.5, what=f"outbound agent {aid} available")
            self.release(aid)
        except Exception as e:
            self.n.error(f"outbound {call_id}: {e!r}")

    def transfer_loop(self):
        self.every(1 / (self.rate * SHARE_INBOUND * TRANSFER_SHARE), self.transfer)

    def transfer(self):
        c = self.client()
        items = c.get(f"/api/v1/calls?campaign_id={self.cin}", check=False).body["items"]
        talking = [i for i in items if i["state"] == "talking" and i["direction"] == "inbound"
                   and i["campaign_id"] == self.cin]
        if not talking:
            self.n.add("transfer_skipped")
            return
        call = random.choice(talking)
        r = c.post(f"/api/v1/calls/{call['id']}/transfer",
                   {"number": test_outbound.number()}, check=False)
        if r.status == 202:
            self.n.add("transfers")
        elif r.status in (404, 409):  # the caller hung up meanwhile
            self.n.add("transfer_raced")
        else:
            self.n.error(f"transfer -> {r.status} {r.raw[:200]!r}")

    def api_loop(self):
        paths = ["/api/v1/queues", "/api/v1/agents", "/api/v1/cdr?limit=50",
                 "/api/v1/calls", f"/api/v1/queues/{self.cin}"]
        step = [0]

        def get():
            path = paths[step[0] % len(paths)]
            step[0] += 1
            r = api.request(self.port, "GET", path, token=self.sup, check=False)
            self.n.add("api_requests")
            if r.status != 200:
                self.n.error(f"GET {path} -> {r.status} {r.raw[:200]!r}")

        self.every(0.25, get)

    def feed_loop(self):
        def subscriber():
            ws = api.ws_connect(self.port, self.sup)
            self.n.add("feed_connections")
            until = time.monotonic() + random.uniform(2, 15)
            ws.settimeout(1)
            while time.monotonic() < until and not self.stop_load.is_set():
                try:
                    ws.recv()
                    self.n.add("feed_messages")
                except Exception as e:
                    if "timed out" not in str(e):
                        raise
            if random.random() < 0.5:
                ws.close()
            else:  # gone without a close frame, as a closed laptop
                ws.shutdown()
                self.n.add("feed_dropped")

        self.every(random.uniform(3, 6), subscriber)

    # -- measures ------------------------------------------------------------

    def calls_made(self):
        created = ended = failed = 0
        for cl in self.callers:
            cr, en, fa = cl.counts()
            created, ended, failed = created + cr, ended + en, failed + fa
        return (created + self.n.get("outbound_started"),
                ended + self.n.get("outbound_ended"), failed)

    def cdrs(self):
        total, ended = harness.sql("SELECT count(*), count(end_time) FROM calls"
                                   f" WHERE id > {self.cdr_base}")[0]
        return int(total), int(ended)

    def log_errors(self):
        with open(self.daemon.log_path, errors="replace") as f:
            f.seek(self.log_pos)
            text = f.read()
            self.log_pos = f.tell()
        lines = [ln for ln in text.splitlines() if ln.split(" ", 2)[1:2] == ["error"]]
        self.n.add("log_errors", len(lines))
        for ln in text.splitlines():
            if ln.split(" ", 2)[1:2] == ["warning"]:
                # One kind of warning: its words without ids and numbers.
                kind = re.sub(r"\S*[=\d]\S*", "", ln.split(" ", 2)[2]).split()
                self.n.add("warning: " + " ".join(kind)[:80])
        self.n.add("rung_out", text.count("--no_answer-->"))
        self.n.add("ring_cancelled", text.count("ringing --cancel-->"))
        for ln in lines[:5]:
            with self.n.lock:
                if len(self.n.notes) < 40:
                    self.n.notes.append("log: " + ln)

    def row(self, minute):
        started, ended, failed = self.calls_made()
        rss, fds = proc_status(self.daemon.proc.pid)
        chans, brs = len(harness.channels()), len(harness.bridges())
        total, closed = self.cdrs()
        self.log_errors()
        errors = failed + self.n.get("api_errors") + self.n.get("log_errors")
        print(f"{minute:>6} {started:>8} {ended:>8} {rss / 1024:>8.1f} {fds:>5}"
              f" {chans:>5} {brs:>5} {closed:>6}/{started:<6} {errors:>6}", flush=True)
        return {"rss": rss, "fds": fds, "started": started}

    # -- the run -------------------------------------------------------------

    def run(self):
        self.setup()
        rss0, fds0 = proc_status(self.daemon.proc.pid)
        print(f"soak {self.minutes} min at {self.rate} calls/s: {len(self.agents)} agents,"
              f" daemon pid {self.daemon.proc.pid} rss {rss0 / 1024:.1f} MB fds {fds0};"
              f" logs in {harness.LOG_DIR}", flush=True)
        print(f"{'minute':>6} {'started':>8} {'ended':>8} {'rss_mb':>8} {'fds':>5}"
              f" {'chans':>5} {'brdgs':>5} {'cdr/calls':>13} {'errors':>6}", flush=True)
        t0 = time.monotonic()
        self.start_load()
        rows = []
        for minute in range(1, int(self.minutes) + 1):
            time.sleep(max(0.0, t0 + 60 * minute - time.monotonic()))
            rows.append(self.row(minute))
        self.stop_load.set()
        return self.drain(t0, rows, rss0, fds0)

    def drain(self, t0, rows, rss0, fds0):
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline and not all(cl.done() for cl in self.callers):
            time.sleep(1)
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        try:
            harness.wait_for(lambda: not harness.channels() and not harness.bridges(),
                             max(5.0, deadline - time.monotonic()), interval=1,
                             what="Asterisk idle")
        except AssertionError:
            pass
        started, ended, failed = self.calls_made()
        try:
            harness.wait_for(lambda: self.cdrs()[1] >= started, 30, interval=1,
                             what="every CDR closed")
        except AssertionError:
            pass
        try:
            acd.wait_stable(list(self.agents), timeout=70)
        except AssertionError:
            pass
        stuck = [(a, acd.agent_state(a)[0]) for a in self.agents
                 if acd.agent_state(a)[0] != "available"]
        last = self.row("end")
        chans, brs = harness.channels(), harness.bridges()
        total, closed = self.cdrs()
        waiting = int(harness.sql(
            "SELECT count(*) FROM queue_entries WHERE campaign_id IN"
            f" ({self.cin}, {self.cab}, {self.cout})")[0][0])
        rss1 = rows[0]["rss"] if rows else rss0
        rss_drift = last["rss"] - rss1
        fd_drift = last["fds"] - fds0
        checks = [
            ("channels left", len(chans), len(chans) == 0),
            ("bridges left", len(brs), len(brs) == 0),
            ("CDRs (ended/written) = calls made", f"{closed}/{total} = {started}",
             closed == total == started),
            ("agents stuck", stuck or 0, not stuck),
            ("queue_entries left", waiting, waiting == 0),
            ("sipp callers placed every call",
             " ".join(f"{cl.counts()[0]}/{cl.calls}" for cl in self.callers),
             all(cl.counts()[0] == cl.calls for cl in self.callers)),
            ("RSS drift since minute 1 (KB)", f"{rss_drift:+d} ({rss1}→{last['rss']})",
             rss_drift <= max(RSS_DRIFT_KB, rss1 // 10)),
            ("fd drift since before the load", f"{fd_drift:+d} ({fds0}→{last['fds']})",
             fd_drift <= 0),
            ("daemon alive", self.daemon.alive(), self.daemon.alive()),
        ]
        n = self.n
        print(f"\nload: {time.monotonic() - t0:.0f} s; failed sipp calls {failed};"
              f" outbound {n.get('outbound_started')} (skipped, no free agent:"
              f" {n.get('outbound_skipped')}); dispositions {n.get('dispositions')};"
              f" transfers {n.get('transfers')} (raced {n.get('transfer_raced')},"
              f" skipped {n.get('transfer_skipped')}); api requests {n.get('api_requests')};"
              f" feed connections {n.get('feed_connections')} (dropped without a close"
              f" {n.get('feed_dropped')}) messages"
              f" {n.get('feed_messages')}; api errors {n.get('api_errors')};"
              f" daemon log errors {n.get('log_errors')}")
        kinds = harness.sql(
            "SELECT count(*) FILTER (WHERE direction = 'inbound' AND NOT abandoned"
            " AND agent_id IS NOT NULL), count(*) FILTER (WHERE abandoned),"
            " count(*) FILTER (WHERE direction = 'outbound'), count(disposition_code)"
            f" FROM calls WHERE id > {self.cdr_base}")[0]
        print(f"CDRs: inbound answered {kinds[0]}, abandoned {kinds[1]}, outbound {kinds[2]},"
              f" with a disposition {kinds[3]}; offers rung out (no answer)"
              f" {n.get('rung_out')}, rings cut short by the caller {n.get('ring_cancelled')}")
        with n.lock:
            warnings = sorted(((v, k) for k, v in n.values.items()
                               if k.startswith("warning: ")), reverse=True)
        for count, kind in warnings[:8]:
            print(f"  daemon log {kind} x{count}")
        for note in n.notes:
            print("  " + note)
        for c in chans[:10]:
            print(f"  left: channel {c['name']} {c['state']}")
        for b in brs[:10]:
            print(f"  left: bridge {b['id']} {b['channels']}")
        bad = 0
        for what, value, ok in checks:
            print(f"{'ok  ' if ok else 'FAIL'} {what}: {value}")
            bad += not ok
        return 1 if bad else 0

    def cleanup(self):
        self.stop_load.set()
        for cl in self.callers:
            cl.stop()
        for p in self.phones:
            p.stop()
        if self.trunk:
            self.trunk.stop()
        if self.daemon:
            self.daemon.stop()
        harness.asterisk_stop()


def main():
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 30
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 4
    soak = Soak(minutes, rate)
    try:
        rc = soak.run()
    finally:
        soak.cleanup()
    sys.exit(rc)


if __name__ == "__main__":
    main()
