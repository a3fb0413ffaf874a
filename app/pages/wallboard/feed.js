// feed.js: the live event feed (/api/v1/events). Reconnects with
// ?since=<last seq> and a growing delay; tells its owner when the server
// lost events (feed.gap) or restarted (a new epoch), so that the state is
// fetched again through REST.

const BACKOFF_MS = [500, 1000, 2000, 5000, 10000, 30000];

// handlers: onEvent(msg), onStatus('connecting'|'live'|'reconnecting', why),
// onGap(why). Returns { close() }.
export function openFeed(token, handlers) {
  let ws = null;
  let lastSeq = null;
  let epoch = null;
  let failures = 0;
  let timer = null;
  let closed = false;
  let everOpen = false;

  function url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = new URLSearchParams({ access_token: token });
    if (lastSeq !== null) q.set('since', String(lastSeq));
    return `${proto}//${location.host}/api/v1/events?${q}`;
  }

  function onMessage(ev) {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    failures = 0;
    if (msg.type === 'feed.gap') {
      handlers.onGap('the server no longer had every event since the last one seen');
      return;
    }
    if (epoch !== null && msg.epoch && msg.epoch !== epoch) {
      // The server restarted: its seq numbers began again.
      epoch = msg.epoch;
      lastSeq = msg.seq;
      handlers.onGap('the server restarted');
      return;
    }
    if (msg.epoch) epoch = msg.epoch;
    if (typeof msg.seq === 'number') {
      if (lastSeq !== null && msg.seq <= lastSeq) return; // seen already
      lastSeq = msg.seq;
    }
    handlers.onEvent(msg);
  }

  function connect() {
    timer = null;
    handlers.onStatus(lastSeq === null && failures === 0 ? 'connecting' : 'reconnecting');
    ws = new WebSocket(url());
    ws.onopen = () => {
      handlers.onStatus('live');
      // Without a seq to resume from, what happened while away is unknown.
      if (everOpen && lastSeq === null) handlers.onGap('reconnected before any event');
      everOpen = true;
    };
    ws.onmessage = onMessage;
    ws.onclose = (ev) => {
      ws = null;
      if (closed) return;
      const why = ev.code === 1008 ? 'the token was revoked'
        : ev.reason || 'the connection to the server was lost';
      handlers.onStatus('reconnecting', why);
      const delay = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)];
      failures++;
      timer = setTimeout(connect, delay);
    };
  }

  connect();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (ws) ws.close();
    },
  };
}
