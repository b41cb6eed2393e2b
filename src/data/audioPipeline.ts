/**
 * The audio preprocessing step of the pipeline: trim leading/trailing silence, peak-normalize,
 * and (training split only) seeded augmentation. Each row's augmentation draws from its own
 * generator seeded with `${seed}:${file name}`, so a row's result does not depend on which other
 * rows were processed or in which order, and the same seed reproduces the same audio in any process.
 * Processed audio is stored decoded in the `audio` column (`{array, samplingRate}`).
 */
import { GainOptions, GaussianNoiseOptions, addGaussianNoise, gain, makeRng, peakNormalize } from '../audio/augment';
import { basename } from 'path';
import { TrimOptions, trimSilence } from '../audio/trim';
import { AudioDataset } from './dataset';

export interface AudioPipelineOptions {
  /** Remove leading/trailing silence (librosa trim, default topDb 30); false to skip. */
  trim?: TrimOptions | false;
  /** Scale every clip to peak 1 so loud and quiet recordings look alike (default true). */
  normalize?: boolean;
  /** Training-only augmentation; leave undefined for evaluation splits. */
  augment?: { noise?: GaussianNoiseOptions; gain?: GainOptions };
  /** Seed of the augmentation (required when augmenting). */
  seed?: number | string;
  cacheDir?: string;
}

/** One clip through the pipeline. `rowSeed` makes augmentation reproducible per row. */
export function processClip(x: Float32Array, options: AudioPipelineOptions, rowSeed = '0'): Float32Array {
  let y = x;
  if (options.trim !== false) y = trimSilence(y, options.trim ?? { topDb: 30 }).audio.slice();
  if (options.normalize !== false) y = peakNormalize(y);
  if (options.augment) {
    if (options.seed === undefined) throw new Error('audio pipeline: augmentation needs a seed so runs can be repeated');
    const rng = makeRng(`${options.seed}:${rowSeed}`);
    if (options.augment.gain) y = gain(y, options.augment.gain, rng);
    if (options.augment.noise) y = addGaussianNoise(y, options.augment.noise, rng);
  }
  return y;
}

/**
 * The dataset with every clip's samples replaced by `fn(samples, samplingRate, row index)`: decoded
 * once, stored decoded in the `audio` column, cached on disk with `cacheDir` (keyed on the rows,
 * `fn`'s source and `cacheKey`). E.g. telephone audio: `mapAudio(ds, (x, rate) => telephoneBand(x, rate))`.
 */
export async function mapAudio<R extends object>(ds: AudioDataset<R>,
  fn: (samples: Float32Array, samplingRate: number, index: number, path?: string) => Float32Array | Promise<Float32Array>,
  options: { cacheDir?: string; cacheKey?: unknown } = {}): Promise<AudioDataset<R>> {
  const out = await ds.mapWithAudio(async (ex, i) => ({
    audio: { path: ex.audio.path, array: await fn(ex.audio.array, ex.audio.samplingRate, i, ex.audio.path), samplingRate: ex.audio.samplingRate },
  }), { cacheDir: options.cacheDir, cacheKey: { fn: fn.toString(), key: options.cacheKey ?? null } });
  // `audio` stays an AudioValue (now decoded samples), so the row type is unchanged.
  return out as unknown as AudioDataset<R>;
}

/** The dataset with its audio processed (decoded once, cached on disk with `cacheDir`). */
export async function preprocessAudio<R extends object>(ds: AudioDataset<R>, options: AudioPipelineOptions = {}): Promise<AudioDataset<R>> {
  const { cacheDir, ...params } = options;
  // Seed each row by its file name (stable under shuffle/select), by position only for in-memory audio.
  return mapAudio(ds, (x, _rate, i, file) => processClip(x, params, file ? basename(file) : String(i)),
    { cacheDir, cacheKey: { step: 'preprocessAudio/v1', ...params } });
}
