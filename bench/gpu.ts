/**
 * Inference speed of whisper-tiny on the backend WHISPER_BACKEND names (bench/gpu.sh runs it for
 * webgpu and, when installed, tfjs-node-gpu): the adapter, encoder seconds per 30 s window,
 * decoder tokens per second (greedy, one clip, cached keys), and the same-run anchor of a fixed
 * product's GFLOP/s. Every timing ends with a read of the result, so queued GPU work is counted.
 *
 *   npx tsx bench/gpu.ts [--frames 3000] [--reps 3] [--tokens 32]
 */
import { describeBackend, initBackend, tf } from '../src/backend';
import { AudioFeatures, DecoderSession } from '../src/model/inference';
import { WhisperForConditionalGeneration } from '../src/model/whisper';
import { sharedDir } from '../tools/shared';
import { parseFlags, positiveIntFlag } from '../apps/args';

const { values: flags } = parseFlags(process.argv.slice(2), { frames: { type: 'string' }, reps: { type: 'string' }, tokens: { type: 'string' } });
function arg(name: keyof typeof flags, fallback: number): number {
  return positiveIntFlag(name, flags[name]) ?? fallback;
}

/** Seconds of `f` (which must end by reading its result), best of `reps` after one warm-up. */
async function best(reps: number, f: () => Promise<unknown>): Promise<number> {
  await f();
  let min = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await f();
    min = Math.min(min, (performance.now() - t) / 1000);
  }
  return min;
}

async function main(): Promise<void> {
  const frames = arg('frames', 3000);
  const reps = arg('reps', 3);
  const tokens = arg('tokens', 32);
  const report = await initBackend();
  console.log(describeBackend(report));

  const [a, b] = [tf.randomNormal([1500, 384]), tf.randomNormal([384, 1536])];
  const productS = await best(reps, async () => {
    const y = tf.matMul(a, b);
    await y.data();
    y.dispose();
  });
  tf.dispose([a, b]);

  const t0 = performance.now();
  const model = await WhisperForConditionalGeneration.fromPretrained(sharedDir('models', 'whisper-tiny'));
  const loadS = (performance.now() - t0) / 1000;
  const feats = tf.randomNormal([1, model.config.numMelBins, frames], 0, 1, 'float32', 1) as tf.Tensor3D;
  const encoderS = await best(reps, async () => {
    const enc = model.encode(feats);
    await enc.data();
    enc.dispose();
  });

  const enc = model.encode(feats);
  const audio = new AudioFeatures(model, enc);
  const decode = async (n: number) => {
    const session = new DecoderSession(audio, [0]);
    let row = [model.config.decoderStartTokenId];
    for (let i = 0; i < n; i++) {
      const [[logits]] = await session.logits([row]);
      let top = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[top]) top = j;
      row = [...row, top];
    }
    session.dispose();
  };
  const decodeS = await best(Math.min(reps, 2), () => decode(tokens));
  audio.dispose();
  tf.dispose([enc, feats]);
  model.dispose();

  const result = {
    backend: report.active, adapter: report.adapter ?? null, frames, loadS,
    productGflops: (2 * 1500 * 384 * 1536) / productS / 1e9,
    encoderSecondsPerWindow: encoderS, decoderTokensPerSecond: tokens / decodeS,
  };
  console.log(`product 1500 x 384 x 1536: ${result.productGflops.toFixed(1)} GFLOP/s`);
  console.log(`encoder: ${encoderS.toFixed(3)} s per window (${frames} frames); decoder: ${result.decoderTokensPerSecond.toFixed(1)} tokens/s (${tokens} tokens)`);
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
