/**
 * Whole recordings, as openai's `whisper/transcribe.py` `transcribe()` handles them:
 *
 * - a clip of up to 30 s is one window decoded like the reference (<|notimestamps|>, greedy or
 *   beam: the same tokens as `generate`); clips of a batch are decoded together;
 * - a longer recording is read in 30 s windows with timestamp tokens; the window's complete
 *   segments are kept and the next window starts at the last complete timestamp (`seek`), so no
 *   word is cut at a window boundary; the text so far is the next window's <|startofprev|> prompt
 *   (`conditionOnPreviousText`, dropped after a temperature above 0.5);
 * - a window whose text is too repetitive (gzip compression ratio above 2.4) or too unlikely
 *   (average log-probability below -1) is decoded again at the next temperature (0, 0.2 ... 1);
 * - a window where <|nospeech|> is likely (> 0.6) and the text unlikely is skipped as silence, and
 *   optionally (`vad`, not in openai's) windows with no loud frame are skipped before decoding;
 * - `wordTimestamps` adds per-word times and probabilities (./timing.ts).
 *
 * Every window's features are sliced from the log-Mel of the whole recording, as openai's
 * (features/recordingLogMel.ts). Audio comes through an `AudioSource` ("samples [start, end)"), read
 * once from start to end: a long file is never in memory whole, its log-Mel is (115 MB an hour).
 */
import * as tf from '@tensorflow/tfjs';
import { SilenceGate, VadOptions } from '../audio/vad';
import { WhisperFeatureExtractor } from '../features/logmel';
import { RecordingLogMel } from '../features/recordingLogMel';
import { DecodingModel, DecodingOptions, DecodingResult, DecodingTask } from './decoding';
import { AudioFeatures } from './inference';
import { addWordTimestamps, AlignmentModel, WordSplitter } from './timing';
import { TIME_PRECISION } from '../tokenizer/special';

export const SAMPLE_RATE = 16000;
/** Mel frames per second (hop of 160 samples). */
export const FRAMES_PER_SECOND = 100;
/** Mel frames per timestamp step (the encoder halves the frame rate). */
const INPUT_STRIDE = 2;

/** Audio samples (16 kHz mono) read by range: a file streamed from disk, or an array. */
export interface AudioSource {
  /** Total number of samples, when known before reading (a stream's is known at its end). */
  readonly length?: number;
  /** Samples [start, end), fewer where the audio ends; `start` never goes back. */
  read(start: number, end: number): Float32Array | Promise<Float32Array>;
}

/** An AudioSource over samples already in memory. */
export function arraySource(samples: Float32Array): AudioSource {
  return { length: samples.length, read: (start, end) => samples.subarray(start, end) };
}

/**
 * An AudioSource over consecutive chunks (audio/stream.ts openAudioStream): it keeps the samples
 * from the latest `start` read on, so memory holds about one read whatever the length.
 * `length`, when given, is a header's declared frames (transcription reads to the stream's end).
 */
export function streamSource(chunks: AsyncIterable<Float32Array>, length?: number): AudioSource {
  const it = chunks[Symbol.asyncIterator]();
  let buffer = new Float32Array(0);
  let bufferStart = 0;
  let ended = false;
  return {
    length,
    async read(start, end) {
      if (start < bufferStart) throw new Error(`streamSource: sample ${start} was already dropped (reads must move forward)`);
      // Drop what no later read needs, then pull chunks until [start, end) is in the buffer.
      if (start > bufferStart) {
        buffer = buffer.slice(Math.min(buffer.length, start - bufferStart));
        bufferStart = start;
      }
      while (!ended && bufferStart + buffer.length < end) {
        const next = await it.next();
        if (next.done) ended = true;
        else {
          const grown = new Float32Array(buffer.length + next.value.length);
          grown.set(buffer);
          grown.set(next.value, buffer.length);
          buffer = grown;
        }
      }
      return buffer.subarray(start - bufferStart, Math.min(buffer.length, end - bufferStart));
    },
  };
}

