/**
 * pandas-style `describe()` of durations, overall and per group (split, speaker), as a danfo.js
 * DataFrame and as plain rows for `tableHtml`.
 */
export interface Describe {
  count: number; mean: number; std: number; min: number;
  '25%': number; '50%': number; '75%': number; max: number;
}

/** Quantile with linear interpolation between order statistics (pandas' default). */
export function quantile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** count, mean, sample std (n-1, as pandas), min, quartiles, max. */
export function describeValues(values: readonly number[]): Describe {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  const mean = n ? s.reduce((a, b) => a + b, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : NaN;
  return {
    count: n, mean, std, min: n ? s[0] : NaN,
    '25%': quantile(s, 0.25), '50%': quantile(s, 0.5), '75%': quantile(s, 0.75), max: n ? s[n - 1] : NaN,
  };
}

export type SummaryRow = { group: string } & Describe;

/** One `describe` row per group, plus an "all" row when there is more than one group. */
export function describeGroups(groups: Record<string, readonly number[]>, allLabel = 'all'): SummaryRow[] {
  const names = Object.keys(groups);
  const rows = names.map((g) => ({ group: g, ...describeValues(groups[g]) }));
  if (names.length > 1) rows.push({ group: allLabel, ...describeValues(names.flatMap((g) => [...groups[g]])) });
  return rows;
}

/** Splits `values` by the matching `keys` (e.g. durations by speaker), groups in first-seen order. */
export function groupBy(values: readonly number[], keys: readonly unknown[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  values.forEach((v, i) => (out[String(keys[i])] ??= []).push(v));
  return out;
}

/** The summary rows as a danfo.js DataFrame indexed by group (loads danfojs-node on first use). */
export function summaryDataFrame(rows: readonly SummaryRow[]): import('danfojs-node').DataFrame {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const dfd = require('danfojs-node') as typeof import('danfojs-node');
  const columns = ['count', 'mean', 'std', 'min', '25%', '50%', '75%', 'max'] as const;
  return new dfd.DataFrame(rows.map((r) => columns.map((c) => r[c])), {
    columns: [...columns], index: rows.map((r) => r.group),
  });
}
