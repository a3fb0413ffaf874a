"""A small Chromium DevTools Protocol client for the browser-page tests:
Debian's headless chromium started on a free port, one page target driven
over websocket-client.

    with cdp.Browser() as b:
        page = b.page()
        page.navigate("http://127.0.0.1:8080/wallboard/")
        page.wait("document.querySelector('[data-testid=waiting]')")
        page.screenshot("/tmp/shot.png")

Page errors (uncaught exceptions, console errors, CSP violations) are kept
in Page.errors so that a test can assert there were none.
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import websocket

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CdpError(AssertionError):
    pass


class Page:
    """One page target: commands by id, events kept until read."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=10, suppress_origin=True)
        self.next_id = 0
        self.events = []
        self.errors = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def _note(self, msg):
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = params["exceptionDetails"]
            self.errors.append("exception: " + (d.get("exception", {}).get("description")
                                                or d.get("text", "")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append("console: " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append("log: " + params["entry"]["text"])
        self.events.append(msg)

    def call(self, method, timeout=15, **params):
        """Sends a command and returns its result (CdpError on an error)."""
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            self.ws.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                raise CdpError(f"{method}: no answer within {timeout}s")
            if msg.get("id") == mid:
                if "error" in msg:
                    raise CdpError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self._note(msg)

    def pump(self, seconds=0.0):
        """Reads the events that arrive within seconds."""
        deadline = time.monotonic() + seconds
        while True:
            self.ws.settimeout(max(0.001, deadline - time.monotonic()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                return
            if "method" in msg:
                self._note(msg)

    def eval(self, expression, await_promise=False):
        """The value of a JavaScript expression (JSON-serialisable)."""
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                      awaitPromise=await_promise)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CdpError(f"{expression[:80]}: " +
                           (d.get("exception", {}).get("description") or d.get("text", "")))
        return r["result"].get("value")

    def wait(self, expression, timeout=10.0, interval=0.05, what=None):
        """Polls until the expression is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for "
                                     f"{what or expression}; page errors {self.errors}")
            time.sleep(interval)

    def close_websockets(self):
        """Closes every WebSocket of the page, as a dropped network would;
        returns how many there were."""
        proto = self.call("Runtime.evaluate", expression="WebSocket.prototype")
        found = self.call("Runtime.queryObjects",
                          prototypeObjectId=proto["result"]["objectId"])
        r = self.call("Runtime.callFunctionOn", objectId=found["objects"]["objectId"],
                      functionDeclaration="function () { for (const w of this) w.close();"
                      " return this.length; }", returnByValue=True)
        return r["result"]["value"]

    def navigate(self, url, timeout=15.0):
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete'", timeout, what=f"{url} loaded")

    def viewport(self, width, height):
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


class Browser:
    """Headless chromium with a throw-away profile; a context manager that
    kills it (and removes the profile) on exit, whatever happened."""

    def __init__(self, log_path=None):
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="cdp-profile-")
        self.log = open(log_path or os.devnull, "w")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--no-default-browser-check",
             f"--user-data-dir={self.profile}",
             f"--remote-debugging-port={self.port}", "about:blank"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.pages = []

    def _json(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
            return json.loads(r.read())

    def page(self, timeout=20.0):
        """The first page target, once the browser answers."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise CdpError(f"chromium exited with {self.proc.returncode}")
            try:
                targets = [t for t in self._json("/json/list") if t["type"] == "page"]
                if targets:
                    p = Page(targets[0]["webSocketDebuggerUrl"])
                    self.pages.append(p)
                    return p
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise CdpError(f"chromium answered no DevTools request in {timeout}s")
            time.sleep(0.1)

    def close(self):
        for p in self.pages:
            p.close()
        if self.proc.poll() is None:
            # Its own session: the renderers and the zygote go with it.
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
