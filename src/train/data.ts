/**
 * What Seq2SeqTrainer reads: datasets of prepared examples (`prepareDataset`'s rows), in memory or
 * streamed, cut into the optimizer steps of an epoch. In memory: a seeded shuffle per epoch and
 * HF's LengthGroupedSampler (groupByLength); streamed: the dataset's own order (shuffle it with
 * `IterableAudioDataset.shuffle`; the trainer calls `setEpoch` so each epoch draws anew).
 * Batches are padded by the collator (src/data/collator.ts), not here.
 */
import { permutation } from '../data/split';
import { AudioDataset } from '../data/dataset';
import { IterableAudioDataset } from '../data/stream';
import type { PreparedRow } from '../data/types';

/** A dataset the trainer accepts: rows in an array, a prepared AudioDataset, or a prepared stream. */
export type Seq2SeqDataset =
  | readonly PreparedRow[]
  | AudioDataset<PreparedRow>
  | IterableAudioDataset<PreparedRow>;

/** The rows of an in-memory dataset; undefined for a stream. */
export function rowsOf(ds: Seq2SeqDataset): readonly PreparedRow[] | undefined {
  if (ds instanceof IterableAudioDataset) return undefined;
  return ds instanceof AudioDataset ? ds.rows : ds;
}

/** The rows of any dataset, in its order (one pass; streams are read as they go). */
export async function* iterateRows(ds: Seq2SeqDataset): AsyncGenerator<PreparedRow> {
  const rows = rowsOf(ds);
  if (rows) for (const r of rows) yield r;
  else for await (const r of (ds as IterableAudioDataset<PreparedRow>).rows()) yield r;
}

/** Consecutive chunks of `size` from an async sequence (the last one may be shorter). */
export async function* chunks<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let chunk: T[] = [];
  for await (const it of items) {
    chunk.push(it);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length) yield chunk;
}

/**
 * The batches (index lists) of epoch `epoch`: a shuffle seeded by (seed, epoch), so a resumed run
 * sees the same order; with groupByLength, windows of 50 batches are sorted by label length
 * (longest first, like HF) so batches hold similar lengths.
 */
export function epochBatches(lengths: number[], batchSize: number, seed: number, epoch: number, groupByLength: boolean, shuffle = true): number[][] {
  const idx = shuffle ? permutation(lengths.length, `shuffle|${seed}|${epoch}`) : lengths.map((_, i) => i);
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

export interface EpochOptions {
  batchSize: number;
  /** Micro-batches per optimizer step (gradientAccumulationSteps). */
  accumulation: number;
  seed: number;
  epoch: number;
  groupByLength: boolean;
  /** Optimizer steps of this epoch already done (a resumed run skips them). */
  skip: number;
}

/** One optimizer step's micro-batches, and whether it is the epoch's last step. */
export interface StepGroup {
  microBatches: PreparedRow[][];
  last: boolean;
}

/** The optimizer steps of one epoch, after the first `skip`. */
export async function* epochSteps(ds: Seq2SeqDataset, o: EpochOptions): AsyncGenerator<StepGroup> {
  const rows = rowsOf(ds);
  if (rows) {
    const batches = epochBatches(rows.map((f) => f.labels.length), o.batchSize, o.seed, o.epoch, o.groupByLength)
      .map((b) => b.map((i) => rows[i]));
    const steps = Math.ceil(batches.length / o.accumulation);
    for (let g = o.skip; g < steps; g++) {
      yield { microBatches: batches.slice(g * o.accumulation, (g + 1) * o.accumulation), last: g === steps - 1 };
    }
    return;
  }
  const stream = ds as IterableAudioDataset<PreparedRow>;
  stream.setEpoch(o.epoch);
  // One step of look-ahead tells whether a step is the epoch's last.
  let pending: PreparedRow[][] | undefined;
  let index = 0; // of `pending` in the epoch
  for await (const group of chunks(chunks(stream.rows(), o.batchSize), o.accumulation)) {
    if (pending) {
      if (index >= o.skip) yield { microBatches: pending, last: false };
      index++;
    }
    pending = group;
  }
  if (pending && index >= o.skip) yield { microBatches: pending, last: true };
}

/** A stack of per-example arrays, as the values and shape of a [B, ., .] tensor. */
export interface Rows {
  values: Float32Array;
  shape: [number, number, number];
}
