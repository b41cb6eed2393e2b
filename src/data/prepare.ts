/**
 * `prepareDataset`: the guides' `prepare_dataset` step. Each row becomes
 *   inputFeatures  log-Mel of the 16 kHz audio (featureSize x nFrames, flat Float32Array)
 *   labels         prefix tokens (<|startoftranscript|><|lang|><|task|><|notimestamps|>)
 *                  + tokens of the (normalized) text + <|endoftext|>
 *                  (with `timestampRatio`, that share of rows: <|0.00|> text <|2.40|> per segment, ./timestamps.ts)
 *   inputLength    audio duration in seconds (used by the validity filter)
 * Results are cached on disk by `map`, keyed on everything that changes them (normalizer included).
 */
import { AudioDataset } from './dataset';
import { IterableAudioDataset } from './stream';
import { isTimestamped, TimedSegment, timestampedLabels, TimestampTokenizer } from './timestamps';
import { Example, PreparedRow, Row } from './types';

/** What prepareDataset needs from src/features/logmel.ts's WhisperFeatureExtractor. */
export interface FeatureExtractorLike {
  readonly featureSize: number;
  readonly nFrames: number;
  readonly samplingRate: number;
  extract(audio: Float32Array): Float32Array;
}

/** What prepareDataset needs from src/tokenizer/whisper.ts's WhisperTokenizer. */
export interface TokenizerLike {
  readonly eot: number;
  readonly sot: number;
  encode(text: string): number[];
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string;
  prefixTokens(options: { language?: string; task?: 'transcribe' | 'translate'; timestamps?: boolean }): number[];
  /** <|1.00|>'s id for 1 s (needed with timestampRatio). */
  timestampToken?(seconds: number): number;
  /** Whisper's English normalizer with the checkpoint's spelling map (what `normalizer: 'english'` uses). */
  normalize?(text: string): string;
}

export type NormalizerSpec = string | { alphabet: string } | { language: string } | ((s: string) => string);

export interface PrepareOptions {
  featureExtractor: FeatureExtractorLike;
  tokenizer: TokenizerLike;
  language?: string;
  task?: 'transcribe' | 'translate';
  timestamps?: boolean;
  /**
   * Share of the examples (0..1) whose labels carry timestamps (./timestamps.ts): the row's
   * `segments` column ({start, end, text}[], seconds) or else the whole clip as one segment; the
   * others end the prompt with <|notimestamps|>. openai trained with about 0.5. Default 0.
   */
  timestampRatio?: number;
  /** Seeds which examples timestamps go to (default 0). */
  seed?: number | string;
  /** Applied to the text before tokenizing: a getNormalizer name or any function (default none). */
  normalizer?: NormalizerSpec;
  cacheDir?: string;
  /** Keep the original columns next to inputFeatures/labels (default: drop them, as the guides do). */
  keepColumns?: boolean;
  onProgress?: (done: number, total: number) => void;
}


function resolveNormalizer(spec: NormalizerSpec | undefined, tokenizer: TokenizerLike): (s: string) => string {
  if (spec === undefined) return (s) => s;
  if (typeof spec === 'function') return spec;
  // The English normalizer's spelling map belongs to the checkpoint: the tokenizer read it.
  if (spec === 'english' && tokenizer.normalize) return (s) => tokenizer.normalize!(s);
  // src/text is loaded only when a named normalizer is used.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const text = require('../text') as { getNormalizer(name: unknown): (s: string) => string };
  return text.getNormalizer(spec);
}

/** Labels for one transcript: prefix + text tokens + <|endoftext|>. */
export function labelsFor(text: string, tokenizer: TokenizerLike, options: { language?: string; task?: 'transcribe' | 'translate'; timestamps?: boolean }): number[] {
  return [...tokenizer.prefixTokens({ timestamps: false, ...options }), ...tokenizer.encode(text), tokenizer.eot];
}

/**
 * The guides' `dataset.map(prepare_dataset)`. In memory (an AudioDataset, cached on disk with
 * `cacheDir`) or streamed (an IterableAudioDataset: rows are prepared lazily while iterating, one
 * at a time, so memory stays bounded; shuffle the stream before preparing it).
 */
