/** Renders rows of plain values as an HTML table (the notebook's pandas-like DataFrame display). */
import { escapeHtml } from './html';

export interface TableOptions {
  /** Columns to show, in order; default: every key seen in the rows, first-seen order. */
  columns?: string[];
  /** Caption shown above the table. */
  caption?: string;
  /** Digits after the decimal point for non-integer numbers (default 3). */
  digits?: number;
  /** Show at most this many rows, then a "... N more rows" line (default: all). */
  maxRows?: number;
  /** Cells whose value is already HTML (e.g. an audio player), keyed by column name. */
  htmlColumns?: string[];
}

/** Formats one cell: numbers rounded, typed arrays summarised, objects as JSON. */
export function formatCell(v: unknown, digits = 3): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(digits);
  if (ArrayBuffer.isView(v)) {
    const len = (v as unknown as ArrayLike<number>).length;
    return `${v.constructor.name}(${len})`;
  }
  if (Array.isArray(v)) {
    const head = v.slice(0, 8).map((x) => formatCell(x, digits)).join(', ');
    return `[${head}${v.length > 8 ? `, ... (${v.length})` : ''}]`;
  }
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const STYLE = 'border-collapse:collapse;font-family:monospace;font-size:12px';
const CELL = 'border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top';

export function tableHtml(records: readonly object[], options: TableOptions = {}): string {
  const rows = records as readonly Record<string, unknown>[];
  const columns = options.columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const shown = options.maxRows === undefined ? rows : rows.slice(0, options.maxRows);
  const html = new Set(options.htmlColumns ?? []);
  const head = columns.map((c) => `<th style="${CELL}">${escapeHtml(c)}</th>`).join('');
  const body = shown.map((r) => '<tr>' + columns.map((c) => {
    const cell = html.has(c) ? String(r[c] ?? '') : escapeHtml(formatCell(r[c], options.digits));
    return `<td style="${CELL}">${cell}</td>`;
  }).join('') + '</tr>').join('\n');
  const more = rows.length > shown.length
    ? `<tr><td colspan="${columns.length}" style="${CELL}">... ${rows.length - shown.length} more rows</td></tr>`
    : '';
  const caption = options.caption ? `<caption style="text-align:left;font-weight:bold">${escapeHtml(options.caption)}</caption>` : '';
  return `<table class="wf-table" style="${STYLE}">${caption}<thead><tr>${head}</tr></thead><tbody>${body}${more}</tbody></table>`;
}
