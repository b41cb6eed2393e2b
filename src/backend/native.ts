/**
 * The heavy products on the CPU's own vector units (issue 25): a Node-API addon over
 * oneDNN (native/dnnl.cc, built by scripts/build-native.sh where g++ and libdnnl-dev are) runs
 * the wasm backend's float32 matrix products (the BatchMatMul kernel: every Linear, the attention
 * products, their gradients; Conv2D when it is the encoder's conv1d; `affine`, a Linear with its
 * bias, scaling and residual, as one matmul primitive) with AVX-512/FMA, which wasm SIMD cannot
 * reach, and then what dominates next: GELU and LayerNorm (wasm's formulas, the same bits), softmax,
 * a training loss's exp, the encoder's self-attention with every head in one call, and training's
 * attention in one call each way. It reads and writes
 * the tensors where they already live: the addon gets a Float32Array view on the wasm heap (a
 * SharedArrayBuffer in the threaded build) and float offsets into it, so nothing is copied.
 *
 * On by default where the addon is built and loads (select.ts); WHISPER_BACKEND=native requires it
 * (failing with the reason), WHISPER_BACKEND=wasm leaves wasm's own kernels; describeBackend says
 * which path runs and why. Model code is unchanged: the kernel swap and the op override
 * (`matMulT` and the BatchMatMul gradient without transposing first, since sgemm takes transposed
 * operands of many rows at no cost) all live here. A generation step's few-row Linears (the
 * vocabulary projection too) and attention run in the addon as well (native/decode.cc: the wasm
 * kernels' sums in the same order with AVX-512, so the same bits; float16 copies of weights whose
 * values are all float16, as in the checkpoints: exact, half the bytes), and a plain decoder's whole
 * step runs as one addon call (native/step.cc: those kernels in the model's order, same bits).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import {
  BackendOps, FrozenWeight, isTrainable, KeyValue, recording, registeredOps, registerOps, StepCache, StepDecoder, StepLinear,
} from './ops';
import { fused, setDirectTransposedProducts } from './wasm/kernels';
import { fewRows, FEW_QUERIES, FEW_ROWS, reserveKeyValue } from './wasm/ops';

/** The addon's functions (native/dnnl.cc). */
export interface NativeAddon {
  /** C = alpha op(A) op(B) + beta C, row-major; offsets and leading dimensions in floats. */
  sgemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Float32Array, aOffset: number, lda: number, b: Float32Array, bOffset: number, ldb: number,
    beta: number, c: Float32Array, cOffset: number, ldc: number): void;
  /**
   * C = (op(A) op(B) + bias) * scale + res through oneDNN's matmul primitive (made once per shape
   * and thread, and kept), every operand on `heap`; offsets and leading dimensions in floats,
   * biasOffset / resOffset -1 when absent.
   */
  matmul(heap: Float32Array, m: number, n: number, k: number, aOffset: number, lda: number, transA: number,
    bOffset: number, ldb: number, transB: number, cOffset: number, ldc: number, biasOffset: number,
    resOffset: number, ldres: number, scale: number): void;
  /** wasm's GELU (and its derivative when derivOffset >= 0) on `heap`, the same bits, in OpenMP threads with the CPU's widest vectors. */
  gelu(heap: Float32Array, xOffset: number, valueOffset: number, derivOffset: number, n: number): void;
  /** Softmax over each row of `rows` x `cols` on `heap` (exp by Cephes' polynomial; rows in threads when there are many values). */
  softmax(heap: Float32Array, xOffset: number, yOffset: number, rows: number, cols: number): void;
  /** exp of n values on `heap` (Cephes' polynomial, about 1 ulp; subnormal results as 0), in OpenMP threads. */
  exp(heap: Float32Array, xOffset: number, yOffset: number, n: number): void;
  /**
   * softmax(q kT + mask) v with every head in one call: q [T, d], kT [d, cap] (the first S columns
   * in use), v [cap, d], mask [T, S] (-1: none), out [T, d]; tasks of one head and a few queries in
   * OpenMP threads.
   */
  attendMany(heap: Float32Array, q: number, kT: number, v: number, mask: number, out: number, T: number, S: number,
    cap: number, d: number, heads: number): void;
  /** wasm's LayerNorm (the same bits): out, n [rows, d] and r [rows] of x [rows, d], rows in OpenMP threads. */
  layerNorm(heap: Float32Array, x: number, w: number, b: number, eps: number, out: number, n: number, r: number, rows: number, d: number): void;
  /**
   * Training's attention of one batch row, every head (OpenMP threads): softmax(q k^T + mask) into p
   * [heads, T, S] and p v into out (q, out [T, d], k, v [S, d]; mask -1 = none).
   */
  attendTrain?(heap: Float32Array, q: number, k: number, v: number, mask: number, out: number, p: number, T: number, S: number,
    d: number, heads: number): void;
  /** Its gradients: dq [T, d], dk and dv [S, d] from dout [T, d] and the forward's q, k, v, p, out. */
  attendTrainGrad?(heap: Float32Array, dout: number, q: number, k: number, v: number, p: number, out: number, dq: number, dk: number,
    dv: number, T: number, S: number, d: number, heads: number): void;
  /** out = a + b over n floats (OpenMP threads). */
  add?(heap: Float32Array, a: number, b: number, out: number, n: number): void;
  /** out row i = params row indices[i] (params [rows, cols], indices int32 [n]); false, copying nothing, when an index is outside [0, rows). */
  gatherRows?(heap: Float32Array, params: number, rows: number, cols: number, indices: number, n: number, out: number): boolean;
  /** A training loss: lse[i] = log sum exp x[i], nll[i] = lse[i] - x[i, labels[i]] for x [n, V], labels int32 (offsets in 4-byte units). */
  nll?(heap: Float32Array, x: number, labels: number, lse: number, nll: number, n: number, V: number): void;
  /** Its gradient: dx[i] = dy[i] (exp(x[i] - lse[i]) - onehot(labels[i])). */
  nllGrad?(heap: Float32Array, x: number, labels: number, lse: number, dy: number, dx: number, n: number, V: number): void;
  /** OpenMP threads of the following products; returns the count in effect. */
  setThreads(n: number): number;
  /** Operands of the following sgemm/matmul products, every thread: bfloat16 (rounded to nearest even, float32 accumulation and result) or float32; bfloat16 throws where the CPU has no bf16 instructions. */
  setPrecision?(precision: MatmulPrecision): void;
  info(): { version: string; threads: number; isa: number; bf16?: boolean; precision?: MatmulPrecision };
  /** decode.cc: the weight at heap[offset..] as float16 outside the heap when that is exact (else null: read in place); with `rough`, as int8 with a scale per row. */
  packWeight?(heap: Float32Array, offset: number, rows: number, cols: number, rough?: boolean): PackedWeight | null;
  /** decode.cc: out = ((x w^T) + b) * scale + res for x [rows, n], w [m, n] (offsets in floats, -1 = no b/res). */
  linearRows?(heap: Float32Array, x: number, w: number, packed: PackedWeight | null, b: number, res: number, out: number,
    rows: number, n: number, m: number, scale: number): void;
  /**
   * decode.cc: wasm's WhisperAttend (same bits): row b of q [B, T, d] to the first len positions of
   * kT[b] [d, cap[b]] and v[b] [cap[b], d] (offsets per row).
   */
  attend?(heap: Float32Array, q: number, kT: number[], v: number[], cap: number[], out: number, B: number, T: number, d: number,
    heads: number, len: number, causal: number): void;
  /** step.cc: a whole generation step (the plan's layout is step.cc's), into plan[OUT] and the self-attention caches. */
  decoderStep?(heap: Float32Array, plan: Int32Array, packed: (PackedWeight | null)[], scaling: number, eps: number): void;
  /** decode.cc: the sum in order of e^(values[i] - max) as model/search.ts's expNonPositive computes each (its table `steps`). */
  expSum?(values: Float32Array, max: number, steps: Float64Array): number;
}

