/**
 * Energy-based voice-activity gate.
 *
 * Whisper hallucinates on silence ("Thank you.", "Sous-titres réalisés par..."), so long-form
 * transcription and the demo skip windows whose loudness never rises above a threshold instead of
 * decoding them. This is deliberately simple (no model): speech is loud in short frames, silence and
 * room noise are not. We look at the loudest short frame, not the average, so a window holding one
 * short word among silence still counts as speech.
 */

export interface VadOptions {
  /** A window is silent when no frame is louder than this (dBFS, 0 = full scale). Default -45. */
  thresholdDb?: number;
  /** Frame length in samples for the loudness measure (default 400 = 25 ms at 16 kHz). */
  frameLength?: number;
}

const DEFAULT_THRESHOLD_DB = -45;
const DEFAULT_FRAME = 400;

/** RMS level of `x[start, end)` in dBFS; -Infinity for digital silence. */
export function rmsDb(x: Float32Array, start = 0, end = x.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += x[i] * x[i];
  const n = Math.max(1, end - start);
  return 10 * Math.log10(sum / n);
}

/** Loudness of each non-overlapping frame, in dBFS. */
export function frameLevelsDb(x: Float32Array, frameLength = DEFAULT_FRAME): number[] {
  const out: number[] = [];
  for (let s = 0; s < x.length; s += frameLength) out.push(rmsDb(x, s, Math.min(x.length, s + frameLength)));
  return out;
}

/** True when the loudest frame of `window` stays below `thresholdDb` (empty windows are silent). */
export function isSilent(window: Float32Array, opts: VadOptions = {}): boolean {
  const threshold = opts.thresholdDb ?? DEFAULT_THRESHOLD_DB;
  const frame = opts.frameLength ?? DEFAULT_FRAME;
  for (let s = 0; s < window.length; s += frame) {
    if (rmsDb(window, s, Math.min(window.length, s + frame)) >= threshold) return false;
  }
  return true;
}
