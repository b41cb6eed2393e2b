/**
 * Streaming datasets (HF `load_dataset(..., streaming=True)`): rows are read from the manifest
 * line by line and decoded one at a time, so a dataset larger than memory can be iterated with
 * bounded memory. Bad rows and undecodable audio are skipped and recorded in `report`.
 */
import * as path from 'path';
import { AUDIO_COLUMNS, TEXT_COLUMNS, ColumnSpec, pickColumn, toRow } from './columns';
import { decodeCell } from './decodeCell';
import { DelimitedOptions, readHeader, readManifest } from './manifest';
import { DataReport } from './report';
import { Example, Row, RowOrigin } from './types';

interface Item<R> { row: R; origin: RowOrigin }

export class IterableAudioDataset<R extends object = Row> {
  constructor(
    private readonly source: () => AsyncIterable<Item<R>>,
    /** Problems met so far (filled while iterating). */
    readonly report: DataReport,
    readonly samplingRate = 16000,
  ) {}

  private chain<S extends object>(step: (items: AsyncIterable<Item<R>>) => AsyncIterable<Item<S>>): IterableAudioDataset<S> {
    return new IterableAudioDataset<S>(() => step(this.source()), this.report, this.samplingRate);
  }

  /** Lazily transforms each row (applied while iterating, nothing is stored). */
  map<S extends object>(fn: (row: R) => S | Promise<S>): IterableAudioDataset<S> {
    return this.chain(async function* (items) {
      for await (const it of items) yield { row: await fn(it.row), origin: it.origin };
    });
  }

  filter(fn: (row: R) => boolean | Promise<boolean>): IterableAudioDataset<R> {
    return this.chain(async function* (items) {
      for await (const it of items) if (await fn(it.row)) yield it;
    });
  }

  take(n: number): IterableAudioDataset<R> {
    return this.chain(async function* (items) {
      if (n <= 0) return;
      let k = 0;
      for await (const it of items) {
        yield it;
        if (++k >= n) return;
      }
    });
  }

  skip(n: number): IterableAudioDataset<R> {
    return this.chain(async function* (items) {
      let k = 0;
      for await (const it of items) if (k++ >= n) yield it;
    });
  }

  /** Rows without decoding audio. */
  async *rows(): AsyncGenerator<R> {
    for await (const it of this.source()) yield it.row;
  }

  /** Decoded examples; a row whose audio fails to decode is reported and skipped. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Example<R>> {
    for await (const it of this.source()) {
      const value = (it.row as Record<string, unknown>).audio;
      let audio;
      try {
        audio = await decodeCell(value, this.samplingRate, it.origin);
      } catch (e) {
        this.report.add(it.origin, 'audio', (e as Error).message, typeof value === 'string' ? value : undefined);
        continue;
      }
      yield { ...it.row, audio } as Example<R>;
    }
  }
}

/**
 * Streams a CSV/TSV/JSONL manifest. Cheap checks (file exists, text present, column count) run
 * per row as it is read; numbers stay strings since no column can be seen whole.
 */
export async function streamDataset(manifest: string, options: DelimitedOptions & {
  audioColumn?: string; textColumn?: string; baseDir?: string; samplingRate?: number;
} = {}): Promise<IterableAudioDataset> {
  const file = path.resolve(manifest);
  const report = new DataReport();
  const baseDir = options.baseDir ?? path.dirname(file);
  const isJsonl = /\.jsonl?$/i.test(file);
  const header = isJsonl ? undefined : await readHeader(file, options);
  const specFor = (columns: string[]): ColumnSpec => ({
    audioColumn: pickColumn(file, columns, options.audioColumn, AUDIO_COLUMNS, 'audio'),
    textColumn: pickColumn(file, columns, options.textColumn, TEXT_COLUMNS, 'text'),
    baseDir,
  });
  const fixed = header ? specFor(header) : undefined;
  async function* source(): AsyncGenerator<Item<Row>> {
    let spec = fixed;
    // Each pass re-reads the manifest, so the report describes the latest pass only.
    report.problems.length = 0;
    report.kept = 0;
    for await (const item of readManifest(file, options)) {
      if (item.kind === 'problem') {
        report.add(item.origin, item.field, item.reason);
        continue;
      }
      spec ??= specFor(Object.keys(item.fields));
      const row = toRow(item.fields, item.origin, spec, report);
      if (row) yield { row, origin: item.origin };
    }
  }
  return new IterableAudioDataset<Row>(source, report, options.samplingRate);
}
