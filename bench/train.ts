/**
 * Training speed of LoRA fine-tuning on whisper-tiny (wasm backend, this machine):
 *   A. batch 8, 30 s inputs, LoRA r=8 on q_proj/v_proj of every attention module (encoder too, so
 *      the encoder runs forward and backward every step);
 *   B. same LoRA on the decoder attention only, encoder frozen and its output cached per clip.
 * Prints seconds per training example, the one-time encoder cost, and peak tensor memory.
 * Anchor: OpenAI's PyTorch whisper fine-tuning at 3.85 s/example on CPU.
 *
 *   npx tsx bench/train.ts            # STEPS=2 timed steps after 1 warm-up step
 *   SKIP_CACHED=1 / SKIP_FULL=1      # only A / only B; WORKERS_A=1 / WORKERS_B=1: without worker threads
 *   npx tsx bench/train.ts --bf16     # each case with bf16: false and true, interleaved (ROUNDS=2 rounds,
 *                                    # alternating which runs first): per-round ratios of s/example
 *   FRAMES=200                       # shorter inputs (fast mode) than 30 s: quick runs on slow adapters (bench/gpu.sh QUICK=1)
 */
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, describeBackend, tf } from '../src/backend';
import { parseFlags } from '../apps/args';
import { median } from './median';
import { sharedDir, PROJECT_ROOT } from '../tools/shared';
import { WhisperForConditionalGeneration } from '../src/model/whisper';
import { WhisperTokenizer } from '../src/tokenizer/whisper';
import { WhisperFeatureExtractor } from '../src/features/logmel';
import { loadAudio } from '../src/audio/decode';
import { getPeftModel, LoraConfig } from '../src/lora';
import { Seq2SeqTrainer, seq2SeqTrainingArguments } from '../src/train';
import type { PreparedRow } from '../src/data';

const ANCHOR = 3.85;
const BATCH = Number(process.env.BATCH ?? 8);
const STEPS = Number(process.env.STEPS ?? 2);
/**
 * Micro-batch when the encoder is trained through: backprop keeps the 1500 x 1500 attention maps
 * of every head for each 30 s example, and one example already takes the wasm heap to 3.1 GB of
 * its 4 GB (measured); with 2 it runs out (Seq2SeqTrainer refuses that on wasm). So A runs 8
 * micro-batches of 1 with gradient accumulation: the same optimizer step as batch 8.
 */
const MICRO_A = Number(process.env.MICRO_A ?? 1);
/**
 * Worker threads for A (Seq2SeqTrainingArguments.dataParallelWorkers): 2 keep both cores busy
 * through the single-threaded parts of a step. WORKERS_A=1 measures the one-thread-of-JS trainer.
 */
const WORKERS_A = Number(process.env.WORKERS_A ?? 2);
/** Worker threads for B, each with micro-batches of BATCH / WORKERS_B (WORKERS_B=1: one thread of JS, one micro-batch). */
const WORKERS_B = Number(process.env.WORKERS_B ?? 2);

