/**
 * Whisper's tokenizer: the checkpoint's byte-level BPE (`tokenizer.json`, run by
 * @huggingface/tokenizers) plus the special tokens Whisper's decoder prompt is made of.
 *
 * Special ids are looked up by their text, never hard-coded: multilingual checkpoints have
 * `<|endoftext|>` = 50257 and `<|startoftranscript|>` = 50258, English-only (.en) ones have one
 * BPE token less, so every special id is one lower (50256, 50257, ...).
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { Files, readJson } from '../io/files';
import { asFiles } from '../io/node';
import { BasicTextNormalizer } from '../text/basic';
import { EnglishTextNormalizer } from '../text/english';
import { languageName } from './languages';
import {
  isMultilingualVocabulary, languageToken, LanguageInfo, PromptOptions, SpecialTokens, specialTokensByText, sotSequence, TIME_PRECISION,
} from './special';

export type { LanguageInfo } from './special';
export { TIME_PRECISION } from './special';

export type WhisperTask = 'transcribe' | 'translate';

export type PrefixOptions = PromptOptions;

export interface DecodeOptions {
  /** drop <|...|> control tokens and timestamp tokens, keeping only the text */
  skipSpecialTokens?: boolean;
}

interface AddedTokenJSON {
  id: number;
  content: string;
  special?: boolean;
}

/** Python's string.punctuation. */
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';



export class WhisperTokenizer {
  readonly sot: number;
  readonly eot: number;
  readonly transcribe: number;
  readonly translate: number;
  readonly noTimestamps: number;
  readonly timestampBegin: number;
  readonly sotPrev: number;
  readonly sotLm: number;
  readonly noSpeech: number;
  readonly isMultilingual: boolean;
  /** Language tokens of the vocabulary in id order ([] for English-only models). */
  readonly languages: LanguageInfo[];
  /** Total number of ids (base BPE + added tokens), the decoder's output size. */
  readonly vocabSize: number;
  /** All special ids together, what the decoding task takes (./special.ts). */
  readonly special: SpecialTokens;

  private readonly tokenizer: Tokenizer;
  /** The same BPE without the added tokens: text -> ids never yields a control token (see `encode`). */
  private readonly plainText: Tokenizer;
  private readonly specialIds: Set<number>;
  private readonly langById = new Map<number, string>();
  private readonly source: string;
  /** The checkpoint's normalizer.json (British -> American spellings), read by `fromPretrained`. */
  private englishSpelling?: Record<string, string>;
  private english?: EnglishTextNormalizer;
  private basic?: BasicTextNormalizer;

  /**
   * @param tokenizerJson parsed tokenizer.json
   * @param tokenizerConfig parsed tokenizer_config.json (may be {})
   * @param isMultilingual from generation_config.json `is_multilingual`; when undefined, Whisper's
   *   own rule: vocabulary of at least 51865 ids
   * @param source file or folder named in error messages
   */
  constructor(tokenizerJson: any, tokenizerConfig: any = {}, isMultilingual?: boolean, source = 'tokenizer.json') {
    this.source = source;
    const added: AddedTokenJSON[] = tokenizerJson?.added_tokens;
    if (!Array.isArray(added) || !tokenizerJson?.model?.vocab) {
      throw new Error(`${source}: not a Hugging Face tokenizer.json (needs "model.vocab" and "added_tokens")`);
    }
    // Whisper decodes exactly, like tiktoken: no " ." -> "." clean-up whatever the config says.
    this.tokenizer = new Tokenizer(tokenizerJson, { ...tokenizerConfig, clean_up_tokenization_spaces: false });
    this.plainText = new Tokenizer({ ...tokenizerJson, added_tokens: [] }, { ...tokenizerConfig, clean_up_tokenization_spaces: false });
    const byContent = new Map(added.map((t) => [t.content, t.id]));
    const maxId = Math.max(...added.map((t) => t.id), ...(Object.values(tokenizerJson.model.vocab) as number[]));
    this.vocabSize = maxId + 1;
    this.special = specialTokensByText((t) => byContent.get(t), isMultilingualVocabulary(this.vocabSize, isMultilingual), source);
    ({ eot: this.eot, sot: this.sot, translate: this.translate, transcribe: this.transcribe, sotLm: this.sotLm,
      sotPrev: this.sotPrev, noSpeech: this.noSpeech, noTimestamps: this.noTimestamps, timestampBegin: this.timestampBegin,
      isMultilingual: this.isMultilingual, languages: this.languages } = this.special);
    this.specialIds = new Set(added.filter((t) => t.special || /^<\|.*\|>$/.test(t.content)).map((t) => t.id));
    for (const l of this.languages) {
      this.langById.set(l.id, l.code);
    }
  }

