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
 *   tsx test/helpers/nativeRun.ts train          the losses of 3 LoRA training steps (2 LibriSpeech
 *                                              examples, 30 s, encoder trained through) on wasm's
 *                                              kernels, then on the addon's (setNativeProducts)
 *   WHISPER_BACKEND=native tsx test/helpers/nativeRun.ts train-workers
 *                                              the same on the addon in 2 data-parallel worker threads
 *   tsx test/helpers/nativeRun.ts signals S     prints "ready", then for S seconds runs the oneDNN
 *                                              products that oneDNN 2.6 runs with rsp in the heap
 *                                              while the test sends SIGUSR2 (handled): how many
 *                                              calls and signals, and whether every result was the
 *                                              first one's
 */
import seedrandom from 'seedrandom';
import { initBackend, describeBackend, tf, linear, matMulT, roughProducts, softmaxTimes } from '../../src/backend';
import * as fs from 'fs';
import * as path from 'path';
import { loadNativeAddon, setNativeProducts, setWholeDecoderStep, startNative } from '../../src/backend/native';
import { affine, attention, concatKeyValue, DerivedTensors, FrozenWeight, gelu, keyValue, KeyValue, layerNorm, prepareLinear } from '../../src/backend/ops';
import { WhisperFeatureExtractor } from '../../src/features/logmel';
import { DecoderCache } from '../../src/model/decoder';
import { WhisperForConditionalGeneration } from '../../src/model/whisper';
import { WhisperTokenizer } from '../../src/tokenizer/whisper';
import { getPeftModel, LoraConfig } from '../../src/lora';
import { Seq2SeqTrainer, seq2SeqTrainingArguments } from '../../src/train';
import { loadAudio } from '../../src/audio/decode';
import { loadWhisper } from '../../src/model/pipeline';
import { transcribe } from '../../src/model/transcribe';
import { logSumExp } from '../../src/model/search';
import { crossEntropyLoss } from '../../src/train/loss';
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
    // A Linear with bias, query scaling and residual (ops.ts affine; native: one fused matmul),
    // value and the gradients w.r.t. x and the residual; with wasm's transposed weight copy (as a
    // model's Linear has it) and without (the stored [out, in] weight, transposed by the product).
    for (const copy of [true, false]) {
      const fw: FrozenWeight = { weight: random([384, 1536], rng) as tf.Tensor2D, derived: new DerivedTensors() };
      if (copy) prepareLinear(fw);
      const xb = random([200, 1536], rng);
      const bias = random([384], rng);
      const res = random([200, 384], rng);
      const dyb = random([200, 384], rng) as tf.Tensor2D;
      const plain = affine(xb as tf.Tensor2D, fw, bias as tf.Tensor1D);
      const { value, grads } = tf.valueAndGrads((xx: tf.Tensor, rr: tf.Tensor) =>
        affine(xx as tf.Tensor2D, fw, bias, { scale: 0.125, residual: rr as tf.Tensor2D, training: true }))([xb, res], dyb);
      keep(`affine ${copy ? 'transposed copy' : 'stored weight'} (y, scaled + residual y, dx, dres)`, [plain, value, ...grads]);
      fw.derived.dispose();
    }
    // Softmax of attention maps (encoder, decoder training's small ones, a masked row) and exp over
    // a training loss's logits (native from 2^20 values on), including the overflow and underflow ends.
    const masked = tf.concat([random([1, 40], rng), tf.fill([1, 8], -1e9)], 1);
    keep('softmax [1500, 1500], [6, 48, 48], masked', [tf.softmax(tf.mul(random([1500, 1500], rng), 10)), tf.softmax(tf.mul(random([6, 48, 48], rng), 10)), tf.softmax(masked)]);
    keep('exp [20, 52429] over [-100, 0] and [-1, 1]; 90 overflows', [tf.exp(tf.mul(random([20, 52429], rng), 50).sub(50)), tf.exp(random([20, 52429], rng)),
      tf.exp(tf.add(tf.zeros([1 << 20]), 90))]);
    // Attention with a gradient tape (training): 2 batch rows, 6 heads, a mask; value and the gradients
    // of q, k, v (150 queries: the addon's backward pass sums the keys' and values' gradients over 2 blocks).
    const [qa, ka, va] = [random([2, 150, 384], rng), random([2, 170, 384], rng), random([2, 170, 384], rng)];
    const mask = tf.mul(random([150, 170], rng), 5) as tf.Tensor2D;
    const att = tf.valueAndGrads((qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) =>
      attention(qq as tf.Tensor3D, keyValue(kk as tf.Tensor3D, vv as tf.Tensor3D, 6), 6, mask))([qa, ka, va], random([2, 150, 384], rng) as tf.Tensor3D);
    keep('attention training (value, dq, dk, dv)', [att.value, ...att.grads]);
    // A token embedding's rows (native: one copy per row) and a large sum (native from 2^20 values): the same bits.
    const table = random([5000, 384], rng);
    keep('exact: gather rows [5000, 384] by [8, 48], add [3, 700, 600]', [tf.gather(table, tf.tensor2d(Array.from({ length: 384 }, (_, i) => (i * 7919) % 5000), [8, 48], 'int32')),
      tf.add(random([3, 700, 600], rng), random([3, 700, 600], rng))]);
    // The training loss over the vocabulary (labels -100 ignored), its value and gradient.
    const labels = tf.tensor2d(Array.from({ length: 40 }, (_, i) => (i % 7 === 6 ? -100 : (i * 7919) % 51865)), [2, 20], 'int32');
    const loss = tf.valueAndGrad((l: tf.Tensor) => crossEntropyLoss(l as tf.Tensor3D, labels))(tf.mul(random([2, 20, 51865], rng), 8));
    keep('training loss over the vocabulary (value, gradient)', [loss.value, loss.grad]);
    // GELU and its derivative over the range the encoder sees and the tails: the same bits.
    const wide = tf.mul(random([300, 1536], rng), 12);
    keep('exact: gelu (value, derivative)', [gelu(wide), tf.grad((t: tf.Tensor) => gelu(t))(wide)]);
    // LayerNorm (native from 2^14 values on, rows summed 8 side by side): the encoder's rows, a row
    // count that is no multiple of 8 and a width that is no multiple of 4: the same bits.
    const lnW = random([384], rng);
    const lnB = random([384], rng);
    keep('exact: layerNorm [1500, 384], [1, 643, 26]', [layerNorm(tf.add(tf.mul(random([1500, 384], rng), 4), 1), lnW, lnB, 1e-5),
      layerNorm(tf.mul(random([1, 643, 26], rng), 3), tf.slice(lnW, 0, 26), tf.slice(lnB, 0, 26), 1e-5)]);
  });
  tf.tidy(() => {
    // Attention of many queries without a tape (the encoder's self-attention, a long prompt; native:
    // every head in one addon call): 2 batch rows of 300 queries to 200 positions, with and without
    // a mask, and 40 queries to a cache grown in place (165 positions in use of more room) under a causal mask.
    const [q, k, v] = [random([2, 300, 384], rng), random([2, 200, 384], rng), random([2, 200, 384], rng)] as tf.Tensor3D[];
    const kv = keyValue(k, v, 6);
    const mask = tf.mul(random([300, 200], rng), 5) as tf.Tensor2D;
    keep('attention many queries (no mask, mask)', [attention(q, kv, 6), attention(q, kv, 6, mask)]);
    let cache = keyValue(random([1, 125, 384], rng) as tf.Tensor3D, random([1, 125, 384], rng) as tf.Tensor3D, 6);
    cache = concatKeyValue(cache, keyValue(random([1, 40, 384], rng) as tf.Tensor3D, random([1, 40, 384], rng) as tf.Tensor3D, 6));
    const causal = tf.tensor2d(Float32Array.from({ length: 40 * 165 }, (_, i) => (i % 165 > 125 + Math.floor(i / 165) ? -1e9 : 0)), [40, 165]);
    keep('attention 40 queries to a grown cache, causal', [attention(random([1, 40, 384], rng) as tf.Tensor3D, cache, 6, causal)]);
  });
  tf.tidy(() => {
    // A generation step's kernels (no tape): Linears of 1, 4, 5 and 11 rows (4 outputs at a time for up to 5 rows; 2 outputs of
    // 8, 2 and 1 rows for 11) on a weight whose values are float16 (as in the checkpoints; the addon reads its float16 copy) and
    // on one whose values are not, with bias, scale and residual; attention of 1, 4, 5 and 11 queries to 1500 audio positions
    // (one clip, and two in one call; several queries 5 at a time, then 4 or 1) and, causal, to a cache grown in place to 130
    // positions. Named "step ...": the same bits as wasm's.
    const half = (t: tf.Tensor) => tf.tensor(Float32Array.from(t.dataSync() as Float32Array, (v) => Math.round(v * 2048) / 2048), t.shape);
    for (const rows of [1, 4, 5, 11]) {
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
      // Two clips, each row against its own keys and values, in one call.
      const audio2 = random([2, 1500, 384], rng) as tf.Tensor3D;
      keep(`step cross-attention 2 clips x ${rows} queries`, [attention(random([2, rows, 384], rng) as tf.Tensor3D,
        keyValue(audio2, tf.mul(audio2, 0.5) as tf.Tensor3D, 6), 6)]);
      let cache = keyValue(random([1, 125, 384], rng) as tf.Tensor3D, random([1, 125, 384], rng) as tf.Tensor3D, 6);
      cache = concatKeyValue(cache, keyValue(random([1, rows, 384], rng) as tf.Tensor3D, random([1, rows, 384], rng) as tf.Tensor3D, 6));
      const mask = tf.zeros([rows, 125 + rows]) as tf.Tensor2D; // shape only: the kernels apply causality by position
      keep(`step causal self-attention ${rows} queries`, [attention(q, cache, 6, mask)]);
    }
  });
  return out;
}

