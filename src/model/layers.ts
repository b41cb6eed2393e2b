/**
 * The building blocks of Whisper in TensorFlow.js: Linear (with adapter hooks for LoRA),
 * LayerNorm, Conv1d and the exact (erf) GELU.
 *
 * Weights keep the Hugging Face layout ([out, in] for Linear) so names and shapes match the
 * checkpoint one to one; the matmul uses transposeB instead of storing a transposed copy.
 */
import * as tf from '@tensorflow/tfjs';
import { fused } from '../wasmKernels';

/** Something added to a Linear's output, e.g. a LoRA branch: y = xW^T + b + sum(adapter(x)). */
export interface LinearAdapter {
  forward(x: tf.Tensor, training: boolean): tf.Tensor;
}

/**
 * A frozen weight stored as int8 with one scale per output row (absmax / 127): what
 * `load_in_8bit` gives a PEFT base model. tfjs has no int8 tensors, so the bytes live in an
 * Int8Array (1 byte per value instead of 4, and no transposed float copy) and each call
 * dequantizes them for its product.
 */
export interface Int8Weight {
  data: Int8Array;
  /** One per output row. */
  scales: Float32Array;
  /** [out, in] */
  shape: [number, number];
}

/** Per-row absmax int8 quantization of a [out, in] float weight. */
export function quantizeInt8(values: Float32Array, shape: [number, number]): Int8Weight {
  const [out, inF] = shape;
  const data = new Int8Array(out * inF);
  const scales = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    let max = 0;
    for (let i = 0; i < inF; i++) max = Math.max(max, Math.abs(values[o * inF + i]));
    const scale = max / 127 || 1;
    scales[o] = scale;
    for (let i = 0; i < inF; i++) data[o * inF + i] = Math.round(values[o * inF + i] / scale);
  }
  return { data, scales, shape };
}

/** The float [in, out] (transposed) weight of an int8 one. */
function dequantizeTransposed(w: Int8Weight): tf.Tensor2D {
  const [out, inF] = w.shape;
  const t = new Float32Array(out * inF);
  for (let o = 0; o < out; o++) {
    const s = w.scales[o];
    for (let i = 0; i < inF; i++) t[i * out + o] = w.data[o * inF + i] * s;
  }
  return tf.tensor2d(t, [inF, out]);
}

export class Linear {
  adapters: LinearAdapter[] = [];
  /** Set instead of `weight` on an int8 base (WhisperForConditionalGeneration loadIn8bit). */
  int8?: Int8Weight;
  // wasm's matMul with transposeB is ~30x slower (and gave wrong sums in tfjs 4.22), so we keep
  // a [in, out] copy of `weight`, rebuilt whenever its data changes (a new tensor, or a trained
  // tf.Variable assigned new values: either gives it a new dataId).
  private weightT?: tf.Tensor2D;
  private weightTOf?: object;

  constructor(
    /** HF module path, e.g. 'model.encoder.layers.0.self_attn.q_proj'. */
    public name: string,
    /** [out, in], as in the checkpoint. May be replaced (merged LoRA). Disposed on an int8 base. */
    public weight: tf.Tensor2D,
    public bias?: tf.Tensor1D,
  ) {
    if (weight.size <= Linear.MAX_TRANSPOSED_COPY) this.transposedWeight();
  }

  /**
   * Weights above this many values are never copied transposed (memory; wasm has a 4 GB heap).
   * It covers the vocabulary projection of tiny and base (20-27M values), whose logits are 3x
   * faster from the copy (4.7 vs 13.9 ms per token here) and whose backward pass needs no
   * transpose; small and larger models skip it.
   */
  static MAX_TRANSPOSED_COPY = 32_000_000;

  /** True when the weight is a trainable tf.Variable (full fine-tuning): it then gets a gradient. */
  get trainable(): boolean {
    return this.weight instanceof tf.Variable && this.weight.trainable;
  }

  /** [out, in] */
  get shape(): [number, number] {
    return this.int8?.shape ?? (this.weight.shape as [number, number]);
  }

  get inFeatures(): number {
    return this.shape[1];
  }

  get outFeatures(): number {
    return this.shape[0];
  }

