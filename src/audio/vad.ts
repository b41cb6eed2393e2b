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

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);

/**
 * `isSilent` on windows of a recording fed in chunks, without keeping its samples: the sums of
 * squares over blocks of gcd(align, frameLength) samples are kept, so each frame of a window that
 * starts at a multiple of `align` is a run of whole blocks (8 bytes per block: 5.8 MB for an hour
 * with windows at 10 ms steps and 25 ms frames, blocks of 5 ms).
 */
export class SilenceGate {
  private readonly threshold: number;
  private readonly frame: number;
  private readonly block: number;
  private sums = new Float64Array(1024);
  private blocks = 0;
  /** Sum of squares and size of the block being filled. */
  private partial = 0;
  private filled = 0;

  constructor(opts: VadOptions = {}, align = 1) {
    this.threshold = opts.thresholdDb ?? DEFAULT_THRESHOLD_DB;
    this.frame = opts.frameLength ?? DEFAULT_FRAME;
    this.block = gcd(align, this.frame);
  }

  push(chunk: Float32Array): void {
    for (let i = 0; i < chunk.length; i++) {
      this.partial += chunk[i] * chunk[i];
      if (++this.filled < this.block) continue;
      if (this.blocks === this.sums.length) {
        const grown = new Float64Array(2 * this.sums.length);
        grown.set(this.sums);
        this.sums = grown;
      }
      this.sums[this.blocks++] = this.partial;
      this.partial = 0;
      this.filled = 0;
    }
  }

  /** isSilent(samples [start, end)); both multiples of `align`, within the samples pushed. */
  isSilent(start: number, end: number): boolean {
    const b = this.block;
    if (start % b || end % b || end / b > this.blocks) {
      throw new Error(`SilenceGate.isSilent: samples [${start}, ${end}) are not whole blocks of ${b} among the ${this.blocks * b} pushed`);
    }
    for (let s = start; s < end; s += this.frame) {
      const e = Math.min(end, s + this.frame);
      let sum = 0;
      for (let k = s / b; k < e / b; k++) sum += this.sums[k];
      if (10 * Math.log10(sum / (e - s)) >= this.threshold) return false;
    }
    return true;
  }
}
