/**
 * Printable alignment, like jiwer's `visualize_alignment`:
 *
 *   sentence 1
 *   REF: the quick brown fox ***
 *   HYP: the quack ***** fox jumps
 *                S     D         I
 *
 * Each column is as wide as the longer of its two words; `*` fills the missing side of an
 * insertion or deletion; the marks line shows S, D or I under each error.
 */
import { PairOutput, CorpusOutput } from './metrics';

/** Display width of a string: code points (good enough for Latin/Vietnamese; CJK is wider). */
const width = (s: string) => Array.from(s).length;
const pad = (s: string, n: number) => s + ' '.repeat(Math.max(0, n - width(s)));

function alignmentLines(p: PairOutput): { ref: string; hyp: string; marks: string } {
  const ref: string[] = [];
  const hyp: string[] = [];
  const marks: string[] = [];
  for (const op of p.ops) {
    const r = op.ref >= 0 ? p.reference[op.ref] : '';
    const h = op.hyp >= 0 ? p.hypothesis[op.hyp] : '';
    const w = Math.max(width(r), width(h));
    ref.push(op.ref >= 0 ? pad(r, w) : '*'.repeat(w));
    hyp.push(op.hyp >= 0 ? pad(h, w) : '*'.repeat(w));
    const mark = op.type === 'substitute' ? 'S' : op.type === 'delete' ? 'D' : op.type === 'insert' ? 'I' : ' ';
    marks.push(pad(mark, w));
  }
  return { ref: 'REF: ' + ref.join(' '), hyp: 'HYP: ' + hyp.join(' '), marks: '     ' + marks.join(' ').trimEnd() };
}

/** All pairs of a processWords/processCharacters result, jiwer-style, with a summary at the end. */
export function visualizeAlignment(out: CorpusOutput, opts: { showMeasures?: boolean } = {}): string {
  const blocks = out.pairs.map((p, i) => {
    const l = alignmentLines(p);
    return `sentence ${i + 1}\n${l.ref}\n${l.hyp}\n${l.marks}`;
  });
  if (opts.showMeasures ?? true) {
    blocks.push(`number of sentences: ${out.pairs.length}\n` +
      `substitutions=${out.substitutions} deletions=${out.deletions} insertions=${out.insertions} hits=${out.hits}\n\n` +
      `wer=${(100 * out.wer).toFixed(2)}%`);
  }
  return blocks.join('\n\n') + '\n';
}
