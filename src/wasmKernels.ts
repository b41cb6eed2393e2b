/**
 * Two fixes that make training on tfjs-wasm practical; same values, less time and memory.
 *
 * 1. Identity without a copy. While a gradient tape records, tfjs clones (Identity) every tensor
 *    an op saves for its backward pass, and wasm's Identity copies the data: each step copied the
 *    frozen weights it touched (a 76 MB gather of the embedding alone). Here Identity shares the
 *    data and counts a reference, as the cpu backend and wasm's own Reshape do; wasm kernels
 *    never write into their inputs, so sharing is safe.
 *
 * 2. A matMul gradient. tfjs differentiates C = A B with transposed products
 * (dA = dC B^T, dB = A^T dC), and wasm runs a matMul with transposeA/transposeB about 10x slower
 * than a plain one (measured here: 240x384 by 384x384, 53 ms vs 5.7 ms; the logits backward,
 * 240x51865 by 51865x384, 7.3 s vs 0.57 s). Transposing explicitly first is cheap, so this gradient
 * does exactly that. Same values, same laziness (each input's gradient only when it is needed).
 */
import * as tf from '@tensorflow/tfjs';

/** Swaps the last two axes. */
function t(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  perm.push(...perm.splice(-2).reverse());
  return tf.transpose(x, perm);
}

/** op(a) op(b) with the transposes done up front. */
function mm(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor {
  return tf.matMul(transposeA ? t(a) : a, transposeB ? t(b) : b);
}

export function registerWasmKernelFixes(): void {
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({
    kernelName: 'Identity',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const x = inputs.x as tf.TensorInfo;
      (backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });

  tf.registerGradient({
    kernelName: 'BatchMatMul',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved;
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const g = dy as tf.Tensor;
      if (!transposeA && !transposeB) return { a: () => mm(g, b, false, true), b: () => mm(a, g, true, false) };
      if (!transposeA && transposeB) return { a: () => mm(g, b, false, false), b: () => mm(g, a, true, false) };
      if (transposeA && !transposeB) return { a: () => mm(b, g, false, true), b: () => mm(a, g, false, false) };
      return { a: () => mm(b, g, true, true), b: () => mm(g, a, true, true) };
    },
  });
}
