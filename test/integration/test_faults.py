"""Faults between the daemon and Asterisk, with calls up: Asterisk stopped and
started, `core restart now`, and the ARI events socket cut or gone silent
(a TCP proxy between the daemon's ARI_URL and Asterisk does the cutting).

After each: every call that died has its record closed, agents are back in
the state they should be in, nothing is left in Asterisk, no event was
handled twice, and a new call works. Run by meson (suite 'integration').
"""

import calendar
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acd  # noqa: E402
import harness  # noqa: E402

# Calls talking while the socket is cut: with the one that leaves, the one
# answered and the one ringing out meanwhile, 20 live calls.
TALKERS = 17
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z", re.M)


class AriProxy:
    """Forwards TCP from the daemon to Asterisk's HTTP server. It can cut the
    events WebSocket (a reset, as a killed connection gives), also in place
    of passing on what Asterisk sends that matches cut_on, hold it silent
    (a half-open connection: nothing goes through either way), drop what
    the daemon sends on it from when Asterisk sent what matches deaf_after,
    and refuse new events sockets for a while."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.events = []  # [daemon side, Asterisk side, silent flag]
        self.refusing = False
        self.stopped = False
        # A compiled bytes pattern: the first events socket data from
        # Asterisk that matches it is not passed on, the socket is cut and
        # cut_on goes back to None. Or a list of them: from the first data
        # that matches the first, nothing more is passed on, and the socket
        # is cut once each has matched (in any order).
        self.cut_on = None
        self._cut_seen = set()
        # Likewise: from the first data from Asterisk that matches it (that
        # data passed on), what the daemon sends on that socket is dropped.
        self.deaf_after = None

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        self.stopped = True
        self.listener.close()
        self.cut_events()

    def _accept(self):
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            data = client.recv(65536)
            if not data:
                client.close()
                return
            head += data
        # The call-control application's socket, not the phones' one.
        is_events = head.split(b"\r\n", 1)[0].find(b" /ari/events?app=welcomedly&") >= 0
        if is_events and self.refusing:
            client.close()
            return
        try:
            up = socket.create_connection(("127.0.0.1", harness.ARI_PORT), timeout=5)
        except OSError:
            client.close()
            return
        up.settimeout(None)
        up.sendall(head)
        entry = [client, up, False, False]  # ..., silent, deaf
        if is_events:
            with self.lock:
                self.events.append(entry)
        for src, dst in ((client, up), (up, client)):
            threading.Thread(target=self._pump,
                             args=(entry, src, dst, is_events and src is up),
                             daemon=True).start()

    def _matches(self, name, seen):
        """Whether seen matches the pattern in attribute name, which is
        then reset: each pattern acts once."""
        with self.lock:
            pattern = getattr(self, name)
            if pattern is None or not pattern.search(seen):
                return False
            setattr(self, name, None)
        return True

    def _cut_check(self, seen):
        """What cut_on makes of events socket data from Asterisk: "cut",
        "hold" (not passed on) or None (passed on)."""
        with self.lock:
            patterns = self.cut_on
            if patterns is None:
                return None
            if not isinstance(patterns, list):
                patterns = [patterns]
            self._cut_seen |= {i for i, p in enumerate(patterns) if p.search(seen)}
            if len(self._cut_seen) == len(patterns):
                self.cut_on, self._cut_seen = None, set()
                return "cut"
            return "hold" if 0 in self._cut_seen else None

    def _pump(self, entry, src, dst, watched):
        tail = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                # What matches may straddle two reads.
                seen, tail = tail + data, data[-4096:]
                cut = self._cut_check(seen) if watched else None
                if cut == "cut":
                    self.cut_events()
                    break
                if cut == "hold":
                    continue
                # Deaf before the daemon can answer what matched.
                if watched and self._matches("deaf_after", seen):
                    entry[3] = True
                if not entry[2] and not (entry[3] and src is entry[0]):
                    dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def events_open(self):
        with self.lock:
            return sum(1 for e in self.events if e[0].fileno() >= 0)

    def cut_events(self):
        """Resets every events socket on the daemon's side and closes it on
        Asterisk's."""
        with self.lock:
            entries, self.events = self.events, []
        for client, up, *_ in entries:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              b"\x01\x00\x00\x00\x00\x00\x00\x00")
            for s in (client, up):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        return len(entries)

    def silence_events(self):
        """Nothing passes on the open events sockets any more, both ways,
        and nobody is told: a half-open connection."""
        with self.lock:
            for e in self.events:
                e[2] = True
            return list(self.events)


