/**
 * Port of openai/whisper `EnglishNumberNormalizer` (whisper/normalizers/english.py).
 *
 * Spelled-out numbers become digits: "two hundred and fifty" -> "250", "twenty first" -> "21st",
 * "one oh one" -> "101", "double o seven" -> "007", "$20 million" / "twenty million dollars" ->
 * "$20000000", "five percent" -> "5%", "one and a half" -> "1.5"; "one"/"ones" stay words. Like the
 * Python, "half a million" stays "half a 1000000" (no step turns "half" into 0.5).
 *
 * The Python keeps the running number either as an int (arithmetic: "hundred" multiplies) or as a
 * str (digits concatenated: "one two" -> "12"). We keep the same two states: `bigint` (Python ints
 * are unbounded and "decillion" is 10^33) and `string`. Quirks are kept on purpose so WER matches
 * the Python numbers, e.g. "nineth" (not "ninth") is the recognised ordinal of nine.
 */
import { pyRegex, pySplit } from './unicode';

type Value = bigint | string | null;

const ONES_NAMES = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven',
  'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const ONES = new Map(ONES_NAMES.map((n, i) => [n, i + 1]));
const ZEROS = new Set(['o', 'oh', 'zero']);
const ONES_SUFFIXED = new Map<string, [number, string]>([
  ...ONES_NAMES.map((n, i): [string, [number, string]] => [n === 'six' ? 'sixes' : n + 's', [i + 1, 's']]),
  ['zeroth', [0, 'th']], ['first', [1, 'st']], ['second', [2, 'nd']], ['third', [3, 'rd']],
  ['fifth', [5, 'th']], ['twelfth', [12, 'th']],
  ...ONES_NAMES.map((n, i): [string, [number, string]] => [n + (n.endsWith('t') ? 'h' : 'th'), [i + 1, 'th']])
    .filter(([, [v]]) => v > 3 && v !== 5 && v !== 12),
]);
const TENS = new Map([['twenty', 20], ['thirty', 30], ['forty', 40], ['fifty', 50], ['sixty', 60],
  ['seventy', 70], ['eighty', 80], ['ninety', 90]]);
const TENS_SUFFIXED = new Map<string, [number, string]>([
  ...[...TENS].map(([n, v]): [string, [number, string]] => [n.replace('y', 'ies'), [v, 's']]),
  ...[...TENS].map(([n, v]): [string, [number, string]] => [n.replace('y', 'ieth'), [v, 'th']]),
]);
const MULTIPLIERS = new Map<string, bigint>([
  ['hundred', 10n ** 2n], ['thousand', 10n ** 3n], ['million', 10n ** 6n], ['billion', 10n ** 9n],
  ['trillion', 10n ** 12n], ['quadrillion', 10n ** 15n], ['quintillion', 10n ** 18n],
  ['sextillion', 10n ** 21n], ['septillion', 10n ** 24n], ['octillion', 10n ** 27n],
  ['nonillion', 10n ** 30n], ['decillion', 10n ** 33n],
]);
const MULTIPLIERS_SUFFIXED = new Map<string, [bigint, string]>([
  ...[...MULTIPLIERS].map(([n, v]): [string, [bigint, string]] => [n + 's', [v, 's']]),
  ...[...MULTIPLIERS].map(([n, v]): [string, [bigint, string]] => [n + 'th', [v, 'th']]),
]);
const DECIMALS = new Set([...ONES.keys(), ...TENS.keys(), ...ZEROS]);
const PRECEDING_PREFIXERS = new Map([['minus', '-'], ['negative', '-'], ['plus', '+'], ['positive', '+']]);
const FOLLOWING_PREFIXERS = new Map([['pound', '£'], ['pounds', '£'], ['euro', '€'], ['euros', '€'],
  ['dollar', '$'], ['dollars', '$'], ['cent', '¢'], ['cents', '¢']]);
