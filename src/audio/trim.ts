/**
 * Leading/trailing silence removal with `librosa.effects.trim` semantics:
 * frame RMS (centered frames, zero padding), dB relative to the loudest frame, keep everything
 * from the first to the last frame louder than -topDb, in whole hops.
 */

export interface TrimOptions {
  /** frames quieter than this many dB below the loudest frame are silence (librosa: top_db) */
  topDb?: number;
  frameLength?: number;
  hopLength?: number;
}

export interface TrimResult {
  /** x.subarray(start, end) (a view, not a copy) */
  audio: Float32Array;
  start: number;
  end: number;
}

/**
 * librosa.feature.rms(y, frame_length, hop_length, center=True, pad_mode='constant') squared:
 * mean square of each frame, frames centered on t * hop over a zero-padded signal.
 */
export function frameMeanSquare(x: Float32Array, frameLength: number, hopLength: number): Float64Array {
  const pad = Math.floor(frameLength / 2);
  const nFrames = 1 + Math.floor((x.length + 2 * pad - frameLength) / hopLength);
  const out = new Float64Array(Math.max(nFrames, 0));
  for (let t = 0; t < out.length; t++) {
    const s0 = t * hopLength - pad;
    const lo = Math.max(0, s0);
    const hi = Math.min(x.length, s0 + frameLength);
    let acc = 0;
    for (let i = lo; i < hi; i++) acc += x[i] * x[i];
    out[t] = acc / frameLength;
  }
  return out;
}

export function trimSilence(x: Float32Array, opts: TrimOptions = {}): TrimResult {
  const topDb = opts.topDb ?? 30;
  const frameLength = opts.frameLength ?? 2048;
  const hopLength = opts.hopLength ?? 512;
  if (!(topDb > 0) || !Number.isInteger(frameLength) || frameLength < 1 || !Number.isInteger(hopLength) || hopLength < 1) {
    throw new Error(`trim.ts: need topDb > 0 and integer frameLength, hopLength >= 1, got ${JSON.stringify(opts)}`);
  }
  const ms = frameMeanSquare(x, frameLength, hopLength);
  // amplitude_to_db(rms, ref=np.max, amin=1e-5): 10 log10(max(1e-10, ms)) - 10 log10(max(1e-10, max ms))
  let ref = 1e-10;
  for (const v of ms) if (v > ref) ref = v;
  const refDb = 10 * Math.log10(ref);
  let first = -1;
  let last = -1;
  for (let t = 0; t < ms.length; t++) {
    const db = 10 * Math.log10(Math.max(1e-10, ms[t])) - refDb;
    if (db > -topDb) {
      if (first < 0) first = t;
      last = t;
    }
  }
  // (all-zero audio: every frame is 0 dB relative to a zero maximum, so librosa keeps it all)
  if (first < 0) return { audio: x.subarray(0, 0), start: 0, end: 0 };
  const start = first * hopLength;
  const end = Math.min(x.length, (last + 1) * hopLength);
  return { audio: x.subarray(start, end), start, end };
}
