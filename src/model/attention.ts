/**
 * Multi-head attention of Whisper (HF `WhisperAttention`): q/k/v/out projections, k without bias.
 * Queries are scaled by dh^-0.5 before the product, as in HF. How keys and values are laid out
 * and how the heads are attended is the backend's (../backend: `keyValue`, `attention`).
 */
import * as tf from '@tensorflow/tfjs';
import { attention, keyValue, KeyValue, matMulT } from '../backend';
import { Linear, WeightSlot } from './layers';

export type { KeyValue };

export interface AttentionOptions {
  /** Keys/values to attend to (cross-attention, a decoder cache); default: the hidden states themselves. */
  kv?: KeyValue;
  /** [T, S], added to the scores (0 or a large negative number). */
  mask?: tf.Tensor2D;
  training?: boolean;
  /**
   * Receives the scores before the softmax, q.k / sqrt(dh), as [B, H, T, S] (kept: the receiver
   * disposes them). Word timestamps read the cross-attention this way.
   */
  onScores?: (scores: tf.Tensor4D) => void;
  /** The states `kv` was made from (what onScores needs; default the hidden states). */
  keyStates?: tf.Tensor3D;
  /** Added to the output (the residual connection around the attention block). */
  residual?: tf.Tensor3D;
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

  slots(): WeightSlot[] {
    return this.linears().flatMap((l) => l.slots());
  }

  dispose(): void {
    this.linears().forEach((l) => l.dispose());
  }

  /** Keys and values of `states` [B, S, d], for attending to them. */
  keyValue(states: tf.Tensor3D, training = false): KeyValue {
    return tf.tidy(() => keyValue(this.kProj.apply(states, training) as tf.Tensor3D,
      this.vProj.apply(states, training) as tf.Tensor3D, this.numHeads));
  }

  /**
   * hidden [B, T, d] attends to `kv` (precomputed) or to itself; `mask` [T, S] is added to the
   * scores (0 or a large negative number); `residual` is added to the output.
   */
  apply(hidden: tf.Tensor3D, opts: AttentionOptions = {}): tf.Tensor3D {
    const training = opts.training ?? false;
    return tf.tidy(() => {
      const q = this.qProj.apply(hidden, training, { scale: this.scaling }) as tf.Tensor3D;
      const kv = opts.kv ?? this.keyValue(hidden, training);
      if (opts.onScores) opts.onScores(tf.keep(this.scores(q, opts.keyStates ?? hidden)));
      return this.outProj.apply(attention(q, kv, this.numHeads, opts.mask), training, { residual: opts.residual }) as tf.Tensor3D;
    });
  }

  /** The scores q.k of every head before the softmax: q [B, T, d] (scaled), keys from states [B, S, d] -> [B, H, T, S]. */
  scores(q: tf.Tensor3D, states: tf.Tensor3D): tf.Tensor4D {
    return tf.tidy(() => {
      const heads = (x: tf.Tensor3D) => tf.transpose(tf.reshape(x, [x.shape[0], x.shape[1], this.numHeads, this.headDim]), [0, 2, 1, 3]);
      return matMulT(heads(q), heads(this.kProj.apply(states) as tf.Tensor3D), false, true) as tf.Tensor4D;
    });
  }
}
