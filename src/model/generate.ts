/**
 * Greedy decoding for Whisper, as OpenAI's `whisper/decoding.py` does it without timestamps:
 *   prompt  <|startoftranscript|><|LANG|><|TASK|><|notimestamps|> (after <|startofprev|> + promptIds)
 *   language detected from the first step on <|startoftranscript|> when not given
 *   suppress_tokens every step, begin_suppress_tokens (blank, eot) at the first generated step
 *   self-attention keys/values cached per step, cross-attention keys/values once per clip
 *   rows of a batch finish independently at <|endoftext|>; at most maxNewTokens tokens.
 */
import * as tf from '@tensorflow/tfjs';
import type { WhisperConfig } from './config';
import { DecoderCache, disposeCache, disposeKeyValue } from './decoder';
import type { WhisperForConditionalGeneration } from './whisper';

export interface GenerateOptions {
  /** Language code ('fr'), name ('french') or token ('<|fr|>'); detected when absent. */
  language?: string;
  task?: 'transcribe' | 'translate';
  /** Default 128, like the reference implementation. Counts the final <|endoftext|>. */
  maxNewTokens?: number;
  /** Previous-context prompt (ids of text), put after <|startofprev|>. */
  promptIds?: number[];
  /** 1 (default) = greedy, here; more = beam search (./beam.ts generateBeams). */
  numBeams?: number;
  /** Encoder output to reuse instead of running the encoder on inputFeatures. */
  encoderHiddenStates?: tf.Tensor3D;
}

export interface GenerateOutput {
  /** Generated ids per row, specials (prompt, <|endoftext|>) excluded. */
  sequences: number[][];
  /** Filled by the pipeline, which owns the tokenizer. */
  text?: string[];
  /** Language code per row (given or detected). */
  languages: string[];
}

/** Whisper's languages in token order (whisper/tokenizer.py LANGUAGES). */
export const LANGUAGES: [string, string][] = [
  ['en', 'english'], ['zh', 'chinese'], ['de', 'german'], ['es', 'spanish'], ['ru', 'russian'], ['ko', 'korean'],
  ['fr', 'french'], ['ja', 'japanese'], ['pt', 'portuguese'], ['tr', 'turkish'], ['pl', 'polish'], ['ca', 'catalan'],
  ['nl', 'dutch'], ['ar', 'arabic'], ['sv', 'swedish'], ['it', 'italian'], ['id', 'indonesian'], ['hi', 'hindi'],
  ['fi', 'finnish'], ['vi', 'vietnamese'], ['he', 'hebrew'], ['uk', 'ukrainian'], ['el', 'greek'], ['ms', 'malay'],
  ['cs', 'czech'], ['ro', 'romanian'], ['da', 'danish'], ['hu', 'hungarian'], ['ta', 'tamil'], ['no', 'norwegian'],
  ['th', 'thai'], ['ur', 'urdu'], ['hr', 'croatian'], ['bg', 'bulgarian'], ['lt', 'lithuanian'], ['la', 'latin'],
  ['mi', 'maori'], ['ml', 'malayalam'], ['cy', 'welsh'], ['sk', 'slovak'], ['te', 'telugu'], ['fa', 'persian'],
  ['lv', 'latvian'], ['bn', 'bengali'], ['sr', 'serbian'], ['az', 'azerbaijani'], ['sl', 'slovenian'],
  ['kn', 'kannada'], ['et', 'estonian'], ['mk', 'macedonian'], ['br', 'breton'], ['eu', 'basque'],
  ['is', 'icelandic'], ['hy', 'armenian'], ['ne', 'nepali'], ['mn', 'mongolian'], ['bs', 'bosnian'],
  ['kk', 'kazakh'], ['sq', 'albanian'], ['sw', 'swahili'], ['gl', 'galician'], ['mr', 'marathi'], ['pa', 'punjabi'],
  ['si', 'sinhala'], ['km', 'khmer'], ['sn', 'shona'], ['yo', 'yoruba'], ['so', 'somali'], ['af', 'afrikaans'],
  ['oc', 'occitan'], ['ka', 'georgian'], ['be', 'belarusian'], ['tg', 'tajik'], ['sd', 'sindhi'], ['gu', 'gujarati'],
  ['am', 'amharic'], ['yi', 'yiddish'], ['lo', 'lao'], ['uz', 'uzbek'], ['fo', 'faroese'], ['ht', 'haitian creole'],
  ['ps', 'pashto'], ['tk', 'turkmen'], ['nn', 'nynorsk'], ['mt', 'maltese'], ['sa', 'sanskrit'],
  ['lb', 'luxembourgish'], ['my', 'myanmar'], ['bo', 'tibetan'], ['tl', 'tagalog'], ['mg', 'malagasy'],
  ['as', 'assamese'], ['tt', 'tatar'], ['haw', 'hawaiian'], ['ln', 'lingala'], ['ha', 'hausa'], ['ba', 'bashkir'],
  ['jw', 'javanese'], ['su', 'sundanese'], ['yue', 'cantonese'],
];

