// main.js: signs in, fetches the state, follows the event feed and wires
// the controls (TV mode, the supervisor's agent id, listen/whisper/barge).

import { Api } from '/common/api.js';
import { Feed } from '/common/feed.js';
import { applyEvent, applySnapshot, createState, tick } from './store.js';
import { render, renderStatus } from './view.js';

const TOKEN_KEY = 'wallboard.token';
const SUPERVISOR_KEY = 'wallboard.supervisorAgentId';
const TV_KEY = 'wallboard.tv';
const MODE_WORDS = { listen: 'listen to', whisper: 'whisper on', barge: 'barge into' };
// What a failure means on the wallboard, rather than the server's words.
const SENTENCES = {
  401: 'The token was refused: sign in again with a valid supervisor token.',
  403: 'This token may not do that: the wallboard needs a supervisor or admin token.',
  429: 'The server asks to slow down; try again in a moment.',
  503: 'The telephony server is not ready (Asterisk or the database is down).',
};
// Why the figures are fetched again, for the error should that fail.
const RESYNC_WORDS = {
  reconnect: 'the feed reconnected',
  gap: 'the server no longer had every event since the last one seen',
  restart: 'the server restarted',
};

const $ = (id) => document.getElementById(id);
const state = createState();
let api = null;
let feed = null;
let scheduled = false;
let loading = null;
let again = null;

function draw() {
  scheduled = false;
  renderStatus($('feed-status'), $('error'), state);
  render($('campaigns'), state, { supervise });
  $('no-campaigns').hidden = !state.ready || state.campaigns.size > 0;
}

function redraw() {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(draw);
}

function showError(text) {
  state.error = text;
  redraw();
}

function notice(text) {
  $('notice').textContent = text;
  $('notice').hidden = !text;
}

// The state again from REST: at sign-in, after a feed gap, after a
// restart of the server. Events meanwhile wait in state.pending.
async function load() {
  state.ready = false;
  const [campaigns, queues, agents, calls] = await Promise.all([
    api.list('/campaigns'), api.list('/queues'), api.list('/agents'), api.list('/calls')]);
  const members = new Map(await Promise.all(campaigns.map(async (c) =>
    [c.id, (await api.list(`/campaigns/${c.id}/agents`)).map((m) => m.agent_id)])));
  applySnapshot(state, { campaigns, queues, agents, calls, members });
  redraw();
}

function reload(why) {
  if (loading) {
    again = why; // what changed meanwhile may be missing from this load
    return;
  }
  loading = load().then(() => {
    if (state.error.startsWith('The wallboard could not')) showError('');
  }, (e) => {
    if (!feed) return; // the token was revoked: the page asks for another
    showError(`The wallboard could not fetch the figures (${why}): ${e.message}`);
    setTimeout(() => reload(why), 5000);
  }).finally(() => {
    loading = null;
    if (again) {
      const next = again;
      again = null;
      reload(next);
    }
  });
}

// Campaigns, agents and memberships have no events of their own: one the
// page does not know yet is fetched with everything else.
// Each is asked for once, so that one the API does not list (deleted
// meanwhile) does not make the page fetch again and again.
const asked = new Set();

function unknown(msg) {
  let key = null;
  if (!state.ready) return false;
  if (msg.type === 'queue.stats' && !state.campaigns.has(msg.data.campaign_id)) {
    key = `campaign ${msg.data.campaign_id}`;
  } else if (msg.type === 'agent.state_changed' && !state.agents.has(msg.data.agent_id)) {
    key = `agent ${msg.data.agent_id}`;
  }
  if (key === null || asked.has(key)) return false;
  asked.add(key);
  return true;
}

