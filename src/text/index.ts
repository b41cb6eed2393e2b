/**
 * One entry point for every text normalizer, chosen by name:
 *
 *   const norm = getNormalizer('english');      // Whisper's EnglishTextNormalizer
 *   norm("Mr. Smith won't pay £20.") === "mister smith will not pay £20"
 *
 * - 'english': openai/whisper EnglishTextNormalizer; needs the checkpoint's normalizer.json (its
 *   British -> American spelling map): `{ normalizerJson: path.join(modelDir, 'normalizer.json') }`,
 *   or `tokenizer.normalize(text)`, which reads it from the tokenizer's folder as transformers does
 * - 'basic':   openai/whisper BasicTextNormalizer (every other language in the Whisper paper)
 * - 'simple':  the guides' lowercase + [^a-z0-9\s] removal (English only)
 * - 'vietnamese': lowercase, numbers spelled in Vietnamese words, punctuation removed (vietnamese.ts)
 * - 'breton':  the Breton article's clean_text: lowercase, one apostrophe, punctuation removed (breton.ts)
 * - 'none':    identity (raw WER)
 * - {alphabet: 'abc...'} / {language: 'vi'}: keep only that alphabet's letters, digits and spaces
 */
import { BasicTextNormalizer, BasicTextNormalizerOptions } from './basic';
import { EnglishTextNormalizer } from './english';
import { alphabetNormalizer, languageNormalizer, simpleNormalize } from './simple';
import { vietnameseNormalize } from './vietnamese';
import { bretonCleanText } from './breton';

export { BasicTextNormalizer, BasicTextNormalizerOptions } from './basic';
export { EnglishTextNormalizer, EnglishSpellingNormalizer } from './english';
export { EnglishNumberNormalizer } from './englishNumbers';
export { ALPHABETS, alphabetNormalizer, languageNormalizer, simpleNormalize } from './simple';
export { removeSymbols, removeSymbolsAndDiacritics } from './unicode';
export { vietnameseNormalize, spellVietnameseInteger, spellVietnameseNumber, spellVietnameseDigits, spellNumbersVietnamese } from './vietnamese';
export { bretonCleanText } from './breton';

export type NormalizerName = 'basic' | 'english' | 'simple' | 'vietnamese' | 'breton' | 'none' | { alphabet: string } | { language: string };
export type Normalizer = (s: string) => string;

export interface NormalizerOptions {
  /** Path to a checkpoint's normalizer.json (British -> American map) for 'english'. */
  normalizerJson?: string;
  /** Options of the 'basic' normalizer (removeDiacritics, splitLetters, preserveMarks). */
  basic?: BasicTextNormalizerOptions;
}

/** Cache: EnglishTextNormalizer parses a 1740-entry JSON; notebooks call getNormalizer per cell. */
const englishCache = new Map<string, EnglishTextNormalizer>();

export function getNormalizer(name: NormalizerName, opts: NormalizerOptions = {}): Normalizer {
  if (typeof name === 'object' && name !== null) {
    if ('alphabet' in name) return alphabetNormalizer(name.alphabet);
    if ('language' in name) return languageNormalizer(name.language);
  }
  switch (name) {
    case 'english': {
      const file = opts.normalizerJson;
      if (!file) {
        throw new Error("getNormalizer('english') needs the checkpoint's normalizer.json (its spelling map): " +
          "pass { normalizerJson: path.join(modelDir, 'normalizer.json') }, or use tokenizer.normalize(text)");
      }
      let n = englishCache.get(file);
      if (!n) englishCache.set(file, (n = new EnglishTextNormalizer({ spellingMapping: file })));
      return n.fn;
    }
    case 'basic':
      return new BasicTextNormalizer(opts.basic).fn;
    case 'simple':
      return simpleNormalize;
    case 'vietnamese':
      return vietnameseNormalize;
    case 'breton':
      return bretonCleanText;
    case 'none':
      return (s) => s;
    default:
      throw new Error(`Unknown normalizer ${JSON.stringify(name)}; use 'english', 'basic', 'simple', 'vietnamese', 'breton', 'none', ` +
        `{alphabet: '...'} or {language: 'vi'}`);
  }
}

/** Whisper paper convention: EnglishTextNormalizer for English, BasicTextNormalizer otherwise. */
export function whisperNormalizerFor(language: string, opts: NormalizerOptions = {}): Normalizer {
  return getNormalizer(language === 'en' || language === 'english' ? 'english' : 'basic', opts);
}
