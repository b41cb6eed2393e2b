import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, tf } from '../src/backend';
import { sharedDir } from '../tools/shared';
import { ComplexFFT, RealFFT } from '../src/features/fft';
import { melFilterBank, hzToMel, melToHz } from '../src/features/melFilters';
import { logMelSpectrogram, WhisperFeatureExtractor, hannWindow, trimToAudio } from '../src/features/logmel';

function readF32(file: string): Float32Array {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

const FIXTURES = ['jfk', 'libri_19-198-0001', 'fsdd_7_theo_3'];
const fixture = (id: string, kind: string) => readF32(sharedDir('reference/whisper-tiny/fixtures', `${id}.${kind}.f32`));

/** Direct O(n^2) DFT in float64, the definition the FFT must match. */
function naiveDft(re: Float64Array, im: Float64Array): [Float64Array, Float64Array] {
  const n = re.length;
  const outR = new Float64Array(n);
  const outI = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    for (let t = 0; t < n; t++) {
      const a = (-2 * Math.PI * ((k * t) % n)) / n;
      outR[k] += re[t] * Math.cos(a) - im[t] * Math.sin(a);
      outI[k] += re[t] * Math.sin(a) + im[t] * Math.cos(a);
    }
  }
  return [outR, outI];
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
}

describe('features: FFT', () => {
  it('complex FFT equals the direct DFT for mixed-radix and prime sizes', () => {
    const rnd = lcg(1);
    for (const n of [1, 2, 4, 5, 7, 12, 25, 200, 400]) {
      const re = Float64Array.from({ length: n }, rnd);
      const im = Float64Array.from({ length: n }, rnd);
      const [wr, wi] = naiveDft(re, im);
      new ComplexFFT(n).transform(re, im);
      for (let k = 0; k < n; k++) {
        assert.ok(Math.abs(re[k] - wr[k]) < 1e-11 && Math.abs(im[k] - wi[k]) < 1e-11, `n=${n} bin ${k}`);
      }
    }
  });

  it('real FFT of 400 points gives bins 0..200 and their power', () => {
    const rnd = lcg(2);
    const x = Float64Array.from({ length: 400 }, rnd);
    const [wr, wi] = naiveDft(x, new Float64Array(400));
    const fft = new RealFFT(400);
    const re = new Float64Array(201);
    const im = new Float64Array(201);
    const pow = new Float64Array(201);
    fft.forward(x, re, im);
    fft.power(x, pow);
    for (let k = 0; k <= 200; k++) {
      assert.ok(Math.abs(re[k] - wr[k]) < 1e-11 && Math.abs(im[k] - wi[k]) < 1e-11, `bin ${k}`);
      assert.ok(Math.abs(pow[k] - (wr[k] ** 2 + wi[k] ** 2)) < 1e-9, `power bin ${k}`);
    }
    assert.throws(() => new RealFFT(401), /fft\.ts: real FFT size must be an even integer/);
  });
});

describe('features: mel filters and window', () => {
  it('Slaney mel scale: linear to 1 kHz, logarithmic above, invertible', () => {
    assert.ok(Math.abs(hzToMel(1000) - 15) < 1e-12);
    assert.ok(Math.abs(hzToMel(200) - 3) < 1e-12);
    assert.ok(Math.abs(hzToMel(6400) - 42) < 1e-12); // 15 + 27 * log(6.4)/log(6.4)
    for (const hz of [0, 123, 999, 1000, 4321, 8000]) assert.ok(Math.abs(melToHz(hzToMel(hz)) - hz) < 1e-9);
  });

  it('80 and 128 filters: triangles over 201 bins with Slaney area normalization', () => {
    for (const nMels of [80, 128]) {
      const f = melFilterBank(16000, 400, nMels);
      assert.equal(f.length, nMels * 201);
      for (let m = 0; m < nMels; m++) {
        const row = Array.from(f.subarray(m * 201, (m + 1) * 201));
        assert.ok(row.every((v) => v >= 0));
        const nz = row.map((v, k) => (v > 0 ? k : -1)).filter((k) => k >= 0);
        assert.ok(nz.length >= 1, `mel ${m} has no bins`);
        assert.equal(nz[nz.length - 1] - nz[0] + 1, nz.length, `mel ${m} nonzeros are one run`);
      }
      // norm='slaney': the peak of band m is 2 / (width in Hz), so peaks shrink as bands widen.
      const peak = (m: number) => Math.max(...f.subarray(m * 201, (m + 1) * 201));
      assert.ok(peak(nMels - 1) < peak(nMels >> 1));
    }
  });

  it('periodic Hann window of 400', () => {
    const w = hannWindow(400);
    assert.equal(w[0], 0);
    assert.equal(w[200], 1);
    assert.ok(Math.abs(w[100] - 0.5) < 1e-7 && Math.abs(w[399] - w[1]) < 1e-7);
  });
});

