/**
 * Multi-head attention of Whisper (HF `WhisperAttention`): q/k/v/out projections, k without bias.
 *
 * Heads are split as [B, T, d] -> [B, H, T, dh]. Queries are scaled by dh^-0.5 before the
 * product, as in HF. For generation, keys/values are exposed separately so the decoder can cache
 * self-attention keys per step and compute cross-attention keys once per clip.
 */
import * as tf from '@tensorflow/tfjs';
import { Linear } from './layers';

export interface KeyValue {
  /** Keys already transposed for q.k: [B, H, dh, S] (wasm's matMul with transposeB is very slow). */
  k: tf.Tensor4D;
  /** [B, H, S, dh] */
  v: tf.Tensor4D;
}

export class WhisperAttention {
  readonly headDim: number;
  readonly scaling: number;

  constructor(
    public name: string,
    public numHeads: number,
    public qProj: Linear,
    public kProj: Linear,
    public vProj: Linear,
    public outProj: Linear,
  ) {
    this.headDim = qProj.outFeatures / numHeads;
    this.scaling = this.headDim ** -0.5;
  }

  linears(): Linear[] {
    return [this.qProj, this.kProj, this.vProj, this.outProj];
  }

  splitHeads(x: tf.Tensor): tf.Tensor4D {
    const [b, t] = x.shape;
    return tf.transpose(tf.reshape(x, [b, t, this.numHeads, this.headDim]), [0, 2, 1, 3]);
  }

  /** Keys [B, H, dh, S] and values [B, H, S, dh] of `states` [B, S, d] for attending to them. */
  keyValue(states: tf.Tensor3D, training = false): KeyValue {
    return tf.tidy(() => {
      const [b, s] = states.shape;
      const k = tf.reshape(this.kProj.apply(states, training), [b, s, this.numHeads, this.headDim]);
      return {
        k: tf.transpose(k, [0, 2, 3, 1]) as tf.Tensor4D,
        v: this.splitHeads(this.vProj.apply(states, training)),
      };
    });
  }

  /**
   * hidden [B, T, d] attends to `kv` (precomputed) or to itself; `mask` [T, S] is added to the
   * scores (0 or a large negative number).
   */
  apply(hidden: tf.Tensor3D, opts: { kv?: KeyValue; mask?: tf.Tensor; training?: boolean } = {}): tf.Tensor3D {
    const training = opts.training ?? false;
    return tf.tidy(() => {
      const [b, t, d] = hidden.shape;
      const q = this.splitHeads(tf.mul(this.qProj.apply(hidden, training), this.scaling));
      const kv = opts.kv ?? this.keyValue(hidden, training);
      const ctx = attend(q, kv.k, kv.v, opts.mask); // [B, H, T, dh]
      const merged = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [b, t, d]);
      return this.outProj.apply(merged, training) as tf.Tensor3D;
    });
  }
}

/**
 * softmax(q k + mask) v per (batch, head) with 2-D matMuls: tfjs-wasm runs batched (3-D/4-D)
 * matMul 10-40x slower than the same work as separate 2-D products (XNNPACK only serves 2-D).
 * q [B, H, T, dh], kT [B, H, dh, S], v [B, H, S, dh] -> [B, H, T, dh].
 */
export function attend(q: tf.Tensor4D, kT: tf.Tensor4D, v: tf.Tensor4D, mask?: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, t, dh] = q.shape;
    const s = kT.shape[3];
    const qs = tf.unstack(tf.reshape(q, [b * h, t, dh])) as tf.Tensor2D[];
    const ks = tf.unstack(tf.reshape(kT, [b * h, dh, s])) as tf.Tensor2D[];
    const vs = tf.unstack(tf.reshape(v, [b * h, s, dh])) as tf.Tensor2D[];
    const outs = qs.map((qi, i) => {
      let scores: tf.Tensor2D = tf.matMul(qi, ks[i]);
      if (mask) scores = tf.add(scores, mask);
      return tf.matMul(tf.softmax(scores), vs[i]);
    });
    return tf.reshape(tf.stack(outs), [b, h, t, dh]) as tf.Tensor4D;
  });
}
