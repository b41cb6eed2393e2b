/**
 * Word-level timestamps, as openai's `whisper/timing.py`: the decoder reads the window once more
 * with the transcribed text (teacher forcing); the cross-attention of the checkpoint's
 * `alignment_heads` (generation_config.json) says which audio frames each token looks at; those
 * maps are softmaxed over the frames, standardised over the tokens, median-filtered along time and
 * averaged over the heads, and dynamic time warping finds the monotonic token -> frame path. A
 * word starts where the path enters its first token and ends where it enters the next word.
 * `addWordTimestamps` then applies openai's clean-up rules (punctuation merged into words, overlong
 * words at pauses and sentence ends cut to twice the median word length, segment bounds).
 */
import * as tf from '@tensorflow/tfjs';
import type { WhisperConfig } from './config';
import type { SpecialTokens } from '../tokenizer/special';

/** 50 encoder positions per second: 20 ms each. */
const TOKENS_PER_SECOND = 50;

export interface WordTiming {
  /** The word as the model wrote it (leading space kept). */
  word: string;
  tokens: number[];
  start: number;
  end: number;
  /** Mean probability of its tokens. */
  probability: number;
}

/** What the alignment pass needs from a model (WhisperForConditionalGeneration fits). */
export interface AlignmentModel {
  config: WhisperConfig;
  specialTokens: SpecialTokens;
  decoder: {
    apply(inputIds: tf.Tensor2D, encoderHiddenStates: tf.Tensor3D, training?: boolean,
      onCrossAttention?: (layer: number, scores: tf.Tensor4D) => void): tf.Tensor3D;
  };
  logits(hidden: tf.Tensor3D): tf.Tensor3D;
}

/** What it needs from a tokenizer (WhisperTokenizer fits). */
export interface WordSplitter {
  splitToWordTokens(tokens: number[], language: string): { words: string[]; tokens: number[][] };
}

/** openai's median_filter along the last axis of rows of length n (reflect padding), in place. */
function medianFilter(x: Float32Array, n: number, width: number): void {
  const pad = Math.floor(width / 2);
  if (n <= pad) return;
  const row = new Float32Array(n + 2 * pad);
  const win = new Float32Array(width);
  for (let r = 0; r < x.length / n; r++) {
    const base = r * n;
    for (let i = 0; i < row.length; i++) {
      let j = i - pad;
      if (j < 0) j = -j;
      if (j >= n) j = 2 * (n - 1) - j;
      row[i] = x[base + j];
    }
    for (let i = 0; i < n; i++) {
      win.set(row.subarray(i, i + width));
      win.sort();
      x[base + i] = win[pad];
    }
  }
}

/**
 * openai's dtw_cpu + backtrace on a cost matrix x [n, m] (row-major): the cheapest monotonic path
 * from (0, 0) to (n-1, m-1). Returns the path as [textIndices, timeIndices]. The running costs are
 * float32, as in openai, so ties break the same way.
 */
function dtw(x: Float64Array | Float32Array, n: number, m: number): [number[], number[]] {
  const cost = new Float32Array((n + 1) * (m + 1)).fill(Infinity);
  const trace = new Int8Array((n + 1) * (m + 1)).fill(-1);
  const w = m + 1;
  cost[0] = 0;
  for (let j = 1; j <= m; j++) {
    for (let i = 1; i <= n; i++) {
      const c0 = cost[(i - 1) * w + j - 1];
      const c1 = cost[(i - 1) * w + j];
      const c2 = cost[i * w + j - 1];
      let c: number;
      let t: number;
      if (c0 < c1 && c0 < c2) [c, t] = [c0, 0];
      else if (c1 < c0 && c1 < c2) [c, t] = [c1, 1];
      else [c, t] = [c2, 2];
      cost[i * w + j] = x[(i - 1) * m + j - 1] + c;
      trace[i * w + j] = t;
    }
  }
  for (let j = 0; j <= m; j++) trace[j] = 2;
  for (let i = 0; i <= n; i++) trace[i * w] = 1;
  const text: number[] = [];
  const time: number[] = [];
  let i = n;
  let j = m;
  while (i > 0 || j > 0) {
    text.push(i - 1);
    time.push(j - 1);
    const t = trace[i * w + j];
    if (t === 0) {
      i--;
      j--;
    } else if (t === 1) i--;
    else if (t === 2) j--;
    else throw new Error('dtw: unexpected trace value');
  }
  return [text.reverse(), time.reverse()];
}

export interface AlignmentOptions {
  /** Default: the config's median_filter_width (7). */
  medfiltWidth?: number;
  qkScale?: number;
}

/**
 * openai's find_alignment: word timings (seconds from the window start) of `textTokens` in the
 * window whose encoder output is `encoderHiddenStates` [1, S, d]; `numFrames` mel frames of it are
 * audio (the rest padding). `sotSequence` is the prompt without <|notimestamps|>.
 */
