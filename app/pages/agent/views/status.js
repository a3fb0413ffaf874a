// status.js: the top bar: who is signed in, and how the phone and the
// feed are connected.

const TITLES = {
  connecting: "Connecting…",
  registered: "Ready to take calls",
  unregistered: "Not connected; reconnecting by itself",
  failed: "The phone could not register; trying again",
  live: "Live",
  reconnecting: "Lost; reconnecting by itself",
};

export function mountStatus(root) {
  const phone = root.querySelector("[data-testid=softphone-status]");
  const feed = root.querySelector("[data-testid=feed-status]");
  const name = root.querySelector("#agent-name");
  return (state) => {
    const shown = state.signedIn;
    phone.parentElement.hidden = !shown;
    feed.parentElement.hidden = !shown;
    for (const [el, value] of [
      [phone, state.softphone],
      [feed, state.feed],
    ]) {
      el.textContent = value;
      el.dataset.level = value === "registered" || value === "live" ? "ok" : value === "connecting" ? "wait" : "bad";
      el.title = TITLES[value] || "";
    }
    name.textContent = state.agent ? state.agent.name : "";
  };
}
