/**
 * The operations the model and trainer call: each is written once here as a plain TensorFlow.js
 * formula that runs on every backend, and a backend may register its own way of doing it
 * (wasm/ops.ts: SIMD kernels, transposed weight copies, attention one batch row at a time).
 * Model code calls `linear`, `layerNorm`, `gelu`, `keyValue`, `attention` and never asks which
 * backend runs.
 */
import * as tf from '@tensorflow/tfjs';
import { dequantize, QuantizedWeight } from './quantized';

/** A frozen [out, in] weight as `linear` reads it (a model's Linear). */
export interface FrozenWeight {
  /** float32 [out, in], as in the checkpoint; disposed when `quantized` is set. */
  weight: tf.Tensor2D;
  /** The weight as bytes instead (int8 or float16), dequantized for each product. */
  quantized?: QuantizedWeight;
  /** Tensors the active backend derives from `weight` and keeps (wasm: a transposed copy). */
  readonly derived: DerivedTensors;
}

/**
 * Tensors derived from another one and kept until its data changes (or `dispose`): a new tensor,
 * or a trained tf.Variable assigned new values (either gives it a new dataId).
 */
export class DerivedTensors {
  private entries = new Map<string, { of: object; value: tf.Tensor }>();

  /** The tensor kept under `key` for `of`'s data, if there is one. */
  peek<T extends tf.Tensor>(key: string, of: tf.Tensor): T | undefined {
    const e = this.entries.get(key);
    return e && e.of === of.dataId && !e.value.isDisposed ? e.value as T : undefined;
  }

  /** The tensor `make()` gives for `of`'s data, made once per data (not tracked by tidy scopes). */
  get<T extends tf.Tensor>(key: string, of: tf.Tensor, make: () => T): T {
    const kept = this.peek<T>(key, of);
    if (kept) return kept;
    this.entries.get(key)?.value.dispose();
    const value = tf.keep(tf.tidy(make));
    this.entries.set(key, { of: of.dataId, value });
    return value;
  }

  dispose(): void {
    for (const e of this.entries.values()) e.value.dispose();
    this.entries.clear();
  }
}

/**
 * Keys and values to attend to, in the layout of the backend that made them ('heads': one
 * [B, H, S, dh] tensor each; wasm's 'rows': one per batch row; native training's 'batched': the
 * [B, S, d] projections as they are). The model only passes them on:
 * made by `keyValue`, extended by `concatKeyValue`, reordered by `gatherKeyValue`, cut by `sliceKeyValue`.
 */
export type KeyValue = {
  layout: string;
  k: tf.Tensor[];
  v: tf.Tensor[];
  /** Positions in use, when the tensors have room for more (a decoder cache grown in place). */
  length?: number;
};

/** A Linear as a whole generation step reads it (model/layers.ts Linear fits). */
export interface StepLinear extends FrozenWeight {
  bias?: tf.Tensor;
  adapters: unknown[];
}
export interface StepNorm {
  weight: tf.Tensor;
  bias: tf.Tensor;
  eps: number;
}
export interface StepAttention {
  numHeads: number;
  scaling: number;
  qProj: StepLinear;
  kProj: StepLinear;
  vProj: StepLinear;
  outProj: StepLinear;
}
/** A decoder as a whole generation step reads it (model/decoder.ts WhisperDecoder fits). */
export interface StepDecoder {
  embedTokens: tf.Tensor;
  embedPositions: tf.Tensor;
  layers: {
    selfAttn: StepAttention;
    selfAttnLayerNorm: StepNorm;
    encoderAttn?: StepAttention;
    encoderAttnLayerNorm?: StepNorm;
    fc1: StepLinear;
    fc2: StepLinear;
    finalLayerNorm: StepNorm;
  }[];
  layerNorm: StepNorm;
}
/** The caches a generation step reads and extends (model/decoder.ts DecoderCache fits). */
export interface StepCache {
  self: (KeyValue | undefined)[];
  cross: KeyValue[];
  offset: number;
}

