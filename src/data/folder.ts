/**
 * `writeTxtPairs`: lays a dataset out as a folder of `NAME.wav` + `NAME.txt` pairs, the way people
 * keep their own recordings (and what `loadTxtPairs` reads back). The Breton article starts from
 * such a folder; the notebook makes one from the Common Voice sample with this.
 *
 * - audio: decoded at the dataset's rate, written as 16-bit PCM mono WAV;
 * - text: the row's transcript as it is, one line, UTF-8;
 * - NAME: the source audio file's name without extension (made safe for file systems), else
 *   `row-00001`; a repeated name gets `-2`, `-3`;
 * - re-runnable: a file whose bytes would not change is left alone (counted as `unchanged`), every
 *   file is written to a temporary name and renamed, and files already in the folder that this
 *   call did not write are never deleted, only listed (`others`);
 * - a row whose audio cannot be decoded is reported with its row and skipped, not fatal.
 */
import * as fs from 'fs';
import * as path from 'path';
import { encodeWav } from '../audio/wav';
import { AudioDataset } from './dataset';
import { DataReport } from './report';
import { Row } from './types';

export interface WriteTxtPairsOptions {
  /** Called after each row (progress bars). */
  onProgress?: (done: number, total: number) => void;
}

export interface WriteTxtPairsResult {
  dir: string;
  /** The NAMEs written or confirmed, in row order. */
  names: string[];
  /** Files (re)written by this call. */
  written: number;
  /** Files that already held exactly these bytes. */
  unchanged: number;
  /** Pairs in the folder that this call did not produce (left in place). */
  others: string[];
  /** Rows skipped because their audio could not be decoded. */
  report: DataReport;
}

function safeStem(s: string): string {
  return s.normalize('NFC').replace(/[^\p{L}\p{N}._-]+/gu, '_').replace(/^[._]+/, '').slice(0, 120);
}

/** Writes `bytes` to `file` unless it already holds them; true when written. */
function writeIfChanged(file: string, bytes: Buffer): boolean {
  if (fs.existsSync(file) && fs.statSync(file).size === bytes.length && fs.readFileSync(file).equals(bytes)) return false;
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
  return true;
}

export async function writeTxtPairs<R extends Row>(ds: AudioDataset<R>, dir: string, options: WriteTxtPairsOptions = {}): Promise<WriteTxtPairsResult> {
  const root = path.resolve(dir);
  fs.mkdirSync(root, { recursive: true });
  const report = new DataReport();
  const names: string[] = [];
  const used = new Set<string>();
  let written = 0;
  let unchanged = 0;
  for (let i = 0; i < ds.length; i++) {
    const row = ds.get(i);
    if (typeof row.text !== 'string' || !row.text.trim()) {
      report.add(ds.origins[i], 'text', 'transcript is empty');
      continue;
    }
    let audio: Float32Array;
    try {
      audio = await ds.audio(i);
    } catch (e) {
      report.add(ds.origins[i], 'audio', (e as Error).message, typeof row.audio === 'string' ? row.audio : undefined);
      continue;
    }
    const base = (typeof row.audio === 'string' && safeStem(path.basename(row.audio, path.extname(row.audio)))) ||
      `row-${String(i + 1).padStart(5, '0')}`;
    let name = base;
    for (let k = 2; used.has(name); k++) name = `${base}-${k}`;
    used.add(name);
    for (const [file, bytes] of [[`${name}.wav`, encodeWav(audio, ds.samplingRate)], [`${name}.txt`, Buffer.from(`${row.text.trim()}\n`, 'utf8')]] as const) {
      if (writeIfChanged(path.join(root, file), bytes)) written++;
      else unchanged++;
    }
    names.push(name);
    report.kept++;
    options.onProgress?.(i + 1, ds.length);
  }
  const others = [...new Set(fs.readdirSync(root).filter((f) => /\.(wav|txt)$/i.test(f)).map((f) => f.replace(/\.(wav|txt)$/i, '')))]
    .filter((n) => !used.has(n)).sort();
  return { dir: root, names, written, unchanged, others, report };
}
