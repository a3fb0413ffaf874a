"""RTP peers of the tests: a UDP port in place of a phone's or a trunk
caller's media. It counts the RTP it receives, measures each packet (mean
amplitude, pitch from zero crossings, and the share of its energy at given
tones, by Goertzel), and once it knows where Asterisk sends from (symmetric
RTP) answers with a mu-law tone of its own every 20 ms. Each party of a test
gets its own tone, so that what a party hears tells whose voice reached it.
"""

import math
import socket
import struct
import threading
import time


def ulaw(sample):
    """G.711 mu-law of a 16-bit sample."""
    sign = 0x80 if sample < 0 else 0
    sample = min(abs(sample), 32635) + 0x84
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not sample & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | exponent << 4 | mantissa) & 0xFF


def ulaw_decode(byte):
    byte = ~byte & 0xFF
    t = ((byte & 0x0F) << 3) + 0x84
    t <<= (byte & 0x70) >> 4
    return (0x84 - t) if byte & 0x80 else (t - 0x84)


ULAW_TABLE = [ulaw_decode(b) for b in range(256)]


def tone_share(samples, hz, rate=8000):
    """The share (0..1) of the samples' energy at hz (Goertzel)."""
    n = len(samples)
    if n == 0:
        return 0.0
    k = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + k * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - k * s1 * s2
    total = sum(x * x for x in samples)
    return 0.0 if total == 0 else min(1.0, 2 * power / (n * total))


def measure(payload, tones=()):
    """(mean amplitude, pitch in Hz from zero crossings, {tone: share}) of
    8 kHz mu-law."""
    samples = [ULAW_TABLE[b] for b in payload]
    if not samples:
        return 0.0, 0.0, {}
    crossings = sum(1 for a, b in zip(samples, samples[1:]) if (a < 0) != (b < 0))
    return (sum(abs(x) for x in samples) / len(samples),
            crossings / 2 / (len(samples) / 8000),
            {hz: tone_share(samples, hz) for hz in tones})


class RtpPeer:
    """One party's media on loopback, sending a tone of freq Hz. tones: the
    frequencies whose share of each received packet is measured."""

    def __init__(self, freq=1000.0, tones=()):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.02)
        self.port = self.sock.getsockname()[1]
        self.tones = tuple(tones)
        self.received = []      # (monotonic time, mean amplitude, pitch, shares)
        self.sent = 0
        self.peer = None
        self._stop = threading.Event()
        tone = [int(8000 * math.sin(2 * math.pi * freq * i / 8000)) for i in range(160)]
        self._payload = bytes(ulaw(s) for s in tone)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        seq, ts, ssrc = 0, 0, 0x5157AB1E
        next_send = time.monotonic()
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(2048)
                if len(data) > 12 and data[0] >> 6 == 2:
                    self.received.append((time.monotonic(),) +
                                         measure(data[12:], self.tones))
                    self.peer = addr
            except socket.timeout:
                pass
            now = time.monotonic()
            if self.peer and now >= next_send:
                header = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
                self.sock.sendto(header + self._payload, self.peer)
                self.sent += 1
                seq += 1
                ts += 160
                next_send = max(next_send + 0.02, now - 0.1)

    def count_since(self, t, min_energy=0.0, tone_hz=None):
        """Packets received since monotonic time t, with at least that mean
        amplitude and, given tone_hz, a pitch within 15 % of it."""
        def fits(hz):
            return tone_hz is None or abs(hz - tone_hz) <= 0.15 * tone_hz
        return sum(1 for _, e, hz, _ in self._since(t) if e >= min_energy and fits(hz))

    @staticmethod
    def _carries(row, hz, share, min_energy):
        """A received packet (a row of received) carries tone hz: at least
        that share of a sound of at least min_energy."""
        _, e, _, shares = row
        return e >= min_energy and shares.get(hz, 0.0) >= share

    def _since(self, t):
        return [r for r in list(self.received) if r[0] >= t]

    def heard(self, hz, t, share=0.05, min_energy=100.0):
        """Packets since monotonic time t in which tone hz (one of tones)
        carries at least that share of a sound of at least min_energy."""
        return sum(1 for r in self._since(t) if self._carries(r, hz, share, min_energy))

    def packets_before(self, hz, t, share=0.05, min_energy=100.0):
        """How many of the packets received since monotonic time t came
        before the first that carries tone hz (as heard() counts them), or
        None when none does."""
        return next((i for i, r in enumerate(self._since(t))
                     if self._carries(r, hz, share, min_energy)), None)

    def timeline(self, hz, t, share=0.05, min_energy=100.0, bin_s=0.1, bins=20):
        """What was heard from the first packet received since monotonic
        time t, per bin of bin_s seconds: "packets/with tone hz" (as heard()
        counts them), and the mean amplitude and pitch of the first packet
        without it; for assertion messages."""
        got = self._since(t)
        if not got:
            return "no packets"
        cells = []
        for i in range(bins):
            start = got[0][0] + i * bin_s
            rows = [r for r in got if start <= r[0] < start + bin_s]
            other = [r for r in rows if not self._carries(r, hz, share, min_energy)]
            cell = f"{len(rows)}/{len(rows) - len(other)}"
            if other:
                cell += f"(e={other[0][1]:.0f},{other[0][2]:.0f}Hz)"
            cells.append(cell)
        return " ".join(cells)

    def stop(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