/** The options of `transcribe` (the CLI's flags are these in kebab-case). */
export interface TranscribeOptions extends Omit<DecodingOptions, 'temperature' | 'promptIds' | 'withoutTimestamps'> {
  /**
   * Temperatures tried in turn while a window fails the thresholds below. Default: openai's
   * [0, 0.2, 0.4, 0.6, 0.8, 1] for recordings over 30 s, 0 (no fallback) for a clip of up to 30 s,
   * which then gives exactly the reference's tokens.
   */
  temperature?: number | number[];
  /** Above this gzip compression ratio the text counts as a failure (default 2.4; null: never). */
  compressionRatioThreshold?: number | null;
  /** Below this average log-probability the text counts as a failure (default -1; null: never). */
  logprobThreshold?: number | null;
  /** Above this <|nospeech|> probability, with a failed log-probability, a window is silence (default 0.6; null: never). */
  noSpeechThreshold?: number | null;
  /** Feed each window the text before it (default true, as openai). */
  conditionOnPreviousText?: boolean;
  /** Text put before the first window's prompt (names, spelling, style). */
  initialPrompt?: string;
  /** Per-word start, end and probability in every segment. */
  wordTimestamps?: boolean;
  prependPunctuations?: string;
  appendPunctuations?: string;
  /**
   * Skip windows of a long recording with no frame louder than a threshold ({}: -45 dBFS) before
   * decoding them. Default false: every window is decoded, as openai's transcribe() does.
   */
  vad?: false | VadOptions;
  /** Opt-in fast mode for clips up to 30 s, not reference-identical: see TRIM_MARGIN_FRAMES in features/logmel.ts. */
  trimPadding?: boolean;
  /** Clips of up to 30 s decoded together (default 1). */
  batchSize?: number;
  /** Called as soon as a segment is final. */
  onSegment?: (segment: Segment) => void;
  /** Called after each window with the seconds done and the total. */
  onProgress?: (seconds: number, total: number) => void;
}

export interface Word {
  word: string;
  start: number;
  end: number;
  probability: number;
}

export interface Segment {
  id: number;
  /** Mel frame where the window holding this segment started. */
  seek: number;
  /** Seconds from the start of the audio. */
  start: number;
  end: number;
  text: string;
  /** The segment's tokens as the model wrote them (timestamps included in long-form). */
  tokens: number[];
  temperature: number;
  avgLogprob: number;
  compressionRatio: number;
  noSpeechProb: number;
  words?: Word[];
}

export interface TranscriptionResult {
  text: string;
  /** Text token ids, without timestamps or specials. */
  tokens: number[];
  segments: Segment[];
  language: string;
  /** Windows decoded, skipped by the VAD gate, and skipped as no speech. */
  windows: number;
  skippedSilent: number;
  skippedNoSpeech: number;
  /** Speculative decoding: draft tokens proposed and accepted over the whole recording. */
  draft?: { proposed: number; accepted: number };
  /** Wall-clock seconds spent on this recording (its share of a batch), set by `transcribe`. */
  seconds?: number;
  /** Why the transcript is empty without decoding (audio shorter than one frame, or silent throughout). */
  warning?: string;
}

/** What transcription needs: a model, its tokenizer and feature extractor (a WhisperPipeline fits). */
export interface Transcriber {
  model: DecodingModel & AlignmentModel;
  tokenizer: WordSplitter & {
    decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
    encode(text: string): number[];
  };
  featureExtractor: WhisperFeatureExtractor;
}

/**
 * openai's compression_ratio: UTF-8 bytes / zlib-compressed bytes. CompressionStream('deflate') is
 * zlib at its default level in Node and in browsers: the same bytes as zlib.compress.
 */
export async function compressionRatio(text: string): Promise<number> {
  const bytes = new TextEncoder().encode(text);
  const deflated = await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate'))).arrayBuffer();
  return bytes.length / deflated.byteLength;
}

const LONG_FORM_TEMPERATURES = [0, 0.2, 0.4, 0.6, 0.8, 1.0];

/** The temperatures to try: given, or the default for this kind of input. */
function temperatures(opts: TranscribeOptions, longForm: boolean): number[] {
  const t = opts.temperature ?? (longForm ? LONG_FORM_TEMPERATURES : 0);
  const list = Array.isArray(t) ? t : [t];
  if (!list.length || list.some((x) => !(x >= 0))) throw new Error(`transcribe: temperature must be a number >= 0 or a list of them, got ${JSON.stringify(t)}`);
  return list;
}

interface Decoded extends DecodingResult {
  text: string;
  compressionRatio: number;
}

