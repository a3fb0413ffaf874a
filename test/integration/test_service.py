"""welcomedlyd as systemd runs it: READY=1 on $NOTIFY_SOCKET once ARI and the
database are up, WATCHDOG=1 from the loop, STOPPING=1 at the end, and
SIGHUP re-reading ENV_FILE with a call up: the new log level applies at
once, a new API token replaces the old, a setting that needs a restart is
named, and the call goes on to its normal end.

The service manager is an abstract datagram socket of this test. Run by
meson (suite 'integration').
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acd  # noqa: E402
import api  # noqa: E402
import harness  # noqa: E402

# The caller's sipp port, away from the phones (acd.Phone: 1040 above the
# SIP port) and from test_api_live's callers (3940 above).
CALLER_PORT = harness.SIP_PORT + 3000
TOKEN_A = "a1" * 32
TOKEN_B = "b2" * 32


class Manager:
    """The service manager's notification socket (abstract), read at once as
    systemd does: the kernel queues few datagrams (net.unix.max_dgram_qlen,
    10 here), and a test busy elsewhere must not make the daemon's next
    message find the queue full."""

    def __init__(self):
        self.name = f"@welcomedly-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name[1:])
        self.sock.settimeout(0.1)
        self.seen = []
        self.unread = []
        self.cond = threading.Condition()
        self.closed = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while not self.closed:
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.cond:
                self.unread.append(msg)
                self.cond.notify_all()

    def _next(self, deadline):
        with self.cond:
            while not self.unread:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            msg = self.unread.pop(0)
        self.seen.append(msg)
        return msg

    def until(self, state, timeout=20.0):
        """Datagrams up to the first that has the line state."""
        deadline = time.monotonic() + timeout
        while (msg := self._next(deadline)) is not None:
            if state in msg.split("\n"):
                return msg
        raise AssertionError(f"no {state} within {timeout}s; got {self.seen}")

    def collect(self, seconds):
        """Every datagram of the next seconds."""
        out = []
        deadline = time.monotonic() + seconds
        while (msg := self._next(deadline)) is not None:
            out.append(msg)
        return out

    def count(self, state):
        return sum(state in m.split("\n") for m in self.seen)

    def close(self):
        self.closed = True
        self.reader.join()
        self.sock.close()


def write_env(path, **settings):
    with open(path + ".new", "w") as f:
        f.write("# written by test_service.py\n")
        for k, v in settings.items():
            f.write(f'{k}="{v}"\n')
    os.replace(path + ".new", path)


class ServiceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.asterisk_start()

    def setUp(self):
        self.manager = Manager()
        self.addCleanup(self.manager.close)
        self.env_file = os.path.join(harness.LOG_DIR, f"service-{os.getpid()}.env")
        self.settings = {"LOG_LEVEL": "info", "API_TOKEN": TOKEN_A}
        write_env(self.env_file, **self.settings)
        # The environment says debug: the file wins.
        self.daemon = harness.Daemon(
            name="service", DATABASE_URL=harness.pg_url(), ENV_FILE=self.env_file,
            JOURNAL_DIR=os.path.join(harness.LOG_DIR, "j-service"),
            NOTIFY_SOCKET=self.manager.name, WATCHDOG_USEC=400000).start()
        self.addCleanup(self.daemon.kill)
        self.phones = []
        self.agents = []

    def tearDown(self):
        for p in self.phones:
            p.stop()
        for a in self.agents:
            acd.login(a, "logout")
        harness.wait_idle()

    def test_ready_watchdog_and_stopping(self):
        self.manager.until("READY=1")
        # READY goes out from within the resync, whose log line follows
        # it: wait for the line rather than expect it already written.
        self.daemon.wait_log(r"ARI resync done", timeout=5)
        self.assertIn("database connections up=", self.daemon.log())
        self.assertEqual(self.manager.count("READY=1"), 1)
        # WATCHDOG_USEC=400000: one every 200 ms.
        watchdogs = [m for m in self.manager.collect(1.0) if m == "WATCHDOG=1"]
        self.assertGreaterEqual(len(watchdogs), 3, self.manager.seen)
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log_path)
        self.manager.until("STOPPING=1", timeout=2.0)

    def test_schema_behind_is_named(self):
        """A daemon whose MIGRATIONS_DIR holds a migration the database
        lacks (an upgrade before `welcomedlyd migrate`) names it in an error
        at once; on a current database it says the schema is current."""
        self.manager.until("READY=1")
        self.daemon.wait_log(r"database schema current", timeout=5)
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log_path)
        behind = harness.Daemon(name="service-behind", DATABASE_URL=harness.pg_url(),
                                LOG_LEVEL="info", MIGRATIONS_DIR=harness.migrations_ahead(),
                                JOURNAL_DIR=os.path.join(harness.LOG_DIR, "j-service")).start()
        self.addCleanup(behind.kill)
        behind.wait_log(r"database schema lacks migrations=1 first=9999_ahead.sql: run"
                        r" welcomedlyd migrate, then restart welcomedlyd", timeout=10)
        self.assertEqual(behind.stop(), 0, behind.log_path)

    def agent_with_phone(self):
        cid, did = acd.campaign(wrapup_time=0)
        aid, user, pw = acd.agent(cid)
        self.agents.append(aid)
        acd.reload()
        self.daemon.wait_log(r"campaigns loaded", count=2)
        self.phones.append(acd.Phone(user, pw, "uas-answer.xml", ring_ms=200))
        self.daemon.wait_log(rf"agent={aid} phone=\S+ reachable", timeout=10)
        acd.login(aid)
        self.daemon.wait_log(rf"agent={aid} \w+ --login--> available")
        return cid, did, aid

    def reload(self, **changes):
        self.settings.update(changes)
        write_env(self.env_file, **self.settings)
        n = self.daemon.count(r"settings reloaded")
        self.daemon.proc.send_signal(signal.SIGHUP)
        self.daemon.wait_log(r"settings reloaded", count=n + 1)
        self.manager.until("RELOADING=1", timeout=2.0)
        self.manager.until("READY=1", timeout=2.0)

    def test_sighup_with_a_call_up(self):
        self.manager.until("READY=1")
        port = api.api_port(self.daemon)
        self.assertEqual(api.request(port, "GET", "/api/v1/tokens", token=TOKEN_A,
                                     check=False).status, 200)
        cid, did, aid = self.agent_with_phone()
        self.assertEqual(self.daemon.count(r"Z debug "), 0, "debug lines before the reload")
        caller = subprocess.Popen(
            ["sipp", f"127.0.0.1:{harness.SIP_PORT}", "-sf",
             os.path.join(harness.SCENARIOS, "uac-hangup.xml"), "-m", "1", "-i", "127.0.0.1",
             "-p", str(CALLER_PORT), "-mp", str(CALLER_PORT + 20000), "-nostdin",
             "-timeout", "60s", "-s", did, "-d", "6000"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(lambda: caller.poll() is None and caller.kill())
        harness.wait_for(lambda: acd.agent_state(aid)[0] == "in_call", 15,
                         what="the agent talking")

        self.reload(LOG_LEVEL="debug", API_TOKEN=TOKEN_B, ARI_APP="renamed")
        self.daemon.wait_log(r"setting=ARI_APP changed but takes effect at the next start")
        self.assertEqual(acd.agent_state(aid)[0], "in_call", "the call survived the reload")
        out, _ = caller.communicate(timeout=60)
        self.assertEqual(caller.returncode, 0, out[-2000:])
        acd.wait_calls(1, campaign_id=cid)
        agent, abandoned, billsec = harness.sql(
            f"SELECT agent_id, abandoned, billsec FROM calls WHERE campaign_id = {cid}")[0]
        self.assertEqual((int(agent), abandoned), (aid, "f"))
        self.assertGreaterEqual(int(billsec), 5)
        self.assertGreater(self.daemon.count(r"Z debug call="), 0, "no debug lines after")

        harness.wait_for(lambda: api.request(port, "GET", "/api/v1/tokens", token=TOKEN_A,
                                             check=False).status == 401,
                         10, what="the old API token refused")
        self.assertEqual(api.request(port, "GET", "/api/v1/tokens", token=TOKEN_B,
                                     check=False).status, 200)

        # A file that does not parse changes nothing.
        with open(self.env_file, "a") as f:
            f.write("this is not a setting\n")
        self.daemon.proc.send_signal(signal.SIGHUP)
        self.daemon.wait_log(r"settings not reloaded: ENV_FILE \S+: line \d+ is not KEY=VALUE")
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log_path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
