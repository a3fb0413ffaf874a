"""A real-browser WebRTC test bed: a network namespace, headless Chromium
driven over the DevTools protocol (cdp.py), and coturn.

Asterisk's ICE offers no loopback candidates, so Asterisk and Chromium share
a network namespace that has a non-loopback interface: a veth pair with both
ends inside it (HOST_ADDR, PEER_ADDR). A test module calls enter_netns()
before it imports harness: the first call re-runs the module inside a fresh
namespace and deletes the namespace when the module exits (also on failure);
inside, the environment names this bed's own PostgreSQL port, Asterisk
instance and log directory, which harness reads at import.

    import browser
    browser.enter_netns()
    import harness
    ...
    chrome = browser.Chromium("agent").start()
    page = chrome.page()
    page.navigate("http://127.0.0.1:8090/agent/")
    page.click("button[data-testid=answer]")
"""

import base64
import fcntl
import functools
import hashlib
import hmac
import json
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import wave

import cdp

NETNS_ENV = "WELCOMEDLY_RTC_NETNS"
HOST_ADDR = "10.203.0.1"
PEER_ADDR = "10.203.0.2"
# Every address of the namespace is local, so a socket bound to 0.0.0.0
# answers from whichever address the packet was sent to, not from the one its
# ICE candidate names; through the TURN relay (on HOST_ADDR) that breaks the
# symmetry ICE requires. Asterisk's media is therefore bound to MEDIA_ADDR
# (see bind_media), coturn's relay to HOST_ADDR.
MEDIA_ADDR = PEER_ADDR
# The namespace's links must have settled before Chromium starts, or it
# reports ERR_NETWORK_CHANGED on its first loads.
SETTLE_S = 1.5
TURN_PORT = 3478
TURN_REALM = "welcomedly"
TOOLS_NEEDED = {"chromium": "chromium", "turnserver": "coturn",
                "turnutils_uclient": "coturn", "sipp": "sip-tester", "ip": "iproute2"}


def _source():
    return os.environ.get("WELCOMEDLY_SOURCE", os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))))


# -- the network namespace -------------------------------------------------------

def _ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), check=check, capture_output=True, text=True)