  /**
   * Loads `<dir>/tokenizer.json`, plus `tokenizer_config.json` and `generation_config.json` when
   * present (the latter says whether the model is multilingual).
   */
  static async fromPretrained(dir: string | Files): Promise<WhisperTokenizer> {
    const files = asFiles(dir);
    const optional = (name: string) => (files.has(name) ? readJson<any>(files, name) : {});
    const gen = optional('generation_config.json');
    const multi = typeof gen?.is_multilingual === 'boolean' ? gen.is_multilingual : undefined;
    const tokenizer = new WhisperTokenizer(readJson(files, 'tokenizer.json'), optional('tokenizer_config.json'), multi, files.path('tokenizer.json'));
    if (files.has('normalizer.json')) tokenizer.englishSpelling = readJson<Record<string, string>>(files, 'normalizer.json');
    return tokenizer;
  }

  /**
   * transformers' `tokenizer.normalize(text)`: Whisper's EnglishTextNormalizer with this
   * checkpoint's spelling map (normalizer.json), what English WERs are reported with.
   */
  normalize(text: string): string {
    if (!this.englishSpelling) {
      throw new Error(`${this.source}: the English normalizer needs the checkpoint's normalizer.json beside it, and there is none`);
    }
    this.english ??= new EnglishTextNormalizer({ spellingMapping: this.englishSpelling });
    return this.english.normalize(text);
  }

  /** transformers' `tokenizer.basic_normalize(text)`: Whisper's BasicTextNormalizer (every other language). */
  basicNormalize(text: string): string {
    this.basic ??= new BasicTextNormalizer();
    return this.basic.normalize(text);
  }

  /**
   * Text -> BPE ids, no special tokens (Whisper puts a leading space before each segment's text).
   * Text that looks like a control token ("<|endoftext|>", "<|fr|>", "<|0.00|>") is encoded as the
   * characters it is made of, never as that token: a transcript cannot end its own label or switch
   * the language. This is tiktoken's `encode(text, disallowed_special=())` and transformers'
   * WhisperTokenizer with `split_special_tokens=True` (by default transformers maps such text to the
   * control token, and openai-whisper's encode refuses it).
   */
  encode(text: string): number[] {
    return this.plainText.encode(text, { add_special_tokens: false }).ids;
  }

  /**
   * Ids -> text. Without options every token is rendered (`<|en|>`, `<|1.00|>`); with
   * `skipSpecialTokens` only the spoken text is kept. The leading space is kept; Whisper strips it.
   */
  decode(tokenIds: readonly number[] | Int32Array, opts: DecodeOptions = {}): string {
    const ids = Array.from(tokenIds);
    this.checkIds(ids);
    const keep = opts.skipSpecialTokens
      ? ids.filter((id) => id < this.timestampBegin && !this.specialIds.has(id))
      : ids;
    return keep.length ? this.tokenizer.decode(keep, { skip_special_tokens: false }) : '';
  }

  /**
   * Text with `<|1.08|>` style timestamps, other special tokens dropped (`keepSpecial`: rendered,
   * as openai's decode_with_timestamps does).
   */
  decodeWithTimestamps(ids: number[], keepSpecial = false): string {
    this.checkIds(ids);
    let out = '';
    let run: number[] = [];
    const flush = () => {
      if (run.length) out += this.tokenizer.decode(run, { skip_special_tokens: false });
      run = [];
    };
    for (const id of ids) {
      if (this.isTimestamp(id)) {
        flush();
        out += `<|${this.timestampSeconds(id).toFixed(2)}|>`;
      } else if (keepSpecial || !this.specialIds.has(id)) {
        run.push(id);
      }
    }
    flush();
    return out;
  }

