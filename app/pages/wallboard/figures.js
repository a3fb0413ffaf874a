// figures.js: the numbers a campaign shows, and how they are written.
// The day's and the last 15 minutes' figures are the server's (GET /queues,
// queue.stats); a server without last_15_minutes has them counted here from
// the feed's call events.

import { WINDOW_MS } from './store.js';

// Below this service level (percent) the figure turns red.
export const SL_TARGET = 80;
// Above this abandon rate (percent) the figure turns red.
export const ABANDON_LIMIT = 10;

export function rate(part, whole) {
  return whole > 0 ? (100 * part) / whole : null;
}

// The server's figures now, with the longest wait moved on by the time
// since they came.
export function dayFigures(c, now = Date.now()) {
  const q = c.queue;
  if (!q) return null;
  const longest = q.waiting > 0
    ? q.longest_wait_seconds + Math.max(0, Math.floor((now - c.queueAt) / 1000)) : 0;
  return {
    waiting: q.waiting,
    longest,
    serviceLevel: q.service_level,
    asa: q.average_speed_of_answer,
    abandonRate: rate(q.abandoned, q.answered + q.abandoned),
    answered: q.answered,
    abandoned: q.abandoned,
    since: q.stats_since,
  };
}

// The same figures over the last 15 minutes (or since the page opened,
// when that is later), from the calls answered and abandoned meanwhile.
export function windowFigures(c, openedAt, now = Date.now()) {
  const w = c.queue && c.queue.last_15_minutes;
  if (w) {
    return {
      partial: false,
      serviceLevel: w.service_level,
      asa: w.average_speed_of_answer,
      abandonRate: rate(w.abandoned, w.answered + w.abandoned),
      answered: w.answered,
      abandoned: w.abandoned,
    };
  }
  const from = now - WINDOW_MS;
  const recent = c.recent.filter((e) => e.t >= from);
  const answered = recent.filter((e) => e.kind === 'answered');
  const abandoned = recent.length - answered.length;
  const inSl = answered.filter((e) => e.wait <= c.slSeconds).length;
  const waits = answered.reduce((s, e) => s + e.wait, 0);
  return {
    partial: openedAt > from,
    serviceLevel: rate(inSl, recent.length),
    asa: answered.length ? waits / answered.length : null,
    abandonRate: rate(abandoned, recent.length),
    answered: answered.length,
    abandoned,
  };
}

export function percent(v) {
  return v === null || v === undefined ? '—' : `${Math.round(v)}%`;
}

export function seconds(v) {
  return v === null || v === undefined ? '—' : `${Math.round(v)} s`;
}

// 75 -> "1:15", 3725 -> "1:02:05".
export function clock(s) {
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function timeOfDay(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
}

// Which figures are past their threshold.
export function alarms(f, slSeconds) {
  return {
    waiting: f.waiting > 0 && f.longest > slSeconds,
    longest: f.longest > slSeconds,
    serviceLevel: f.serviceLevel !== null && f.serviceLevel < SL_TARGET,
    abandonRate: f.abandonRate !== null && f.abandonRate > ABANDON_LIMIT,
  };
}
