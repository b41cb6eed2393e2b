/**
 * Token cross-entropy for labels padded with -100 (ignored), averaged over real tokens, as
 * transformers' CrossEntropyLoss(ignore_index=-100).
 */
import * as tf from '@tensorflow/tfjs';
import { tokenNll as backendTokenNll } from '../backend';
import { IGNORE_INDEX } from '../data/collator';

export { IGNORE_INDEX };

/** logits [B, T, V], labels [B, T] (int, -100 = ignore) -> scalar mean loss. */
export function crossEntropyLoss(logits: tf.Tensor3D, labels: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [b, t, v] = logits.shape;
    const flat = labels.reshape([b * t]);
    const mask = tf.cast(tf.notEqual(flat, IGNORE_INDEX), 'float32');
    const safe = tf.cast(tf.mul(tf.cast(flat, 'float32'), mask), 'int32'); // -100 -> 0, masked anyway
    const [x, ids] = [logits.reshape([b * t, v]) as tf.Tensor2D, safe as tf.Tensor1D];
    const nll = backendTokenNll(x, ids) ?? tokenNll(x, ids);
    return tf.div(tf.sum(tf.mul(nll, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
  });
}

/**
 * Row sums of x [N, V] as sums of sums over blocks of about sqrt(V) columns (a divisor of V, so a
 * reshape, no copy): one float32 sum over the 51865 terms of a row drifts by up to 1e-4, the size
 * of the loss itself late in training; blocks keep it near float32 rounding. [N, 1].
 */
function rowSums(x: tf.Tensor2D): tf.Tensor2D {
  const [n, v] = x.shape;
  let block = Math.floor(Math.sqrt(v));
  while (v % block) block--;
  if (block === 1) return tf.sum(x, 1, true);
  return tf.sum(tf.sum(tf.reshape(x, [n, v / block, block]), 2), 1, true);
}

/**
 * -log softmax(x)[label] per row of x [N, V], with its gradient written out:
 * d/dx = softmax(x) - onehot(label). Autodiff of logSoftmax * oneHot makes about 14 passes over
 * the [N, V] logits (the biggest tensor of a training step); this makes 8. The label logit is
 * gathered, and the onehot term scattered, by native kernels (gather has no gradient kernel on
 * wasm, but here none is needed).
 */
function tokenNll(x: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  const [n, v] = x.shape;
  const f = tf.customGrad(((logits: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const m = tf.max(logits, 1, true);
    const e = tf.exp(tf.sub(logits, m));
    const s = rowSums(e as tf.Tensor2D);
    const rows = tf.range(0, n, 1, 'int32');
    const picked = tf.gather(tf.reshape(logits, [n * v]), tf.add(tf.mul(rows, tf.scalar(v, 'int32')), labels));
    save([e, s, tf.stack([rows, labels], 1)]);
    return {
      value: tf.sub(tf.reshape(tf.add(tf.log(s), m), [n]), picked),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [exps, sums, at] = saved;
        const g = tf.reshape(dy, [n, 1]);
        return tf.sub(tf.mul(exps, tf.div(g, sums)), tf.scatterND(at, dy, [n, v]));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as tf.Tensor1D;
}
