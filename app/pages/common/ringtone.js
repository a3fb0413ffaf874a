// ringtone.js: rings made with WebAudio (no sound file to serve). The
// AudioContext must be created or resumed during a click ("Start shift"),
// or browsers keep it silent.

// An incoming call: a soft two-tone ring, 0.4 s on, 0.2 s off, 0.4 s on,
// then 2 s of silence.
export const RING = {
  tones: [440, 480],
  pattern: [
    [0, 0.4],
    [0.6, 1.0],
  ],
  periodS: 3,
  volume: 0.08,
};

// The customer's phone rings (North American ringback: 2 s on, 4 s off).
// Played here, not sent by the server: a ringback tone that came over the
// call primed the browser's echo canceller, which then muted the agent's
// first 0.3-0.4 s once the customer answered (Chromium on Linux; a
// browser that also cancels the page's own sounds may still do it).
export const RINGBACK = {
  tones: [440, 480],
  pattern: [[0, 2.0]],
  periodS: 6,
  volume: 0.05,
};

export class Ringtone {
  // sound: RING or RINGBACK; shared: a Ringtone whose unlocked
  // AudioContext this one uses.
  constructor(sound = RING, shared = null) {
    this.sound = sound;
    this.shared = shared;
    this.own = null;
    this.timer = null;
    this.nodes = [];
  }

  get ctx() {
    return this.shared ? this.shared.ctx : this.own;
  }

  // Call from a click handler.
  unlock() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (this.shared || !Ctx) return;
    if (!this.own) this.own = new Ctx();
    if (this.own.state === "suspended") this.own.resume().catch(() => {});
  }

  get ringing() {
    return this.timer !== null;
  }

  // Sound can be heard: the AudioContext was unlocked by a click.
  get canPlay() {
    return !!this.ctx && this.ctx.state === "running";
  }

  start() {
    if (this.ringing || !this.ctx) return;
    const ring = () => this.schedule(this.ctx.currentTime + 0.05);
    ring();
    this.timer = setInterval(ring, this.sound.periodS * 1000);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    for (const n of this.nodes) n.stop();
    this.nodes = [];
  }

  schedule(t0) {
    const { tones, pattern, periodS, volume } = this.sound;
    const gain = this.ctx.createGain();
    gain.gain.value = 0;
    gain.connect(this.ctx.destination);
    for (const [on, off] of pattern) {
      // Short ramps: a hard edge clicks.
      gain.gain.setValueAtTime(0, t0 + on);
      gain.gain.linearRampToValueAtTime(volume, t0 + on + 0.02);
      gain.gain.setValueAtTime(volume, t0 + off - 0.02);
      gain.gain.linearRampToValueAtTime(0, t0 + off);
    }
    this.nodes = this.nodes.filter((n) => n.endAt > this.ctx.currentTime);
    for (const f of tones) {
      const osc = this.ctx.createOscillator();
      osc.frequency.value = f;
      osc.connect(gain);
      osc.start(t0);
      osc.stop(t0 + periodS);
      osc.endAt = t0 + periodS;
      this.nodes.push(osc);
    }
  }
}