def _netns_create(name):
    _ip("netns", "add", name)
    _ip("-n", name, "link", "set", "lo", "up")
    _ip("-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    _ip("-n", name, "addr", "add", HOST_ADDR + "/24", "dev", "v0")
    _ip("-n", name, "addr", "add", PEER_ADDR + "/24", "dev", "v1")
    _ip("-n", name, "link", "set", "v0", "up")
    _ip("-n", name, "link", "set", "v1", "up")
    # Chromium and Asterisk would otherwise gather link-local IPv6 candidates
    # that appear a moment later and change the network under Chromium.
    subprocess.run(["ip", "netns", "exec", name, "sysctl", "-q", "-w",
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1",
                    "net.ipv6.conf.lo.disable_ipv6=1",
                    "net.ipv6.conf.v0.disable_ipv6=1",
                    "net.ipv6.conf.v1.disable_ipv6=1"], check=True, capture_output=True)


def _stop_sandboxes(env):
    """Stops the bed's Asterisk and PostgreSQL, wherever they run: a run
    killed before its clean-up may have left them in a namespace that is
    gone, where they would still hold their directories."""
    tools = os.path.join(_source(), "tools")
    subprocess.run([os.path.join(tools, "sandbox-asterisk"), "stop", "--name",
                    env["WELCOMEDLY_TEST_SANDBOX"]], env=env, capture_output=True)
    subprocess.run([os.path.join(tools, "sandbox-pg"), "stop", "--port",
                    env["WELCOMEDLY_TEST_PG_PORT"]], env=env, capture_output=True)


def _netns_delete(name, env):
    """Stops what the run left behind in the namespace, then deletes it."""
    _stop_sandboxes(env)
    # Only processes of this namespace, which this run started, by their id.
    pids = _ip("netns", "pids", name, check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    _ip("netns", "delete", name, check=False)


def _missing_tools():
    return sorted({pkg for prog, pkg in TOOLS_NEEDED.items() if not shutil.which(prog)})


def enter_netns():
    """Returns at once inside the bed's namespace. Outside it, creates the
    namespace, runs this same program inside it with the bed's environment,
    deletes the namespace and exits with the program's status."""
    if os.environ.get(NETNS_ENV):
        return
    missing = _missing_tools()
    if missing:
        sys.exit(f"the WebRTC test bed needs the Debian packages {' '.join(missing)}"
                 f" (tools/deps installs them)")
    if os.geteuid() != 0:
        sys.exit("the WebRTC test bed needs root (it creates a network namespace)")
    state = os.environ.get("WELCOMEDLY_STATE", "/var/tmp/welcomedly")
    os.makedirs(state, exist_ok=True)
    # One bed at a time on a machine: they share the PostgreSQL data
    # directory and the Asterisk instance directory.
    lock = open(os.path.join(state, "rtc-bed.lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    name = f"wd-rtc-{os.getpid()}"
    base_pg = int(os.environ.get("WELCOMEDLY_TEST_PG_PORT", "55433"))
    logs = os.environ.get("WELCOMEDLY_TEST_LOGS") or tempfile.mkdtemp(prefix="welcomedly-rtc-")
    env = dict(os.environ, **{
        NETNS_ENV: name,
        "WELCOMEDLY_RTC_NETNS_SINCE": str(time.time()),
        # sandbox-pg keys its data directory by port on the shared disk.
        "WELCOMEDLY_TEST_PG_PORT": str(base_pg + 20),
        "WELCOMEDLY_TEST_SANDBOX": "rtc",
        "WELCOMEDLY_TEST_LOGS": logs,
    })
    env.pop("WELCOMEDLY_TEST_DATABASE_URL", None)
    os.makedirs(logs, exist_ok=True)
    proc = None

    def forward(signum, _frame):
        if proc is not None and proc.poll() is None:
            proc.send_signal(signum)

    rc = 1
    try:
        _stop_sandboxes(env)
        _netns_create(name)
        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        proc = subprocess.Popen(["ip", "netns", "exec", name, sys.executable] + sys.argv,
                                env=env)
        rc = proc.wait()
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        _netns_delete(name, env)
    # A child killed by a signal exits as a shell would report it.
    sys.exit(rc if rc >= 0 else 128 - rc)


def settle():
    """Waits until the namespace's links have settled (see SETTLE_S)."""
    since = float(os.environ.get("WELCOMEDLY_RTC_NETNS_SINCE", "0"))
    left = since + SETTLE_S - time.time()
    if left > 0:
        time.sleep(left)


def bind_media(endpoint, sql):
    """Binds an endpoint's RTP to MEDIA_ADDR (see MEDIA_ADDR); sql is
    harness.sql."""
    sql(f"UPDATE ps_endpoints SET media_address = '{MEDIA_ADDR}',"
        f" bind_rtp_to_media_address = 'yes' WHERE id = '{endpoint}'")


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- media files --------------------------------------------------------------------

def tone_wav(path, freq=440.0, seconds=10.0, rate=48000, amplitude=0.3):
    """Writes a 16-bit mono sine WAV (Chromium's fake microphone loops it)."""
    n = int(seconds * rate)
    frames = bytearray()
    for i in range(n):
        frames += struct.pack("<h", int(amplitude * 32767 *
                                        math.sin(2 * math.pi * freq * i / rate)))
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return path


# -- Chromium and the DevTools protocol ----------------------------------------------

class Page(cdp.Page):
    """cdp.Page with what the softphone tests need: the page's console and
    exceptions written to a log file as they are read, a click with the
    mouse, typing, screenshots named after the state they show, handlers for
    events that need an answer (Fetch), and scripts run before the page's."""

    def __init__(self, ws_url, log_path, shots_dir, name):
        self._log = open(log_path, "a")
        self.name = name
        self.shots_dir = shots_dir
        self._shot = 0
        self.handlers = {}
        self.exceptions = []
        super().__init__(ws_url)
        self.call("Network.enable")

    def close(self):
        super().close()
        self._log.close()

    def _note(self, msg):
        method = msg.get("method")
        params = msg.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", a.get("type"))))
                            for a in params.get("args", []))
            self._write(f"console.{params.get('type')}: {text}")
        elif method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            text = d.get("exception", {}).get("description") or d.get("text")
            self.exceptions.append(text)
            self._write(f"exception: {text}")
        elif method == "Log.entryAdded":
            e = params.get("entry", {})
            self._write(f"log.{e.get('level')}: {e.get('text')} {e.get('url', '')}")
        elif method == "Network.loadingFailed":
            self._write(f"network failed: {params.get('errorText')} {params.get('type')}")
        handler = self.handlers.get(method)
        if handler:
            handler(params)
        elif not method.startswith("Network."):
            super()._note(msg)

    def _write(self, line):
        self._log.write(f"{time.strftime('%H:%M:%S')} [{self.name}] {line}\n")
        self._log.flush()

    def post(self, method, **params):
        """Sends a command without waiting for its answer (from a handler,
        which runs while another command waits for its own)."""
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))

    def evaluate(self, expr, timeout=30.0):
        """The value of a JavaScript expression, promises awaited, run as if
        from a user gesture."""
        r = self.call("Runtime.evaluate", timeout=timeout + 5, expression=expr,
                      awaitPromise=True, returnByValue=True, userGesture=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise cdp.CdpError(f"{expr[:80]!r} threw: "
                               f"{d.get('exception', {}).get('description') or d.get('text')}")
        return r.get("result", {}).get("value")

    def wait_js(self, expr, timeout=10.0, what=None, interval=0.1):
        """Polls an expression until it is truthy, reading events between
        polls; returns its value. A screenshot is taken when it times out."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expr)
            if value:
                return value
            if time.monotonic() > deadline:
                self.screenshot("timeout")
                raise AssertionError(f"timed out after {timeout}s waiting for "
                                     f"{what or expr}; last value {value!r}")
            self.pump(interval)

    def navigate(self, url, timeout=15.0):
        """Loads url and waits until that document (not the one before it)
        has loaded."""
        r = self.call("Page.navigate", url=url)
        if r.get("errorText"):
            raise cdp.CdpError(f"navigate {url}: {r['errorText']}")
        self.wait_js(f"location.href.split('#')[0] === {json.dumps(url.split('#')[0])}"
                     f" && document.readyState === 'complete'", timeout, what=f"{url} loaded")

    @staticmethod
    def _q(selector):
        return json.dumps(selector)

    def text(self, selector):
        """The element's text (trimmed), or None when there is none."""
        return self.evaluate(f"(e => e ? e.textContent.trim() : null)"
                             f"(document.querySelector({self._q(selector)}))")

    def wait_text(self, selector, expected, timeout=10.0):
        """Waits until the element's text is expected (a string, or a tuple
        of accepted strings); returns the text."""
        accepted = (expected,) if isinstance(expected, str) else tuple(expected)
        js = (f"(e => e && {json.dumps(list(accepted))}.includes(e.textContent.trim())"
              f" ? e.textContent.trim() : null)(document.querySelector({self._q(selector)}))")
        try:
            return self.wait_js(js, timeout)
        except AssertionError:
            raise AssertionError(f"{selector} text {self.text(selector)!r}, expected "
                                 f"{expected!r} within {timeout}s") from None

    def wait_visible(self, selector, timeout=10.0, visible=True):
        """Waits until the element is shown (exists, no hidden ancestor, has
        a box), or with visible=False until it is not."""
        js = (f"(e => (!!e && !e.closest('[hidden]') && e.getClientRects().length > 0)"
              f" === {json.dumps(visible)})(document.querySelector({self._q(selector)}))")
        self.wait_js(js, timeout, what=f"{selector} {'shown' if visible else 'hidden'}")

    def click(self, selector, timeout=10.0):
        """Clicks the element's centre with the mouse, as a person would:
        it must be shown and enabled."""
        q = self._q(selector)
        box = self.wait_js(
            f"(e => {{ if (!e || e.disabled || e.closest('[hidden]')) return null;"
            f" e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();"
            f" return r.width > 0 ? [r.x + r.width / 2, r.y + r.height / 2] : null; }})"
            f"(document.querySelector({q}))", timeout, what=f"{selector} clickable")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1],
                      button="left", clickCount=1)

    def type(self, selector, text):
        """Focuses the element and types text into it."""
        self.evaluate(f"document.querySelector({self._q(selector)}).focus()")
        self.call("Input.insertText", text=text)

    def screenshot(self, label):
        """Saves a PNG of the page next to the test logs; returns its path."""
        self._shot += 1
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", label)
        path = os.path.join(self.shots_dir, f"shot-{self.name}-{self._shot:02d}-{safe}.png")
        try:
            return super().screenshot(path)
        except cdp.CdpError as e:
            self._write(f"screenshot {label} failed: {e}")
            return None

    def before_load(self, source):
        """Runs the script in every document this page loads, before its own."""
        self.call("Page.addScriptToEvaluateOnNewDocument", source=source)

    def watch_ice_errors(self):
        """Every RTCPeerConnection of the next documents keeps its ICE
        candidate errors (a STUN or TURN server's refusals) in
        window.__wdIceErrors as {code, text, url}."""
        self.before_load("""(() => {
            window.__wdIceErrors = [];
            const Native = window.RTCPeerConnection;
            window.RTCPeerConnection = function (...args) {
                const pc = new Native(...args);
                pc.addEventListener('icecandidateerror', (e) => window.__wdIceErrors.push(
                    {code: e.errorCode, text: e.errorText, url: e.url}));
                return pc;
            };
            window.RTCPeerConnection.prototype = Native.prototype;
            Object.setPrototypeOf(window.RTCPeerConnection, Native);
        })()""")

    def trace_websockets(self):
        """The next documents' WebSockets log (to the console, so to the
        log file) when they open and close, with the code, the reason and
        who called close()."""
        self.before_load("""(() => {
            const Native = window.WebSocket;
            const nativeClose = Native.prototype.close;
            Native.prototype.close = function (...args) {
                console.log(`websocket close() ${this.url.split('?')[0]} by`,
                            new Error().stack.split('\\n').slice(2, 6).join(' | '));
                return nativeClose.apply(this, args);
            };
            window.WebSocket = function (...args) {
                const ws = new Native(...args);
                const url = String(args[0]).split('?')[0];
                ws.addEventListener('open', () => console.log(`websocket open ${url}`));
                ws.addEventListener('close', (e) => console.log(
                    `websocket closed ${url} code=${e.code} reason=${e.reason}`));
                return ws;
            };
            window.WebSocket.prototype = Native.prototype;
            Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
        })()""")

    def rewrite_responses(self, url_pattern, rewrite):
        """Answers every request whose URL matches url_pattern (a CDP Fetch
        pattern, * wildcards) with rewrite(url, method, headers), which
        returns (status, body bytes, content type) - the real answer fetched
        by the caller, changed."""

        def paused(params):
            req = params["request"]
            try:
                status, body, ctype = rewrite(req["url"], req["method"], req["headers"])
            except Exception as e:  # the page must not hang on our mistake
                self._write(f"rewrite of {req['url']} failed: {e}")
                self.post("Fetch.continueRequest", requestId=params["requestId"])
                return
            self._write(f"rewrote {req['method']} {req['url']} -> {status}")
            self.post("Fetch.fulfillRequest", requestId=params["requestId"],
                      responseCode=status,
                      responseHeaders=[{"name": "Content-Type", "value": ctype}],
                      body=base64.b64encode(body).decode())

        self.handlers["Fetch.requestPaused"] = paused
        self.call("Fetch.enable", patterns=[{"urlPattern": url_pattern,
                                             "requestStage": "Request"}])