  /** Replaces the float weight by its int8 quantization (frees the float tensors). */
  quantizeInt8(): void {
    if (this.int8) return;
    this.int8 = quantizeInt8(this.weight.dataSync() as Float32Array, this.shape);
    this.weight.dispose();
    this.weightT?.dispose();
    this.weightT = undefined;
  }

  /** x [..., in] -> [..., out]. Differentiable w.r.t. variables used by the adapters. */
  apply(x: tf.Tensor, training = false): tf.Tensor {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const x2 = x.rank === 2 ? (x as tf.Tensor2D) : x.reshape([-1, this.inFeatures]) as tf.Tensor2D;
      let y: tf.Tensor;
      if (this.int8) y = tf.matMul(x2, dequantizeTransposed(this.int8));
      // Huge weights (a large vocabulary projection) are not copied: y = (W x^T)^T instead.
      else if (training && this.trainable) y = this.trainedProduct(x2);
      else if (this.weight.size > Linear.MAX_TRANSPOSED_COPY) y = tf.transpose(tf.matMul(this.weight, tf.transpose(x2)));
      else y = this.frozenProduct(x2, training);
      if (this.bias) y = tf.add(y, this.bias);
      if (x.rank !== 2) y = y.reshape([...lead, this.outFeatures]);
      for (const a of this.adapters) y = tf.add(y, a.forward(x, training));
      return y;
    });
  }

  /**
   * x W^T with the frozen weight, differentiable w.r.t. x only: dL/dx = dy W uses the stored
   * [out, in] weight as it is, so the backward pass neither transposes nor repacks it (wasm's
   * XNNPACK packs a product's right operand once per tensor; a fresh transpose every step cost
   * 0.75 s per 2 examples on the vocabulary projection).
   *
   * In training, a weight above WIDE_WEIGHT values (the vocabulary projection) is multiplied the
   * other way round, (W x^T)^T forward and (W^T dy^T)^T backward, in blocks of rows: XNNPACK
   * streams its right operand once per few rows of the left one, so 40 rows x 51,865 x 384 read the
   * 80 MB weight about 10 times (55 ms forward, 63 ms backward here) where the swapped product reads
   * it once (33 ms, 46 ms); measured in bench/profile-step.ts. Same sums, different rounding
   * order at most; generation (one row per sequence) keeps the direct product, 3x faster there.
   */
  private frozenProduct(x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    const w = this.weight;
    const wT = this.transposedWeight();
    const swap = training && w.size > Linear.WIDE_WEIGHT;
    const product = (input: tf.Tensor2D) => ({
      value: swap ? tf.transpose(tf.matMul(w, tf.transpose(input))) : tf.matMul(input, wT),
      gradFunc: (dy: tf.Tensor2D) => swap ? byRows(dy, 24, (rows) => tf.transpose(tf.matMul(wT, tf.transpose(rows)))) : tf.matMul(dy, w),
    });
    return tf.customGrad(product as unknown as Parameters<typeof tf.customGrad>[0])(x) as tf.Tensor2D;
  }

  /**
   * x W^T differentiable w.r.t. x and the trained weight: dx = dy W, dW = dy^T x (products without
   * transposed operands, see frozenProduct).
   */
  private trainedProduct(x: tf.Tensor2D): tf.Tensor2D {
    const product = (input: tf.Tensor2D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
      save([input, w]);
      const value = w.size > Linear.MAX_TRANSPOSED_COPY ? tf.transpose(tf.matMul(w, tf.transpose(input))) : tf.matMul(input, this.transposedWeight());
      return { value, gradFunc: (dy: tf.Tensor2D, [xs, ws]: tf.Tensor2D[]) => [tf.matMul(dy, ws), tf.matMul(tf.transpose(dy), xs)] };
    };
    return tf.customGrad(product as unknown as Parameters<typeof tf.customGrad>[0])(x, this.weight) as tf.Tensor2D;
  }

  /** Weights above this many values take the swapped products in training (see frozenProduct). */
  static WIDE_WEIGHT = 4_000_000;

  /** `weight` as [in, out], cached. Not tracked by tidy scopes (kept until the weight changes). */
  transposedWeight(): tf.Tensor2D {
    const data = (this.weight as unknown as { dataId: object }).dataId;
    if (this.weightTOf !== data || !this.weightT || this.weightT.isDisposed) {
      this.weightT?.dispose();
      this.weightT = tf.keep(tf.tidy(() => tf.transpose(this.weight)));
      this.weightTOf = data;
    }
    return this.weightT;
  }

  dispose(): void {
    if (!this.weight.isDisposed) this.weight.dispose();
    this.bias?.dispose();
    this.weightT?.dispose();
    this.weightT = undefined;
  }
}

