/**
 * The bad-input report: every row a loader or `validateAudio()` excluded, with the file, row and
 * reason, so nothing is dropped silently and one bad row never stops loading the rest.
 */
import { tableHtml } from '../viz/table';
import { RowOrigin } from './types';

export interface Problem {
  /** Manifest (or transcript) file the row came from. */
  source: string;
  /** 1-based data row in `source`; 0 when the problem is about the whole file. */
  row: number;
  /** 1-based physical line in `source`. */
  line: number;
  /** The audio file concerned, when there is one. */
  file?: string;
  /** Column / field at fault: "audio", "text", "columns", "json". */
  field: string;
  reason: string;
}

export class DataReport {
  readonly problems: Problem[] = [];
  /** Rows that passed the checks so far. */
  kept = 0;

  add(origin: RowOrigin, field: string, reason: string, file?: string): void {
    this.problems.push({ source: origin.source, row: origin.row, line: origin.line, field, reason, ...(file ? { file } : {}) });
  }

  /** Number of distinct rows excluded (a row with two problems counts once). */
  get excluded(): number {
    return new Set(this.problems.map((p) => `${p.source}\u0000${p.row}`)).size;
  }

  /** A new report holding this one's problems followed by `other`'s; `kept` is taken from `other`. */
  concat(other: DataReport): DataReport {
    const r = new DataReport();
    r.problems.push(...this.problems, ...other.problems);
    r.kept = other.kept;
    return r;
  }

  summary(): string {
    return `${this.kept} rows kept, ${this.excluded} rows excluded (${this.problems.length} problems)`;
  }

  toString(): string {
    return [this.summary(), ...this.problems.map((p) =>
      `  ${p.source} row ${p.row} (line ${p.line})${p.file ? ` ${p.file}` : ''} [${p.field}]: ${p.reason}`)].join('\n');
  }

  toHtml(maxRows = 50): string {
    return reportHtml(this, maxRows);
  }
}

/** The report as an HTML table for the notebook (one line per problem). */
export function reportHtml(report: DataReport, maxRows = 50): string {
  return tableHtml(report.problems.map((p) => ({ ...p, file: p.file ?? '' })), {
    columns: ['source', 'row', 'line', 'file', 'field', 'reason'],
    caption: report.summary(), maxRows,
  });
}