class Chromium:
    """cdp.Browser in the bed's namespace, with a fake microphone playing a
    tone; its pages are Page."""

    def __init__(self, name="chromium", tone_hz=440.0):
        from harness import LOG_DIR
        self.name = name
        self.log_dir = LOG_DIR
        self.tmp = tempfile.mkdtemp(prefix=f"wd-{name}-")
        self.wav = tone_wav(os.path.join(self.tmp, "tone.wav"), tone_hz)
        self.console_log = os.path.join(LOG_DIR, f"chromium-{name}-console.log")
        self.stderr_log = os.path.join(LOG_DIR, f"chromium-{name}-stderr.log")
        self.browser = None

    def start(self):
        settle()
        self.browser = cdp.Browser(self.stderr_log, args=[
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={self.wav}",
            "--autoplay-policy=no-user-gesture-required",
            "--allow-loopback-in-peer-connection", "--window-size=1280,900"])
        return self

    def page(self):
        """A Page on the first page target."""
        return self.browser.page(page_class=functools.partial(
            Page, log_path=self.console_log, shots_dir=self.log_dir, name=self.name))

    def stop(self):
        if self.browser is not None:
            self.browser.close()
            self.browser = None
        shutil.rmtree(self.tmp, ignore_errors=True)


# -- coturn ---------------------------------------------------------------------------

