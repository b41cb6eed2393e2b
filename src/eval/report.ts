/**
 * Saving an evaluation: `<prefix>.csv` (one line per clip, opens in any spreadsheet) and
 * `<prefix>.json` (summary + rows, reloadable with `loadReport` to compare runs later).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { EvalReport, EvalRow } from './evaluate';

/** Columns of the CSV, in order (snake_case like the HF/pandas outputs users know). */
const CSV_COLUMNS: Array<[string, (r: EvalRow) => unknown]> = [
  ['id', (r) => r.id], ['reference', (r) => r.reference], ['hypothesis', (r) => r.hypothesis],
  ['reference_normalized', (r) => r.refNorm], ['hypothesis_normalized', (r) => r.hypNorm],
  ['speaker', (r) => r.speaker ?? ''], ['duration', (r) => r.duration ?? ''],
  ['ref_words', (r) => r.refWords], ['errors', (r) => r.errors], ['substitutions', (r) => r.substitutions],
  ['deletions', (r) => r.deletions], ['insertions', (r) => r.insertions], ['hits', (r) => r.hits],
  ['wer', (r) => r.wer], ['raw_errors', (r) => r.rawErrors], ['raw_ref_words', (r) => r.rawRefWords],
  ['raw_wer', (r) => r.rawWer],
];

/** RFC 4180 quoting: fields with a comma, quote or newline are quoted, quotes doubled. */
function csvField(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function reportCsv(report: EvalReport): string {
  const lines = [CSV_COLUMNS.map(([c]) => c).join(',')];
  for (const r of report.rows) lines.push(CSV_COLUMNS.map(([, f]) => csvField(f(r))).join(','));
  return lines.join('\n') + '\n';
}

/** Writes `<prefix>.csv` and `<prefix>.json`, creating the folder; returns both paths. */
export function saveReport(report: EvalReport, prefix: string): { csv: string; json: string } {
  fs.mkdirSync(path.dirname(path.resolve(prefix)), { recursive: true });
  const csv = `${prefix}.csv`;
  const json = `${prefix}.json`;
  fs.writeFileSync(csv, reportCsv(report));
  fs.writeFileSync(json, JSON.stringify(report, null, 1) + '\n');
  return { csv, json };
}

export function loadReport(jsonPath: string): EvalReport {
  let r: EvalReport;
  try {
    r = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  } catch (e) {
    throw new Error(`loadReport: cannot read ${jsonPath}: ${(e as Error).message}`);
  }
  if (!r || !Array.isArray(r.rows) || !r.normalized) throw new Error(`loadReport: ${jsonPath} is not an evaluation report (no rows/normalized)`);
  return r;
}
