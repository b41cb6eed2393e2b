/**
 * Rows of a Hub dataset's Parquet file as the local loaders make them: the audio column
 * (`{bytes, path}` as `datasets` stores Audio, or `{array, sampling_rate}`) becomes the file's
 * bytes or decoded samples for `decodeCell`, the transcript column is picked by name like a CSV's
 * (columns.ts), and bad rows go to the report. Read one row group at a time (hyparquet).
 */
import type { AsyncBuffer, FileMetaData } from 'hyparquet';
import { AUDIO_COLUMNS, ColumnSpec, TEXT_COLUMNS, pickColumn, toRow } from '../data/columns';
import { DataReport } from '../data/report';
import { Row, RowOrigin } from '../data/types';

export interface ParquetColumns {
  audioColumn?: string;
  textColumn?: string;
}

/** The footer (schema, row groups); a file that is not Parquet, or is cut, is named. */
export async function readFooter(file: AsyncBuffer, label: string): Promise<FileMetaData> {
  const { parquetMetadataAsync } = await import('hyparquet');
  try {
    return await parquetMetadataAsync(file);
  } catch (e) {
    throw new Error(`${label}: not a readable Parquet file (${(e as Error).message}); a download cut short or a damaged file`);
  }
}

/** `datasets`' Audio struct to what decodeCell takes; a string says why the cell has no audio. */
function audioCell(v: unknown): unknown {
  if (v instanceof Uint8Array || v === null || typeof v !== 'object') return v;
  const s = v as { bytes?: unknown; path?: unknown; array?: unknown; sampling_rate?: unknown };
  if (s.bytes instanceof Uint8Array && s.bytes.length) return s.bytes;
  if (s.array != null && s.sampling_rate != null) {
    return { array: Float32Array.from(s.array as ArrayLike<number>), samplingRate: Number(s.sampling_rate), ...(typeof s.path === 'string' ? { path: s.path } : {}) };
  }
  return `no audio bytes in the cell (path ${JSON.stringify(s.path ?? null)} only: a Hub dataset's audio must be embedded)`;
}

/** Int64 columns arrive as bigint: numbers for the tables and JSON the rest of the project writes. */
function plain(v: unknown): unknown {
  return typeof v === 'bigint' && Number.isSafeInteger(Number(v)) ? Number(v) : v;
}

/**
 * Rows of `file`, one row group at a time, checked like a manifest's: kept rows are yielded, the
 * others recorded in `report`. `source` names the file in origins (`owner/name/path.parquet`).
 */
export async function* parquetRows(file: AsyncBuffer, source: string, columns: ParquetColumns,
  report: DataReport): AsyncGenerator<{ row: Row; origin: RowOrigin }> {
  const { parquetReadObjects } = await import('hyparquet');
  const { compressors } = await import('hyparquet-compressors');
  const metadata = await readFooter(file, source);
  const names = topLevel(metadata);
  const spec: ColumnSpec = {
    audioColumn: pickColumn(source, names, columns.audioColumn, AUDIO_COLUMNS, 'audio'),
    textColumn: pickColumn(source, names, columns.textColumn, TEXT_COLUMNS, 'text'),
    baseDir: '/', // unused: Hub audio is embedded bytes, never a path to open
  };
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    let objects: Record<string, unknown>[];
    try {
      // utf8: false: only columns typed as strings are text; `binary` (the audio bytes) stays bytes.
      objects = await parquetReadObjects({ file, metadata, rowStart, rowEnd, compressors, utf8: false });
    } catch (e) {
      throw new Error(`${source} rows ${rowStart + 1}-${rowEnd}: ${(e as Error).message}`);
    }
    for (const [k, obj] of objects.entries()) {
      const origin = { source, row: rowStart + k + 1, line: rowStart + k + 1 };
      const fields: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(obj)) fields[key] = key === spec.audioColumn ? audioCell(v) : plain(v);
      const audio = fields[spec.audioColumn];
      if (typeof audio === 'string') {
        report.add(origin, 'audio', audio);
        continue;
      }
      const row = toRow(fields, origin, spec, report);
      if (row) yield { row, origin };
    }
    rowStart = rowEnd;
  }
}

/** Top-level column names (a struct's fields are not columns). */
function topLevel(metadata: FileMetaData): string[] {
  const out: string[] = [];
  let i = 1;
  const skip = (): void => {
    const n = metadata.schema[i].num_children ?? 0;
    i += 1;
    for (let c = 0; c < n; c++) skip();
  };
  while (i < metadata.schema.length) {
    out.push(metadata.schema[i].name);
    skip();
  }
  return out;
}