/** The special token ids of a checkpoint, from generation_config.json when present. */
export interface SpecialTokens {
  sot: number;
  eot: number;
  sotPrev: number;
  transcribe: number;
  translate: number;
  noTimestamps: number;
  multilingual: boolean;
  /** code -> token id */
  languages: Map<string, number>;
}

export function specialTokens(c: WhisperConfig): SpecialTokens {
  const sot = c.decoderStartTokenId;
  // Token layout after <|endoftext|>: sot, languages..., translate, transcribe, startoflm, startofprev, nospeech, notimestamps.
  const nLang = c.vocabSize >= 51866 ? 100 : 99;
  const languages = new Map<string, number>();
  const fromConfig = Object.entries(c.langToId);
  if (fromConfig.length) {
    // In token order (en, zh, de, ...), like whisper's LANGUAGES.
    for (const [tok, id] of fromConfig.sort((a, b) => a[1] - b[1])) languages.set(tok.replace(/^<\|/, '').replace(/\|>$/, ''), id);
  } else {
    LANGUAGES.slice(0, nLang).forEach(([code], i) => languages.set(code, sot + 1 + i));
  }
  const translate = c.taskToId.translate ?? sot + 1 + nLang;
  const transcribe = c.taskToId.transcribe ?? translate + 1;
  return {
    sot,
    eot: c.eosTokenId,
    translate,
    transcribe,
    sotPrev: transcribe + 2,
    noTimestamps: c.noTimestampsTokenId ?? transcribe + 4,
    multilingual: c.isMultilingual ?? c.vocabSize >= 51865,
    languages,
  };
}

/** 'fr', 'French', '<|fr|>' -> 'fr'; an unknown language throws listing the valid codes. */
export function languageCode(language: string, sp: SpecialTokens): string {
  const s = language.trim().toLowerCase().replace(/^<\|/, '').replace(/\|>$/, '');
  if (sp.languages.has(s)) return s;
  const byName = LANGUAGES.find(([, name]) => name === s);
  if (byName && sp.languages.has(byName[0])) return byName[0];
  throw new Error(`Unknown language '${language}'. Valid codes: ${[...sp.languages.keys()].join(', ')} ` +
    `(or names such as 'english', 'french')`);
}

