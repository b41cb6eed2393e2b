/**
 * Word and character error rates, like jiwer (`wer`, `cer`, `process_words`) and Hugging Face
 * `evaluate.load("wer")`.
 *
 *   WER = (S + D + I) / N        N = number of reference words = H + S + D
 *
 * Corpus level: one alignment per pair, then TOTAL errors / TOTAL reference words (what jiwer and
 * `evaluate` return for a list of pairs). This is not the mean of per-utterance WERs: a 2-word
 * utterance with 1 error weighs as much as a 50-word one with 25 in the mean, but 25x less in the
 * corpus rate. `perUtterance` gives both views.
 *
 * Empty references follow jiwer >= 4.0 (3.x raised "one or more references are empty strings"):
 * - empty reference + empty hypothesis: 0 errors, WER 0 (silence correctly transcribed);
 * - empty reference + k hypothesis words: k insertions, WER = k (errors divided by max(N, 1)).
 * So a corpus whose references are ALL empty has WER = total inserted words, never NaN/Infinity;
 * `refWords` (N) is reported so callers can tell.
 *
 * Tokenization: words = split on whitespace (jiwer's default transform); characters = code points
 * of the whitespace-trimmed string, spaces included (jiwer's `cer` default). Apply a text
 * normalizer (src/text) BEFORE calling these: raw WER on Whisper output is mostly punctuation/case.
 */
import { alignTokens, AlignmentChunk, countOps, EditOp, toChunks } from './align';

export interface Measures {
  /** (S + D + I) / max(N, 1) */
  wer: number;
  /** Match error rate (S + D + I) / (H + S + D + I); 0 when everything is empty. */
  mer: number;
  /** Word information preserved (H/N)(H/P); 1 when reference and hypothesis are both empty. */
  wip: number;
  /** Word information lost = 1 - wip. */
  wil: number;
  hits: number;
  substitutions: number;
  deletions: number;
  insertions: number;
  /** S + D + I */
  errors: number;
  /** N: reference tokens */
  refWords: number;
  /** P: hypothesis tokens */
  hypWords: number;
}

export interface PairOutput extends Measures {
  reference: string[];
  hypothesis: string[];
  ops: EditOp[];
  chunks: AlignmentChunk[];
}

export interface CorpusOutput extends Measures {
  pairs: PairOutput[];
}

export const words = (s: string): string[] => {
  const t = s.trim();
  return t ? t.split(/\s+/u) : [];
};
export const chars = (s: string): string[] => Array.from(s.trim());

function measures(hits: number, s: number, d: number, ins: number, refWords: number, hypWords: number): Measures {
  const errors = s + d + ins;
  const bothEmpty = refWords === 0 && hypWords === 0;
  const wip = bothEmpty ? 1 : refWords > 0 && hypWords > 0 ? (hits / refWords) * (hits / hypWords) : 0;
  return {
    wer: errors / Math.max(refWords, 1),
    mer: errors === 0 ? 0 : errors / (hits + errors),
    wip,
    wil: 1 - wip,
    hits, substitutions: s, deletions: d, insertions: ins, errors, refWords, hypWords,
  };
}

function pair(ref: string[], hyp: string[]): PairOutput {
  const ops = alignTokens(ref, hyp);
  const c = countOps(ops);
  return {
    ...measures(c.hits, c.substitutions, c.deletions, c.insertions, ref.length, hyp.length),
    reference: ref, hypothesis: hyp, ops, chunks: toChunks(ops),
  };
}

function corpus(refs: string | string[], hyps: string | string[], tokenize: (s: string) => string[]): CorpusOutput {
  const R = typeof refs === 'string' ? [refs] : refs;
  const H = typeof hyps === 'string' ? [hyps] : hyps;
  if (R.length !== H.length) {
    throw new Error(`Got ${R.length} references but ${H.length} hypotheses; they must pair up one to one.`);
  }
  const pairs = R.map((r, i) => pair(tokenize(r), tokenize(H[i])));
  const sum = (k: keyof Measures) => pairs.reduce((a, p) => a + (p[k] as number), 0);
  return {
    ...measures(sum('hits'), sum('substitutions'), sum('deletions'), sum('insertions'), sum('refWords'), sum('hypWords')),
    pairs,
  };
}

/** jiwer.process_words: word alignment + all counts, for one pair or a corpus of pairs. */
export function processWords(reference: string | string[], hypothesis: string | string[]): CorpusOutput {
  return corpus(reference, hypothesis, words);
}

/** jiwer.process_characters: the same at character level (spaces count as characters). */
export function processCharacters(reference: string | string[], hypothesis: string | string[]): CorpusOutput {
  return corpus(reference, hypothesis, chars);
}

/** Corpus word error rate (a fraction: 0.0635 for 6.35 %). */
export function wer(reference: string | string[], hypothesis: string | string[]): number {
  return processWords(reference, hypothesis).wer;
}

/** Corpus character error rate (a fraction). */
export function cer(reference: string | string[], hypothesis: string | string[]): number {
  return processCharacters(reference, hypothesis).wer;
}

/** jiwer 2.x name: the counts and rates without the alignments. */
export function computeMeasures(reference: string | string[], hypothesis: string | string[]): Measures {
  const { pairs: _pairs, ...m } = processWords(reference, hypothesis);
  return m;
}

export interface UtteranceScore {
  index: number;
  wer: number;
  errors: number;
  refWords: number;
  substitutions: number;
  deletions: number;
  insertions: number;
  hits: number;
}

/**
 * Per-utterance scores plus both averages: `corpusWer` (total errors / total words, the number to
 * report) and `meanWer` (average of the per-utterance rates, dominated by short utterances).
 */
export function perUtterance(references: string[], hypotheses: string[]):
  { utterances: UtteranceScore[]; corpusWer: number; meanWer: number } {
  const out = processWords(references, hypotheses);
  const utterances = out.pairs.map((p, index) => ({
    index, wer: p.wer, errors: p.errors, refWords: p.refWords,
    substitutions: p.substitutions, deletions: p.deletions, insertions: p.insertions, hits: p.hits,
  }));
  const meanWer = utterances.length ? utterances.reduce((a, u) => a + u.wer, 0) / utterances.length : 0;
  return { utterances, corpusWer: out.wer, meanWer };
}
