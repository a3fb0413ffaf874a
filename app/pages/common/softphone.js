// softphone.js: the browser's phone, on SIP.js 0.21 (UserAgent, Registerer,
// Invitation, Inviter) over Asterisk's SIP WebSocket transport.
//
// SIP.js 0.21's UserAgent does not reconnect by itself, and a REGISTER sent
// right after a transport drop is refused until the old transaction times
// out: so this module reconnects with backoff on disconnect, on the window's
// `online` event and when the tab becomes visible, and makes a new Registerer
// each time. Credentials come from GET /agents/{id}/webrtc; the password is
// rotated at each fetch, so they are fetched again before `expires_at` and
// after a refused REGISTER, and put into the running UserAgent (SIP.js reads
// them at each authentication).

import {
  Inviter,
  Registerer,
  RegistererState,
  SessionState,
  UserAgent,
} from "/vendor/sip.js/lib/index.js";

// SIP.js holds the INVITE's answer until ICE gathering completes (no
// trickle ICE on either side); a slow STUN or TURN server must not delay
// every answer by the 5 s default.
const ICE_GATHERING_TIMEOUT_MS = 2000;
const REGISTER_EXPIRES_S = 300;
const MIN_RETRY_MS = 1000;
const MAX_RETRY_MS = 30000;
// Fetch new credentials this long before the old ones expire.
const REFRESH_MARGIN_MS = 60000;
// A REGISTER with no answer by then (SIP's 32 s transaction timeout) is
// given up and tried again on a fresh connection.
const REGISTER_WATCHDOG_MS = 32000;
// Media that has not connected this long after the answer has failed.
const MEDIA_CONNECT_MS = 8000;

export const MEDIA_FAILED =
  "Media could not connect (TURN server refused the credentials or is unreachable).";

export class Softphone {
  // options:
  //   fetchCredentials()  async, resolves with the /webrtc object
  //   relay               true to send media only through TURN
  //   audio               the <audio> element for the far end's voice
  //   onStatus(status)    "connecting" | "registered" | "unregistered" | "failed"
  //   onIncoming(call)    an INVITE arrived: {number, name, id}
  //   onCall(call)        the current call changed: {state, muted, held, ...}
  //                       or null when there is none any more
  //   onError(sentence)   something a person should read
  constructor(options) {
    this.options = options;
    this.ua = null;
    this.registerer = null;
    this.credentials = null;
    this.session = null; // the one call: an Invitation or Inviter
    this.call = null;
    this.retries = 0;
    this.retryTimer = null;
    this.refreshTimer = null;
    this.registerTimer = null;
    this.mediaTimer = null;
    this.mediaCheck = null;
    this.stopped = true;
    this.onOnline = () => this.kick();
    this.onVisible = () => document.visibilityState === "visible" && this.kick();
  }

  async start() {
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    document.addEventListener("visibilitychange", this.onVisible);
    await this.connect();
  }

