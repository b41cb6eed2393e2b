/**
 * The numeric core of Whisper's log-Mel spectrogram, step for step as `whisper/audio.py`
 * (the 30 s `pad_or_trim` is done by the callers in logmel.ts):
 *
 *   stft = torch.stft(audio, 400, 160, window=hann_window(400), center=True, pad_mode='reflect')
 *   magnitudes = stft[..., :-1].abs() ** 2           # last frame dropped
 *   mel = filters @ magnitudes                       # librosa Slaney filters
 *   log_spec = clamp(mel, 1e-10).log10()
 *   log_spec = maximum(log_spec, log_spec.max() - 8)
 *   (log_spec + 4) / 4
 *
 * The STFT runs in float64 (see fft.ts) so the only difference to PyTorch is its float32 rounding.
 */
import { RealFFT } from './fft';
import { melFilterBank, sparseMelFilters, SparseMelFilters } from './melFilters';

/** torch.hann_window(n) (periodic=True), rounded to float32 like PyTorch's window tensor. */
export function hannWindow(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = Math.fround(0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
  return w;
}

/** whisper.audio.pad_or_trim for one clip: zero-pad at the end or cut to `length` samples. */
export function padOrTrim(audio: Float32Array, length: number): Float32Array {
  if (audio.length === length) return audio;
  if (audio.length > length) return audio.subarray(0, length);
  const out = new Float32Array(length);
  out.set(audio);
  return out;
}

/**
 * Everything that does not depend on the audio (window, FFT plan, sparse filters, scratch
 * buffers), built once per configuration: recomputing filters per call costs more than the FFTs.
 */
export class LogMelComputer {
  readonly nMels: number;
  readonly nFft: number;
  readonly hopLength: number;
  readonly sampleRate: number;
  private readonly window: Float64Array;
  private readonly fft: RealFFT;
  private readonly filters: SparseMelFilters;
  private readonly frame: Float64Array;
  private readonly power: Float64Array;
  private byFrame = new Float64Array(0);

  constructor(nMels = 80, sampleRate = 16000, nFft = 400, hopLength = 160) {
    this.nMels = nMels;
    this.nFft = nFft;
    this.hopLength = hopLength;
    this.sampleRate = sampleRate;
    this.window = hannWindow(nFft);
    this.fft = new RealFFT(nFft);
    this.filters = sparseMelFilters(melFilterBank(sampleRate, nFft, nMels), nMels);
    this.frame = new Float64Array(nFft);
    this.power = new Float64Array(this.fft.nBins);
  }

  /** Number of frames Whisper keeps: the STFT gives 1 + len/hop, the last one is dropped. */
  numFrames(numSamples: number): number {
    return Math.floor(numSamples / this.hopLength);
  }

  /**
   * Log-Mel of `audio` as is (no padding here), [nMels, numFrames] mel-major, written to `out`
   * when given (length nMels * numFrames).
   */
  compute(audio: Float32Array, out?: Float32Array): Float32Array {
    const n = audio.length;
    const pad = this.nFft >> 1;
    if (n <= pad) {
      throw new Error(`logmelComputer.ts: audio of ${n} samples is too short for reflect padding of ${pad} ` +
        `(torch.stft needs more than n_fft/2 samples); pad it to 30 s first`);
    }
    const nFrames = this.numFrames(n);
    const { nMels, nFft, hopLength } = this;
    const result = out ?? new Float32Array(nMels * nFrames);
    if (result.length !== nMels * nFrames) {
      throw new Error(`logmelComputer.ts: output buffer has ${result.length} values, need ${nMels}x${nFrames}`);
    }
    // Trailing zeros (the 30 s padding) give all-zero frames: their log-Mel is log10(1e-10) = -10.
    let lastNonZero = n - 1;
    while (lastNonZero >= 0 && audio[lastNonZero] === 0) lastNonZero--;

    if (this.byFrame.length !== nMels * nFrames) this.byFrame = new Float64Array(nMels * nFrames);
    const byFrame = this.byFrame; // log10 Mel energies, frame-major
    const peak: LogPeak = { max: -Infinity, skipBelow: 0 };
    // numpy 'reflect' padding at both ends (edge sample not repeated)
    const reflect = (j: number) => audio[j < 0 ? -j : 2 * (n - 1) - j];
    for (let t = 0; t < nFrames; t++) {
      const s0 = t * hopLength - pad; // frame start in the unpadded signal
      if (s0 > lastNonZero && s0 + nFft <= n) {
        // frame wholly inside the zero tail: and reflect padding never reaches it (s0 + nFft <= n)
        byFrame.fill(-10, t * nMels, (t + 1) * nMels);
        if (-10 > peak.max) {
          peak.max = -10;
          peak.skipBelow = 1e-18; // = 1e-10 * 1e-8, as after a computed all-zero frame
        }
        continue;
      }
      this.logMelFrame(this.framePower(audio, s0, reflect), byFrame, t * nMels, peak);
    }
    // Clamp, rescale and transpose to mel-major in tiles of frames: writing mel-major directly
    // from the frame loop strides 12 kB per value and misses the cache 80 times per frame.
    const floor = peak.max - 8;
    const TILE = 64;
    for (let t0 = 0; t0 < nFrames; t0 += TILE) {
      const t1 = Math.min(nFrames, t0 + TILE);
      for (let m = 0; m < nMels; m++) {
        for (let t = t0, dst = m * nFrames + t0; t < t1; t++, dst++) {
          const v = byFrame[t * nMels + m];
          result[dst] = ((v > floor ? v : floor) + 4) / 4;
        }
      }
    }
    return result;
  }

  /**
   * |STFT|^2 of the frame of nFft samples starting at `s0` of `audio` (Hann window), in a scratch
   * buffer; `outside(j)` gives the samples at j < 0 or j >= audio.length (the STFT's padding).
   */
  framePower(audio: Float32Array, s0: number, outside: (j: number) => number): Float64Array {
    const { nFft, window, frame, power } = this;
    if (s0 >= 0 && s0 + nFft <= audio.length) {
      this.fft.power(audio, power, s0, window);
    } else {
      for (let i = 0, j = s0; i < nFft; i++, j++) frame[i] = (j >= 0 && j < audio.length ? audio[j] : outside(j)) * window[i];
      this.fft.power(frame, power);
    }
    return power;
  }

  /**
   * log10 of the frame's Mel energies (clamped to 1e-10) into out[row, row + nMels); energies 8
   * decades under `peak` get -Infinity (the final clamp to max - 8 floors them whatever comes later,
   * and the log is the slowest step here). Raises `peak`.
   */
  logMelFrame(power: Float64Array, out: Float64Array | Float32Array, row: number, peak: LogPeak): void {
    const { start, length, offset, values } = this.filters;
    for (let m = 0; m < this.nMels; m++) {
      let acc = 0;
      const k0 = start[m];
      const o = offset[m] - k0;
      for (let k = k0, e = k0 + length[m]; k < e; k++) acc += values[o + k] * power[k];
      if (acc < 1e-10) acc = 1e-10; // torch.clamp(min=1e-10)
      if (acc < peak.skipBelow) {
        out[row + m] = -Infinity;
        continue;
      }
      const v = Math.log(acc) * Math.LOG10E; // log10, ~30% faster in V8
      out[row + m] = v;
      if (v > peak.max) {
        peak.max = v;
        peak.skipBelow = acc * 1e-8;
      }
    }
  }
}

/** The largest log10 Mel energy so far, and the linear energy 8 decades under it. */
export interface LogPeak {
  max: number;
  skipBelow: number;
}

const computers = new Map<string, LogMelComputer>();

/** Shared precomputation per (nMels, sampleRate, nFft, hop). */
export function getLogMelComputer(nMels: number, sampleRate: number, nFft: number, hopLength: number): LogMelComputer {
  const key = `${nMels}/${sampleRate}/${nFft}/${hopLength}`;
  let c = computers.get(key);
  if (!c) {
    c = new LogMelComputer(nMels, sampleRate, nFft, hopLength);
    computers.set(key, c);
  }
  return c;
}