describe('features: log-Mel parity with OpenAI whisper (PyTorch)', () => {
  for (const id of FIXTURES) {
    it(`${id}: max |ours - reference| <= 1e-4 over 80x3000`, () => {
      const out = logMelSpectrogram(fixture(id, 'pcm'));
      const ref = fixture(id, 'logmel');
      assert.equal(out.length, 80 * 3000);
      let max = 0;
      for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(out[i] - ref[i]));
      console.log(`      ${id}: max abs error ${max.toExponential(2)}`);
      assert.ok(max <= 1e-4, `${id}: max abs error ${max}`);
    });
  }

  it('equals a direct transcription of audio.py (dense DFT, dense filters) on a 1 s clip', () => {
    // loud tone, near-silence and exact silence, so the floor (max - 8) and reflect edges matter
    const rnd = lcg(3);
    const x = Float32Array.from({ length: 16000 }, (_, i) =>
      i < 6000 ? 0.5 * Math.sin(i / 3) + 0.01 * rnd() : i < 11000 ? 1e-6 * rnd() : 0);
    const fast = logMelSpectrogram(x, 80, { nSamples: 0 });
    const nFrames = 100; // 1 + 16000/160 frames, the last one dropped
    const filters = melFilterBank(16000, 400, 80);
    const win = hannWindow(400);
    const padded = new Float64Array(16400);
    for (let i = 0; i < 16400; i++) {
      const j = i - 200;
      padded[i] = x[j < 0 ? -j : j >= 16000 ? 2 * 15999 - j : j];
    }
    const cos = new Float64Array(400);
    const sin = new Float64Array(400);
    for (let i = 0; i < 400; i++) {
      cos[i] = Math.cos((-2 * Math.PI * i) / 400);
      sin[i] = Math.sin((-2 * Math.PI * i) / 400);
    }
    const logSpec = new Float64Array(80 * nFrames);
    for (let t = 0; t < nFrames; t++) {
      const power = new Float64Array(201);
      for (let k = 0; k <= 200; k++) {
        let re = 0;
        let im = 0;
        for (let i = 0; i < 400; i++) {
          const v = padded[t * 160 + i] * win[i];
          re += v * cos[(k * i) % 400];
          im += v * sin[(k * i) % 400];
        }
        power[k] = re * re + im * im;
      }
      for (let m = 0; m < 80; m++) {
        let acc = 0;
        for (let k = 0; k <= 200; k++) acc += filters[m * 201 + k] * power[k];
        logSpec[m * nFrames + t] = Math.log10(Math.max(acc, 1e-10));
      }
    }
    const max = Math.max(...logSpec);
    let err = 0;
    for (let i = 0; i < logSpec.length; i++) err = Math.max(err, Math.abs(fast[i] - (Math.max(logSpec[i], max - 8) + 4) / 4));
    assert.equal(fast.length, 80 * nFrames);
    assert.ok(err < 1e-6, `max error ${err}`);
  });

  it('audio longer than 30 s is trimmed, shorter is zero-padded', () => {
    const jfk = fixture('jfk', 'pcm');
    const long = new Float32Array(500000);
    for (let i = 0; i < long.length; i++) long[i] = jfk[i % jfk.length];
    const a = logMelSpectrogram(long);
    const b = logMelSpectrogram(long.slice(0, 480000));
    assert.deepEqual(a, b);
    const padded = new Float32Array(480000);
    padded.set(jfk);
    assert.deepEqual(logMelSpectrogram(jfk), logMelSpectrogram(padded));
  });

  it('a silent clip gives the constant (log10(1e-10) + 4) / 4 = -1.5', () => {
    const out = logMelSpectrogram(new Float32Array(16000));
    assert.ok(out.every((v) => v === -1.5));
  });
});