export async function findAlignment(model: AlignmentModel, tokenizer: WordSplitter, sotSequence: number[],
  textTokens: number[], encoderHiddenStates: tf.Tensor3D, numFrames: number, language: string,
  opts: AlignmentOptions = {}): Promise<WordTiming[]> {
  if (textTokens.length === 0) return [];
  const sp = model.specialTokens;
  const heads = model.config.alignmentHeads.length ? model.config.alignmentHeads
    // No alignment_heads: openai's default, every head of the second half of the layers.
    : Array.from({ length: model.config.decoderLayers }, (_, l) => l).filter((l) => l >= model.config.decoderLayers / 2)
      .flatMap((l) => Array.from({ length: model.config.decoderAttentionHeads }, (_, h) => [l, h] as [number, number]));
  const tokens = [...sotSequence, sp.noTimestamps, ...textTokens, sp.eot];
  const nTok = tokens.length;
  const frames = Math.min(Math.floor(numFrames / 2), encoderHiddenStates.shape[1]);

  // One teacher-forced pass: logits, and the scores of the alignment heads.
  const picked: tf.Tensor2D[] = new Array(heads.length);
  const ids = tf.tensor2d([tokens], [1, nTok], 'int32');
  const logits = tf.tidy(() => {
    const hidden = model.decoder.apply(ids, encoderHiddenStates, false, (layer, scores) => {
      heads.forEach(([l, h], k) => {
        if (l === layer) picked[k] = tf.keep(tf.tidy(() => tf.slice(scores, [0, h, 0, 0], [1, 1, -1, frames]).reshape([nTok, frames]) as tf.Tensor2D));
      });
      scores.dispose();
    });
    const sot = sotSequence.length;
    return tf.slice(model.logits(hidden), [0, sot, 0], [1, textTokens.length, sp.eot]).reshape([textTokens.length, sp.eot]);
  });
  ids.dispose();
  const probs = tf.tidy(() => tf.softmax(logits as tf.Tensor2D));
  const p = (await probs.data()) as Float32Array;
  tf.dispose([logits, probs]);
  const textProbs = textTokens.map((t, i) => (t < sp.eot ? p[i * sp.eot + t] : 0));

  // Attention maps: softmax over frames, standardise over tokens, median filter, mean over heads.
  const weights = tf.tidy(() => {
    const w = tf.softmax(tf.mul(tf.stack(picked), opts.qkScale ?? 1)); // [H, T, F]
    const { mean, variance } = tf.moments(w, 1, true);
    return tf.div(tf.sub(w, mean), tf.sqrt(variance));
  });
  picked.forEach((t) => t.dispose());
  const wData = (await weights.data()) as Float32Array;
  weights.dispose();
  medianFilter(wData, frames, opts.medfiltWidth ?? model.config.medianFilterWidth);
  const sot = sotSequence.length;
  const n = nTok - sot - 1; // rows <|notimestamps|> .. last text token
  const matrix = new Float64Array(n * frames);
  for (let h = 0; h < heads.length; h++) {
    for (let i = 0; i < n; i++) {
      const src = (h * nTok + sot + i) * frames;
      for (let f = 0; f < frames; f++) matrix[i * frames + f] -= wData[src + f] / heads.length;
    }
  }
  const [textIndices, timeIndices] = dtw(Float32Array.from(matrix), n, frames);

  const split = tokenizer.splitToWordTokens([...textTokens, sp.eot], language);
  if (split.tokens.length <= 1) return [];
  const boundaries = [0];
  for (const t of split.tokens.slice(0, -1)) boundaries.push(boundaries[boundaries.length - 1] + t.length);
  const jumpTimes: number[] = [];
  textIndices.forEach((t, k) => {
    if (k === 0 || t !== textIndices[k - 1]) jumpTimes.push(timeIndices[k] / TOKENS_PER_SECOND);
  });
  const out: WordTiming[] = [];
  for (let w = 0; w + 1 < boundaries.length; w++) {
    const [a, b] = [boundaries[w], boundaries[w + 1]];
    const wp = textProbs.slice(a, b);
    out.push({
      word: split.words[w], tokens: split.tokens[w], start: jumpTimes[a], end: jumpTimes[b],
      probability: wp.reduce((x, y) => x + y, 0) / wp.length,
    });
  }
  return out;
}

