// shift.js: an agent's shift. Ties the REST API, the event feed and the
// softphone to the state object; the views call its actions and never the
// network themselves.
//
// Click-to-call: POST /calls answers with the call's id and the number
// dialed; the server then rings this browser's phone for the agent's leg.
// An INVITE that arrives while such a call is pending is that leg, and is
// answered at once without asking (the agent just clicked "Call"). Every
// other INVITE is shown as an incoming call to answer or decline. While
// the customer's phone rings the page plays the ringback itself (placeCall
// asks the server for none when the page can play sound): from the answer
// of the agent's leg until the feed says the customer answered or could
// not be reached, the call ends, sound comes over the call, or 60 s pass.

import { Api } from "/common/api.js";
import { Feed } from "/common/feed.js";
import { RINGBACK, Ringtone } from "/common/ringtone.js";
import { Softphone } from "/common/softphone.js";

// How long after a click-to-call an INVITE is taken as its agent leg.
const CLICK_TO_CALL_WINDOW_MS = 90000;
const LAST_CALL_KEY = "welcomedly.agent.lastCall";
// Ringback: how often the call's incoming sound is looked at, the energy
// (WebRTC's totalAudioEnergy) gained between two looks that means the
// customer is heard, and the longest it plays (the server rings a customer
// 45 s).
const RINGBACK_POLL_MS = 250;
const RINGBACK_HEARD_ENERGY = 1e-4;
const RINGBACK_MAX_MS = 60000;

const CUSTOMER_FAILED = {
  BUSY: "The customer's line was busy.",
  "NO ANSWER": "The customer did not answer.",
  FAILED: "The customer's number could not be reached.",
  CONGESTION: "The network could not reach the customer (congestion).",
};

function agentFromApi(a) {
  return {
    id: a.id,
    name: a.name,
    state: a.state,
    reason: a.state_reason,
    since: Date.parse(a.state_since) || Date.now() - (a.time_in_state || 0) * 1000,
    pending: a.pending_state || null,
  };
}

export class Shift {
  constructor(store, audio) {
    this.store = store;
    this.audio = audio;
    this.ringtone = new Ringtone();
    this.ringback = new Ringtone(RINGBACK, this.ringtone);
    this.ringbackTimer = null;
    this.api = null;
    this.feed = null;
    this.phone = null;
    this.codes = new Map(); // campaign id -> its disposition codes
    this.phoneError = null; // the phone's last sentence, cleared once it registers
  }

  get state() {
    return this.store.state;
  }

  set(patch) {
    this.store.set(patch);
  }

  error(message) {
    this.set({ error: message || "" });
  }

  // Runs an action, showing its failure in words; resolves with its result
  // or undefined.
  async attempt(fn) {
    try {
      return await fn();
    } catch (e) {
      this.error(e && e.message ? e.message : "Something went wrong.");
      return undefined;
    }
  }

  // --- sign-in ---------------------------------------------------------------

  // Called from the "Start shift" click: the click also unlocks audio.
  async start(token) {
    this.ringtone.unlock();
    this.error("");
    const api = new Api(token.trim());
    const me = await this.attempt(() => api.me());
    if (!me) return false;
    if (me.role !== "agent" || !me.agent_id) {
      this.error("This token does not belong to an agent. Use the agent token you were given.");
      return false;
    }
    const agent = await this.attempt(() => api.agent(me.agent_id));
    if (!agent) return false;
    this.api = api;
    sessionStorage.setItem("welcomedly.agent.token", token.trim());
    this.set({ signedIn: true, agentId: me.agent_id, agent: agentFromApi(agent) });
    this.startFeed();
    this.startPhone();
    this.restoreCall(agent);
    this.loadLeads();
    return true;
  }

