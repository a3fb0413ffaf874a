// main.js: the agent workstation. Signs in, then hands the page to the
// shift; exposes `window.welcomedly` for the browser tests.

import { Shift } from "/agent/shift.js";
import { initialState, Store } from "/agent/store.js";
import { bindKeys } from "/agent/keys.js";
import { mountCall } from "/agent/views/call.js";
import { mountDisposition } from "/agent/views/disposition.js";
import { mountError } from "/agent/views/error.js";
import { mountLeads } from "/agent/views/leads.js";
import { mountState } from "/agent/views/state.js";
import { mountStatus } from "/agent/views/status.js";

const TOKEN_KEY = "welcomedly.agent.token";

// `#token=...` (printed by tools/dev up) fills the field, then leaves the
// address bar so the token is not kept in the history.
function tokenFromUrl() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token) history.replaceState(null, "", location.pathname + location.search);
  return token;
}

function main() {
  const store = new Store(initialState());
  const shift = new Shift(store, document.getElementById("remote-audio"));
  const root = document.body;
  for (const mount of [mountStatus, mountError, mountState, mountCall, mountDisposition, mountLeads])
    store.subscribe(mount(root, shift));

  const signin = document.getElementById("signin");
  const desk = document.getElementById("desk");
  store.subscribe((state) => {
    signin.hidden = state.signedIn;
    desk.hidden = !state.signedIn;
  });

  const form = document.getElementById("signin-form");
  const input = form.querySelector("[data-testid=token]");
  const button = form.querySelector("[data-testid=start-shift]");
  input.value = tokenFromUrl() || sessionStorage.getItem(TOKEN_KEY) || "";
  window.addEventListener("hashchange", () => {
    const token = tokenFromUrl();
    if (token && !store.state.signedIn) input.value = token;
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!input.value.trim()) {
      shift.error("Paste your agent token first.");
      return;
    }
    button.disabled = true;
    const ok = await shift.start(input.value);
    button.disabled = false;
    if (ok) input.value = "";
  });

  bindKeys(shift);
  // Timers (time in state, call, wait) show whole seconds; rendering twice
  // a second keeps them at most half a second late.
  setInterval(() => store.render(), 500);
  store.render();

  window.welcomedly = {
    state: store.state,
    mediaStats: () => shift.mediaStats(),
    ringingBack: () => shift.ringback.ringing,
  };
}

main();
