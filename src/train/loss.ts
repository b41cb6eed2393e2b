/**
 * Token cross-entropy for labels padded with -100 (ignored), averaged over real tokens, as
 * transformers' CrossEntropyLoss(ignore_index=-100). Built from oneHot * logSoftmax: the
 * gather-based form has no gradient kernel on the wasm backend.
 */
import * as tf from '@tensorflow/tfjs';

export const IGNORE_INDEX = -100;

/** logits [B, T, V], labels [B, T] (int, -100 = ignore) -> scalar mean loss. */
export function crossEntropyLoss(logits: tf.Tensor3D, labels: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [b, t, v] = logits.shape;
    const flat = labels.reshape([b * t]);
    const mask = tf.cast(tf.notEqual(flat, IGNORE_INDEX), 'float32');
    const safe = tf.cast(tf.mul(tf.cast(flat, 'float32'), mask), 'int32'); // -100 -> 0, masked anyway
    const logp = tf.logSoftmax(logits.reshape([b * t, v]));
    // oneHot stays int32: with dtype 'float32' tfjs-wasm 4.22 returns zeros (the loss became 0).
    const nll = tf.neg(tf.sum(tf.mul(tf.oneHot(safe, v), logp), -1));
    return tf.div(tf.sum(tf.mul(nll, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
  });
}