  startFeed() {
    this.feed = new Feed(this.api, {
      onEvent: (m) => this.onEvent(m),
      onStatus: (s) => this.set({ feed: s }),
      onResync: () => this.resync(),
      onFatal: (sentence) => this.error(sentence),
    });
    this.feed.start();
    // Backoff timers of a hidden tab may be slowed to once a minute.
    window.addEventListener("online", () => this.feed.nudge());
    document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && this.feed.nudge());
  }

  startPhone() {
    const relay = new URLSearchParams(location.search).get("relay") === "1";
    this.phone = new Softphone({
      fetchCredentials: () => this.api.webrtc(this.state.agentId),
      relay,
      audio: this.audio,
      onStatus: (s) => {
        this.set({ softphone: s });
        // What the phone said while reconnecting is over once it is back.
        if (s === "registered" && this.state.error === this.phoneError) this.error("");
      },
      onIncoming: (call) => this.onIncoming(call),
      onCall: (call) => this.onPhoneCall(call),
      onError: (sentence) => {
        this.phoneError = sentence;
        this.error(sentence);
      },
    });
    this.phone.start();
  }

  // After a feed gap or a server restart: what we hold may be stale.
  async resync() {
    const agent = await this.attempt(() => this.api.agent(this.state.agentId));
    if (agent) {
      this.set({ agent: agentFromApi(agent) });
      this.restoreCall(agent);
    }
  }

  // Finds the call the agent is on (after a reload or a resync).
  async restoreCall(agent) {
    const list = await this.attempt(() => this.api.calls());
    const live = list && list.items.find((c) => c.id === agent.current_call) || (list && list.items[0]);
    if (live) {
      this.rememberCall({ id: live.id, campaignId: live.campaign_id, number: this.customerNumber(live) });
      return;
    }
    if (agent.state === "after_call_work" && !this.state.wrapup) {
      const last = JSON.parse(sessionStorage.getItem(LAST_CALL_KEY) || "null");
      if (last && last.agentId === agent.id) this.beginWrapup(last);
    }
  }

  customerNumber(call) {
    return call.direction === "outbound" ? call.callee_number || "" : call.caller_number || "";
  }

  rememberCall(call) {
    this.set({ currentCall: call });
    sessionStorage.setItem(LAST_CALL_KEY, JSON.stringify({ ...call, agentId: this.state.agentId }));
  }

  // --- the feed ------------------------------------------------------------

  onEvent(m) {
    const d = m.data || {};
    if (d.agent_id !== undefined && d.agent_id !== this.state.agentId) return;
    const handler = {
      "agent.state_changed": () => this.onStateChanged(m),
      "call.offered": () => this.onOffered(d),
      "call.answered": () => this.onAnswered(d),
      "call.ended": () => this.onEnded(d),
      "call.customer_failed": () => this.onCustomerFailed(d),
    }[m.type];
    if (handler) handler();
  }

  onStateChanged(m) {
    const d = m.data;
    const agent = { ...this.state.agent, state: d.to, reason: d.reason, since: Date.parse(m.at) || Date.now() };
    if (d.to !== "in_call" && d.to !== "ringing" && d.to !== "after_call_work") agent.pending = null;
    this.set({ agent });
    if (d.to === "after_call_work" && !this.state.wrapup && this.state.currentCall) this.beginWrapup(this.state.currentCall);
    if (d.to === "available" || d.to === "offline" || d.to === "paused") this.set({ wrapup: null });
  }

  async onOffered(d) {
    const offer = {
      callId: d.call_id, campaignId: d.campaign_id, campaignName: d.campaign_name || "",
      number: d.caller_number || "", startedAt: Date.now() - (d.wait_seconds || 0) * 1000,
    };
    this.set({ offer });
    this.rememberCall({ id: d.call_id, campaignId: d.campaign_id, number: offer.number });
    const call = await this.attempt(() => this.api.call(d.call_id));
    if (!call || this.state.offer !== offer) return;
    const number = this.customerNumber(call) || offer.number;
    const startedAt = Date.parse(call.started_at) || Date.now() - (call.wait_seconds || 0) * 1000;
    this.set({ offer: { ...offer, number, startedAt } });
    this.rememberCall({ id: d.call_id, campaignId: d.campaign_id, number });
  }

  onAnswered(d) {
    this.customerRang(d.call_id);
    this.set({ offer: null });
    const cur = this.state.currentCall;
    if (!cur || cur.id !== d.call_id) this.rememberCall({ id: d.call_id, campaignId: d.campaign_id, number: "" });
  }

  onCustomerFailed(d) {
    this.customerRang(d.call_id);
    this.error(CUSTOMER_FAILED[d.reason] || "The customer could not be reached.");
  }

  onEnded(d) {
    const cur = this.state.currentCall;
    const call = { id: d.call_id, campaignId: d.campaign_id, number: cur && cur.id === d.call_id ? cur.number : "" };
    this.set({ offer: null });
    this.setClickToCall(null);
    this.stopRinging();
    // An inbound call nobody answered here needs no outcome.
    const handled = d.direction === "outbound" || d.disposition === "ANSWERED";
    if (handled && !this.state.wrapup) this.beginWrapup(call);
    this.set({ currentCall: null });
    this.loadLeads();
  }

  // --- the phone -------------------------------------------------------------

  onIncoming(call) {
    const c2c = this.state.clickToCall;
    if (c2c && Date.now() - c2c.at < CLICK_TO_CALL_WINDOW_MS) {
      this.set({ phoneCall: { ...call, number: c2c.number, auto: true } });
      this.phone.answer();
      return;
    }
    this.set({ phoneCall: call });
    this.ringtone.start();
    this.notifyIfHidden(call);
  }

  onPhoneCall(call) {
    const prev = this.state.phoneCall;
    if (call && prev) call = { ...call, number: prev.auto ? prev.number : call.number, auto: prev.auto };
    if (!call || call.state !== "ringing") this.stopRinging();
    this.set({ phoneCall: call });
    if (!call && prev && prev.auto) this.setClickToCall(null);
    if (!call && this.state.offer) this.set({ offer: null });
    this.syncRingback();
  }

  // --- ringback while this page's click-to-call rings the customer ----------

  // Every change of clickToCall goes through here: the ringback follows.
  setClickToCall(c2c) {
    this.set({ clickToCall: c2c });
    this.syncRingback();
  }

  // The customer of this page's click-to-call answered or could not be
  // reached: their phone no longer rings. The feed's event may precede
  // the reply of POST /calls (callId still null).
  customerRang(callId) {
    const c2c = this.state.clickToCall;
    if (c2c && (!c2c.callId || c2c.callId === callId)) this.ringOver();
  }

  // The click-to-call's customer no longer rings, as far as the page knows.
  ringOver() {
    const c2c = this.state.clickToCall;
    if (c2c && !c2c.rang) this.setClickToCall({ ...c2c, rang: true });
  }

  syncRingback() {
    const c = this.state.phoneCall;
    const c2c = this.state.clickToCall;
    const want = !!c && !!c.auto && c.state === "talking" && !!c2c && !c2c.rang;
    if (want === this.state.ringback) return;
    this.set({ ringback: want });
    clearInterval(this.ringbackTimer);
    this.ringbackTimer = null;
    if (!want) {
      this.ringback.stop();
      return;
    }
    this.ringback.start();
    this.watchForCustomer();
  }

  // Should the feed be late or down, sound over the call (nothing comes
  // before the customer is connected) or the time limit ends the ringback.
  watchForCustomer() {
    const started = Date.now();
    let last = null;
    this.ringbackTimer = setInterval(async () => {
      const s = await this.mediaStats();
      const energy = s ? s.inboundAudioEnergy : 0;
      const heard = last !== null && energy - last > RINGBACK_HEARD_ENERGY;
      last = energy;
      if (heard || Date.now() - started > RINGBACK_MAX_MS) this.ringOver();
    }, RINGBACK_POLL_MS);
  }

  stopRinging() {
    this.ringtone.stop();
  }

  notifyIfHidden(call) {
    if (document.visibilityState === "visible" || !("Notification" in window)) return;
    if (Notification.permission === "granted") new Notification("Incoming call", { body: call.number || "" });
  }

  answer() {
    this.stopRinging();
    return this.phone && this.phone.answer();
  }

  decline() {
    this.stopRinging();
    return this.phone && this.phone.decline();
  }

  hangup() {
    return this.phone && this.phone.hangup();
  }

  toggleMute() {
    const c = this.state.phoneCall;
    if (c) this.phone.setMuted(!c.muted);
  }

  toggleHold() {
    const c = this.state.phoneCall;
    if (c) return this.phone.setHeld(!c.held);
  }

  mediaStats() {
    return this.phone ? this.phone.mediaStats() : Promise.resolve(null);
  }

  // --- agent state -----------------------------------------------------------

  async changeState(state, reason) {
    if (this.state.busy) return;
    this.set({ busy: true });
    const agent = await this.attempt(() => this.api.setState(this.state.agentId, state, reason));
    this.set({ busy: false });
    if (!agent) return;
    this.error("");
    this.set({ agent: agentFromApi(agent) });
  }

  // --- disposition -----------------------------------------------------------

  // The campaign's codes show at once from the last fetch, then are
  // fetched again in case an administrator changed them.
  async beginWrapup(call) {
    if (!call || !call.id || !call.campaignId) return;
    const cached = this.codes.get(call.campaignId) || null;
    const wrapup = { callId: call.id, campaignId: call.campaignId, number: call.number, codes: cached, submitting: false, fieldErrors: {} };
    this.set({ wrapup });
    const list = await this.attempt(() => this.api.dispositions(call.campaignId));
    if (list) this.codes.set(call.campaignId, list.items);
    const now = this.state.wrapup;
    if (!now || now.callId !== wrapup.callId || (!list && now.codes)) return;
    this.set({ wrapup: { ...now, codes: list ? list.items : [] } });
  }

  async submitDisposition(values) {
    const w = this.state.wrapup;
    if (!w || w.submitting) return;
    this.set({ wrapup: { ...w, submitting: true, fieldErrors: {} } });
    const body = { code: values.code };
    if (values.notes) body.notes = values.notes;
    if (values.callbackAt) body.callback_at = values.callbackAt;
    try {
      await this.api.dispose(w.callId, body);
      this.error("");
      this.set({ wrapup: null });
      sessionStorage.removeItem(LAST_CALL_KEY);
      this.loadLeads();
    } catch (e) {
      this.error(e.message);
      // 409: the call has its outcome already; nothing left to do here.
      if (e.status === 409 || e.status === 404) this.set({ wrapup: null });
      else this.set({ wrapup: { ...w, submitting: false, fieldErrors: e.fields || {} } });
    }
  }

  // --- leads -----------------------------------------------------------------

  async loadLeads() {
    if (!this.api) return;
    this.set({ leads: { ...this.state.leads, loading: true } });
    const list = await this.attempt(() => this.api.leads());
    this.set({ leads: { items: list ? list.items : this.state.leads.items, loading: false, loaded: true } });
  }

  async callLead(leadId) {
    const lead = this.state.leads.items.find((l) => l.id === leadId);
    const c = this.state.clickToCall;
    if (!lead || (c && Date.now() - c.at < CLICK_TO_CALL_WINDOW_MS)) return;
    this.error("");
    // Reserve the slot before the request: the INVITE may beat the reply.
    const c2c = { callId: null, number: lead.phone, leadId, campaignId: lead.campaign_id, at: Date.now() };
    this.setClickToCall(c2c);
    // A click: sound can be unlocked. Without it the server plays the
    // ringback.
    this.ringtone.unlock();
    const local = this.ringback.canPlay;
    const placed = await this.attempt(() => this.api.placeCall(this.state.agentId, lead.campaign_id, leadId, local));
    const now = this.state.clickToCall;
    const ours = now && now.at === c2c.at;
    if (!placed) {
      if (ours) this.setClickToCall(null);
      return;
    }
    if (ours) this.setClickToCall({ ...now, callId: placed.id, number: placed.number });
    this.rememberCall({ id: placed.id, campaignId: placed.campaign_id, number: placed.number });
  }
}