/** What a backend may do its own way; `registerOps` fills in the rest from the plain formulas. */
export interface BackendOps {
  /** Bytes the backend's memory can hold at most, when that is a limit to plan for (wasm: 4 GB). */
  heapLimitBytes?: number;
  /** Work done once per weight when a Linear is made (wasm: its transposed copy). */
  prepareLinear(w: FrozenWeight): void;
  /** x [N, in] -> x W^T [N, out]; differentiable w.r.t. x (and W when it is a trainable variable). */
  linear(x: tf.Tensor2D, w: FrozenWeight, training: boolean): tf.Tensor2D;
  /**
   * (x W^T + bias) * scale + residual in one go where the backend can, x [..., in] and residual
   * [..., out] of any rank as they come (else undefined: `affine` retries with them as [N, in] and
   * [N, out], then composes it).
   */
  affine(x: tf.Tensor, w: FrozenWeight, bias: tf.Tensor | undefined, scale: number, residual: tf.Tensor | undefined,
    training: boolean): tf.Tensor | undefined;
  /** tf.matMul(a, b, transposeA, transposeB), the transposes done the backend's fastest way. */
  matMulT(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor;
  /** [LayerNorm(x), n, r] over the last axis, with n normalized x and r = 1 / sigma ([..., 1]). */
  layerNormForward(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor[];
  /** LayerNorm's input gradient from dy, w, n and r. */
  layerNormBackward(dy: tf.Tensor, w: tf.Tensor, n: tf.Tensor, r: tf.Tensor): tf.Tensor;
  /** [GELU(x)], with `derivative` [GELU(x), GELU'(x)], in one pass by the backend's own erf; or undefined (the plain formula). */
  gelu(x: tf.Tensor, derivative: boolean): tf.Tensor[] | undefined;
  /** p (dp - r): softmax's backward pass, r [..., 1] the row sums of dp p. */
  softmaxBackward(p: tf.Tensor, dp: tf.Tensor, r: tf.Tensor): tf.Tensor;
  /** Keys and values from the projections k, v [B, S, d]. */
  keyValue(k: tf.Tensor3D, v: tf.Tensor3D, numHeads: number): KeyValue;
  /** a's positions followed by b's. */
  concatKeyValue(a: KeyValue, b: KeyValue): KeyValue;
  /** Row i is row rows[i] of kv (may share tensors with kv). */
  gatherKeyValue(kv: KeyValue, rows: number[]): KeyValue;
  /** The first `length` positions of kv. */
  sliceKeyValue(kv: KeyValue, length: number): KeyValue;
  /** softmax(q k^T + mask) v per head: q [B, T, d] (already scaled), mask [T, S] -> [B, T, d]. */
  attention(q: tf.Tensor3D, kv: KeyValue, numHeads: number, mask?: tf.Tensor2D): tf.Tensor3D;
  /**
   * A whole generation step at once where the backend can (native: one addon call instead of
   * about 70 kernels): the final hidden states [B, T, d] of ids [B, T] on top of `cache`, and the
   * self-attention keys/values extended by them; undefined: the model runs it layer by layer.
   * The same values either way.
   */
  decoderStep?(decoder: StepDecoder, ids: tf.Tensor2D, cache: StepCache): { hidden: tf.Tensor3D; self: KeyValue[] } | undefined;
  /**
   * The decoding loop's sum over the vocabulary of e^(values[i] - max), in order, each term as
   * model/search.ts's expNonPositive computes it from its table `steps`, where the backend has a
   * faster loop with the same float64 operations (native: 8 terms at a time); undefined: the
   * caller's own loop. The same value either way.
   */
  expSum?(values: Float32Array, max: number, steps: Float64Array): number | undefined;
  /**
   * -log softmax(x)[label] per row of the logits x [N, V] (labels [N] int32, in range), with its
   * gradient, where the backend has a pass of its own (native: two passes over the logits and one
   * back, instead of tfjs's eight); undefined: the caller's formula.
   */
  tokenNll?(x: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D | undefined;
}

export const isTrainable = (t: tf.Tensor) => t instanceof tf.Variable && t.trainable;

/**
 * Whether a gradient tape is recording. When not (generation, evaluation), ops skip the custom
 * gradients they would set up (customGrad costs a scope and closures per call, most of a
 * generation step's bookkeeping) and compute the same values directly.
 */
export function recording(): boolean {
  return (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
}

/** [B, S, d] -> [B, H, S, dh] */
function splitHeads(x: tf.Tensor3D, numHeads: number): tf.Tensor4D {
  const [b, s, d] = x.shape;
  return tf.transpose(tf.reshape(x, [b, s, numHeads, d / numHeads]), [0, 2, 1, 3]);
}

function assertLayout(kv: KeyValue, layout: string): void {
  if (kv.layout !== layout) {
    throw new Error(`attention: keys/values in the '${kv.layout}' layout, made on another backend; this one (${tf.getBackend()}) uses '${layout}'`);
  }
}

/** n = (x - mean) / sqrt(var + eps) and r = 1 / sqrt(var + eps), over the last axis. */
function normalize(x: tf.Tensor, eps: number): { n: tf.Tensor; r: tf.Tensor } {
  const axis = x.rank - 1;
  const centered = tf.sub(x, tf.mean(x, axis, true));
  const r = tf.rsqrt(tf.add(tf.mean(tf.square(centered), axis, true), eps));
  return { n: tf.mul(centered, r), r };
}

const scaleShift = (n: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.add(tf.mul(n, w), b);

/** The plain TensorFlow.js formulas: what every backend runs unless it registered its own. */
export const plainOps: BackendOps = {
  prepareLinear: () => {},
  linear: (x, w) => {
    const weight = w.quantized ? tf.tensor2d(dequantize(w.quantized), w.quantized.shape) : w.weight;
    return tf.matMul(x, weight, false, true);
  },
  affine: () => undefined,
  matMulT: (a, b, transposeA, transposeB) => tf.matMul(a, b, transposeA, transposeB),
  layerNormForward: (x, w, b, eps) => {
    const { n, r } = normalize(x, eps);
    return [scaleShift(n, w, b), n, r];
  },
  /** dx = r (g - mean(g) - n mean(g n)) with g = dy w. */
  layerNormBackward: (dy, w, n, r) => {
    const axis = dy.rank - 1;
    const g = tf.mul(dy, w);
    const centered = tf.sub(g, tf.mean(g, axis, true));
    return tf.mul(tf.sub(centered, tf.mul(n, tf.mean(tf.mul(g, n), axis, true))), r);
  },
  gelu: () => undefined,
  softmaxBackward: (p, dp, r) => tf.mul(p, tf.sub(dp, r)),
  keyValue: (k, v, numHeads) => ({ layout: 'heads', k: [splitHeads(k, numHeads)], v: [splitHeads(v, numHeads)] }),
  concatKeyValue: (a, b) => ({ layout: 'heads', k: [tf.concat([a.k[0], b.k[0]], 2)], v: [tf.concat([a.v[0], b.v[0]], 2)] }),
  gatherKeyValue: (kv, rows) => ({ layout: 'heads', k: [tf.gather(kv.k[0], rows)], v: [tf.gather(kv.v[0], rows)] }),
  sliceKeyValue: (kv, length) => ({
    layout: 'heads', k: [tf.slice(kv.k[0], [0, 0, 0, 0], [-1, -1, length, -1])], v: [tf.slice(kv.v[0], [0, 0, 0, 0], [-1, -1, length, -1])],
  }),
  attention: (q, kv, numHeads, mask) => {
    assertLayout(kv, 'heads');
    const [b, t, d] = q.shape;
    let scores = tf.matMul(splitHeads(q, numHeads), kv.k[0], false, true); // [B, H, T, S]
    if (mask) scores = tf.add(scores, mask);
    const ctx = softmaxTimes(scores, kv.v[0]); // [B, H, T, dh]
    return tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [b, t, d]);
  },
};

const registered = new Map<string, BackendOps>();

/** Registers backend `name`'s own ways of doing some ops (the others stay plain). */
export function registerOps(name: string, own: Partial<BackendOps>): void {
  registered.set(name, { ...plainOps, ...own });
}

/** The ops registered for backend `name` (the plain ones if none): for a layer over them (native.ts). */
export function registeredOps(name: string): BackendOps {
  return registered.get(name) ?? plainOps;
}

/** The ops of the active backend. */
function ops(): BackendOps {
  return registered.get(tf.getBackend()) ?? plainOps;
}

/** Bytes the active backend's memory holds at most, when that is a limit (wasm: 4 GB); else undefined. */
export function heapLimitBytes(): number | undefined {
  return ops().heapLimitBytes;
}

export const prepareLinear = (w: FrozenWeight) => ops().prepareLinear(w);
export const linear = (x: tf.Tensor2D, w: FrozenWeight, training = false) => ops().linear(x, w, training);

/**
 * (x W^T + bias) * scale + residual: a Linear with its bias, the query scaling of attention and the
 * residual connection after it, in one call where the backend has a way (wasm: one SIMD pass for
 * the few rows of a generation step); otherwise these operations in this order.
 */
export function affine(x: tf.Tensor, w: FrozenWeight, bias?: tf.Tensor, opts: { scale?: number; residual?: tf.Tensor; training?: boolean } = {}): tf.Tensor {
  const scale = opts.scale ?? 1;
  const training = opts.training ?? false;
  // As they come first: a generation step's [B, T, d] then needs no reshape kernels around it.
  return ops().affine(x, w, bias, scale, opts.residual, training) ?? tf.tidy(() => {
    const flat = (t: tf.Tensor) => (t.rank === 2 ? t : tf.reshape(t, [-1, t.shape[t.rank - 1]])) as tf.Tensor2D;
    const [x2, residual] = [flat(x), opts.residual && flat(opts.residual)];
    let y = x.rank !== 2 ? ops().affine(x2, w, bias, scale, residual, training) : undefined;
    if (!y) {
      y = ops().linear(x2, w, training);
      if (bias) y = tf.add(y, bias);
      if (scale !== 1) y = tf.mul(y, scale);
      if (residual) y = tf.add(residual, y);
    }
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), y.shape[1] as number]);
  });
}
export const matMulT = (a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean) => ops().matMulT(a, b, transposeA, transposeB);
export const softmaxBackward = (p: tf.Tensor, dp: tf.Tensor, r: tf.Tensor) => ops().softmaxBackward(p, dp, r);
export const keyValue = (k: tf.Tensor3D, v: tf.Tensor3D, numHeads: number) => ops().keyValue(k, v, numHeads);
export const concatKeyValue = (a: KeyValue, b: KeyValue) => ops().concatKeyValue(a, b);
export const gatherKeyValue = (kv: KeyValue, rows: number[]) => ops().gatherKeyValue(kv, rows);
export const sliceKeyValue = (kv: KeyValue, length: number) => ops().sliceKeyValue(kv, length);
export const attention = (q: tf.Tensor3D, kv: KeyValue, numHeads: number, mask?: tf.Tensor2D) => ops().attention(q, kv, numHeads, mask);
export const decoderStep = (decoder: StepDecoder, ids: tf.Tensor2D, cache: StepCache) => ops().decoderStep?.(decoder, ids, cache);
export const expSum = (values: Float32Array, max: number, steps: Float64Array) => ops().expSum?.(values, max, steps);
export const tokenNll = (x: tf.Tensor2D, labels: tf.Tensor1D) => ops().tokenNll?.(x, labels);

/**
 * LayerNorm over the last axis. With a frozen weight and bias (LoRA training), the gradient
 * w.r.t. x is written out (`layerNormBackward`: 8 operations instead of autodiff's ~20 through
 * mean, square and rsqrt); trainable ones take autodiff instead.
 */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  if (isTrainable(weight) || isTrainable(bias)) return tf.tidy(() => scaleShift(normalize(x, eps).n, weight, bias));
  if (!recording()) return tf.tidy(() => ops().layerNormForward(x, weight, bias, eps)[0]); // nothing to differentiate
  const f = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    const [value, n, r] = ops().layerNormForward(input, weight, bias, eps);
    save([n, r]);
    return { value, gradFunc: (dy: tf.Tensor, [ns, rs]: tf.Tensor[]) => ops().layerNormBackward(dy, weight, ns, rs) };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x);
}

