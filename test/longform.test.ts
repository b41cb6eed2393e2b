import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, tf } from '../src/backend';
import { loadAudio } from '../src/audio/decode';
import { encodeWav } from '../src/audio/wav';
import { wer } from '../src/eval/metrics';
import { getNormalizer } from '../src/text';
import { WhisperForConditionalGeneration } from '../src/model/whisper';
import { WhisperTokenizer } from '../src/tokenizer/whisper';
import { sharedDir, loadReferenceTranscripts } from '../tools/shared';
import { logMelSpectrogram } from '../src/features/logmel';
import { beamSearch, greedySearch, NextLogits, rankScore } from '../src/model/search';
import { DecodingTask, timestampRules } from '../src/model/decoding';
import { AudioFeatures, DecoderSession } from '../src/model/inference';
import { splitWindow, transcribeAudio } from '../src/model/transcribe';
import { WhisperFeatureExtractor } from '../src/features/logmel';
import { isSilent, rmsDb } from '../src/audio/vad';

let tiny: Promise<{ model: WhisperForConditionalGeneration; tokenizer: WhisperTokenizer }> | undefined;
/** The shared whisper-tiny, loaded once for this file. */
function tinyModel() {
  const dir = sharedDir('models', 'whisper-tiny');
  tiny ??= Promise.all([WhisperForConditionalGeneration.fromPretrained(dir), WhisperTokenizer.fromPretrained(dir)])
    .then(([model, tokenizer]) => ({ model, tokenizer }));
  return tiny;
}

/** A toy language model over tokens A=0, B=1, EOT=2 given as next-token probabilities. */
function toyModel(table: Record<string, number[]>): NextLogits {
  return async (rows) => rows.map((r) => {
    const key = r.slice(1).join(',');
    const p = table[key];
    if (!p) throw new Error(`toy model: no distribution after [${key}]`);
    return Float32Array.from(p, Math.log);
  });
}

// Greedy takes A (0.5) then must end with p 0.4: 0.20 in total; B (0.4) then end (0.9) is 0.36.
const TRAP = toyModel({ '': [0.5, 0.4, 0.1], '0': [0.3, 0.3, 0.4], '1': [0.05, 0.05, 0.9], '0,0': [0, 0, 1], '0,1': [0, 0, 1], '1,0': [0, 0, 1], '1,1': [0, 0, 1] });
const PROMPT = [99];

describe('beam search (openai BeamSearchDecoder + MaximumLikelihoodRanker)', () => {
  it('numBeams=1 is greedy and numBeams=2 escapes the greedy trap', async () => {
    const opts = { eot: 2, maxNewTokens: 5 };
    const greedy = await greedySearch(TRAP, PROMPT, opts);
    assert.deepEqual(greedy.tokens, [0]);
    assert.ok(Math.abs(greedy.sumLogprob - Math.log(0.2)) < 1e-6);
    const one = await beamSearch(TRAP, PROMPT, { ...opts, numBeams: 1 });
    assert.deepEqual(one.tokens, greedy.tokens);
    assert.ok(Math.abs(one.sumLogprob - greedy.sumLogprob) < 1e-9);
    const two = await beamSearch(TRAP, PROMPT, { ...opts, numBeams: 2 });
    assert.deepEqual(two.tokens, [1]);
    assert.ok(Math.abs(two.sumLogprob - Math.log(0.36)) < 1e-6);
    assert.ok(two.finished);
  });

  it('rejects a beam count that is not a positive integer', async () => {
    await assert.rejects(beamSearch(TRAP, PROMPT, { eot: 2, maxNewTokens: 5, numBeams: 0 }), /numBeams must be a positive integer, got 0/);
  });

  it('passes `sources` so a decoder cache can follow beams being reordered', async () => {
    const seen: (number[] | undefined)[] = [];
    const spy: NextLogits = async (rows, sources) => {
      seen.push(sources);
      return TRAP(rows);
    };
    await beamSearch(spy, PROMPT, { eot: 2, maxNewTokens: 5, numBeams: 2 });
    assert.equal(seen[0], undefined); // first call: whole prompt
    assert.deepEqual(seen[1], [0, 0]); // both beams extend the single prompt row
  });

  it('ranks by sumLogprob / length, or the Google NMT length penalty', () => {
    assert.equal(rankScore(-6, 3), -2);
    assert.ok(Math.abs(rankScore(-6, 3, 1) - -6 / (8 / 6)) < 1e-12);
    // Longer but more likely per token wins with the length normalisation.
    assert.ok(rankScore(-4, 8) > rankScore(-2, 2));
  });
});

