/**
 * Multi-head attention of Whisper (HF `WhisperAttention`): q/k/v/out projections, k without bias.
 * Queries are scaled by dh^-0.5 before the product, as in HF. How keys and values are laid out
 * and how the heads are attended is the backend's (../backend: `keyValue`, `attention`).
 */
import * as tf from '@tensorflow/tfjs';
import { attention, keyValue, KeyValue } from '../backend';
import { Linear } from './layers';

export type { KeyValue };

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

  /** Keys and values of `states` [B, S, d], for attending to them. */
  keyValue(states: tf.Tensor3D, training = false): KeyValue {
    return tf.tidy(() => keyValue(this.kProj.apply(states, training) as tf.Tensor3D,
      this.vProj.apply(states, training) as tf.Tensor3D, this.numHeads));
  }

  /**
   * hidden [B, T, d] attends to `kv` (precomputed) or to itself; `mask` [T, S] is added to the
   * scores (0 or a large negative number).
   */
  apply(hidden: tf.Tensor3D, opts: { kv?: KeyValue; mask?: tf.Tensor2D; training?: boolean } = {}): tf.Tensor3D {
    const training = opts.training ?? false;
    return tf.tidy(() => {
      const q = tf.mul(this.qProj.apply(hidden, training), this.scaling) as tf.Tensor3D;
      const kv = opts.kv ?? this.keyValue(hidden, training);
      return this.outProj.apply(attention(q, kv, this.numHeads, opts.mask), training) as tf.Tensor3D;
    });
  }
}