/**
 * Exact GELU, x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)): Whisper's activation (tanh would drift).
 *
 * Its gradient, Phi(x) + x phi(x), is written out to keep it out of the subnormal range: far in
 * the negative tail phi(x) = exp(-x^2/2) / sqrt(2 pi) is ~1e-30, and times a small incoming
 * gradient it is subnormal (< 1.2e-38), which a CPU multiplies about 100x slower (wasm has no
 * flush-to-zero mode), and a few percent of them slow the next product by an order of magnitude
 * (BENCHMARKS.md). So phi is taken at |x| <= 9 at most (x clipped to [-9, 9]), i.e.
 * it never drops below 1e-18: beyond that the gradient is off by at most 2e-17 x |x|, far below
 * float32 resolution of the sums it enters.
 *
 * A backend may compute it its own way (`BackendOps.gelu`; wasm: one SIMD pass with PyTorch's
 * erf formula), then on every path, so that training and inference see the same activations; with
 * a gradient tape it also gives the derivative, the only tensor kept for the backward pass.
 * Otherwise x and 2 Phi(x) are kept.
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  if (!recording()) return tf.tidy(() => ops().gelu(x, false)?.[0] ?? tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
  const f = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    const [value, derivative] = ops().gelu(input, true) ?? [];
    if (derivative) {
      save([derivative]);
      return { value, gradFunc: (dy: tf.Tensor, [d]: tf.Tensor[]) => tf.mul(dy, d) };
    }
    const cdf2 = tf.add(tf.erf(tf.mul(input, Math.SQRT1_2)), 1); // 2 Phi(x)
    save([input, cdf2]);
    return {
      value: tf.mul(tf.mul(input, 0.5), cdf2),
      gradFunc: (dy: tf.Tensor, [xs, c2]: tf.Tensor[]) => {
        // phi at x clipped to [-9, 9] (see above)
        const pdf = tf.mul(tf.exp(tf.mul(tf.square(tf.clipByValue(xs, -9, 9)), -0.5)), 1 / Math.sqrt(2 * Math.PI));
        return tf.mul(dy, tf.add(tf.mul(c2, 0.5), tf.mul(xs, pdf)));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x);
}

/**
 * softmax(scores) v over the last two axes ([..., T, S] times [..., S, dh]), with the backward
 * pass of FlashAttention: the softmax gradient P * (dP - rowsum(dP * P)) takes its row sums as
 * rowsum(dctx * ctx) ([..., T, dh], the same numbers since dP = dctx v^T and ctx = P v), which
 * saves a product and a reduction over the [T, S] map per head (1500 x 1500 in the encoder).
 */
