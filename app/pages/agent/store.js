// store.js: the one state object the views render from. Changes go through
// set(), which merges them and re-renders once per turn of the event loop
// (a microtask, not requestAnimationFrame: a tab in the background must
// still show and ring an incoming call).

export function initialState() {
  return {
    signedIn: false,
    agentId: null,
    agent: null, // {id, name, state, reason, since (ms), pending}
    softphone: "unregistered", // connecting | registered | unregistered | failed
    feed: "connecting", // connecting | live | reconnecting
    offer: null, // the feed's call.offered: {callId, campaignId, number, startedAt (ms)}
    phoneCall: null, // the softphone's call: {direction, number, state, muted, held, holding, answeredAt}
    currentCall: null, // the call being handled: {id, campaignId, number}
    clickToCall: null, // a call this page placed: {callId, number, leadId, campaignId, at, rang}
    ringback: false, // its customer's phone rings: the page plays ringback
    wrapup: null, // {callId, campaignId, number, codes: [...] | null, submitting, fieldErrors}
    leads: { items: [], loading: false, loaded: false },
    busy: false, // a state change is on its way
    error: "",
  };
}

export class Store {
  constructor(state) {
    this.state = state;
    this.views = [];
    this.pending = false;
  }

  subscribe(view) {
    this.views.push(view);
  }

  set(patch) {
    Object.assign(this.state, typeof patch === "function" ? patch(this.state) : patch);
    if (this.pending) return;
    this.pending = true;
    queueMicrotask(() => {
      this.pending = false;
      this.render();
    });
  }

  render() {
    for (const view of this.views) view(this.state);
  }
}
