/**
 * The native (oneDNN) products against wasm's own, in a process of their own (the kernel swap is
 * once per process); prints one JSON line (test/backend.native.test.ts).
 *
 *   WHISPER_BACKEND=wasm tsx test/helpers/nativeRun.ts products
 *                                              wasm's products and gradients first, then the same
 *                                              with startNative: the largest differences, relative
 *                                              to the largest value of each result
 *   tsx test/helpers/nativeRun.ts describe      describeBackend's text
 *   WHISPER_BACKEND=native tsx test/helpers/nativeRun.ts transcribe N
 *                                              whisper-tiny's greedy tokens on N reference clips
 */
import seedrandom from 'seedrandom';
import { initBackend, describeBackend, tf, affine, attention, concatKeyValue, keyValue, linear, matMulT, softmaxTimes } from '../../src/backend';
import { startNative } from '../../src/backend/native';
import { DerivedTensors, FrozenWeight } from '../../src/backend/ops';
import { loadAudio } from '../../src/audio/decode';
import { loadWhisper } from '../../src/model/pipeline';
import { transcribe } from '../../src/model/transcribe';
import { loadReferenceTranscripts, REFERENCE_MAX_NEW_TOKENS, sharedDir } from '../../tools/shared';

/** [M, N, K] of whisper-tiny's encoder products (MLP in/out, projections, attention per head) and its vocabulary projection. */
export const MODEL_SHAPES: [number, number, number][] = [[1500, 1536, 384], [1500, 384, 1536], [1500, 384, 384], [1500, 1500, 64], [1500, 64, 1500], [5, 51865, 384]];

function random(shape: number[], rng: () => number): tf.Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng() * 2 - 1;
  return tf.tensor(data, shape);
}

/** Every case's result(s) as arrays: products in each transpose layout, batched and broadcast, and the gradients the model takes. */
function compute(): Record<string, Float32Array[]> {
  const rng = seedrandom('native');
  const out: Record<string, Float32Array[]> = {};
  const keep = (name: string, ts: tf.Tensor[]) => { out[name] = ts.map((t) => t.dataSync() as Float32Array); tf.dispose(ts); };
  for (const [m, n, k] of MODEL_SHAPES) {
    const a = random([m, k], rng);
    const b = random([k, n], rng);
    keep(`${m}x${n}x${k}`, [tf.matMul(a, b)]);
    const aT = tf.transpose(a);
    const bT = tf.transpose(b);
    if (m * n * k < 1e9) keep(`${m}x${n}x${k} T,T`, [tf.matMul(aT, bT, true, true)]);
    keep(`${m}x${n}x${k} N,T`, [matMulT(a, bT, false, true)]);
    tf.dispose([a, b, aT, bT]);
  }
  tf.tidy(() => {
    const a = random([3, 40, 64], rng);
    keep('batched 3x40x50x64', [tf.matMul(a, random([3, 50, 64], rng), false, true)]);
    keep('broadcast [3,40,64] x [64,70]', [tf.matMul(a, random([64, 70], rng))]);
    // The encoder's conv stem (conv1d, channels last, padded beforehand), batch 2; 'same' padding takes tfjs's kernel.
    keep('conv1d 80->384 k3 s1', [tf.conv1d(random([2, 302, 80], rng) as tf.Tensor3D, random([3, 80, 384], rng) as tf.Tensor3D, 1, 'valid')]);
    keep('conv1d 384->384 k3 s2', [tf.conv1d(random([2, 302, 384], rng) as tf.Tensor3D, random([3, 384, 384], rng) as tf.Tensor3D, 2, 'valid')]);
    keep('conv1d same', [tf.conv1d(random([1, 50, 16], rng) as tf.Tensor3D, random([3, 16, 8], rng) as tf.Tensor3D, 1, 'same')]);
    // A Linear on a frozen weight: value and input gradient; on a trained weight: both gradients.
    const x = random([300, 384], rng);
    const w: FrozenWeight = { weight: random([1536, 384], rng) as tf.Tensor2D, derived: new DerivedTensors() };
    const dy = random([300, 1536], rng);
    const [y, dx] = (() => {
      const f = (input: tf.Tensor) => linear(input as tf.Tensor2D, w, true) as tf.Tensor;
      const { value, grad } = tf.valueAndGrad(f)(x, dy);
      return [value, grad];
    })();
    keep('linear frozen (y, dx)', [y, dx]);
    const v = tf.variable(random([384, 384], rng) as tf.Tensor2D);
    const trained: FrozenWeight = { weight: v, derived: new DerivedTensors() };
    const g = tf.grads((input: tf.Tensor, weight: tf.Tensor) => tf.sum(tf.mul(tf.tanh(linear(input as tf.Tensor2D, { ...trained, weight: weight as tf.Tensor2D }, true)), 1)));
    keep('linear trained (dx, dW)', g([x, v]));
    v.dispose();
    w.derived.dispose();
    trained.derived.dispose();
    // Attention's softmax times values, both gradients (the [1500, 1500] map of an encoder head).
    const s = random([600, 600], rng);
    const vals = random([600, 64], rng);
    const dctx = random([600, 64], rng);
    keep('softmaxTimes grads', tf.grads((sc: tf.Tensor, vv: tf.Tensor) => softmaxTimes(sc, vv))([s, vals], dctx));
  });
  tf.tidy(() => {
    // A generation step's kernels (no tape): Linears of 1 and 5 rows on a weight whose values are
    // float16 (as in the checkpoints; the addon reads its float16 copy) and on one whose values are
    // not, with bias, scale and residual; attention of 1 and 5 queries to 1500 audio positions and,
    // causal, to a cache grown in place to 130 positions. Named "step ...": the same bits as wasm's.
    const half = (t: tf.Tensor) => tf.tensor(Float32Array.from(t.dataSync() as Float32Array, (v) => Math.round(v * 2048) / 2048), t.shape);
    for (const rows of [1, 5]) {
      const x = random([rows, 384], rng) as tf.Tensor2D;
      const b = random([1536], rng);
      const res = random([rows, 1536], rng) as tf.Tensor2D;
      for (const [kind, weight] of [['float16', half(random([1536, 384], rng))], ['float32', random([1536, 384], rng)]] as const) {
        const w: FrozenWeight = { weight: weight as tf.Tensor2D, derived: new DerivedTensors() };
        keep(`step linear ${rows}x1536x384 ${kind}`, [affine(x, w, b, { scale: 0.125, residual: res }), affine(x, w)]);
        w.derived.dispose();
      }
      const vocab: FrozenWeight = { weight: half(random([51865, 384], rng)) as tf.Tensor2D, derived: new DerivedTensors() };
      keep(`vocabulary projection ${rows} rows`, [linear(x, vocab)]);
      vocab.derived.dispose();
      const audio = random([1, 1500, 384], rng) as tf.Tensor3D;
      const cross = keyValue(audio, tf.mul(audio, 0.5) as tf.Tensor3D, 6);
      const q = random([1, rows, 384], rng) as tf.Tensor3D;
      keep(`step cross-attention ${rows} queries`, [attention(q, cross, 6)]);
      let cache = keyValue(random([1, 125, 384], rng) as tf.Tensor3D, random([1, 125, 384], rng) as tf.Tensor3D, 6);
      cache = concatKeyValue(cache, keyValue(random([1, rows, 384], rng) as tf.Tensor3D, random([1, rows, 384], rng) as tf.Tensor3D, 6));
      const mask = tf.zeros([rows, 125 + rows]) as tf.Tensor2D; // shape only: the kernels apply causality by position
      keep(`step causal self-attention ${rows} queries`, [attention(q, cache, 6, mask)]);
    }
  });
  return out;
}

