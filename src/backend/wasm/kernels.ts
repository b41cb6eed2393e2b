/**
 * Fixes that make training on tfjs-wasm practical; same values, less time and memory.
 *
 * 1. Identity without a copy. While a gradient tape records, tfjs clones (Identity) every tensor
 *    an op saves for its backward pass, and wasm's Identity copies the data: each step copied the
 *    frozen weights it touched (a 76 MB gather of the embedding alone). Here Identity shares the
 *    data and counts a reference, as the cpu backend and wasm's own Reshape do; wasm kernels
 *    never write into their inputs, so sharing is safe.
 *
 * 2. A matMul gradient. tfjs differentiates C = A B with transposed products
 *    (dA = dC B^T, dB = A^T dC), and wasm runs a matMul with transposeA/transposeB an order of
 *    magnitude slower than a plain one (BENCHMARKS.md). Transposing explicitly first is cheap, so
 *    this gradient does exactly that, in the order that moves the least data (see `mm`). Same
 *    values, same laziness (each input's gradient only when it is needed).
 *
 * 3. Kernels in wasm SIMD (simd.ts): Transpose for the swap of the last two axes (cache-friendly
 *    tiles for the [1500, 1500] attention maps a training step transposes, same bits), and fused passes
 *    (softmax backward, GELU, LayerNorm) that ops.ts reaches through `fused`.
 *
 * 4. Slice, SplitV and Concat with `copyWithin`. wasm's versions copy with `TypedArray.set`
 *    between two views of its own heap, which V8 runs several times slower than `copyWithin` on
 *    one view (per head, one `set` per row). Splitting rows and heads (and
 *    concatenating their gradients) is most of the bookkeeping of an attention step.
 */
import * as tf from '@tensorflow/tfjs';
import { loadSimdKernels, SimdKernels } from './simd';

/** Swaps the last two axes. */
function t(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  perm.push(...perm.splice(-2).reverse());
  return tf.transpose(x, perm);
}

let directTransposes = false;

/**
 * Products with transposed operands as they are, no transposes first: for a BatchMatMul that
 * takes them at no cost (../native.ts, oneDNN's sgemm).
 */
export function setDirectTransposedProducts(on: boolean): void {
  directTransposes = on;
}

/**
 * XNNPACK packs a product's right operand before multiplying (cached for a tensor that lives on,
 * like a frozen weight, but gradients are new every step). Packing costs about 3x a transpose of
 * the same matrix (BENCHMARKS.md, "Why the wasm kernels").
 */
const PACK_COST = 3;

/**
 * op(a) op(b) with the transposes done up front, or as (op(b)^T op(a)^T)^T, whichever moves fewer
 * elements (transposes plus PACK_COST x the right operand): a LoRA gradient x^T dy transposes x
 * [S, in] rather than pack it; an attention key gradient q^T dS transposes the [S, S] map dS once
 * rather than pack it.
 */
