/**
 * Port of openai/whisper `whisper/normalizers/basic.py` `BasicTextNormalizer`: the normalizer the
 * Whisper paper uses for every language except English. It lowercases, drops `[bracketed]`,
 * `<tagged>` and `(parenthesised)` words, turns punctuation/symbols into spaces and collapses
 * whitespace. Like the Python original it does NOT trim, and by default it KEEPS diacritics
 * ("café" stays "café"); `removeDiacritics` gives "cafe".
 */
import { pyRegex, removeSymbols, removeSymbolsAndDiacritics, subLiteral } from './unicode';

export interface BasicTextNormalizerOptions {
  /** Use `remove_symbols_and_diacritics` (NFKD, drop accents) instead of `remove_symbols`. */
  removeDiacritics?: boolean;
  /** Put a space between every grapheme cluster (for languages written without spaces: CER-like WER). */
  splitLetters?: boolean;
  /** Keep combining marks (Brahmic scripts, Thai...) instead of turning them into spaces. */
  preserveMarks?: boolean;
}

// Patterns shared with EnglishTextNormalizer; compiled once.
export const BRACKETS = pyRegex('[<\\[][^>\\]]*[>\\]]');
export const PARENTHESES = pyRegex('\\(([^)]+?)\\)');
const WHITESPACE = pyRegex('\\s+');

export class BasicTextNormalizer {
  private readonly clean: (s: string) => string;
  private readonly splitLetters: boolean;
  private static segmenter?: Intl.Segmenter;

  constructor(opts: BasicTextNormalizerOptions = {}) {
    if (opts.removeDiacritics && opts.preserveMarks) {
      throw new Error('BasicTextNormalizer: `preserveMarks` cannot be combined with `removeDiacritics`');
    }
    if (opts.removeDiacritics) this.clean = (s) => removeSymbolsAndDiacritics(s);
    else if (opts.preserveMarks) this.clean = (s) => removeSymbols(s, true);
    else this.clean = (s) => removeSymbols(s);
    this.splitLetters = !!opts.splitLetters;
  }

  normalize(s: string): string {
    s = s.toLowerCase();
    s = subLiteral(BRACKETS, '', s); // remove words between brackets
    s = subLiteral(PARENTHESES, '', s); // remove words between parentheses
    s = this.clean(s).toLowerCase();
    if (this.splitLetters) {
      // Python: " ".join(regex.findall(r"\X", s)) -- \X is an extended grapheme cluster.
      BasicTextNormalizer.segmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
      s = Array.from(BasicTextNormalizer.segmenter.segment(s), (g) => g.segment).join(' ');
    }
    return subLiteral(WHITESPACE, ' ', s);
  }

  /** A plain function, so it can be passed around like the Python callable. */
  get fn(): (s: string) => string {
    return (s) => this.normalize(s);
  }
}
