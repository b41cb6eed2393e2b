/**
 * The decoder forward pass behind every decoding strategy (openai's `PyTorchInference`): a
 * key/value cache over a set of rows, each row attending to one clip.
 *
 * A call gives the full token sequence of every row; the session feeds only the tokens it has not
 * seen (the whole prompt on the first call, then one token per step, or k + 1 when speculative
 * decoding verifies a draft) and returns the logits of the positions asked for. Between calls rows
 * may be re-ranked (`sources`, beam search) or cut back (`truncate`, rejected draft tokens).
 */
import * as tf from '@tensorflow/tfjs';
import { gatherKeyValue, KeyValue, roughProducts } from '../backend';
import { DecoderCache, disposeKeyValue, disposeUnshared, reorderCache, truncateCache } from './decoder';

/** What a session needs from a model (WhisperForConditionalGeneration fits). */
export interface StepModel {
  decoder: {
    crossKeyValues(encoderHiddenStates: tf.Tensor3D): KeyValue[];
    step(inputIds: tf.Tensor2D, cache: DecoderCache): tf.Tensor3D;
  };
  logits(hidden: tf.Tensor3D): tf.Tensor3D;
}

/** A batch of encoded clips as the decoder reads them: their cross-attention keys/values, computed once and shared by every session (and every fallback temperature) on them. */
export class AudioFeatures {
  readonly kv: KeyValue[];
  readonly clips: number;

  constructor(readonly model: StepModel, encoderHiddenStates: tf.Tensor3D) {
    this.kv = model.decoder.crossKeyValues(encoderHiddenStates);
    this.clips = encoderHiddenStates.shape[0];
  }

  dispose(): void {
    this.kv.forEach(disposeKeyValue);
  }
}

export interface LogitsRequest {
  /** Row i extends row sources[i] of the previous call (default: row i). */
  sources?: number[];
  /** Positions (indices into each row) whose logits are wanted; default the last one. */
  positions?: number[];
}

export class DecoderSession {
  private cache: DecoderCache;
  private rowClips: number[];

  /**
   * `clips[i]`: the clip (index into the context's batch) row i attends to. `rough`: the steps run
   * with the backend's cheapest rounding (roughProducts), for a draft model whose tokens are checked.
   */
  constructor(private readonly audio: AudioFeatures, clips: number[], private readonly rough = false) {
    for (const c of clips) {
      if (!Number.isInteger(c) || c < 0 || c >= audio.clips) throw new Error(`DecoderSession: no clip ${c} (have ${audio.clips})`);
    }
    this.rowClips = clips;
    this.cache = { self: [], cross: [], offset: 0 };
    this.setCross(clips);
  }

  /** Tokens already in the cache (the same for every row). */
  get length(): number {
    return this.cache.offset;
  }

  /** Each row's clip's cross-attention keys/values (shared by reference where the backend keeps rows apart). */
  private setCross(clips: number[]): void {
    const previous = this.cache.cross;
    const identity = clips.length === this.audio.clips && clips.every((c, i) => c === i);
    this.cache.cross = identity ? this.audio.kv : tf.tidy(() => this.audio.kv.map((kv) => gatherKeyValue(kv, clips)));
    previous.forEach((kv, i) => disposeUnshared(kv, this.audio.kv[i]));
  }

  /**
   * Logits [row][position] (one Float32Array of vocabulary size each) for rows of equal length that
   * extend what the cache holds.
   */
  async logits(rows: number[][], req: LogitsRequest = {}): Promise<Float32Array[][]> {
    const len = rows[0].length;
    if (rows.some((r) => r.length !== len)) throw new Error('DecoderSession: rows must have equal lengths');
    const start = this.cache.offset;
    if (len <= start) throw new Error(`DecoderSession: rows of ${len} tokens add nothing to the ${start} cached`);
    if (start > 0) {
      const sources = req.sources ?? rows.map((_, i) => i);
      if (sources.length !== rows.length) throw new Error('DecoderSession: one source per row');
      if (sources.some((s, i) => s !== i) || sources.length !== this.rowClips.length) {
        reorderCache(this.cache, sources);
        const clips = sources.map((s) => this.rowClips[s]);
        if (clips.some((c, i) => c !== this.rowClips[i]) || clips.length !== this.rowClips.length) this.setCross(clips);
        this.rowClips = clips;
      }
    } else if (rows.length !== this.rowClips.length) {
      throw new Error(`DecoderSession: ${rows.length} rows for ${this.rowClips.length} clips`);
    }
    const positions = req.positions ?? [len - 1];
    if (positions.some((p) => p < start || p >= len)) {
      throw new Error(`DecoderSession: positions ${positions} outside the new tokens ${start}..${len - 1}`);
    }
    const fresh = rows.map((r) => r.slice(start));
    const forward = () => {
      const input = tf.tensor2d(fresh, [rows.length, len - start], 'int32');
      const hidden = this.audio.model.decoder.step(input, this.cache);
      input.dispose();
      const out = tf.tidy(() => {
        const picked = positions.length === len - start && positions.every((p, i) => p === start + i)
          ? hidden
          : tf.concat(positions.map((p) => tf.slice(hidden, [0, p - start, 0], [-1, 1, -1])), 1) as tf.Tensor3D;
        return this.audio.model.logits(picked);
      });
      hidden.dispose();
      return out;
    };
    const logits = this.rough ? roughProducts(forward) : forward();
    const data = (await logits.data()) as Float32Array;
    logits.dispose();
    const v = data.length / (rows.length * positions.length);
    // Views, not copies: the array is this call's own (filters may write into it).
    return rows.map((_, i) => positions.map((_, j) => data.subarray((i * positions.length + j) * v, (i * positions.length + j + 1) * v)));
  }

  /** Keeps only the first `length` tokens of every row. */
  truncate(length: number): void {
    truncateCache(this.cache, length);
  }

  dispose(): void {
    this.cache.self.forEach(disposeKeyValue);
    this.cache.cross.forEach((kv, i) => disposeUnshared(kv, this.audio.kv[i]));
    this.cache.self = [];
    this.cache.cross = [];
  }
}
