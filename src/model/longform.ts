/**
 * Long-form transcription: audio of any length, decoded in 30 s windows one after the other, with
 * timestamp tokens telling where to cut (openai/whisper `transcribe()`):
 *
 * - the prompt is <|startoftranscript|><|lang|><|task|> WITHOUT <|notimestamps|>, so the model
 *   writes <|t0|> text <|t1|> <|t1'|> text <|t2|> ... (0.02 s steps from the window start);
 * - `timestampRules` (openai's ApplyTimestampRules) keeps that grammar valid: timestamps come in
 *   pairs, never go back, the first token is a timestamp (at most 1 s in), and a timestamp is forced
 *   when all timestamps together are more likely than the best text token;
 * - segments are cut at every pair of consecutive timestamps; when the window ends with an open
 *   segment (a lone timestamp after text), we seek to the last complete timestamp and decode that
 *   speech again in the next window, so words are not cut in half at the 30 s boundary;
 * - windows whose audio is silent (`isSilent`, energy gate) are skipped: Whisper invents text on
 *   silence.
 */
import * as tf from '@tensorflow/tfjs';
import { isSilent } from '../audio/vad';
import { logMelSpectrogram } from '../features/logmel';
import { cachedStepper, LogitsFilter, logSumExp, search, suppressAtBegin, suppressTokens } from './beam';
import { WhisperConfig } from './config';
import { languageCode, SpecialTokens, specialTokens } from './generate';
import { StepModel } from './beam';

export const SAMPLE_RATE = 16000;
export const WINDOW_SAMPLES = 30 * SAMPLE_RATE;
/** Seconds per timestamp token step. */
export const TIME_PRECISION = 0.02;
/** Audio samples per timestamp step (2 mel frames of 160 samples). */
const SAMPLES_PER_TIMESTAMP = TIME_PRECISION * SAMPLE_RATE;

export interface Segment {
  /** Seconds from the start of the audio. */
  start: number;
  end: number;
  text: string;
  /** Text tokens of the segment (timestamps removed). */
  tokens: number[];
}

export interface LongformModel extends StepModel {
  config: WhisperConfig;
  encode(inputFeatures: tf.Tensor3D): tf.Tensor3D;
}

export interface TextDecoder {
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
}

export interface LongformOptions {
  /** Language code ('en', 'fr'...); default 'en'. */
  language?: string;
  task?: 'transcribe' | 'translate';
  numBeams?: number;
  lengthPenalty?: number;
  /** Tokens per window (openai: n_text_ctx / 2 = 224). */
  maxNewTokens?: number;
  /** Skip silent windows (default true, -45 dBFS); false decodes everything. */
  vad?: false | { thresholdDb?: number };
  /** Feed the previous window's text as a <|startofprev|> prompt (openai default true; here false). */
  conditionOnPreviousText?: boolean;
  /** Called as soon as a window's segments are known (progress in notebooks, streaming in the demo). */
  onSegment?: (s: Segment) => void;
}

export interface LongformResult {
  text: string;
  segments: Segment[];
  /** Windows decoded and windows skipped as silent. */
  windows: number;
  skippedSilent: number;
}

/** Token ids the timestamp grammar needs. */
export interface TimestampIds {
  eot: number;
  noTimestamps: number;
  timestampBegin: number;
}

export function timestampIds(config: WhisperConfig): TimestampIds {
  const sp = specialTokens(config);
  return { eot: sp.eot, noTimestamps: sp.noTimestamps, timestampBegin: sp.noTimestamps + 1 };
}

/**
 * openai's ApplyTimestampRules. `sampleBegin` = prompt length; `maxInitialTimestamp` in seconds
 * (openai default 1.0).
 */
export function timestampRules(ids: TimestampIds, sampleBegin: number, maxInitialTimestamp = 1.0): LogitsFilter {
  const { eot, noTimestamps, timestampBegin: tb } = ids;
  const maxInitialIndex = Math.round(maxInitialTimestamp / TIME_PRECISION);
  return (logits, tokens) => {
    const fill = (from: number, to: number) => logits.fill(-Infinity, from, Math.min(to, logits.length));
    logits[noTimestamps] = -Infinity; // only the prompt decides whether there are timestamps
    const seq = tokens.slice(sampleBegin);
    const lastWasTs = seq.length >= 1 && seq[seq.length - 1] >= tb;
    const penultimateWasTs = seq.length < 2 || seq[seq.length - 2] >= tb;
    if (lastWasTs) {
      if (penultimateWasTs) fill(tb, logits.length); // a pair just closed: text (or eot) must follow
      else fill(0, eot); // a segment's end timestamp must follow (or eot)
    }
    const stamps = seq.filter((t) => t >= tb);
    if (stamps.length) {
      // Never go back; a new segment must be longer than zero (avoids endless loops).
      const last = stamps[stamps.length - 1];
      fill(tb, lastWasTs && !penultimateWasTs ? last : last + 1);
    }
    if (seq.length === 0) {
      fill(0, tb); // the first token is a timestamp
      fill(tb + maxInitialIndex + 1, logits.length);
    }
    // When the timestamps together beat every text token, a timestamp it is.
    const logZ = logSumExp(logits);
    const stampLogprob = logSumExp(logits.subarray(tb)) - logZ;
    let maxText = -Infinity;
    for (let i = 0; i < tb; i++) if (logits[i] > maxText) maxText = logits[i];
    if (stampLogprob > maxText - logZ) fill(0, tb);
  };
}

/**
 * Splits one window's tokens (after the prompt, no eot) into segments (times relative to the
 * window) and says how many samples of the window were consumed (openai's seek logic).
 */