describe('timestamp rules (openai ApplyTimestampRules)', () => {
  // Vocabulary of 30: text 0..4, eot 5, specials 6..9 (9 = <|notimestamps|>), timestamps 10..29.
  const ids = { eot: 5, noTimestamps: 9, timestampBegin: 10 };
  const P = [7, 8]; // prompt
  const flat = () => new Float32Array(30).fill(0);
  const allowed = (l: Float32Array) => [...l.keys()].filter((i) => l[i] > -Infinity);
  const rules = timestampRules(ids, P.length, 0.1); // max initial timestamp 0.1 s = index 5

  it('starts with a timestamp no later than max_initial_timestamp', () => {
    const l = flat();
    rules(l, P);
    assert.deepEqual(allowed(l), [10, 11, 12, 13, 14, 15]);
  });

  it('text follows an opening timestamp; a closing timestamp (or eot) follows a timestamp after text', () => {
    let l = flat();
    rules(l, [...P, 10]);
    assert.ok(allowed(l).every((t) => t < 10) && allowed(l).includes(0));
    l = flat();
    l[5] = 5; // eot likelier than all timestamps together, so no timestamp is forced
    rules(l, [...P, 10, 3, 14]);
    // After <|t4|> closing a segment: the next segment opens at >= t4, or the text ends.
    assert.deepEqual(allowed(l), [5, 6, 7, 8, ...Array.from({ length: 16 }, (_, i) => 14 + i)]);
  });

  it('timestamps never go back and segments are not empty', () => {
    const l = flat();
    rules(l, [...P, 10, 3, 14, 14, 2]);
    assert.ok(!allowed(l).some((t) => t >= 10 && t <= 14));
    assert.ok(allowed(l).includes(15));
    assert.equal(l[9], -Infinity); // <|notimestamps|> is never sampled
  });

  it('forces a timestamp when timestamps together outweigh the best text token', () => {
    const l = flat();
    l[0] = 2; // best text token: e^2 ~ 7.4 vs 20 timestamps of weight 1 each
    rules(l, [...P, 10, 3]);
    assert.ok(allowed(l).every((t) => t >= 10));
  });
});

describe('splitting a window at timestamps (openai transcribe seek logic)', () => {
  const tb = 100;
  it('cuts at each pair and consumes the window when it ends on a single timestamp', () => {
    const r = splitWindow([100, 1, 2, 150, 150, 3, 200], tb, 3000);
    assert.deepEqual(r.segments, [{ start: 0, end: 1, tokens: [100, 1, 2, 150] }, { start: 1, end: 2, tokens: [150, 3, 200] }]);
    assert.equal(r.seekFrames, 3000);
    assert.ok(r.singleTimestampEnding);
  });

  it('seeks to the last complete timestamp when the last segment is unfinished', () => {
    const r = splitWindow([100, 1, 150, 150, 3], tb, 3000);
    assert.deepEqual(r.segments, [{ start: 0, end: 1, tokens: [100, 1, 150] }]);
    assert.equal(r.seekFrames, 100); // 1.00 s in 10 ms mel frames
  });

  it('without a pair, one segment ending at the last timestamp', () => {
    const r = splitWindow([100, 1, 2, 140], tb, 3000);
    assert.deepEqual(r.segments, [{ start: 0, end: 0.8, tokens: [100, 1, 2, 140] }]);
    assert.equal(r.seekFrames, 3000);
  });
});

describe('energy voice-activity gate', () => {
  it('calls digital silence and faint noise silent, and one short loud word not', () => {
    const n = 16000 * 3;
    assert.ok(isSilent(new Float32Array(n)));
    const noise = Float32Array.from({ length: n }, (_, i) => 0.001 * Math.sin(i * 1.3)); // about -63 dBFS
    assert.ok(rmsDb(noise) < -60);
    assert.ok(isSilent(noise));
    const word = noise.slice();
    for (let i = 20000; i < 22400; i++) word[i] = 0.2 * Math.sin(i * 0.2); // 150 ms at -17 dBFS
    assert.ok(!isSilent(word));
    assert.ok(isSilent(word, { thresholdDb: -10 }));
  });
});

