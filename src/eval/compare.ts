/**
 * Base vs fine-tuned (or any set of models) on the SAME clips: one summary table, one per-clip
 * table with every model's hypothesis side by side, and plotly bar charts.
 */
import type { AudioDataset } from '../data/dataset';
import { plotlyHtml } from '../viz/plotly';
import { tableHtml } from '../viz/table';
import type { GroupWer } from './errors';
import { evaluate, EvalReport, EvaluateOptions } from './evaluate';
import type { BatchTranscriber } from './transcriber';

export interface Comparison {
  reports: EvalReport[];
  /** One row per model: WER %, raw WER %, S/D/I, mean per-clip WER %. */
  summary: Record<string, string | number>[];
  /** One row per clip: id, reference, then `hyp <model>` and `wer <model>` for every model. */
  perClip: Record<string, string | number>[];
}

const pct = (x: number) => Math.round(10000 * x) / 100;

/** Puts already-computed reports side by side; they must cover the same clips in the same order. */
export function compareReports(reports: readonly EvalReport[]): Comparison {
  if (reports.length === 0) throw new Error('compareReports: no reports given');
  const ids = reports[0].rows.map((r) => r.id);
  for (const r of reports.slice(1)) {
    const other = r.rows.map((x) => x.id);
    const bad = other.length !== ids.length ? -1 : other.findIndex((id, i) => id !== ids[i]);
    if (other.length !== ids.length || bad >= 0) {
      throw new Error(`compareReports: '${r.name}' was scored on other clips than '${reports[0].name}' ` +
        (bad >= 0 ? `(row ${bad}: ${other[bad]} vs ${ids[bad]})` : `(${other.length} vs ${ids.length} clips)`));
    }
  }
  const names = new Set(reports.map((r) => r.name));
  if (names.size !== reports.length) throw new Error(`compareReports: model names must differ, got ${reports.map((r) => r.name).join(', ')}`);
  const summary = reports.map((r) => ({
    model: r.name, clips: r.rows.length, ref_words: r.normalized.refWords,
    'WER %': pct(r.normalized.wer), 'raw WER %': pct(r.raw.wer),
    substitutions: r.normalized.substitutions, deletions: r.normalized.deletions, insertions: r.normalized.insertions,
    'mean clip WER %': pct(r.meanWer), seconds: Math.round(r.seconds * 10) / 10,
  }));
  const perClip = ids.map((id, i) => {
    const row: Record<string, string | number> = { id, reference: reports[0].rows[i].reference };
    for (const r of reports) {
      row[`hyp ${r.name}`] = r.rows[i].hypothesis;
      row[`wer ${r.name}`] = pct(r.rows[i].wer);
    }
    return row;
  });
  return { reports: [...reports], summary, perClip };
}

/** Evaluates every model on the same dataset (same clips, normalizer, language) and compares. */
export async function compareModels(
  dataset: AudioDataset<any>,
  models: Record<string, BatchTranscriber>,
  opts: Omit<EvaluateOptions, 'transcribe' | 'name'>,
): Promise<Comparison> {
  const reports: EvalReport[] = [];
  for (const [name, transcribe] of Object.entries(models)) {
    reports.push(await evaluate(dataset, { ...opts, name, transcribe }));
  }
  return compareReports(reports);
}

/** danfo.js DataFrame of a table (summary or perClip); danfojs-node is loaded on first use. */
export function toDataFrame(rows: Record<string, string | number>[]): import('danfojs-node').DataFrame {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const dfd = require('danfojs-node') as typeof import('danfojs-node');
  return new dfd.DataFrame(rows);
}

/** Grouped bars: normalized and raw WER per model. */
export function comparisonChartHtml(c: Comparison, title = 'WER by model (lower is better)'): string {
  const x = c.reports.map((r) => r.name);
  return plotlyHtml([
    { type: 'bar', name: 'normalized WER %', x, y: c.reports.map((r) => pct(r.normalized.wer)),
      text: c.reports.map((r) => pct(r.normalized.wer).toFixed(2)), textposition: 'auto' },
    { type: 'bar', name: 'raw WER %', x, y: c.reports.map((r) => pct(r.raw.wer)),
      text: c.reports.map((r) => pct(r.raw.wer).toFixed(2)), textposition: 'auto' },
  ], { title: { text: title }, barmode: 'group', yaxis: { title: { text: 'WER %' } }, height: 360 });
}

/** Bars of corpus WER per group (werBySpeaker / werByDuration output), clip counts on hover. */
export function groupWerChartHtml(groups: readonly GroupWer[], title: string): string {
  return plotlyHtml([{
    type: 'bar', x: groups.map((g) => g.group), y: groups.map((g) => pct(g.wer)),
    text: groups.map((g) => `${g.clips} clips, ${g.refWords} words`), hoverinfo: 'x+y+text',
  }], { title: { text: title }, xaxis: { type: 'category' }, yaxis: { title: { text: 'WER %' } }, height: 320 });
}

export function comparisonTablesHtml(c: Comparison, maxClips = 20): string {
  return tableHtml(c.summary, { caption: 'Summary (WER on normalized text; raw WER for contrast)' }) +
    tableHtml(c.perClip, { caption: 'Per clip', maxRows: maxClips, digits: 2 });
}
