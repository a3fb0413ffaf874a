// format.js: how times and durations read on the pages.

// "0:07", "12:30", "1:02:03" for a number of seconds.
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

// Seconds elapsed since a time in milliseconds (Date.now() clock).
export function since(ms) {
  return ms ? (Date.now() - ms) / 1000 : 0;
}

// "Thu 3 Dec, 14:05" in the person's locale, for dates that are not now.
export function dateTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleString(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

// The value a datetime-local input takes for a Date (local time, minutes).
export function toLocalInput(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// The RFC 3339 instant of a datetime-local input's value, or null.
export function fromLocalInput(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

// "paused" -> "Paused", "after_call_work" -> "After-call work".
const STATE_LABELS = {
  offline: "Logged out",
  available: "Available",
  ringing: "Ringing",
  in_call: "In a call",
  after_call_work: "After-call work",
  paused: "Paused",
};

export function stateLabel(state) {
  return STATE_LABELS[state] || state;
}
