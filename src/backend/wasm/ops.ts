/**
 * How the wasm backend does the ops of ../ops.ts: the same values, in less time and memory on
 * tfjs-wasm, where XNNPACK runs plain 2-D products fast but products with transposeA/transposeB
 * and batched (3-D/4-D) products an order of magnitude slower than the same work as 2-D ones
 * (BENCHMARKS.md, "Why the wasm kernels"), and packs a product's right operand once per tensor. So here:
 * - a Linear multiplies by a transposed copy of its weight, made once (for weights up to
 *   MAX_TRANSPOSED_COPY values), and wide weights take the swapped product in training;
 * - products with transposed operands transpose first (the SIMD Transpose of kernels.ts);
 * - keys and values are kept per batch row, keys transposed ([d, S]), and attention runs one
 *   2-D product per row and head;
 * - LayerNorm and the softmax backward run as fused SIMD passes (kernels.ts `fused`), with the
 *   same bits as the plain formulas; GELU is one SIMD pass too, with the erf formula of PyTorch's
 *   vectorized CPU kernel (simd.ts gelu).
 */
import * as tf from '@tensorflow/tfjs';
import { FrozenWeight, isTrainable, KeyValue, plainOps, recording, registerOps, softmaxTimes } from '../ops';
import { dequantize } from '../quantized';
import { copyInto, fused, registerWasmKernelFixes } from './kernels';

/**
 * Weights above this many values are never copied transposed (memory; wasm has a 4 GB heap).
 * It covers the vocabulary projection of tiny and base (20-27M values), whose logits are 3x
 * faster from the copy and whose backward pass needs no transpose; small and larger models skip it.
 */
const MAX_TRANSPOSED_COPY = 32_000_000;

/** Weights above this many values take the swapped products in training (see frozenProduct). */
const WIDE_WEIGHT = 4_000_000;

/** Swaps the last two axes. */
function t(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  perm.push(...perm.splice(-2).reverse());
  return tf.transpose(x, perm);
}

/** `w.weight` as [in, out], kept until the weight changes. */
const transposedWeight = (w: FrozenWeight) => w.derived.get('transposed', w.weight, () => tf.transpose(w.weight));

/** (W x^T)^T: W as it is, the left operand (XNNPACK packs only the small x^T). */
const swappedProduct = (x: tf.Tensor2D, weight: tf.Tensor2D) => tf.transpose(tf.matMul(weight, tf.transpose(x))) as tf.Tensor2D;

/**
 * x W^T with the frozen weight, differentiable w.r.t. x only: dL/dx = dy W uses the stored
 * [out, in] weight as it is, so the backward pass neither transposes nor repacks it (XNNPACK
 * packs a product's right operand once per tensor; a fresh transpose every step cost 0.75 s per
 * 2 examples on the vocabulary projection).
 *
 * In training, a weight above WIDE_WEIGHT values (the vocabulary projection) is multiplied the
 * other way round, (W x^T)^T forward and (W^T dy^T)^T backward, in blocks of rows: XNNPACK
 * streams its right operand once per few rows of the left one, so 40 rows x 51,865 x 384 read the
 * 80 MB weight about 10 times where the swapped product reads it once (bench/profile-step.ts).
 * Same sums, different rounding order at most; generation (one row per sequence) keeps the
 * direct product, which reads the weight once per row anyway.
 */
function frozenProduct(x: tf.Tensor2D, w: FrozenWeight, training: boolean): tf.Tensor2D {
  const weight = w.weight;
  const wT = transposedWeight(w);
  if (!recording()) return tf.matMul(x, wT); // the same product, without setting up its gradient
  const swap = training && weight.size > WIDE_WEIGHT;
  const product = (input: tf.Tensor2D) => ({
    value: swap ? tf.transpose(tf.matMul(weight, tf.transpose(input))) : tf.matMul(input, wT),
    gradFunc: (dy: tf.Tensor2D) => swap ? byRows(dy, 24, (rows) => tf.transpose(tf.matMul(wT, tf.transpose(rows)))) : tf.matMul(dy, weight),
  });
  return tf.customGrad(product as unknown as Parameters<typeof tf.customGrad>[0])(x) as tf.Tensor2D;
}

