/**
 * The building blocks of Whisper in TensorFlow.js: Linear (with adapter hooks for LoRA),
 * LayerNorm, Conv1d and the exact (erf) GELU. The arithmetic is the backend's (../backend ops).
 *
 * Weights keep the Hugging Face layout ([out, in] for Linear) so names and shapes match the
 * checkpoint one to one.
 */
import * as tf from '@tensorflow/tfjs';
import {
  affine, DerivedTensors, FrozenWeight, gelu, isTrainable, layerNorm, prepareLinear, quantize, QuantizedWeight,
} from '../backend';
import type { Int8Weight } from '../backend';

export { gelu };

/** One weight of the model by its Hugging Face name, read and replaced in place. */
export interface WeightSlot {
  /** e.g. 'model.encoder.conv1.weight' */
  name: string;
  /** The tensor the model computes with. */
  get(): tf.Tensor;
  set(t: tf.Tensor): void;
  /** Transpose from the model's layout to HF's and back (conv filters: [k, in, out] vs [out, in, k]). */
  perm?: number[];
  /** The int8/float16 bytes of a quantized Linear (its float `get()` is then disposed). */
  quantized?(): QuantizedWeight | undefined;
}

/** Something added to a Linear's output, e.g. a LoRA branch: y = xW^T + b + sum(adapter(x)). */
export interface LinearAdapter {
  forward(x: tf.Tensor, training: boolean): tf.Tensor;
}

export class Linear implements FrozenWeight {
  adapters: LinearAdapter[] = [];
  /** Set instead of `weight` on a quantized base (int8 or float16 bytes; see `quantize`). */
  quantized?: QuantizedWeight;
  readonly derived = new DerivedTensors();

  /** [out, in], as in the checkpoint. May be replaced (merged LoRA). Disposed on a quantized base. */
  weight: tf.Tensor2D;

  constructor(
    /** HF module path, e.g. 'model.encoder.layers.0.self_attn.q_proj'. */
    public name: string,
    /** [out, in]: a float32 tensor, or int8 / float16 bytes (a quantized base). */
    weight: tf.Tensor2D | QuantizedWeight,
    public bias?: tf.Tensor1D,
  ) {
    if (weight instanceof tf.Tensor) {
      this.weight = weight;
    } else {
      this.quantized = weight;
      this.weight = tf.zeros([0, 0]); // as after quantize(): a disposed tensor
      this.weight.dispose();
    }
    prepareLinear(this);
  }

  /** True when the weight is a trainable tf.Variable (full fine-tuning): it then gets a gradient. */
  get trainable(): boolean {
    return isTrainable(this.weight);
  }

  /** [out, in] */
  get shape(): [number, number] {
    return this.quantized?.shape ?? (this.weight.shape as [number, number]);
  }

  get inFeatures(): number {
    return this.shape[1];
  }

  get outFeatures(): number {
    return this.shape[0];
  }

  /** The int8 bytes of an int8 base (`load_in_8bit`), else undefined. */
  get int8(): Int8Weight | undefined {
    return this.quantized?.dtype === 'int8' ? this.quantized : undefined;
  }

  /**
   * Keeps the weight as bytes (frees the float tensors): int8 with per-row absmax scales, as
   * `load_in_8bit` gives a PEFT base, or float16.
   */
  quantize(dtype: QuantizedWeight['dtype']): void {
    if (this.quantized) return;
    this.quantized = quantize(dtype, this.weight.dataSync() as Float32Array, this.shape);
    this.weight.dispose();
    this.derived.dispose();
  }

  /**
   * x [..., in] -> [..., out]. Differentiable w.r.t. variables used by the adapters. `scale`
   * multiplies the output (attention's query scaling) and `residual` [..., out] is added to it
   * afterwards: given here, the backend may do all of it in one pass (ops.ts affine).
   */
  apply(x: tf.Tensor, training = false, opts: { scale?: number; residual?: tf.Tensor } = {}): tf.Tensor {
    return tf.tidy(() => {
      // Adapters add to x W^T + b before the scaling and the residual.
      const direct = this.adapters.length === 0;
      let y = affine(x, this, this.bias, direct ? { scale: opts.scale, residual: opts.residual, training } : { training });
      if (!direct) {
        for (const a of this.adapters) y = tf.add(y, a.forward(x, training));
        if (opts.scale !== undefined && opts.scale !== 1) y = tf.mul(y, opts.scale);
        if (opts.residual) y = tf.add(opts.residual, y);
      }
      return y;
    });
  }

  slots(): WeightSlot[] {
    const slots: WeightSlot[] = [{ name: `${this.name}.weight`, get: () => this.weight, set: (t) => (this.weight = t as tf.Tensor2D), quantized: () => this.quantized }];
    if (this.bias) slots.push({ name: `${this.name}.bias`, get: () => this.bias!, set: (t) => (this.bias = t as tf.Tensor1D) });
    return slots;
  }

  dispose(): void {
    if (!this.weight.isDisposed) this.weight.dispose();
    this.bias?.dispose();
    this.derived.dispose();
  }
}

export class LayerNorm {
  constructor(public name: string, public weight: tf.Tensor1D, public bias: tf.Tensor1D, public eps = 1e-5) {}

  /** Normalizes over the last axis. */
  apply(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }

  slots(): WeightSlot[] {
    return [
      { name: `${this.name}.weight`, get: () => this.weight, set: (t) => (this.weight = t as tf.Tensor1D) },
      { name: `${this.name}.bias`, get: () => this.bias, set: (t) => (this.bias = t as tf.Tensor1D) },
    ];
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

  slots(): WeightSlot[] {
    return [
      { name: `${this.name}.weight`, get: () => this.filter, set: (t) => (this.filter = t as tf.Tensor3D), perm: [2, 1, 0] },
      { name: `${this.name}.bias`, get: () => this.bias, set: (t) => (this.bias = t as tf.Tensor1D) },
    ];
  }

  dispose(): void {
    this.filter.dispose();
    this.bias.dispose();
  }
}
