/**
 * Whisper's input features: `logMelSpectrogram` (whisper.audio.log_mel_spectrogram on a clip padded
 * or trimmed to 30 s) and `WhisperFeatureExtractor` (Hugging Face's name; reads
 * preprocessor_config.json and batches clips into a [B, n_mels, 3000] tensor).
 */
import * as path from 'path';
import { Files, readJson } from '../io/files';
import { asFiles } from '../io/node';
import { tf } from '../backend';
import { getLogMelComputer, padOrTrim } from './logmelComputer';

export { hannWindow, padOrTrim, LogMelComputer } from './logmelComputer';

export interface LogMelOptions {
  sampleRate?: number;
  nFft?: number;
  hopLength?: number;
  /** Samples the audio is padded/trimmed to before the STFT (default 30 s); 0 = use it as it is. */
  nSamples?: number;
}

/**
 * whisper.audio.log_mel_spectrogram(pad_or_trim(audio)): 16 kHz mono in, [nMels * 3000] out,
 * mel-major (row m holds frames 0..2999). Pass `opts.nSamples = 0` to skip the 30 s pad/trim.
 */
export function logMelSpectrogram(audio: Float32Array, nMels = 80, opts: LogMelOptions = {}): Float32Array {
  const sampleRate = opts.sampleRate ?? 16000;
  const nFft = opts.nFft ?? 400;
  const hopLength = opts.hopLength ?? 160;
  const nSamples = opts.nSamples ?? 30 * sampleRate;
  const x = nSamples > 0 ? padOrTrim(audio, nSamples) : audio;
  return getLogMelComputer(nMels, sampleRate, nFft, hopLength).compute(x);
}

/** The fields of preprocessor_config.json we use (Hugging Face WhisperFeatureExtractor). */
export interface PreprocessorConfig {
  feature_size: number;
  sampling_rate: number;
  hop_length: number;
  chunk_length: number;
  n_fft: number;
  n_samples: number;
  nb_max_frames: number;
}

const REQUIRED: (keyof PreprocessorConfig)[] = [
  'feature_size', 'sampling_rate', 'hop_length', 'chunk_length', 'n_fft', 'n_samples', 'nb_max_frames',
];

/** Hugging Face's WhisperFeatureExtractor: raw 16 kHz audio -> `input_features` [B, 80, 3000]. */
export class WhisperFeatureExtractor {
  readonly featureSize: number;
  readonly samplingRate: number;
  readonly hopLength: number;
  readonly chunkLength: number;
  readonly nFft: number;
  /** samples per 30 s chunk (480000) */
  readonly nSamples: number;
  /** frames per chunk (3000) */
  readonly nFrames: number;

  constructor(config: Partial<PreprocessorConfig> = {}) {
    this.featureSize = config.feature_size ?? 80;
    this.samplingRate = config.sampling_rate ?? 16000;
    this.hopLength = config.hop_length ?? 160;
    this.chunkLength = config.chunk_length ?? 30;
    this.nFft = config.n_fft ?? 400;
    this.nSamples = config.n_samples ?? this.chunkLength * this.samplingRate;
    this.nFrames = config.nb_max_frames ?? Math.floor(this.nSamples / this.hopLength);
    if (this.nFrames !== Math.floor(this.nSamples / this.hopLength)) {
      throw new Error(`WhisperFeatureExtractor: nb_max_frames=${this.nFrames} does not match ` +
        `n_samples/hop_length=${this.nSamples}/${this.hopLength}`);
    }
  }

  /** Reads `<dir>/preprocessor_config.json` (a checkpoint folder or its Files) or that file itself. */
  static fromPretrained(dir: string | Files): WhisperFeatureExtractor {
    const json = typeof dir === 'string' && dir.endsWith('.json');
    const files = asFiles(json ? path.dirname(dir) : dir);
    const name = json ? path.basename(dir) : 'preprocessor_config.json';
    const file = files.path(name);
    if (!files.has(name)) throw new Error(`${file}: file not found (WhisperFeatureExtractor.fromPretrained)`);
    const cfg = readJson<Record<string, unknown>>(files, name) ?? {};
    for (const k of REQUIRED) {
      if (typeof cfg[k] !== 'number' || !Number.isFinite(cfg[k] as number)) {
        throw new Error(`${file}: field "${k}" must be a number, got ${JSON.stringify(cfg[k])}`);
      }
    }
    return new WhisperFeatureExtractor(cfg as unknown as PreprocessorConfig);
  }

