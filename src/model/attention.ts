/**
 * Multi-head attention of Whisper (HF `WhisperAttention`): q/k/v/out projections, k without bias.
 *
 * Queries are scaled by dh^-0.5 before the product, as in HF. Keys and values are kept as one
 * 2-D tensor per batch row, all heads side by side: tfjs-wasm runs batched (3-D/4-D) matMuls
 * 10-40x slower than the same work as 2-D products, and it packs a product's right operand once
 * per tensor, so cross-attention keys made once per clip are packed once, not at every token.
 */
import * as tf from '@tensorflow/tfjs';
import { Linear } from './layers';
import { fused } from '../wasmKernels';

export interface KeyValue {
  /** Per batch row: keys, transposed for q.k (wasm's transposeB is slow), [d, S]. */
  k: tf.Tensor2D[];
  /** Per batch row: values [S, d]. */
  v: tf.Tensor2D[];
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

  /**
   * Keys and values of `states` [B, S, d], for attending to them. Given as rows ([S, d] each, see
   * `batchRows`), each row is projected on its own: for the 1500 encoder frames that beats
   * splitting the [B, S, d] projections, because tfjs-wasm copies slices slowly (the threaded
   * build's heap is a SharedArrayBuffer): 64 ms per split of [8, 1500, 384].
   */
  keyValue(states: tf.Tensor3D | tf.Tensor2D[], training = false): KeyValue {
    return tf.tidy(() => {
      if (Array.isArray(states)) {
        return {
          k: states.map((x) => tf.transpose(this.kProj.apply(x, training)) as tf.Tensor2D),
          v: states.map((x) => this.vProj.apply(x, training) as tf.Tensor2D),
        };
      }
      return {
        k: batchRows(tf.transpose(this.kProj.apply(states, training), [0, 2, 1]) as tf.Tensor3D),
        v: batchRows(this.vProj.apply(states, training) as tf.Tensor3D),
      };
    });
  }

  /** Scores q.k of every head, q [T, d] (already scaled), kT [d, S] -> [H, T, S]. */
  scores(q: tf.Tensor2D, kT: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [qs, ks] = [tf.split(q, this.numHeads, 1), tf.split(kT, this.numHeads, 0)];
      return tf.stack(qs.map((qh, h) => tf.matMul(qh, ks[h]))) as tf.Tensor3D;
    });
  }

  /**
   * hidden [B, T, d] attends to `kv` (precomputed) or to itself; `mask` [T, S] is added to the
   * scores (0 or a large negative number).
   */
  apply(hidden: tf.Tensor3D, opts: AttentionOptions = {}): tf.Tensor3D {
    const training = opts.training ?? false;
    return tf.tidy(() => {
      const q = tf.mul(this.qProj.apply(hidden, training), this.scaling) as tf.Tensor3D;
      const kv = opts.kv ?? this.keyValue(hidden, training);
      const qRows = batchRows(q);
      if (opts.onScores) qRows.forEach((qb, b) => opts.onScores!(b, tf.keep(this.scores(qb, kv.k[b]))));
      const rows = qRows.map((qb, b) => attend(qb, kv.k[b], kv.v[b], this.numHeads, opts.mask));
      return this.outProj.apply(tf.stack(rows), training) as tf.Tensor3D;
    });
  }
}

export interface AttentionOptions {
  /** Keys/values to attend to (cross-attention, a decoder cache); default: the hidden states themselves. */
  kv?: KeyValue;
  /** [T, S], added to the scores (0 or a large negative number). */
  mask?: tf.Tensor2D;
  training?: boolean;
  /**
   * Receives each batch row's attention scores before the softmax, q.k / sqrt(dh), as [H, T, S]
   * (kept: the receiver disposes them). Word timestamps read the cross-attention this way.
   */
  onScores?: (row: number, scores: tf.Tensor3D) => void;
}

