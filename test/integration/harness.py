"""Shared pieces of the integration tests: the sandboxes, ARI, sipp, the daemon.

Every test runs against a real Asterisk started by tools/sandbox-asterisk and
a real PostgreSQL started by tools/sandbox-pg. The ports come from the
environment (tools/test sets them) so that a developer's own sandbox on the
default ports is left alone.
"""

import atexit
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

SOURCE = os.environ.get("WELCOMEDLY_SOURCE",
                        os.path.dirname(os.path.dirname(os.path.dirname(
                            os.path.abspath(__file__)))))
TOOLS = os.path.join(SOURCE, "tools")
SCENARIOS = os.path.join(SOURCE, "test", "integration", "scenarios")
DAEMON = os.environ.get("WELCOMEDLYD", "welcomedlyd")
ARI_PORT = int(os.environ.get("WELCOMEDLY_TEST_ARI_PORT", "18088"))
SIP_PORT = int(os.environ.get("WELCOMEDLY_TEST_SIP_PORT", "15060"))
RTP_START = int(os.environ.get("WELCOMEDLY_TEST_RTP_START", "21000"))
# The sandbox's default range (1,000 ports) unless a benchmark needs more.
RTP_END = os.environ.get("WELCOMEDLY_TEST_RTP_END")
PG_PORT = int(os.environ.get("WELCOMEDLY_TEST_PG_PORT", "55433"))
SANDBOX = os.environ.get("WELCOMEDLY_TEST_SANDBOX", "itest")
ARI_USER = "welcomedly"
ARI_PASSWORD = "welcomedly"
ARI_URL = f"http://127.0.0.1:{ARI_PORT}"
LOG_DIR = os.environ.get("WELCOMEDLY_TEST_LOGS",
                         tempfile.mkdtemp(prefix="welcomedly-itest-"))