/** The largest |a - b| over max |a|, per result. */
function differences(ref: Record<string, Float32Array[]>, got: Record<string, Float32Array[]>): Record<string, number> {
  const diffs: Record<string, number> = {};
  for (const [name, arrays] of Object.entries(ref)) {
    diffs[name] = Math.max(...arrays.map((r, i) => {
      const g = got[name][i];
      if (g.length !== r.length) return Infinity;
      let maxDiff = 0;
      let maxRef = 0;
      for (let j = 0; j < r.length; j++) {
        maxDiff = Math.max(maxDiff, Math.abs(r[j] - g[j]));
        maxRef = Math.max(maxRef, Math.abs(r[j]));
      }
      return Number.isFinite(maxDiff) ? maxDiff / (maxRef || 1) : Infinity;
    }));
  }
  return diffs;
}

async function main() {
  const mode = process.argv[2];
  const report = await initBackend();
  if (mode === 'products') {
    const before = tf.memory().numTensors;
    const wasm = compute();
    const afterWasm = tf.memory().numTensors - before;
    const native = startNative(report.threads ?? 1);
    const got = compute();
    console.log(JSON.stringify({ native, diffs: differences(wasm, got), leaked: tf.memory().numTensors - before, afterWasm }));
  } else if (mode === 'describe') {
    console.log(JSON.stringify({ describe: describeBackend(report) }));
  } else if (mode === 'transcribe') {
    const n = Number(process.argv[3] ?? 4);
    const clips = loadReferenceTranscripts().filter((r) => r.lang === 'en' && r.tokens.length <= 40).slice(0, n);
    const pipe = await loadWhisper(sharedDir('models', 'whisper-tiny'));
    const mismatches: string[] = [];
    for (const c of clips) {
      const [res] = await transcribe(pipe, await loadAudio(sharedDir('datasets', c.path)), { language: 'en', maxNewTokens: REFERENCE_MAX_NEW_TOKENS });
      if (JSON.stringify(res.tokens) !== JSON.stringify(c.tokens)) mismatches.push(`${c.id}: ref ${JSON.stringify(c.tokens)} got ${JSON.stringify(res.tokens)}`);
    }
    console.log(JSON.stringify({ describe: describeBackend(report), clips: clips.length, mismatches }));
  } else {
    throw new Error(`nativeRun: mode ${mode}: products, describe or transcribe`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
