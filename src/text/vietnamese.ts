/**
 * Vietnamese text normalization, for training labels and for WER. The Vietnamese LoRA article traces
 * a WER of 0.89 to labels tokenized without normalization; its own normalizer keeps a list of
 * letters and deletes everything else (digits, and the ỳ ỷ ỹ ỵ its list misses). This one keeps the
 * idea and loses no word: numbers are spelled out and every Vietnamese letter is kept.
 *
 *   vietnameseNormalize('Năm 2024, giá tăng 3,5%!') === 'năm hai nghìn không trăm hai mươi tư giá tăng ba phẩy năm phần trăm'
 *
 * Steps: NFC, lowercase, numbers spelled out in Vietnamese words, punctuation and symbols turned
 * into spaces, letters outside the Vietnamese alphabet dropped, spaces collapsed.
 *
 * Number reading (the formal, northern reading used on cheques and in the news):
 * - units 0-9: không một hai ba bốn năm sáu bảy tám chín; 10-19: mười, mười một ... mười chín;
 *   tens 20-90: hai mươi ... chín mươi;
 * - after a ten, 5 is "lăm" (15 mười lăm, 25 hai mươi lăm); after a ten of 20 or more, 1 is "mốt"
 *   and 4 is "tư" (21 hai mươi mốt, 24 hai mươi tư; but 11 mười một, 14 mười bốn);
 * - a zero ten before a unit is "linh" (105 một trăm linh năm);
 * - scales nghìn (10^3), triệu (10^6), tỷ (10^9); above a tỷ the count of tỷ is read as a number
 *   (10^12 một nghìn tỷ);
 * - inside a number every group of three after the first non-zero one is read in full, a zero
 *   hundred included (1005 một nghìn không trăm linh năm, 2024 hai nghìn không trăm hai mươi tư);
 *   groups of three zeros are skipped (1000001 một triệu không trăm linh một);
 * - decimals: "phẩy" then the fraction read as a number, each leading zero as "không"
 *   (3,14 ba phẩy mười bốn; 0,05 không phẩy không năm); percent: "phần trăm"; a minus sign
 *   before a number (after a space or at the start): "âm";
 * - digit strings with a leading zero (phone numbers, "007") are read digit by digit.
 * Separators follow Vietnamese writing: "." groups thousands and "," marks decimals ("1.000.000",
 * "3,5"); a dot not followed by exactly three digits is read as an English decimal point ("3.5"),
 * and several groups of three after commas as English thousands ("1,000,000").
 */
import { ALPHABETS } from './simple';

const UNITS = ['không', 'một', 'hai', 'ba', 'bốn', 'năm', 'sáu', 'bảy', 'tám', 'chín'];
const SCALES = ['', 'nghìn', 'triệu'];

/** 0..99 */
function tensAndUnits(n: number): string {
  if (n < 10) return UNITS[n];
  const t = Math.floor(n / 10);
  const u = n % 10;
  const head = t === 1 ? 'mười' : `${UNITS[t]} mươi`;
  if (u === 0) return head;
  if (u === 5) return `${head} lăm`;
  if (t >= 2 && u === 1) return `${head} mốt`;
  if (t >= 2 && u === 4) return `${head} tư`;
  return `${head} ${UNITS[u]}`;
}

/** 1..999; `full` reads a zero hundred ("không trăm") as inside a longer number. */
function group(n: number, full: boolean): string {
  const h = Math.floor(n / 100);
  const rest = n % 100;
  if (h === 0 && !full) return tensAndUnits(rest);
  const hundred = `${UNITS[h]} trăm`;
  if (rest === 0) return hundred;
  return rest < 10 ? `${hundred} linh ${UNITS[rest]}` : `${hundred} ${tensAndUnits(rest)}`;
}

/** Digits below one tỷ (at most 9), `full` when it is not the start of the number. */
function belowBillion(digits: string, full: boolean): string {
  const groups: number[] = [];
  for (let end = digits.length; end > 0; end -= 3) groups.unshift(Number(digits.slice(Math.max(0, end - 3), end)));
  const words: string[] = [];
  let started = full;
  groups.forEach((g, i) => {
    if (g === 0) return;
    const scale = SCALES[groups.length - 1 - i];
    words.push(group(g, started) + (scale ? ` ${scale}` : ''));
    started = true;
  });
  return words.join(' ');
}