const PREFIXES = new Set([...PRECEDING_PREFIXERS.values(), ...FOLLOWING_PREFIXERS.values()]);
/** "per" needs the next word ("per cent"); "percent" is a suffix on its own. */
const SUFFIXERS = new Map<string, string | Record<string, string>>([['per', { cent: '%' }], ['percent', '%']]);
const SPECIALS = new Set(['and', 'double', 'triple', 'point']);
const WORDS = new Set<string>([...ZEROS, ...ONES.keys(), ...ONES_SUFFIXED.keys(), ...TENS.keys(),
  ...TENS_SUFFIXED.keys(), ...MULTIPLIERS.keys(), ...MULTIPLIERS_SUFFIXED.keys(), ...PRECEDING_PREFIXERS.keys(),
  ...FOLLOWING_PREFIXERS.keys(), ...SUFFIXERS.keys(), ...SPECIALS]);

const NUMERIC = /^\p{Nd}+(\.\p{Nd}+)?$/u;
const FRACTION = /^(?=\p{Nd}|\.\p{Nd})(\p{Nd}*)(?:\.(\p{Nd}*))?$/u;

/** Value 0-9 of any Unicode decimal digit (Python's int() accepts "٣"): digits come in runs of ten. */
function digitValue(c: string): number {
  let cp = c.codePointAt(0)!;
  if (cp >= 48 && cp <= 57) return cp - 48;
  let start = cp;
  while (/\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}
function asciiDigits(s: string): string {
  return Array.from(s, (c) => (/\p{Nd}/u.test(c) ? String(digitValue(c)) : c)).join('');
}

/** Python `Fraction(str)` restricted to what can reach it here ("12", "1.5", "1.", ".5"); null on ValueError. */
function toFraction(v: string | bigint): { num: bigint; den: bigint } | null {
  if (typeof v === 'bigint') return { num: v, den: 1n };
  const m = FRACTION.exec(v.trim());
  if (!m) return null;
  const int = asciiDigits(m[1]);
  const dec = asciiDigits(m[2] ?? '');
  const num = BigInt((int + dec) || '0');
  const den = 10n ** BigInt(dec.length);
  return { num, den };
}

/** Drop the last code point (Python `value[:-1]`). */
function dropLast(s: string): string {
  const cps = Array.from(s);
  return cps.slice(0, -1).join('');
}

export class EnglishNumberNormalizer {
  *processWords(words: string[]): Generator<string> {
    let prefix: string | null = null;
    let value: Value = null;
    let skip = false;

    const output = (result: string | bigint): string => {
      let r = String(result);
      if (prefix !== null) r = prefix + r;
      value = null;
      prefix = null;
      return r;
    };
    // Python `str(value or "")`: None, 0 and "" are all falsy.
    const orEmpty = (v: Value): string => (v === null || v === 0n || v === '' ? '' : String(v));

    for (let k = 0; k < words.length; k++) {
      const prev = k > 0 ? words[k - 1] : null;
      const current = words[k];
      const next = k + 1 < words.length ? words[k + 1] : null;
      if (skip) {
        skip = false;
        continue;
      }
      const nextIsNumeric = next !== null && NUMERIC.test(next);
      const first = String.fromCodePoint(current.codePointAt(0)!);
      const hasPrefix = PREFIXES.has(first);
      const currentWithoutPrefix = hasPrefix ? current.slice(first.length) : current;
      const inOnes = (w: string | null) => w !== null && ONES.has(w);
      const inTens = (w: string | null) => w !== null && TENS.has(w);

      if (NUMERIC.test(currentWithoutPrefix)) {
        // arabic numbers (potentially with signs and fractions)
        const f = toFraction(currentWithoutPrefix)!;
        if (value !== null) {
          if (typeof value === 'string' && value.endsWith('.')) {
            // concatenate decimals / ip address components
            value = value + current;
            continue;
          }
          yield output(value);
        }
        prefix = hasPrefix ? first : prefix;
        value = f.num % f.den === 0n ? f.num / f.den : currentWithoutPrefix; // store integers as int
      } else if (!WORDS.has(current)) {
        // non-numeric words
        if (value !== null) yield output(value);
        yield output(current);
      } else if (ZEROS.has(current)) {
        value = orEmpty(value) + '0';
      } else if (ONES.has(current)) {
        const ones = ONES.get(current)!;
        if (value === null) {
          value = BigInt(ones);
        } else if (typeof value === 'string' || inOnes(prev)) {
          if (inTens(prev) && ones < 10) {
            // replace the last zero with the digit
            const v: string = String(value);
            if (!v.endsWith('0')) throw new Error(`EnglishNumberNormalizer: expected a trailing 0 in "${v}"`);
            value = dropLast(v) + String(ones);
          } else {
            value = String(value) + String(ones);
          }
        } else if (ones < 10) {
          value = value % 10n === 0n ? value + BigInt(ones) : String(value) + String(ones);
        } else {
          // eleven to nineteen
          value = value % 100n === 0n ? value + BigInt(ones) : String(value) + String(ones);
        }
      } else if (ONES_SUFFIXED.has(current)) {
        // ordinal or cardinal; yield the number right away
        const [ones, suffix] = ONES_SUFFIXED.get(current)!;
        if (value === null) {
          yield output(String(ones) + suffix);
        } else if (typeof value === 'string' || inOnes(prev)) {
          if (inTens(prev) && ones < 10) {
            const v = String(value);
            if (!v.endsWith('0')) throw new Error(`EnglishNumberNormalizer: expected a trailing 0 in "${v}"`);
            yield output(dropLast(v) + String(ones) + suffix);
          } else {
            yield output(String(value) + String(ones) + suffix);
          }
        } else if (ones < 10) {
          yield output(value % 10n === 0n ? String(value + BigInt(ones)) + suffix : String(value) + String(ones) + suffix);
        } else {
          yield output(value % 100n === 0n ? String(value + BigInt(ones)) + suffix : String(value) + String(ones) + suffix);
        }
        value = null;
      } else if (TENS.has(current)) {
        const tens = TENS.get(current)!;
        if (value === null) value = BigInt(tens);
        else if (typeof value === 'string') value = value + String(tens);
        else value = value % 100n === 0n ? value + BigInt(tens) : String(value) + String(tens);
      } else if (TENS_SUFFIXED.has(current)) {
        // ordinal or cardinal; yield the number right away
        const [tens, suffix] = TENS_SUFFIXED.get(current)!;
        if (value === null) yield output(String(tens) + suffix);
        else if (typeof value === 'string') yield output(value + String(tens) + suffix);
        else if (value % 100n === 0n) yield output(String(value + BigInt(tens)) + suffix);
        else yield output(String(value) + String(tens) + suffix);
      } else if (MULTIPLIERS.has(current)) {
        const multiplier = MULTIPLIERS.get(current)!;
        if (value === null) {
          value = multiplier;
        } else if (typeof value === 'string' || value === 0n) {
          const f = toFraction(value);
          if (f !== null && (f.num * multiplier) % f.den === 0n) {
            value = (f.num * multiplier) / f.den;
          } else {
            yield output(value);
            value = multiplier;
          }
        } else {
          const before: bigint = (value / 1000n) * 1000n;
          const residual: bigint = value % 1000n;
          value = before + residual * multiplier;
        }
      } else if (MULTIPLIERS_SUFFIXED.has(current)) {
        const [multiplier, suffix] = MULTIPLIERS_SUFFIXED.get(current)!;
        if (value === null) {
          yield output(String(multiplier) + suffix);
        } else if (typeof value === 'string') {
          const f = toFraction(value);
          if (f !== null && (f.num * multiplier) % f.den === 0n) {
            yield output(String((f.num * multiplier) / f.den) + suffix);
          } else {
            yield output(value);
            yield output(String(multiplier) + suffix);
          }
        } else {
          const before = (value / 1000n) * 1000n;
          const residual = value % 1000n;
          value = before + residual * multiplier;
          yield output(String(value) + suffix);
        }
        value = null;
      } else if (PRECEDING_PREFIXERS.has(current)) {
        // apply prefix (positive, minus, etc.) if it precedes a number
        if (value !== null) yield output(value);
        if ((next !== null && WORDS.has(next)) || nextIsNumeric) prefix = PRECEDING_PREFIXERS.get(current)!;
        else yield output(current);
      } else if (FOLLOWING_PREFIXERS.has(current)) {
        // apply prefix (dollars, cents, etc.) only after a number
        if (value !== null) {
          prefix = FOLLOWING_PREFIXERS.get(current)!;
          yield output(value);
        } else {
          yield output(current);
        }
      } else if (SUFFIXERS.has(current)) {
        // apply suffix symbols (percent -> '%')
        if (value !== null) {
          const suffix = SUFFIXERS.get(current)!;
          if (typeof suffix === 'object') {
            if (next !== null && Object.prototype.hasOwnProperty.call(suffix, next)) {
              yield output(String(value) + suffix[next]);
              skip = true;
            } else {
              yield output(value);
              yield output(current);
            }
          } else {
            yield output(String(value) + suffix);
          }
        } else {
          yield output(current);
        }
      } else if (SPECIALS.has(current)) {
        if (!(next !== null && WORDS.has(next)) && !nextIsNumeric) {
          // apply special handling only if the next word can be numeric
          if (value !== null) yield output(value);
          yield output(current);
        } else if (current === 'and') {
          // ignore "and" after hundreds, thousands, etc.
          if (!(prev !== null && MULTIPLIERS.has(prev))) {
            if (value !== null) yield output(value);
            yield output(current);
          }
        } else if (current === 'double' || current === 'triple') {
          if (next !== null && (ONES.has(next) || ZEROS.has(next))) {
            const repeats = current === 'double' ? 2 : 3;
            const ones = ONES.get(next) ?? 0;
            value = orEmpty(value) + String(ones).repeat(repeats);
            skip = true;
          } else {
            if (value !== null) yield output(value);
            yield output(current);
          }
        } else if (current === 'point') {
          // Python drops "point" when the next word is a number word but not a digit word.
          if ((next !== null && DECIMALS.has(next)) || nextIsNumeric) value = orEmpty(value) + '.';
        }
      } else {
        throw new Error(`EnglishNumberNormalizer: unexpected token: ${current}`);
      }
    }
    if (value !== null) yield output(value);
  }

  preprocess(s: string): string {
    // replace "<number> and a half" with "<number> point five"
    const results: string[] = [];
    const segments = s.split(AND_A_HALF);
    segments.forEach((segment, i) => {
      if (segment.trim().length === 0) return;
      results.push(segment);
      if (i === segments.length - 1) return;
      const words = pySplit(segment);
      const lastWord = words[words.length - 1];
      results.push(DECIMALS.has(lastWord) || MULTIPLIERS.has(lastWord) ? 'point five' : 'and a half');
    });
    s = results.join(' ');

    // put a space at number/letter boundary
    s = s.replace(/([a-z])([0-9])/gu, '$1 $2');
    s = s.replace(/([0-9])([a-z])/gu, '$1 $2');

    // but remove spaces which could be a suffix
    s = s.replace(SUFFIX_SPACE, '$1$2');
    return s;
  }

  postprocess(s: string): string {
    // apply currency postprocessing; "$2 and ¢7" -> "$2.07"
    s = s.replace(COMBINE_CENTS, (_m, currency: string, integer: string, cents: string) =>
      `${currency}${integer}.${String(parseInt(cents, 10)).padStart(2, '0')}`);
    s = s.replace(EXTRACT_CENTS, (_m, cents: string) => `¢${parseInt(cents, 10)}`);
    // write "one(s)" instead of "1(s)", just for the readability
    s = s.replace(ONE, (_m, plural: string) => `one${plural}`);
    return s;
  }

  normalize(s: string): string {
    s = this.preprocess(s);
    s = [...this.processWords(pySplit(s))].join(' ');
    return this.postprocess(s);
  }
}

const AND_A_HALF = pyRegex('\\band\\s+a\\s+half\\b');
const SUFFIX_SPACE = pyRegex('([0-9])\\s+(st|nd|rd|th|s)\\b');
const COMBINE_CENTS = pyRegex('([€£$])([0-9]+) (?:and )?¢([0-9]{1,2})\\b');
// Python's "." matches anything but "\n" (JavaScript's also refuses "\r", U+2028, U+2029).
const EXTRACT_CENTS = pyRegex('[€£$]0[^\\n]([0-9]{1,2})\\b');
const ONE = pyRegex('\\b1(s?)\\b');