/**
 * x W^T differentiable w.r.t. x and the trained weight (full fine-tuning): dx = dy W,
 * dW = dy^T x, products without transposed operands (see frozenProduct).
 */
function trainedProduct(x: tf.Tensor2D, w: FrozenWeight): tf.Tensor2D {
  const product = (input: tf.Tensor2D, weight: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([input, weight]);
    const value = weight.size > MAX_TRANSPOSED_COPY ? swappedProduct(input, weight) : tf.matMul(input, transposedWeight(w));
    return { value, gradFunc: (dy: tf.Tensor2D, [xs, ws]: tf.Tensor2D[]) => [tf.matMul(dy, ws), tf.matMul(tf.transpose(dy), xs)] };
  };
  return tf.customGrad(product as unknown as Parameters<typeof tf.customGrad>[0])(x, w.weight) as tf.Tensor2D;
}

/** f applied to blocks of at most `n` rows of x, concatenated. */
function byRows(x: tf.Tensor2D, n: number, f: (rows: tf.Tensor2D) => tf.Tensor): tf.Tensor2D {
  const rows = x.shape[0];
  if (rows <= n) return f(x) as tf.Tensor2D;
  const sizes = Array.from({ length: Math.ceil(rows / n) }, (_, i) => Math.min(n, rows - i * n));
  return tf.concat(tf.split(x, sizes, 0).map((b) => f(b as tf.Tensor2D)), 0) as tf.Tensor2D;
}

/** Heap kept for float copies of quantized weights (WHISPER_WEIGHT_CACHE_MB, default 1536). */
const weightCacheBytes = () => Number((typeof process !== 'undefined' && process.env.WHISPER_WEIGHT_CACHE_MB) || 1536) * 2 ** 20;
const expanded = new Set<tf.Tensor>();

/** Products with at most this many rows (generation steps) keep their expanded weight. */
const GENERATION_ROWS = 64;

/**
 * x W^T for a weight kept as bytes. A product of few rows (a generation step, repeated at every
 * token) keeps the float32 copy of its weight (transposed, as for float32 weights) while the
 * copies of all quantized weights fit in weightCacheBytes() of the heap, first come, first kept
 * (generation visits the layers in a cycle, where evicting never helps): whisper-medium's decoder
 * then runs at float32 speed. Otherwise (the encoder's 1500 rows, where expanding is a small part
 * of the product, or no room left) the float weight exists only for this product: dequantized row
 * by row and multiplied as (W x^T)^T, never transposed or packed.
 */
function quantizedProduct(x: tf.Tensor2D, w: FrozenWeight): tf.Tensor2D {
  const q = w.quantized!;
  const [out, inF] = q.shape;
  let wT = w.derived.peek<tf.Tensor2D>('transposed', w.weight);
  if (!wT) {
    for (const t of expanded) if (t.isDisposed) expanded.delete(t);
    const used = [...expanded].reduce((s, t) => s + 4 * t.size, 0);
    if (x.shape[0] > GENERATION_ROWS || used + 4 * out * inF > weightCacheBytes()) return swappedProduct(x, tf.tensor2d(dequantize(q), q.shape));
    wT = w.derived.get('transposed', w.weight, () => tf.tensor2d(dequantize(q, true), [inF, out]));
    expanded.add(wT);
  }
  return tf.matMul(x, wT);
}

function linear(x: tf.Tensor2D, w: FrozenWeight, training: boolean): tf.Tensor2D {
  if (w.quantized) return quantizedProduct(x, w);
  if (training && isTrainable(w.weight)) return trainedProduct(x, w);
  // Huge weights (a large vocabulary projection) are not copied.
  if (w.weight.size > MAX_TRANSPOSED_COPY) return swappedProduct(x, w.weight);
  return frozenProduct(x, w, training);
}