  /** Log-Mel of one clip at `samplingRate`, padded/trimmed to `nSamples`: [featureSize * nFrames]. */
  extract(audio: Float32Array): Float32Array {
    const x = padOrTrim(audio, this.nSamples);
    return getLogMelComputer(this.featureSize, this.samplingRate, this.nFft, this.hopLength).compute(x);
  }

  /** Batch of clips -> `input_features` tensor [B, featureSize, nFrames] (caller disposes it). */
  call(audios: Float32Array[], opts: { trimPadding?: boolean } = {}): tf.Tensor3D {
    if (audios.length === 0) throw new Error('WhisperFeatureExtractor.call: empty batch');
    const per = this.featureSize * this.nFrames;
    const data = new Float32Array(audios.length * per);
    const c = getLogMelComputer(this.featureSize, this.samplingRate, this.nFft, this.hopLength);
    audios.forEach((a, i) => c.compute(padOrTrim(a, this.nSamples), data.subarray(i * per, (i + 1) * per)));
    const full = tf.tensor3d(data, [audios.length, this.featureSize, this.nFrames]);
    const frames = opts.trimPadding ? this.trimmedFrames(Math.max(...audios.map((a) => a.length))) : this.nFrames;
    if (frames === this.nFrames) return full;
    const cut = full.slice([0, 0, 0], [-1, -1, frames]);
    full.dispose();
    return cut;
  }

  /**
   * Frames kept by `call(..., { trimPadding: true })`: the longest clip's frames plus
   * TRIM_MARGIN_FRAMES of padding, rounded up to even (the encoder halves the frame rate).
   */
  trimmedFrames(longestSamples: number): number {
    return framesWithMargin(Math.ceil(longestSamples / this.hopLength), this.nFrames);
  }
}

/**
 * `features` [B, nMels, nFrames] cut after the longest clip's audio plus TRIM_MARGIN_FRAMES (even),
 * found from the features alone: a clip's trailing padding frames all hold its smallest value (the
 * log-Mel of zeros, at the clamp floor). Not reference-identical (like trimPadding): for a draft
 * model's encoder in speculative decoding, whose output decides only how fast the main model's
 * tokens come. Returns `features` itself when nothing is cut (the caller disposes only a new tensor).
 */
export function trimToAudio(features: tf.Tensor3D): tf.Tensor3D {
  const [batch, mels, frames] = features.shape;
  const data = features.dataSync();
  let last = 0;
  for (let b = 0; b < batch; b++) {
    const clip = data.subarray(b * mels * frames, (b + 1) * mels * frames);
    let floor = Infinity;
    for (const v of clip) floor = Math.min(floor, v);
    for (let f = frames - 1; f > last; f--) {
      let padding = true;
      for (let m = 0; m < mels && padding; m++) padding = clip[m * frames + f] === floor;
      if (!padding) {
        last = f;
        break;
      }
    }
  }
  const keep = framesWithMargin(last + 1, frames);
  return keep === frames ? features : features.slice([0, 0, 0], [-1, -1, keep]);
}

/** `audioFrames` plus TRIM_MARGIN_FRAMES, rounded up to even (the encoder halves the frame rate), at most `nFrames`. */
function framesWithMargin(audioFrames: number, nFrames: number): number {
  return Math.min(nFrames, 2 * Math.ceil((audioFrames + TRIM_MARGIN_FRAMES) / 2));
}

/**
 * Padding frames (10 ms each) kept after the audio in the opt-in trimPadding mode, which runs the
 * encoder on the clip instead of the whole 30 s window (whisper.cpp's `audio_ctx`): several times
 * faster on short clips, not reference-identical (its WER is in BENCHMARKS.md).
 */
export const TRIM_MARGIN_FRAMES = 300;
