/** Telephone-band simulation: what passes the 300-3400 Hz, 8 kHz, mu-law line and what does not. */
import { strict as assert } from 'assert';
import { Biquad, linearToMulaw, mulawCompand, mulawToLinear, telephoneBand, telephoneFilters } from '../src/audio/telephone';
import { loadAudio } from '../src/audio/decode';
import { sharedDir } from '../tools/shared';
import FFT from 'fft.js';

const SR = 16000;
const sine = (freq: number, seconds = 1, amp = 0.5, rate = SR) =>
  Float32Array.from({ length: Math.round(seconds * rate) }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate));
/** RMS of x after the first `skip` samples (filters and resamplers need a moment to settle). */
const rms = (x: Float32Array, skip = 2000) => Math.sqrt(x.subarray(skip, x.length - skip).reduce((s, v) => s + v * v, 0) / (x.length - 2 * skip));

describe('audio: telephone band', () => {
  it('Biquad: a steady sine is scaled by |H| (RBJ Butterworth: -3 dB at the corner)', () => {
    const hp = Biquad.highpass(300, 8000);
    const lp = Biquad.lowpass(3400, 8000);
    assert.ok(Math.abs(hp.gain(300) - Math.SQRT1_2) < 1e-9 && Math.abs(lp.gain(3400) - Math.SQRT1_2) < 1e-9);
    // 2nd-order Butterworth high-pass one octave and more below its corner: 1/sqrt(1 + (fc/f)^4) in analog terms.
    assert.ok(Math.abs(hp.gain(100) - 1 / Math.sqrt(1 + 3 ** 4)) < 0.01, String(hp.gain(100)));
    for (const [f, filter] of [[100, hp], [1000, hp], [1000, lp], [3000, lp]] as const) {
      const x = sine(f, 1, 0.5, 8000);
      const measured = rms(filter.process(x), 800) / rms(x, 800);
      assert.ok(Math.abs(measured - filter.gain(f)) < 0.005, `${f} Hz: measured ${measured}, |H| ${filter.gain(f)}`);
    }
    assert.throws(() => Biquad.lowpass(5000, 8000), /frequency must be in \(0, 4000\) Hz at 8000 Hz, got 5000/);
  });

  it('G.711 mu-law: the codec table (0 -> 0xFF, extremes +-32124) and a bounded error', () => {
    assert.equal(linearToMulaw(0), 0xff);
    assert.equal(mulawToLinear(0xff), 0);
    assert.equal(mulawToLinear(0x00), -32124);
    assert.equal(mulawToLinear(0x80), 32124);
    assert.equal(linearToMulaw(32767), 0x80);
    assert.equal(linearToMulaw(-32768), 0x00);
    // Every code decodes to a level that encodes back to the same code (except the two zeros).
    const levels = new Set<number>();
    for (let c = 0; c < 256; c++) {
      const v = mulawToLinear(c);
      levels.add(v);
      if (c !== 0x7f) assert.equal(linearToMulaw(v), c, `code ${c}`);
    }
    assert.equal(levels.size, 255);
    // Companding keeps the relative error of a loud signal small (8 bits, logarithmic steps).
    const x = sine(440, 0.1, 0.5);
    const y = mulawCompand(x);
    let worst = 0;
    for (let i = 0; i < x.length; i++) if (Math.abs(x[i]) > 0.05) worst = Math.max(worst, Math.abs(y[i] - x[i]) / Math.abs(x[i]));
    assert.ok(worst < 0.035, `worst relative error ${worst}`);
  });

  it('telephoneBand: voice band kept, above 4 kHz removed, below 300 Hz attenuated; same length', async () => {
    const [hp, lp] = telephoneFilters();
    for (const [f, expected] of [[1000, hp.gain(1000) * lp.gain(1000)], [2000, hp.gain(2000) * lp.gain(2000)]]) {
      const x = sine(f);
      const y = await telephoneBand(x, SR, { codec: 'none' });
      assert.equal(y.length, x.length);
      const ratio = rms(y) / rms(x);
      assert.ok(Math.abs(ratio - expected) < 0.02, `${f} Hz: ${ratio} vs ${expected}`);
    }
    const high = await telephoneBand(sine(6000), SR, { codec: 'none' });
    assert.ok(rms(high) < 1e-3 * rms(sine(6000)), `6 kHz leaks: ${rms(high)}`);
    const low = rms(await telephoneBand(sine(100), SR, { codec: 'none' })) / rms(sine(100));
    assert.ok(Math.abs(low - hp.gain(100) * lp.gain(100)) < 0.01, `100 Hz: ${low}`);
    const odd = await telephoneBand(sine(1000, 0.50003), SR);
    assert.equal(odd.length, sine(1000, 0.50003).length);
  });

  it('telephoneBand on real speech: deterministic, no energy left above 4 kHz, mu-law noise ~ -35 dB', async () => {
    const x = await loadAudio(sharedDir('datasets', 'librispeech-mini', 'test', '19-198-0001.flac'));
    const a = await telephoneBand(x);
    const b = await telephoneBand(x);
    assert.deepEqual(a, b);
    const clean = await telephoneBand(x, SR, { codec: 'none' });
    let noise = 0;
    let signal = 0;
    for (let i = 0; i < x.length; i++) {
      noise += (a[i] - clean[i]) ** 2;
      signal += clean[i] ** 2;
    }
    const snr = 10 * Math.log10(signal / noise);
    assert.ok(snr > 25 && snr < 45, `mu-law SNR ${snr.toFixed(1)} dB`);
    // Share of the spectrum's energy above 4.2 kHz: a few percent in the original, ~nothing after.
    const above = (y: Float32Array) => {
      const n = 512;
      const fft = new FFT(n);
      const spec = fft.createComplexArray();
      let hi = 0;
      let all = 0;
      for (let s = 0; s + n <= y.length; s += n) {
        fft.realTransform(spec, Array.from(y.subarray(s, s + n), (v, i) => v * Math.sin((Math.PI * i) / n) ** 2)); // Hann
        for (let k = 1; k < n / 2; k++) {
          const p = spec[2 * k] ** 2 + spec[2 * k + 1] ** 2;
          all += p;
          if ((k * SR) / n > 4200) hi += p;
        }
      }
      return hi / all;
    };
    assert.ok(above(x) > 1e-3, `original above 4.2 kHz: ${above(x)}`);
    assert.ok(above(clean) < 1e-3 * above(x), `telephone above 4.2 kHz: ${above(clean)} vs ${above(x)}`);
    await assert.rejects(telephoneBand(x, SR, { codec: 'gsm' as 'none' }), /codec must be 'mulaw' or 'none', got "gsm"/);
  });
});