async function measure(model: WhisperForConditionalGeneration, data: PreparedRow[], targets: string, label: string, micro = BATCH, workers = 1, bf16 = false) {
  const peft = getPeftModel(model, new LoraConfig({ r: 8, loraAlpha: 16, targetModules: targets }));
  const trainer = new Seq2SeqTrainer({
    model: peft, trainDataset: data,
    args: seq2SeqTrainingArguments({ outputDir: path.join(PROJECT_ROOT, 'out', 'bench-train'), perDeviceTrainBatchSize: micro,
      gradientAccumulationSteps: BATCH / micro, perDeviceEvalBatchSize: BATCH, dataParallelWorkers: workers, maxSteps: STEPS + 1, saveStrategy: 'no', loggingSteps: 1000, learningRate: 1e-4, bf16 }),
    callbacks: [{ onStepEnd: (_a, _s, _c, s) => {
      // CPU seconds of this process beside wall time: with threaded wasm CPU > wall on an idle
      // machine; wall much above CPU / threads means the machine was shared.
      const c = process.cpuUsage(cpu0);
      const now = (c.user + c.system) / 1e6;
      cpuTimes.push(now - lastCpu);
      lastCpu = now;
      times.push(s.seconds);
      const heap = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length ?? 0;
      console.log(`  tensors ${(tf.memory().numBytes / 2 ** 20).toFixed(0)} MiB, wasm heap ${(heap / 2 ** 20).toFixed(0)} MiB`);
      console.log(`${label}: step ${s.step} wall ${s.seconds.toFixed(1)} s, cpu ${cpuTimes[cpuTimes.length - 1].toFixed(1)} s (loss ${s.loss.toFixed(6)})`);
    } }],
  });
  const times: number[] = [];
  const cpuTimes: number[] = [];
  const cpu0 = process.cpuUsage();
  let lastCpu = 0;
  let encodeS = 0;
  if (trainer.usesEncoderCache) {
    const t = Date.now();
    await trainer.precomputeEncoderOutputs(data);
    encodeS = (Date.now() - t) / 1000;
  }
  tf.engine().startScope();
  lastCpu = (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1e6;
  await trainer.train();
  tf.engine().endScope();
  const timed = times.slice(1); // the first step warms up kernels
  const perExample = timed.reduce((a, b) => a + b, 0) / timed.length / BATCH;
  const cpuTimed = cpuTimes.slice(1);
  const cpuPerExample = cpuTimed.reduce((a, b) => a + b, 0) / cpuTimed.length / BATCH;
  const res = { label, targets, batch: BATCH, microBatch: micro, workers, cachedEncoder: trainer.usesEncoderCache, wallSecondsPerExample: perExample,
    cpuSecondsPerExample: cpuPerExample, encoderWallSecondsPerClip: encodeS / data.length, speedupVsPyTorch: ANCHOR / perExample,
    peakTensorMiB: trainer.state.peak_tensor_bytes / 2 ** 20, rssMiB: process.memoryUsage().rss / 2 ** 20,
    trainable: peft.getNbTrainableParameters()[0] };
  trainer.dispose();
  peft.dispose();
  return res;
}

/**
 * This VM's speed drifts by 10-40 % over a day; a fixed product (1500 x 384 x 1536, the FFN's)
 * timed in the same run says which phase a result comes from (58-61 GFLOP/s on 2 threads at best).
 */
async function machineGflops(): Promise<number> {
  const [a, b] = [tf.randomNormal([1500, 384]), tf.randomNormal([384, 1536])];
  tf.matMul(a, b).dispose();
  const t0 = performance.now();
  for (let i = 0; i < 19; i++) tf.matMul(a, b).dispose();
  const last = tf.matMul(a, b);
  await last.data(); // a GPU runs the queue in order: the last result waits for all
  tf.dispose([a, b, last]);
  return (20 * 2 * 1500 * 384 * 1536) / (performance.now() - t0) / 1e6;
}

/** Input frames per example (3000: 30 s, what Whisper always sees; fewer: the fast mode's trimmed input). */
const FRAMES = Number(process.env.FRAMES ?? 3000);

/** The first FRAMES frames of each mel row of [nMels, 3000] features. */
function firstFrames(f: Float32Array, nMels: number): Float32Array {
  if (FRAMES >= 3000) return f;
  return Float32Array.from({ length: nMels * FRAMES }, (_, i) => f[Math.floor(i / FRAMES) * 3000 + (i % FRAMES)]);
}

async function main() {
  console.log(describeBackend(await initBackend()));
  const gflops = await machineGflops();
  console.log(`machine check: ${gflops.toFixed(1)} GFLOP/s on a 1500 x 384 x 1536 product`);
  const dir = sharedDir('models', 'whisper-tiny');
  const model = await WhisperForConditionalGeneration.fromPretrained(dir);
  const tok = await WhisperTokenizer.fromPretrained(dir);
  const fe = WhisperFeatureExtractor.fromPretrained(dir);
  // 30 s inputs (all Whisper inputs are padded to 30 s) with real LibriSpeech transcripts as labels.
  const meta = fs.readFileSync(sharedDir('datasets', 'librispeech-mini', 'train', 'metadata.csv'), 'utf8').trim().split('\n').slice(1);
  const data: PreparedRow[] = [];
  for (const line of meta.slice(0, BATCH)) {
    const [file, text] = line.split(',');
    const audio = await loadAudio(sharedDir('datasets', 'librispeech-mini', 'train', file));
    data.push({ inputFeatures: firstFrames(fe.extract(audio), model.config.numMelBins), labels: [...tok.prefixTokens({ language: 'en' }), ...tok.encode(' ' + text.toLowerCase()), tok.eot] });
  }
  console.log(`labels: ${data.map((d) => d.labels.length).join(', ')} tokens`);
  // The same batch for the PyTorch anchor (bench/anchor_pytorch.py): features [B, 80, 3000] as
  // float32, labels as token ids.
  fs.mkdirSync(path.join(PROJECT_ROOT, 'out'), { recursive: true });
  fs.writeFileSync(path.join(PROJECT_ROOT, 'out', 'bench-train-batch.bin'), Buffer.concat(data.map((d) => Buffer.from(d.inputFeatures.buffer, d.inputFeatures.byteOffset, d.inputFeatures.byteLength))));
  fs.writeFileSync(path.join(PROJECT_ROOT, 'out', 'bench-train-batch.json'), JSON.stringify({ nMels: model.config.numMelBins, labels: data.map((d) => d.labels) }));
  const cases = [
    ...(process.env.SKIP_FULL !== '1' ? [(bf16 = false) => measure(model, data, String.raw`.*(self_attn|encoder_attn)\.(q_proj|v_proj)`, `A: LoRA q/v everywhere, encoder trained through${WORKERS_A > 1 ? `, ${WORKERS_A} worker threads` : ''}${bf16 ? ', bf16' : ''}`, MICRO_A, WORKERS_A, bf16)] : []),
    ...(process.env.SKIP_CACHED !== '1' ? [(bf16 = false) => measure(model, data, String.raw`.*decoder.*(self_attn|encoder_attn)\.(q_proj|v_proj)`, `B: LoRA q/v in the decoder, encoder frozen + cached${WORKERS_B > 1 ? `, ${WORKERS_B} worker threads` : ''}${bf16 ? ', bf16' : ''}`, BATCH / WORKERS_B, WORKERS_B, bf16)] : []),
  ];
  if (parseFlags(process.argv.slice(2), { bf16: { type: 'boolean' } }).values.bf16) return compareBf16(cases);
  const results = [];
  for (const run of cases) results.push(await run());
  for (const r of results) Object.assign(r, { machineGflops: gflops });
  console.log(JSON.stringify(results, null, 2));
  fs.mkdirSync(path.join(PROJECT_ROOT, 'out'), { recursive: true });
  fs.writeFileSync(path.join(PROJECT_ROOT, 'out', 'bench-train.json'), JSON.stringify(results, null, 2));
  model.dispose();
}

/** Each case with bf16 off and on, ROUNDS rounds, alternating which runs first; prints the per-round ratios of wall s/example. */
async function compareBf16(cases: ((bf16?: boolean) => ReturnType<typeof measure>)[]) {
  const rounds = Number(process.env.ROUNDS ?? 2);
  const lines: string[] = [];
  for (const run of cases) {
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    const per: Record<string, number[]> = { float32: [], bf16: [] };
    let label = '';
    for (let r = 0; r < rounds; r++) {
      const t: Record<string, number> = {};
      const cpu: Record<string, number> = {};
      for (const bf16 of r % 2 ? [true, false] : [false, true]) {
        const res = await run(bf16);
        label = res.label.replace(/, bf16$/, '');
        per[bf16 ? 'bf16' : 'float32'].push(t[String(bf16)] = res.wallSecondsPerExample);
        cpu[String(bf16)] = res.cpuSecondsPerExample;
      }
      ratios.push(t.false / t.true);
      cpuRatios.push(cpu.false / cpu.true);
    }
    lines.push(`${label}: float32 ${per.float32.map((x) => x.toFixed(3)).join('/')} s/example, bf16 ${per.bf16.map((x) => x.toFixed(3)).join('/')}; ` +
      `float32/bf16 per round ${ratios.map((x) => x.toFixed(2)).join(', ')} (median ${median(ratios).toFixed(2)}x); ` +
      `CPU seconds float32/bf16 ${cpuRatios.map((x) => x.toFixed(2)).join(', ')} (median ${median(cpuRatios).toFixed(2)}x)`);
  }
  console.log(lines.join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