function mm(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor {
  if (directTransposes) return tf.matMul(a, b, transposeA, transposeB);
  const batch = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const rows = a.shape[a.rank - (transposeA ? 1 : 2)];
  const cols = b.shape[b.rank - (transposeB ? 2 : 1)];
  const direct = (transposeA ? a.size : 0) + (transposeB ? b.size : 0) + PACK_COST * b.size;
  const swapped = (transposeA ? 0 : a.size) + (transposeB ? 0 : b.size) + PACK_COST * a.size + batch * rows * cols;
  if (direct <= swapped) return tf.matMul(transposeA ? t(a) : a, transposeB ? t(b) : b);
  return t(tf.matMul(transposeB ? b : t(b), transposeA ? a : t(a)));
}

interface WasmBackend {
  wasm: { HEAPU8: Uint8Array; wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

/** Where tensor `t`'s data starts in the wasm heap, in bytes. */
function heapOffset(backend: WasmBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** x[begin : begin + size] as a new tensor: one copyWithin per contiguous run of the heap. */
function copySlice(backend: WasmBackend, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  if (size.some((n) => n === 0)) return out;
  const bytes = x.dtype === 'bool' ? 1 : 4;
  const heap = backend.wasm.HEAPU8; // after makeOutput, which may grow the heap
  const src = heapOffset(backend, x);
  let dst = heapOffset(backend, out);
  const rank = x.shape.length;
  const strides = x.shape.map((_, i) => x.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  // Axes after k are taken whole, so each run covers size[k] * strides[k] contiguous elements.
  let k = rank - 1;
  while (k > 0 && size[k] === x.shape[k]) k--;
  const run = size[k] * strides[k] * bytes;
  const idx = new Array(k).fill(0);
  for (;;) {
    let offset = begin[k] * strides[k];
    for (let j = 0; j < k; j++) offset += (begin[j] + idx[j]) * strides[j];
    heap.copyWithin(dst, src + offset * bytes, src + offset * bytes + run);
    dst += run;
    let j = k - 1;
    while (j >= 0 && ++idx[j] === size[j]) idx[j--] = 0;
    if (j < 0) return out;
  }
}

/**
 * Copies `rows` runs of `n` float32 values from src (row stride srcStride, starting at srcOffset)
 * into dst (row stride dstStride, starting at dstOffset), IN PLACE in dst's memory: only for
 * tensors a caller owns and mutates on purpose (a decoder cache that grows by a few positions per
 * step), never for tensors tfjs may have cached derived data of.
 */
export function copyInto(dst: tf.Tensor, dstStride: number, dstOffset: number,
  src: tf.Tensor, srcStride: number, srcOffset: number, rows: number, n: number): void {
  const backend = tf.backend() as unknown as WasmBackend;
  const heap = backend.wasm.HEAPU8;
  const d = heapOffset(backend, dst);
  const s = heapOffset(backend, src);
  if (n === 1) {
    // One position into transposed keys: a value per row, not a copyWithin call per value.
    const f = new Float32Array(heap.buffer);
    for (let i = 0; i < rows; i++) f[d / 4 + i * dstStride + dstOffset] = f[s / 4 + i * srcStride + srcOffset];
    return;
  }
  for (let i = 0; i < rows; i++) {
    const from = s + (i * srcStride + srcOffset) * 4;
    heap.copyWithin(d + (i * dstStride + dstOffset) * 4, from, from + n * 4);
  }
}

/** Replaces wasm's kernel `name`; the new one gets tfjs's own to fall back on. */
function replaceKernel(name: string, kernelFunc: (args: KernelArgs, tfjs: tf.KernelFunc) => ReturnType<tf.KernelFunc>): void {
  const tfjs = tf.getKernel(name, 'wasm')!.kernelFunc;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: (args) => kernelFunc(args, tfjs) });
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * x with its last two axes swapped (perm [0, ..., k+1, k]), one 2-D transpose per leading index;
 * undefined for other permutations and for values that are not 32-bit.
 */
function transposeLastTwo(backend: WasmBackend, simd: SimdKernels, x: tf.TensorInfo, perm: number[]): tf.TensorInfo | undefined {
  const rank = x.shape.length;
  if ((x.dtype !== 'float32' && x.dtype !== 'int32') || rank < 2) return undefined;
  if (perm[rank - 2] !== rank - 1 || perm[rank - 1] !== rank - 2 || perm.slice(0, -2).some((p, i) => p !== i)) return undefined;
  const [rows, cols] = x.shape.slice(-2);
  const out = backend.makeOutput(perm.map((p) => x.shape[p]), x.dtype);
  const src = heapOffset(backend, x);
  const dst = heapOffset(backend, out);
  const bytes = rows * cols * 4;
  const batch = x.shape.slice(0, -2).reduce((a, b) => a * b, 1);
  for (let b = 0; b < batch; b++) simd.transpose2d(src + b * bytes, dst + b * bytes, rows, cols);
  return out;
}

/** The fused passes of simd.ts (registered for wasm only). */
export type FusedKernel = 'WhisperSoftmaxGrad' | 'WhisperGelu' | 'WhisperLayerNorm' | 'WhisperLayerNormGrad' | 'WhisperAttend'
  | 'WhisperLinear';

/** The fused kernels that step along each row of their last axis (the others along all values). */
const ROW_WISE = new Set<FusedKernel>(['WhisperSoftmaxGrad', 'WhisperLayerNorm', 'WhisperLayerNormGrad']);

/**
 * Runs fused kernel `name` on `inputs` (float32) if the active backend has it and the sizes suit
 * it (at least 4 values per row: the kernels step 4 at a time), else undefined so that the caller
 * computes the same thing with the plain formula of ../ops.ts:
 * - WhisperSoftmaxGrad {p, dp, r}: p * (dp - r), p and dp [rows, cols], r [rows, 1];
 * - WhisperGelu {x} {derivative}: [GELU(x)], or with derivative 1 [GELU(x), GELU'(x)];
 * - WhisperLayerNorm {x, w, b} {eps}: [LayerNorm(x), n, r] over the last axis (n normalized, r
 *   [..., 1] = 1 / sigma);
 * - WhisperLayerNormGrad {dy, w, n, r}: LayerNorm's input gradient;
 * - WhisperAttend {q, k0, v0, k1, v1, ...} {heads, length, causal}: [out, scratch], the attention
 *   of q [B, T, d]'s row b to the first `length` positions of kb [d, cap] and vb [cap, d] (simd.ts
 *   attend, one call per row); no gradient, for generation;
 * - WhisperLinear {x, w, b?, res?} {scale}: (x w^T + b) * scale + res for x [..., n] (any rank), w [m, n]
 *   (simd.ts linearRows); no gradient, for generation.
 */
export function fused(name: FusedKernel, inputs: Record<string, tf.Tensor>, attrs: Record<string, number> = {}): tf.Tensor[] | undefined {
  const first = Object.values(inputs)[0];
  const perRow = ROW_WISE.has(name) ? first.shape[first.rank - 1] : first.size;
  if (perRow < 4 || !tf.getKernel(name, tf.getBackend())) return undefined;
  const out = tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

/** Registers wasm kernel `name`, whose float32 outputs have the shapes `shapes` gives for its first input's (and its attributes). */
function registerFused(name: FusedKernel, order: string[], shapes: (first: number[], attrs: Record<string, number>) => number[][],
  run: (at: (t: tf.TensorInfo) => number, inputs: tf.TensorInfo[], out: tf.TensorInfo[], attrs: Record<string, number>) => void): void {
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: ({ inputs, backend, attrs }) => {
    const infos = order.map((k) => inputs[k] as tf.TensorInfo);
    const wasm = backend as unknown as WasmBackend;
    const named = attrs as unknown as Record<string, number>;
    const out = shapes(infos[0].shape, named).map((shape) => wasm.makeOutput(shape, 'float32'));
    run((t) => heapOffset(wasm, t), infos, out, named);
    return out.length === 1 ? out[0] : out;
  } });
}

export async function registerWasmKernelFixes(): Promise<void> {
  const memory = (tf.backend() as unknown as WasmBackend).wasm;
  const simd = await loadSimdKernels(memory.wasmMemory ?? memory.asm!.memory!);
  replaceKernel('Transpose', (args, tfjs) => {
    const perm = (args.attrs as unknown as { perm: number[] }).perm;
    return transposeLastTwo(args.backend as unknown as WasmBackend, simd, args.inputs.x as tf.TensorInfo, perm) ?? tfjs(args);
  });
  const size = (t: tf.TensorInfo) => tf.util.sizeFromShape(t.shape);
  const rowsOf = (t: tf.TensorInfo) => size(t) / t.shape[t.shape.length - 1];
  const one = (shape: number[]) => [shape];
  registerFused('WhisperSoftmaxGrad', ['p', 'dp', 'r'], one, (at, [p, dp, r], [out]) =>
    simd.softmaxGrad(at(p), at(dp), at(r), at(out), p.shape[0], p.shape[1]));
  registerFused('WhisperGelu', ['x'], (shape, { derivative }) => (derivative ? [shape, shape] : [shape]), (at, [x], [value, deriv]) =>
    simd.gelu(at(x), at(value), deriv ? at(deriv) : 0, size(x)));
  registerFused('WhisperLayerNorm', ['x', 'w', 'b'], (shape) => [shape, shape, [...shape.slice(0, -1), 1]], (at, [x, w, b], [out, n, r], { eps }) =>
    simd.layerNorm(at(x), at(w), at(b), eps, at(out), at(n), at(r), rowsOf(x), x.shape[x.shape.length - 1]));
  registerFused('WhisperLayerNormGrad', ['dy', 'w', 'n', 'r'], one, (at, [dy, w, n, r], [out]) =>
    simd.layerNormGrad(at(dy), at(w), at(n), at(r), at(out), rowsOf(dy), dy.shape[dy.shape.length - 1]));
  tf.registerKernel({ kernelName: 'WhisperLinear', backendName: 'wasm', kernelFunc: ({ inputs, backend, attrs }) => {
    const [x, w, b, res] = ['x', 'w', 'b', 'res'].map((k) => inputs[k] as tf.TensorInfo | undefined);
    const wasm = backend as unknown as WasmBackend;
    const n = x!.shape[x!.shape.length - 1];
    const rows = size(x!) / n;
    const m = w!.shape[0];
    const out = wasm.makeOutput([...x!.shape.slice(0, -1), m], 'float32');
    const at = (t: tf.TensorInfo | undefined) => (t ? heapOffset(wasm, t) : 0);
    simd.linearRows(at(x), at(w), at(b), at(res), at(out), rows, n, m, (attrs as unknown as { scale: number }).scale);
    return out;
  } });
  tf.registerKernel({ kernelName: 'WhisperAttend', backendName: 'wasm', kernelFunc: ({ inputs, backend, attrs }) => {
    const q = inputs.q as tf.TensorInfo;
    const { heads, length, causal } = attrs as unknown as { heads: number; length: number; causal: number };
    const wasm = backend as unknown as WasmBackend;
    const [batch, t, d] = q.shape;
    const out = wasm.makeOutput(q.shape, 'float32');
    const scratch = wasm.makeOutput([t, length], 'float32');
    const at = (t: tf.TensorInfo) => heapOffset(wasm, t);
    for (let b = 0; b < batch; b++) {
      const kT = inputs[`k${b}`] as tf.TensorInfo;
      simd.attend(at(q) + b * t * d * 4, at(kT), at(inputs[`v${b}`] as tf.TensorInfo), at(out) + b * t * d * 4, at(scratch),
        t, d, heads, kT.shape[1], length, causal);
    }
    return [out, scratch];
  } });

  replaceKernel('Identity', ({ inputs, backend }) => {
    const x = inputs.x as tf.TensorInfo;
    (backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });

  // Strings have no heap memory (and scalars nothing to slice): they keep tfjs's kernels.
  replaceKernel('Slice', (args, tfjs) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string' || x.shape.length === 0) return tfjs(args);
    const a = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, a.begin, a.size);
    return copySlice(args.backend as unknown as WasmBackend, x, begin, size);
  });

  replaceKernel('SplitV', (args, tfjs) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return tfjs(args);
    const a = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const axis = tf.util.parseAxisParam(a.axis, x.shape)[0];
    const begin = x.shape.map(() => 0);
    return tf.backend_util.prepareSplitSize(x as tf.Tensor, a.numOrSizeSplits, axis).map((n) => {
      const size = [...x.shape];
      size[axis] = n;
      const piece = copySlice(args.backend as unknown as WasmBackend, x, begin, size);
      begin[axis] += n;
      return piece;
    });
  });

  replaceKernel('Concat', (args, tfjs) => {
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
    const parts = inputs.filter((x) => count(x.shape) > 0);
    // Strings, and the one-input and empty cases (no copy at all), stay with tfjs.
    if (inputs[0].dtype === 'string' || parts.length < 2) return tfjs(args);
    const backend = args.backend as unknown as WasmBackend;
    const axis = tf.util.parseAxisParam((args.attrs as unknown as { axis: number }).axis, inputs[0].shape)[0];
    const out = backend.makeOutput(tf.backend_util.computeOutShape(parts.map((x) => x.shape), axis), parts[0].dtype);
    const bytes = parts[0].dtype === 'bool' ? 1 : 4;
    const heap = backend.wasm.HEAPU8;
    const runs = parts.map((x) => count(x.shape.slice(axis)) * bytes);
    const srcs = parts.map((x) => heapOffset(backend, x));
    let dst = heapOffset(backend, out);
    for (let b = 0, outer = count(parts[0].shape.slice(0, axis)); b < outer; b++) {
      parts.forEach((_, i) => {
        heap.copyWithin(dst, srcs[i] + b * runs[i], srcs[i] + (b + 1) * runs[i]);
        dst += runs[i];
      });
    }
    return out;
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
