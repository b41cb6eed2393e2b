/**
 * `cleanText` for Breton training targets (the Breton article names a `clean_text` step and gives no
 * rules; these are this project's): one spelling
 * of each word, so the model is not asked to learn the typography of whoever typed the sentence.
 *
 *   bretonCleanText("Ha koulz eo cʼhoazh da saveteiñ ar brezhoneg ?") === "ha koulz eo c'hoazh da saveteiñ ar brezhoneg"
 *
 * - NFC, lowercase;
 * - every apostrophe form (’ ʼ ‘ ` ´) becomes "'": Breton writes the letter c'h with one, and
 *   Common Voice has all three forms of "c'hoazh";
 * - an apostrophe is kept before a letter ("c'h", "d'e", "'zo"), a hyphen between two letters or
 *   digits ("gwellañ-holl", "a-walc'h"); other punctuation and symbols become spaces;
 * - whitespace collapsed and trimmed.
 * Scoring still uses Whisper's BasicTextNormalizer on both sides (the paper's convention for
 * non-English text), so WERs stay comparable with shared/README.md.
 */
const APOSTROPHES = /[’ʼ‘`´]/gu;

export function bretonCleanText(text: string): string {
  const s = Array.from(text.normalize('NFC').toLowerCase().replace(APOSTROPHES, "'"));
  const isWordChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{M}\p{N}]/u.test(c);
  let out = '';
  s.forEach((c, i) => {
    if (isWordChar(c)) out += c;
    else if (c === "'" && /\p{L}/u.test(s[i + 1] ?? '')) out += c;
    else if (c === '-' && isWordChar(s[i - 1]) && isWordChar(s[i + 1])) out += c;
    else out += ' ';
  });
  return out.replace(/\s+/g, ' ').trim();
}
