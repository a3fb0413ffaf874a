// view.js: draws the state into the page. Elements are made once per
// campaign, agent and call and then only updated, so that a button under
// the pointer is not replaced while it is being clicked.

import {
  alarms, clock, dayFigures, percent, seconds, timeOfDay, windowFigures,
} from './figures.js';
import { createSparkline, drawSparkline } from './sparkline.js';

const STATE_LABELS = {
  offline: 'offline', available: 'available', ringing: 'ringing',
  in_call: 'in call', after_call_work: 'after-call work', paused: 'paused',
};
const STATE_ORDER = ['in_call', 'ringing', 'after_call_work', 'available', 'paused', 'offline'];
const CALL_LABELS = {
  routing: 'routing', queued: 'waiting', offered: 'ringing agent',
  prompting: 'prompt', connecting: 'connecting', talking: 'talking', hanging_up: 'ending',
};
const MODES = ['listen', 'whisper', 'barge'];

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role' || k === 'title') e.setAttribute(k, v);
    else e[k] = v;
  }
  e.append(...children);
  return e;
}

function setText(e, text) {
  if (e.textContent !== text) e.textContent = text;
}

// Keeps parent's children equal to items, in order, one element per key.
function sync(parent, items, keyOf, create, update) {
  const byKey = parent._byKey || (parent._byKey = new Map());
  const keep = new Set();
  let at = parent.firstChild;
  for (const item of items) {
    const key = String(keyOf(item));
    keep.add(key);
    let e = byKey.get(key);
    if (!e) {
      e = create(item);
      byKey.set(key, e);
    }
    update(e, item);
    if (e !== at) parent.insertBefore(e, at);
    else at = at.nextSibling;
  }
  for (const [key, e] of byKey) {
    if (!keep.has(key)) {
      e.remove();
      byKey.delete(key);
    }
  }
}

function figure(label, testid, extra) {
  const value = el('span', { class: 'value', 'data-testid': testid });
  const box = el('div', { class: `fig fig-${testid}` }, el('span', { class: 'label' }, label), value);
  if (extra) box.append(extra);
  return box;
}

function createCampaign(c, actions) {
  const spark = createSparkline();
  const card = el('section', { class: 'campaign', 'data-testid': 'campaign', 'data-campaign-id': String(c.id) },
    el('header', {}, el('h2', { class: 'name' }), el('span', { class: 'since' })),
    el('div', { class: 'figures' },
      figure('Waiting', 'waiting', spark),
      figure('Longest wait', 'longest-wait'),
      figure('Service level', 'service-level', el('span', { class: 'note sl-note' })),
      figure('Avg. speed of answer', 'asa'),
      figure('Abandon rate', 'abandon-rate'),
      figure('Answered', 'answered'),
      figure('Abandoned', 'abandoned')),
    el('p', { class: 'window', 'data-testid': 'last-15-minutes' }),
    el('div', { class: 'lists' },
      el('div', { class: 'list' }, el('h3', {}, 'Agents'),
        el('table', {}, el('tbody', { 'data-testid': 'agents' })), el('p', { class: 'empty agents-empty' }, 'No agents in this campaign.')),
      el('div', { class: 'list' }, el('h3', {}, 'Live calls'),
        el('table', {}, el('tbody', { 'data-testid': 'calls' })), el('p', { class: 'empty calls-empty' }, 'No live calls.'))));
  card._spark = spark;
  card._actions = actions;
  return card;
}

function q(root, testid) {
  return root.querySelector(`[data-testid="${testid}"]`);
}

function flag(e, on) {
  e.parentElement.classList.toggle('alarm', Boolean(on));
}

function windowText(w) {
  const scope = w.partial ? 'Since this page opened' : 'Last 15 min';
  return `${scope}: service level ${percent(w.serviceLevel)}, answer in ${seconds(w.asa)}, ` +
    `abandon ${percent(w.abandonRate)} (${w.answered} answered, ${w.abandoned} abandoned)`;
}