/** A weight the addon keeps as float16 (opaque). */
export type PackedWeight = { readonly packedWeight: unique symbol };

/** Under the project root. (A plain string: this module is also bundled into the demo page, where `path` is a stub that throws.) */
const ADDON = ['native', 'build', 'Release', 'whisper_dnnl.node'];

/** The addon's path: WHISPER_NATIVE_ADDON, else native/build/Release under the first folder above this file that has native/binding.gyp (src/ or dist/src/ alike). */
function addonPath(): string | undefined {
  const env = process.env.WHISPER_NATIVE_ADDON?.trim();
  if (env) return path.resolve(env);
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'native', 'binding.gyp'))) return path.join(dir, ...ADDON);
    if (path.dirname(dir) === dir) return undefined;
  }
}

let loaded: { addon?: NativeAddon; error?: string } | undefined;

/** Why the addon is not there (not built), without loading it; undefined when it is built. */
export function nativeAddonMissing(): string | undefined {
  if (loaded) return loaded.error;
  const file = addonPath();
  if (!file) return 'no native/ folder above this library';
  if (!fs.existsSync(file)) return `addon not built (${path.relative(process.cwd(), file) || file} missing; bash scripts/build-native.sh needs g++ and libdnnl-dev)`;
  return undefined;
}

/**
 * The addon, loaded once (OMP_WAIT_POLICY=passive unless set: OpenMP's threads otherwise spin
 * after each product and take the cores from the wasm threads that run the next kernel; on the
 * loaded 2-core box passive was as fast or faster, active on an idle machine is not measured yet),
 * or the reason it is not there.
 */
export function loadNativeAddon(): { addon?: NativeAddon; error?: string } {
  if (loaded) return loaded;
  const missing = nativeAddonMissing();
  if (missing) return (loaded = { error: missing });
  const file = addonPath()!;
  process.env.OMP_WAIT_POLICY ??= 'passive';
  try {
    return (loaded = { addon: require(file) as NativeAddon });
  } catch (e) {
    return (loaded = { error: `addon did not load: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}` });
  }
}

interface WasmBackend {
  wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory }; HEAPF32: Float32Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object): boolean;
}

/**
 * Products below this many multiply-adds stay with XNNPACK: the addon call and OpenMP's wake-up
 * cost more than such a product (bench/native.ts).
 */
const MIN_NATIVE_MACS = 1 << 16;

let heapView: Float32Array | undefined;

/** Where tensor `t`'s data starts on the heap, in floats. */
const floatOffset = (backend: WasmBackend, t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset / 4;

/** A Float32Array over the whole heap, made anew when the heap grew (a grown memory has a new buffer). */
function heap(backend: WasmBackend): Float32Array {
  const memory = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
  const buffer = memory ? memory.buffer : backend.wasm.HEAPF32.buffer;
  if (!heapView || heapView.buffer !== buffer) heapView = new Float32Array(buffer);
  return heapView;
}

/**
 * BatchMatMul through sgemm, one call per batch index: float32 operands, batch dimensions equal or
 * one side unbatched (broadcast); anything else (and small products) goes to tfjs's kernel.
 */
function batchMatMul(addon: NativeAddon, args: Parameters<tf.KernelFunc>[0], tfjs: tf.KernelFunc): ReturnType<tf.KernelFunc> {
  const a = args.inputs.a as tf.TensorInfo;
  const b = args.inputs.b as tf.TensorInfo;
  const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return tfjs(args);
  const [ra, ca] = a.shape.slice(-2);
  const [rb, cb] = b.shape.slice(-2);
  const [m, k] = transposeA ? [ca, ra] : [ra, ca];
  const n = transposeB ? rb : cb;
  if ((transposeB ? cb : rb) !== k) return tfjs(args); // tfjs names the mismatch
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return tfjs(args);
  const batch = Math.max(batchA, batchB);
  if (batch * m * n * k < MIN_NATIVE_MACS) return tfjs(args);
  const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const backend = args.backend as unknown as WasmBackend;
  const out = backend.makeOutput([...outer, m, n], 'float32');
  if (m * n === 0) return out;
  const h = heap(backend); // after makeOutput, which may grow the heap
  const at = (t: tf.TensorInfo) => floatOffset(backend, t);
  const [pa, pb, pc] = [at(a), at(b), at(out)];
  for (let i = 0; i < batch; i++) {
    addon.sgemm(transposeA, transposeB, m, n, k, 1, h, pa + (batchA > 1 ? i * m * k : 0), transposeA ? m : k,
      h, pb + (batchB > 1 ? i * k * n : 0), transposeB ? k : n, 0, h, pc + i * m * n, n);
  }
  return out;
}

/**
 * Conv2D of a conv1d (height 1, NHWC, 'valid', no dilation; the encoder's conv stem, padded
 * beforehand) as k products without copying: in channels-last layout, tap j of output t reads
 * input row t * stride + j, so tap j's operand is the input itself starting j rows on, with a
 * leading dimension of stride rows; out = sum over j of that [T', in] view times the filter's
 * [in, out] slice j (accumulated with beta = 1). Anything else goes to tfjs's kernel.
 */
function conv1d(addon: NativeAddon, args: Parameters<tf.KernelFunc>[0], tfjs: tf.KernelFunc): ReturnType<tf.KernelFunc> {
  const x = args.inputs.x as tf.TensorInfo;
  const filter = args.inputs.filter as tf.TensorInfo;
  const { strides, dilations, pad, dataFormat } = args.attrs as unknown as
    { strides: number | [number, number]; dilations: number | [number, number]; pad: unknown; dataFormat: string };
  const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
  const [dh, dw] = typeof dilations === 'number' ? [dilations, dilations] : (dilations ?? [1, 1]);
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4 || filter.shape.length !== 4 || dataFormat !== 'NHWC'
    || x.shape[1] !== 1 || filter.shape[0] !== 1 || sh !== 1 || dh !== 1 || dw !== 1 || (pad !== 'valid' && pad !== 0)) return tfjs(args);
  const [batch, , width, cin] = x.shape;
  const [, taps, fin, cout] = filter.shape;
  if (fin !== cin || width < taps) return tfjs(args);
  const outW = Math.floor((width - taps) / sw) + 1;
  if (batch * outW * cout * cin * taps < MIN_NATIVE_MACS) return tfjs(args);
  const backend = args.backend as unknown as WasmBackend;
  const out = backend.makeOutput([batch, 1, outW, cout], 'float32');
  const h = heap(backend);
  const at = (t: tf.TensorInfo) => floatOffset(backend, t);
  const [px, pf, po] = [at(x), at(filter), at(out)];
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < taps; j++) {
      addon.sgemm(false, false, outW, cout, cin, 1, h, px + b * width * cin + j * cin, sw * cin,
        h, pf + j * cin * cout, cout, j === 0 ? 0 : 1, h, po + b * outW * cout, cout);
    }
  }
  return out;
}

