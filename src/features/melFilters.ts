/**
 * Mel filterbank as `librosa.filters.mel(sr, n_fft, n_mels, htk=False, norm='slaney')`, which is
 * what Whisper's `mel_filters.npz` stores (80 and 128 bins at sr=16000, n_fft=400).
 *
 * Computed rather than copied: float64 maths like librosa, then rounded to float32 at the same two
 * points librosa stores into its float32 `weights` array, so the filters equal the npz bit for bit.
 */

const F_SP = 200 / 3; // Slaney: 66.67 Hz per mel below 1 kHz
const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = MIN_LOG_HZ / F_SP; // 15
const LOG_STEP = Math.log(6.4) / 27; // log spacing above 1 kHz

/** librosa.hz_to_mel(htk=False). */
export function hzToMel(hz: number): number {
  return hz >= MIN_LOG_HZ ? MIN_LOG_MEL + Math.log(hz / MIN_LOG_HZ) / LOG_STEP : hz / F_SP;
}

/** librosa.mel_to_hz(htk=False). */
export function melToHz(mel: number): number {
  return mel >= MIN_LOG_MEL ? MIN_LOG_HZ * Math.exp(LOG_STEP * (mel - MIN_LOG_MEL)) : F_SP * mel;
}

/** Dense filters, row-major [nMels, 1 + nFft/2], float32 values like librosa's default dtype. */
export function melFilterBank(sampleRate: number, nFft: number, nMels: number,
  fMin = 0, fMax = sampleRate / 2): Float32Array {
  const nBins = 1 + Math.floor(nFft / 2);
  // librosa.fft_frequencies = numpy.fft.rfftfreq(n_fft, 1/sr): k * (sr / n_fft)
  const fftFreqs = new Float64Array(nBins);
  const binHz = 1 / (nFft * (1 / sampleRate));
  for (let k = 0; k < nBins; k++) fftFreqs[k] = k * binHz;
  // librosa.mel_frequencies: nMels + 2 points evenly spaced in mel, back to Hz
  const melMin = hzToMel(fMin);
  const melMax = hzToMel(fMax);
  const melF = new Float64Array(nMels + 2);
  const step = (melMax - melMin) / (nMels + 1); // numpy.linspace: i * step + start, last = stop
  for (let i = 0; i < nMels + 2; i++) melF[i] = melToHz(i === nMels + 1 ? melMax : i * step + melMin);

  const weights = new Float32Array(nMels * nBins);
  for (let m = 0; m < nMels; m++) {
    const lowDiff = melF[m + 1] - melF[m];
    const highDiff = melF[m + 2] - melF[m + 1];
    const enorm = 2 / (melF[m + 2] - melF[m]); // Slaney: constant energy per band
    for (let k = 0; k < nBins; k++) {
      const lower = -(melF[m] - fftFreqs[k]) / lowDiff;
      const upper = (melF[m + 2] - fftFreqs[k]) / highDiff;
      const w = Math.fround(Math.max(0, Math.min(lower, upper)));
      weights[m * nBins + k] = w * enorm;
    }
  }
  return weights;
}

/** Nonzero runs of each filter row, for a fast sparse product (filters are triangles). */
export interface SparseMelFilters {
  nMels: number;
  nBins: number;
  /** first nonzero bin of each mel row */
  start: Int32Array;
  /** number of bins in the run */
  length: Int32Array;
  /** run values, concatenated; row m starts at offset[m] */
  offset: Int32Array;
  values: Float64Array;
}

export function sparseMelFilters(dense: Float32Array, nMels: number): SparseMelFilters {
  const nBins = dense.length / nMels;
  const start = new Int32Array(nMels);
  const length = new Int32Array(nMels);
  const offset = new Int32Array(nMels);
  const vals: number[] = [];
  for (let m = 0; m < nMels; m++) {
    let lo = 0;
    while (lo < nBins && dense[m * nBins + lo] === 0) lo++;
    let hi = nBins;
    while (hi > lo && dense[m * nBins + hi - 1] === 0) hi--;
    start[m] = lo;
    length[m] = hi - lo;
    offset[m] = vals.length;
    for (let k = lo; k < hi; k++) vals.push(dense[m * nBins + k]);
  }
  return { nMels, nBins, start, length, offset, values: Float64Array.from(vals) };
}
