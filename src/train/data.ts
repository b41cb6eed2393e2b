/**
 * Batching for Seq2SeqTrainer: length-grouped, seeded shuffling and label padding (to the batch's
 * longest label only), the job of HF's LengthGroupedSampler + DataCollatorSpeechSeq2SeqWithPadding.
 */
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { IGNORE_INDEX } from './loss';

/** One training/eval example after feature extraction and tokenization. */
export interface Seq2SeqFeature {
  /** Log-Mel features [nMels * nFrames] row-major (nMels rows of nFrames), i.e. HF input_features. */
  inputFeatures: Float32Array;
  /**
   * Token ids as the Whisper tokenizer makes them: <|startoftranscript|><|lang|><|task|>
   * <|notimestamps|> text <|endoftext|>. A leading <|startoftranscript|> is dropped (HF collator).
   */
  labels: number[];
  /** Any id, for logs. */
  id?: string;
}

export interface Seq2SeqBatch {
  /** Indices into the dataset. */
  indices: number[];
  /** [B, T] decoder inputs: decoderStartTokenId, then labels shifted right. */
  decoderInputIds: number[][];
  /** [B, T] targets, -100 where padded. */
  labels: number[][];
}

/** Labels without the leading decoder start token (it is the first decoder input, never a target). */
export function targetsOf(labels: number[], decoderStartTokenId: number): number[] {
  return labels[0] === decoderStartTokenId ? labels.slice(1) : labels;
}

/** Pads the labels of `indices` into one batch: inputs [start, y0..y_{n-2}], targets [y0..y_{n-1}]. */
export function collate(data: Seq2SeqFeature[], indices: number[], decoderStartTokenId: number, padTokenId: number): Seq2SeqBatch {
  const targets = indices.map((i) => targetsOf(data[i].labels, decoderStartTokenId));
  const t = Math.max(...targets.map((l) => l.length));
  return {
    indices,
    decoderInputIds: targets.map((l) => {
      const x = [decoderStartTokenId, ...l.slice(0, -1)];
      while (x.length < t) x.push(padTokenId);
      return x;
    }),
    labels: targets.map((l) => [...l, ...new Array(t - l.length).fill(IGNORE_INDEX)]),
  };
}

/**
 * The batches (index lists) of epoch `epoch`: a shuffle seeded by (seed, epoch), so a resumed run
 * sees the same order; with groupByLength, windows of 50 batches are sorted by label length
 * (longest first, like HF) so batches hold similar lengths.
 */
export function epochBatches(lengths: number[], batchSize: number, seed: number, epoch: number, groupByLength: boolean, shuffle = true): number[][] {
  const idx = lengths.map((_, i) => i);
  if (shuffle) {
    const rng = seedrandom(`shuffle|${seed}|${epoch}`);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
  }
  if (groupByLength) {
    const mega = batchSize * 50;
    for (let s = 0; s < idx.length; s += mega) {
      const part = idx.slice(s, s + mega).sort((a, b) => lengths[b] - lengths[a]);
      idx.splice(s, part.length, ...part);
    }
  }
  const out: number[][] = [];
  for (let s = 0; s < idx.length; s += batchSize) out.push(idx.slice(s, s + batchSize));
  return out;
}

/** Stacks features of `indices` into [B, nMels, nFrames]. */
export function stackFeatures(data: Seq2SeqFeature[], indices: number[], nMels: number): tf.Tensor3D {
  const { values, shape } = featureRows(data, indices, nMels);
  return tf.tensor3d(values, shape);
}

/** The features of `indices` stacked into one [B, nMels, frames] buffer (checked for equal sizes). */
export function featureRows(data: Seq2SeqFeature[], indices: number[], nMels: number): Rows {
  const n = data[indices[0]].inputFeatures.length;
  if (n % nMels !== 0) throw new Error(`inputFeatures of example ${indices[0]} has ${n} values, not a multiple of ${nMels} mel bins`);
  const values = new Float32Array(indices.length * n);
  indices.forEach((i, r) => {
    const f = data[i].inputFeatures;
    if (f.length !== n) throw new Error(`inputFeatures of example ${i} (${data[i].id ?? ''}) has ${f.length} values, expected ${n}`);
    values.set(f, r * n);
  });
  return { values, shape: [indices.length, nMels, n / nMels] };
}

/** A stack of per-example arrays, as the values and shape of a [B, ., .] tensor. */
export interface Rows {
  values: Float32Array;
  shape: [number, number, number];
}
