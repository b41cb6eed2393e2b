/**
 * The two small normalizers of the fine-tuning guides (not Whisper's own):
 * - `simpleNormalize`: lowercase, drop everything but a-z, 0-9 and whitespace, collapse spaces.
 *   English-only: it deletes accented letters ("café" -> "caf"), which is why non-English text
 *   needs the alphabet normalizer below.
 * - `alphabetNormalizer(alphabet)`: the same idea for any language: keep only the letters of the
 *   given alphabet (plus digits and spaces). Everything else is deleted (not replaced by a space),
 *   like the guides' `re.sub("[^...]", "", text)`, so "n'est-ce" -> "nestce".
 */

/** Built-in alphabets for `{language}`; 'vi' is the Vietnamese letter set of the tutorial. */
export const ALPHABETS: Readonly<Record<string, string>> = {
  en: 'abcdefghijklmnopqrstuvwxyz',
  vi: 'aàảãáạăằẳẵắặâầẩẫấậbcdđeèẻẽéẹêềểễếệfghiìỉĩíịjklmnoòỏõóọôồổỗốộơờởỡớợpqrstuùủũúụưừửữứựvwxyỳỷỹýỵz',
};

export function simpleNormalize(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9\s]/g, '').replace(/\s+/g, ' ').trim();
}

/**
 * Keeps letters of `alphabet` (matched per code point, after NFC so "e"+U+0301 counts as "é"),
 * ASCII digits and whitespace. Lowercases first; the alphabet is lowercased too.
 */
export function alphabetNormalizer(alphabet: string): (s: string) => string {
  if (!alphabet) throw new Error('alphabetNormalizer: the alphabet is empty');
  const keep = new Set(Array.from(alphabet.normalize('NFC').toLowerCase()));
  return (s: string) => {
    let out = '';
    for (const c of s.normalize('NFC').toLowerCase()) {
      if (keep.has(c) || (c >= '0' && c <= '9')) out += c;
      else if (/\s/u.test(c)) out += ' ';
    }
    return out.replace(/\s+/g, ' ').trim();
  };
}

export function languageNormalizer(language: string): (s: string) => string {
  const alphabet = ALPHABETS[language];
  if (alphabet === undefined) {
    throw new Error(`No built-in alphabet for language "${language}"; known: ${Object.keys(ALPHABETS).join(', ')}. ` +
      `Pass {alphabet: "..."} with the letters to keep.`);
  }
  return alphabetNormalizer(alphabet);
}
