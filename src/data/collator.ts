/**
 * `DataCollatorSpeechSeq2SeqWithPadding`, as in the Hugging Face Whisper fine-tuning guide, and the
 * one collator of this library (Seq2SeqTrainer batches training and evaluation with it):
 * - input features are stacked into [B, nMels, frames] (zero-padded to the longest, which for
 *   Whisper is always 3000 frames);
 * - labels are padded with -100 so the loss ignores padding;
 * - if every row starts with the decoder start token it is dropped, because the model prepends
 *   it again when shifting labels right (`if (labels[:, 0] == decoder_start_token_id).all()`);
 * - decoderInputIds = labels shifted right behind the start token, -100 replaced by the pad token
 *   (what the model's `shift_tokens_right` builds from the labels).
 * The caller disposes the returned tensors.
 */
import { tf } from '../backend';
import type { PreparedRow } from './types';


export interface CollatedBatch {
  inputFeatures: tf.Tensor3D;
  labels: tf.Tensor2D;
  decoderInputIds: tf.Tensor2D;
}

/** The label the loss ignores (PyTorch's CrossEntropyLoss ignore_index): padding, and nothing else. */
export const IGNORE_INDEX = -100;

export interface CollatorOptions {
  /** <|startoftranscript|> (50258 for multilingual Whisper). */
  decoderStartTokenId: number;
  /** Token written where labels are -100 in decoderInputIds (Whisper: <|endoftext|>, 50257). */
  padTokenId: number;
  /** Mel bins per frame (80 for whisper-tiny). */
  nMels?: number;
}

/** Plain-array result (what the tensors hold), for tests and for code that builds its own tensors. */
export interface CollatedArrays {
  batchSize: number;
  nMels: number;
  nFrames: number;
  inputFeatures: Float32Array;
  labelLength: number;
  labels: Int32Array;
  decoderInputIds: Int32Array;
}

export class DataCollatorSpeechSeq2SeqWithPadding {
  readonly decoderStartTokenId: number;
  readonly padTokenId: number;
  readonly nMels: number;

  constructor(options: CollatorOptions) {
    this.decoderStartTokenId = options.decoderStartTokenId;
    this.padTokenId = options.padTokenId;
    this.nMels = options.nMels ?? 80;
  }

  collateArrays(features: readonly PreparedRow[]): CollatedArrays {
    if (!features.length) throw new Error('DataCollatorSpeechSeq2SeqWithPadding: empty batch');
    const B = features.length;
    const frames = features.map((f, i) => {
      if (f.inputFeatures.length % this.nMels !== 0) {
        throw new Error(`collator: row ${i} inputFeatures has ${f.inputFeatures.length} values, not a multiple of nMels=${this.nMels}`);
      }
      return f.inputFeatures.length / this.nMels;
    });
    const T = Math.max(...frames);
    const inputFeatures = new Float32Array(B * this.nMels * T); // zero padding, as HF pads features
    features.forEach((f, b) => {
      const t = frames[b];
      for (let m = 0; m < this.nMels; m++) {
        inputFeatures.set(f.inputFeatures.subarray(m * t, (m + 1) * t), (b * this.nMels + m) * T);
      }
    });
    const dropStart = features.every((f) => f.labels.length > 0 && f.labels[0] === this.decoderStartTokenId);
    const seqs = features.map((f) => Array.from(f.labels).slice(dropStart ? 1 : 0));
    const L = Math.max(...seqs.map((s) => s.length));
    const labels = new Int32Array(B * L).fill(IGNORE_INDEX);
    const decoderInputIds = new Int32Array(B * L).fill(this.padTokenId);
    seqs.forEach((s, b) => {
      labels.set(s, b * L);
      decoderInputIds[b * L] = this.decoderStartTokenId;
      for (let j = 1; j < L; j++) {
        const prev = j - 1 < s.length ? s[j - 1] : IGNORE_INDEX;
        decoderInputIds[b * L + j] = prev === IGNORE_INDEX ? this.padTokenId : prev;
      }
    });
    return { batchSize: B, nMels: this.nMels, nFrames: T, inputFeatures, labelLength: L, labels, decoderInputIds };
  }

  /** The batch as tensors: inputFeatures [B, nMels, frames] float32, labels / decoderInputIds [B, T] int32. */
  call(features: readonly PreparedRow[]): CollatedBatch {
    const a = this.collateArrays(features);
    return {
      inputFeatures: tf.tensor3d(a.inputFeatures, [a.batchSize, a.nMels, a.nFrames], 'float32'),
      labels: tf.tensor2d(a.labels, [a.batchSize, a.labelLength], 'int32'),
      decoderInputIds: tf.tensor2d(a.decoderInputIds, [a.batchSize, a.labelLength], 'int32'),
    };
  }
}