/**
 * whisper-tiny's decoder steps on 2 rows (each its own audio): a prompt of 4 tokens, 5 single
 * tokens, then 3 at once (a draft checked), the final hidden states of each. On the native path
 * a whole step runs as one addon call ("step whole decoder") or kernel by kernel: wasm's bits either way.
 * `cross`: the audio's keys and values, made once (their products of 1500 rows differ by path).
 */
function decoderSteps(model: WhisperForConditionalGeneration, cross: KeyValue[], name: string): Record<string, Float32Array[]> {
  const cache: DecoderCache = { self: [], cross, offset: 0 };
  const hidden: Float32Array[] = [];
  for (const ids of [[50258, 50259, 50359, 50363], [440], [1029], [307], [257], [1500], [11, 291, 13]]) {
    const input = tf.tensor2d([ids, ids.map((id) => id + 1)], undefined, 'int32');
    const h = model.decoder.step(input, cache);
    hidden.push(h.dataSync() as Float32Array);
    tf.dispose([input, h]);
  }
  cache.self.forEach((kv) => tf.dispose([...kv!.k, ...kv!.v]));
  return { [name]: hidden };
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
      if (r.every((v, j) => v === g[j])) return 0; // also where both are infinite
      return Number.isFinite(maxDiff) ? maxDiff / (maxRef || 1) : Infinity;
    }));
  }
  return diffs;
}

