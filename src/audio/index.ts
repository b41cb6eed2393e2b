/** Audio in: decode any file to 16 kHz mono, resample, write WAV, trim silence, augment. */
export { decodeAudio, loadAudio, mixToMono } from './decode';
export { resample } from './resample';
export type { ResampleQuality } from './resample';
export { encodeWav } from './wav';
export { trimSilence } from './trim';
export type { TrimOptions, TrimResult } from './trim';
export { addGaussianNoise, gain, peakNormalize, makeRng, gaussian } from './augment';
export type { Rng, GainOptions, GaussianNoiseOptions } from './augment';
