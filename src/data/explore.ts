/**
 * Duration exploration as in the guides: per-split / per-speaker summaries and side-by-side
 * histograms, as ready-to-display HTML (and danfo.js frames through `summaryDataFrame`).
 */
import { histogramsHtml } from '../viz/plotly';
import { tableHtml } from '../viz/table';
import { AudioDataset } from './dataset';
import { durations } from './durations';
import { formatSeconds } from './format';
import { describeGroups, groupBy, SummaryRow } from './summary';

/** Durations (seconds) of every split, e.g. `{train: [...], test: [...]}`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function splitDurations(splits: Record<string, AudioDataset<any>>): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [name, ds] of Object.entries(splits)) out[name] = await durations(ds);
  return out;
}

/** Durations grouped by a column's value (speaker_id, gender, ...), group names as strings. */
export async function durationsBy<R extends object>(ds: AudioDataset<R>, column: string | ((row: Record<string, unknown>) => unknown)): Promise<Record<string, number[]>> {
  const secs = await durations(ds);
  const keys = ds.rows.map((r) => (typeof column === 'function' ? column(r as Record<string, unknown>) : (r as Record<string, unknown>)[column]));
  return groupBy(secs, keys);
}

/** pandas-describe table (seconds) plus each group's total in "1h 2m 3.000s" form. */
export function summaryHtml(groups: Record<string, readonly number[]>, caption = 'duration (s)'): string {
  const rows: (SummaryRow & { total?: string })[] = describeGroups(groups);
  for (const r of rows) {
    const values = r.group in groups ? groups[r.group] : Object.values(groups).flat();
    r.total = formatSeconds(values.reduce((a, b) => a + b, 0));
  }
  return tableHtml(rows, { caption, columns: ['group', 'count', 'mean', 'std', 'min', '25%', '50%', '75%', 'max', 'total'] });
}

/** One histogram per group, side by side on a shared y axis (same bins everywhere). */
export function durationHistogramsHtml(groups: Record<string, readonly number[]>, title = 'Audio duration per split'): string {
  return histogramsHtml(groups, { title, xTitle: 'duration (s)', yTitle: 'clips', binSize: 0.5 });
}