/** Losses of 3 LoRA steps of setup A (bench/train.ts, its learning rate) on 2 examples, products on the addon or not. */
async function trainLosses(native: boolean, workers = 1): Promise<number[]> {
  if (workers === 1) setNativeProducts(native);
  const dir = sharedDir('models', 'whisper-tiny');
  const model = await WhisperForConditionalGeneration.fromPretrained(dir);
  const tok = await WhisperTokenizer.fromPretrained(dir);
  const fe = WhisperFeatureExtractor.fromPretrained(dir);
  const split = sharedDir('datasets', 'librispeech-mini', 'train');
  const rows = fs.readFileSync(path.join(split, 'metadata.csv'), 'utf8').trim().split('\n').slice(1, 3);
  const data = [];
  for (const row of rows) {
    const [file, text] = row.split(',');
    data.push({ inputFeatures: fe.extract(await loadAudio(path.join(split, file))), labels: [...tok.prefixTokens({ language: 'en' }), ...tok.encode(' ' + text.toLowerCase()), tok.eot] });
  }
  const peft = getPeftModel(model, new LoraConfig({ r: 8, loraAlpha: 16, targetModules: String.raw`.*(self_attn|encoder_attn)\.(q_proj|v_proj)` }));
  const losses: number[] = [];
  const trainer = new Seq2SeqTrainer({
    model: peft, trainDataset: data,
    args: seq2SeqTrainingArguments({ outputDir: path.join(__dirname, '..', '..', 'out', 'native-train-test'), perDeviceTrainBatchSize: 1, gradientAccumulationSteps: 2, dataParallelWorkers: workers,
      maxSteps: 3, saveStrategy: 'no', loggingSteps: 1000, learningRate: 1e-4 }),
    callbacks: [{ onStepEnd: (_a, _s, _c, s) => { losses.push(s.loss); } }],
  });
  await trainer.train();
  trainer.dispose();
  peft.dispose();
  model.dispose();
  return losses;
}