/** Float16 copies of weights by their data (null: not exact in float16, read in place). */
const packedWeights = new WeakMap<object, PackedWeight | null>();
/** Int8 copies (a scale per row), for steps inside roughProducts: a draft model's. */
const roughWeights = new WeakMap<object, PackedWeight | null>();
/** Inside roughProducts. */
let rough = false;

/** The float16 copy of the weight [m, n] at heap[offset..] (made once per data), or null; the int8 copy inside roughProducts. */
function packedWeight(addon: NativeAddon, h: Float32Array, dataId: object, offset: number, m: number, n: number): PackedWeight | null {
  const copies = rough ? roughWeights : packedWeights;
  let packed = copies.get(dataId);
  if (packed === undefined) copies.set(dataId, (packed = addon.packWeight!(h, offset, m, n, rough)));
  return packed;
}

/**
 * WhisperLinear (wasm/kernels.ts; a generation step's Linears) in the addon: the wasm kernel's
 * sums with AVX-512, the weight read as float16 where that is exact, the vocabulary projection
 * shared with a helper thread (decode.cc).
 */
function linearRows(addon: NativeAddon, args: Parameters<tf.KernelFunc>[0]): ReturnType<tf.KernelFunc> {
  const [x, w, b, res] = ['x', 'w', 'b', 'res'].map((k) => args.inputs[k] as tf.TensorInfo | undefined);
  const backend = args.backend as unknown as WasmBackend;
  const n = x!.shape[x!.shape.length - 1];
  const rows = tf.util.sizeFromShape(x!.shape) / n;
  const m = w!.shape[0];
  const out = backend.makeOutput([...x!.shape.slice(0, -1), m], 'float32');
  const h = heap(backend);
  const at = (t: tf.TensorInfo | undefined) => (t ? backend.dataIdMap.get(t.dataId).memoryOffset / 4 : -1);
  addon.linearRows!(h, at(x), at(w), packedWeight(addon, h, w!.dataId, at(w), m, n), at(b), at(res), at(out), rows, n, m,
    (args.attrs as unknown as { scale: number }).scale);
  return out;
}

/** WhisperAttend (wasm/kernels.ts) in the addon: the same sums, wider vectors, every batch row in one call (rows and halves of their heads shared with the helper thread). */
function attend(addon: NativeAddon, args: Parameters<tf.KernelFunc>[0]): ReturnType<tf.KernelFunc> {
  const q = args.inputs.q as tf.TensorInfo;
  const { heads, length, causal } = args.attrs as unknown as { heads: number; length: number; causal: number };
  const backend = args.backend as unknown as WasmBackend;
  const out = backend.makeOutput(q.shape, 'float32');
  const scratch = backend.makeOutput([0], 'float32'); // the kernel's second output (wasm's scores); the addon keeps its own
  const h = heap(backend);
  const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset / 4;
  const [batch, t, d] = q.shape;
  const rows = Array.from({ length: batch }, (_, b) => [args.inputs[`k${b}`], args.inputs[`v${b}`]] as tf.TensorInfo[]);
  addon.attend!(h, at(q), rows.map(([k]) => at(k)), rows.map(([, v]) => at(v)), rows.map(([k]) => k.shape[1]), at(out),
    batch, t, d, heads, length, causal);
  return [out, scratch];
}

const AFFINE = 'WhisperNativeAffine';

/**
 * Kernel WhisperNativeAffine {x [M, K], w [N, K], b? [N], res? [M, N]} {scale}: (x w^T + b) * scale
 * + res in one matmul primitive, the weight as the checkpoint stores it (oneDNN's kernels read
 * it that way as fast as wasm's transposed copy [K, N] or faster, with the same bits: BENCHMARKS.md,
 * "the weight as stored"). The bias, the scaling and the residual are float32 operations on the
 * product's float32 result, in the same order as the separate tfjs ops: the same values.
 */
function affineKernel(addon: NativeAddon, args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const [x, w, b, res] = ['x', 'w', 'b', 'res'].map((k) => args.inputs[k] as tf.TensorInfo | undefined);
  const { scale } = args.attrs as unknown as { scale: number };
  const backend = args.backend as unknown as WasmBackend;
  const [m, k] = x!.shape;
  const n = w!.shape[0];
  const out = backend.makeOutput([m, n], 'float32');
  const h = heap(backend); // after makeOutput, which may grow the heap
  const at = (t: tf.TensorInfo | undefined) => (t ? floatOffset(backend, t) : -1);
  addon.matmul(h, m, n, k, at(x), k, 0, at(w), k, 1, at(out), n, at(b), at(res), n, scale);
  return out;
}

/**
 * The Linear as one fused product where wasm has no way of its own (its one-thread SIMD pass for
 * a generation step's few rows stays): frozen float32 weight and bias, many rows. With a
 * gradient tape, dx = (dy * scale) W (W as stored, a plain product) and dres = dy, as autodiff
 * of the separate ops gives; a trained weight or bias, a quantized weight and small products
 * return undefined (ops.ts composes linear, add, mul, add).
 */
function nativeAffine(wasmOps: BackendOps, x: tf.Tensor, w: FrozenWeight, bias: tf.Tensor | undefined, scale: number,
  residual: tf.Tensor | undefined, training: boolean): tf.Tensor | undefined {
  const own = wasmOps.affine(x, w, bias, scale, residual, training);
  if (own || !enabled || x.rank !== 2) return own;
  if (w.quantized || isTrainable(w.weight) || (bias && (isTrainable(bias) || bias.dtype !== 'float32')) || x.dtype !== 'float32'
    || (residual && residual.dtype !== 'float32') || x.shape[0] * w.weight.size < MIN_NATIVE_MACS) return undefined;
  const run = (input: tf.Tensor, res?: tf.Tensor) => {
    const inputs: Record<string, tf.Tensor> = { x: input, w: w.weight };
    if (bias) inputs.b = bias;
    if (res) inputs.res = res;
    return tf.engine().runKernel(AFFINE, inputs, { scale } as unknown as tf.NamedAttrMap) as tf.Tensor2D;
  };
  if (!recording()) return run(x, residual);
  const weight = w.weight;
  const grad = (dy: tf.Tensor2D) => tf.matMul(scale === 1 ? dy : tf.mul(dy, scale), weight);
  if (!residual) {
    return tf.customGrad(((input: tf.Tensor) => ({ value: run(input), gradFunc: grad })) as unknown as Parameters<typeof tf.customGrad>[0])(x) as tf.Tensor2D;
  }
  return tf.customGrad(((input: tf.Tensor, res: tf.Tensor) => ({ value: run(input, res), gradFunc: (dy: tf.Tensor2D) => [grad(dy), dy] })) as unknown as
    Parameters<typeof tf.customGrad>[0])(x, residual) as tf.Tensor2D;
}

