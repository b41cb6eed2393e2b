/**
 * `AudioDataset`: an in-memory table of rows whose audio stays undecoded (a path or the file's
 * bytes) until asked for, like `cast_column("audio", Audio(sampling_rate=16000))` in Hugging Face
 * `datasets`. Every operation returns a new dataset; rows keep their origin (file and row) so
 * later errors still say where a row came from.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readRows, writeRows, hasRows } from './codec';
import { decodeCell } from './decodeCell';
import { fingerprint } from './fingerprint';
import { DataReport } from './report';
import { permutation, testCount } from './split';
import { DecodedAudio, Example, Row, RowOrigin, originLabel } from './types';
import { rememberDuration } from './durationCache';

export interface MapOptions {
  /** Folder for the on-disk cache; without it nothing is cached. */
  cacheDir?: string;
  /**
   * Everything the function depends on that its source text does not show (a normalizer name,
   * a language, a closure variable): part of the cache key, so changing it recomputes.
   */
  cacheKey?: unknown;
  /** Columns dropped from the output (HF `remove_columns`); the function's result is merged in. */
  removeColumns?: string[];
  /** Called after each row (progress bars). */
  onProgress?: (done: number, total: number) => void;
}

export interface CacheInfo {
  dir: string;
  /** True when the rows were read from the cache and the function was not called. */
  hit: boolean;
}

export interface DatasetInit {
  origins?: readonly RowOrigin[];
  report?: DataReport;
  samplingRate?: number;
  cacheInfo?: CacheInfo;
}

export class AudioDataset<R extends object = Row> {
  readonly rows: readonly R[];
  readonly origins: readonly RowOrigin[];
  /** Rows excluded while loading / validating, with reasons. */
  readonly report: DataReport;
  /** Rate audio is decoded (resampled) to. */
  readonly samplingRate: number;
  /** Set on datasets returned by `map` with a `cacheDir`. */
  readonly cacheInfo?: CacheInfo;

  constructor(rows: readonly R[], init: DatasetInit = {}) {
    this.rows = rows;
    this.origins = init.origins ?? rows.map((_, i) => ({ source: '(memory)', row: i + 1, line: i + 1 }));
    if (this.origins.length !== rows.length) throw new Error('AudioDataset: one origin per row is required');
    this.report = init.report ?? Object.assign(new DataReport(), { kept: rows.length });
    this.samplingRate = init.samplingRate ?? 16000;
    this.cacheInfo = init.cacheInfo;
  }

  get length(): number {
    return this.rows.length;
  }

  /** HF `num_rows`. */
  get numRows(): number {
    return this.rows.length;
  }

  /** HF `column_names`: every key seen in the first row. */
  get columnNames(): string[] {
    return this.rows.length ? Object.keys(this.rows[0]) : [];
  }

  /** Row `i` as stored (audio undecoded). */
  get(i: number): R {
    if (!Number.isInteger(i) || i < 0 || i >= this.rows.length) {
      throw new RangeError(`row index ${i} out of range (dataset has ${this.rows.length} rows)`);
    }
    return this.rows[i];
  }

  /** One column's values, e.g. `ds.column('text')`. */
  column<K extends keyof R & string>(name: K): R[K][] {
    return this.rows.map((r) => r[name]);
  }

  /** Decodes row `i`'s audio to mono Float32 at `samplingRate`. */
  async audio(i: number): Promise<Float32Array> {
    return (await this.decoded(i)).array;
  }

  /** Row `i` with its audio decoded: `{...row, audio: {path, array, samplingRate}}`. */
  async example(i: number): Promise<Example<R>> {
    return { ...this.get(i), audio: await this.decoded(i) } as Example<R>;
  }

  private decoded(i: number): Promise<DecodedAudio> {
    return decodeCell((this.get(i) as Record<string, unknown>).audio, this.samplingRate, this.origins[i]);
  }