export function prepareDataset<R extends Row>(ds: IterableAudioDataset<R>, options: PrepareOptions): IterableAudioDataset<PreparedRow>;
export function prepareDataset<R extends Row>(ds: AudioDataset<R>, options: PrepareOptions): Promise<AudioDataset<PreparedRow & Partial<R>>>;
export function prepareDataset<R extends Row>(ds: AudioDataset<R> | IterableAudioDataset<R>, options: PrepareOptions):
  IterableAudioDataset<PreparedRow> | Promise<AudioDataset<PreparedRow & Partial<R>>> {
  const { featureExtractor: fe, tokenizer, language, task = 'transcribe', timestamps = false } = options;
  if (ds.samplingRate !== fe.samplingRate) {
    const e = new Error(`prepareDataset: audio is decoded at ${ds.samplingRate} Hz but the feature extractor expects ` +
      `${fe.samplingRate} Hz; use ds.castColumn('audio', {samplingRate: ${fe.samplingRate}})`);
    if (ds instanceof IterableAudioDataset) throw e;
    return Promise.reject(e);
  }
  const normalize = resolveNormalizer(options.normalizer, tokenizer);
  const prefix = { language, task, timestamps };
  const ratio = options.timestampRatio ?? 0;
  const prepare = (ex: Example<R>, index?: number): PreparedRow => {
    const row = ex as unknown as Row;
    const seconds = ex.audio.array.length / ex.audio.samplingRate;
    const timed = ratio > 0 && isTimestamped(ratio, options.seed ?? 0, index ?? ex.audio.path ?? row.text);
    return {
      inputFeatures: fe.extract(ex.audio.array),
      labels: timed ? timedLabels(row, seconds, normalize, tokenizer, { language, task }) : labelsFor(normalize(row.text), tokenizer, prefix),
      inputLength: seconds,
    };
  };
  if (ds instanceof IterableAudioDataset) return ds.mapWithAudio(prepare);
  return prepareInMemory(ds, options, prepare);
}

/** Timestamped labels of a row: its `segments`, else the whole clip as one segment. */
function timedLabels(row: Row, seconds: number, normalize: (s: string) => string, tokenizer: TokenizerLike,
  options: { language?: string; task?: 'transcribe' | 'translate' }): number[] {
  if (!tokenizer.timestampToken) throw new Error('prepareDataset: timestampRatio needs a tokenizer with timestampToken (WhisperTokenizer)');
  const given = row.segments as TimedSegment[] | undefined;
  if (given !== undefined && !Array.isArray(given)) throw new Error(`prepareDataset: column 'segments' must be a list of {start, end, text}, got ${typeof given}`);
  const segments = (given ?? [{ start: 0, end: seconds, text: row.text }]).map((s) => ({ ...s, text: normalize(s.text) }));
  return timestampedLabels(segments, tokenizer as TimestampTokenizer, options);
}

async function prepareInMemory<R extends Row>(ds: AudioDataset<R>, options: PrepareOptions, prepare: (ex: Example<R>, index: number) => PreparedRow):
  Promise<AudioDataset<PreparedRow & Partial<R>>> {
  const { featureExtractor: fe, tokenizer, language, task = 'transcribe', timestamps = false } = options;
  const prefix = { language, task, timestamps };
  const timestampRatio = options.timestampRatio ?? 0;
  // The key names everything the closure below uses; a function normalizer counts by its source.
  const cacheKey = {
    step: 'prepareDataset/v1', language, task, timestamps, ...(timestampRatio ? { timestampRatio, seed: options.seed ?? 0 } : {}),
    normalizer: typeof options.normalizer === 'function' ? options.normalizer.toString() : options.normalizer ?? 'none',
    features: [fe.featureSize, fe.nFrames, fe.samplingRate, fe.constructor.name],
    tokenizer: [tokenizer.prefixTokens(prefix), tokenizer.eot, tokenizer.encode('Hello world, 123! <|endoftext|>')], // the last: how text that looks like a control token is encoded
  };
  const removeColumns = options.keepColumns ? [] : ds.columnNames;
  const out = await ds.mapWithAudio(prepare, { cacheDir: options.cacheDir, cacheKey, removeColumns, onProgress: options.onProgress });
  return out as unknown as AudioDataset<PreparedRow & Partial<R>>;
}
