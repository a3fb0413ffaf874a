// sparkline.js: waiting calls over the last 15 minutes as a small inline
// SVG step line, from the samples the store keeps.

import { WINDOW_MS } from './store.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 120;
const H = 32;

export function createSparkline() {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  // The baseline shows the 15 minutes even before the page has seen them.
  const base = document.createElementNS(NS, 'line');
  base.setAttribute('class', 'base');
  for (const [k, v] of [['x1', 0], ['y1', H - 0.5], ['x2', W], ['y2', H - 0.5]]) base.setAttribute(k, v);
  const line = document.createElementNS(NS, 'polyline');
  svg.append(base, line);
  return svg;
}

export function drawSparkline(svg, history, now = Date.now()) {
  const from = now - WINDOW_MS;
  const max = Math.max(1, ...history.map((p) => p.v));
  const x = (t) => ((Math.max(t, from) - from) / WINDOW_MS) * W;
  const y = (v) => H - 1 - (v / max) * (H - 2);
  const pts = [];
  let prev = null;
  for (const p of history) {
    if (prev !== null) pts.push(`${x(p.t).toFixed(1)},${y(prev).toFixed(1)}`);
    pts.push(`${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
    prev = p.v;
  }
  if (prev !== null) pts.push(`${W},${y(prev).toFixed(1)}`);
  svg.lastChild.setAttribute('points', pts.join(' '));
  const peak = history.length ? max : 0;
  svg.setAttribute('aria-label', `Waiting calls over the last 15 minutes, at most ${peak}`);
}