  async stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    document.removeEventListener("visibilitychange", this.onVisible);
    clearTimeout(this.retryTimer);
    clearTimeout(this.refreshTimer);
    clearTimeout(this.registerTimer);
    const ua = this.ua;
    this.ua = null;
    if (this.registerer) await this.registerer.unregister().catch(() => {});
    if (ua) await ua.stop().catch(() => {});
    this.status("unregistered");
  }

  status(s) {
    this.statusNow = s;
    this.options.onStatus(s);
  }

  // --- registration ------------------------------------------------------

  async loadCredentials() {
    const c = await this.options.fetchCredentials();
    this.credentials = c;
    clearTimeout(this.refreshTimer);
    const expires = Date.parse(c.expires_at);
    if (!Number.isNaN(expires)) {
      const wait = Math.max(10000, expires - Date.now() - REFRESH_MARGIN_MS);
      this.refreshTimer = setTimeout(() => this.refreshCredentials(), wait);
    }
    return c;
  }

  peerConnectionConfiguration(c) {
    return {
      iceServers: c.ice_servers || [],
      iceTransportPolicy: this.options.relay ? "relay" : "all",
    };
  }

  // Puts fresh credentials into the running UserAgent; the next REGISTER
  // refresh and the next call use them.
  async refreshCredentials() {
    if (this.stopped) return;
    try {
      const c = await this.loadCredentials();
      if (!this.ua) return;
      const conf = this.ua.configuration;
      conf.authorizationUsername = c.authorization_username;
      conf.authorizationPassword = c.authorization_password;
      conf.sessionDescriptionHandlerFactoryOptions.peerConnectionConfiguration =
        this.peerConnectionConfiguration(c);
    } catch (e) {
      this.options.onError(`The phone's credentials could not be renewed: ${e.message}`);
      this.refreshTimer = setTimeout(() => this.refreshCredentials(), MIN_RETRY_MS * 10);
    }
  }

  makeUserAgent(c) {
    return new UserAgent({
      uri: UserAgent.makeURI(c.sip_uri),
      transportOptions: { server: c.ws_url },
      authorizationUsername: c.authorization_username,
      authorizationPassword: c.authorization_password,
      displayName: c.display_name || undefined,
      sessionDescriptionHandlerFactoryOptions: {
        iceGatheringTimeout: ICE_GATHERING_TIMEOUT_MS,
        peerConnectionConfiguration: this.peerConnectionConfiguration(c),
      },
      logLevel: "warn",
      userAgentString: "welcomedly-agent",
      delegate: {
        onInvite: (invitation) => this.invited(invitation),
        onDisconnect: (error) => this.disconnected(error),
      },
    });
  }

  async connect() {
    clearTimeout(this.retryTimer);
    this.status("connecting");
    try {
      if (!this.ua) {
        const c = await this.loadCredentials();
        if (this.stopped) return;
        this.ua = this.makeUserAgent(c);
        await this.ua.start();
      } else {
        await this.ua.reconnect();
      }
      if (this.stopped) return;
      await this.register();
    } catch (e) {
      this.failed(e);
    }
  }

  // A new Registerer after every (re)connect: the old one may still hold a
  // transaction the server has not timed out.
  async register() {
    if (this.registerer) this.registerer.dispose().catch(() => {});
    const registerer = new Registerer(this.ua, { expires: REGISTER_EXPIRES_S });
    this.registerer = registerer;
    registerer.stateChange.addListener((s) => {
      if (this.registerer !== registerer || this.stopped) return;
      if (s === RegistererState.Registered) {
        this.retries = 0;
        this.status("registered");
      } else if (s === RegistererState.Unregistered && this.statusNow === "registered") {
        this.status("unregistered");
        this.retryLater();
      }
    });
    clearTimeout(this.registerTimer);
    this.registerTimer = setTimeout(() => {
      if (this.registerer === registerer && this.statusNow !== "registered") this.failed();
    }, REGISTER_WATCHDOG_MS);
    await registerer.register({
      requestDelegate: {
        onReject: (response) => this.rejected(response.message.statusCode),
      },
    });
  }

  // A refused REGISTER most likely carried a password that was rotated
  // since: fetch new credentials, then try again.
  async rejected(code) {
    if (this.stopped) return;
    this.status("failed");
    this.options.onError(
      code === 401 || code === 403
        ? "The phone's registration was refused; trying again with new credentials."
        : `The phone's registration was refused (SIP ${code}); trying again.`,
    );
    try {
      await this.refreshCredentials();
    } finally {
      this.retryLater();
    }
  }

  failed(e) {
    if (this.stopped) return;
    this.status("failed");
    this.options.onError(
      e && e.name === "ApiError"
        ? `The phone could not start: ${e.message}`
        : "The phone could not connect to the telephony server; trying again.",
    );
    this.retryLater();
  }

  disconnected(error) {
    if (this.stopped || !error) return;
    this.status("unregistered");
    this.retryLater();
  }

  retryLater() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const base = Math.min(MAX_RETRY_MS, MIN_RETRY_MS * 2 ** this.retries);
    this.retries = Math.min(this.retries + 1, 16);
    this.retryTimer = setTimeout(() => this.connect(), base / 2 + Math.random() * (base / 2));
  }

  // Reconnects now if the phone is not registered (network back, tab shown).
  kick() {
    if (this.stopped || this.statusNow === "registered" || this.statusNow === "connecting") return;
    this.retries = 0;
    this.connect();
  }

  // --- calls ---------------------------------------------------------------

  invited(invitation) {
    if (this.session) {
      invitation.reject({ statusCode: 486 }).catch(() => {});
      return;
    }
    const id = invitation.remoteIdentity;
    this.adopt(invitation, {
      direction: "in",
      number: id.uri.user || "",
      name: id.displayName || "",
      state: "ringing",
    });
    this.options.onIncoming(this.call);
  }

  // Places a SIP call from the browser (not used by click-to-call, which
  // the server places and which rings this phone like any other call).
  async dial(target) {
    if (this.session) throw new Error("A call is in progress.");
    const uri = UserAgent.makeURI(target);
    if (!uri) throw new Error("That is not a SIP address.");
    const inviter = new Inviter(this.ua, uri, { sessionDescriptionHandlerOptions: mediaOptions() });
    this.adopt(inviter, { direction: "out", number: uri.user, name: "", state: "ringing" });
    await inviter.invite();
  }

  adopt(session, call) {
    this.session = session;
    this.call = { ...call, muted: false, held: false, answeredAt: null };
    session.delegate = {
      onSessionDescriptionHandler: (sdh) => this.watchMedia(sdh),
    };
    session.stateChange.addListener((s) => this.sessionState(session, s));
  }

  sessionState(session, s) {
    if (session !== this.session) return;
    if (s === SessionState.Established) {
      this.update({ state: "talking", answeredAt: Date.now() });
      this.playRemote(session.sessionDescriptionHandler);
      clearTimeout(this.mediaTimer);
      this.mediaTimer = setTimeout(() => this.mediaCheck && this.mediaCheck(), MEDIA_CONNECT_MS);
    } else if (s === SessionState.Terminated) {
      clearTimeout(this.mediaTimer);
      this.session = null;
      this.call = null;
      this.options.audio.srcObject = null;
      this.options.onCall(null);
    }
  }

  update(fields) {
    if (!this.call) return;
    this.call = { ...this.call, ...fields };
    this.options.onCall(this.call);
  }

  // Tells the person once when the call's media cannot connect: ICE
  // failed, or is still not connected some seconds after the answer (with
  // a relay-only policy and a refused TURN allocation there is not a single
  // candidate, and the browser never declares ICE failed).
  watchMedia(sdh) {
    let told = false;
    const fail = () => {
      if (told || !this.session || this.session.sessionDescriptionHandler !== sdh) return;
      told = true;
      this.options.onError(MEDIA_FAILED);
    };
    const pc = () => sdh.peerConnection;
    sdh.peerConnectionDelegate = {
      oniceconnectionstatechange: () => pc() && pc().iceConnectionState === "failed" && fail(),
      onconnectionstatechange: () => pc() && pc().connectionState === "failed" && fail(),
    };
    this.mediaCheck = () => {
      const state = pc() && pc().iceConnectionState;
      if (state !== "connected" && state !== "completed") fail();
    };
  }

  playRemote(sdh) {
    const audio = this.options.audio;
    audio.srcObject = sdh.remoteMediaStream;
    audio.play().catch((e) => {
      // AbortError only means the call ended before playing began.
      if (e && e.name === "NotAllowedError")
        this.options.onError("The caller's voice could not be played: click anywhere on the page to allow sound.");
    });
  }

  async answer() {
    const s = this.session;
    if (!s || s.state !== SessionState.Initial || !s.accept) return;
    this.update({ state: "connecting" });
    try {
      await s.accept({ sessionDescriptionHandlerOptions: mediaOptions() });
    } catch (e) {
      this.options.onError(
        e && e.name === "NotAllowedError"
          ? "The microphone is blocked: allow it for this page to take calls."
          : "The call could not be answered (no microphone, or the call was withdrawn).",
      );
    }
  }

  async decline() {
    const s = this.session;
    if (s && s.state === SessionState.Initial && s.reject) await s.reject({ statusCode: 486 }).catch(() => {});
  }

  async hangup() {
    const s = this.session;
    if (!s) return;
    try {
      if (s.state === SessionState.Established) await s.bye();
      else if (s instanceof Inviter) await s.cancel();
      else if (s.reject) await s.reject();
    } catch {
      // The session ended on its own meanwhile.
    }
  }

  // Mute disables the microphone's track; nothing is sent to the server.
  setMuted(muted) {
    if (!this.session || !this.call) return;
    this.enableSenders(!muted && !this.call.held);
    this.update({ muted });
  }

  // Hold is a re-INVITE with sendonly/inactive; a second one while the first
  // is pending would throw, so the button waits for the answer.
  async setHeld(held) {
    const s = this.session;
    if (!s || !this.call || s.state !== SessionState.Established || this.call.holding) return;
    this.update({ holding: true });
    const opts = s.sessionDescriptionHandlerOptionsReInvite;
    opts.hold = held;
    s.sessionDescriptionHandlerOptionsReInvite = opts;
    await new Promise((resolve) => {
      s.invite({
        requestDelegate: {
          onAccept: () => resolve(true),
          onReject: () => resolve(false),
        },
      }).catch(() => resolve(false));
    }).then((ok) => {
      const now = ok ? held : !held;
      if (!ok) this.options.onError(held ? "The call could not be put on hold." : "The call could not be taken off hold.");
      opts.hold = now;
      this.enableSenders(!now && !(this.call && this.call.muted));
      this.enableReceivers(!now);
      this.update({ held: now, holding: false });
    });
  }

  peerConnection() {
    const sdh = this.session && this.session.sessionDescriptionHandler;
    return (sdh && sdh.peerConnection) || null;
  }

  enableSenders(on) {
    const pc = this.peerConnection();
    if (pc) for (const s of pc.getSenders()) if (s.track) s.track.enabled = on;
  }

  enableReceivers(on) {
    const pc = this.peerConnection();
    if (pc) for (const r of pc.getReceivers()) if (r.track) r.track.enabled = on;
  }

  // Media counters of the current call from getStats, or null without one.
  async mediaStats() {
    const pc = this.peerConnection();
    if (!pc) return null;
    return summarizeStats(await pc.getStats());
  }
}

function mediaOptions() {
  return { constraints: { audio: true, video: false } };
}

// Reduces an RTCStatsReport to what a test or a person needs to know.
export function summarizeStats(report) {
  const out = {
    inboundPackets: 0,
    outboundPackets: 0,
    inboundAudioEnergy: 0,
    dtls: false,
    localCandidateType: null,
    remoteCandidateType: null,
  };
  let pair = null;
  report.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      out.inboundPackets += s.packetsReceived || 0;
      out.inboundAudioEnergy += s.totalAudioEnergy || 0;
    } else if (s.type === "outbound-rtp" && s.kind === "audio") {
      out.outboundPackets += s.packetsSent || 0;
    } else if (s.type === "transport") {
      if (s.dtlsState === "connected") out.dtls = true;
      if (s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId) || pair;
    }
  });
  if (!pair)
    report.forEach((s) => {
      if (s.type === "candidate-pair" && s.state === "succeeded" && (s.nominated || s.selected)) pair = s;
    });
  if (pair) {
    const local = report.get(pair.localCandidateId);
    const remote = report.get(pair.remoteCandidateId);
    out.localCandidateType = (local && local.candidateType) || null;
    out.remoteCandidateType = (remote && remote.candidateType) || null;
  }
  return out;
}
