/**
 * Reads manifests (CSV, TSV, JSONL) one record at a time, as plain string fields plus the row's
 * origin. Malformed records (wrong column count, broken quoting, invalid JSON) come out as
 * problems instead of exceptions, so one bad line never stops the rest. Both the in-memory
 * loaders and streaming use these generators, which hold one record at a time.
 */
import * as fs from 'fs';
import { parse } from 'csv-parse';
import { RowOrigin } from './types';
import { regularFile } from '../io/node';

export type ManifestItem =
  | { kind: 'row'; origin: RowOrigin; fields: Record<string, unknown> }
  | { kind: 'problem'; origin: RowOrigin; field: string; reason: string };

export interface DelimitedOptions {
  /** Field separator; default from the extension: "\t" for .tsv, "," otherwise. */
  delimiter?: string;
  /**
   * Text encoding of the manifest (default 'utf-8'): any WHATWG label, e.g. 'latin1', 'windows-1252'.
   * A row that is not valid in it is reported, never read with replacement characters.
   */
  encoding?: string;
}

/**
 * Decodes `bytes` strictly in `encoding`; returns the text, or why it is not valid text there
 * (for UTF-8 with the first offending byte), so a Latin-1 row never becomes U+FFFD mojibake.
 */
export function decodeText(bytes: Uint8Array, encoding = 'utf-8'): { text: string } | { error: string } {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(encoding, { fatal: true });
  } catch {
    throw new Error(`unknown text encoding '${encoding}' (use a WHATWG label such as utf-8, latin1, windows-1252)`);
  }
  try {
    return { text: decoder.decode(bytes) };
  } catch {
    const at = decoder.encoding === 'utf-8' ? firstBadUtf8Byte(bytes) : -1;
    const where = at >= 0 ? ` (byte 0x${bytes[at].toString(16).padStart(2, '0')} at offset ${at})` : '';
    return { error: `not valid ${decoder.encoding}${where}: save the file as UTF-8, or pass {encoding: 'windows-1252'} (or its real encoding)` };
  }
}

/** Offset of the first byte that does not start or continue a UTF-8 sequence (-1: none found). */
function firstBadUtf8Byte(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const c = b[i];
    const n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (i + k >= b.length || (b[i + k] & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return -1;
}

export function delimiterFor(file: string): string {
  return file.toLowerCase().endsWith('.tsv') ? '\t' : ',';
}

/** Header columns of a CSV/TSV file (reads only the first record); throws on a name given twice. */
export async function readHeader(file: string, options: DelimitedOptions = {}): Promise<string[]> {
  for await (const item of readDelimitedRaw(file, options)) return headerNames(file, item.record, options.encoding);
  return [];
}

/** The header's column names, decoded; a name given twice is an error (which column would hold the data?). */
function headerNames(file: string, record: Buffer[], encoding?: string): string[] {
  const names = record.map((field, k) => {
    const t = decodeText(field, encoding);
    if ('error' in t) throw new Error(`${file}: header column ${k + 1} is ${t.error}`);
    return t.text.trim();
  });
  names.forEach((name, k) => {
    const first = names.indexOf(name);
    if (first < k) {
      throw new Error(`${file}: the header names column '${name}' twice (columns ${first + 1} and ${k + 1}); rename one`);
    }
  });
  return names;
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** True when `file` begins with the UTF-8 byte order mark. */
function startsWithBom(file: string): boolean {
  const head = Buffer.alloc(UTF8_BOM.length);
  const fd = fs.openSync(file, 'r');
  try {
    return fs.readSync(fd, head, 0, head.length, 0) === head.length && head.equals(UTF8_BOM);
  } finally {
    fs.closeSync(fd);
  }
}

interface RawRecord { record: Buffer[]; line: number; error?: string }

async function* readDelimitedRaw(file: string, options: DelimitedOptions): AsyncGenerator<RawRecord> {
  regularFile(file, 'manifest');
  // A UTF-8 byte order mark (Excel's "CSV UTF-8") is skipped here, not by csv-parse: its `bom`
  // option switches it to string fields, which the strict byte decoding below then misread.
  const input = fs.createReadStream(file, { start: startsWithBom(file) ? UTF8_BOM.length : 0 });
  const parser = input.pipe(parse({
    // Fields as bytes (null, which the typings omit): readDelimited decodes them strictly and reports invalid text.
    encoding: null as unknown as BufferEncoding,
    delimiter: options.delimiter ?? delimiterFor(file),
    bom: false,
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
    for await (const item of parser as AsyncIterable<{ record: Buffer[]; info: { lines: number } }>) {
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
      header = headerNames(file, raw.record, options.encoding);
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
      const bad = header.flatMap((h, k) => {
        const t = decodeText(raw.record[k], options.encoding);
        if ('error' in t) return [{ column: h, error: t.error }];
        fields[h] = t.text;
        return [];
      });
      if (bad.length) {
        yield { kind: 'problem', origin, field: bad[0].column, reason: `'${bad.map((b) => b.column).join("', '")}' is ${bad[0].error}` };
      } else {
        yield { kind: 'row', origin, fields };
      }
    }
  }
}

/** The lines of a file as bytes ("\n" or "\r\n" ends a line), read as a stream. */
async function* byteLines(file: string): AsyncGenerator<Buffer> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of fs.createReadStream(file)) {
    let buf = rest.length ? Buffer.concat([rest, chunk as Buffer]) : chunk as Buffer;
    for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a)) {
      yield buf.subarray(0, nl > 0 && buf[nl - 1] === 0x0d ? nl - 1 : nl);
      buf = buf.subarray(nl + 1);
    }
    rest = Buffer.from(buf);
  }
  if (rest.length) yield rest;
}

/** JSON Lines: one object per line; blank lines are skipped, invalid text or JSON is a problem. */
export async function* readJsonl(file: string, options: Pick<DelimitedOptions, 'encoding'> = {}): AsyncGenerator<ManifestItem> {
  regularFile(file, 'manifest');
  let line = 0;
  let row = 0;
  for await (const bytes of byteLines(file)) {
    line += 1;
    const decoded = decodeText(line === 1 && bytes.subarray(0, 3).equals(UTF8_BOM) ? bytes.subarray(3) : bytes, options.encoding);
    const text = 'text' in decoded ? decoded.text : '';
    if ('text' in decoded && !text.trim()) continue;
    row += 1;
    const origin: RowOrigin = { source: file, row, line };
    if ('error' in decoded) {
      yield { kind: 'problem', origin, field: 'json', reason: `line is ${decoded.error}` };
      continue;
    }
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
}

/** Picks the reader from the extension (.jsonl/.json -> JSON Lines, else delimited). */
export function readManifest(file: string, options: DelimitedOptions = {}): AsyncGenerator<ManifestItem> {
  return /\.jsonl?$/i.test(file) ? readJsonl(file, options) : readDelimited(file, options);
}
