/**
 * One decoding task for every way of decoding a 30 s window, in the shape of openai's
 * `whisper/decoding.py` `DecodingTask`:
 *
 * - the prompt: [<|startofprev|> previous text] <|startoftranscript|> <|lang|> <|task|> [<|notimestamps|>]
 *   (English-only models: no language or task token), built in `initialTokens` only;
 * - the language, when not given, from one decoder step on <|startoftranscript|> (`detectLanguage`);
 * - the logit filters: SuppressBlank (begin_suppress_tokens at the first step), SuppressTokens
 *   (generation_config's suppress_tokens plus the task and special tokens) and, with timestamps,
 *   ApplyTimestampRules;
 * - a strategy: greedy (rows of a batch decoded together), sampling at a temperature (best of n),
 *   beam search, or speculative decoding with an assistant model (greedy's tokens, fewer main-model
 *   steps); see ./search.ts and ./speculative.ts;
 * - per clip: tokens, language, sum and average log-probability and the probability of
 *   <|nospeech|> at <|startoftranscript|>, what openai's transcribe() needs for its fallbacks.
 *
 * Special ids come from the model's `specialTokens` (looked up by text in tokenizer.json).
 */
import * as tf from '@tensorflow/tfjs';
import { roughProducts } from '../backend';
import seedrandom from 'seedrandom';
import type { WhisperConfig } from './config';
import { AudioFeatures, DecoderSession, StepModel } from './inference';
import { beamSearch, best, LogitsFilter, logSumExp, NextLogits, sampleRows, SearchResult } from './search';
import { speculativeSearch } from './speculative';
import { trimToAudio } from '../features/logmel';
import { languageCode, sotSequence, SpecialTokens, TIME_PRECISION } from '../tokenizer/special';

export interface DecodingOptions {
  task?: 'transcribe' | 'translate';
  /** Code ('fr'), name ('french') or token ('<|fr|>'); detected per clip when absent. */
  language?: string;
  /** 0 (default): greedy or beam search; above 0: sampling. */
  temperature?: number;
  /** At most this many new tokens, <|endoftext|> included (openai's sample_len; default max_target_positions / 2 = 224). */
  maxNewTokens?: number;
  /** Samples drawn at a temperature above 0; the most likely one is kept (default 1). */
  bestOf?: number;
  /** Beam search with this many beams at temperature 0 (1 = greedy). */
  numBeams?: number;
  /** Beam search: finished candidates collected = numBeams * patience (default 1). */
  patience?: number;
  /** undefined: rank by log-probability / length (openai); alpha: Google NMT's penalty. */
  lengthPenalty?: number;
  /** Previous text (token ids), put after <|startofprev|> (openai's `prompt`). */
  promptIds?: number[];
  /** Token ids never generated; default generation_config's suppress_tokens (openai's "-1"). Specials are always added. */
  suppressTokens?: number[];
  /** Forbid a blank or <|endoftext|> as the first token (default true). */
  suppressBlank?: boolean;
  /** true (default): text only, <|notimestamps|> in the prompt; false: timestamp tokens (long-form). */
  withoutTimestamps?: boolean;
  /** The first timestamp is at most this many seconds in (default 1). */
  maxInitialTimestamp?: number;
  /** Seeds the sampling at temperature > 0 (default 0), so a run can be repeated. */
  seed?: number | string;
  /** Speculative decoding (transformers' `assistant_model`): a smaller model with the same vocabulary drafts tokens. */
  assistantModel?: DecodingModel;
  /** Tokens the assistant drafts per main-model step (default 5). */
  numAssistantTokens?: number;
  /**
   * The assistant stops drafting early at a token it gives less than this probability (transformers'
   * `assistant_confidence_threshold`, default 0.4): such a token is likely rejected, and drafting
   * past it wasted (0: always draft numAssistantTokens).
   */
  assistantConfidenceThreshold?: number;
}

/** What a decoding task needs from a model (WhisperForConditionalGeneration fits). */
export interface DecodingModel extends StepModel {
  config: WhisperConfig;
  specialTokens: SpecialTokens;
  encode(inputFeatures: tf.Tensor3D): tf.Tensor3D;
}

export interface DecodingResult {
  /** Generated ids, without the prompt and <|endoftext|>. */
  tokens: number[];
  language: string;
  /** Probability of each language, when it was detected. */
  languageProbs?: Record<string, number>;
  sumLogprob: number;
  /** sumLogprob / (tokens + 1), openai's avg_logprob. */
  avgLogprob: number;
  /** Probability of <|nospeech|> right after <|startoftranscript|>. */
  noSpeechProb: number;
  temperature: number;
  /** Speculative decoding: draft tokens proposed and accepted by the main model. */
  draft?: { proposed: number; accepted: number };
}

