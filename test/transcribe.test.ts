/**
 * The decoding task's strategies and transcription features on the real whisper-tiny: word
 * timestamps against openai's algorithm, speculative decoding against greedy, sampling and the
 * fallback measures.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import seedrandom from 'seedrandom';
import { loadAudio } from '../src/audio/decode';
import { initBackend, tf } from '../src/backend';
import { DecodingTask } from '../src/model/decoding';
import { loadWhisper, WhisperPipeline } from '../src/model/pipeline';
import { transcribe } from '../src/model/transcribe';
import { loadSafetensorsCheckpoint } from '../src/model/safetensors';
import { compressionRatio } from '../src/model/transcribe';
import { expectedWeightShapes, WhisperForConditionalGeneration } from '../src/model/whisper';
import { sharedDir } from '../tools/shared';

/** whisper-tiny with noise added to its decoder's feed-forward weights: a draft that often, not always, agrees. */
function perturbedTiny(pipe: WhisperPipeline, scale: number): WhisperForConditionalGeneration {
  const c = pipe.model.config;
  const weights = loadSafetensorsCheckpoint(pipe.dir, expectedWeightShapes(c), new Set(['proj_out.weight']));
  const rng = seedrandom('draft');
  for (const [name, w] of weights) {
    if (!/decoder\.layers\.\d+\.fc[12]\.weight$/.test(name)) continue;
    for (let i = 0; i < w.data.length; i++) w.data[i] += (rng() * 2 - 1) * scale;
  }
  const draft = WhisperForConditionalGeneration.fromWeights(c, weights);
  draft.specialTokens = pipe.model.specialTokens;
  return draft;
}

describe('transcription features (real whisper-tiny)', function () {
  let pipe: WhisperPipeline;
  let jfk: Float32Array;

  before(async () => {
    await initBackend();
    pipe = await loadWhisper(sharedDir('models', 'whisper-tiny'));
    jfk = await loadAudio(sharedDir('datasets', 'samples', 'jfk.flac'));
  });

  it('word timestamps of jfk are within 0.1 s of openai timing.py on the reference encoder output', async () => {
    const ref = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'jfk-word-timestamps.json'), 'utf8'));
    const before = tf.memory().numTensors;
    const [r] = await transcribe(pipe, jfk, { language: 'en', wordTimestamps: true });
    assert.equal(tf.memory().numTensors, before, 'word timestamps leaked tensors');
    const words = r.segments.flatMap((s) => s.words ?? []);
    assert.deepEqual(words.map((w) => w.word), ref.words.map((w: { word: string }) => w.word));
    let worst = 0;
    words.forEach((w, i) => {
      const x = ref.words[i];
      worst = Math.max(worst, Math.abs(w.start - x.start), Math.abs(w.end - x.end));
      assert.ok(Math.abs(w.probability - x.probability) < 0.02, `${w.word}: probability ${w.probability} vs ${x.probability}`);
    });
    console.log(`      ${words.length} words, largest boundary difference from openai: ${worst.toFixed(2)} s`);
    assert.ok(worst <= 0.1, `a word boundary is ${worst} s from openai's`);
    assert.deepEqual([r.segments[0].start, r.segments[0].end], ref.segment);
    for (let i = 1; i < words.length; i++) assert.ok(words[i].start >= words[i - 1].start);
  });

  it('speculative decoding (a perturbed tiny drafting) gives exactly the greedy tokens', async function () {
    const draft = perturbedTiny(pipe, 0.01);
    try {
      const libri = sharedDir('datasets', 'librispeech-mini', 'test');
      const files = fs.readFileSync(path.join(libri, 'metadata.csv'), 'utf8').trim().split('\n').slice(1, 2).map((l) => l.split(',')[0]);
      const clips = [jfk, ...await Promise.all(files.map((f) => loadAudio(path.join(libri, f))))];
      let proposed = 0;
      let accepted = 0;
      const before = tf.memory().numTensors;
      for (const clip of clips) {
        const [greedy] = await transcribe(pipe, clip, { language: 'en' });
        const [fast] = await transcribe(pipe, clip, { language: 'en', assistantModel: draft, numAssistantTokens: 4 });
        assert.deepEqual(fast.tokens, greedy.tokens);
        assert.ok(fast.draft, 'speculative decoding reports its draft tokens');
        // Drafting all 4 every round (no confidence threshold): the same tokens, at least as many proposals.
        const [eager] = await transcribe(pipe, clip, { language: 'en', assistantModel: draft, numAssistantTokens: 4, assistantConfidenceThreshold: 0 });
        assert.deepEqual(eager.tokens, greedy.tokens);
        assert.ok(eager.draft!.proposed >= fast.draft!.proposed, `${eager.draft!.proposed} proposals without the threshold, ${fast.draft!.proposed} with`);
        proposed += fast.draft!.proposed;
        accepted += fast.draft!.accepted;
      }
      await assert.rejects(transcribe(pipe, jfk, { language: 'en', assistantModel: draft, assistantConfidenceThreshold: 2 }),
        /assistantConfidenceThreshold must be between 0 and 1, got 2/);
      assert.equal(tf.memory().numTensors, before, 'speculative decoding leaked tensors');
      console.log(`      ${clips.length} clips: ${accepted}/${proposed} drafted tokens accepted (${(100 * accepted / proposed).toFixed(0)} %)`);
      // The draft differs from the target: some of its tokens are rejected, many are kept.
      assert.ok(accepted > 0 && accepted < proposed, `acceptance ${accepted}/${proposed}`);
    } finally {
      draft.dispose();
    }
  });

  it('sampling at a temperature is seeded, and best-of keeps the most likely sample', async () => {
    const features = pipe.featureExtractor.call([jfk]);
    try {
      const run = (seed: number, bestOf = 1) => new DecodingTask(pipe.model, { language: 'en', temperature: 1, seed, bestOf, maxNewTokens: 12 })
        .run({ features });
      const [a] = await run(1);
      const [b] = await run(1);
      const [c] = await run(2);
      assert.deepEqual(a.tokens, b.tokens);
      assert.notDeepEqual(a.tokens, c.tokens);
      const [best] = await run(3, 4);
      assert.equal(best.temperature, 1);
      assert.ok(Number.isFinite(best.avgLogprob) && best.noSpeechProb >= 0 && best.noSpeechProb < 0.1);
      assert.throws(() => new DecodingTask(pipe.model, { temperature: 0, bestOf: 2 }), /bestOf needs a temperature above 0/);
    } finally {
      features.dispose();
    }
  });

  it('compression ratio is zlib\'s, as openai computes it', async () => {
    // Numbers from Python: len(b) / len(zlib.compress(b)).
    assert.ok(Math.abs(await compressionRatio('And so my fellow Americans ask not what your country can do for you, ask what you can do for your country.') - 1.3417721518987342) < 1e-12);
    assert.ok(Math.abs(await compressionRatio(new Array(24).fill('la').join(' ')) - 5.071428571428571) < 1e-12);
  });
});
