// call.js: the incoming call (number, campaign, wait; answer or decline) and
// the call in progress (timer, mute, hold, hang up).

import { duration, since } from "/common/format.js";

export function mountCall(root, shift) {
  const idle = root.querySelector("#call-idle");
  const incoming = root.querySelector("[data-testid=incoming]");
  const number = root.querySelector("[data-testid=incoming-number]");
  const campaign = root.querySelector("[data-testid=incoming-campaign]");
  const wait = root.querySelector("[data-testid=incoming-wait]");
  const inCall = root.querySelector("[data-testid=in-call]");
  const inNumber = root.querySelector("#in-call-number");
  const timer = root.querySelector("[data-testid=call-timer]");
  const flags = root.querySelector("#call-flags");
  const mute = root.querySelector("[data-testid=mute]");
  const hold = root.querySelector("[data-testid=hold]");

  root.querySelector("[data-testid=answer]").addEventListener("click", () => shift.answer());
  root.querySelector("[data-testid=decline]").addEventListener("click", () => shift.decline());
  root.querySelector("[data-testid=hangup]").addEventListener("click", () => shift.hangup());
  mute.addEventListener("click", () => shift.toggleMute());
  hold.addEventListener("click", () => shift.toggleHold());

  return (state) => {
    const c = state.phoneCall;
    const offer = state.offer;
    const ringing = !!c && c.state === "ringing" && !c.auto;
    const talking = !!c && !ringing;
    incoming.hidden = !ringing;
    inCall.hidden = !talking;
    idle.hidden = ringing || talking;
    document.title = ringing ? "Incoming call · Welcomedly" : "Welcomedly agent";
    if (ringing) {
      number.textContent = (offer && offer.number) || c.number || "Unknown number";
      campaign.textContent = !offer ? "—" : offer.campaignName || (offer.campaignId ? `Campaign ${offer.campaignId}` : "—");
      wait.textContent = offer ? duration(since(offer.startedAt)) : "—";
    }
    if (talking) {
      const cur = state.currentCall;
      inNumber.textContent = (cur && cur.number) || c.number || "";
      timer.textContent = c.answeredAt ? duration(since(c.answeredAt)) : "0:00";
      flags.textContent =
        c.state === "connecting"
          ? "Connecting…"
          : [state.ringback && "Ringing the customer…", c.held && "On hold", c.muted && "Muted"].filter(Boolean).join(" · ");
      mute.textContent = c.muted ? "Unmute " : "Mute ";
      mute.append(kbd("M"));
      mute.setAttribute("aria-pressed", String(!!c.muted));
      hold.textContent = c.held ? "Resume" : "Hold";
      hold.setAttribute("aria-pressed", String(!!c.held));
      hold.disabled = !!c.holding || c.state !== "talking";
      mute.disabled = c.state !== "talking";
    }
  };
}

function kbd(text) {
  const k = document.createElement("kbd");
  k.textContent = text;
  return k;
}