/** What `run` decodes: features (the encoder runs here) and/or encoder output already computed. */
export interface DecodingInput {
  features?: tf.Tensor3D | null;
  encoderHiddenStates?: tf.Tensor3D;
  /** Cross-attention keys/values already computed for encoderHiddenStates (reused across fallback temperatures). */
  audio?: AudioFeatures;
  /** Decode only these clips of the batch (default all); results come in this order. */
  clips?: number[];
}

/** openai's SuppressTokens: these ids can never be produced. */
export function suppressTokens(ids: number[]): LogitsFilter {
  return (logits) => {
    for (const id of ids) if (id < logits.length) logits[id] = -Infinity;
  };
}

/** openai's SuppressBlank: at the first generated position, forbid `ids` (a space, <|endoftext|>). */
function suppressAtBegin(ids: number[], sampleBegin: number): LogitsFilter {
  return (logits, tokens) => {
    if (tokens.length !== sampleBegin) return;
    for (const id of ids) if (id < logits.length) logits[id] = -Infinity;
  };
}

/** Token ids the timestamp grammar needs. */
export interface TimestampIds {
  eot: number;
  noTimestamps: number;
  timestampBegin: number;
}

/**
 * openai's ApplyTimestampRules. `sampleBegin` = prompt length; `maxInitialTimestamp` in seconds.
 * Timestamps come in pairs, never go back, the first token is a timestamp, and a timestamp is
 * forced when all timestamps together are more likely than the best text token.
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
    // When the timestamps together beat every text token, a timestamp it is (openai compares
    // log-probabilities, logits - log Z: the same comparison, log Z cancels out).
    let maxText = -Infinity;
    for (let i = 0; i < tb; i++) if (logits[i] > maxText) maxText = logits[i];
    if (logSumExp(logits.subarray(tb)) > maxText) fill(0, tb);
  };
}

function softmaxAt(logits: Float32Array, ids: number[]): number[] {
  const z = logSumExp(logits);
  return ids.map((i) => Math.exp(logits[i] - z));
}

export class DecodingTask {
  readonly sp: SpecialTokens;
  /** Most new tokens per window. */
  readonly sampleLen: number;
  readonly task: 'transcribe' | 'translate';
  /** The language code given in the options (undefined: detect). */
  readonly language?: string;

  constructor(readonly model: DecodingModel, readonly options: DecodingOptions = {}) {
    const o = options;
    this.sp = model.specialTokens;
    this.task = o.task ?? 'transcribe';
    if (this.task !== 'transcribe' && this.task !== 'translate') throw new Error(`decoding: task '${this.task}' must be 'transcribe' or 'translate'`);
    if (!this.sp.isMultilingual && this.task === 'translate') throw new Error('decoding: an English-only model cannot translate');
    this.language = o.language === undefined ? undefined : this.sp.isMultilingual ? languageCode(o.language, this.sp) : 'en';
    this.sampleLen = o.maxNewTokens ?? Math.floor(model.config.maxTargetPositions / 2);
    if (!Number.isInteger(this.sampleLen) || this.sampleLen < 1) throw new Error(`decoding: maxNewTokens must be a positive integer, got ${o.maxNewTokens}`);
    const t = o.temperature ?? 0;
    if (!(t >= 0) || !Number.isFinite(t)) throw new Error(`decoding: temperature must be a number >= 0, got ${o.temperature}`);
    for (const [k, v] of [['numBeams', o.numBeams], ['bestOf', o.bestOf], ['numAssistantTokens', o.numAssistantTokens]] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new Error(`decoding: ${k} must be a positive integer, got ${v}`);
    }
    if ((o.numBeams ?? 1) > 1 && t > 0) throw new Error('decoding: beam search (numBeams > 1) runs at temperature 0; sampling uses bestOf');
    if ((o.bestOf ?? 1) > 1 && t === 0) throw new Error('decoding: bestOf needs a temperature above 0 (greedy gives one answer)');
    if (o.patience !== undefined && (o.numBeams ?? 1) === 1) throw new Error('decoding: patience needs numBeams > 1');
    if (o.lengthPenalty !== undefined && !(o.lengthPenalty >= 0 && o.lengthPenalty <= 1)) {
      throw new Error(`decoding: lengthPenalty (alpha) must be between 0 and 1, got ${o.lengthPenalty}`);
    }
    const c = o.assistantConfidenceThreshold;
    if (c !== undefined && !(c >= 0 && c <= 1)) throw new Error(`decoding: assistantConfidenceThreshold must be between 0 and 1, got ${c}`);
    if (o.assistantModel && ((o.numBeams ?? 1) > 1 || t > 0)) throw new Error('decoding: speculative decoding (assistantModel) is greedy: temperature 0, numBeams 1');
    if (o.assistantModel && o.assistantModel.config.vocabSize !== model.config.vocabSize) {
      throw new Error(`decoding: the assistant model's vocabulary (${o.assistantModel.config.vocabSize}) differs from the model's (${model.config.vocabSize})`);
    }
  }

  /** <|startoftranscript|> <|lang|> <|task|> [<|notimestamps|>]: openai's sot_sequence. */
  sotSequence(language: string): number[] {
    return sotSequence(this.sp, { language: this.sp.isMultilingual ? language : undefined, task: this.task, timestamps: this.options.withoutTimestamps === false });
  }

  /** The decoder prompt for a clip in `language`: previous text (at most n_ctx / 2 - 1 tokens) + sot_sequence. */
  initialTokens(language: string): number[] {
    const prompt = this.options.promptIds ?? [];
    const previous = prompt[0] === this.sp.sotPrev ? prompt.slice(1) : prompt;
    const keep = Math.floor(this.model.config.maxTargetPositions / 2) - 1;
    return [...(previous.length ? [this.sp.sotPrev, ...previous.slice(-keep)] : []), ...this.sotSequence(language)];
  }

  /** openai's _get_suppress_tokens: the configured list plus task and special tokens, sorted. */
  suppressTokens(): number[] {
    const sp = this.sp;
    const base = this.options.suppressTokens ?? this.model.config.suppressTokens;
    return [...new Set([...base, sp.transcribe, sp.translate, sp.sot, sp.sotPrev, sp.sotLm, sp.noSpeech])].sort((a, b) => a - b);
  }

  /** The logit filters for a prompt of `sampleBegin` tokens. */
  logitFilters(sampleBegin: number): LogitsFilter[] {
    const filters: LogitsFilter[] = [];
    if (this.options.suppressBlank ?? true) filters.push(suppressAtBegin(this.model.config.beginSuppressTokens, sampleBegin));
    filters.push(suppressTokens(this.suppressTokens()));
    if (this.options.withoutTimestamps === false) {
      filters.push(timestampRules(this.sp, sampleBegin, this.options.maxInitialTimestamp ?? 1.0));
    }
    return filters;
  }

  /** Most likely language per clip from one step on <|startoftranscript|> (openai's detect_language). */
  async detectLanguage(audio: AudioFeatures, clips = Array.from({ length: audio.clips }, (_, i) => i)):
    Promise<{ codes: string[]; probs: Record<string, number>[] }> {
    const session = new DecoderSession(audio, clips);
    try {
      const logits = await session.logits(new Array(clips.length).fill([this.sp.sot]));
      const ids = this.sp.languages.map((l) => l.id);
      const probs = logits.map(([l]) => {
        // Softmax over the language tokens only (every other token masked, as openai does).
        const masked = Float32Array.from(ids, (id) => l[id]);
        const p = softmaxAt(masked, ids.map((_, i) => i));
        return Object.fromEntries(this.sp.languages.map((lang, i) => [lang.code, p[i]]));
      });
      const codes = probs.map((p) => Object.entries(p).reduce((a, b) => (b[1] > a[1] ? b : a))[0]);
      return { codes, probs };
    } finally {
      session.dispose();
    }
  }

  /** Decodes every clip of the input; one result per clip. */
  async run(input: DecodingInput): Promise<DecodingResult[]> {
    const o = this.options;
    let enc = input.encoderHiddenStates;
    const ownEnc = !enc && !input.audio;
    if (ownEnc) {
      if (!input.features) throw new Error('decoding: give features or encoder hidden states');
      enc = this.model.encode(input.features);
    }
    const audio = input.audio ?? new AudioFeatures(this.model, enc!);
    if (ownEnc) enc!.dispose();
    try {
      const clipIds = input.clips ?? Array.from({ length: audio.clips }, (_, i) => i);
      let languages: string[];
      let languageProbs: Record<string, number>[] | undefined;
      if (!this.sp.isMultilingual) languages = new Array(clipIds.length).fill('en');
      else if (this.language) languages = new Array(clipIds.length).fill(this.language);
      else ({ codes: languages, probs: languageProbs } = await this.detectLanguage(audio, clipIds));

      const temperature = o.temperature ?? 0;
      const prompts = languages.map((l) => this.initialTokens(l));
      const sampleBegin = prompts[0].length;
      const sotIndex = prompts[0].indexOf(this.sp.sot);
      const search = {
        eot: this.sp.eot,
        // openai stops once the sequence exceeds n_ctx: the last token is predicted, never fed.
        maxNewTokens: Math.min(this.sampleLen, this.model.config.maxTargetPositions - sampleBegin + 1),
        filters: this.logitFilters(sampleBegin),
        numBeams: o.numBeams, patience: o.patience, lengthPenalty: o.lengthPenalty, temperature,
      };
      if (search.maxNewTokens < 1) throw new Error(`decoding: the prompt (${sampleBegin} tokens) leaves no room in ${this.model.config.maxTargetPositions} positions`);
      const results: (SearchResult & { draft?: DecodingResult['draft'] })[] = [];
      const noSpeech: number[] = [];

      if (o.assistantModel) {
        // The draft's tokens are only proposals, checked by the main model: its encoder hears the
        // audio without the 30 s window's padding (several times less work on short clips), with
        // the backend's cheapest products.
        const full = requireFeatures(input);
        const trimmed = trimToAudio(full);
        const draftEnc = roughProducts(() => o.assistantModel!.encode(trimmed));
        if (trimmed !== full) trimmed.dispose();
        // (the draft encodes the whole batch; only clipIds are decoded)
        const draftAudio = roughProducts(() => new AudioFeatures(o.assistantModel!, draftEnc));
        draftEnc.dispose();
        try {
          for (let c = 0; c < clipIds.length; c++) {
            const main = new DecoderSession(audio, [clipIds[c]]);
            const draft = new DecoderSession(draftAudio, [clipIds[c]], true);
            try {
              const r = await speculativeSearch(main, draft, prompts[c], {
                ...search, numAssistantTokens: o.numAssistantTokens ?? 5, confidenceThreshold: o.assistantConfidenceThreshold ?? 0.4, sotIndex,
              });
              results.push(r);
              noSpeech.push(this.noSpeechProb(r.sotLogits));
            } finally {
              main.dispose();
              draft.dispose();
            }
          }
        } finally {
          draftAudio.dispose();
        }
      } else if ((o.numBeams ?? 1) > 1) {
        for (let c = 0; c < clipIds.length; c++) {
          const session = new DecoderSession(audio, [clipIds[c]]);
          try {
            results.push(await beamSearch(this.stepper(session, sotIndex, (l) => noSpeech.push(this.noSpeechProb(l[0]))), prompts[c], search));
          } finally {
            session.dispose();
          }
        }
      } else {
        // Greedy or sampling: every clip (times bestOf samples) in one batch of rows.
        const group = temperature > 0 ? o.bestOf ?? 1 : 1;
        const clips = prompts.flatMap((_, c) => new Array(group).fill(c));
        const session = new DecoderSession(audio, clips.map((c) => clipIds[c]));
        const rng = seedrandom(`sampling|${o.seed ?? 0}|${temperature}`);
        try {
          const rows = await sampleRows(this.stepper(session, sotIndex, (l) => {
            for (let c = 0; c < prompts.length; c++) noSpeech.push(this.noSpeechProb(l[c * group]));
          }), clips.map((c) => prompts[c]), { ...search, random: rng });
          for (let c = 0; c < prompts.length; c++) results.push(best(rows.slice(c * group, (c + 1) * group)));
        } finally {
          session.dispose();
        }
      }
      return results.map((r, c) => ({
        tokens: r.tokens, language: languages[c], languageProbs: languageProbs?.[c], sumLogprob: r.sumLogprob,
        avgLogprob: r.avgLogprob, noSpeechProb: noSpeech[c], temperature, draft: r.draft,
      }));
    } finally {
      if (!input.audio) audio.dispose();
    }
  }

  private noSpeechProb(sotLogits: Float32Array): number {
    return softmaxAt(sotLogits, [this.sp.noSpeech])[0];
  }

  /** NextLogits over a session; the first call also hands the logits at <|startoftranscript|> to `onSot`. */
  private stepper(session: DecoderSession, sotIndex: number, onSot: (logits: Float32Array[]) => void): NextLogits {
    return async (rows, sources) => {
      const first = session.length === 0;
      const out = await session.logits(rows, first ? { positions: [sotIndex, rows[0].length - 1] } : { sources });
      if (first) onSot(out.map((p) => p[0]));
      return out.map((p) => p[p.length - 1]);
    };
  }
}

function requireFeatures(input: DecodingInput): tf.Tensor3D {
  if (!input.features) throw new Error('decoding: speculative decoding needs the input features (the assistant runs its own encoder)');
  return input.features;
}

/** Decodes 30 s windows: `features` [B, nMels, frames] or `input.encoderHiddenStates`. */
export function decode(model: DecodingModel, input: DecodingInput, options: DecodingOptions = {}): Promise<DecodingResult[]> {
  return new DecodingTask(model, options).run(input);
}
