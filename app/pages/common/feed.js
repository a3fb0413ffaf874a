// feed.js: the client of the event feed (/api/v1/events). Keeps one
// WebSocket open, resumes after a drop with ?since=<last seq> so nothing
// is missed, and waits longer after each failure (0.5 s doubling to 30 s,
// with jitter) so a restarting server is not flooded.

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 30000;
// A socket that stayed open this long counts as healthy: the next drop
// starts the backoff from the beginning again.
const HEALTHY_MS = 10000;

export class Feed {
  // api: an Api (for the URL and token). handlers:
  //   onEvent(message)   each event, in seq order (feed.gap excluded)
  //   onStatus(status, why)
  //                      "connecting" | "live" | "reconnecting"; why: when
  //                      reconnecting, what closed the feed, in words
  //   onResync(reason)   state must be fetched again through REST: after a
  //                      "reconnect", a feed "gap", or a server "restart"
  //                      (new epoch)
  //   onFatal(sentence)  the token was revoked; the feed stops
  constructor(api, handlers) {
    this.api = api;
    this.handlers = handlers;
    this.lastSeq = null;
    this.epoch = null;
    this.ws = null;
    this.timer = null;
    this.failures = 0;
    this.everOpen = false;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.handlers.onStatus("connecting");
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }

  // Reconnects at once (e.g. the browser came back online).
  nudge() {
    if (this.stopped || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.timer);
    this.open();
  }

  open() {
    const ws = new WebSocket(this.api.eventsUrl(this.lastSeq));
    this.ws = ws;
    let openedAt = 0;
    const reconnect = this.everOpen;
    ws.onopen = () => {
      openedAt = Date.now();
      this.everOpen = true;
      this.handlers.onStatus("live");
      // `since` replays what was missed, but a restarted server (new epoch)
      // says so only with its next event, which may be long in coming.
      if (reconnect) this.handlers.onResync("reconnect");
    };
    ws.onmessage = (e) => this.receive(e.data);
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (e.code === 1008) {
        this.stopped = true;
        this.handlers.onStatus("reconnecting", "the token was revoked");
        this.handlers.onFatal("The event feed was closed because the token was revoked. Sign in again.");
        return;
      }
      if (openedAt && Date.now() - openedAt > HEALTHY_MS) this.failures = 0;
      this.handlers.onStatus("reconnecting", e.reason || "the connection to the server was lost");
      this.retry();
    };
  }

  retry() {
    const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.failures);
    this.failures = Math.min(this.failures + 1, 16);
    const delay = base / 2 + Math.random() * (base / 2);
    this.timer = setTimeout(() => this.open(), delay);
  }

  receive(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (!msg || typeof msg.type !== "string") return;
    if (msg.type === "feed.gap") {
      this.handlers.onResync("gap");
      return;
    }
    // A new epoch is a restarted server whose seqs start again: what we
    // had is stale and our `since` means nothing to it.
    if (msg.epoch && this.epoch && msg.epoch !== this.epoch) {
      this.lastSeq = null;
      this.handlers.onResync("restart");
    }
    if (msg.epoch) this.epoch = msg.epoch;
    if (typeof msg.seq === "number") {
      if (this.lastSeq !== null && msg.seq <= this.lastSeq) return;
      this.lastSeq = msg.seq;
    }
    this.handlers.onEvent(msg);
  }
}
