/**
 * Whisper's text decoder: token + learned position embeddings, pre-LayerNorm layers with causal
 * self-attention, cross-attention to the encoder output, and a feed-forward block.
 *
 * Two ways to run it: `apply` over whole sequences (training / teacher forcing), and `step` with
 * a DecoderCache that keeps self-attention keys/values of earlier tokens and the cross-attention
 * keys/values computed once per clip (generation).
 */
import * as tf from '@tensorflow/tfjs';
import { concatKeyValue, decoderStep, gatherKeyValue, sliceKeyValue } from '../backend';
import { KeyValue } from './attention';
import { ResidualAttentionBlock } from './block';
import { LayerNorm, Linear, WeightSlot } from './layers';

/** Per-layer keys/values kept between generation steps. */
export interface DecoderCache {
  /** Self-attention keys/values of the tokens seen so far, per layer. */
  self: (KeyValue | undefined)[];
  /** Cross-attention keys/values of the encoder output, per layer (computed once per clip). */
  cross: KeyValue[];
  /** Number of tokens already in `self`. */
  offset: number;
}

export function disposeKeyValue(kv: KeyValue | undefined): void {
  disposeUnshared(kv, undefined);
}

/** Disposes kv's tensors, except those that `keep` holds too (rows may share tensors by reference). */
export function disposeUnshared(kv: KeyValue | undefined, keep: KeyValue | undefined): void {
  if (!kv) return;
  const kept = new Set(keep ? [...keep.k, ...keep.v] : []);
  new Set([...kv.k, ...kv.v]).forEach((t) => kept.has(t) || t.dispose());
}

export class WhisperDecoder {
  constructor(
    /** [vocab, d]; also the (tied) output projection. */
    public embedTokens: tf.Tensor2D,
    /** [maxTargetPositions, d] */
    public embedPositions: tf.Tensor2D,
    public layers: ResidualAttentionBlock[],
    public layerNorm: LayerNorm,
  ) {}

  private embed(inputIds: tf.Tensor2D, offset: number): tf.Tensor3D {
    const t = inputIds.shape[1];
    const maxPos = this.embedPositions.shape[0];
    if (offset + t > maxPos) {
      throw new Error(`WhisperDecoder: ${offset + t} positions exceed max_target_positions ${maxPos}`);
    }
    const ids = tf.cast(inputIds, 'int32') as tf.Tensor2D;
    const trained = this.embedTokens instanceof tf.Variable && this.embedTokens.trainable;
    const tok = trained ? lookupWithGradient(this.embedTokens, ids) : tf.gather(this.embedTokens, ids);
    return tf.add(tok, tf.slice(this.embedPositions, [offset, 0], [t, -1])) as tf.Tensor3D;
  }

  /** Causal mask [T, T + offset]: position i may see keys 0..offset+i. */
  static causalMask(t: number, offset = 0): tf.Tensor2D {
    const s = t + offset;
    const m = new Float32Array(t * s);
    for (let i = 0; i < t; i++) for (let j = offset + i + 1; j < s; j++) m[i * s + j] = -1e9;
    return tf.tensor2d(m, [t, s]);
  }

  /**
   * Teacher forcing over whole sequences: ids [B, T], encoder states [B, S, d] -> hidden [B, T, d].
   * `onCrossAttention(layer, scores [B, H, T, S])` receives each layer's cross-attention scores (word timestamps).
   */
  apply(inputIds: tf.Tensor2D, encoderHiddenStates: tf.Tensor3D, training = false,
    onCrossAttention?: (layer: number, scores: tf.Tensor4D) => void): tf.Tensor3D {
    return tf.tidy(() => {
      const t = inputIds.shape[1];
      let h = this.embed(inputIds, 0);
      const mask = t > 1 ? WhisperDecoder.causalMask(t) : undefined;
      this.layers.forEach((block, i) => {
        h = block.attend(h, { mask, training });
        h = block.attendToAudio(h, block.encoderAttn!.keyValue(encoderHiddenStates, training), {
          training, onScores: onCrossAttention && ((scores) => onCrossAttention(i, scores)), keyStates: encoderHiddenStates,
        });
        h = block.mlp(h, training);
      });
      return this.layerNorm.apply(h) as tf.Tensor3D;
    });
  }