/**
 * openai's decode_with_fallback for the clips of one encoded batch: each clip is decoded again
 * at the next temperature while its result fails a threshold (beam search only at 0, best-of
 * sampling above it).
 */
async function decodeWithFallback(t: Transcriber, audio: AudioFeatures, features: tf.Tensor3D,
  opts: TranscribeOptions, decoding: DecodingOptions, temps: number[]): Promise<Decoded[]> {
  const out: Decoded[] = new Array(audio.clips);
  let pending = Array.from({ length: audio.clips }, (_, i) => i);
  const crt = opts.compressionRatioThreshold === undefined ? 2.4 : opts.compressionRatioThreshold;
  const lpt = opts.logprobThreshold === undefined ? -1 : opts.logprobThreshold;
  const nst = opts.noSpeechThreshold === undefined ? 0.6 : opts.noSpeechThreshold;
  for (const temperature of temps) {
    if (!pending.length) break;
    const task = new DecodingTask(t.model, {
      ...decoding, temperature,
      numBeams: temperature > 0 ? undefined : decoding.numBeams, patience: temperature > 0 ? undefined : decoding.patience,
      bestOf: temperature > 0 ? decoding.bestOf : undefined,
    });
    const results = await task.run({ features, audio, clips: pending });
    const failed: number[] = [];
    for (const [k, r] of results.entries()) {
      const text = t.tokenizer.decode(r.tokens, { skipSpecialTokens: true });
      const d = { ...r, text, compressionRatio: await compressionRatio(text.trim()) };
      out[pending[k]] = d;
      let needsFallback = (crt !== null && d.compressionRatio > crt) || (lpt !== null && d.avgLogprob < lpt);
      if (nst !== null && lpt !== null && d.noSpeechProb > nst && d.avgLogprob < lpt) needsFallback = false; // silence
      if (needsFallback) failed.push(pending[k]);
    }
    pending = failed;
  }
  return out;
}

function checkOptions(opts: TranscribeOptions): void {
  const bs = opts.batchSize ?? 1;
  if (!Number.isInteger(bs) || bs < 1) throw new Error(`transcribe: batchSize must be a positive integer, got ${opts.batchSize}`);
}

/** The DecodingOptions every window shares. */
function decodingOptions(opts: TranscribeOptions): DecodingOptions {
  const { temperature, compressionRatioThreshold, logprobThreshold, noSpeechThreshold, conditionOnPreviousText, initialPrompt,
    wordTimestamps, prependPunctuations, appendPunctuations, vad, trimPadding, batchSize, onSegment, onProgress, ...decoding } = opts;
  return decoding;
}

/**
 * Clips of up to 30 s, `batchSize` at a time: one window each, no timestamps, the same tokens as
 * `generate` at temperature 0. One result per clip.
 */
export async function transcribeClips(t: Transcriber, clips: Float32Array[], opts: TranscribeOptions = {}): Promise<TranscriptionResult[]> {
  checkOptions(opts);
  const tooLong = clips.findIndex((c) => c.length > t.featureExtractor.nSamples);
  if (tooLong >= 0) throw new Error(`transcribeClips: clip ${tooLong} is longer than 30 s (use transcribeAudio)`);
  // Nothing to decode in a clip shorter than one STFT frame or all zeros: Whisper answers such input
  // with a hallucination (" you" for one sample). Real speech never is either, so parity is untouched.
  const warnings = clips.map((c) => degenerateAudio(c, t.featureExtractor.nFft));
  const decoded = await decodeClips(t, clips.filter((_c, k) => !warnings[k]), opts);
  return warnings.map((warning) => (warning ? silentResult(t, opts, 0, 1, warning) : decoded.shift()!));
}

/** Why `clip` holds nothing to transcribe: shorter than one analysis frame, or every sample zero. */
function degenerateAudio(clip: Float32Array, nFft: number): string | undefined {
  if (clip.length < nFft) return `audio of ${clip.length} samples is shorter than one ${nFft}-sample frame: nothing to transcribe`;
  if (clip.every((x) => x === 0)) return 'every sample is zero (digital silence): nothing to transcribe';
  return undefined;
}

/** The empty transcript of audio skipped as silent, with the reason as its warning. */
function silentResult(t: Transcriber, opts: TranscribeOptions, windows: number, skippedSilent: number, warning: string): TranscriptionResult {
  const language = (opts.language === undefined ? undefined : new DecodingTask(t.model, { language: opts.language }).language) ?? 'en';
  return { text: '', tokens: [], segments: [], language, windows, skippedSilent, skippedNoSpeech: 0, warning };
}

