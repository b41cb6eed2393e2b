/** Audio in: decode any file to 16 kHz mono (whole, or streamed in windows), resample, write WAV, trim silence, augment, simulate a phone line. */
export { decodeAudio, loadAudio, loadAudioFfmpeg, mixToMono } from './decode';
export { openAudioStream, decodeStream } from './stream';
export type { AudioStreamOptions, AudioDecodeOptions } from './stream';
export { AudioLimitError, DEFAULT_MAX_CHANNELS, DEFAULT_MAX_SECONDS } from './limits';
export type { AudioLimits } from './limits';
export { resample, Resampler } from './resample';
export { parseAudioHeader, readAudioHeader } from './header';
export type { AudioHeader } from './header';
export type { ResampleQuality } from './resample';
export { encodeWav } from './wav';
export { trimSilence } from './trim';
export type { TrimOptions, TrimResult } from './trim';
export { addGaussianNoise, gain, peakNormalize, makeRng, gaussian } from './augment';
export type { Rng, GainOptions, GaussianNoiseOptions } from './augment';
export { telephoneBand, telephoneFilters, Biquad, mulawCompand, linearToMulaw, mulawToLinear } from './telephone';
export type { TelephoneOptions } from './telephone';
export { isSilent, rmsDb, frameLevelsDb } from './vad';
export type { VadOptions } from './vad';
