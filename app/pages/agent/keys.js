// keys.js: keyboard shortcuts. A or Enter answers, H or Escape hangs up
// (or declines a ringing call), M mutes. Letters are ignored while typing
// in a field; Enter in a field keeps its usual meaning.

function typing(target) {
  return !!target.closest && !!target.closest("input, textarea, select, [contenteditable]");
}

export function bindKeys(shift) {
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
    const c = shift.state.phoneCall;
    if (!c) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const inField = typing(e.target);
    const ringing = c.state === "ringing" && !c.auto;
    // Enter on a button of the ringing call keeps its own meaning (Decline);
    // on any other button it answers, as focus often rests on the last one used.
    const ownButton = !!e.target.closest && !!e.target.closest("[data-testid=incoming] button");
    if (ringing && ((key === "a" && !inField) || (key === "Enter" && !inField && !ownButton))) {
      e.preventDefault();
      shift.answer();
    } else if ((key === "h" && !inField) || key === "Escape") {
      e.preventDefault();
      if (ringing) shift.decline();
      else shift.hangup();
    } else if (key === "m" && !inField && !ringing) {
      e.preventDefault();
      shift.toggleMute();
    }
  });
}