/**
 * x [B, T, d] -> B tensors [T, d]. Split, not B slices: a slice's gradient is a pad to the whole
 * [B, T, d], so B slices cost B full-size tensors in backprop (gigabytes for cross-attention at
 * batch 8); split's gradient is one concat.
 */
function batchRows(x: tf.Tensor3D): tf.Tensor2D[] {
  const [b, rows, d] = x.shape;
  if (b === 1) return [tf.reshape(x, [rows, d])];
  return tf.tidy(() => tf.split(x, b, 0).map((r) => tf.reshape(r, [rows, d])));
}

/**
 * softmax(q k + mask) v for one row, every head: q [T, d], kT [d, S], v [S, d] -> [T, d].
 * Few queries (a generation step): all heads in one product, with q spread block-diagonally over
 * the heads ([H*T, d], zeros outside each head's columns); H times the arithmetic of a product per
 * head, but 8 operations in all instead of 4 per head, and per-operation overhead is what a step
 * costs.
 * Many queries (the encoder, training): one 2-D product per head.
 */
function attendRow(q: tf.Tensor2D, kT: tf.Tensor2D, v: tf.Tensor2D, numHeads: number, mask?: tf.Tensor2D): tf.Tensor2D {
  const [rows, d] = q.shape;
  if (rows * numHeads <= 32) {
    const heads = headBlocks(numHeads, rows, d); // [H, T, d]: 1 on the columns of the row's head
    const qBlock = tf.reshape(tf.mul(q, heads), [numHeads * rows, d]); // broadcasting (wasm's Tile is slow)
    let scores = tf.matMul(qBlock, kT); // [H*T, S]
    if (mask) scores = tf.reshape(tf.add(tf.reshape(scores, [numHeads, rows, -1]), mask), [numHeads * rows, -1]);
    const ctx = tf.mul(tf.reshape(tf.matMul(tf.softmax(scores), v), [numHeads, rows, d]), heads); // own head's columns
    return tf.sum(ctx, 0) as tf.Tensor2D;
  }
  // Split, not slices: one concat in backprop instead of a full-size pad per head.
  const [qs, ks, vs] = [tf.split(q, numHeads, 1), tf.split(kT, numHeads, 0), tf.split(v, numHeads, 1)];
  const outs = qs.map((qh, h) => {
    let scores = tf.matMul(qh, ks[h]);
    if (mask) scores = tf.add(scores, mask);
    return softmaxTimes(scores, vs[h]);
  });
  return tf.concat(outs, 1) as tf.Tensor2D;
}

/** [H, T, d] mask: ones on head h's columns in block h. */
function headBlocks(numHeads: number, rows: number, d: number): tf.Tensor3D {
  const dh = d / numHeads;
  const data = new Float32Array(numHeads * rows * d);
  for (let h = 0; h < numHeads; h++) for (let i = 0; i < rows; i++) data.fill(1, (h * rows + i) * d + h * dh, (h * rows + i) * d + (h + 1) * dh);
  return tf.tensor3d(data, [numHeads, rows, d]);
}

const rowsLayout = (k: tf.Tensor[], v: tf.Tensor[]): KeyValue => ({ layout: 'rows', k, v });

/**
 * Queries per row up to which attention runs in one SIMD call for every head (a generation step,
 * a prompt, a speculative draft being checked: against the cache and the 1500 audio positions
 * alike); more (the encoder, a long prompt) is work for XNNPACK's threaded products, one per head.
 * whisper-base checking 4 drafted tokens (5 queries x 8 heads) took twice as long through
 * XNNPACK's per-head products.
 */
export const FEW_QUERIES = 32;

/** Positions of kv in use (a growable cache may have room for more). */
const lengthOf = (kv: KeyValue): number => kv.length ?? (kv.k[0].shape[1] as number);

/**
 * Attention per batch row. Outside training (no gradient tape), for few queries (FEW_QUERIES), one
 * SIMD call per row does every head (simd.ts attend), reading only the positions in use; `mask` is then the decoder's causal
 * mask [T, length] (query i sees positions < length - T + 1 + i), the only mask the model makes.
 * Training runs the tfjs operations of attendRow.
 */