def turn_credentials(secret, ttl=600, user="agent", expiry=None):
    """TURN REST credentials: (username, password) valid until now + ttl
    (or until the given expiry, a Unix time)."""
    username = f"{int(expiry if expiry is not None else time.time() + ttl)}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


class Coturn:
    """coturn with the shipped configuration (asterisk-conf/coturn), on
    HOST_ADDR:TURN_PORT, the secret and the relay ports given on its command
    line."""

    def __init__(self, secret, port=TURN_PORT, relay_ports=(49160, 49200)):
        from harness import LOG_DIR
        self.secret = secret
        self.port = port
        self.relay_ports = relay_ports
        self.log_path = os.path.join(LOG_DIR, f"coturn-{time.time_ns()}.log")
        self.tmp = tempfile.mkdtemp(prefix="wd-coturn-")
        self.proc = None

    def start(self, timeout=10.0):
        conf = os.path.join(_source(), "asterisk-conf", "coturn", "turnserver.conf")
        rendered = os.path.join(self.tmp, "turnserver.conf")
        with open(conf) as f:
            text = f.read()
        # The shipped file holds a placeholder; the real secret is given on
        # the command line, which wins, but keep the placeholder out anyway.
        text = re.sub(r"(?m)^static-auth-secret=.*$", "", text)
        with open(rendered, "w") as f:
            f.write(text)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            ["turnserver", "-c", rendered, "--allow-loopback-peers", "--verbose",
             "--static-auth-secret", self.secret, "--listening-port", str(self.port),
             "--listening-ip", HOST_ADDR, "--relay-ip", HOST_ADDR,
             "--min-port", str(self.relay_ports[0]), "--max-port", str(self.relay_ports[1]),
             "--pidfile", os.path.join(self.tmp, "turnserver.pid"),
             "--userdb", os.path.join(self.tmp, "turndb")],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=self.tmp)
        deadline = time.monotonic() + timeout
        while not self._listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"turnserver did not start; see {self.log_path}")
            time.sleep(0.05)
        return self

    def _listening(self):
        out = subprocess.run(["ss", "-Hlun", f"src {HOST_ADDR}:{self.port}"],
                             capture_output=True, text=True).stdout
        return bool(out.strip())

    def allocate(self, username, password, timeout=15):
        """turnutils_uclient's check: allocates and relays a few packets.
        Returns (ok, output)."""
        res = subprocess.run(
            ["turnutils_uclient", "-u", username, "-w", password, "-p", str(self.port),
             "-e", HOST_ADDR, "-n", "3", "-m", "1", "-l", "100", "-y", HOST_ADDR],
            capture_output=True, text=True, timeout=timeout)
        out = res.stdout + res.stderr
        ok = res.returncode == 0 and "Total lost packets 0" in out
        return ok, out

    def stop(self):
        if self.proc is not None:
            from harness import stop_process
            stop_process(self.proc)
            self._log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