function updateFigures(card, c, state, now) {
  const f = dayFigures(c, now);
  setText(card.querySelector('.name'), c.name);
  if (!f) return;
  const a = alarms(f, c.slSeconds);
  setText(card.querySelector('.since'), f.since ? `figures since ${timeOfDay(f.since)}` : '');
  setText(q(card, 'waiting'), String(f.waiting));
  setText(q(card, 'longest-wait'), clock(f.longest));
  setText(q(card, 'service-level'), percent(f.serviceLevel));
  setText(card.querySelector('.sl-note'), `within ${c.slSeconds} s`);
  setText(q(card, 'asa'), seconds(f.asa));
  setText(q(card, 'abandon-rate'), percent(f.abandonRate));
  setText(q(card, 'answered'), String(f.answered));
  setText(q(card, 'abandoned'), String(f.abandoned));
  flag(q(card, 'waiting'), a.waiting);
  flag(q(card, 'longest-wait'), a.longest);
  flag(q(card, 'service-level'), a.serviceLevel);
  flag(q(card, 'abandon-rate'), a.abandonRate);
  setText(card.querySelector('.window'), windowText(windowFigures(c, state.openedAt, now)));
  drawSparkline(card._spark, c.history, now);
}

function createAgent(a) {
  return el('tr', { 'data-testid': 'agent', 'data-agent-id': String(a.id) },
    el('td', { class: 'agent-name' }),
    el('td', {}, el('span', { class: 'badge', 'data-testid': 'agent-state' })),
    el('td', { class: 'num time-in-state' }),
    el('td', { class: 'reason' }));
}

function updateAgent(row, a, now) {
  const badge = q(row, 'agent-state');
  setText(row.querySelector('.agent-name'), a.name);
  setText(badge, STATE_LABELS[a.state] || a.state);
  badge.dataset.state = a.state;
  row.dataset.state = a.state;
  setText(row.querySelector('.time-in-state'), clock((now - a.sinceMs) / 1000));
  setText(row.querySelector('.reason'), a.reason || '');
}

function createCall(k, actions) {
  const buttons = MODES.map((mode) => {
    const b = el('button', { type: 'button', 'data-testid': mode, class: `sv sv-${mode}` }, mode);
    b.addEventListener('click', () => actions.supervise(k.id, mode));
    return b;
  });
  return el('tr', { 'data-testid': 'call', 'data-call-id': k.id },
    el('td', { class: 'caller' }),
    el('td', { class: 'call-state' }),
    el('td', { class: 'call-agent' }),
    el('td', { class: 'num call-time' }),
    el('td', { class: 'buttons' }, ...buttons));
}

function updateCall(row, k, state, now) {
  const agent = k.agentId ? state.agents.get(k.agentId) : null;
  const sup = k.supervision;
  let what = CALL_LABELS[k.state] || k.state;
  if (sup) what += ` · ${sup.mode} (${state.agents.get(sup.agentId)?.name || `agent ${sup.agentId}`})`;
  setText(row.querySelector('.caller'), k.caller || 'unknown');
  setText(row.querySelector('.call-state'), what);
  setText(row.querySelector('.call-agent'), agent ? agent.name : '');
  setText(row.querySelector('.call-time'), clock((now - k.sinceMs) / 1000));
  row.dataset.state = k.state;
  for (const b of row.querySelectorAll('button.sv')) b.disabled = k.state !== 'talking';
}

function agentsOf(c, state) {
  return [...c.members].map((id) => state.agents.get(id)).filter(Boolean)
    .sort((x, y) => STATE_ORDER.indexOf(x.state) - STATE_ORDER.indexOf(y.state) ||
      x.name.localeCompare(y.name));
}

function callsOf(c, state) {
  return [...state.calls.values()].filter((k) => k.campaignId === c.id)
    .sort((x, y) => (x.state === 'talking') - (y.state === 'talking') || x.sinceMs - y.sinceMs);
}

function updateCampaign(card, c, state, now) {
  updateFigures(card, c, state, now);
  const agents = agentsOf(c, state);
  sync(q(card, 'agents'), agents, (a) => a.id, createAgent, (row, a) => updateAgent(row, a, now));
  card.querySelector('.agents-empty').hidden = agents.length > 0;
  const calls = callsOf(c, state);
  sync(q(card, 'calls'), calls, (k) => k.id, (k) => createCall(k, card._actions),
    (row, k) => updateCall(row, k, state, now));
  card.querySelector('.calls-empty').hidden = calls.length > 0;
}

export function render(root, state, actions, now = Date.now()) {
  const campaigns = [...state.campaigns.values()].sort((x, y) => x.name.localeCompare(y.name));
  sync(root, campaigns, (c) => c.id, (c) => createCampaign(c, actions),
    (card, c) => updateCampaign(card, c, state, now));
}

export function renderStatus(statusEl, errorEl, state) {
  setText(statusEl, state.feed.status);
  statusEl.dataset.state = state.feed.status;
  statusEl.title = state.feed.why || '';
  setText(errorEl, state.error);
  errorEl.hidden = !state.error;
}