  /** Decoded examples in order; one row's audio is in memory at a time. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Example<R>> {
    for (let i = 0; i < this.rows.length; i++) yield await this.example(i);
  }

  private derive<S extends object>(rows: readonly S[], origins: readonly RowOrigin[], extra: Partial<DatasetInit> = {}): AudioDataset<S> {
    return new AudioDataset<S>(rows, { origins, report: this.report, samplingRate: this.samplingRate, ...extra });
  }

  select(indices: Iterable<number>): AudioDataset<R> {
    const idx = [...indices];
    idx.forEach((i) => this.get(i)); // range check with a clear message
    return this.derive(idx.map((i) => this.rows[i]), idx.map((i) => this.origins[i]));
  }

  filter(fn: (row: R, index: number) => boolean): AudioDataset<R> {
    const keep = this.rows.flatMap((r, i) => (fn(r, i) ? [i] : []));
    return this.select(keep);
  }

  /** Seeded shuffle (same seed, same order, in every process). */
  shuffle(seed: number | string): AudioDataset<R> {
    return this.select(permutation(this.rows.length, seed));
  }

  /**
   * HF `train_test_split`: shuffles with `seed`, then the first `testSize` rows of the
   * permutation are the test split (a fraction is rounded up) and the rest the train split.
   */
  trainTestSplit({ testSize, seed, shuffle = true }: { testSize: number; seed?: number | string; shuffle?: boolean }):
    { train: AudioDataset<R>; test: AudioDataset<R> } {
    const n = this.rows.length;
    const k = testCount(n, testSize);
    if (!shuffle) {
      // Without shuffling HF keeps the order: train = the first n-k rows, test = the last k.
      const all = Array.from({ length: n }, (_, i) => i);
      return { train: this.select(all.slice(0, n - k)), test: this.select(all.slice(n - k)) };
    }
    if (seed === undefined) throw new Error('trainTestSplit: pass a seed so the split is reproducible');
    const order = permutation(n, seed);
    const test = order.slice(0, k);
    const train = order.slice(k);
    return { train: this.select(train), test: this.select(test) };
  }