export function softmaxTimes(scores: tf.Tensor, v: tf.Tensor): tf.Tensor {
  if (!recording()) return tf.tidy(() => tf.matMul(tf.softmax(scores), v)); // the same value, no gradient set up
  const f = tf.customGrad(((s: tf.Tensor, values: tf.Tensor, save: tf.GradSaveFunc) => {
    const p = tf.softmax(s);
    const ctx = tf.matMul(p, values);
    save([p, values, ctx]);
    return {
      value: ctx,
      gradFunc: (dctx: tf.Tensor, [probs, vals, out]: tf.Tensor[]) => {
        const dp = matMulT(dctx, vals, false, true);
        const rowSums = tf.sum(tf.mul(dctx, out), -1, true);
        return [softmaxBackward(probs, dp, rowSums), matMulT(probs, dctx, true, false)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(scores, v);
}

/**
 * Reads `tensors` to the CPU now, so that dataSync() on them works afterwards on every backend:
 * webgpu reads only asynchronously (its synchronous path needs a browser's OffscreenCanvas), and
 * a tensor read once keeps its values on the CPU until it changes. Call it before code that
 * reads synchronously (saving adapters, checkpoints).
 */
export async function prefetch(tensors: tf.Tensor[]): Promise<void> {
  if (tf.getBackend() === 'webgpu') await Promise.all(tensors.map((t) => t.data()));
}