describe('long-form transcription of a 2-minute file (real whisper-tiny)', function () {
  it('matches clip-by-clip WER within 2 points and skips a silent window', async function () {
    await initBackend();
    const dir = sharedDir('datasets', 'librispeech-mini', 'test');
    const rows = fs.readFileSync(path.join(dir, 'metadata.csv'), 'utf8').trim().split('\n').slice(1)
      .map((l) => l.split(','))
      .map((c) => ({ file: c[0], text: c.slice(1, -2).join(','), seconds: Number(c[c.length - 1]) }));
    const picked: typeof rows = [];
    let total = 0;
    for (const r of rows) {
      if (total >= 120) break;
      picked.push(r);
      total += r.seconds;
    }
    const clips = await Promise.all(picked.map((r) => loadAudio(path.join(dir, r.file))));
    // The 2-minute file, written and read back as a real WAV, then 35 s of silence at the end
    // (a whole window the VAD must skip instead of letting Whisper invent text there).
    const joined = new Float32Array(clips.reduce((n, c) => n + c.length, 0) + 35 * 16000);
    clips.reduce((o, c) => (joined.set(c, o), o + c.length), 0);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'longform-'));
    const wavPath = path.join(tmp, 'libri-2min.wav');
    fs.writeFileSync(wavPath, encodeWav(joined, 16000));
    const audio = await loadAudio(wavPath);
    fs.rmSync(tmp, { recursive: true, force: true });

    const { model, tokenizer } = await tinyModel();
    // Clip by clip: the reference implementation's greedy transcripts of these clips with the same
    // weights (shared/reference). Our own greedy path gives the same WER on these clips (6.74% both,
    // measured once); re-running it here would double this test's time.
    const refHyp = new Map(loadReferenceTranscripts().map((j) => [j.path as string, j.hypothesis as string]));
    const oneByOne = picked.map((r) => {
      const h = refHyp.get(`librispeech-mini/test/${r.file}`);
      if (h === undefined) throw new Error(`no reference transcript for ${r.file}`);
      return h;
    });
    // Tensors are counted after one decoder step: the model builds a few lazily, once.
    const silence = tf.zeros([1, model.config.maxSourcePositions, model.config.dModel]) as tf.Tensor3D;
    await model.generate(null as unknown as tf.Tensor3D, { language: 'en', maxNewTokens: 1, encoderHiddenStates: silence });
    silence.dispose();
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    const featureExtractor = new WhisperFeatureExtractor();
    const long = await transcribeAudio({ model, tokenizer, featureExtractor }, audio, { language: 'en', vad: {} });
    const longSeconds = (performance.now() - t0) / 1000;
    assert.equal(tf.memory().numTensors, before, 'long-form leaked tensors');

    const norm = getNormalizer('english', { normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json') });
    const ref = norm(picked.map((r) => r.text).join(' '));
    const werLong = wer(ref, norm(long.text));
    const werClips = wer(ref, norm(oneByOne.join(' ')));
    console.log(`      ${picked.length} clips, ${(audio.length / 16000).toFixed(1)} s: ${long.windows} windows decoded, ` +
      `${long.skippedSilent} silent skipped, ${long.segments.length} segments\n` +
      `      WER long-form ${(100 * werLong).toFixed(2)}% (${longSeconds.toFixed(1)} s) vs clip by clip ` +
      `${(100 * werClips).toFixed(2)}% (reference transcripts)`);
    assert.ok(Math.abs(werLong - werClips) <= 0.02, `long-form WER ${werLong} vs clips ${werClips}`);
    assert.ok(werLong < 0.15, `long-form WER ${werLong}`);
    assert.ok(long.skippedSilent >= 1, 'the trailing 35 s of silence was not skipped');
    // Segments are ordered, inside the audio, and cover speech past the first window.
    for (let i = 1; i < long.segments.length; i++) assert.ok(long.segments[i].start >= long.segments[i - 1].start - 1e-9);
    assert.ok(long.segments.every((s) => s.end >= s.start && s.end <= audio.length / 16000 + 1e-6));
    assert.ok(long.segments[long.segments.length - 1].end > 90);
  });
});

describe('beam search on jfk (real whisper-tiny)', function () {
  it('numBeams=1 reproduces greedy generate; generate with numBeams=5 gives the right sentence', async function () {
    await initBackend();
    const { model, tokenizer } = await tinyModel();
    const audio = await loadAudio(sharedDir('datasets', 'samples', 'jfk.flac'));
    const mel = logMelSpectrogram(audio, 80);
    const enc = tf.tidy(() => model.encode(tf.tensor3d(mel, [1, 80, 3000])));
    let before = 0;
    try {
      const greedy = await model.generate(null as unknown as tf.Tensor3D, { language: 'en', encoderHiddenStates: enc });
      // Counted after the first decode: the model builds a few tensors lazily, once.
      before = tf.memory().numTensors;
      // The beam search strategy itself with one beam, on the decoding task's prompt and filters.
      const task = new DecodingTask(model, { language: 'en' });
      const prompt = task.initialTokens('en');
      const audioFeatures = new AudioFeatures(model, enc);
      const session = new DecoderSession(audioFeatures, [0]);
      const one = await beamSearch(async (rows, sources) => (await session.logits(rows, { sources })).map((p) => p[0]), prompt,
        { eot: tokenizer.eot, maxNewTokens: task.sampleLen, numBeams: 1, filters: task.logitFilters(prompt.length) });
      session.dispose();
      audioFeatures.dispose();
      assert.deepEqual(one.tokens, greedy.sequences[0]);
      let t0 = performance.now();
      const five = await model.generate(null as unknown as tf.Tensor3D, { language: 'en', numBeams: 5, encoderHiddenStates: enc });
      const beamSeconds = (performance.now() - t0) / 1000;
      const text = tokenizer.decode(five.sequences[0], { skipSpecialTokens: true }).trim();
      const norm = getNormalizer('english', { normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json') });
      const ref = 'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';
      console.log(`      greedy: ${tokenizer.decode(greedy.sequences[0], { skipSpecialTokens: true }).trim()}\n` +
        `      beam 5 (${beamSeconds.toFixed(1)} s): ${text}`);
      assert.ok(wer(norm(ref), norm(text)) <= 0.05, text);
      // Auto-detected language goes through the same path.
      const detected = await model.generate(null as unknown as tf.Tensor3D, { numBeams: 2, maxNewTokens: 3, encoderHiddenStates: enc });
      assert.deepEqual(detected.languages, ['en']);
      assert.equal(tf.memory().numTensors, before, 'beam search leaked tensors');
    } finally {
      enc.dispose();
    }
  });
});