def wait_for(predicate, timeout=10.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# -- sandboxes -----------------------------------------------------------------

def pg_start():
    out = subprocess.run([os.path.join(TOOLS, "sandbox-pg"), "start",
                          "--port", str(PG_PORT)], check=True,
                         capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


def asterisk_args():
    args = ["--name", SANDBOX, "--http-port", str(ARI_PORT),
            "--sip-port", str(SIP_PORT), "--rtp-start", str(RTP_START)]
    return args + (["--rtp-end", RTP_END] if RTP_END else [])


def pg_dir():
    state = os.environ.get("WELCOMEDLY_STATE", "/var/tmp/welcomedly")
    return os.path.join(state, f"pg-{PG_PORT}")


def pg_stop():
    subprocess.run([os.path.join(TOOLS, "sandbox-pg"), "stop", "--port", str(PG_PORT)],
                   check=True, capture_output=True)


def sql(query, db_url=None):
    """Runs SQL with psql as the application's role; returns rows of text."""
    out = subprocess.run(["psql", db_url or pg_url(), "-X", "-q", "-A", "-t", "-F", "|",
                          "-v", "ON_ERROR_STOP=1", "-c", query],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def migrations_ahead():
    """A copy of the migrations with one more, 9999_ahead.sql, that no
    database of the tests has: what a daemon upgraded before `welcomedlyd
    migrate` sees. Returns its directory (under LOG_DIR)."""
    ahead = tempfile.mkdtemp(prefix="migrations-ahead-", dir=LOG_DIR)
    src = os.path.join(SOURCE, "migrations")
    for name in os.listdir(src):
        shutil.copy(os.path.join(src, name), ahead)
    with open(os.path.join(ahead, "9999_ahead.sql"), "w") as f:
        f.write("CREATE TABLE never_applied (x int);\n")
    return ahead


def sql_admin(query):
    """Runs SQL as the cluster's superuser over its private socket."""
    subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-h", pg_dir(),
                    "-p", str(PG_PORT), "-d", "postgres", "-X", "-q",
                    "-v", "ON_ERROR_STOP=1", "-c", query],
                   check=True, capture_output=True, text=True)


_pg_url = None


def pg_url():
    global _pg_url
    if _pg_url is None:
        _pg_url = pg_start()
    return _pg_url


def migrate(db_url=None):
    env = dict(os.environ, DATABASE_URL=db_url or pg_url(),
               MIGRATIONS_DIR=os.path.join(SOURCE, "migrations"))
    res = subprocess.run([DAEMON, "migrate"], env=env, capture_output=True,
                         text=True, timeout=60)
    if res.returncode != 0:
        raise AssertionError(f"migrate failed: {res.stdout}{res.stderr}")
    return res.stdout + res.stderr


def asterisk_start(trunk_peer_port=None):
    """Starts the test Asterisk, its realtime tables in the test database.
    With trunk_peer_port, calls to the trunk go to that port: an option of
    the instance, so a running one is restarted with it."""
    url = pg_url()
    migrate(url)
    args = [os.path.join(TOOLS, "sandbox-asterisk"), "start"] + asterisk_args()
    if trunk_peer_port is not None:
        asterisk_stop()
        args += ["--trunk-peer-port", str(trunk_peer_port)]
    subprocess.run(args + ["--db-url", url], check=True, stdout=subprocess.DEVNULL)


def stop_process(proc, grace=5.0):
    """SIGTERM, then SIGKILL after grace seconds; returns the exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def asterisk_restart():
    subprocess.run([os.path.join(TOOLS, "sandbox-asterisk"), "restart"] +
                   asterisk_args(), check=True, stdout=subprocess.DEVNULL)


def asterisk_stop():
    subprocess.run([os.path.join(TOOLS, "sandbox-asterisk"), "stop",
                    "--name", SANDBOX], check=False, stdout=subprocess.DEVNULL)


# -- ARI -----------------------------------------------------------------------

def ari(method, path, body=None, expect=(200, 201, 204), query=None, timeout=10):
    url = f"{ARI_URL}/ari{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    token = base64.b64encode(f"{ARI_USER}:{ARI_PASSWORD}".encode()).decode()
    req.add_header("Authorization", "Basic " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    if expect and status not in expect:
        raise AssertionError(f"{method} {path} -> {status}: {raw[:200]!r}")
    return json.loads(raw) if raw else None


def channels():
    return ari("GET", "/channels")


def bridges():
    return ari("GET", "/bridges")


def app_registered(app="welcomedly"):
    try:
        return ari("GET", f"/applications/{app}", expect=(200,)) is not None
    except AssertionError:
        return False


def wait_idle(timeout=20.0):
    """Waits until Asterisk has no channel and no bridge left."""
    wait_for(lambda: not channels() and not bridges(), timeout,
             what="no channels and no bridges in Asterisk")


# -- sipp ----------------------------------------------------------------------

def sipp(scenario, *args, calls=1, timeout=60, local_port=None):
    """Runs a sipp scenario against the sandbox; returns the CompletedProcess."""
    log = os.path.join(LOG_DIR, f"sipp-{os.path.basename(scenario)}-{time.time_ns()}")
    cmd = ["sipp", f"127.0.0.1:{SIP_PORT}", "-sf", os.path.join(SCENARIOS, scenario),
           "-m", str(calls), "-i", "127.0.0.1", "-nostdin", "-timeout", f"{timeout}s",
           "-trace_err", "-error_file", log + ".err"]
    if local_port:
        cmd += ["-p", str(local_port)]
    cmd += list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 10)


# -- the daemon ----------------------------------------------------------------

_daemons = []


@atexit.register
def _kill_leftover_daemons():
    """A test that failed before its tearDown must not leave a daemon that
    later takes the application over from the next test."""
    for d in _daemons:
        if d.alive():
            d.proc.kill()
            d.proc.wait()


class Daemon:
    """welcomedlyd as a child process with its log in LOG_DIR."""

    def __init__(self, name="welcomedlyd", **env):
        self.name = name
        self.log_path = os.path.join(LOG_DIR, f"{name}-{time.time_ns()}.log")
        self.env = dict(os.environ)
        self.env.update({"ARI_URL": ARI_URL, "ARI_USERNAME": ARI_USER,
                         "ARI_PASSWORD": ARI_PASSWORD, "LOG_LEVEL": "debug",
                         "API_LISTEN": "127.0.0.1:0",
                         "MIGRATIONS_DIR": os.path.join(SOURCE, "migrations")})
        self.env.update({k: str(v) for k, v in env.items()})
        self.proc = None

    def start(self):
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([DAEMON], env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        _daemons.append(self)
        return self

    def kill(self):
        """SIGKILL, for cleanups after a failure; no-op once stopped."""
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def count(self, pattern):
        return len(re.findall(pattern, self.log()))

    def wait_log(self, pattern, timeout=15.0, count=1):
        return wait_for(lambda: self.count(pattern) >= count, timeout,
                        what=f"/{pattern}/ x{count} in {self.log_path}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15.0):
        """SIGTERM; returns the exit status (0 expected)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name} ignored SIGTERM; log {self.log_path}")
        self._log.close()
        if self.proc.returncode < 0:
            # Killed by a signal it did not ask for: its last lines (a
            # crash prints its stack there) go with the test's output.
            import sys
            tail = self.log().splitlines()[-60:]
            print(f"{self.name} died of signal {-self.proc.returncode}; the end of"
                  f" {self.log_path}:\n" + "\n".join(tail), file=sys.stderr)
        return self.proc.returncode