const GELU = 'WhisperNativeGelu';

/** Kernel WhisperNativeGelu {x} {derivative}: [GELU(x)] or [GELU(x), GELU'(x)], as wasm's WhisperGelu (same bits). */
function geluKernel(addon: NativeAddon, args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  const { derivative } = args.attrs as unknown as { derivative: number };
  const backend = args.backend as unknown as WasmBackend;
  const out = (derivative ? [x.shape, x.shape] : [x.shape]).map((s) => backend.makeOutput(s, 'float32'));
  const h = heap(backend);
  const at = (t: tf.TensorInfo) => floatOffset(backend, t);
  addon.gelu(h, at(x), at(out[0]), derivative ? at(out[1]) : -1, tf.util.sizeFromShape(x.shape));
  return out;
}

/** Below this many values GELU stays wasm's one-thread pass (OpenMP's wake-up costs more). */
const MIN_NATIVE_GELU = 1 << 14;

/**
 * Softmax over the last axis through the addon: XNNPACK's wakes its thread pool for every call,
 * which costs more than the work on the small maps of decoder training (a few thousand values
 * per head and batch row, hundreds of calls a step). The exp differs from XNNPACK's in the last
 * bit at most (both are polynomials of about 1 ulp).
 */
function softmax(addon: NativeAddon, args: Parameters<tf.KernelFunc>[0], tfjs: tf.KernelFunc): ReturnType<tf.KernelFunc> {
  const x = args.inputs.logits as tf.TensorInfo;
  const { dim } = args.attrs as unknown as { dim: number };
  const rank = x.shape.length;
  if (x.dtype !== 'float32' || rank === 0 || (dim !== -1 && dim !== rank - 1)) return tfjs(args);
  const backend = args.backend as unknown as WasmBackend;
  const out = backend.makeOutput(x.shape, 'float32');
  const cols = x.shape[rank - 1];
  const size = tf.util.sizeFromShape(x.shape);
  if (size === 0) return out;
  const h = heap(backend);
  const at = (t: tf.TensorInfo) => floatOffset(backend, t);
  addon.softmax(h, at(x), at(out), size / cols, cols);
  return out;
}

/**
 * Exp and Add from this many values on through the addon (training's tensors over the vocabulary
 * or the audio positions of a batch), which tfjs-wasm computes one value at a time in one thread.
 * Smaller ones (everything generation and evaluation take) stay tfjs's, so exp's bits do not move.
 */
const MIN_NATIVE_ELEMENTWISE = 1 << 20;

function exp(addon: NativeAddon, args: Parameters<tf.KernelFunc>[0], tfjs: tf.KernelFunc): ReturnType<tf.KernelFunc> {
  const x = args.inputs.x as tf.TensorInfo;
  const size = tf.util.sizeFromShape(x.shape);
  if (x.dtype !== 'float32' || size < MIN_NATIVE_ELEMENTWISE) return tfjs(args);
  const backend = args.backend as unknown as WasmBackend;
  const out = backend.makeOutput(x.shape, 'float32');
  const h = heap(backend);
  const at = (t: tf.TensorInfo) => floatOffset(backend, t);
  addon.exp(h, at(x), at(out), size);
  return out;
}

/**
 * Add of two float32 tensors of one shape, large ones (a LoRA branch added to its Linear over the
 * 1500 audio positions of a batch): tfjs-wasm adds one value at a time in one thread.
 */
function add(addon: NativeAddon, args: Parameters<tf.KernelFunc>[0], tfjs: tf.KernelFunc): ReturnType<tf.KernelFunc> {
  const [a, b] = ['a', 'b'].map((k) => args.inputs[k] as tf.TensorInfo);
  const size = tf.util.sizeFromShape(a.shape);
  if (!addon.add || a.dtype !== 'float32' || b.dtype !== 'float32' || size < MIN_NATIVE_ELEMENTWISE || !tf.util.arraysEqual(a.shape, b.shape)) return tfjs(args);
  const backend = args.backend as unknown as WasmBackend;
  const out = backend.makeOutput(a.shape, 'float32');
  const h = heap(backend);
  const at = (t: tf.TensorInfo) => floatOffset(backend, t);
  addon.add(h, at(a), at(b), at(out), size);
  return out;
}

/**
 * GatherV2 of whole rows (axis 0, float32 params, int32 indices: the token embedding of a training
 * batch) as one copy per row: tfjs-wasm's kernel computes every value's source index, about 45 ns
 * a value. Indices outside the table go to tfjs's kernel, which names them.
 */
function gather(addon: NativeAddon, args: Parameters<tf.KernelFunc>[0], tfjs: tf.KernelFunc): ReturnType<tf.KernelFunc> {
  const [x, indices] = ['x', 'indices'].map((k) => args.inputs[k] as tf.TensorInfo);
  const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
  if (!addon.gatherRows || x.dtype !== 'float32' || indices.dtype !== 'int32' || axis !== 0 || (batchDims ?? 0) !== 0 || x.shape.length < 1) return tfjs(args);
  const rows = x.shape[0];
  const cols = tf.util.sizeFromShape(x.shape.slice(1));
  const n = tf.util.sizeFromShape(indices.shape);
  const backend = args.backend as unknown as WasmBackend;
  const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], 'float32');
  const h = heap(backend);
  const at = (t: tf.TensorInfo) => floatOffset(backend, t);
  if (addon.gatherRows(h, at(x), rows, cols, at(indices), n, at(out))) return out;
  backend.disposeData(out.dataId);
  return tfjs(args);
}

const ATTEND_TRAIN = 'WhisperNativeAttendTrain';
const ATTEND_TRAIN_GRAD = 'WhisperNativeAttendTrainGrad';

/**
 * Kernel WhisperNativeAttendTrain {q [B, T, d], k, v [B, S, d], mask? [T, S]} {heads}: [out [B, T, d],
 * p [B, heads, T, S]], attention of every head, its probabilities kept for the backward pass; one
 * addon call per batch row.
 */