describe('features: WhisperFeatureExtractor', () => {
  before(async () => {
    await initBackend();
  });

  it('fromPretrained reads preprocessor_config.json', () => {
    const fe = WhisperFeatureExtractor.fromPretrained(sharedDir('models/whisper-tiny'));
    assert.equal(fe.featureSize, 80);
    assert.equal(fe.samplingRate, 16000);
    assert.equal(fe.hopLength, 160);
    assert.equal(fe.nFft, 400);
    assert.equal(fe.nSamples, 480000);
    assert.equal(fe.nFrames, 3000);
  });

  it('call() batches extract() into [B, 80, 3000] and leaks no tensor', () => {
    const fe = WhisperFeatureExtractor.fromPretrained(sharedDir('models/whisper-tiny'));
    const before = tf.memory().numTensors;
    const clips = [fixture('fsdd_7_theo_3', 'pcm'), fixture('jfk', 'pcm')];
    const x = fe.call(clips);
    assert.deepEqual(x.shape, [2, 80, 3000]);
    const data = x.dataSync();
    x.dispose();
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(data.subarray(80 * 3000), fe.extract(clips[1]));
    const ref = fixture('fsdd_7_theo_3', 'logmel');
    for (let i = 0; i < ref.length; i += 997) assert.ok(Math.abs(data[i] - ref[i]) <= 1e-4);
  });

  it('trimToAudio finds where the longest clip\'s audio ends from the features alone (the draft model\'s input)', () => {
    const fe = WhisperFeatureExtractor.fromPretrained(sharedDir('models/whisper-tiny'));
    const [short, jfk] = [fixture('fsdd_7_theo_3', 'pcm'), fixture('jfk', 'pcm')];
    const before = tf.memory().numTensors;
    for (const clips of [[short], [short, jfk]]) {
      const x = fe.call(clips);
      const cut = trimToAudio(x);
      // The trimPadding frames of the longest clip (its audio frames + the margin), give or take the STFT frame that straddles the end.
      const want = fe.trimmedFrames(Math.max(...clips.map((c) => c.length)));
      assert.ok(Math.abs(cut.shape[2] - want) <= 2, `${cut.shape[2]} frames, trimPadding keeps ${want}`);
      tf.tidy(() => assert.deepEqual(Array.from(cut.slice([0, 0, 0], [1, 1, -1]).dataSync()), Array.from(x.slice([0, 0, 0], [1, 1, cut.shape[2]]).dataSync())));
      tf.dispose([x, cut]);
    }
    // 30 s of speech: nothing to cut, the same tensor back.
    const long = fe.call([new Float32Array(480000).map((_, i) => Math.sin(i / 7))]);
    assert.equal(trimToAudio(long), long);
    long.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('errors name the config file and the field', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fe-'));
    try {
      assert.throws(() => WhisperFeatureExtractor.fromPretrained(dir), /preprocessor_config\.json: file not found/);
      fs.writeFileSync(path.join(dir, 'preprocessor_config.json'), JSON.stringify({ feature_size: 80 }));
      assert.throws(() => WhisperFeatureExtractor.fromPretrained(dir), /preprocessor_config\.json: field "sampling_rate" must be a number/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
