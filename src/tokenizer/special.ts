/**
 * The special token ids a Whisper decoding prompt is made of, in one place.
 *
 * They are looked up by their text in the checkpoint's tokenizer.json (`<|startoftranscript|>`,
 * `<|fr|>`, `<|0.00|>`...): multilingual vocabularies have <|endoftext|> = 50257, English-only
 * (.en) ones one BPE token less, and large-v3 one language more, so no id is hard-coded.
 * A checkpoint without tokenizer.json falls back to transformers' rule: the ids generation_config.json
 * names (decoder_start_token_id, lang_to_id, task_to_id, no_timestamps_token_id) and the fixed
 * order of the rest around them.
 */
import { Files, readJson } from '../io/files';
import { asFiles } from '../io/node';
import { LANGUAGES, languageName, toLanguageCode } from './languages';

/** Seconds per timestamp token: 30 s window / 1500 encoder positions. */
export const TIME_PRECISION = 0.02;

export interface LanguageInfo {
  code: string;
  name: string;
  id: number;
}

export interface SpecialTokens {
  sot: number;
  eot: number;
  sotPrev: number;
  sotLm: number;
  /** <|nospeech|> (<|nocaptions|> in older vocabularies). */
  noSpeech: number;
  transcribe: number;
  translate: number;
  noTimestamps: number;
  /** <|0.00|>; timestamps run up to the end of the vocabulary in 0.02 s steps. */
  timestampBegin: number;
  isMultilingual: boolean;
  /** Language tokens in id order ([] for English-only models). */
  languages: LanguageInfo[];
}

/**
 * Whisper's rule when a checkpoint does not say (generation_config.json `is_multilingual`): the
 * multilingual vocabulary has at least 51865 ids, the English-only one 51864.
 */
export function isMultilingualVocabulary(vocabSize: number, declared?: boolean): boolean {
  return declared ?? vocabSize >= 51865;
}

/** Looks every special token up by text; `byText` maps a token's text to its id. */
export function specialTokensByText(byText: (text: string) => number | undefined, isMultilingual: boolean,
  source = 'tokenizer.json'): SpecialTokens {
  const need = (...names: string[]): number => {
    for (const n of names) {
      const id = byText(n);
      if (id !== undefined) return id;
    }
    throw new Error(`${source}: special token ${names.join(' or ')} is missing from added_tokens`);
  };
  const languages: LanguageInfo[] = [];
  if (isMultilingual) {
    for (const [code, name] of LANGUAGES) {
      const id = byText(`<|${code}|>`);
      if (id !== undefined) languages.push({ code, name, id });
    }
    if (languages.length === 0) throw new Error(`${source}: multilingual vocabulary without <|xx|> language tokens`);
  }
  return {
    eot: need('<|endoftext|>'),
    sot: need('<|startoftranscript|>'),
    translate: need('<|translate|>'),
    transcribe: need('<|transcribe|>'),
    sotLm: need('<|startoflm|>'),
    sotPrev: need('<|startofprev|>'),
    noSpeech: need('<|nospeech|>', '<|nocaptions|>'),
    noTimestamps: need('<|notimestamps|>'),
    timestampBegin: need('<|0.00|>'),
    isMultilingual,
    languages,
  };
}

/** The fields of a WhisperConfig this fallback reads. */
export interface SpecialTokenConfig {
  decoderStartTokenId: number;
  eosTokenId: number;
  vocabSize: number;
  langToId: Record<string, number>;
  taskToId: Record<string, number>;
  noTimestampsTokenId?: number;
  isMultilingual?: boolean;
}

/**
 * transformers' rule for a checkpoint without tokenizer.json: generation_config.json's ids, the
 * rest by Whisper's fixed order after <|endoftext|>: sot, languages..., translate, transcribe,
 * startoflm, startofprev, nospeech, notimestamps, timestamps.
 */
