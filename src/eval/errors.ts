/**
 * Error analysis on an evaluation: which words are confused, and where WER concentrates.
 * Everything works on the NORMALIZED texts of the rows (raw text would be dominated by case and
 * punctuation "errors").
 */
import { alignTokens } from './align';
import type { EvalRow } from './evaluate';
import { words } from './metrics';

export interface WordConfusion {
  ref: string;
  hyp: string;
  count: number;
}

export interface FrequentErrors {
  /** ref word -> hyp word, most frequent first (ties: alphabetical, for stable tables). */
  substitutions: WordConfusion[];
  /** Reference words the model dropped (hyp is ''). */
  deletions: WordConfusion[];
  /** Words the model added (ref is ''). */
  insertions: WordConfusion[];
}

function top(counts: Map<string, WordConfusion>, k: number): WordConfusion[] {
  return [...counts.values()]
    .sort((a, b) => b.count - a.count || a.ref.localeCompare(b.ref) || a.hyp.localeCompare(b.hyp))
    .slice(0, k);
}

/** Counts every S/D/I of the normalized alignments; returns the `k` most frequent of each kind. */
export function frequentErrors(rows: readonly Pick<EvalRow, 'refNorm' | 'hypNorm'>[], k = 20): FrequentErrors {
  const maps = { substitute: new Map<string, WordConfusion>(), delete: new Map(), insert: new Map() } as
    Record<'substitute' | 'delete' | 'insert', Map<string, WordConfusion>>;
  for (const row of rows) {
    const ref = words(row.refNorm);
    const hyp = words(row.hypNorm);
    for (const op of alignTokens(ref, hyp)) {
      if (op.type === 'equal') continue;
      const r = op.ref >= 0 ? ref[op.ref] : '';
      const h = op.hyp >= 0 ? hyp[op.hyp] : '';
      const key = `${r}\u0000${h}`;
      const m = maps[op.type];
      const e = m.get(key);
      if (e) e.count++;
      else m.set(key, { ref: r, hyp: h, count: 1 });
    }
  }
  return { substitutions: top(maps.substitute, k), deletions: top(maps.delete, k), insertions: top(maps.insert, k) };
}

export interface GroupWer {
  group: string;
  clips: number;
  refWords: number;
  errors: number;
  /** Corpus WER of the group: errors / refWords. */
  wer: number;
}

/** Corpus WER per group (speaker, duration bucket, anything `key` returns), sorted by group. */
export function werBy(rows: readonly EvalRow[], key: (r: EvalRow) => string | undefined): GroupWer[] {
  const groups = new Map<string, GroupWer>();
  for (const r of rows) {
    const g = key(r) ?? '(none)';
    const e = groups.get(g) ?? { group: g, clips: 0, refWords: 0, errors: 0, wer: 0 };
    e.clips++;
    e.refWords += r.refWords;
    e.errors += r.errors;
    groups.set(g, e);
  }
  const out = [...groups.values()];
  for (const e of out) e.wer = e.errors / Math.max(e.refWords, 1);
  return out.sort((a, b) => a.group.localeCompare(b.group, undefined, { numeric: true }));
}

export function werBySpeaker(rows: readonly EvalRow[]): GroupWer[] {
  return werBy(rows, (r) => r.speaker);
}

/**
 * Corpus WER per duration bucket. `edges` in seconds: [0, 5, 10, 20, 30] gives "0-5 s", "5-10 s",
 * "10-20 s", "20-30 s" and "30+ s" (a clip of exactly 5 s is in "5-10 s").
 */
export function werByDuration(rows: readonly EvalRow[], edges: number[] = [0, 5, 10, 15, 20, 30]): GroupWer[] {
  const label = (d: number | undefined): string | undefined => {
    if (d === undefined) return undefined;
    for (let i = edges.length - 1; i >= 0; i--) {
      if (d >= edges[i]) return i === edges.length - 1 ? `${edges[i]}+ s` : `${edges[i]}-${edges[i + 1]} s`;
    }
    return `<${edges[0]} s`;
  };
  const order = new Map<string, number>();
  edges.forEach((e, i) => order.set(i === edges.length - 1 ? `${e}+ s` : `${e}-${edges[i + 1]} s`, i));
  return werBy(rows, (r) => label(r.duration)).sort((a, b) => (order.get(a.group) ?? -1) - (order.get(b.group) ?? -1));
}