async function signIn(token) {
  api = new Api(token, { sentences: SENTENCES });
  let me;
  try {
    me = await api.me();
  } catch (e) {
    showError(e.status === 401 ? 'This token was refused. Enter a supervisor or admin token.' : e.message);
    showSignIn(true);
    return;
  }
  if (me.role === 'agent') {
    showError('This is an agent token; the wallboard needs a supervisor or admin token.');
    showSignIn(true);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  showSignIn(false);
  showError('');
  feed = new Feed(api, {
    onEvent(msg) {
      if (unknown(msg)) reload('a new campaign or agent');
      applyEvent(state, msg);
      // The notice that one's phone rings ends once one is in (or out).
      if (msg.type.startsWith('call.supervis') &&
          String(msg.data.supervisor_agent_id) === localStorage.getItem(SUPERVISOR_KEY)) notice('');
      redraw();
    },
    onStatus(status, why) {
      state.feed = { status, why: why || '' };
      redraw();
    },
    onResync(reason) {
      reload(RESYNC_WORDS[reason] || reason);
    },
    onFatal(sentence) {
      // The token is no longer any good: another one is needed.
      sessionStorage.removeItem(TOKEN_KEY);
      feed = null;
      showError(sentence);
      showSignIn(true);
    },
  });
  feed.start();
  reload('signing in');
}

async function supervise(callId, mode) {
  const id = Number(localStorage.getItem(SUPERVISOR_KEY));
  notice('');
  if (!Number.isInteger(id) || id < 1) {
    showError(`To ${MODE_WORDS[mode]} a call, first enter your own agent id under ` +
      '"Your agent id": the server rings that agent\'s phone.');
    $('supervisor-agent-id').focus();
    return;
  }
  try {
    await api.post(`/calls/${encodeURIComponent(callId)}/supervise`, { mode, supervisor_agent_id: id });
    showError('');
    notice(`Your phone (agent ${id}) is ringing: answer it to ${MODE_WORDS[mode]} the call.`);
  } catch (e) {
    showError(`Could not ${MODE_WORDS[mode]} the call: ${e.message}`);
  }
}

function showSignIn(on) {
  $('sign-in').hidden = !on;
  $('feed-status').hidden = on;
  $('sign-out').hidden = on;
  $('board').hidden = on;
  if (on) $('token').focus();
}

function setTv(on) {
  document.body.classList.toggle('tv', on);
  $('tv-toggle').setAttribute('aria-pressed', String(on));
  localStorage.setItem(TV_KEY, on ? '1' : '0');
}

function tokenFromUrl() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return null;
  // The token is not left in the address bar, where a screen shows it.
  history.replaceState(null, '', location.pathname + location.search);
  return decodeURIComponent(m[1]);
}

function wire() {
  $('sign-in').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('token').value.trim();
    if (t) signIn(t);
  });
  $('tv-toggle').addEventListener('click', () => setTv(!document.body.classList.contains('tv')));
  $('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  });
  $('error').addEventListener('click', () => showError(''));
  // Backoff timers of a hidden tab may be slowed to once a minute.
  window.addEventListener('online', () => feed && feed.nudge());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && feed) feed.nudge();
  });
  // Another #token= in the address bar: start again with it.
  window.addEventListener('hashchange', () => {
    if (/(?:^#|&)token=/.test(location.hash)) location.reload();
  });
  const sup = $('supervisor-agent-id');
  sup.value = localStorage.getItem(SUPERVISOR_KEY) || '';
  sup.addEventListener('input', () => {
    const v = sup.value.trim();
    if (v === '') localStorage.removeItem(SUPERVISOR_KEY);
    else if (/^[1-9][0-9]*$/.test(v)) localStorage.setItem(SUPERVISOR_KEY, v);
  });
  sup.addEventListener('change', () => {
    if (!/^([1-9][0-9]*)?$/.test(sup.value.trim())) {
      showError('Your agent id is a whole number, as in the agents list (e.g. 12).');
    }
  });
}

function start() {
  wire();
  const tv = new URLSearchParams(location.search).get('tv');
  setTv(tv !== null ? tv === '1' : localStorage.getItem(TV_KEY) === '1');
  setInterval(() => {
    tick(state);
    redraw();
  }, 1000);
  const token = tokenFromUrl() || sessionStorage.getItem(TOKEN_KEY);
  if (token) signIn(token);
  else showSignIn(true);
  redraw();
}

start();