/** transcribeClips for clips that hold audio: decoded `batchSize` at a time. */
async function decodeClips(t: Transcriber, clips: Float32Array[], opts: TranscribeOptions): Promise<TranscriptionResult[]> {
  const temps = temperatures(opts, false);
  const out: TranscriptionResult[] = [];
  const bs = opts.batchSize ?? 1;
  for (let i = 0; i < clips.length; i += bs) {
    const batch = clips.slice(i, i + bs);
    const features = t.featureExtractor.call(batch, { trimPadding: opts.trimPadding });
    const enc = t.model.encode(features);
    const audio = new AudioFeatures(t.model, enc);
    try {
      const decoded = await decodeWithFallback(t, audio, features, opts, { ...decodingOptions(opts), withoutTimestamps: true }, temps);
      for (let c = 0; c < batch.length; c++) {
        const d = decoded[c];
        const frames = Math.floor(batch[c].length / (SAMPLE_RATE / FRAMES_PER_SECOND));
        const segment: Segment = {
          id: 0, seek: 0, start: 0, end: frames / FRAMES_PER_SECOND, text: d.text, tokens: d.tokens, temperature: d.temperature,
          avgLogprob: d.avgLogprob, compressionRatio: d.compressionRatio, noSpeechProb: d.noSpeechProb,
        };
        if (opts.wordTimestamps) {
          const one = tf.slice(enc, [c, 0, 0], [1, -1, -1]) as tf.Tensor3D;
          try {
            await addWordTimestamps({
              segments: [segment], model: t.model, tokenizer: t.tokenizer, sotSequence: sotSequence(t, opts, d.language),
              encoderHiddenStates: one, numFrames: frames, language: d.language, timeOffset: 0, lastSpeechTimestamp: 0,
              prependPunctuations: opts.prependPunctuations, appendPunctuations: opts.appendPunctuations,
            });
          } finally {
            one.dispose();
          }
        }
        const segments = d.text.trim() ? [segment] : [];
        segments.forEach((s) => opts.onSegment?.(s));
        out.push({
          text: d.text, tokens: d.tokens, segments, language: d.language, windows: 1, skippedSilent: 0, skippedNoSpeech: 0,
          draft: d.draft,
        });
      }
    } finally {
      audio.dispose();
      enc.dispose();
      features.dispose();
    }
  }
  return out;
}

/** The prompt without <|notimestamps|> (what the word alignment pass starts with). */
function sotSequence(t: Transcriber, opts: TranscribeOptions, language: string): number[] {
  return new DecodingTask(t.model, { task: opts.task, language, withoutTimestamps: false }).sotSequence(language);
}

/** Splits one window's tokens at timestamp pairs (openai's transcribe loop): segments and where to seek next. */
export function splitWindow(tokens: number[], timestampBegin: number, segmentFrames: number): {
  segments: { start: number; end: number; tokens: number[] }[]; seekFrames: number; singleTimestampEnding: boolean;
} {
  const tb = timestampBegin;
  const isTs = tokens.map((x) => x >= tb);
  const n = tokens.length;
  const singleTimestampEnding = n >= 2 && !isTs[n - 2] && isTs[n - 1];
  const consecutive: number[] = [];
  for (let i = 1; i < n; i++) if (isTs[i - 1] && isTs[i]) consecutive.push(i);
  const segments: { start: number; end: number; tokens: number[] }[] = [];
  if (consecutive.length) {
    const slices = singleTimestampEnding ? [...consecutive, n] : consecutive;
    let last = 0;
    for (const cur of slices) {
      const part = tokens.slice(last, cur);
      segments.push({ start: (part[0] - tb) * TIME_PRECISION, end: (part[part.length - 1] - tb) * TIME_PRECISION, tokens: part });
      last = cur;
    }
    // Without a final lone timestamp, the text after the last pair is unfinished: seek to that pair.
    const seekFrames = singleTimestampEnding ? segmentFrames : (tokens[last - 1] - tb) * INPUT_STRIDE;
    return { segments, seekFrames, singleTimestampEnding };
  }
  // No pair: one segment for the whole window, ending at its last timestamp if there is one.
  let end = segmentFrames / FRAMES_PER_SECOND;
  const stamps = tokens.filter((x) => x >= tb);
  if (stamps.length && stamps[stamps.length - 1] !== tb) end = (stamps[stamps.length - 1] - tb) * TIME_PRECISION;
  segments.push({ start: 0, end, tokens });
  return { segments, seekFrames: segmentFrames, singleTimestampEnding };
}