/**
 * A non-negative integer given as a string of ASCII digits, in words (exact for any length:
 * no conversion to a JavaScript number).
 */
export function spellVietnameseInteger(digits: string | number | bigint): string {
  const s = String(digits);
  if (!/^\d+$/.test(s)) throw new Error(`spellVietnameseInteger: expected ASCII digits, got ${JSON.stringify(s)}`);
  const d = s.replace(/^0+(?=\d)/, '');
  if (/^0+$/.test(d)) return UNITS[0];
  return spell(d, false);
}

function spell(d: string, full: boolean): string {
  if (d.length <= 9) return belowBillion(d, full);
  const high = d.slice(0, d.length - 9).replace(/^0+(?=\d)/, '');
  const low = d.slice(d.length - 9);
  const head = /^0+$/.test(high) ? '' : `${spell(high, full)} tỷ`;
  const tail = /^0+$/.test(low) ? '' : belowBillion(low, full || head !== '');
  return [head, tail].filter(Boolean).join(' ');
}

/** "0912" -> "không chín một hai": each digit in words. */
export function spellVietnameseDigits(digits: string): string {
  return Array.from(digits, (c) => UNITS[Number(c)]).join(' ');
}

/**
 * One written number in words: integer part (optionally with thousands separators) and an
 * optional decimal part, e.g. "1.000.000", "3,14", "3.5", "-2".
 */
export function spellVietnameseNumber(written: string): string {
  const m = /^([-−]?)(\d+(?:[.,]\d+)*)$/.exec(written.trim());
  if (!m) throw new Error(`spellVietnameseNumber: not a number: ${JSON.stringify(written)}`);
  const sign = m[1] ? 'âm ' : '';
  const body = m[2];
  let integer = body;
  let fraction: string | undefined;
  if (/^\d{1,3}(?:\.\d{3})+$/.test(body) || /^\d{1,3}(?:,\d{3}){2,}$/.test(body)) {
    integer = body.replace(/[.,]/g, '');
  } else if (/^\d+[.,]\d+$/.test(body)) {
    [integer, fraction] = body.split(/[.,]/);
  } else if (/[.,]/.test(body)) {
    // e.g. "1.2.3" (a version, a date): each part on its own
    return sign + body.split(/[.,]/).map((p) => spellVietnameseNumber(p)).join(' ');
  }
  const intWords = integer.length > 1 && integer.startsWith('0') ? spellVietnameseDigits(integer) : spellVietnameseInteger(integer);
  if (fraction === undefined) return sign + intWords;
  const zeros = /^0*/.exec(fraction)![0].length;
  const fracWords = zeros === fraction.length
    ? spellVietnameseDigits(fraction)
    : [...Array(zeros).fill(UNITS[0]), spellVietnameseInteger(fraction.slice(zeros))].join(' ');
  return `${sign}${intWords} phẩy ${fracWords}`;
}

// A number: an optional minus sign (only at the start or after a space, so "covid-19" keeps its
// hyphen as punctuation), digits with . or , between digit groups, an optional percent sign.
const NUMBER = /(?:(?<=^|\s)[-−])?\d+(?:[.,]\d+)*(?:\s*%)?/gu;

/** Replaces every number in `text` by its Vietnamese words (percent signs included). */
export function spellNumbersVietnamese(text: string): string {
  return text.replace(NUMBER, (m) => {
    const percent = /%$/.test(m);
    const words = spellVietnameseNumber(m.replace(/\s*%$/, ''));
    return ` ${words}${percent ? ' phần trăm' : ''} `;
  });
}
const VI_LETTERS = new Set(Array.from(ALPHABETS.vi));

/**
 * The normalizer: NFC, lowercase, numbers in words, punctuation/symbols -> spaces, letters outside
 * the Vietnamese alphabet (and stray combining marks) dropped, whitespace collapsed.
 */
export function vietnameseNormalize(text: string): string {
  const spelled = spellNumbersVietnamese(text.normalize('NFC').toLowerCase());
  let out = '';
  for (const c of spelled.normalize('NFC')) {
    if (VI_LETTERS.has(c)) out += c;
    else if (/[\p{L}\p{M}]/u.test(c)) continue;
    else out += ' ';
  }
  return out.replace(/\s+/g, ' ').trim();
}