export function splitWindow(tokens: number[], tb: number, windowSamples: number): {
  segments: { start: number; end: number; tokens: number[] }[]; consumed: number;
} {
  const isTs = tokens.map((t) => t >= tb);
  const n = tokens.length;
  const singleEnding = n >= 2 ? !isTs[n - 2] && isTs[n - 1] : n === 1 && isTs[0];
  const consecutive: number[] = [];
  for (let i = 1; i < n; i++) if (isTs[i - 1] && isTs[i]) consecutive.push(i);
  const segments: { start: number; end: number; tokens: number[] }[] = [];
  const windowSeconds = windowSamples / SAMPLE_RATE;
  if (consecutive.length) {
    const slices = singleEnding ? [...consecutive, n] : consecutive;
    let last = 0;
    for (const cur of slices) {
      const part = tokens.slice(last, cur);
      segments.push({
        start: (part[0] - tb) * TIME_PRECISION,
        end: (part[part.length - 1] - tb) * TIME_PRECISION,
        tokens: part.filter((t) => t < tb),
      });
      last = cur;
    }
    if (singleEnding) return { segments, consumed: windowSamples };
    // The text after the last pair is an unfinished segment: decode it again in the next window.
    const consumed = (tokens[last - 1] - tb) * SAMPLES_PER_TIMESTAMP;
    return { segments, consumed: Math.max(SAMPLES_PER_TIMESTAMP, Math.min(windowSamples, consumed)) };
  }
  // No complete pair: one segment for the whole window (ending at the last timestamp if any).
  const stamps = tokens.filter((t) => t >= tb);
  let end = windowSeconds;
  if (stamps.length && stamps[stamps.length - 1] !== tb) end = (stamps[stamps.length - 1] - tb) * TIME_PRECISION;
  segments.push({ start: 0, end, tokens: tokens.filter((t) => t < tb) });
  return { segments, consumed: windowSamples };
}

/** The suppress list openai applies when decoding: the config's list plus task/special tokens. */
function suppressList(config: WhisperConfig, sp: SpecialTokens): number[] {
  // <|startoflm|> = sotPrev - 1 and <|nospeech|> = sotPrev + 1 in every Whisper vocabulary.
  const special = [sp.sot, sp.translate, sp.transcribe, sp.sotPrev - 1, sp.sotPrev, sp.sotPrev + 1];
  return [...new Set([...config.suppressTokens, ...special])];
}

function promptFor(sp: SpecialTokens, language: string, task: string): number[] {
  if (!sp.multilingual) return [sp.sot];
  const lang = sp.languages.get(languageCode(language, sp))!;
  return [sp.sot, lang, task === 'translate' ? sp.translate : sp.transcribe];
}

/** Transcribes 16 kHz mono audio of any length into timestamped segments. */
export async function transcribeLongform(
  model: LongformModel, tokenizer: TextDecoder, audio: Float32Array, opts: LongformOptions = {},
): Promise<LongformResult> {
  const config = model.config;
  const sp = specialTokens(config);
  const ids = timestampIds(config);
  const tb = ids.timestampBegin;
  const basePrompt = promptFor(sp, opts.language ?? 'en', opts.task ?? 'transcribe');
  const suppress = suppressList(config, sp);
  const maxNewTokens = opts.maxNewTokens ?? 224;
  const segments: Segment[] = [];
  const previous: number[] = [];
  let windows = 0;
  let skippedSilent = 0;

  for (let seek = 0; seek < audio.length;) {
    const windowAudio = audio.subarray(seek, Math.min(audio.length, seek + WINDOW_SAMPLES));
    const offset = seek / SAMPLE_RATE;
    if (opts.vad !== false && isSilent(windowAudio, { thresholdDb: opts.vad?.thresholdDb })) {
      skippedSilent++;
      seek += windowAudio.length;
      continue;
    }
    windows++;
    const prompt = opts.conditionOnPreviousText && previous.length
      ? [sp.sotPrev, ...previous.slice(-223), ...basePrompt] : basePrompt;
    const tokens = await decodeWindow(model, windowAudio, prompt, {
      eot: ids.eot, maxNewTokens: Math.min(maxNewTokens, config.maxTargetPositions - prompt.length), numBeams: opts.numBeams, lengthPenalty: opts.lengthPenalty,
      filters: [suppressTokens(suppress), suppressAtBegin(config.beginSuppressTokens, prompt.length),
        timestampRules(ids, prompt.length)],
    });
    const { segments: parts, consumed } = splitWindow(tokens, tb, windowAudio.length);
    for (const p of parts) {
      const text = tokenizer.decode(p.tokens, { skipSpecialTokens: true }).trim();
      if (!text) continue;
      const seg = { start: offset + p.start, end: offset + Math.min(p.end, windowAudio.length / SAMPLE_RATE), text, tokens: p.tokens };
      segments.push(seg);
      opts.onSegment?.(seg);
      previous.push(...p.tokens);
    }
    seek += consumed;
  }
  return { text: segments.map((s) => s.text).join(' '), segments, windows, skippedSilent };
}

/** Encodes one window (padded to 30 s) and searches its tokens with the cached decoder. */
async function decodeWindow(model: LongformModel, audio: Float32Array, prompt: number[],
  opts: Parameters<typeof search>[2]): Promise<number[]> {
  const nMels = model.config.numMelBins;
  const mel = logMelSpectrogram(audio, nMels);
  const features = tf.tensor3d(mel, [1, nMels, mel.length / nMels]);
  const enc = model.encode(features);
  features.dispose();
  const stepper = cachedStepper(model, enc);
  try {
    return (await search(stepper.next, prompt, opts)).tokens;
  } finally {
    stepper.dispose();
    enc.dispose();
  }
}
