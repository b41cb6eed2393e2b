/**
 * Python-compatible text primitives for porting openai/whisper's normalizers.
 *
 * Whisper's normalizers are Python `re` + `unicodedata`. Two differences with JavaScript matter:
 * - Python's `\b`, `\w`, `\d` are Unicode-aware for str patterns; JavaScript's are ASCII-only
 *   even with the `u` flag. `pyRegex` rewrites `\b` and `\d` so "café" or "١٢" behave as in Python.
 * - Python iterates strings by code point; we iterate with `for..of` (also code points), never by
 *   UTF-16 unit, so emoji and astral letters are one character as in `unicodedata`.
 */

/** Python's Unicode `\w`: letters, numbers, underscore (str.isalnum() or '_'). */
const WORD = '[\\p{L}\\p{N}_]';
/** Python's Unicode `\b` as lookarounds (no capture groups, so `split` behaves as in Python). */
const BOUNDARY = `(?:(?<=${WORD})(?!${WORD})|(?<!${WORD})(?=${WORD}))`;

/**
 * Compiles a Python `re` pattern (the subset used by whisper's normalizers) to a global Unicode
 * JavaScript RegExp. Only `\b` and `\d` need rewriting; `\s`, classes and groups mean the same.
 */
export function pyRegex(pattern: string): RegExp {
  const src = pattern.replace(/\\([bd])/g, (_m, c: string) => (c === 'b' ? BOUNDARY : '\\p{Nd}'));
  return new RegExp(src, 'gu');
}

/** `re.sub(pattern, literalReplacement, s)`: the replacement is inserted verbatim (no `$1`). */
export function subLiteral(re: RegExp, replacement: string, s: string): string {
  return s.replace(re, () => replacement);
}

const MN = /^\p{Mn}$/u;
const MSP = /^[\p{M}\p{S}\p{P}]$/u;
const SP = /^[\p{S}\p{P}]$/u;

/** Non-ASCII letters that NFKD does not split into base + mark (whisper/normalizers/basic.py). */
const ADDITIONAL_DIACRITICS: Readonly<Record<string, string>> = {
  'œ': 'oe', 'Œ': 'OE', 'ø': 'o', 'Ø': 'O', 'æ': 'ae', 'Æ': 'AE', 'ß': 'ss', 'ẞ': 'SS',
  'đ': 'd', 'Đ': 'D', 'ð': 'd', 'Ð': 'D', 'þ': 'th', 'Þ': 'th', 'ł': 'l', 'Ł': 'L',
};

/**
 * `remove_symbols_and_diacritics(s, keep)`: NFKD, drop combining marks (Mn), map the
 * ADDITIONAL_DIACRITICS, replace other marks, symbols and punctuation (M*, S*, P*) with a space.
 */
export function removeSymbolsAndDiacritics(s: string, keep = ''): string {
  let out = '';
  for (const c of s.normalize('NFKD')) {
    if (keep.includes(c)) out += c;
    else if (Object.prototype.hasOwnProperty.call(ADDITIONAL_DIACRITICS, c)) out += ADDITIONAL_DIACRITICS[c];
    else if (MN.test(c)) out += '';
    else if (MSP.test(c)) out += ' ';
    else out += c;
  }
  return out;
}

/**
 * `remove_symbols(s, preserve_marks)`: NFKC, replace marks, symbols and punctuation with a space,
 * keeping accented letters (NFKC recomposes them). With `preserveMarks`, marks (M*) are kept, which
 * matters for scripts whose vowel signs are marks (Devanagari, Thai, ...).
 */
export function removeSymbols(s: string, preserveMarks = false): string {
  const cls = preserveMarks ? SP : MSP;
  let out = '';
  for (const c of s.normalize('NFKC')) out += cls.test(c) ? ' ' : c;
  return out;
}

/** Python `str.split()` (no argument): split on runs of whitespace, no empty strings. */
export function pySplit(s: string): string[] {
  const t = s.trim();
  return t ? t.split(/\s+/u) : [];
}