function attendTrainKernel(addon: NativeAddon, args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo[] {
  const [q, k, v] = ['q', 'k', 'v'].map((n) => args.inputs[n] as tf.TensorInfo);
  const mask = args.inputs.mask as tf.TensorInfo | undefined;
  const { heads } = args.attrs as unknown as { heads: number };
  const backend = args.backend as unknown as WasmBackend;
  const [batch, t, d] = q.shape;
  const s = k.shape[1];
  const out = backend.makeOutput(q.shape, 'float32');
  const p = backend.makeOutput([batch, heads, t, s], 'float32');
  const h = heap(backend);
  const at = (x: tf.TensorInfo) => floatOffset(backend, x);
  for (let b = 0; b < batch; b++) {
    addon.attendTrain!(h, at(q) + b * t * d, at(k) + b * s * d, at(v) + b * s * d, mask ? at(mask) : -1, at(out) + b * t * d,
      at(p) + b * heads * t * s, t, s, d, heads);
  }
  return [out, p];
}

/** Kernel WhisperNativeAttendTrainGrad {dy, q, k, v, out, p} {heads}: [dq, dk, dv], the gradients of WhisperNativeAttendTrain. */
function attendTrainGradKernel(addon: NativeAddon, args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo[] {
  const [dy, q, k, v, out, p] = ['dy', 'q', 'k', 'v', 'out', 'p'].map((n) => args.inputs[n] as tf.TensorInfo);
  const { heads } = args.attrs as unknown as { heads: number };
  const backend = args.backend as unknown as WasmBackend;
  const [batch, t, d] = q.shape;
  const s = k.shape[1];
  const [dq, dk, dv] = [q, k, v].map((x) => backend.makeOutput(x.shape, 'float32'));
  const h = heap(backend);
  const at = (x: tf.TensorInfo) => floatOffset(backend, x);
  for (let b = 0; b < batch; b++) {
    const [rowQ, rowK] = [b * t * d, b * s * d];
    addon.attendTrainGrad!(h, at(dy) + rowQ, at(q) + rowQ, at(k) + rowK, at(v) + rowK, at(p) + b * heads * t * s, at(out) + rowQ,
      at(dq) + rowQ, at(dk) + rowK, at(dv) + rowK, t, s, d, heads);
  }
  return [dq, dk, dv];
}

/**
 * Keys and values for training's attention (a gradient tape): the projections [B, S, d] as they
 * are, one tensor each (layout 'batched'), where wasm's 'rows' layout transposes the keys and
 * splits both into batch rows (and the backward pass concatenates their gradients again).
 */
const trainingLayout = (k: tf.Tensor, v: tf.Tensor) => enabled && recording() && started?.attendTrain !== undefined
  && k.dtype === 'float32' && v.dtype === 'float32' && k.shape[1] === v.shape[1];

/** A 'batched' kv as wasm's 'rows' (for anything but trainingAttention); other layouts as they are. */
const asRows = (wasmOps: BackendOps, kv: KeyValue) => (kv.layout === 'batched' ? wasmOps.keyValue(kv.k[0] as tf.Tensor3D, kv.v[0] as tf.Tensor3D, 1) : kv);

/**
 * Training's attention in two addon calls per batch row, one each way (attendTrain,
 * attendTrainGrad): every head read where it lies in q [T, d], k and v [S, d], so no head is split
 * off, transposed or concatenated, and the backward pass's [T, S] maps stay in the cache
 * (FlashAttention's backward). wasm's attention runs 4 operations per head and as many in the
 * backward pass. The sums are sgemm's, in another order than wasm's per-head products: equal within
 * float32 rounding.
 */
function trainingAttention(q: tf.Tensor3D, kv: KeyValue, numHeads: number, mask?: tf.Tensor2D): tf.Tensor3D {
  const f = tf.customGrad(((query: tf.Tensor, keys: tf.Tensor, values: tf.Tensor, save: tf.GradSaveFunc) => {
    const inputs: Record<string, tf.Tensor> = { q: query, k: keys, v: values };
    if (mask) inputs.mask = mask;
    const [out, p] = tf.engine().runKernel(ATTEND_TRAIN, inputs, { heads: numHeads } as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
    save([query, keys, values, out, p]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, [qs, ks, vs, os, ps]: tf.Tensor[]) =>
        tf.engine().runKernel(ATTEND_TRAIN_GRAD, { dy, q: qs, k: ks, v: vs, out: os, p: ps }, { heads: numHeads } as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[],
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(q, kv.k[0], kv.v[0]) as tf.Tensor3D;
}

const NLL = 'WhisperNativeNll';
const NLL_GRAD = 'WhisperNativeNllGrad';

/** Kernel WhisperNativeNll {x [N, V], labels [N] int32}: [nll [N], lse [N]] (lse: log sum exp of each row). */
function nllKernel(addon: NativeAddon, args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo[] {
  const [x, labels] = ['x', 'labels'].map((k) => args.inputs[k] as tf.TensorInfo);
  const backend = args.backend as unknown as WasmBackend;
  const [n, v] = x.shape;
  const [nll, lse] = [backend.makeOutput([n], 'float32'), backend.makeOutput([n], 'float32')];
  const h = heap(backend);
  const at = (t: tf.TensorInfo) => floatOffset(backend, t);
  addon.nll!(h, at(x), at(labels), at(lse), at(nll), n, v);
  return [nll, lse];
}

/** Kernel WhisperNativeNllGrad {x, labels, lse, dy [N]}: dx = dy (softmax(x) - onehot(labels)). */
function nllGradKernel(addon: NativeAddon, args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const [x, labels, lse, dy] = ['x', 'labels', 'lse', 'dy'].map((k) => args.inputs[k] as tf.TensorInfo);
  const backend = args.backend as unknown as WasmBackend;
  const [n, v] = x.shape;
  const dx = backend.makeOutput(x.shape, 'float32');
  const h = heap(backend);
  const at = (t: tf.TensorInfo) => floatOffset(backend, t);
  addon.nllGrad!(h, at(x), at(labels), at(lse), at(dy), at(dx), n, v);
  return dx;
}

/** A training loss's -log softmax(x)[label] in the addon (ops.ts tokenNll); undefined where it does not run. */
function tokenNll(x: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D | undefined {
  if (!enabled || !started?.nll || x.dtype !== 'float32' || labels.dtype !== 'int32') return undefined;
  const f = tf.customGrad(((logits: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const [nll, lse] = tf.engine().runKernel(NLL, { x: logits, labels }) as unknown as tf.Tensor[];
    save([logits, lse, labels]);
    return {
      value: nll,
      gradFunc: (dy: tf.Tensor, [xs, l, ids]: tf.Tensor[]) => tf.engine().runKernel(NLL_GRAD, { x: xs, labels: ids, lse: l, dy }) as tf.Tensor,
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as tf.Tensor1D;
}

const LAYER_NORM = 'WhisperNativeLayerNorm';

/**
 * Kernel WhisperNativeLayerNorm {x, w, b} {eps}: [LayerNorm(x), n, r] as wasm's WhisperLayerNorm
 * (the same bits), rows in threads and summed side by side: wasm's pass is one thread and one
 * chain of dependent adds per row.
 */
function layerNormKernel(addon: NativeAddon, args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo[] {
  const [x, w, b] = ['x', 'w', 'b'].map((k) => args.inputs[k] as tf.TensorInfo);
  const { eps } = args.attrs as unknown as { eps: number };
  const backend = args.backend as unknown as WasmBackend;
  const d = x.shape[x.shape.length - 1];
  const out = [x.shape, x.shape, [...x.shape.slice(0, -1), 1]].map((s) => backend.makeOutput(s, 'float32'));
  const h = heap(backend);
  const at = (t: tf.TensorInfo) => floatOffset(backend, t);
  addon.layerNorm(h, at(x), at(w), at(b), eps, at(out[0]), at(out[1]), at(out[2]), tf.util.sizeFromShape(x.shape) / d, d);
  return out;
}

/** Below this many values LayerNorm stays wasm's pass (OpenMP's wake-up costs more). */
const MIN_NATIVE_LAYER_NORM = 1 << 14;

const ATTEND = 'WhisperNativeAttend';

/**
 * Kernel WhisperNativeAttend {q [B, T, d], mask? [T, S], k0, v0, k1, v1, ...} {heads, length}:
 * attention of every head and batch row, row b against kb [d, cap] and vb [cap, d] (the 'rows'
 * layout) on their first `length` positions, one addon call per row.
 */
function attendKernel(addon: NativeAddon, args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const q = args.inputs.q as tf.TensorInfo;
  const mask = args.inputs.mask as tf.TensorInfo | undefined;
  const { heads, length } = args.attrs as unknown as { heads: number; length: number };
  const backend = args.backend as unknown as WasmBackend;
  const [batch, t, d] = q.shape;
  const out = backend.makeOutput(q.shape, 'float32');
  const h = heap(backend);
  const at = (x: tf.TensorInfo) => floatOffset(backend, x);
  for (let b = 0; b < batch; b++) {
    const k = args.inputs[`k${b}`] as tf.TensorInfo;
    addon.attendMany(h, at(q) + b * t * d, at(k), at(args.inputs[`v${b}`] as tf.TensorInfo), mask ? at(mask) : -1,
      at(out) + b * t * d, t, length, k.shape[1], d, heads);
  }
  return out;
}

/**
 * Attention of many queries outside training (the encoder's self-attention, a long prompt) in one
 * kernel: wasm's runs 4 operations per head (split, scores, softmax, product) and a concat, and
 * each head's [T, S] scores go out to memory and back between them. Few queries keep wasm's
 * per-row kernel (WhisperAttend, in the addon too); training takes trainingAttention's kernels.
 * Each head's sums are the same sgemm products as the swapped BatchMatMul's and the softmax the
 * same operations as the swapped Softmax: the same values as the per-head kernels (the encoder's
 * output keeps its bits). undefined: not a case it takes.
 */
function manyQueries(q: tf.Tensor3D, kv: KeyValue, numHeads: number, mask?: tf.Tensor2D): tf.Tensor3D | undefined {
  if (!enabled || recording() || kv.layout !== 'rows' || q.dtype !== 'float32' || q.shape[1] <= FEW_QUERIES) return undefined;
  const [batch, t, d] = q.shape;
  const length = kv.length ?? (kv.k[0].shape[1] as number);
  // A head's products below the BatchMatMul swap's threshold stay with wasm's attention (XNNPACK's, as before).
  if (t * length * (d / numHeads) < MIN_NATIVE_MACS || kv.k.length !== batch || kv.k.some((k) => k.shape[0] !== d)
    || [...kv.k, ...kv.v].some((x) => x.dtype !== 'float32')
    || (mask && (mask.dtype !== 'float32' || mask.shape[0] !== t || mask.shape[1] !== length))) return undefined;
  const inputs: Record<string, tf.Tensor> = { q };
  if (mask) inputs.mask = mask;
  kv.k.forEach((k, b) => {
    inputs[`k${b}`] = k;
    inputs[`v${b}`] = kv.v[b];
  });
  return tf.engine().runKernel(ATTEND, inputs, { heads: numHeads, length } as unknown as tf.NamedAttrMap) as tf.Tensor3D;
}

/** Whether a generation step runs as one addon call where it can (setWholeDecoderStep). */
let wholeStep = true;

/** Turns the one-call generation step off and on (tests and benches compare it with the step's own kernels). */
export function setWholeDecoderStep(on: boolean): void {
  wholeStep = on;
}

/** Whether a Linear is one the whole step takes: a frozen float32 weight and bias, no adapters. */
const plainLinear = (w: StepLinear) => w.adapters.length === 0 && !w.quantized && !isTrainable(w.weight) && w.weight.dtype === 'float32'
  && (!w.bias || (!isTrainable(w.bias) && w.bias.dtype === 'float32'));

/**
 * A generation step of a plain decoder (no adapters, frozen float32 weights, at most FEW_ROWS
 * new positions over the batch) as one addon call (native/step.cc): the kernels the model's step
 * runs one by one (linearRows, attend, LayerNorm, GELU), in the same order, so the same bits.
 * The self-attention caches grow as concatKeyValue grows them and the addon writes this step's
 * keys and values into them. undefined for a step it does not take: the model runs it kernel by kernel.
 */
function wholeDecoderStep(addon: NativeAddon, decoder: StepDecoder, ids: tf.Tensor2D, cache: StepCache):
  { hidden: tf.Tensor3D; self: KeyValue[] } | undefined {
  if (!enabled || !wholeStep || recording() || ids.dtype !== 'int32') return undefined;
  const [batch, t] = ids.shape;
  const { layers, embedTokens, embedPositions, layerNorm } = decoder;
  const [vocab, d] = embedTokens.shape as [number, number];
  const maxPos = embedPositions.shape[0];
  const attn = layers[0]?.selfAttn;
  const ffn = layers[0]?.fc1.weight.shape[0];
  const eps = layerNorm.eps;
  const floats = (...ts: tf.Tensor[]) => ts.every((x) => x.dtype === 'float32' && !isTrainable(x));
  const shaped = (w: StepLinear, m: number, n: number) => w.weight.shape[0] === m && w.weight.shape[1] === n && (!w.bias || w.bias.size === m);
  const rows = (kv: KeyValue | undefined) => !kv || (kv.layout === 'rows' && kv.k.length === batch && kv.k.every((k, b) =>
    k.shape[0] === d && floats(k, kv.v[b])));
  if (!attn || batch * t > FEW_ROWS || t > FEW_QUERIES || cache.offset + t > maxPos || d % 4 || !floats(embedTokens, embedPositions)
    || cache.cross.length !== layers.length || cache.self.length > layers.length) return undefined;
  for (const [i, layer] of layers.entries()) {
    const cross = layer.encoderAttn;
    const norms = [layer.selfAttnLayerNorm, layer.encoderAttnLayerNorm, layer.finalLayerNorm];
    if (!cross || norms.some((n) => !n || n.eps !== eps || !floats(n.weight, n.bias))
      || [layer.selfAttn, cross].some((a) => a.numHeads !== attn.numHeads || a.scaling !== attn.scaling)) return undefined;
    const square = [...linears(layer), ...linears(layer, true)];
    if ([...square, layer.fc1, layer.fc2].some((w) => !plainLinear(w)) || square.some((w) => !shaped(w, d, d))
      || !shaped(layer.fc1, ffn, d) || !shaped(layer.fc2, d, ffn) || !rows(cache.self[i]) || !cache.cross[i] || !rows(cache.cross[i])) return undefined;
  }
  const self = layers.map((_, i) => reserveKeyValue(cache.self[i], batch, d, t));
  const backend = tf.backend() as unknown as WasmBackend;
  const hidden = tf.engine().makeTensorFromTensorInfo(backend.makeOutput([batch, t, d], 'float32')) as tf.Tensor3D;
  const h = heap(backend); // after the allocations, which may grow the heap
  const at = (x: tf.Tensor | undefined) => (x ? floatOffset(backend, x) : -1);
  const plan = [batch, t, d, attn.numHeads, layers.length, ffn, cache.offset, at(ids), at(embedTokens), vocab, at(embedPositions), maxPos,
    at(hidden), at(layerNorm.weight), at(layerNorm.bias)];
  const packed: (PackedWeight | null)[] = [];
  for (const layer of layers) {
    const [q, k, v, o] = linears(layer);
    const [cq, , , co] = linears(layer, true);
    const weights = (w: StepLinear) => {
      packed.push(packedWeight(addon, h, w.weight.dataId, at(w.weight), w.weight.shape[0], w.weight.shape[1]));
      return [at(w.weight), at(w.bias)];
    };
    const norm = (n?: { weight: tf.Tensor; bias: tf.Tensor }) => [at(n!.weight), at(n!.bias)];
    // step.cc's Layer order; packed in its Linear order (q, k, v, out, cross q, cross out, fc1, fc2).
    plan.push(...norm(layer.selfAttnLayerNorm), ...weights(q), weights(k)[0], ...weights(v), ...weights(o),
      ...norm(layer.encoderAttnLayerNorm), ...weights(cq), ...weights(co), ...norm(layer.finalLayerNorm),
      ...weights(layer.fc1), ...weights(layer.fc2));
  }
  cache.cross.forEach((cross, i) => {
    plan.push(cross.length ?? (cross.k[0].shape[1] as number));
    for (let b = 0; b < batch; b++) {
      plan.push(at(self[i].k[b]), at(self[i].v[b]), self[i].k[b].shape[1] as number,
        at(cross.k[b]), at(cross.v[b]), cross.k[b].shape[1] as number);
    }
  });
  try {
    addon.decoderStep!(h, Int32Array.from(plan), packed, attn.scaling, eps);
  } catch (e) {
    const kept = new Set(cache.self.flatMap((kv) => (kv ? [...kv.k, ...kv.v] : [])));
    tf.dispose([hidden, ...self.flatMap((kv) => [...kv.k, ...kv.v]).filter((x) => !kept.has(x))]);
    throw e;
  }
  return { hidden, self: self.map((kv) => ({ ...kv, length: kv.length! + t })) };
}

/** A layer's self-attention Linears (or its cross-attention's): q, k, v, out. */
const linears = (layer: StepDecoder['layers'][number], cross = false): StepLinear[] => {
  const a = cross ? layer.encoderAttn! : layer.selfAttn;
  return [a.qProj, a.kProj, a.vProj, a.outProj];
};

let active: string | undefined;
let started: NativeAddon | undefined;

/** The operands of the native products (setMatmulPrecision). */
export type MatmulPrecision = 'float32' | 'bfloat16';
let precision: MatmulPrecision = 'float32';

/** Why this process has no bf16 products (the native path is not running), in a user's terms. */
function noNativeProducts(): string {
  const backend = tf.getBackend();
  if (backend !== 'wasm') return `the ${backend ?? 'not yet selected'} backend has none (they run on the native oneDNN path: the wasm backend with the addon${backend ? '' : '; call initBackend() first'})`;
  if (process.env.WHISPER_BACKEND?.trim().toLowerCase() === 'wasm') return "WHISPER_BACKEND=wasm runs wasm's own kernels, which are float32 only (bf16 runs on the native oneDNN path)";
  return `the native oneDNN path is not running: ${nativeAddonMissing() ?? loadNativeAddon().error ?? 'initBackend() has not started it'} (wasm's own kernels are float32 only)`;
}

/**
 * The precision of the big matrix products (every Linear of many rows, the conv stem, their
 * gradients; attention stays float32, in one addon call each way: attendMany outside training,
 * attendTrain and its gradient in training): 'float32' (the default, reference-exact) or 'bfloat16', operands
 * rounded to bfloat16 and float32 accumulation (PyTorch's `set_float32_matmul_precision('medium')`,
 * transformers' `bf16=True`). A generation step's few-row kernels stay as they are. bfloat16 needs
 * the native oneDNN path on a CPU with AVX512_BF16 or AMX-BF16 and throws, saying which is
 * missing, anywhere else: never a silent float32.
 */
export function setMatmulPrecision(p: MatmulPrecision): void {
  if (p !== 'float32' && p !== 'bfloat16') throw new Error(`setMatmulPrecision: 'float32' or 'bfloat16', got ${JSON.stringify(p)}`);
  if (p === 'bfloat16') {
    if (!started) throw new Error(`Your setup doesn't support bf16 products: ${noNativeProducts()}.`);
    if (!started.setPrecision) throw new Error("Your setup doesn't support bf16 products: the native addon predates them (bash scripts/build-native.sh --force).");
    try {
      started.setPrecision(p);
    } catch (e) {
      throw new Error(`Your setup doesn't support bf16 products: ${(e as Error).message.replace(/^whisper_dnnl\.setPrecision: /, '')}.`);
    }
  } else {
    started?.setPrecision?.(p);
  }
  precision = p;
}

/**
 * f() with the native path's cheapest rounding, whatever the precision set: bf16 products where
 * the CPU has them, and generation steps reading int8 copies of their weights (a scale per row:
 * half float16's bytes). For work whose rounding decides nothing, such as a draft model's encoder
 * and steps in speculative decoding, whose tokens are only proposals that the main model checks.
 * Elsewhere f() runs as it is.
 */
export function roughProducts<T>(f: () => T): T {
  const bf16 = precision !== 'bfloat16' && enabled && !!started?.info().bf16;
  const outer = rough;
  rough = enabled;
  if (bf16) started!.setPrecision!('bfloat16');
  try {
    return f();
  } finally {
    rough = outer;
    if (bf16) started!.setPrecision!('float32');
  }
}

/** The precision setMatmulPrecision set ('float32' unless changed). */
export const getMatmulPrecision = (): MatmulPrecision => precision;
/** Whether the products go through the addon now (startNative; `setNativeProducts` for interleaved benches). */
let enabled = false;

/**
 * Switches the started native path off and on again within a process, so that a bench can time
 * wasm's kernels and the addon interleaved (bench/native.ts); throws unless startNative ran.
 */
export function setNativeProducts(on: boolean): void {
  if (!active) throw new Error('setNativeProducts: startNative has not run');
  enabled = on;
  setDirectTransposedProducts(on);
}

/**
 * Puts the addon under the wasm backend (which must be active, its ops registered): BatchMatMul
 * through sgemm, OpenMP on `threads` threads (the wasm thread count), `linear` and `matMulT` with
 * transposed operands passed as flags. Returns a line for describeBackend; throws with the reason
 * when the addon is not there.
 */
export function startNative(threads: number): string {
  if (active) return active;
  const { addon, error } = loadNativeAddon();
  if (!addon) throw new Error(error);
  if (tf.getBackend() !== 'wasm') throw new Error(`the native products run under the wasm backend, not ${tf.getBackend()}`);
  const inUse = addon.setThreads(threads);
  // Each swapped kernel keeps tfjs's own as the fallback it calls when the native path is off
  // (setNativeProducts) or the case is not one the addon takes.
  const swap = (name: string, native: (addon: NativeAddon, args: Parameters<tf.KernelFunc>[0], tfjs: tf.KernelFunc) => ReturnType<tf.KernelFunc>) => {
    const tfjs = tf.getKernel(name, 'wasm')!.kernelFunc;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: (args) => (enabled ? native(addon, args, tfjs) : tfjs(args)) });
  };
  swap('BatchMatMul', batchMatMul);
  swap('Conv2D', conv1d);
  swap('Softmax', softmax);
  swap('Exp', exp);
  swap('Add', add);
  swap('GatherV2', gather);
  tf.registerKernel({ kernelName: AFFINE, backendName: 'wasm', kernelFunc: (args) => affineKernel(addon, args) });
  tf.registerKernel({ kernelName: GELU, backendName: 'wasm', kernelFunc: (args) => geluKernel(addon, args) });
  tf.registerKernel({ kernelName: LAYER_NORM, backendName: 'wasm', kernelFunc: (args) => layerNormKernel(addon, args) });
  tf.registerKernel({ kernelName: ATTEND, backendName: 'wasm', kernelFunc: (args) => attendKernel(addon, args) });
  if (addon.nll && addon.nllGrad) {
    tf.registerKernel({ kernelName: NLL, backendName: 'wasm', kernelFunc: (args) => nllKernel(addon, args) });
    tf.registerKernel({ kernelName: NLL_GRAD, backendName: 'wasm', kernelFunc: (args) => nllGradKernel(addon, args) });
  }
  if (addon.attendTrain && addon.attendTrainGrad) {
    tf.registerKernel({ kernelName: ATTEND_TRAIN, backendName: 'wasm', kernelFunc: (args) => attendTrainKernel(addon, args) });
    tf.registerKernel({ kernelName: ATTEND_TRAIN_GRAD, backendName: 'wasm', kernelFunc: (args) => attendTrainGradKernel(addon, args) });
  }
  const wasmOps = registeredOps('wasm');
  const decode = addon.linearRows && addon.attend && addon.packWeight;
  if (decode) {
    swap('WhisperLinear', linearRows);
    swap('WhisperAttend', attend);
  }
  // `linear` and `affine` of a generation step's few rows (wasm/ops.ts fewRows) run as WhisperLinear,
  // the vocabulary projection included (in the addon a threaded pass over the float16 weight;
  // wasm leaves it to XNNPACK).
  const rowsKernel = (x: tf.Tensor, w: FrozenWeight, training: boolean) => enabled && decode && !training && !recording() && fewRows(x, w);
  registerOps('wasm', {
    ...wasmOps,
    // No transposed copy of a weight the native products take (the fused Linear and a step's
    // few rows read it as stored): half the memory of the model's Linears. A product that still
    // falls back to wasm's makes the copy when it first needs it.
    prepareLinear: (w) => (enabled && w.weight.size >= MIN_NATIVE_MACS ? undefined : wasmOps.prepareLinear(w)),
    linear: (x, w, training) => (rowsKernel(x, w, training)
      ? fused('WhisperLinear', { x, w: w.weight }, { scale: 1 })![0] as tf.Tensor2D : wasmOps.linear(x, w, training)),
    affine: (x, w, bias, scale, residual, training) => {
      if (!rowsKernel(x, w, training)) return nativeAffine(wasmOps, x, w, bias, scale, residual, training);
      const inputs: Record<string, tf.Tensor> = { x, w: w.weight };
      if (bias) inputs.b = bias;
      if (residual) inputs.res = residual;
      return fused('WhisperLinear', inputs, { scale })![0];
    },
    layerNormForward: (x, w, b, eps) => (enabled && [x, w, b].every((t) => t.dtype === 'float32') && x.size >= MIN_NATIVE_LAYER_NORM
      ? tf.engine().runKernel(LAYER_NORM, { x, w, b }, { eps }) as unknown as tf.Tensor[] : wasmOps.layerNormForward(x, w, b, eps)),
    keyValue: (k, v, numHeads) => (trainingLayout(k, v) ? { layout: 'batched', k: [k], v: [v] } : wasmOps.keyValue(k, v, numHeads)),
    concatKeyValue: (a, b) => wasmOps.concatKeyValue(asRows(wasmOps, a), asRows(wasmOps, b)),
    gatherKeyValue: (kv, rows) => wasmOps.gatherKeyValue(asRows(wasmOps, kv), rows),
    sliceKeyValue: (kv, length) => wasmOps.sliceKeyValue(asRows(wasmOps, kv), length),
    attention: (q, kv, numHeads, mask) => (kv.layout === 'batched' && enabled && recording() && q.dtype === 'float32' && kv.k[0].shape[0] === q.shape[0]
      ? trainingAttention(q, kv, numHeads, mask)
      : manyQueries(q, kv, numHeads, mask) ?? wasmOps.attention(q, asRows(wasmOps, kv), numHeads, mask)),
    decoderStep: (decoder, ids, cache) => (decode && addon.decoderStep ? wholeDecoderStep(addon, decoder, ids, cache) : undefined),
    expSum: (values, max, steps) => (enabled && addon.expSum ? addon.expSum(values, max, steps) : undefined),
    tokenNll,
    gelu: (x, derivative) => (enabled && x.dtype === 'float32' && x.size >= MIN_NATIVE_GELU
      ? tf.engine().runKernel(GELU, { x }, { derivative: derivative ? 1 : 0 }) as unknown as tf.Tensor[] : wasmOps.gelu(x, derivative)),
    // `linear` of many rows (what the fused Linear leaves: small, quantized or trained weights) stays
    // wasm's: it multiplies by the transposed weight copy, a plain product that the
    // addon runs; sgemm with a transposed right operand is 2x slower for a few rows (the
    // vocabulary projection of a generation step: 11 vs 5.6 ms, bench/native.ts), same for 1500.
    matMulT: (a, b, transposeA, transposeB) => (enabled ? tf.matMul(a, b, transposeA, transposeB) : wasmOps.matMulT(a, b, transposeA, transposeB)),
  });
  const info = addon.info();
  started = addon;
  enabled = true;
  setDirectTransposedProducts(true);
  return (active = `native oneDNN ${info.version} sgemm (${inUse} thread${inUse > 1 ? 's' : ''})${decode ? ' + generation-step kernels' : ''}`);
}

/** Whether startNative ran in this process. */
export const nativeActive = () => active !== undefined;
