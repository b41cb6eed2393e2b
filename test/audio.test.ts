import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sharedDir } from '../tools/shared';
import { decodeAudio, loadAudio, mixToMono } from '../src/audio/decode';
import { resample } from '../src/audio/resample';
import { encodeWav } from '../src/audio/wav';
import { trimSilence, frameMeanSquare } from '../src/audio/trim';
import { addGaussianNoise, gain, peakNormalize, makeRng, gaussian } from '../src/audio/augment';

const FSDD = () => sharedDir('datasets/fsdd-digits/audios/7_theo_3.wav');
const CV_MP3 = () => sharedDir('datasets/commonvoice-sample/en/clips/common_voice_en_111554.mp3');
const LIBRI = () => sharedDir('datasets/librispeech-mini/test/19-198-0001.flac');

function f32(b: Buffer): Float32Array {
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** The reference loader: `ffmpeg -i X [-ar R] -ac 1 -f f32le -` (only in tests). */
function ffmpeg(file: string, rate?: number): Float32Array {
  const args = ['-nostdin', '-loglevel', 'error', '-i', file, ...(rate ? ['-ar', String(rate)] : []), '-ac', '1', '-f', 'f32le', '-'];
  return f32(execFileSync('ffmpeg', args, { maxBuffer: 1 << 28 }));
}

function diff(a: Float32Array, b: Float32Array): { max: number; rms: number } {
  assert.equal(a.length, b.length, 'lengths');
  let max = 0;
  let ss = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    ss += d * d;
  }
  return { max, rms: Math.sqrt(ss / a.length) };
}

const fmt = (d: { max: number; rms: number }) => `max ${d.max.toExponential(2)}, rms ${d.rms.toExponential(2)}`;