/**
 * softmax(q k + mask) v for one row, every head: q [T, d], kT [d, S], v [S, d] -> [T, d].
 * Few queries (a generation step): all heads in one product, with q spread block-diagonally over
 * the heads ([H*T, d], zeros outside each head's columns); H times the arithmetic of a product per
 * head, but 8 operations in all instead of 4 per head, and per-operation overhead is what a step
 * costs.
 * Many queries (the encoder, training): one 2-D product per head.
 */
export function attend(q: tf.Tensor2D, kT: tf.Tensor2D, v: tf.Tensor2D, numHeads: number, mask?: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [t, d] = q.shape;
    if (t * numHeads <= 32) {
      const heads = headBlocks(numHeads, t, d); // [H, T, d]: 1 on the columns of the row's head
      const qBlock = tf.reshape(tf.mul(q, heads), [numHeads * t, d]); // broadcasting (wasm's Tile is slow)
      let scores = tf.matMul(qBlock, kT); // [H*T, S]
      if (mask) scores = tf.reshape(tf.add(tf.reshape(scores, [numHeads, t, -1]), mask), [numHeads * t, -1]);
      const ctx = tf.mul(tf.reshape(tf.matMul(tf.softmax(scores), v), [numHeads, t, d]), heads); // own head's columns
      return tf.sum(ctx, 0) as tf.Tensor2D;
    }
    // Split, not slices: one concat in backprop instead of a full-size pad per head.
    const [qs, ks, vs] = [tf.split(q, numHeads, 1), tf.split(kT, numHeads, 0), tf.split(v, numHeads, 1)];
    const outs = qs.map((qh, h) => {
      let scores: tf.Tensor2D = tf.matMul(qh, ks[h]);
      if (mask) scores = tf.add(scores, mask);
      return softmaxTimes(scores, vs[h] as tf.Tensor2D);
    });
    return tf.concat(outs, 1) as tf.Tensor2D;
  });
}

/**
 * softmax(scores) v, scores [T, S], v [S, dh] -> [T, dh], with the backward pass of
 * FlashAttention: the softmax gradient P * (dP - rowsum(dP * P)) takes its row sums as
 * rowsum(dctx * ctx) ([T, dh], the same numbers since dP = dctx v^T and ctx = P v), which saves a
 * product and a reduction over the [T, S] map per head (1500 x 1500 in the encoder).
 */
function softmaxTimes(scores: tf.Tensor2D, v: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad(((s: tf.Tensor2D, values: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const p = tf.softmax(s);
    const ctx = tf.matMul(p, values);
    save([p, values, ctx]);
    return {
      value: ctx,
      gradFunc: (dctx: tf.Tensor2D, [probs, vals, out]: tf.Tensor2D[]) => {
        const dp = tf.matMul(dctx, tf.transpose(vals));
        const rowSums = tf.sum(tf.mul(dctx, out), 1, true);
        const ds = fused('WhisperSoftmaxGrad', { p: probs, dp, r: rowSums })?.[0] ?? tf.mul(probs, tf.sub(dp, rowSums));
        return [ds, tf.matMul(tf.transpose(probs), dctx)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(scores, v) as tf.Tensor2D;
}

/** [H, T, d] mask: ones on head h's columns in block h. */
function headBlocks(numHeads: number, t: number, d: number): tf.Tensor3D {
  const dh = d / numHeads;
  const data = new Float32Array(numHeads * t * d);
  for (let h = 0; h < numHeads; h++) for (let i = 0; i < t; i++) data.fill(1, (h * t + i) * d + h * dh, (h * t + i) * d + (h + 1) * dh);
  return tf.tensor3d(data, [numHeads, t, d]);
}

/**
 * x [B, T, d] -> B tensors [T, d]. Split, not B slices: a slice's gradient is a pad to the whole
 * [B, T, d], so B slices cost B full-size tensors in backprop (gigabytes for cross-attention at
 * batch 8); split's gradient is one concat.
 */
export function batchRows(x: tf.Tensor3D): tf.Tensor2D[] {
  const [b, t, d] = x.shape;
  if (b === 1) return [tf.reshape(x, [t, d])];
  return tf.tidy(() => tf.split(x, b, 0).map((r) => tf.reshape(r, [t, d])));
}