/**
 * Reads the whole source once, from its start: the recording's log-Mel (openai's
 * log_mel_spectrogram(audio, padding=N_SAMPLES)) and, when `vad` is on, its silence gate.
 */
async function readRecording(fe: WhisperFeatureExtractor, source: AudioSource, vad: TranscribeOptions['vad']):
  Promise<{ mel: RecordingLogMel; gate?: SilenceGate }> {
  const mel = new RecordingLogMel(fe.featureSize, fe.samplingRate, fe.nFft, fe.hopLength);
  const gate = vad ? new SilenceGate(vad, fe.hopLength) : undefined;
  for (let pos = 0; ; pos += fe.nSamples) {
    const chunk = await source.read(pos, pos + fe.nSamples);
    mel.push(chunk);
    gate?.push(chunk);
    if (chunk.length < fe.nSamples) break;
  }
  mel.end();
  return { mel, gate };
}

/** Any length of audio (openai's transcribe()); a clip of up to 30 s goes through transcribeClips. */
export async function transcribeAudio(t: Transcriber, audio: Float32Array | AudioSource,
  opts: TranscribeOptions = {}): Promise<TranscriptionResult> {
  checkOptions(opts);
  const source = audio instanceof Float32Array ? arraySource(audio) : audio;
  const fe = t.featureExtractor;
  const first = await source.read(0, fe.nSamples + 1);
  if (first.length <= fe.nSamples) return (await transcribeClips(t, [first.slice()], opts))[0];
  const { mel, gate } = await readRecording(fe, source, opts.vad);
  const contentFrames = mel.contentFrames;
  const model = t.model;
  const sp = model.specialTokens;
  const temps = temperatures(opts, true);
  const decoding: DecodingOptions = { ...decodingOptions(opts), withoutTimestamps: false };
  const initialPrompt = opts.initialPrompt ? t.tokenizer.encode(' ' + opts.initialPrompt.trim()) : [];
  const allTokens: number[] = [...initialPrompt];
  let promptResetSince = 0;
  const segments: Segment[] = [];
  let language = opts.language === undefined ? undefined : new DecodingTask(model, { language: opts.language }).language;
  let lastSpeech = 0;
  let windows = 0;
  let skippedSilent = 0;
  let skippedNoSpeech = 0;
  const draft = { proposed: 0, accepted: 0 };

  const progress = (seek: number) => opts.onProgress?.(Math.min(seek, contentFrames) / FRAMES_PER_SECOND, contentFrames / FRAMES_PER_SECOND);
  for (let seek = 0; seek < contentFrames;) {
    const timeOffset = seek / FRAMES_PER_SECOND;
    const segmentSize = Math.min(fe.nFrames, contentFrames - seek);
    if (gate?.isSilent(seek * fe.hopLength, (seek + segmentSize) * fe.hopLength)) {
      skippedSilent++;
      seek += segmentSize;
      progress(seek);
      continue;
    }
    windows++;
    const features = tf.tensor3d(mel.window(seek, segmentSize, fe.nFrames), [1, fe.featureSize, fe.nFrames]);
    const enc = model.encode(features);
    const audioFeatures = new AudioFeatures(model, enc);
    let advance: number;
    let windowSegments: Segment[] = [];
    let result: Decoded;
    try {
      if (language === undefined) {
        language = sp.isMultilingual ? (await new DecodingTask(model, {}).detectLanguage(audioFeatures)).codes[0] : 'en';
      }
      [result] = await decodeWithFallback(t, audioFeatures, features, opts,
        { ...decoding, language, promptIds: allTokens.slice(promptResetSince) }, temps);
      if (result.draft) {
        draft.proposed += result.draft.proposed;
        draft.accepted += result.draft.accepted;
      }
      const nst = opts.noSpeechThreshold === undefined ? 0.6 : opts.noSpeechThreshold;
      const lpt = opts.logprobThreshold === undefined ? -1 : opts.logprobThreshold;
      if (nst !== null && result.noSpeechProb > nst && !(lpt !== null && result.avgLogprob > lpt)) {
        skippedNoSpeech++;
        seek += segmentSize;
        progress(seek);
        continue;
      }
      const split = splitWindow(result.tokens, sp.timestampBegin, segmentSize);
      advance = split.seekFrames;
      windowSegments = split.segments.map((s) => ({
        id: 0, seek, start: timeOffset + s.start, end: timeOffset + s.end, tokens: s.tokens,
        text: t.tokenizer.decode(s.tokens.filter((x) => x < sp.eot), { skipSpecialTokens: true }),
        temperature: result.temperature, avgLogprob: result.avgLogprob, compressionRatio: result.compressionRatio,
        noSpeechProb: result.noSpeechProb,
      }));
      if (opts.wordTimestamps) {
        lastSpeech = await addWordTimestamps({
          segments: windowSegments, model, tokenizer: t.tokenizer, sotSequence: sotSequence(t, opts, language),
          encoderHiddenStates: enc, numFrames: segmentSize, language, timeOffset, lastSpeechTimestamp: lastSpeech,
          prependPunctuations: opts.prependPunctuations, appendPunctuations: opts.appendPunctuations,
        });
        // Words are finer than timestamps: after an unfinished segment, restart at the last word's end.
        if (!split.singleTimestampEnding) {
          const lastWordEnd = windowSegments.flatMap((s) => s.words ?? []).pop()?.end;
          if (lastWordEnd !== undefined && lastWordEnd > timeOffset) advance = Math.round(lastWordEnd * FRAMES_PER_SECOND) - seek;
        }
      }
    } finally {
      audioFeatures.dispose();
      enc.dispose();
      features.dispose();
    }
    seek += Math.max(1, advance);
    // Instantaneous or empty segments carry nothing (openai blanks them; they are left out here).
    for (const s of windowSegments) {
      if (s.start === s.end || !s.text.trim()) continue;
      s.id = segments.length;
      segments.push(s);
      allTokens.push(...s.tokens);
      opts.onSegment?.(s);
    }
    if (opts.conditionOnPreviousText === false || result.temperature > 0.5) promptResetSince = allTokens.length;
    progress(seek);
  }
  if (!windows && skippedSilent) return silentResult(t, opts, 0, skippedSilent, 'every 30-s window is silent: nothing to transcribe');
  const tokens = segments.flatMap((s) => s.tokens.filter((x) => x < sp.eot));
  return {
    text: t.tokenizer.decode(tokens, { skipSpecialTokens: true }), tokens, segments, language: language ?? 'en',
    windows, skippedSilent, skippedNoSpeech, draft: draft.proposed ? draft : undefined,
  };
}

