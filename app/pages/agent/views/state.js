// state.js: the agent's state, how long they have been in it, and the
// buttons that change it.

import { duration, since, stateLabel } from "/common/format.js";

export function mountState(root, shift) {
  const name = root.querySelector("[data-testid=agent-state]");
  const timer = root.querySelector("[data-testid=state-timer]");
  const note = root.querySelector("#state-note");
  const available = root.querySelector("[data-testid=go-available]");
  const pause = root.querySelector("[data-testid=pause]");
  const reason = root.querySelector("[data-testid=pause-reason]");
  const logout = root.querySelector("[data-testid=logout]");

  available.addEventListener("click", () => shift.changeState("available"));
  pause.addEventListener("click", () => shift.changeState("paused", reason.value.trim() || undefined));
  reason.addEventListener("keydown", (e) => {
    if (e.key === "Enter") pause.click();
  });
  logout.addEventListener("click", () => shift.changeState("offline"));

  return (state) => {
    const a = state.agent;
    if (!a) return;
    name.textContent = a.state;
    name.dataset.state = a.state;
    name.dataset.label = stateLabel(a.state);
    timer.textContent = duration(since(a.since));
    const parts = [];
    if (a.state === "paused" && a.reason) parts.push(`Reason: ${a.reason}.`);
    if (a.pending) parts.push(`Will change to “${stateLabel(a.pending).toLowerCase()}” after this call.`);
    note.textContent = parts.join(" ");
    available.disabled = state.busy || a.state === "available";
    // The main action only while not working: during a call it would only
    // queue the change for after the wrap-up.
    available.classList.toggle("primary", a.state === "offline" || a.state === "paused");
    pause.disabled = state.busy || (a.state === "paused" && (a.reason || "") === reason.value.trim());
    logout.disabled = state.busy || a.state === "offline";
  };
}