/** f applied to blocks of at most `n` rows of x, concatenated. */
function byRows(x: tf.Tensor2D, n: number, f: (rows: tf.Tensor2D) => tf.Tensor): tf.Tensor2D {
  const rows = x.shape[0];
  if (rows <= n) return f(x) as tf.Tensor2D;
  const sizes = Array.from({ length: Math.ceil(rows / n) }, (_, i) => Math.min(n, rows - i * n));
  return tf.concat(tf.split(x, sizes, 0).map((b) => f(b as tf.Tensor2D)), 0) as tf.Tensor2D;
}

export class LayerNorm {
  constructor(public name: string, public weight: tf.Tensor1D, public bias: tf.Tensor1D, public eps = 1e-5) {}

  /**
   * Normalizes over the last axis. The gradient w.r.t. x is written out,
   * dx = r (g - mean(g) - n mean(g n)) with g = dy w, n the normalized x and r = 1/sigma:
   * 8 operations instead of autodiff's ~20 (through mean, square and rsqrt). The weight and bias
   * are frozen in LoRA training, so they get no gradient; trainable ones take autodiff instead.
   */
  apply(x: tf.Tensor): tf.Tensor {
    const trainable = [this.weight, this.bias].some((t) => t instanceof tf.Variable && t.trainable);
    if (trainable) return tf.tidy(() => this.affine(this.normalize(x).n));
    const f = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
      // wasm: one pass per row (wasmSimd.ts layerNorm), the same bits as the operations below.
      const [value, n, r] = fused('WhisperLayerNorm', { x: input, w: this.weight, b: this.bias }, { eps: this.eps })
        ?? (({ n, r }) => [this.affine(n), n, r])(this.normalize(input));
      save([n, r]);
      return {
        value,
        gradFunc: (dy: tf.Tensor, [ns, rs]: tf.Tensor[]) => {
          const [onePass] = fused('WhisperLayerNormGrad', { dy, w: this.weight, n: ns, r: rs }) ?? [];
          if (onePass) return onePass;
          const axis = dy.rank - 1;
          const g = tf.mul(dy, this.weight);
          const centered = tf.sub(g, tf.mean(g, axis, true));
          return tf.mul(tf.sub(centered, tf.mul(ns, tf.mean(tf.mul(g, ns), axis, true))), rs);
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return f(x);
  }

  /** n = (x - mean) / sqrt(var + eps) and r = 1 / sqrt(var + eps), over the last axis. */
  private normalize(x: tf.Tensor): { n: tf.Tensor; r: tf.Tensor } {
    const axis = x.rank - 1;
    const centered = tf.sub(x, tf.mean(x, axis, true));
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(centered), axis, true), this.eps));
    return { n: tf.mul(centered, r), r };
  }

  private affine(n: tf.Tensor): tf.Tensor {
    return tf.add(tf.mul(n, this.weight), this.bias);
  }

  dispose(): void {
    this.weight.dispose();
    this.bias.dispose();
  }
}

/**
 * 1-D convolution over time, channels last: x [B, T, in] -> [B, T', out].
 * The HF weight [out, in, k] is stored once as the tfjs filter [k, in, out].
 */
export class Conv1d {
  /** [k, in, out]; a tf.Variable when the convolution is trained. */
  filter: tf.Tensor3D;

  constructor(
    public name: string,
    weight: tf.Tensor3D,
    public bias: tf.Tensor1D,
    public stride = 1,
    public padding = 1,
  ) {
    this.filter = tf.tidy(() => tf.transpose(weight, [2, 1, 0]));
    weight.dispose();
  }