/**
 * The one route from audio to text (the CLI, evaluation, the demo and the notebooks take it):
 * recordings of any length, 16 kHz mono. Clips of up to 30 s are decoded `batchSize` at a time
 * exactly like the reference; longer ones (and streams) window by window (`transcribeAudio`).
 */
export async function transcribe(t: Transcriber, audio: Float32Array | AudioSource | (Float32Array | AudioSource)[],
  opts: TranscribeOptions = {}): Promise<TranscriptionResult[]> {
  const all = Array.isArray(audio) ? audio : [audio];
  const out: TranscriptionResult[] = new Array(all.length);
  const isClip = (a: Float32Array | AudioSource) => a instanceof Float32Array && a.length <= t.featureExtractor.nSamples;
  // (A source of unknown length goes through transcribeAudio, which decodes a short one as a clip.)
  const clips = all.map((_, i) => i).filter((i) => isClip(all[i]));
  const bs = opts.batchSize ?? 1;
  for (let i = 0; i < clips.length; i += bs) {
    const idx = clips.slice(i, i + bs);
    const t0 = performance.now();
    const res = await transcribeClips(t, idx.map((k) => all[k] as Float32Array), opts);
    const seconds = (performance.now() - t0) / 1000 / idx.length;
    idx.forEach((k, j) => (out[k] = { ...res[j], seconds }));
  }
  for (let k = 0; k < all.length; k++) {
    if (isClip(all[k])) continue;
    const t0 = performance.now();
    const r = await transcribeAudio(t, all[k], opts);
    out[k] = { ...r, seconds: (performance.now() - t0) / 1000 };
  }
  return out;
}