export function specialTokensFromConfig(c: SpecialTokenConfig): SpecialTokens {
  const sot = c.decoderStartTokenId;
  const isMultilingual = isMultilingualVocabulary(c.vocabSize, c.isMultilingual);
  const fromConfig = Object.entries(c.langToId).sort((a, b) => a[1] - b[1]);
  const nLang = fromConfig.length || (c.vocabSize >= 51866 ? 100 : 99);
  const languages: LanguageInfo[] = !isMultilingual ? [] : fromConfig.length
    ? fromConfig.map(([tok, id]) => {
      const code = tok.replace(/^<\|/, '').replace(/\|>$/, '');
      return { code, name: languageName(code) ?? code, id };
    })
    : LANGUAGES.slice(0, nLang).map(([code, name], i) => ({ code, name, id: sot + 1 + i }));
  // English-only vocabularies keep the language tokens too (unused), so the order is the same.
  const translate = c.taskToId.translate ?? sot + 1 + nLang;
  const transcribe = c.taskToId.transcribe ?? translate + 1;
  const noTimestamps = c.noTimestampsTokenId ?? transcribe + 4;
  return {
    sot, eot: c.eosTokenId, translate, transcribe,
    sotLm: noTimestamps - 3, sotPrev: noTimestamps - 2, noSpeech: noTimestamps - 1, noTimestamps,
    timestampBegin: noTimestamps + 1, isMultilingual, languages,
  };
}

/**
 * The special tokens of a checkpoint folder: from tokenizer.json when it is there (and
 * generation_config.json's `is_multilingual`), else from the config (`fallback`).
 */
export function readSpecialTokens(dir: string | Files, fallback: SpecialTokenConfig): SpecialTokens {
  const files = asFiles(dir);
  if (!files.has('tokenizer.json')) return specialTokensFromConfig(fallback);
  const file = files.path('tokenizer.json');
  const added = readJson<{ added_tokens?: { id: number; content: string }[] } | null>(files, 'tokenizer.json')?.added_tokens;
  if (!Array.isArray(added)) throw new Error(`${file}: not a Hugging Face tokenizer.json (needs "added_tokens")`);
  const byContent = new Map(added.map((t) => [t.content, t.id]));
  return specialTokensByText((t) => byContent.get(t), isMultilingualVocabulary(fallback.vocabSize, fallback.isMultilingual), file);
}

/**
 * 'fr', 'French', '<|fr|>', 'castilian' -> the code of a language this vocabulary has; anything
 * else throws naming the valid codes.
 */
export function languageCode(language: string, sp: SpecialTokens): string {
  const code = toLanguageCode(language.trim().replace(/^<\|/, '').replace(/\|>$/, ''));
  if (code !== undefined && sp.languages.some((l) => l.code === code)) return code;
  throw new Error(`Unknown language '${language}'. Valid codes: ${sp.languages.map((l) => l.code).join(', ')} ` +
    `(or names such as 'english', 'french')`);
}

/** The id of a language token (`languageCode` rules). */
export function languageToken(language: string, sp: SpecialTokens): number {
  if (!sp.isMultilingual) throw new Error(`An English-only model has no language tokens (asked for '${language}')`);
  const code = languageCode(language, sp);
  return sp.languages.find((l) => l.code === code)!.id;
}

export interface PromptOptions {
  /** Code or name ('fr', 'french'); omit to leave it to language detection (or to the decoder). */
  language?: string;
  task?: 'transcribe' | 'translate';
  /** false (default) ends the prompt with <|notimestamps|>. */
  timestamps?: boolean;
}

/**
 * The decoder prompt, for training labels and decoding alike (openai's sot_sequence):
 * <|startoftranscript|> <|lang|> <|task|> [<|notimestamps|>]. English-only models take no language
 * or task token: <|startoftranscript|> [<|notimestamps|>].
 */
export function sotSequence(sp: SpecialTokens, opts: PromptOptions = {}): number[] {
  const task = opts.task ?? 'transcribe';
  if (task !== 'transcribe' && task !== 'translate') throw new Error(`task must be 'transcribe' or 'translate', got '${task}'`);
  const seq = [sp.sot];
  if (sp.isMultilingual) {
    if (opts.language !== undefined) seq.push(languageToken(opts.language, sp));
    seq.push(task === 'translate' ? sp.translate : sp.transcribe);
  } else {
    if (opts.language !== undefined && toLanguageCode(opts.language) !== 'en') {
      throw new Error(`An English-only model cannot take language '${opts.language}'`);
    }
    if (task === 'translate') throw new Error('An English-only model cannot translate');
  }
  return opts.timestamps ? seq : [...seq, sp.noTimestamps];
}
