/**
 * Port of openai/whisper `EnglishSpellingNormalizer` and `EnglishTextNormalizer`
 * (whisper/normalizers/english.py): the normalizer behind every English WER in the Whisper paper.
 *
 * Order of operations (as in Python, and it matters):
 *   lowercase -> drop [brackets]/(parentheses) -> drop hesitations (hmm, uh, um...) ->
 *   contractions/titles ("won't" -> "will not", "mr" -> "mister") -> "1,000" -> "1000" ->
 *   periods not before digits -> symbols/diacritics to spaces (keeping . % $ ¢ € £) ->
 *   spelled numbers to digits -> British -> American spelling -> drop . $ ¢ € £ % not next to a digit.
 * Like the Python it does not trim; split on whitespace to get words. It is an exact port of
 * openai/whisper (and of transformers' copy): no extra step, so WER compares with the Python tools
 * ("10 %" loses its "%", "half a million" keeps its "half", as there).
 */
import * as fs from 'fs';
import { BRACKETS, PARENTHESES } from './basic';
import { EnglishNumberNormalizer } from './englishNumbers';
import { pyRegex, pySplit, removeSymbolsAndDiacritics, subLiteral } from './unicode';

/** British -> American spellings ("colour" -> "color") from a checkpoint's `normalizer.json`. */
export class EnglishSpellingNormalizer {
  readonly mapping: ReadonlyMap<string, string>;

  /** `mapping`: the parsed normalizer.json object, or the path to it. */
  constructor(mapping: string | Record<string, string>) {
    let obj: Record<string, string>;
    if (typeof mapping === 'string') {
      try {
        obj = JSON.parse(fs.readFileSync(mapping, 'utf8'));
      } catch (e) {
        throw new Error(`EnglishSpellingNormalizer: cannot read spelling map ${mapping}: ${(e as Error).message}`);
      }
    } else {
      obj = mapping;
    }
    this.mapping = new Map(Object.entries(obj));
  }

  normalize(s: string): string {
    return pySplit(s).map((w) => this.mapping.get(w) ?? w).join(' ');
  }
}

const IGNORE_PATTERNS = pyRegex('\\b(hmm|mm|mhm|mmm|uh|um)\\b');

/** Applied in this order (a Python dict keeps insertion order). */
const REPLACERS: Array<[RegExp, string]> = ([
  // common contractions
  ["\\bwon't\\b", 'will not'],
  ["\\bcan't\\b", 'can not'],
  ["\\blet's\\b", 'let us'],
  ["\\bain't\\b", 'aint'],
  ["\\by'all\\b", 'you all'],
  ['\\bwanna\\b', 'want to'],
  ['\\bgotta\\b', 'got to'],
  ['\\bgonna\\b', 'going to'],
  ["\\bi'ma\\b", 'i am going to'],
  ['\\bimma\\b', 'i am going to'],
  ['\\bwoulda\\b', 'would have'],
  ['\\bcoulda\\b', 'could have'],
  ['\\bshoulda\\b', 'should have'],
  ["\\bma'am\\b", 'madam'],
  // contractions in titles/prefixes
  ['\\bmr\\b', 'mister '],
  ['\\bmrs\\b', 'missus '],
  ['\\bst\\b', 'saint '],
  ['\\bdr\\b', 'doctor '],
  ['\\bprof\\b', 'professor '],
  ['\\bcapt\\b', 'captain '],
  ['\\bgov\\b', 'governor '],
  ['\\bald\\b', 'alderman '],
  ['\\bgen\\b', 'general '],
  ['\\bsen\\b', 'senator '],
  ['\\brep\\b', 'representative '],
  ['\\bpres\\b', 'president '],
  ['\\brev\\b', 'reverend '],
  ['\\bhon\\b', 'honorable '],
  ['\\basst\\b', 'assistant '],
  ['\\bassoc\\b', 'associate '],
  ['\\blt\\b', 'lieutenant '],
  ['\\bcol\\b', 'colonel '],
  ['\\bjr\\b', 'junior '],
  ['\\bsr\\b', 'senior '],
  ['\\besq\\b', 'esquire '],
  // perfect tenses, ideally it should be any past participles, but it's harder..
  ["'d been\\b", ' had been'],
  ["'s been\\b", ' has been'],
  ["'d gone\\b", ' had gone'],
  ["'s gone\\b", ' has gone'],
  ["'d done\\b", ' had done'], // "'s done" is ambiguous
  ["'s got\\b", ' has got'],
  // general contractions
  ["n't\\b", ' not'],
  ["'re\\b", ' are'],
  ["'s\\b", ' is'],
  ["'d\\b", ' would'],
  ["'ll\\b", ' will'],
  ["'t\\b", ' not'],
  ["'ve\\b", ' have'],
  ["'m\\b", ' am'],
] as Array<[string, string]>).map(([p, r]) => [pyRegex(p), r]);

const SPACE_BEFORE_APOSTROPHE = pyRegex("\\s+'");
const DIGIT_COMMA_DIGIT = pyRegex('(\\d),(\\d)');
const PERIOD_NOT_BEFORE_DIGIT = pyRegex('\\.([^0-9]|$)');
const LONE_PREFIX_SYMBOL = pyRegex('[.$¢€£]([^0-9])');
const LONE_PERCENT = pyRegex('([^0-9])%');
const WHITESPACE = pyRegex('\\s+');

export interface EnglishTextNormalizerOptions {
  /** Path to the checkpoint's `normalizer.json` (or the parsed map). */
  spellingMapping: string | Record<string, string>;
}

export class EnglishTextNormalizer {
  readonly standardizeNumbers = new EnglishNumberNormalizer();
  readonly standardizeSpellings: EnglishSpellingNormalizer;

  constructor(opts: EnglishTextNormalizerOptions) {
    this.standardizeSpellings = new EnglishSpellingNormalizer(opts.spellingMapping);
  }

  normalize(s: string): string {
    s = s.toLowerCase();
    s = subLiteral(BRACKETS, '', s); // remove words between brackets
    s = subLiteral(PARENTHESES, '', s); // remove words between parentheses
    s = subLiteral(IGNORE_PATTERNS, '', s);
    s = subLiteral(SPACE_BEFORE_APOSTROPHE, "'", s); // when there's a space before an apostrophe
    for (const [pattern, replacement] of REPLACERS) s = subLiteral(pattern, replacement, s);

    s = s.replace(DIGIT_COMMA_DIGIT, '$1$2'); // remove commas between digits
    s = s.replace(PERIOD_NOT_BEFORE_DIGIT, ' $1'); // remove periods not followed by numbers
    s = removeSymbolsAndDiacritics(s, '.%$¢€£'); // keep numeric symbols

    s = this.standardizeNumbers.normalize(s);
    s = this.standardizeSpellings.normalize(s);

    // now remove prefix/suffix symbols that are not preceded/followed by numbers
    s = s.replace(LONE_PREFIX_SYMBOL, ' $1');
    s = s.replace(LONE_PERCENT, '$1 ');
    return subLiteral(WHITESPACE, ' ', s); // replace any successive whitespaces with a space
  }

  get fn(): (s: string) => string {
    return (s) => this.normalize(s);
  }
}
