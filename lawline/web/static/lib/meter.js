// A remote voice's loudness on a <meter>, and its strongest frequency (what the tests
// check): the console's caller, the mediation room's mix.
export class LevelMeter {
  constructor(stream, meterEl) {
    this.ctx = new AudioContext();
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 4096;
    this.source = this.ctx.createMediaStreamSource(stream);
    this.source.connect(this.analyser);
    this.samples = new Float32Array(this.analyser.fftSize);
    this.spectrum = new Float32Array(this.analyser.frequencyBinCount);
    this.timer = setInterval(() => { meterEl.value = Math.min(1, this.rms() * 4); }, 200);
  }
  rms() {
    this.analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const x of this.samples) sum += x * x;
    return Math.sqrt(sum / this.samples.length);
  }
  peakHz() {
    this.analyser.getFloatFrequencyData(this.spectrum);
    let best = 0;
    for (let i = 1; i < this.spectrum.length; i++) if (this.spectrum[i] > this.spectrum[best]) best = i;
    return best * this.ctx.sampleRate / this.analyser.fftSize;
  }
  stop() { clearInterval(this.timer); this.ctx.close(); }
}
