// store.js: the wallboard's one state object, filled from a REST snapshot
// and kept current by feed events. The views only read it.

export const WINDOW_MS = 15 * 60 * 1000;
const QUEUED = new Set(['queued', 'offered']);

export function createState() {
  return {
    token: null,
    feed: { status: 'connecting', why: '' },
    error: '',
    openedAt: Date.now(),
    ready: false, // a snapshot is in; events before it wait in pending
    pending: [],
    skewMs: null, // local clock minus the server's
    campaigns: new Map(),
    agents: new Map(),
    calls: new Map(),
  };
}

// A server timestamp on the local clock.
function local(state, at) {
  const t = Date.parse(at);
  if (Number.isNaN(t)) return Date.now();
  return t + (state.skewMs || 0);
}

// The fastest-arriving event tells the clocks' difference best; replayed
// events arrive late and never lower the estimate.
function learnSkew(state, at) {
  const d = Date.now() - Date.parse(at);
  if (Number.isNaN(d)) return;
  if (state.skewMs === null || d < state.skewMs) state.skewMs = d;
}

function campaign(state, id) {
  let c = state.campaigns.get(id);
  if (!c) {
    c = {
      id, name: `Campaign ${id}`, slSeconds: 20, members: new Set(),
      queue: null, queueAt: Date.now(), history: [], recent: [],
    };
    state.campaigns.set(id, c);
  }
  return c;
}

function sample(c, now = Date.now()) {
  const v = c.queue ? c.queue.waiting : 0;
  const last = c.history[c.history.length - 1];
  if (!last || last.v !== v) c.history.push({ t: now, v });
  // Keep one point older than the window: the line starts from it.
  while (c.history.length > 1 && c.history[1].t < now - WINDOW_MS) c.history.shift();
}

function setQueue(c, q) {
  c.queue = q;
  c.queueAt = Date.now();
  c.name = q.name;
  c.slSeconds = q.service_level_seconds;
  sample(c);
}

// snap: {campaigns, queues, agents, calls, members: Map<campaign id, agent ids>}.
export function applySnapshot(state, snap) {
  const now = Date.now();
  const seen = new Set();
  for (const k of snap.campaigns) {
    const c = campaign(state, k.id);
    c.name = k.name;
    c.slSeconds = k.service_level_seconds;
    c.members = new Set(snap.members.get(k.id) || []);
    seen.add(k.id);
  }
  for (const q of snap.queues) {
    if (seen.has(q.campaign_id)) setQueue(campaign(state, q.campaign_id), q);
  }
  for (const id of [...state.campaigns.keys()]) if (!seen.has(id)) state.campaigns.delete(id);
  state.agents = new Map(snap.agents.map((a) => [a.id, {
    id: a.id, name: a.name, state: a.state, reason: a.state_reason,
    sinceMs: now - a.time_in_state * 1000,
  }]));
  state.calls = new Map(snap.calls.map((k) => [k.id, {
    id: k.id, campaignId: k.campaign_id, agentId: k.agent_id, state: k.state,
    caller: k.caller_number, direction: k.direction,
    sinceMs: k.state === 'talking' && k.answered_at ? local(state, k.answered_at)
      : now - k.wait_seconds * 1000,
    supervision: state.calls.get(k.id)?.supervision || null,
  }]));
  state.ready = true;
  const pending = state.pending;
  state.pending = [];
  for (const msg of pending) applyEvent(state, msg, false);
}

function nudgeWaiting(c, delta, now) {
  if (!c.queue) return;
  const q = c.queue;
  if (delta > 0 && q.waiting === 0) {
    q.longest_wait_seconds = 0;
    c.queueAt = now;
  }
  q.waiting = Math.max(0, q.waiting + delta);
  if (q.waiting === 0) q.longest_wait_seconds = 0;
  sample(c, now);
}

function remember(c, kind, wait, t) {
  c.recent.push({ t, kind, wait });
  while (c.recent.length && c.recent[0].t < Date.now() - WINDOW_MS) c.recent.shift();
}

const handlers = {
  'queue.stats'(state, d) {
    if (state.campaigns.has(d.campaign_id)) setQueue(state.campaigns.get(d.campaign_id), d);
  },
  'agent.state_changed'(state, d, t) {
    let a = state.agents.get(d.agent_id);
    if (!a) {
      a = { id: d.agent_id, name: `Agent ${d.agent_id}` };
      state.agents.set(d.agent_id, a);
    }
    Object.assign(a, { state: d.to, reason: d.reason, sinceMs: t });
  },
  'call.queued'(state, d, t, live) {
    if (state.calls.has(d.call_id)) return;
    state.calls.set(d.call_id, {
      id: d.call_id, campaignId: d.campaign_id, agentId: null, state: 'queued',
      caller: d.caller_number, direction: 'inbound', sinceMs: t, supervision: null,
    });
    // queue.stats follows within a second; the number moves now.
    if (live && state.campaigns.has(d.campaign_id)) nudgeWaiting(state.campaigns.get(d.campaign_id), 1, t);
  },
  'call.offered'(state, d) {
    const k = state.calls.get(d.call_id);
    if (k) Object.assign(k, { agentId: d.agent_id, state: QUEUED.has(k.state) ? 'offered' : k.state });
  },
  'call.answered'(state, d, t, live) {
    const k = state.calls.get(d.call_id);
    const c = state.campaigns.get(d.campaign_id);
    if (k && QUEUED.has(k.state) && live && c) nudgeWaiting(c, -1, t);
    if (k) Object.assign(k, { agentId: d.agent_id, state: 'talking', sinceMs: t });
    if (c) remember(c, 'answered', d.wait_seconds, t);
  },
  'call.ended'(state, d, t, live) {
    const k = state.calls.get(d.call_id);
    const c = state.campaigns.get(d.campaign_id);
    if (k && QUEUED.has(k.state) && live && c) nudgeWaiting(c, -1, t);
    state.calls.delete(d.call_id);
    if (c && d.abandoned) remember(c, 'abandoned', null, t);
  },
  'call.supervised'(state, d) {
    const k = state.calls.get(d.call_id);
    if (k) k.supervision = { agentId: d.supervisor_agent_id, mode: d.mode };
  },
  'call.supervision_ended'(state, d) {
    const k = state.calls.get(d.call_id);
    if (k) k.supervision = null;
  },
};

// live: the event is newer than the snapshot, so counters may move by it.
export function applyEvent(state, msg, live = true) {
  if (!state.ready) {
    state.pending.push(msg);
    return;
  }
  const h = handlers[msg.type];
  if (!h || !msg.data) return;
  if (live) learnSkew(state, msg.at);
  h(state, msg.data, local(state, msg.at), live);
}

// Moves the sparklines' time on while nothing changes.
export function tick(state) {
  for (const c of state.campaigns.values()) sample(c);
}
