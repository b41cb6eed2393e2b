/**
 * HF `dataset.save_to_disk(dir)` / `load_from_disk(dir)`: a dataset's rows (typed arrays such as
 * log-Mel features in one binary file), the origin of every row and a small info object, so one
 * notebook can hand prepared data to the next.
 */
import * as fs from 'fs';
import * as path from 'path';
import { hasRows, readRows, writeRows } from './codec';
import { AudioDataset } from './dataset';
import { RowOrigin } from './types';

const INFO = 'dataset_info.json';

interface SavedInfo {
  numRows: number;
  samplingRate: number;
  origins: RowOrigin[];
  /** Whatever the caller attached (e.g. the normalizer the labels were made with). */
  info: Record<string, unknown>;
}

/** Writes `ds` to `dir` (replacing what was there, atomically for the rows). */
export function saveToDisk(ds: AudioDataset<object>, dir: string, info: Record<string, unknown> = {}): void {
  fs.mkdirSync(path.dirname(path.resolve(dir)), { recursive: true });
  writeRows(dir, ds.rows);
  const saved: SavedInfo = { numRows: ds.numRows, samplingRate: ds.samplingRate, origins: [...ds.origins], info };
  fs.writeFileSync(path.join(dir, INFO), JSON.stringify(saved) + '\n');
}

/** Reads a dataset written by saveToDisk; `info` is what was attached when saving. */
export function loadFromDisk<R extends object>(dir: string): AudioDataset<R> & { info: Record<string, unknown> } {
  const infoFile = path.join(dir, INFO);
  if (!hasRows(dir) || !fs.existsSync(infoFile)) throw new Error(`${dir}: no dataset saved here (expected rows.json, arrays.bin and ${INFO})`);
  const saved = JSON.parse(fs.readFileSync(infoFile, 'utf8')) as SavedInfo;
  const rows = readRows<R>(dir);
  if (rows.length !== saved.numRows) throw new Error(`${dir}: rows.json holds ${rows.length} rows, ${INFO} says ${saved.numRows}`);
  const ds = new AudioDataset<R>(rows, { origins: saved.origins, samplingRate: saved.samplingRate });
  return Object.assign(ds, { info: saved.info });
}
