/**
 * bf16 products (setMatmulPrecision, Seq2SeqTrainingArguments.bf16) in a process of their own, so
 * that the precision switch never reaches other tests; prints one JSON line (test/backend.bf16.test.ts).
 *
 *   tsx test/helpers/bf16Run.ts products   the products the model takes (matMul in three layouts,
 *                                          the fused Linear, the conv stem) in float32 and bf16,
 *                                          against float64 sums of the float32 and of the
 *                                          bf16-rounded operands (largest difference relative to
 *                                          the largest value)
 *   tsx test/helpers/bf16Run.ts train      losses of 2 LoRA steps (whisper-tiny, 1 LibriSpeech
 *                                          example, encoder trained through) with bf16 false and
 *                                          true, the precision during and after, and after a run that throws
 *   tsx test/helpers/bf16Run.ts refused    the errors of setMatmulPrecision('bfloat16') and of a
 *                                          bf16 training run where bf16 cannot run
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import seedrandom from 'seedrandom';
import { describeBackend, getMatmulPrecision, initBackend, roughProducts, setMatmulPrecision, tf } from '../../src/backend';
import { affine, DerivedTensors, FrozenWeight } from '../../src/backend/ops';
import { loadAudio } from '../../src/audio/decode';
import { WhisperFeatureExtractor } from '../../src/features/logmel';
import { getPeftModel, LoraConfig } from '../../src/lora';
import { WhisperForConditionalGeneration } from '../../src/model/whisper';
import { WhisperTokenizer } from '../../src/tokenizer/whisper';
import { Seq2SeqTrainer, seq2SeqTrainingArguments } from '../../src/train';
import type { PreparedRow } from '../../src/data';
import { sharedDir } from '../../tools/shared';
import { tinyDataset, tinyModel } from '../lora.helpers';

/** x rounded to bfloat16, to nearest even. */
function bf16(x: Float32Array): Float32Array {
  const out = Float32Array.from(x);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < u.length; i++) u[i] = ((u[i] + 0x7fff + ((u[i] >>> 16) & 1)) & 0xffff0000) >>> 0;
  return out;
}

/** Largest |a - b| relative to the largest |b|. */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

interface Case {
  name: string;
  /** The backend's result. */
  run: () => tf.Tensor;
  /** The float64 result of the same formula on operands `round` gives. */
  reference: (round: (x: Float32Array) => Float32Array) => Float64Array;
}

/** C[i, j] = sum_k A[i, k] B[k, j] (+ bias[j]) * scale + res[i, j], in float64; A [m, k], B [k, n] row-major. */
function product(a: Float32Array, b: Float32Array, m: number, n: number, k: number, bias?: Float32Array, scale = 1, res?: Float32Array): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p];
      for (let j = 0; j < n; j++) c[i * n + j] += x * b[p * n + j];
    }
  }
  for (let i = 0; i < m * n; i++) c[i] = (c[i] + (bias ? bias[i % n] : 0)) * scale + (res ? res[i] : 0);
  return c;
}

function cases(rng: () => number): { cases: Case[]; dispose: () => void } {
  const random = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((x, y) => x * y, 1) }, () => rng() * 2 - 1), shape);
  const data = (t: tf.Tensor) => t.dataSync() as Float32Array;
  const [m, n, k] = [200, 256, 384];
  const a = random([m, k]);
  const b = random([k, n]);
  const aT = tf.transpose(a);
  const bT = tf.transpose(b);
  const x = random([m, k]) as tf.Tensor2D;
  const w: FrozenWeight = { weight: random([n, k]) as tf.Tensor2D, derived: new DerivedTensors() };
  const bias = random([n]);
  const res = random([m, n]) as tf.Tensor2D;
  const wKN = data(tf.transpose(w.weight));
  const conv = random([1, 102, 80]) as tf.Tensor3D;
  const filter = random([3, 80, 128]) as tf.Tensor3D;
  const list: Case[] = [
    { name: 'matMul', run: () => tf.matMul(a, b), reference: (r) => product(r(data(a)), r(data(b)), m, n, k) },
    { name: 'matMul N,T', run: () => tf.matMul(a, bT, false, true), reference: (r) => product(r(data(a)), r(data(b)), m, n, k) },
    { name: 'matMul T,N', run: () => tf.matMul(aT, b, true, false), reference: (r) => product(r(data(a)), r(data(b)), m, n, k) },
    {
      name: 'affine (bias, scale, residual)', run: () => affine(x, w, bias, { scale: 0.125, residual: res }),
      reference: (r) => product(r(data(x)), r(wKN), m, n, k, data(bias), 0.125, data(res)),
    },
    {
      name: 'conv1d 80->128 k3', run: () => tf.conv1d(conv, filter, 1, 'valid'),
      reference: (r) => {
        // Output t = sum over taps j of input row t + j times filter[j]: one product of the rows side by side.
        const xs = r(data(conv));
        const f = r(data(filter));
        const rows = new Float32Array(100 * 240);
        for (let t = 0; t < 100; t++) rows.set(xs.subarray(t * 80, t * 80 + 240), t * 240);
        return product(rows, f, 100, 128, 240);
      },
    },
  ];
  return { cases: list, dispose: () => tf.dispose([a, b, aT, bT, x, w.weight, bias, res, conv, filter]) };
}