/** openai's merge_punctuations, in place: leading quotes/brackets join the next word, trailing marks the previous one. */
function mergePunctuations(alignment: WordTiming[], prepended: string, appended: string): void {
  let i = alignment.length - 2;
  let j = alignment.length - 1;
  while (i >= 0) {
    const previous = alignment[i];
    const following = alignment[j];
    // (As in Python, '' counts as contained in any string.)
    if (previous.word.startsWith(' ') && prepended.includes(previous.word.trim())) {
      following.word = previous.word + following.word;
      following.tokens = [...previous.tokens, ...following.tokens];
      previous.word = '';
      previous.tokens = [];
    } else {
      j = i;
    }
    i--;
  }
  i = 0;
  j = 1;
  while (j < alignment.length) {
    const previous = alignment[i];
    const following = alignment[j];
    if (!previous.word.endsWith(' ') && appended.includes(following.word)) {
      previous.word += following.word;
      previous.tokens = [...previous.tokens, ...following.tokens];
      following.word = '';
      following.tokens = [];
    } else {
      i = j;
    }
    j++;
  }
}

export const PREPEND_PUNCTUATIONS = '"\'“¿([{-';
export const APPEND_PUNCTUATIONS = '"\'.。,，!！?？:：”)]}、';

/** A segment as addWordTimestamps reads and adjusts it (times in seconds from the audio start). */
export interface TimedSegment {
  start: number;
  end: number;
  /** Text tokens of the segment (timestamps are ignored). */
  tokens: number[];
  words?: { word: string; start: number; end: number; probability: number }[];
}

function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * openai's add_word_timestamps: aligns the text of a window's `segments` and sets their `words`
 * (and, where the words are more reliable, their start and end). Returns the new last speech time.
 */
export async function addWordTimestamps(args: {
  segments: TimedSegment[]; model: AlignmentModel; tokenizer: WordSplitter; sotSequence: number[];
  encoderHiddenStates: tf.Tensor3D; numFrames: number; language: string; timeOffset: number;
  lastSpeechTimestamp: number; prependPunctuations?: string; appendPunctuations?: string;
}): Promise<number> {
  const { segments, model } = args;
  let lastSpeech = args.lastSpeechTimestamp;
  if (!segments.length) return lastSpeech;
  const eot = model.specialTokens.eot;
  const perSegment = segments.map((s) => s.tokens.filter((t) => t < eot));
  const alignment = await findAlignment(model, args.tokenizer, args.sotSequence, perSegment.flat(),
    args.encoderHiddenStates, args.numFrames, args.language);
  const durations = alignment.map((t) => t.end - t.start).filter((d) => d !== 0);
  const medianDuration = Math.min(0.7, median(durations));
  const maxDuration = medianDuration * 2;

  // Words at sentence boundaries are not longer than twice the median word.
  if (durations.length) {
    const marks = '.。!！?？';
    for (let i = 1; i < alignment.length; i++) {
      if (alignment[i].end - alignment[i].start > maxDuration) {
        if (marks.includes(alignment[i].word)) alignment[i].end = alignment[i].start + maxDuration;
        else if (marks.includes(alignment[i - 1].word)) alignment[i].start = alignment[i].end - maxDuration;
      }
    }
  }
  mergePunctuations(alignment, args.prependPunctuations ?? PREPEND_PUNCTUATIONS, args.appendPunctuations ?? APPEND_PUNCTUATIONS);

  let wordIndex = 0;
  segments.forEach((segment, si) => {
    let saved = 0;
    const words: NonNullable<TimedSegment['words']> = [];
    while (wordIndex < alignment.length && saved < perSegment[si].length) {
      const t = alignment[wordIndex];
      if (t.word) words.push({ word: t.word, start: round2(args.timeOffset + t.start), end: round2(args.timeOffset + t.end), probability: t.probability });
      saved += t.tokens.length;
      wordIndex++;
    }
    if (words.length) {
      // The first word after a pause is not longer than twice the median word.
      if (words[0].end - lastSpeech > medianDuration * 4 &&
        (words[0].end - words[0].start > maxDuration || (words.length > 1 && words[1].end - words[0].start > maxDuration * 2))) {
        if (words.length > 1 && words[1].end - words[1].start > maxDuration) {
          const boundary = Math.max(words[1].end / 2, words[1].end - maxDuration);
          words[0].end = words[1].start = boundary;
        }
        words[0].start = Math.max(0, words[0].end - maxDuration);
      }
      // Prefer the segment's start if the first word is too long, else the word's start.
      if (segment.start < words[0].end && segment.start - 0.5 > words[0].start) {
        words[0].start = Math.max(0, Math.min(words[0].end - medianDuration, segment.start));
      } else {
        segment.start = words[0].start;
      }
      const last = words[words.length - 1];
      if (segment.end > last.start && segment.end + 0.5 < last.end) {
        last.end = Math.max(last.start + medianDuration, segment.end);
      } else {
        segment.end = last.end;
      }
      lastSpeech = segment.end;
    }
    segment.words = words;
  });
  return lastSpeech;
}
