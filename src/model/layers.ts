/**
 * The building blocks of Whisper in TensorFlow.js: Linear (with adapter hooks for LoRA),
 * LayerNorm, Conv1d and the exact (erf) GELU.
 *
 * Weights keep the Hugging Face layout ([out, in] for Linear) so names and shapes match the
 * checkpoint one to one; the matmul uses transposeB instead of storing a transposed copy.
 */
import * as tf from '@tensorflow/tfjs';

/** Something added to a Linear's output, e.g. a LoRA branch: y = xW^T + b + sum(adapter(x)). */
export interface LinearAdapter {
  forward(x: tf.Tensor, training: boolean): tf.Tensor;
}

export class Linear {
  adapters: LinearAdapter[] = [];
  // wasm's matMul with transposeB is ~30x slower (and gave wrong sums in tfjs 4.22), so we keep
  // a [in, out] copy of `weight`, rebuilt whenever someone assigns a new weight tensor.
  private weightT?: tf.Tensor2D;
  private weightTOf?: tf.Tensor2D;

  constructor(
    /** HF module path, e.g. 'model.encoder.layers.0.self_attn.q_proj'. */
    public name: string,
    /** [out, in], as in the checkpoint. May be replaced (merged LoRA, dequantized int8). */
    public weight: tf.Tensor2D,
    public bias?: tf.Tensor1D,
  ) {
    if (weight.size <= Linear.MAX_TRANSPOSED_COPY) this.transposedWeight();
  }

  /** Weights above this many values are never copied transposed (memory). */
  static MAX_TRANSPOSED_COPY = 4_000_000;

  get inFeatures(): number {
    return this.weight.shape[1];
  }

  get outFeatures(): number {
    return this.weight.shape[0];
  }

  /** x [..., in] -> [..., out]. Differentiable w.r.t. variables used by the adapters. */
  apply(x: tf.Tensor, training = false): tf.Tensor {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const x2 = x.rank === 2 ? (x as tf.Tensor2D) : x.reshape([-1, this.inFeatures]) as tf.Tensor2D;
      // Huge weights (the vocabulary projection) are not copied: y = (W x^T)^T instead.
      let y: tf.Tensor = this.weight.size > Linear.MAX_TRANSPOSED_COPY
        ? tf.transpose(tf.matMul(this.weight, tf.transpose(x2)))
        : tf.matMul(x2, this.transposedWeight());
      if (this.bias) y = tf.add(y, this.bias);
      if (x.rank !== 2) y = y.reshape([...lead, this.outFeatures]);
      for (const a of this.adapters) y = tf.add(y, a.forward(x, training));
      return y;
    });
  }

  /** `weight` as [in, out], cached. Not tracked by tidy scopes (kept until the weight changes). */
  transposedWeight(): tf.Tensor2D {
    if (this.weightTOf !== this.weight || !this.weightT || this.weightT.isDisposed) {
      this.weightT?.dispose();
      this.weightT = tf.keep(tf.tidy(() => tf.transpose(this.weight)));
      this.weightTOf = this.weight;
    }
    return this.weightT;
  }

  dispose(): void {
    this.weight.dispose();
    this.bias?.dispose();
    this.weightT?.dispose();
    this.weightT = undefined;
  }
}

export class LayerNorm {
  constructor(public name: string, public weight: tf.Tensor1D, public bias: tf.Tensor1D, public eps = 1e-5) {}

  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const axis = x.rank - 1;
      const mean = tf.mean(x, axis, true);
      const centered = tf.sub(x, mean);
      const variance = tf.mean(tf.square(centered), axis, true);
      return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, this.eps))), this.weight), this.bias);
    });
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
  readonly filter: tf.Tensor3D;

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
      return tf.add(tf.conv1d(padded, this.filter, this.stride, 'valid'), this.bias) as tf.Tensor3D;
    });
  }

  dispose(): void {
    this.filter.dispose();
    this.bias.dispose();
  }
}

/** Exact GELU, x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)): Whisper's activation (tanh would drift). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
}
