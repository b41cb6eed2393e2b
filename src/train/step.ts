/**
 * One micro-batch's loss and gradients: the same function runs in the trainer's thread and in
 * data-parallel worker threads (dataParallel.ts), so both give the same numbers.
 */
import * as tf from '@tensorflow/tfjs';
import type { DataCollatorSpeechSeq2SeqWithPadding } from '../data/collator';
import type { Rows } from './data';
import type { PreparedRow } from '../data/types';
import { crossEntropyLoss, IGNORE_INDEX } from './loss';
import type { TrainableModel } from './model';

/** A micro-batch as plain arrays (what a worker thread receives). */
export interface MicroBatch {
  /** Log-Mel features [B, mels, frames], or cached encoder states [B, frames, d]. */
  input: Float32Array;
  inputShape: [number, number, number];
  inputIsEncoderStates: boolean;
  /** Decoder input ids [B, T]. */
  ids: Int32Array;
  idsShape: [number, number];
  /** Labelled positions (flat b * T + t, label != -100): logits are computed only there. */
  positions: number[];
  /** Their labels. */
  labels: Int32Array;
}

/**
 * The labelled positions of padded batch labels (flat b * T + t, label != -100) and their labels:
 * the model computes logits only there (ForwardOptions.positions), the same loss as over the whole
 * padded batch with the padding ignored.
 */
export function labelledPositions(labels: Int32Array): { positions: number[]; labels: Int32Array } {
  const positions: number[] = [];
  labels.forEach((l, i) => l !== IGNORE_INDEX && positions.push(i));
  return { positions, labels: Int32Array.from(positions, (i) => labels[i]) };
}

/** Collates `rows` into a MicroBatch; `encoderStates` are their cached encoder outputs, if any. */
export function microBatch(rows: PreparedRow[], collator: DataCollatorSpeechSeq2SeqWithPadding, encoderStates: Rows | null): MicroBatch {
  const b = collator.collateArrays(rows);
  const input = encoderStates ?? { values: b.inputFeatures, shape: [b.batchSize, b.nMels, b.nFrames] as [number, number, number] };
  const { positions, labels } = labelledPositions(b.labels);
  return {
    input: input.values, inputShape: input.shape, inputIsEncoderStates: encoderStates !== null,
    ids: b.decoderInputIds, idsShape: [b.batchSize, b.labelLength], positions, labels,
  };
}

/**
 * Cross-entropy of `mb` divided by `scale` (the step's labelled tokens over this micro-batch's) and its
 * gradients w.r.t. the trained variables, by name. Dropout draws from the model's current seed
 * (reseedDropout).
 */
export async function lossAndGradients(model: Pick<TrainableModel, 'namedTrainableVariables' | 'forward'>, mb: MicroBatch, scale: number):
  Promise<{ loss: number; grads: Map<string, tf.Tensor> }> {
  const vars = model.namedTrainableVariables();
  const key = new Map([...vars].map(([k, v]) => [v.name, k]));
  const input = tf.tensor3d(mb.input, mb.inputShape);
  const ids = tf.tensor2d(mb.ids, mb.idsShape, 'int32');
  const labels = tf.tensor2d(mb.labels, [1, mb.labels.length], 'int32');
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.forward(mb.inputIsEncoderStates ? null : input, ids, {
      encoderHiddenStates: mb.inputIsEncoderStates ? input : undefined, training: true, positions: mb.positions });
    return tf.div(crossEntropyLoss(logits, labels), scale) as tf.Scalar;
  }, [...vars.values()]);
  const loss = (await value.data())[0]; // async: webgpu reads no other way
  tf.dispose([value, input, ids, labels]);
  return { loss, grads: new Map(Object.entries(grads).map(([n, g]) => [key.get(n)!, g])) };
}