def log_times(daemon, pattern):
    """Wall-clock times (epoch seconds) of the daemon's log lines matching."""
    out = []
    for line in daemon.log().splitlines():
        if re.search(pattern, line):
            m = LOG_TIME.match(line)
            if m:
                out.append(calendar.timegm(time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S"))
                           + float("0" + m.group(1)[19:]))
    return out


def startup_time():
    try:
        # A short timeout: a request that a stopping Asterisk accepted and
        # never answered must not delay the look after it.
        return harness.ari("GET", "/asterisk/info", expect=(200,),
                           query={"only": "status"}, timeout=0.5)["status"]["startup_time"]
    except (AssertionError, OSError, KeyError, TypeError):
        return None


class HttpWatch:
    """Notes when Asterisk's HTTP server answers ARI again, as a new
    instance (its startup time changed)."""

    def __init__(self, before=None):
        self.before = before or startup_time()
        self.answered = None

    def start(self):
        threading.Thread(target=self._poll, daemon=True).start()
        return self

    def _poll(self):
        deadline = time.monotonic() + 60
        while self.answered is None and time.monotonic() < deadline:
            # When the answering request was sent: one held up while
            # Asterisk starts can return after the daemon has already
            # reconnected and resynced.
            asked = time.time()
            now = startup_time()
            if now is not None and now != self.before:
                self.answered = asked
            else:
                time.sleep(0.02)

    def wait(self):
        return harness.wait_for(lambda: self.answered, 60, what="Asterisk's HTTP")


class Registered:
    """Watches, straight from Asterisk, that the application stays
    registered: make-before-break leaves no gap."""

    def __init__(self):
        self.gaps = 0
        self.running = True
        threading.Thread(target=self._poll, daemon=True).start()

    def _poll(self):
        while self.running:
            if not harness.app_registered():
                self.gaps += 1
            time.sleep(0.05)

    def stop(self):
        self.running = False
        return self.gaps


def since(t0):
    """The calls started since t0 (epoch seconds), as a WHERE clause."""
    return f"start_time >= to_timestamp({t0})"


def agent_channels(user):
    return [c for c in harness.channels() if c["name"].startswith(f"PJSIP/{user}-")]


class FaultsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.asterisk_start()

    def setUp(self):
        self.phones, self.agents, self.callers = [], [], []
        self.t0 = time.time()
        self.proxy = AriProxy().start()
        self.addCleanup(self.proxy.stop)
        self.daemon = harness.Daemon(
            ARI_URL=self.proxy.url, DATABASE_URL=harness.pg_url(),
            JOURNAL_DIR=os.path.join(harness.LOG_DIR, "j-faults")).start()
        self.addCleanup(lambda: self.daemon.kill())
        self.daemon.wait_log(r"ARI resync done")
        self.daemon.wait_log(r"campaigns loaded")

    def tearDown(self):
        for c in self.callers:
            harness.stop_process(c, grace=0)
        self.hang_up_callers()
        for p in self.phones:
            p.stop()
        for a in self.agents:
            acd.login(a, "logout")
        harness.wait_idle(timeout=30)
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log_path)

    # -- fixtures --------------------------------------------------------------

    def campaign(self, scenarios, ring_ms=200, **settings):
        cid, did = acd.campaign(**settings)
        users = []
        for scenario in scenarios:
            aid, user, pw = acd.agent(cid)
            self.agents.append(aid)
            users.append((aid, user, pw, scenario))
        loaded = self.daemon.count(r"campaigns loaded")
        acd.reload()
        self.daemon.wait_log(r"campaigns loaded", count=loaded + 1)
        for aid, user, pw, scenario in users:
            self.phones.append(acd.Phone(user, pw, scenario, ring_ms=ring_ms, calls=20))
        # All at once: the log is read once per look, not once per agent.
        self.wait_all(users, r"agent={} phone=\S+ reachable")
        for aid, *_ in users:
            acd.login(aid)
        self.wait_all(users, r"agent={} \w+ --login--> available")
        return cid, did, [(u[0], u[1]) for u in users]

    def wait_all(self, users, pattern):
        def done():
            log = self.daemon.log()
            return all(re.search(pattern.format(u[0]), log) for u in users)
        harness.wait_for(done, 30, what=f"/{pattern}/ for {len(users)} agents")

    def call(self, did, talk_ms, calls=1, rate=10):
        """Callers on the trunk that hang up talk_ms after being answered."""
        p = subprocess.Popen(
            ["sipp", f"127.0.0.1:{harness.SIP_PORT}", "-sf",
             os.path.join(harness.SCENARIOS, "uac-hangup.xml"), "-s", did,
             "-d", str(talk_ms), "-m", str(calls), "-r", str(rate), "-l", str(calls),
             "-i", "127.0.0.1", "-p", "0", "-nostdin", "-timeout", "120s"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.callers.append(p)
        return p

    def open_cdrs(self):
        return int(harness.sql("SELECT count(*) FROM calls WHERE end_time IS NULL"
                               f" AND {since(self.t0)}")[0][0])

    def state(self, aid):
        return acd.agent_state(aid)[0]

    def wait_state(self, aid, states, timeout=20):
        harness.wait_for(lambda: self.state(aid) in states, timeout,
                         what=f"agent {aid} in {states}")

    def talking(self):
        return sum(1 for b in harness.bridges() if len(b["channels"]) >= 2)

    def assert_no_event_twice(self):
        """No event came twice (the daemon logs each one it receives)."""
        seen = {}
        for line in self.daemon.log().splitlines():
            i = line.find("ari events: rx ")
            if i >= 0:
                seen[line[i:]] = seen.get(line[i:], 0) + 1
        twice = [k for k, n in seen.items() if n > 1]
        self.assertEqual(twice, [], "events received twice")
        self.assertEqual(self.daemon.count(r"delivered twice"), 0)

    def new_call_works(self, did, aid, talk_ms=500):
        """talk_ms counts from the caller's answer: more than the agent's
        phone rings."""
        before = int(harness.sql(f"SELECT count(*) FROM calls WHERE agent_id = {aid}"
                                 " AND answer_time IS NOT NULL")[0][0])
        self.call(did, talk_ms=talk_ms)
        harness.wait_for(lambda: int(harness.sql(
            f"SELECT count(*) FROM calls WHERE agent_id = {aid} AND answer_time IS NOT"
            " NULL AND end_time IS NOT NULL")[0][0]) > before, 30,
            what="a new call answered and ended")

    # -- Asterisk restarts -----------------------------------------------------

    def calls_up(self):
        """Two calls talking, two waiting, one ringing an agent who does not
        answer; returns the talk campaign's number, its agents, the ringing
        agent and its campaign's number."""
        _, did, talkers = self.campaign(["uas-answer.xml"] * 2, wrapup_time=1)
        _, did_ring, [ringer] = self.campaign(["uas-noanswer.xml"], ring_timeout=60,
                                              max_no_answer=1)
        self.call(did, talk_ms=60000, calls=4)
        harness.wait_for(lambda: self.talking() == 2, 30, what="two calls talking")
        self.call(did_ring, talk_ms=60000)
        self.wait_state(ringer[0], ("ringing",))
        harness.wait_for(lambda: int(harness.sql(
            "SELECT count(*) FROM queue_entries WHERE joined_at >="
            f" to_timestamp({self.t0})")[0][0]) >= 2, 10, what="two callers queued")
        harness.wait_for(lambda: self.open_cdrs() == 5, 10, what="five open CDRs")
        self.t_fault = time.time()
        return did, talkers, ringer, did_ring

    def check_after_restart(self, did, talkers, ringer, did_ring, t_http):
        # A caller who dials the moment the daemon is back is offered at
        # once (the agent whose phone rang is free again).
        # The first resync with the new Asterisk, found by the daemon's
        # word that the startup time changed: the daemon may reconnect
        # before the watcher's next look at Asterisk's HTTP (it polls),
        # so t_http cannot tell which resync is the new one.
        t_ready = harness.wait_for(lambda: [
            t for t in log_times(self.daemon, r"ARI resync done")
            if any(self.t_fault < r <= t for r in log_times(
                self.daemon, r"ARI Asterisk restarted since the last connect"))],
            10, what="resync with the new Asterisk")[0]
        offers = self.daemon.count(rf"agent={ringer[0]} available --offer--> ringing")
        self.call(did_ring, talk_ms=1000)
        t_offer = harness.wait_for(lambda: log_times(
            self.daemon, rf"agent={ringer[0]} available --offer--> ringing")[offers:],
            10, what="the new call offered")[0]
        print(f"\nAsterisk's HTTP back -> daemon ready {t_ready - t_http:.2f} s,"
              f" -> a new call offered {t_offer - t_http:.2f} s", file=sys.stderr)
        self.assertLess(t_ready - t_http, 2.0, "reconnected and resynced")
        self.assertLess(t_offer - t_http, 2.0, "a new call offered")
        # Every call that died with Asterisk has its record closed, saying
        # so; nothing is left queued.
        harness.wait_for(lambda: self.open_cdrs() == 0, 20, what="every CDR closed")
        reasons = harness.sql("SELECT DISTINCT hangup_by, coalesce(hangup_cause_text, '')"
                              f" FROM calls WHERE {since(self.t0)} AND start_time <"
                              f" to_timestamp({self.t_fault})")
        self.assertEqual(reasons, [["system", "asterisk_restart"]])
        harness.wait_for(lambda: harness.sql(
            "SELECT count(*) FROM queue_entries WHERE joined_at >="
            f" to_timestamp({self.t0})") == [["0"]], 10, what="the queues empty")
        # Talkers did their wrap-up and are available; the agent whose
        # phone rang was not counted as not answering (max_no_answer 1).
        for aid, _ in talkers + [ringer]:
            self.wait_state(aid, ("available",), timeout=10)
        for c in self.callers:
            harness.stop_process(c, grace=0)
        self.new_call_works(did, talkers[0][0])
        self.assert_no_event_twice()

    def asterisk_back(self):
        """Starts the stopped sandbox; returns when its HTTP answered."""
        http = HttpWatch(before="stopped").start()
        harness.asterisk_start()
        return http.wait()

    def test_asterisk_stop_and_start_with_calls_up(self):
        did, talkers, ringer, did_ring = self.calls_up()
        subprocess.run([os.path.join(harness.TOOLS, "sandbox-asterisk"), "stop",
                        "--name", harness.SANDBOX], check=True, stdout=subprocess.DEVNULL)
        self.daemon.wait_log(r"ARI events socket down")
        # Down for a while: the daemon keeps retrying, its backoff grows.
        self.daemon.wait_log(r"ARI reconnect in", count=10, timeout=30)
        self.check_after_restart(did, talkers, ringer, did_ring, self.asterisk_back())

    def test_core_restart_now_with_calls_up(self):
        did, talkers, ringer, did_ring = self.calls_up()
        http = HttpWatch().start()
        subprocess.run([os.path.join(harness.TOOLS, "sandbox-asterisk"), "cli", "--name",
                        harness.SANDBOX, "--", "core restart now"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.daemon.wait_log(r"ARI events socket down")
        t_http = http.wait()
        self.check_after_restart(did, talkers, ringer, did_ring, t_http)

    def test_asterisk_killed_and_started_with_calls_up(self):
        # A crash: no hangup reaches the daemon; the resync finds Asterisk
        # started again and nothing of what it held.
        did, talkers, ringer, did_ring = self.calls_up()
        status = subprocess.run([os.path.join(harness.TOOLS, "sandbox-asterisk"), "status",
                                 "--name", harness.SANDBOX], capture_output=True,
                                text=True).stdout
        pid = int(re.search(r"pid=(\d+)", status).group(1))
        os.kill(pid, 9)
        self.daemon.wait_log(r"ARI events socket down")
        harness.wait_for(lambda: subprocess.run(
            [os.path.join(harness.TOOLS, "sandbox-asterisk"), "status", "--name",
             harness.SANDBOX], capture_output=True).returncode != 0, 10,
            what="Asterisk gone")
        self.check_after_restart(did, talkers, ringer, did_ring, self.asterisk_back())
        self.assertEqual(self.daemon.count(r"Asterisk restarted since the last connect"), 1)

    # -- the events socket drops -------------------------------------------------

    def hang_up_callers(self):
        for ch in harness.channels():
            if ch["name"].startswith("PJSIP/trunk-"):
                harness.ari("DELETE", f"/channels/{ch['id']}", expect=(204, 404))

    def finish(self, did, aid, talk_ms=500):
        """Every call ends with its record; then a new one works."""
        self.hang_up_callers()
        harness.wait_for(lambda: self.open_cdrs() == 0, 30, what="every CDR closed")
        harness.wait_idle(timeout=30)
        acd.wait_stable(self.agents, timeout=30)
        self.new_call_works(did, aid, talk_ms)
        self.assert_no_event_twice()

    def test_socket_cut_with_calls_live(self):
        cid, did, talkers = self.campaign(["uas-answer.xml"] * TALKERS, wrapup_time=0)
        _, did_late, [late] = self.campaign(["uas-answer.xml"], ring_ms=4000,
                                            ring_timeout=30, wrapup_time=0)
        _, did_deaf, [deaf] = self.campaign(["uas-noanswer.xml"], ring_timeout=2,
                                            retry_delay=1, wrapup_time=0)
        self.call(did, talk_ms=120000, calls=TALKERS)
        harness.wait_for(lambda: self.talking() == TALKERS, 40, what="calls talking")
        leaver = self.call(did, talk_ms=1500)
        self.call(did_late, talk_ms=120000)
        self.call(did_deaf, talk_ms=120000)
        # Both phones ring: their dials went out (an answer to a dial may
        # still be on its way; test_dial_answer_lost).
        def ringing(user):
            return [c["id"] for c in agent_channels(user) if c["state"] == "Ringing"]
        harness.wait_for(lambda: ringing(late[1]) and ringing(deaf[1]), 15,
                         what="both phones ringing")
        deaf_leg = ringing(deaf[1])[0]
        # The events socket is cut and stays down while: the queued caller
        # hangs up, the late agent answers, the deaf agent's ring times out.
        self.proxy.refusing = True
        self.assertEqual(self.proxy.cut_events(), 1)
        self.daemon.wait_log(r"ARI events socket down")
        harness.wait_for(lambda: leaver.poll() is not None, 15, what="the caller gone")
        harness.wait_for(lambda: [c for c in agent_channels(late[1]) if c["state"] == "Up"],
                         15, what="the late agent's phone answered")
        harness.wait_for(lambda: deaf_leg not in [c["id"] for c in harness.channels()],
                         15, what="the deaf agent's ring timed out")
        self.proxy.refusing = False
        self.daemon.wait_log(r"ARI resync done", count=2, timeout=10)
        # The answered call is bridged, the others talk on, the caller who
        # left has a closed record, the deaf agent's miss counted.
        harness.wait_for(lambda: self.talking() == TALKERS + 1, 10, what="calls talking")
        self.wait_state(late[0], ("in_call",))
        harness.wait_for(lambda: harness.sql(
            "SELECT abandoned, end_time IS NOT NULL FROM calls WHERE agent_id IS NULL"
            f" AND campaign_id = {cid} AND {since(self.t0)}") == [["t", "t"]], 10,
            what="the record of the caller who left closed, abandoned")
        self.daemon.wait_log(rf"agent={deaf[0]} offer ended status=NOANSWER")
        harness.wait_for(lambda: self.open_cdrs() == TALKERS + 2, 10,
                         what="the other records open")
        self.assertTrue(self.daemon.alive())
        self.finish(did, talkers[0][0])

    def test_dial_answer_lost(self):
        """The events socket goes between a dial and its answer: the phone
        rings on, is not hung up on, its agent not counted unreachable; it
        answers and the call is bridged."""
        _, did, [agent] = self.campaign(["uas-answer.xml"], ring_ms=3000,
                                        wrapup_time=0)
        self.proxy.cut_on = re.compile(
            rb'"type":"RESTResponse"[^{}]*"uri":"channels/[^"/]+/dial"')
        self.call(did, talk_ms=120000)
        self.daemon.wait_log(r"dial's answer lost with the events socket")
        self.daemon.wait_log(r"ARI resync done", count=2, timeout=10)
        self.wait_state(agent[0], ("in_call",))
        harness.wait_for(lambda: self.talking() == 1, 10, what="the call talking")
        self.assertEqual(self.daemon.count(r"offer ended"), 0)
        self.assertEqual(self.daemon.count(rf"agent={agent[0]} phone=\S+ unreachable"), 0)
        self.finish(did, agent[0], talk_ms=5000)

    def test_dial_lost_on_the_way(self):
        """The events socket takes the dial and goes without a word: the
        phone is not rung, so the offer is withdrawn, neither a miss nor
        the phone unreachable, and made again."""
        _, did, [agent] = self.campaign(["uas-answer.xml"], wrapup_time=0)
        self.proxy.deaf_after = re.compile(
            rb'"type":"StasisStart"[^{}]*"args":\["agent",')
        self.call(did, talk_ms=120000)
        self.daemon.wait_log(r"offered agent=\d+ leg=")
        leg = re.search(r"offered agent=\d+ leg=(\S+)", self.daemon.log()).group(1)
        self.daemon.wait_log(rf"start ws method=POST uri=/channels/{leg}/dial")
        self.assertEqual(self.proxy.cut_events(), 1)
        self.daemon.wait_log(rf"leg={leg} not known to have been dialed \(Down\)")
        self.daemon.wait_log(rf"agent={agent[0]} offer ended status=CANCEL streak=0")
        self.wait_state(agent[0], ("in_call",))
        harness.wait_for(lambda: self.talking() == 1, 10, what="the call talking")
        self.assertEqual(self.daemon.count(r"offer ended"), 1)
        self.assertEqual(self.daemon.count(rf"agent={agent[0]} phone=\S+ unreachable"), 0)
        self.finish(did, agent[0])

    def recording_lost_then_found(self, uri, lost, found, then=None):
        """The events socket goes with the answer to the recorder's request
        on uri (once Asterisk also sent what matches then, when given): after
        the resync the call records on, with one recorder, and its file
        holds the talk from before the cut and after it."""
        _, did, [agent] = self.campaign(["uas-answer.xml"], wrapup_time=0)
        answer = re.compile(
            rb'"type":"RESTResponse"[^{}]*"uri":"channels/[^"/]+/' + uri + rb'"')
        self.proxy.cut_on = [answer, re.compile(then)] if then else answer
        self.call(did, talk_ms=120000)
        self.daemon.wait_log(lost)
        self.daemon.wait_log(r"ARI resync done", count=2, timeout=10)
        self.daemon.wait_log(found)
        call_id = re.search(r"call=(\S+) recorder=", self.daemon.log()).group(1)
        cut = time.monotonic()
        time.sleep(2.0)  # recorded after the cut
        self.assertEqual(len([c for c in harness.channels()
                              if c["name"].startswith(f"Snoop/{call_id}-")]), 1)
        self.hang_up_callers()
        harness.wait_for(lambda: self.open_cdrs() == 0, 30, what="every CDR closed")
        talked = time.monotonic() - cut
        self.assertGreaterEqual(acd.recording_seconds(call_id), talked - 0.5)
        self.finish(did, agent[0])

    def test_recorder_answer_lost(self):
        """The snoop was made, its answer lost: taken over, recording. The
        cut waits for the snoop's StasisStart: Asterisk answers before the
        snoop enters the application, and one that tries once the socket
        went is refused ("Stasis app not active") and hung up (then the
        resync makes a new recorder: seen once, under ASan)."""
        self.recording_lost_then_found(
            rb"snoop", r"recorder=wd-rec-\S+ answer lost with the events socket",
            r"recorder=wd-rec-\S+ taken over",
            then=rb'"type":"StasisStart"[^{}]*"args":\["record",')

    def test_recording_answer_lost(self):
        """The recording started, its answer lost: asked again, it goes on
        (Asterisk answers 409 to the second request)."""
        self.recording_lost_then_found(
            rb"record", r"recorder=wd-rec-\S+ recording's answer lost with the events",
            r"recorder=wd-rec-\S+ records on")

    def test_silent_socket_is_replaced_before_it_is_closed(self):
        _, did, talkers = self.campaign(["uas-answer.xml"] * 2, wrapup_time=0)
        self.call(did, talk_ms=120000, calls=2)
        harness.wait_for(lambda: self.talking() == 2, 30, what="two calls talking")
        watch = Registered()
        connected = self.daemon.count(r"ARI connected app=welcomedly ")
        t0 = time.time()
        self.assertEqual(len(self.proxy.silence_events()), 1)
        self.daemon.wait_log(r"ARI connected app=welcomedly ", count=connected + 1,
                             timeout=15)
        t_new = log_times(self.daemon, r"ARI connected app=welcomedly ")[-1]
        self.daemon.wait_log(r"ARI resync done", count=2, timeout=10)
        print(f"\nsilent socket replaced after {t_new - t0:.2f} s", file=sys.stderr)
        self.assertLess(t_new - t0, 8.0)
        # Make-before-break: Asterisk never lost the application, no close
        # was reported, and both calls talk on.
        self.assertEqual(watch.stop(), 0, "application unregistered meanwhile")
        self.assertEqual(self.daemon.count(r"ARI events socket down"), 0)
        self.assertEqual(self.talking(), 2)
        self.finish(did, talkers[0][0])


if __name__ == "__main__":
    unittest.main(verbosity=2)