describe('audio: decode', () => {
  it('WAV at its own rate equals ffmpeg up to the int16 scale convention', async () => {
    const x = await loadAudio(FSDD(), 8000);
    const d = diff(x, ffmpeg(FSDD()));
    // ffmpeg divides int16 by 32768; audio-decode divides positive values by 32767: <= 1/32767 apart.
    assert.ok(d.max < 1 / 32767, fmt(d));
  });

  it('FLAC and MP3 at their own rate match ffmpeg', async () => {
    const flac = diff(await loadAudio(LIBRI()), ffmpeg(LIBRI()));
    assert.ok(flac.max < 1e-4, `flac ${fmt(flac)}`);
    // MP3: audio-decode's decoder vs ffmpeg's mp3float, both float: tiny differences only.
    const mp3 = diff(await loadAudio(CV_MP3(), 48000), ffmpeg(CV_MP3()));
    console.log(`      mp3 48 kHz decode vs ffmpeg: ${fmt(mp3)}`);
    assert.ok(mp3.max < 1e-3, `mp3 ${fmt(mp3)}`);
  });

  it('mixes channels by their mean', () => {
    const m = mixToMono([Float32Array.of(1, 0.5, -1), Float32Array.of(0, 0.5, 1)]);
    assert.deepEqual(Array.from(m), [0.5, 0.5, 0]);
    const one = Float32Array.of(0.25);
    assert.equal(mixToMono([one]), one);
  });

  it('truncated or corrupt FLAC/WAV, text, empty and missing files give errors naming the file', async () => {
    const flac = fs.readFileSync(LIBRI());
    const wav = fs.readFileSync(FSDD());
    await assert.rejects(decodeAudio(flac.subarray(0, flac.length >> 1), 'half.flac'),
      /^Error: half\.flac: cannot decode audio: truncated or corrupt: decoded \d+ of the 188240 samples its header declares$/);
    await assert.rejects(decodeAudio(flac.subarray(0, 200), 'head.flac'), /head\.flac: cannot decode audio: no audio samples/);
    await assert.rejects(decodeAudio(wav.subarray(0, wav.length - 1000), 'cut.wav'), /cut\.wav: cannot decode audio: truncated or corrupt/);
    await assert.rejects(decodeAudio(Buffer.from('file_name,transcription\n'), 'notes.txt'),
      /notes\.txt: cannot decode audio: unknown format, not WAV\/FLAC\/MP3.*starts with "file_name,transc"/);
    await assert.rejects(decodeAudio(new Uint8Array(0), 'empty.wav'), /empty\.wav: cannot decode audio: empty data/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audio-'));
    try {
      const txt = path.join(dir, 'readme.txt');
      fs.writeFileSync(txt, 'not audio at all');
      await assert.rejects(loadAudio(txt), new RegExp(`${txt}: cannot decode audio: unknown format`));
      await assert.rejects(loadAudio(path.join(dir, 'missing.flac')), new RegExp(`${dir}/missing\\.flac: file not found`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('audio: resample (libsamplerate) vs ffmpeg', () => {
  it('8 kHz fsdd WAV -> 16 kHz', async () => {
    const x = await loadAudio(FSDD());
    const d = diff(x, ffmpeg(FSDD(), 16000));
    console.log(`      fsdd 8k->16k vs ffmpeg -ar 16000: ${fmt(d)} (signal peak ${Math.max(...x.map(Math.abs)).toFixed(3)})`);
    assert.ok(d.max < 2e-3 && d.rms < 2e-4, fmt(d));
  });

  it('48 kHz Common Voice MP3 -> 16 kHz', async () => {
    const x = await loadAudio(CV_MP3());
    const d = diff(x, ffmpeg(CV_MP3(), 16000));
    console.log(`      cv mp3 48k->16k vs ffmpeg -ar 16000: ${fmt(d)}`);
    assert.ok(d.max < 1e-2 && d.rms < 1e-3, fmt(d));
  });

  it('equal rates return the input; lengths are round(n * to / from)', async () => {
    const x = Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i / 10));
    assert.equal(await resample(x, 16000, 16000), x);
    assert.equal((await resample(x, 44100, 16000)).length, Math.round((1001 * 16000) / 44100));
    assert.equal((await resample(x, 8000, 16000)).length, 2002);
    await assert.rejects(resample(x, 0, 16000), /resample\.ts: input sample rate must be in 1\.\.192000 Hz, got 0/);
  });

  it('a 1 kHz sine keeps its amplitude and frequency through 44.1 kHz -> 16 kHz', async () => {
    const x = Float32Array.from({ length: 44100 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 44100));
    const y = await resample(x, 44100, 16000);
    let max = 0;
    for (let i = 1000; i < 15000; i++) max = Math.max(max, Math.abs(y[i] - 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 16000)));
    assert.ok(max < 1e-3, `sine error ${max}`);
  });
});

describe('audio: decoded clips vs the reference fixtures (*.pcm.f32)', () => {
  const cases: [string, string, number, number][] = [
    // id, source under datasets/, max, rms limits
    ['libri_19-198-0001', 'librispeech-mini/test/19-198-0001.flac', 1e-4, 1e-5], // 16 kHz already
    ['jfk', 'samples/jfk.flac', 5e-3, 1e-4], // 44.1 kHz stereo here: channel mean + resampling
    ['fsdd_7_theo_3', 'fsdd-digits/audios/7_theo_3.wav', 2e-3, 2e-4], // 8 kHz
  ];
  for (const [id, src, maxLimit, rmsLimit] of cases) {
    it(`${id}`, async () => {
      const x = await loadAudio(sharedDir('datasets', src));
      const ref = f32(fs.readFileSync(sharedDir('reference/whisper-tiny/fixtures', `${id}.pcm.f32`)));
      const d = diff(x, ref);
      console.log(`      ${id}: ${fmt(d)}`);
      assert.ok(d.max < maxLimit && d.rms < rmsLimit, fmt(d));
    });
  }
});

describe('audio: WAV encoding', () => {
  it('16-bit PCM mono header and a round trip through decodeAudio', async () => {
    const x = Float32Array.from({ length: 1600 }, (_, i) => 0.8 * Math.sin(i / 7));
    x[0] = 1;
    x[1] = -1;
    x[2] = 1.7; // clipped to 1
    const wav = encodeWav(x, 16000);
    assert.equal(wav.length, 44 + 2 * x.length);
    assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
    assert.equal(wav.toString('ascii', 8, 12), 'WAVE');
    assert.equal(wav.readUInt16LE(20), 1);
    assert.equal(wav.readUInt16LE(22), 1);
    assert.equal(wav.readUInt32LE(24), 16000);
    assert.equal(wav.readUInt16LE(34), 16);
    assert.equal(wav.readUInt32LE(40), 2 * x.length);
    const y = await decodeAudio(wav, 'roundtrip.wav');
    assert.equal(y.length, x.length);
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(y[i] - Math.max(-1, Math.min(1, x[i]))) <= 1 / 32767 + 1e-7, `sample ${i}`);
    // ffmpeg reads the same integers (its scale is 1/32768 for both signs, hence the tolerance)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wav-'));
    try {
      fs.writeFileSync(path.join(dir, 'a.wav'), wav);
      assert.ok(diff(y, ffmpeg(path.join(dir, 'a.wav'))).max <= 1 / 32767);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // an 8 kHz WAV is resampled to 16 kHz on load
    assert.equal((await decodeAudio(encodeWav(x, 8000), 'slow.wav')).length, 3200);
    assert.throws(() => encodeWav(x, 0), /wav\.ts: sample rate must be a positive integer/);
  });
});

describe('audio: trimSilence (librosa.effects.trim semantics)', () => {
  /** 16000 samples: silence, DC 0.5 over [from, to), silence. */
  const burst = (from: number, to: number) => {
    const x = new Float32Array(16000);
    x.fill(0.5, from, to);
    return x;
  };

  it('frame t covers samples [512t - 1024, 512t + 1024) of the zero-padded signal', () => {
    const ms = frameMeanSquare(burst(5000, 8707), 2048, 512);
    assert.equal(ms.length, 1 + Math.floor((16000 + 2048 - 2048) / 512)); // 32 frames
    assert.equal(ms[7], 0); // [2560, 4608): before the burst
    assert.ok(Math.abs(ms[8] - (120 * 0.25) / 2048) < 1e-12); // [3072, 5120): 120 burst samples
    assert.ok(Math.abs(ms[12] - 0.25) < 1e-12); // wholly inside
  });

  it('keeps whole hops from the first to the last frame above -topDb', () => {
    // Burst [5000, 8707): frame 8 is the first to overlap it (120 samples: -12.3 dB, loud).
    // Frame 19 starts at 19*512 - 1024 = 8704: 3 burst samples = 10 log10(3/2048) = -29.3 dB
    // (kept at top_db 30), so end = 20 * 512.
    let r = trimSilence(burst(5000, 8707));
    assert.deepEqual([r.start, r.end], [8 * 512, 20 * 512]);
    assert.equal(r.audio.length, r.end - r.start);
    // One sample less: frame 19 sees 2 samples = -30.1 dB, silence; the last loud frame is 18.
    r = trimSilence(burst(5000, 8706));
    assert.deepEqual([r.start, r.end], [8 * 512, 19 * 512]);
    // top_db 60 also keeps frames with a single burst sample (-33.1 dB)
    r = trimSilence(burst(5000, 8705), { topDb: 60 });
    assert.deepEqual([r.start, r.end], [8 * 512, 20 * 512]);
    // the end is clipped to the signal
    r = trimSilence(burst(15000, 16000));
    assert.equal(r.end, 16000);
  });

  it('all-zero input is kept whole, as librosa does (every frame is 0 dB re a zero max)', () => {
    const r = trimSilence(new Float32Array(5000));
    assert.deepEqual([r.start, r.end, r.audio.length], [0, 5000, 5000]);
    assert.deepEqual([trimSilence(new Float32Array(0)).start, trimSilence(new Float32Array(0)).end], [0, 0]);
    assert.throws(() => trimSilence(new Float32Array(10), { hopLength: 0 }), /trim\.ts: need topDb > 0/);
  });

  it('trims a real clip: the fsdd digit keeps its spoken part', async () => {
    const x = await loadAudio(FSDD());
    const r = trimSilence(x);
    assert.ok(r.start >= 0 && r.end <= x.length && r.end - r.start > 1600, `${r.start}..${r.end}`);
    assert.equal(r.start % 512, 0);
  });
});

describe('audio: augmentations (seeded)', () => {
  const x = Float32Array.from({ length: 4000 }, (_, i) => 0.3 * Math.sin(i / 5));

  it('the same seed gives the same result, another seed a different one', () => {
    const run = (seed: number) => {
      const rng = makeRng(seed);
      return gain(addGaussianNoise(x, { p: 1 }, rng), { p: 1 }, rng);
    };
    assert.deepEqual(run(7), run(7));
    assert.notDeepEqual(run(7), run(8));
  });

  it('addGaussianNoise: noise std within [minAmplitude, maxAmplitude]; p=0 leaves x alone', () => {
    const y = addGaussianNoise(x, { p: 1, minAmplitude: 0.01, maxAmplitude: 0.02 }, makeRng(1));
    let ss = 0;
    for (let i = 0; i < x.length; i++) ss += (y[i] - x[i]) ** 2;
    const std = Math.sqrt(ss / x.length);
    assert.ok(std > 0.01 * 0.9 && std < 0.02 * 1.1, `noise std ${std}`);
    assert.equal(addGaussianNoise(x, { p: 0 }, makeRng(1)), x);
    assert.throws(() => addGaussianNoise(x, { p: 2 }, makeRng(1)), /augment\.ts: addGaussianNoise: p must be in \[0, 1\]/);
  });

  it('gain: factor between 10^(minDb/20) and 10^(maxDb/20); p is a real probability', () => {
    const rng = makeRng(3);
    let applied = 0;
    for (let k = 0; k < 200; k++) {
      const y = gain(x, { p: 0.5, minDb: -6, maxDb: 6 }, rng);
      if (y === x) continue;
      applied++;
      const factor = y[1] / x[1];
      assert.ok(factor >= 10 ** (-6 / 20) - 1e-6 && factor <= 10 ** (6 / 20) + 1e-6, `factor ${factor}`);
    }
    assert.ok(applied > 70 && applied < 130, `applied ${applied}/200`);
  });

  it('gaussian() has mean 0 and variance 1; peakNormalize scales the peak to 1', () => {
    const rng = makeRng('normal');
    let s = 0;
    let ss = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const g = gaussian(rng);
      s += g;
      ss += g * g;
    }
    assert.ok(Math.abs(s / n) < 0.03 && Math.abs(ss / n - 1) < 0.05);
    const y = peakNormalize(Float32Array.of(0.1, -0.25, 0.2));
    assert.deepEqual(Array.from(y), [0.4, -1, 0.8].map(Math.fround));
    assert.deepEqual(peakNormalize(new Float32Array(3)), new Float32Array(3));
  });
});