function attention(q: tf.Tensor3D, kv: KeyValue, numHeads: number, mask?: tf.Tensor2D): tf.Tensor3D {
  if (kv.layout !== 'rows') return plainOps.attention(q, kv, numHeads, mask); // names the layout mismatch
  const length = lengthOf(kv);
  const [, t, d] = q.shape;
  const causal = mask !== undefined;
  if (causal && (mask.shape[0] !== t || mask.shape[1] !== length)) throw new Error(`attention: mask [${mask.shape}] for ${t} queries and ${length} keys`);
  const few = t <= FEW_QUERIES;
  if (!recording() && few && (d / numHeads) % 4 === 0) {
    // Every batch row in one call, each against its own keys/values (no split or stack around it).
    const inputs: Record<string, tf.Tensor> = { q };
    kv.k.forEach((k, b) => Object.assign(inputs, { [`k${b}`]: k, [`v${b}`]: kv.v[b] }));
    const [out, scratch] = fused('WhisperAttend', inputs, { heads: numHeads, length, causal: causal ? 1 : 0 })!;
    scratch.dispose();
    return out as tf.Tensor3D;
  }
  const qRows = batchRows(q);
  // A cache grown in place is read through fresh slices: XNNPACK keeps packed copies of a product's
  // right operand per tensor, which must never see a tensor that changes.
  const view = (x: tf.Tensor, axis: number) => kv.length === undefined ? x : tf.slice(x, [0, 0], axis === 1 ? [-1, length] : [length, -1]);
  const rows = qRows.map((qb, b) => attendRow(qb, view(kv.k[b], 1) as tf.Tensor2D, view(kv.v[b], 0) as tf.Tensor2D, numHeads, mask));
  return tf.stack(rows) as tf.Tensor3D;
}

/**
 * a's positions followed by b's. Outside training the keys/values are a cache with room to grow:
 * b is written in place after a's positions (reserveKeyValue), so a step copies its own new keys
 * only, not the whole cache. Callers keep the tensors a and the result share (decoder.ts disposeUnshared).
 */
function concatKeyValue(a: KeyValue, b: KeyValue): KeyValue {
  if (recording()) {
    return rowsLayout(a.k.map((k, i) => tf.concat([a.length === undefined ? k : tf.slice(k, [0, 0], [-1, a.length]), b.k[i]], 1)),
      a.v.map((v, i) => tf.concat([a.length === undefined ? v : tf.slice(v, [0, 0], [a.length, -1]), b.v[i]], 0)));
  }
  const [d, t] = b.k[0].shape as [number, number];
  const room = reserveKeyValue(a, b.k.length, d, t);
  const length = room.length!;
  room.k.forEach((kr, i) => {
    copyInto(kr, kr.shape[1] as number, length, b.k[i], t, 0, d, t);
    copyInto(room.v[i], d, length * d, b.v[i], t * d, 0, 1, t * d);
  });
  return { ...room, length: length + t };
}

/**
 * A cache of `batch` rows of width d with room for t positions after its `length` (positions 0
 * when a is undefined): a's tensors where they have room, else copies with twice the room (also
 * for a row that beam search left shared between rows, so that writing one row leaves the others).
 */
export function reserveKeyValue(a: KeyValue | undefined, batch: number, d: number, t: number): KeyValue {
  const length = a ? lengthOf(a) : 0;
  const claimed = new Set<tf.Tensor>();
  const k: tf.Tensor[] = [];
  const v: tf.Tensor[] = [];
  for (let i = 0; i < batch; i++) {
    let kr = a?.k[i];
    let vr = a?.v[i];
    const cap = kr ? kr.shape[1] as number : 0;
    if (!kr || !vr || length + t > cap || claimed.has(kr) || a!.length === undefined) {
      const room = Math.max(length + t, 2 * cap, 16);
      const [kOld, vOld] = [kr, vr];
      kr = tf.zeros([d, room]);
      vr = tf.zeros([room, d]);
      if (kOld && vOld) {
        copyInto(kr, room, 0, kOld, cap, 0, d, length);
        copyInto(vr, d, 0, vOld, d, 0, 1, length * d);
      }
    }
    claimed.add(kr);
    k.push(kr);
    v.push(vr);
  }
  return { layout: 'rows', k, v, length };
}

