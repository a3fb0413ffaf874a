"""A fake ARI server, only for faults a real Asterisk cannot be made to send.

It speaks just enough HTTP/1.1 and RFC 6455 for welcomedlyd: the events
WebSocket at /ari/events (with Basic auth) and REST requests, which it records
and answers from a small table. Tests push raw frames to the connected socket:
garbled JSON, oversized messages, unknown types, fragmented messages.
"""

import asyncio
import base64
import hashlib
import json
import struct
import threading

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FakeAri:
    def __init__(self, username="welcomedly", password="welcomedly"):
        self.auth = "Basic " + base64.b64encode(
            f"{username}:{password}".encode()).decode()
        self.requests = []          # (method, path, body) of REST requests
        self.ws_connections = 0
        self._writers = []
        self._loop = asyncio.new_event_loop()
        self._server = None
        self.port = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    # -- lifecycle ---------------------------------------------------------
    def start(self):
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake ARI did not start")
        return self

    def stop(self):
        async def shutdown():
            for w in list(self._writers):
                w.close()
            self._server.close()
            await self._server.wait_closed()
        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    # -- pushing events ----------------------------------------------------
    def send_text(self, text, fragments=1):
        """Sends one text message to every socket, in `fragments` frames."""
        data = text.encode() if isinstance(text, str) else text
        size = max(1, -(-len(data) // fragments))
        parts = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
        frames = b""
        for i, part in enumerate(parts):
            opcode = 0x1 if i == 0 else 0x0
            fin = 0x80 if i == len(parts) - 1 else 0
            frames += _frame(fin | opcode, part)

        async def push():
            for w in list(self._writers):
                w.write(frames)
                await w.drain()
        asyncio.run_coroutine_threadsafe(push(), self._loop).result(10)

    def send_event(self, event, fragments=1):
        self.send_text(json.dumps(event), fragments)

    def connected(self):
        return len(self._writers)

    # -- protocol ----------------------------------------------------------
    async def _client(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = b""
                if "content-length" in headers:
                    body = await reader.readexactly(
                        int(headers["content-length"]))
                if headers.get("authorization") != self.auth:
                    await self._reply(writer, 401, {"message": "Authentication required"})
                    continue
                if path.startswith("/ari/events"):
                    await self._websocket(reader, writer, headers)
                    return
                self.requests.append((method, path, body.decode()))
                await self._rest(writer, method, path)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if writer in self._writers:
                self._writers.remove(writer)
            writer.close()

    async def _reply(self, writer, status, obj=None):
        body = json.dumps(obj).encode() if obj is not None else b""
        reason = {200: "OK", 204: "No Content", 401: "Unauthorized",
                  404: "Not Found"}.get(status, "OK")
        head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        writer.write(head.encode() + b"\r\n" + body)
        await writer.drain()

    async def _rest(self, writer, method, path):
        if method == "GET" and path.startswith("/ari/applications/"):
            name = path.split("/")[3].split("?")[0]
            await self._reply(writer, 200, {"name": name, "channel_ids": [],
                                            "bridge_ids": [], "endpoint_ids": [],
                                            "device_names": [], "events_allowed": [],
                                            "events_disallowed": []})
        elif method == "GET" and path.split("?")[0] in ("/ari/channels", "/ari/bridges"):
            await self._reply(writer, 200, [])
        elif method in ("POST", "DELETE"):
            await self._reply(writer, 204)
        else:
            await self._reply(writer, 404, {"message": "Not found"})

    async def _websocket(self, reader, writer, headers):
        key = headers.get("sec-websocket-key", "")
        accept = base64.b64encode(
            hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        proto = headers.get("sec-websocket-protocol")
        resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n")
        if proto:
            resp += f"Sec-WebSocket-Protocol: {proto.split(',')[0].strip()}\r\n"
        writer.write((resp + "\r\n").encode())
        await writer.drain()
        self.ws_connections += 1
        self._writers.append(writer)
        while True:
            b0, b1 = await reader.readexactly(2)
            length = b1 & 0x7F
            if length == 126:
                length = struct.unpack("!H", await reader.readexactly(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", await reader.readexactly(8))[0]
            mask = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
            payload = bytearray(await reader.readexactly(length))
            for i in range(length):
                payload[i] ^= mask[i % 4]
            opcode = b0 & 0x0F
            if opcode == 0x9:
                writer.write(_frame(0x8A, bytes(payload)))
                await writer.drain()
            elif opcode == 0x8:
                writer.write(_frame(0x88, bytes(payload[:2])))
                await writer.drain()
                return


def _frame(first_byte, payload):
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", first_byte, n)
    elif n < 65536:
        head = struct.pack("!BBH", first_byte, 126, n)
    else:
        head = struct.pack("!BBQ", first_byte, 127, n)
    return head + payload