  removeColumns(names: string | string[]): AudioDataset<R> {
    const drop = new Set(typeof names === 'string' ? [names] : names);
    for (const c of drop) {
      if (!this.columnNames.includes(c)) throw new Error(`removeColumns: no column '${c}' (columns: ${this.columnNames.join(', ')})`);
    }
    const rows = this.rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !drop.has(k))) as R);
    return this.derive(rows, this.origins);
  }

  renameColumn(from: string, to: string): AudioDataset<R> {
    if (!this.columnNames.includes(from)) throw new Error(`renameColumn: no column '${from}'`);
    const rows = this.rows.map((r) => {
      const { [from]: v, ...rest } = r as Record<string, unknown>;
      return { ...rest, [to]: v } as R;
    });
    return this.derive(rows, this.origins);
  }

  /** HF `cast_column("audio", Audio(sampling_rate=...))`: decode at another rate from now on. */
  castColumn(column: 'audio', { samplingRate }: { samplingRate: number }): AudioDataset<R> {
    void column;
    return this.derive(this.rows, this.origins, { samplingRate });
  }

  /** Adds (or replaces) a column computed per row. */
  addColumn<K extends string, V>(name: K, values: readonly V[]): AudioDataset<R & Record<K, V>> {
    if (values.length !== this.rows.length) {
      throw new Error(`addColumn '${name}': ${values.length} values for ${this.rows.length} rows`);
    }
    return this.derive(this.rows.map((r, i) => ({ ...r, [name]: values[i] }) as R & Record<K, V>), this.origins);
  }

  /**
   * HF `map`: calls `fn` on each row (audio undecoded) and merges its result into the row.
   * With `cacheDir`, results are stored under a key hashed from the rows, `fn`'s source and
   * `cacheKey`; the same call later (or in another process) reads them back without calling `fn`.
   */
  async map<S extends object>(fn: (row: R, index: number) => S | Promise<S>, options: MapOptions = {}): Promise<AudioDataset<Omit<R, keyof S> & S>> {
    return this.mapRows(fn, options, 'row');
  }

  /** `map` whose function receives the decoded example (`example.audio.array`). */
  async mapWithAudio<S extends object>(fn: (example: Example<R>, index: number) => S | Promise<S>, options: MapOptions = {}): Promise<AudioDataset<Omit<R, keyof S> & S>> {
    // Audio files are part of the input: an edited file (new size or mtime) must not hit the cache.
    const files = options.cacheDir ? this.rows.map((r) => fileStamp((r as Record<string, unknown>).audio)) : [];
    return this.mapRows((_row, i) => this.example(i).then((ex) => fn(ex, i)), options,
      `audio@${this.samplingRate}:${fn.toString()}:${fingerprint(files)}`);
  }

  private async mapRows<S extends object>(fn: (row: R, index: number) => S | Promise<S>, options: MapOptions, kind: string): Promise<AudioDataset<Omit<R, keyof S> & S>> {
    type Out = Omit<R, keyof S> & S;
    const drop = new Set(options.removeColumns ?? []);
    let dir: string | undefined;
    if (options.cacheDir) {
      const key = fingerprint(this.rows, kind === 'row' ? fn : kind, options.cacheKey ?? null, [...drop].sort());
      dir = path.resolve(options.cacheDir, `map-${key.slice(0, 24)}`);
      if (hasRows(dir)) {
        const rows = readRows<Out>(dir);
        if (rows.length === this.rows.length) return this.derive(rows, this.origins, { cacheInfo: { dir, hit: true } });
      }
    }
    const rows: Out[] = [];
    for (let i = 0; i < this.rows.length; i++) {
      let result: S;
      try {
        result = await fn(this.rows[i], i);
      } catch (e) {
        const msg = (e as Error).message;
        throw new Error(msg.includes(this.origins[i].source) ? msg : `${originLabel(this.origins[i])}: map failed: ${msg}`);
      }
      const kept = Object.fromEntries(Object.entries(this.rows[i]).filter(([k]) => !drop.has(k)));
      rows.push({ ...kept, ...result } as Out);
      options.onProgress?.(i + 1, this.rows.length);
    }
    if (dir) writeRows(dir, rows);
    return this.derive(rows, this.origins, dir ? { cacheInfo: { dir, hit: false } } : {});
  }

  /**
   * Decodes every row's audio and excludes those that fail (corrupt, truncated, undecodable,
   * silent-empty), adding each to the report with file, row and reason. Loading already did
   * the cheap checks; this is the expensive pass. Durations found on the way are cached.
   */
  async validateAudio(options: { onProgress?: (done: number, total: number) => void } = {}): Promise<AudioDataset<R>> {
    const bad = new DataReport();
    const keep: number[] = [];
    for (let i = 0; i < this.rows.length; i++) {
      const reason = await this.audioProblem(i);
      if (reason) bad.add(this.origins[i], 'audio', reason, audioPathOf(this.rows[i]));
      else keep.push(i);
      options.onProgress?.(i + 1, this.rows.length);
    }
    return this.keepRows(keep, bad);
  }

  /**
   * The rows at `keep`, with `dropped` (why the others went) appended to the report: how
   * validation and filters exclude rows without losing track of them.
   */
  keepRows(keep: readonly number[], dropped: DataReport): AudioDataset<R> {
    const out = this.select(keep);
    const report = this.report.concat(dropped);
    report.kept = keep.length;
    return new AudioDataset<R>(out.rows, { origins: out.origins, report, samplingRate: this.samplingRate });
  }

  private async audioProblem(i: number): Promise<string | undefined> {
    const value = (this.rows[i] as Record<string, unknown>).audio;
    let array: Float32Array;
    try {
      array = (await decodeCell(value, this.samplingRate)).array;
    } catch (e) {
      // The report has its own file column: keep only the reason.
      const msg = (e as Error).message.replace(/^\(unknown row\): /, '');
      return typeof value === 'string' && msg.startsWith(`${value}: `) ? msg.slice(value.length + 2) : msg;
    }
    // decodeAudio already rejects empty, non-finite and truncated (shorter than the header says) audio.
    rememberDuration(value, array.length / this.samplingRate);
    return undefined;
  }

  /** danfo.js DataFrame of the scalar columns (audio shown as its path, arrays as their length). */
  toDataFrame(): import('danfojs-node').DataFrame {
    // danfojs-node takes about a second to load; only pay for it when a table is asked for.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const dfd = require('danfojs-node') as typeof import('danfojs-node');
    return new dfd.DataFrame(this.toRecords());
  }

  /** Rows as plain scalar records (for tables). */
  toRecords(): Record<string, string | number | boolean>[] {
    return this.rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, scalar(v)])));
  }
}

function fileStamp(audio: unknown): string | null {
  if (typeof audio !== 'string') return null;
  try {
    const st = fs.statSync(audio);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

function scalar(v: unknown): string | number | boolean {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  if (ArrayBuffer.isView(v) || Array.isArray(v)) return `[${(v as ArrayLike<unknown>).length} values]`;
  return v == null ? '' : JSON.stringify(v);
}

function audioPathOf(row: object): string | undefined {
  const a = (row as Record<string, unknown>).audio;
  return typeof a === 'string' ? a : undefined;
}
