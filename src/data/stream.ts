/**
 * Streaming datasets (HF `load_dataset(..., streaming=True)`): rows are read from the manifest
 * line by line and decoded one at a time, so a dataset larger than memory can be iterated with
 * bounded memory. Bad rows and undecodable audio are skipped and recorded in `report`.
 */
import * as path from 'path';
import seedrandom from 'seedrandom';
import { AUDIO_COLUMNS, TEXT_COLUMNS, ColumnSpec, pickColumn, toRow } from './columns';
import { decodeCell } from './decodeCell';
import { DelimitedOptions, readHeader, readManifest } from './manifest';
import { DataReport } from './report';
import { Example, Row, RowOrigin } from './types';
import { shuffleInPlace } from './split';

interface Item<R> { row: R; origin: RowOrigin }

/** A pass over the rows; `epoch` reseeds shuffling (HF IterableDataset.set_epoch). */
type Source<R> = (epoch: number) => AsyncIterable<Item<R>>;

export class IterableAudioDataset<R extends object = Row> {
  /** The pass that iteration runs (HF `set_epoch`): shuffle buffers draw from (seed, epoch). */
  epoch = 0;

  constructor(
    private readonly source: Source<R>,
    /** Problems met so far (filled while iterating). */
    readonly report: DataReport,
    readonly samplingRate = 16000,
  ) {}

  /**
   * A stream over rows already in memory (HF `Dataset.to_iterable_dataset()`), e.g. to train on an
   * AudioDataset's rows through the streaming path.
   */
  static fromRows<R extends object>(rows: readonly R[], origins?: readonly RowOrigin[], samplingRate = 16000): IterableAudioDataset<R> {
    const at = (i: number) => origins?.[i] ?? { source: '(memory)', row: i + 1, line: i + 1 };
    return new IterableAudioDataset<R>(async function* () {
      for (let i = 0; i < rows.length; i++) yield { row: rows[i], origin: at(i) };
    }, Object.assign(new DataReport(), { kept: rows.length }), samplingRate);
  }

  private chain<S extends object>(step: (items: AsyncIterable<Item<R>>, epoch: number) => AsyncIterable<Item<S>>): IterableAudioDataset<S> {
    return new IterableAudioDataset<S>((epoch) => step(this.source(epoch), epoch), this.report, this.samplingRate);
  }

  /** HF `set_epoch`: the Trainer calls it before each pass, so every epoch is shuffled anew. */
  setEpoch(epoch: number): void {
    this.epoch = epoch;
  }

  /** Lazily transforms each row (applied while iterating, nothing is stored). */
  map<S extends object>(fn: (row: R) => S | Promise<S>): IterableAudioDataset<S> {
    return this.chain(async function* (items) {
      for await (const it of items) yield { row: await fn(it.row), origin: it.origin };
    });
  }

  /**
   * `map` whose function receives the decoded example (`example.audio.array`); a row whose audio
   * fails to decode is reported and skipped. The result replaces the row (prepareDataset's use).
   */
  mapWithAudio<S extends object>(fn: (example: Example<R>) => S | Promise<S>): IterableAudioDataset<S> {
    const decode = (it: Item<R>) => this.decode(it);
    return this.chain(async function* (items) {
      for await (const it of items) {
        const ex = await decode(it);
        if (ex) yield { row: await fn(ex), origin: it.origin };
      }
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

  /**
   * HF `IterableDataset.shuffle(seed, buffer_size)`: rows pass through a buffer of `bufferSize`;
   * each new row replaces a randomly chosen one, which is emitted; the rest is shuffled at the end.
   * At most `bufferSize` rows are held, so shuffle before an expensive `map` (prepareDataset), not
   * after. The draw is seeded by (seed, epoch): the same order in every run, a new one each epoch.
   */
  shuffle({ seed = 42, bufferSize = 1000 }: { seed?: number; bufferSize?: number } = {}): IterableAudioDataset<R> {
    if (!Number.isInteger(bufferSize) || bufferSize < 1) throw new Error(`shuffle: bufferSize must be a positive integer, got ${bufferSize}`);
    return this.chain(async function* (items, epoch) {
      const rng = seedrandom(`shuffle|${seed}|${epoch}`);
      const buffer: Item<R>[] = [];
      for await (const it of items) {
        if (buffer.length < bufferSize) {
          buffer.push(it);
          continue;
        }
        const i = Math.floor(rng() * bufferSize);
        yield buffer[i];
        buffer[i] = it;
      }
      yield* shuffleInPlace(buffer, rng);
    });
  }

  /** Rows without decoding audio (prepared rows: inputFeatures and labels). */
  async *rows(): AsyncGenerator<R> {
    for await (const it of this.source(this.epoch)) yield it.row;
  }

  /** Decoded examples; a row whose audio fails to decode is reported and skipped. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Example<R>> {
    for await (const it of this.source(this.epoch)) {
      const ex = await this.decode(it);
      if (ex) yield ex;
    }
  }

  private async decode(it: Item<R>): Promise<Example<R> | undefined> {
    const value = (it.row as Record<string, unknown>).audio;
    try {
      return { ...it.row, audio: await decodeCell(value, this.samplingRate, it.origin) } as Example<R>;
    } catch (e) {
      this.report.add(it.origin, 'audio', (e as Error).message, typeof value === 'string' ? value : undefined);
      return undefined;
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
