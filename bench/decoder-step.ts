/**
 * Where a greedy decoder step of whisper-tiny goes (jfk, growing cache): per kernel (tf.profile:
 * kernel count and time), plus the step's wall time, for the backend chosen by the environment.
 *
 *   WHISPER_NATIVE=1 npx tsx bench/decoder-step.ts
 */
import { loadAudio } from '../src/audio/decode';
import { describeBackend, initBackend, tf } from '../src/backend';
import { AudioFeatures, DecoderSession } from '../src/model/inference';
import { loadWhisper } from '../src/model/pipeline';
import { sharedDir } from '../tools/shared';

async function main() {
  console.log(describeBackend(await initBackend()).split('\n')[0]);
  const pipe = await loadWhisper(sharedDir('models', 'whisper-tiny'));
  const features = pipe.featureExtractor.call([await loadAudio(sharedDir('datasets', 'samples', 'jfk.flac'))]);
  const hidden = pipe.model.encode(features);
  const audio = new AudioFeatures(pipe.model, hidden);
  const session = new DecoderSession(audio, [0]);
  const row = [...pipe.tokenizer.prefixTokens({ language: 'en' })];
  await session.logits([row]);
  for (let i = 0; i < 20; i++) { row.push(400 + i); await session.logits([row]); }
  const steps: number[] = [];
  for (let i = 0; i < 40; i++) {
    row.push(500 + i);
    const t0 = performance.now();
    await session.logits([row]);
    steps.push(performance.now() - t0);
  }
  steps.sort((a, b) => a - b);
  console.log(`step: median ${steps[20].toFixed(2)} ms (${(1000 / steps[20]).toFixed(0)} tokens/s), fastest ${steps[0].toFixed(2)} ms`);
  row.push(600);
  const info = await tf.profile(async () => { await session.logits([row]); });
  const by = new Map<string, { n: number; ms: number }>();
  for (const k of info.kernels) {
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    const e = by.get(key) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += k.kernelTimeMs as number;
    by.set(key, e);
  }
  const total = info.kernels.reduce((s, k) => s + (k.kernelTimeMs as number), 0);
  console.log(`profiled step: ${info.kernels.length} kernels, kernel time ${total.toFixed(2)} ms`);
  for (const [k, e] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) console.log(`${e.ms.toFixed(3).padStart(8)} ms ${String(e.n).padStart(3)}x ${k}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