function argmax(row: Float32Array, start: number, len: number): number {
  let best = 0;
  let bestV = -Infinity;
  for (let i = 0; i < len; i++) {
    const v = row[start + i];
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

/** Runs ids [B, T] through the cached decoder and returns the last-position logits [B * V]. */
async function stepLogits(model: WhisperForConditionalGeneration, ids: number[][], cache: DecoderCache): Promise<Float32Array> {
  const input = tf.tensor2d(ids, [ids.length, ids[0].length], 'int32');
  const hidden = model.decoder.step(input, cache);
  input.dispose();
  const logits = tf.tidy(() => {
    const t = hidden.shape[1];
    const last = tf.slice(hidden, [0, t - 1, 0], [-1, 1, -1]).reshape([ids.length, -1]);
    return model.projOut.apply(last);
  });
  hidden.dispose();
  const data = (await logits.data()) as Float32Array;
  logits.dispose();
  return data;
}

export async function generate(
  model: WhisperForConditionalGeneration,
  inputFeatures: tf.Tensor3D | null,
  opts: GenerateOptions = {},
): Promise<GenerateOutput> {
  const c = model.config;
  const sp = specialTokens(c);
  if ((opts.numBeams ?? 1) !== 1) {
    // Beam search lives in beam.ts (which imports this file: required lazily to avoid the cycle).
    const { generateBeams } = require('./beam') as typeof import('./beam');
    return generateBeams(model, inputFeatures, opts);
  }
  const task = opts.task ?? 'transcribe';
  if (task !== 'transcribe' && task !== 'translate') throw new Error(`generate: task '${task}' must be 'transcribe' or 'translate'`);
  const fixedLang = opts.language !== undefined && sp.multilingual ? languageCode(opts.language, sp) : undefined;
  const maxNew = opts.maxNewTokens ?? 128;
  if (!Number.isInteger(maxNew) || maxNew < 1) throw new Error(`generate: maxNewTokens must be a positive integer, got ${maxNew}`);

  const enc = opts.encoderHiddenStates ?? model.encode(inputFeatures as tf.Tensor3D);
  const b = enc.shape[0];
  const cache = model.decoder.initCache(enc);
  if (!opts.encoderHiddenStates) enc.dispose();
  try {
    // 1. Language: given, or the most likely language token after <|startoftranscript|>.
    let langs: string[] = [];
    if (!sp.multilingual) {
      langs = new Array(b).fill('en');
    } else if (fixedLang) {
      langs = new Array(b).fill(fixedLang);
    } else {
      const logits = await stepLogits(model, new Array(b).fill([sp.sot]), cache);
      cache.self.forEach(disposeKeyValue);
      cache.self = cache.self.map(() => undefined);
      cache.offset = 0;
      const entries = [...sp.languages.entries()];
      for (let r = 0; r < b; r++) {
        let best = entries[0];
        for (const e of entries) if (logits[r * c.vocabSize + e[1]] > logits[r * c.vocabSize + best[1]]) best = e;
        langs.push(best[0]);
      }
    }

    // 2. Prompt per row (same length for all rows).
    const prev = opts.promptIds?.length
      ? (opts.promptIds[0] === sp.sotPrev ? opts.promptIds : [sp.sotPrev, ...opts.promptIds])
      : [];
    const prompts = langs.map((l) => sp.multilingual
      ? [...prev, sp.sot, sp.languages.get(l)!, task === 'translate' ? sp.translate : sp.transcribe, sp.noTimestamps]
      : [...prev, sp.sot, sp.noTimestamps]);
    const maxSteps = Math.min(maxNew, c.maxTargetPositions - prompts[0].length);

    // 3. Greedy loop.
    const suppress = c.suppressTokens;
    const beginSuppress = c.beginSuppressTokens;
    const sequences: number[][] = prompts.map(() => []);
    const done = new Array(b).fill(false);
    let ids: number[][] = prompts;
    for (let step = 0; step < maxSteps; step++) {
      const logits = await stepLogits(model, ids, cache);
      const next: number[][] = [];
      for (let r = 0; r < b; r++) {
        if (done[r]) {
          next.push([sp.eot]);
          continue;
        }
        const o = r * c.vocabSize;
        for (const t of suppress) logits[o + t] = -Infinity;
        if (step === 0) for (const t of beginSuppress) logits[o + t] = -Infinity;
        const tok = argmax(logits, o, c.vocabSize);
        if (tok === sp.eot) done[r] = true;
        else sequences[r].push(tok);
        next.push([tok]);
      }
      if (done.every(Boolean)) break;
      ids = next;
    }
    return { sequences, languages: langs };
  } finally {
    disposeCache(cache);
  }
}
