/**
 * Reads manifests (CSV, TSV, JSONL) one record at a time, as plain string fields plus the row's
 * origin. Malformed records (wrong column count, broken quoting, invalid JSON) come out as
 * problems instead of exceptions, so one bad line never stops the rest. Both the in-memory
 * loaders and streaming use these generators, which hold one record at a time.
 */
import * as fs from 'fs';
import * as readline from 'readline';
import { parse } from 'csv-parse';
import { RowOrigin } from './types';

export type ManifestItem =
  | { kind: 'row'; origin: RowOrigin; fields: Record<string, unknown> }
  | { kind: 'problem'; origin: RowOrigin; field: string; reason: string };

export interface DelimitedOptions {
  /** Field separator; default from the extension: "\t" for .tsv, "," otherwise. */
  delimiter?: string;
}

export function delimiterFor(file: string): string {
  return file.toLowerCase().endsWith('.tsv') ? '\t' : ',';
}

/** Header columns of a CSV/TSV file (reads only the first record). */
export async function readHeader(file: string, options: DelimitedOptions = {}): Promise<string[]> {
  for await (const item of readDelimitedRaw(file, options)) return item.record;
  return [];
}

interface RawRecord { record: string[]; line: number; error?: string }

async function* readDelimitedRaw(file: string, options: DelimitedOptions): AsyncGenerator<RawRecord> {
  if (!fs.existsSync(file)) throw new Error(`${file}: file not found`);
  const input = fs.createReadStream(file);
  const parser = input.pipe(parse({
    delimiter: options.delimiter ?? delimiterFor(file),
    bom: true,
    relax_column_count: true, // we check counts ourselves to report the row instead of failing
    relax_quotes: true, // a stray quote inside an unquoted transcript is text, not an error
    skip_empty_lines: true,
    skip_records_with_error: true,
    info: true,
  }));
  const skipped: RawRecord[] = [];
  parser.on('skip', (err: Error & { lines?: number }) => {
    skipped.push({ record: [], line: err.lines ?? 0, error: err.message });
  });
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      while (skipped.length) yield skipped.shift()!;
      yield { record: item.record, line: item.info.lines };
    }
    while (skipped.length) yield skipped.shift()!;
  } finally {
    // A consumer that stops early (readHeader, take(n)) must not leave the file open.
    input.destroy();
  }
}

/** CSV/TSV records as `{column: value}`; a record with the wrong number of fields is a problem. */
export async function* readDelimited(file: string, options: DelimitedOptions = {}): AsyncGenerator<ManifestItem> {
  let header: string[] | undefined;
  let row = 0;
  for await (const raw of readDelimitedRaw(file, options)) {
    if (!header && !raw.error) {
      header = raw.record.map((h) => h.trim());
      continue;
    }
    row += 1;
    const origin: RowOrigin = { source: file, row, line: raw.line };
    if (raw.error || !header) {
      yield { kind: 'problem', origin, field: 'columns', reason: `malformed record: ${raw.error}` };
    } else if (raw.record.length !== header.length) {
      const what = raw.record.length > header.length ? 'too many' : 'too few';
      yield {
        kind: 'problem', origin, field: 'columns',
        reason: `${what} columns: expected ${header.length} (${header.join(', ')}), found ${raw.record.length}`,
      };
    } else {
      const fields: Record<string, unknown> = {};
      header.forEach((h, k) => (fields[h] = raw.record[k]));
      yield { kind: 'row', origin, fields };
    }
  }
}

/** JSON Lines: one object per line; blank lines are skipped, invalid JSON is a problem. */
export async function* readJsonl(file: string): AsyncGenerator<ManifestItem> {
  if (!fs.existsSync(file)) throw new Error(`${file}: file not found`);
  const input = fs.createReadStream(file);
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  let row = 0;
  try {
    for await (const text of lines) {
      line += 1;
      if (!text.trim()) continue;
      row += 1;
      const origin: RowOrigin = { source: file, row, line };
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        yield { kind: 'problem', origin, field: 'json', reason: `invalid JSON: ${(e as Error).message}` };
        continue;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        yield { kind: 'problem', origin, field: 'json', reason: 'line is not a JSON object' };
        continue;
      }
      yield { kind: 'row', origin, fields: value as Record<string, unknown> };
    }
  } finally {
    lines.close();
    input.destroy();
  }
}

/** Picks the reader from the extension (.jsonl/.json -> JSON Lines, else delimited). */
export function readManifest(file: string, options: DelimitedOptions = {}): AsyncGenerator<ManifestItem> {
  return /\.jsonl?$/i.test(file) ? readJsonl(file) : readDelimited(file, options);
}
