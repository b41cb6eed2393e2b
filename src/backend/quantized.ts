/**
 * Frozen weights kept as bytes: int8 with one scale per output row (what `load_in_8bit` gives a
 * PEFT base), or float16 (how Hugging Face stores most Whisper checkpoints). tfjs has no int8 or
 * float16 tensors, so the bytes live in typed arrays outside the backend's memory and a layer's
 * float32 weight exists only while that layer runs: a model needs 1 or 2 bytes per weight instead
 * of 4 (wasm's heap is 4 GB).
 */

export interface Int8Weight {
  dtype: 'int8';
  data: Int8Array;
  /** One per output row: the row's absmax / 127. */
  scales: Float32Array;
  /** [out, in] */
  shape: [number, number];
}

export interface Float16Weight {
  dtype: 'float16';
  /** IEEE half-precision bit patterns. */
  data: Uint16Array;
  /** [out, in] */
  shape: [number, number];
}

export type QuantizedWeight = Int8Weight | Float16Weight;
export type WeightDtype = 'float32' | QuantizedWeight['dtype'];

/** Per-row absmax int8 quantization of a [out, in] float weight. */
function quantizeInt8(values: Float32Array, shape: [number, number]): Int8Weight {
  const [out, inF] = shape;
  const data = new Int8Array(out * inF);
  const scales = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    let max = 0;
    for (let i = 0; i < inF; i++) max = Math.max(max, Math.abs(values[o * inF + i]));
    const scale = max / 127 || 1;
    scales[o] = scale;
    for (let i = 0; i < inF; i++) data[o * inF + i] = Math.round(values[o * inF + i] / scale);
  }
  return { dtype: 'int8', data, scales, shape };
}

/** Float16 bits of every value (round to nearest even; exact for values read from a float16 checkpoint). */
export function toFloat16(values: Float32Array, shape: [number, number]): Float16Weight {
  const data = new Uint16Array(values.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i];
    const x = u[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    if (exp === 0xff) { // inf, nan
      data[i] = sign | 0x7c00 | (x & 0x7fffff ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) { data[i] = sign | 0x7c00; continue; } // overflow -> inf
    let mant: number;
    let shift: number;
    if (e <= 0) { // subnormal half (or zero)
      if (e < -10) { data[i] = sign; continue; }
      mant = (x & 0x7fffff) | 0x800000;
      shift = 14 - e;
    } else {
      mant = x & 0x7fffff;
      shift = 13;
    }
    let h = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (h & 1))) h++;
    // A rounding carry moves into the exponent bits, which is the right result.
    data[i] = sign | (e <= 0 ? h : (e << 10) + h);
  }
  return { dtype: 'float16', data, shape };
}

let halfTable: Float32Array | undefined;

/** float16 bits -> float32, all 65536 of them. */
function float16Table(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    const v = exp === 0 ? mant * 2 ** -24 : exp === 31 ? (mant ? NaN : Infinity) : (1 + mant / 1024) * 2 ** (exp - 15);
    halfTable[h] = h & 0x8000 ? -v : v;
  }
  return halfTable;
}

/** The float32 values of `w`, as [out, in], or as [in, out] when `transposed`. */
export function dequantize(w: QuantizedWeight, transposed = false): Float32Array {
  const [out, inF] = w.shape;
  const t = new Float32Array(out * inF);
  // One monomorphic loop per case: the inner loops run over every weight of a layer at each call.
  if (w.dtype === 'float16') {
    const table = float16Table();
    const d = w.data;
    if (!transposed) for (let i = 0; i < t.length; i++) t[i] = table[d[i]];
    else for (let o = 0; o < out; o++) for (let i = 0, r = o * inF; i < inF; i++) t[i * out + o] = table[d[r + i]];
  } else {
    const d = w.data;
    for (let o = 0; o < out; o++) {
      const s = w.scales[o];
      const r = o * inF;
      if (!transposed) for (let i = 0; i < inF; i++) t[r + i] = d[r + i] * s;
      else for (let i = 0; i < inF; i++) t[i * out + o] = d[r + i] * s;
    }
  }
  return t;
}

/** `values` [out, in] as `dtype` bytes. */
export function quantize(dtype: QuantizedWeight['dtype'], values: Float32Array, shape: [number, number]): QuantizedWeight {
  return dtype === 'int8' ? quantizeInt8(values, shape) : toFloat16(values, shape);
}

