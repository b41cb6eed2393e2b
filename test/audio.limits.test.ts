/**
 * Hostile audio (issue 15): headers that declare absurd values and silence that expands a
 * thousandfold are refused before they cost memory. Memory is measured as the peak RSS of a child
 * process that decodes one file, against a child that decodes an ordinary clip.
 */
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { decodeAudio } from '../src/audio/decode';
import { openAudioStream } from '../src/audio/stream';
import { encodeWav } from '../src/audio/wav';
import { PROJECT_ROOT, sharedDir } from '../tools/shared';
import { silentFlac, wavDeclaring } from './helpers/bombs';

interface ChildResult { samples: number; chunks: number; error?: string; rssMb: number; seconds: number }

/** Decodes `file` in a fresh process; `mode` 'decode' = decodeAudio, 'stream' = openAudioStream. */
function inChild(file: string, mode: 'decode' | 'stream', maxSeconds?: number): ChildResult {
  const out = execFileSync(process.execPath, ['-r', 'tsx/cjs', path.join(__dirname, 'helpers', 'decodeRss.ts'),
    JSON.stringify({ file, mode, maxSeconds })], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 300_000 });
  return JSON.parse(out.trim().split('\n').pop()!);
}

describe('audio limits: hostile files are refused before they cost memory', function () {
  let tmp: string;
  let baseline: ChildResult;
  const write = (name: string, bytes: Buffer) => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, bytes);
    return f;
  };

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'audio-bombs-'));
    // What a process that decodes an ordinary 11 s clip peaks at (modules, codecs, resampler).
    baseline = inChild(sharedDir('datasets', 'samples', 'jfk.flac'), 'decode');
    assert.equal(baseline.error, undefined);
    console.log(`      baseline (jfk.flac, 11 s): ${baseline.rssMb} MB peak RSS`);
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('channel bomb: a 32 KB WAV declaring 65535 channels is refused from its header', () => {
    const r = inChild(write('channels.wav', wavDeclaring(65535, 16000, 32768, 2)), 'decode');
    console.log(`      channel bomb: ${r.rssMb} MB peak RSS, ${r.seconds.toFixed(2)} s`);
    assert.match(r.error ?? '', /channels\.wav: cannot decode audio: its header declares 65535 channels \(at most 32 are accepted\)/);
    assert.ok(r.rssMb - baseline.rssMb < 50, `peak RSS ${r.rssMb} MB vs ${baseline.rssMb} MB for an ordinary clip`);
    assert.ok(r.seconds < 5, `${r.seconds} s`);
  });

  it('silence bomb: 3 hours of FLAC silence in 37 KB stops at the limit, declared or not', () => {
    // As an encoder writes it (the length in STREAMINFO): refused from the header.
    const declared = inChild(write('silence-3h.flac', silentFlac(3 * 3600)), 'decode', 600);
    assert.match(declared.error ?? '', /silence-3h\.flac: its header declares 3 h of audio, more than the limit of 10 min/);
    // Length left out of the header: decoding stops once 10 minutes came out.
    const hidden = inChild(write('silence-3h-nolength.flac', silentFlac(3 * 3600, 16000, false)), 'decode', 600);
    assert.match(hidden.error ?? '', /silence-3h-nolength\.flac: more than 10 min of audio, the limit/);
    // decodeAudio's own default (1 hour) refuses it as well.
    const byDefault = inChild(path.join(tmp, 'silence-3h-nolength.flac'), 'decode');
    assert.match(byDefault.error ?? '', /more than 1 h of audio, the limit/);
    console.log(`      silence bomb: declared ${declared.rssMb} MB, hidden length ${hidden.rssMb} MB (limit 10 min), ` +
      `default limit 1 h ${byDefault.rssMb} MB peak RSS`);
    assert.ok(declared.rssMb - baseline.rssMb < 50, `${declared.rssMb} MB`);
    // 10 minutes of 16 kHz float samples are 38 MB; 1 hour 230 MB: what whole-file decoding holds.
    assert.ok(hidden.rssMb - baseline.rssMb < 150, `${hidden.rssMb} MB`);
    assert.ok(byDefault.rssMb - baseline.rssMb < 600, `${byDefault.rssMb} MB`);
  });

  it('openAudioStream reads all 3 hours in 30 s chunks with bounded memory', () => {
    const r = inChild(path.join(tmp, 'silence-3h-nolength.flac'), 'stream');
    console.log(`      3 h stream: ${r.chunks} chunks, ${r.rssMb} MB peak RSS, ${r.seconds.toFixed(1)} s`);
    assert.equal(r.error, undefined);
    assert.equal(r.samples, 3 * 3600 * 16000);
    assert.equal(r.chunks, 3 * 3600 / 30);
    // The whole file would be 691 MB of samples.
    assert.ok(r.rssMb - baseline.rssMb < 150, `${r.rssMb} MB`);
  });

  it('sample rates out of range name the file and the rate; 1..192 kHz are accepted', async () => {
    await assert.rejects(decodeAudio(wavDeclaring(1, 1, 2000), 'rate1.wav'),
      /^Error: rate1\.wav: cannot decode audio: its header declares a sample rate of 1 Hz \(1000\.\.192000 Hz are accepted/);
    await assert.rejects(decodeAudio(wavDeclaring(1, 384000, 76800), 'hires.wav'),
      /^Error: hires\.wav: cannot decode audio: its header declares a sample rate of 384000 Hz/);
    const tone = new Float32Array(19200).map((_, i) => 0.5 * Math.sin(i / 10));
    assert.equal((await decodeAudio(encodeWav(tone, 192000), 'ok.wav')).length, 1600);
  });

  it('an MP4/M4A is refused from the length in its header (its decoder needs the whole file)', async function () {
    const m4a = path.join(tmp, 'jfk.m4a');
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', sharedDir('datasets', 'samples', 'jfk.flac'), '-c:a', 'aac', m4a]);
    await assert.rejects(decodeAudio(fs.readFileSync(m4a), 'jfk.m4a', 16000, 'best', { maxSeconds: 5 }),
      /jfk\.m4a: its header declares 11 s of audio, more than the limit of 5 s/);
    assert.equal((await decodeAudio(fs.readFileSync(m4a), 'jfk.m4a')).length, 176000);
  });

  it('openAudioStream chunks equal decodeAudio of the whole file', async () => {
    const file = sharedDir('datasets', 'samples', 'jfk.flac');
    const whole = await decodeAudio(fs.readFileSync(file), file);
    const chunks: Float32Array[] = [];
    for await (const c of openAudioStream(file, { chunkSeconds: 4 })) chunks.push(c);
    assert.deepEqual(chunks.map((c) => c.length), [64000, 64000, 48000]);
    const joined = new Float32Array(whole.length);
    chunks.reduce((at, c) => (joined.set(c, at), at + c.length), 0);
    assert.deepEqual(joined, whole);
    await assert.rejects(async () => {
      for await (const c of openAudioStream(path.join(tmp, 'nope.wav'))) void c;
    }, /nope\.wav: file not found/);
  });
});