  /** Cross-attention keys/values of every layer for a batch of clips, computed once. Caller disposes. */
  crossKeyValues(encoderHiddenStates: tf.Tensor3D): KeyValue[] {
    return this.layers.map((block) => block.encoderAttn!.keyValue(encoderHiddenStates));
  }

  /**
   * Runs new tokens ids [B, T] on top of the cache (updated in place: old self keys are disposed,
   * the new ones kept). Returns the final hidden states of the new tokens [B, T, d].
   */
  step(inputIds: tf.Tensor2D, cache: DecoderCache): tf.Tensor3D {
    const t = inputIds.shape[1];
    // A backend may run the whole step at once (the same values); else it runs layer by layer.
    const { hidden, self } = decoderStep(this, inputIds, cache) ?? this.layerByLayer(inputIds, cache);
    cache.self.forEach((kv, i) => disposeUnshared(kv, self[i])); // a backend may grow the cache in place
    cache.self = self;
    cache.offset += t;
    return hidden;
  }

  private layerByLayer(inputIds: tf.Tensor2D, cache: DecoderCache): { hidden: tf.Tensor3D; self: KeyValue[] } {
    const t = inputIds.shape[1];
    const self: KeyValue[] = [];
    const hidden = tf.tidy(() => {
      let h = this.embed(inputIds, cache.offset);
      const mask = t > 1 ? WhisperDecoder.causalMask(t, cache.offset) : undefined;
      this.layers.forEach((block, i) => {
        // This step's keys/values join the cached ones (kept: they outlive this tidy).
        const withCache = (x: tf.Tensor3D) => {
          const fresh = block.selfAttn.keyValue(x);
          const prev = cache.self[i];
          const kv = prev ? concatKeyValue(prev, fresh) : fresh;
          [...kv.k, ...kv.v].forEach((t) => tf.keep(t));
          self.push(kv);
          return kv;
        };
        h = block.attend(h, { kv: withCache, mask });
        h = block.attendToAudio(h, cache.cross[i]);
        h = block.mlp(h);
      });
      return this.layerNorm.apply(h) as tf.Tensor3D;
    });
    return { hidden, self };
  }

  linears(): Linear[] {
    return this.layers.flatMap((l) => l.linears());
  }

  /** Every weight in checkpoint order. */
  slots(): WeightSlot[] {
    return [
      { name: 'model.decoder.embed_tokens.weight', get: () => this.embedTokens, set: (t) => (this.embedTokens = t as tf.Tensor2D) },
      { name: 'model.decoder.embed_positions.weight', get: () => this.embedPositions, set: (t) => (this.embedPositions = t as tf.Tensor2D) },
      ...this.layers.flatMap((l) => l.slots()), ...this.layerNorm.slots(),
    ];
  }

  dispose(): void {
    this.embedTokens.dispose();
    this.embedPositions.dispose();
    this.layers.forEach((l) => l.dispose());
    this.layerNorm.dispose();
  }
}

/**
 * table[ids] with its gradient written out as a scatter-add of the rows' gradients into the table
 * (tf.gather's own gradient needs UnsortedSegmentSum, which tfjs-wasm lacks).
 */
function lookupWithGradient(table: tf.Tensor2D, ids: tf.Tensor2D): tf.Tensor3D {
  const f = tf.customGrad(((t: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([ids]); // kept for the backward pass, which runs after the forward pass's scopes have ended
    return {
      value: tf.gather(t, ids),
      gradFunc: (dy: tf.Tensor, [rows]: tf.Tensor[]) => tf.scatterND(tf.reshape(rows, [-1, 1]), tf.reshape(dy, [-1, t.shape[1]]), t.shape),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(table) as tf.Tensor3D;
}

/**
 * Row i of the cache continues previous row rows[i] (beam search re-ranks its beams); tensors no
 * row uses any more are freed.
 */
export function reorderCache(cache: DecoderCache, rows: number[]): void {
  cache.self = cache.self.map((kv) => {
    if (!kv) return kv;
    const out = tf.tidy(() => gatherKeyValue(kv, rows));
    disposeUnshared(kv, out);
    return out;
  });
}

/** Forgets every cached position after the first `length` (speculative decoding's rejected guesses). */
export function truncateCache(cache: DecoderCache, length: number): void {
  if (length >= cache.offset) return;
  cache.self = cache.self.map((kv) => {
    if (!kv) return kv;
    const out = tf.tidy(() => sliceKeyValue(kv, length));
    disposeUnshared(kv, out);
    return out;
  });
  cache.offset = length;
}
