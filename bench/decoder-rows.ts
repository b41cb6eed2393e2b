/**
 * What one decoder call costs for 1, 2 or 5 new tokens (a greedy step, and a speculative round's
 * check of 1 or 4 drafted tokens), for whisper-base and whisper-tiny on jfk: the numbers behind
 * speculative decoding's speed-up in BENCHMARKS.md. Median of 36 calls on a growing cache, then the
 * same after cutting the cache back (`truncate`, as a speculative round does).
 *
 *   npx tsx bench/decoder-rows.ts
 */
import { loadAudio } from '../src/audio/decode';
import { describeBackend, initBackend } from '../src/backend';
import { AudioFeatures, DecoderSession } from '../src/model/inference';
import { loadWhisper } from '../src/model/pipeline';
import { sharedDir } from '../tools/shared';
import { benchCheckpointDir } from './checkpoints';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function main() {
  console.log(describeBackend(await initBackend()).split('\n')[0]);
  const models = { base: await loadWhisper(benchCheckpointDir('base')), tiny: await loadWhisper(sharedDir('models', 'whisper-tiny')) };
  const features = models.base.featureExtractor.call([await loadAudio(sharedDir('datasets', 'samples', 'jfk.flac'))]);
  const prompt = [...models.base.tokenizer.prefixTokens({ language: 'en' })];
  for (const [name, m] of Object.entries(models)) {
    const encoded = m.model.encode(features);
    const audio = new AudioFeatures(m.model, encoded);
    for (const n of [1, 2, 5]) {
      const grown: number[] = [];
      const cutBack: number[] = [];
      for (let rep = 0; rep < 3; rep++) {
        const session = new DecoderSession(audio, [0]);
        const row = [...prompt];
        await session.logits([row]);
        const call = async (into: number[]) => {
          const t0 = performance.now();
          await session.logits([row], { positions: Array.from({ length: n }, (_, j) => row.length - n + j) });
          into.push(performance.now() - t0);
        };
        for (let i = 0; i < 12; i++) {
          for (let j = 0; j < n; j++) row.push(400 + i * n + j);
          await call(grown);
        }
        for (let i = 0; i < 12; i++) {
          session.truncate(row.length - n);
          await call(cutBack);
        }
        session.dispose();
      }
      console.log(`${name}: ${n} new token(s) per call: median ${median(grown).toFixed(1)} ms; after truncate ${median(cutBack).toFixed(1)} ms`);
    }
    audio.dispose();
    encoded.dispose();
  }
  features.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