  isTimestamp(id: number): boolean {
    return id >= this.timestampBegin && id < this.vocabSize;
  }

  /** Seconds of a timestamp token (<|1.00|> -> 1). */
  timestampSeconds(id: number): number {
    if (!this.isTimestamp(id)) throw new Error(`WhisperTokenizer: ${id} is not a timestamp token`);
    return Math.round((id - this.timestampBegin) * TIME_PRECISION * 100) / 100;
  }

  /** Token for a time in seconds, rounded to the 0.02 s grid: 1.0 -> <|1.00|>. */
  timestampToken(seconds: number): number {
    const id = this.timestampBegin + Math.round(seconds / TIME_PRECISION);
    if (!Number.isFinite(seconds) || seconds < 0 || !this.isTimestamp(id)) {
      const last = ((this.vocabSize - 1 - this.timestampBegin) * TIME_PRECISION).toFixed(2);
      throw new Error(`WhisperTokenizer: timestamp ${seconds} s is outside 0..${last} s`);
    }
    return id;
  }

  /** `<|fr|>` for 'fr' or 'french' (case-insensitive, Whisper's aliases too). */
  languageToken(codeOrName: string): number {
    return languageToken(codeOrName, this.special);
  }

  /** 'fr' for the id of `<|fr|>`. */
  languageCodeOf(tokenId: number): string {
    const code = this.langById.get(tokenId);
    if (code === undefined) throw new Error(`WhisperTokenizer: token ${tokenId} is not a language token`);
    return code;
  }

  languageNameOf(tokenId: number): string {
    return languageName(this.languageCodeOf(tokenId)) as string;
  }

  /** The decoder prompt (special.ts sotSequence, shared with decoding): transformers' prefix_tokens. */
  prefixTokens(opts: PrefixOptions = {}): number[] {
    return sotSequence(this.special, opts);
  }

  /**
   * Tokens grouped into words (openai's split_to_word_tokens): at spaces and punctuation, or, for
   * languages written without spaces (zh, ja, th, lo, my, yue), wherever the text is whole
   * characters. Special tokens are words of their own.
   */
  splitToWordTokens(tokens: number[], language: string): { words: string[]; tokens: number[][] } {
    const onUnicode = this.splitOnUnicode(tokens);
    if (['zh', 'ja', 'th', 'lo', 'my', 'yue'].includes(language)) return onUnicode;
    const words: string[] = [];
    const groups: number[][] = [];
    onUnicode.words.forEach((sub, i) => {
      const ids = onUnicode.tokens[i];
      // Python's `in` on strings (a substring test, '' included), as openai writes it.
      const punctuation = PUNCTUATION.includes(sub.trim());
      if (ids[0] >= this.eot || sub.startsWith(' ') || punctuation || words.length === 0) {
        words.push(sub);
        groups.push([...ids]);
      } else {
        words[words.length - 1] += sub;
        groups[groups.length - 1].push(...ids);
      }
    });
    return { words, tokens: groups };
  }

  /** Runs of tokens that decode to whole characters (no U+FFFD of a cut UTF-8 sequence). */
  private splitOnUnicode(tokens: number[]): { words: string[]; tokens: number[][] } {
    const full = this.decodeWithTimestamps(tokens, true);
    const words: string[] = [];
    const groups: number[][] = [];
    let current: number[] = [];
    let offset = 0;
    for (const t of tokens) {
      current.push(t);
      const text = this.decodeWithTimestamps(current, true);
      const bad = text.indexOf('\ufffd');
      if (bad < 0 || full[offset + bad] === '\ufffd') {
        words.push(text);
        groups.push(current);
        current = [];
        offset += text.length;
      }
    }
    return { words, tokens: groups };
  }

  /** Token string of an id ('Ġthe', '<|en|>'), for displays. */
  idToToken(id: number): string {
    this.checkIds([id]);
    return this.tokenizer.id_to_token(id) ?? '';
  }

  private checkIds(ids: number[]): void {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`WhisperTokenizer: token id ${id} is outside 0..${this.vocabSize - 1}`);
      }
    }
  }
}
