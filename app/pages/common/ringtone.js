// ringtone.js: a ring made with WebAudio (no sound file to serve). The
// AudioContext must be created or resumed during a click ("Start shift"),
// or browsers keep it silent.

// A soft two-tone ring: 0.4 s on, 0.2 s off, 0.4 s on, then 2 s of silence.
const TONES = [440, 480];
const PATTERN = [
  [0, 0.4],
  [0.6, 1.0],
];
const PERIOD_S = 3;
const VOLUME = 0.08;

export class Ringtone {
  constructor() {
    this.ctx = null;
    this.timer = null;
    this.nodes = [];
  }

  // Call from a click handler.
  unlock() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    if (!this.ctx) this.ctx = new Ctx();
    if (this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
  }

  get ringing() {
    return this.timer !== null;
  }

  start() {
    if (this.ringing || !this.ctx) return;
    const ring = () => this.schedule(this.ctx.currentTime + 0.05);
    ring();
    this.timer = setInterval(ring, PERIOD_S * 1000);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    for (const n of this.nodes) n.stop();
    this.nodes = [];
  }

  schedule(t0) {
    const gain = this.ctx.createGain();
    gain.gain.value = 0;
    gain.connect(this.ctx.destination);
    for (const [on, off] of PATTERN) {
      // Short ramps: a hard edge clicks.
      gain.gain.setValueAtTime(0, t0 + on);
      gain.gain.linearRampToValueAtTime(VOLUME, t0 + on + 0.02);
      gain.gain.setValueAtTime(VOLUME, t0 + off - 0.02);
      gain.gain.linearRampToValueAtTime(0, t0 + off);
    }
    this.nodes = this.nodes.filter((n) => n.endAt > this.ctx.currentTime);
    for (const f of TONES) {
      const osc = this.ctx.createOscillator();
      osc.frequency.value = f;
      osc.connect(gain);
      osc.start(t0);
      osc.stop(t0 + PERIOD_S);
      osc.endAt = t0 + PERIOD_S;
      this.nodes.push(osc);
    }
  }
}