  apply(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const padded = this.padding ? tf.pad(x, [[0, 0], [this.padding, this.padding], [0, 0]]) : x;
      const trained = this.filter instanceof tf.Variable && this.filter.trainable;
      const y = trained ? this.unfoldedProduct(padded as tf.Tensor3D) : tf.conv1d(padded, this.filter, this.stride, 'valid');
      return tf.add(y, this.bias) as tf.Tensor3D;
    });
  }

  /**
   * The same convolution as one product of the unfolded input [B, T', k * in] with the filter
   * [k * in, out]: differentiable w.r.t. the filter on every backend (tfjs-wasm has no
   * Conv2DBackpropFilter kernel). Tap j of output t reads input row t * stride + j.
   */
  private unfoldedProduct(x: tf.Tensor3D): tf.Tensor3D {
    const [b, t, cin] = x.shape;
    const [k, , cout] = this.filter.shape;
    const s = this.stride;
    const n = Math.floor((t - k) / s) + 1;
    // s - 1 extra rows so every tap's strided view has n full strides (the extra rows are never read).
    const xs = s > 1 ? tf.pad(x, [[0, 0], [0, s - 1], [0, 0]]) : x;
    const taps = Array.from({ length: k }, (_, j) => {
      const rows = tf.slice(xs, [0, j, 0], [b, n * s, cin]);
      return s === 1 ? rows : tf.reshape(tf.split(tf.reshape(rows, [b, n, s, cin]), s, 2)[0], [b, n, cin]);
    });
    const cols = tf.reshape(tf.concat(taps, 2), [b * n, k * cin]);
    return tf.reshape(tf.matMul(cols, tf.reshape(this.filter, [k * cin, cout])), [b, n, cout]);
  }

  dispose(): void {
    this.filter.dispose();
    this.bias.dispose();
  }
}

/**
 * Exact GELU, x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)): Whisper's activation (tanh would drift).
 *
 * Its gradient, Phi(x) + x phi(x), is written out to keep it out of the subnormal range: far in
 * the negative tail phi(x) = exp(-x^2/2) / sqrt(2 pi) is ~1e-30, and times a small incoming
 * gradient it is subnormal (< 1.2e-38), which the CPU multiplies about 100x slower (wasm has no
 * flush-to-zero mode): a [1500, 1536] gradient with 6 % subnormal values made the next matMul
 * take 388 ms instead of 33 ms. So phi is taken at |x| <= 9 at most (x clipped to [-9, 9]), i.e.
 * it never drops below 1e-18: beyond that the gradient is off by at most 2e-17 x |x|, far below
 * float32 resolution of the sums it enters. The forward value is computed by the same float
 * operations on every path, so training and inference see the same activations.
 */
export function gelu(x: tf.Tensor, training = false): tf.Tensor {
  const f = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    const e = tf.erf(tf.mul(input, Math.SQRT1_2));
    // Training on wasm: value and derivative in one pass (wasmSimd.ts geluForward); only the
    // derivative is kept, and the backward pass is one product. Elsewhere (inference, where
    // computing the derivative would be wasted, and other backends) the same value from tfjs
    // operations, with x and 2 Phi(x) kept for a written-out backward pass.
    const [value, derivative] = (training && fused('WhisperGelu', { x: input, e })) || [];
    if (derivative) {
      save([derivative]);
      return { value, gradFunc: (dy: tf.Tensor, [d]: tf.Tensor[]) => tf.mul(dy, d) };
    }
    const cdf2 = tf.add(e, 1); // 2 Phi(x)
    save([input, cdf2]);
    return {
      value: tf.mul(tf.mul(input, 0.5), cdf2),
      gradFunc: (dy: tf.Tensor, [xs, c2]: tf.Tensor[]) => {
        const [onePass] = fused('WhisperGeluGrad', { x: xs, c2, dy }) ?? []; // wasm: wasmSimd.ts geluGrad
        if (onePass) return onePass;
        // exp(z) as sigmoid(z) / (1 - sigmoid(z)): wasm's sigmoid is XNNPACK's, vectorized and
        // threaded (1.2 ms for 1500 x 1536 here), its exp a scalar loop (11.9 ms).
        const z = tf.sub(tf.mul(tf.square(tf.clipByValue(xs, -9, 9)), -0.5), Math.log(Math.sqrt(2 * Math.PI)));
        const sig = tf.sigmoid(z);
        const pdf = tf.div(sig, tf.sub(1, sig));
        return tf.mul(dy, tf.add(tf.mul(c2, 0.5), tf.mul(xs, pdf)));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x);
}