/**
 * Rows up to which a Linear runs as one SIMD pass in one thread (simd.ts linearRows): a generation
 * step's. For a few rows XNNPACK spends more on waking its threads than on the product (384 x 384
 * for one row, measured here: 31-47 us of CPU in linearRows, 84 us in XNNPACK with 1 thread, 585 us
 * with 2 on a busy machine).
 */
export const FEW_ROWS = 16;

function affine(x: tf.Tensor, w: FrozenWeight, bias: tf.Tensor | undefined, scale: number,
  residual: tf.Tensor | undefined, training: boolean): tf.Tensor | undefined {
  if (training || recording() || !fewRows(x, w)) return undefined;
  // The vocabulary projection stays with XNNPACK: its threads and kernels pay off on 20M+ values.
  if (w.weight.size > WIDE_WEIGHT) return undefined;
  const inputs: Record<string, tf.Tensor> = { x, w: w.weight };
  if (bias) inputs.b = bias;
  if (residual) inputs.res = residual;
  return fused('WhisperLinear', inputs, { scale })?.[0];
}

/** Whether WhisperLinear takes x [..., in] (any rank) times w: a frozen float32 weight, at most FEW_ROWS rows, rows of a multiple of 4. */
export function fewRows(x: tf.Tensor, w: FrozenWeight): boolean {
  const n = x.shape[x.rank - 1];
  return !w.quantized && !isTrainable(w.weight) && x.size / n <= FEW_ROWS && n % 4 === 0;
}

/** Starts the kernels of kernels.ts and registers the wasm ops; called once the wasm backend is active. */
export async function registerWasmOps(): Promise<void> {
  await registerWasmKernelFixes();
  registerOps('wasm', {
    heapLimitBytes: 4 * 2 ** 30,
    prepareLinear: (w) => {
      if (!w.quantized && !isTrainable(w.weight) && w.weight.size <= MAX_TRANSPOSED_COPY) transposedWeight(w);
    },
    linear,
    affine,
    matMulT: (a, b, transposeA, transposeB) => tf.matMul(transposeA ? t(a) : a, transposeB ? t(b) : b),
    layerNormForward: (x, w, b, eps) => fused('WhisperLayerNorm', { x, w, b }, { eps }) ?? plainOps.layerNormForward(x, w, b, eps),
    layerNormBackward: (dy, w, n, r) => fused('WhisperLayerNormGrad', { dy, w, n, r })?.[0] ?? plainOps.layerNormBackward(dy, w, n, r),
    gelu: (x, derivative) => fused('WhisperGelu', { x }, { derivative: derivative ? 1 : 0 }),
    softmaxBackward: (p, dp, r) => fused('WhisperSoftmaxGrad', { p, dp, r })?.[0] ?? plainOps.softmaxBackward(p, dp, r),
    // Keys transposed ([d, S]) so that q k is a plain product; one tensor per batch row, so that
    // cross-attention keys made once per clip are packed by XNNPACK once, not at every token.
    // (A single position's keys need no transpose: [B, 1, d] -> [B, d, 1] keeps the values in place.)
    keyValue: (k, v) => rowsLayout(batchRows((k.shape[1] === 1 ? tf.reshape(k, [k.shape[0], k.shape[2], 1]) : t(k)) as tf.Tensor3D), batchRows(v)),
    concatKeyValue,
    // Rows are lists of tensors: reordering them only rearranges references.
    gatherKeyValue: (kv, rows) => ({ ...rowsLayout(rows.map((r) => kv.k[r]), rows.map((r) => kv.v[r])), length: kv.length }),
    // A cache forgets positions by its length (the next step writes over them).
    sliceKeyValue: (kv, length) => ({ ...rowsLayout(kv.k, kv.v), length: Math.min(length, lengthOf(kv)) }),
    attention,
  });
}