async function main() {
  const mode = process.argv[2];
  const report = await initBackend();
  if (mode === 'products') {
    const model = await WhisperForConditionalGeneration.fromPretrained(sharedDir('models', 'whisper-tiny'));
    // The decoding loop's log-sum-exp over the vocabulary, in JavaScript now and in the addon below: the same float64 value.
    const rows = Array.from({ length: 20 }, (_, i) => {
      const rng = seedrandom(`lse ${i}`);
      return Float32Array.from({ length: 51865 - i }, (_, j) => (j % 97 === 5 ? -Infinity : (rng() * 2 - 1) * (i % 2 ? 40 : 400)));
    });
    const jsLse = rows.map(logSumExp);
    const audio = random([2, 1500, 384], seedrandom('steps')) as tf.Tensor3D;
    const cross = model.decoder.crossKeyValues(audio);
    const before = tf.memory().numTensors;
    const steps = ['step whole decoder', 'step decoder kernel by kernel'];
    const wasm = { ...compute(), ...decoderSteps(model, cross, steps[0]), ...decoderSteps(model, cross, steps[1]) };
    const afterWasm = tf.memory().numTensors - before;
    const native = startNative(report.threads ?? 1);
    const got = { ...compute(), ...decoderSteps(model, cross, steps[0]) };
    setWholeDecoderStep(false);
    Object.assign(got, decoderSteps(model, cross, steps[1]));
    setWholeDecoderStep(true);
    // The one-call step refuses a plan that does not add up or reaches outside the heap, before it touches memory.
    const heap = new Float32Array(1024);
    const refused = [new Int32Array(3), Int32Array.from([1, 1, 384, 6, 1, 1536, 0, 5000, 0, 51865, 0, 448, 0, 0, 0, ...new Array(21 + 7).fill(0)])]
      .map((plan) => { try { loadNativeAddon().addon!.decoderStep!(heap, plan, [], 0.125, 1e-5); return 'accepted'; } catch (e) { return (e as Error).message; } });
    const lseSame = rows.map(logSumExp).every((v, i) => Object.is(v, jsLse[i]));
    // A draft's steps (roughProducts) read int8 copies of the weights: close to the float16 path's
    // logits, not equal; the float path after it unchanged.
    const hidden = random([1, 3, 384], seedrandom('rough')) as tf.Tensor3D;
    const logitsOf = () => tf.tidy(() => model.logits(hidden).dataSync() as Float32Array);
    const [exact, roughLogits, after] = [logitsOf(), roughProducts(logitsOf), logitsOf()];
    const top = exact.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const rough = {
      maxRel: roughLogits.reduce((m, v, i) => Math.max(m, Math.abs(v - exact[i])), 0) / top,
      afterSame: after.every((v, i) => Object.is(v, exact[i])),
      // int8 copies exist where the step kernels have AVX-512 (elsewhere the float path runs).
      int8: loadNativeAddon().addon!.packWeight!(new Float32Array(16).fill(0.3), 0, 4, 4, true) !== null,
    };
    hidden.dispose();
    console.log(JSON.stringify({ native, diffs: differences(wasm, got), leaked: tf.memory().numTensors - before, afterWasm, refused, lseSame, rough }));
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
  } else if (mode === 'train') {
    startNative(report.threads ?? 1);
    const losses = { wasm: await trainLosses(false), native: await trainLosses(true) };
    console.log(JSON.stringify({ describe: describeBackend(report), losses }));
  } else if (mode === 'train-workers') {
    // WHISPER_BACKEND=native: the 2 worker threads start the addon each (the 2 micro-batches of a step, one each).
    console.log(JSON.stringify({ describe: describeBackend(report), losses: await trainLosses(true, 2) }));
  } else if (mode === 'signals') {
    let signals = 0;
    process.on('SIGUSR2', () => signals++);
    const addon = loadNativeAddon().addon!;
    const rng = seedrandom('signals');
    // An encoder attention block's second product (32 queries, 64 dims, 1500 positions), on which the
    // previous addon aborted, and attendMany itself.
    const [T, d, heads] = [1500, 384, 6];
    const heap = Float32Array.from({ length: 5 * T * d }, () => rng() * 2 - 1);
    const run = () => {
      addon.sgemm(false, false, 32, 64, 1500, 1, heap, 0, 1500, heap, T * d, 64, 0, heap, 4 * T * d, 64);
      addon.attendMany(heap, 0, T * d, 2 * T * d, -1, 3 * T * d, T, T, T, d, heads);
      return heap.slice(3 * T * d);
    };
    const first = run();
    console.log('ready');
    let calls = 0;
    let same = true;
    for (const end = Date.now() + 1000 * Number(process.argv[3] ?? 3); Date.now() < end; calls++) {
      const got = run();
      same &&= got.every((v, i) => Object.is(v, first[i]));
      await new Promise((r) => setImmediate(r)); // lets the handler count
    }
    console.log(JSON.stringify({ calls, signals, same }));
    await new Promise((r) => setTimeout(r, 500)); // the test stops sending on this line: still handled meanwhile
  } else {
    throw new Error(`nativeRun: mode ${mode}: products, describe, transcribe, train, train-workers or signals`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