async function products() {
  const { cases: list, dispose } = cases(seedrandom('bf16'));
  const out: Record<string, { float32VsExact: number; bf16VsRounded: number; bf16VsExact: number; bf16VsFloat32: number; roughVsBf16: number; afterRoughVsFloat32: number }> = {};
  let describe = '';
  for (const c of list) {
    setMatmulPrecision('float32');
    const f32 = c.run();
    setMatmulPrecision('bfloat16');
    describe = describeBackend(await initBackend());
    const b16 = c.run();
    setMatmulPrecision('float32');
    // roughProducts: bf16 inside (the precision set stays float32), float32 again after.
    const rough = roughProducts(() => c.run());
    const again = c.run();
    const [vf, vb] = [f32.dataSync(), b16.dataSync()];
    const exact = c.reference((v) => v);
    out[c.name] = {
      float32VsExact: relDiff(vf, exact), bf16VsRounded: relDiff(vb, c.reference(bf16)), bf16VsExact: relDiff(vb, exact), bf16VsFloat32: relDiff(vb, vf),
      roughVsBf16: relDiff(rough.dataSync(), vb), afterRoughVsFloat32: relDiff(again.dataSync(), vf),
    };
    tf.dispose([f32, b16, rough, again]);
  }
  dispose();
  console.log(JSON.stringify({ describe, after: describeBackend(await initBackend()), cases: out }));
}

/** 1 LibriSpeech example (30 s) and its labels. */
async function example(): Promise<{ model: WhisperForConditionalGeneration; data: PreparedRow[] }> {
  const dir = sharedDir('models', 'whisper-tiny');
  const model = await WhisperForConditionalGeneration.fromPretrained(dir);
  const tok = await WhisperTokenizer.fromPretrained(dir);
  const split = sharedDir('datasets', 'librispeech-mini', 'train');
  const [file, text] = fs.readFileSync(path.join(split, 'metadata.csv'), 'utf8').trim().split('\n')[1].split(',');
  const features = WhisperFeatureExtractor.fromPretrained(dir).extract(await loadAudio(path.join(split, file)));
  return { model, data: [{ inputFeatures: features, labels: [...tok.prefixTokens({ language: 'en' }), ...tok.encode(' ' + text.toLowerCase()), tok.eot] }] };
}

async function train() {
  const { model, data } = await example();
  const outputDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf16-train-'));
  const run = async (bf16: boolean, throwAt?: number) => {
    const peft = getPeftModel(model, new LoraConfig({ r: 8, loraAlpha: 16, targetModules: String.raw`.*(self_attn|encoder_attn)\.(q_proj|v_proj)` }));
    const losses: number[] = [];
    const during: string[] = [];
    const trainer = new Seq2SeqTrainer({
      model: peft, trainDataset: data,
      args: seq2SeqTrainingArguments({ outputDir, perDeviceTrainBatchSize: 1, maxSteps: 2, saveStrategy: 'no', loggingSteps: 1000, learningRate: 1e-4, bf16 }),
      callbacks: [{ onStepEnd: (_a, _s, _c, s) => {
        losses.push(s.loss);
        during.push(getMatmulPrecision());
        if (s.step === throwAt) throw new Error('a callback failed');
      } }],
    });
    let error: string | undefined;
    try {
      await trainer.train();
    } catch (e) {
      error = (e as Error).message;
    }
    trainer.dispose();
    peft.dispose();
    return { losses, during, after: getMatmulPrecision(), error };
  };
  const float32 = await run(false);
  const bf16 = await run(true);
  const failed = await run(true, 1);
  fs.rmSync(outputDir, { recursive: true, force: true });
  model.dispose();
  console.log(JSON.stringify({ float32, bf16, failed }));
}

async function refused() {
  const report = await initBackend();
  let set: string | undefined;
  try {
    setMatmulPrecision('bfloat16');
  } catch (e) {
    set = (e as Error).message;
  }
  const model = tinyModel();
  const trainer = new Seq2SeqTrainer({
    model, trainDataset: tinyDataset(2),
    args: seq2SeqTrainingArguments({ outputDir: fs.mkdtempSync(path.join(os.tmpdir(), 'bf16-refused-')), maxSteps: 1, saveStrategy: 'no', bf16: true }),
  });
  let train: string | undefined;
  try {
    await trainer.train();
  } catch (e) {
    train = (e as Error).message;
  }
  trainer.dispose();
  // Where bf16 cannot run, roughProducts runs the work as it is, without an error.
  const rough = roughProducts(() => tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync()[0]));
  console.log(JSON.stringify({ describe: describeBackend(report), set, train, rough, after: getMatmulPrecision() }));
}

const modes: Record<string, () => Promise<void>> = { products, train, refused };
const mode = modes[process.argv[2]];
if (!mode) throw new Error(`bf16Run: mode ${process.argv[2]}: ${Object.keys(modes).join(', ')}`);
initBackend().then(mode).catch((e) => {
  console.error(e);
  process.exit(1);
});
