/**
 * Loaders for every dataset layout in ../shared/datasets (and the usual user layouts):
 *
 * | layout | loader | columns |
 * | --- | --- | --- |
 * | CSV/TSV with a path column | `loadCsvDataset(csv)` | e.g. `audios,transcription` (fsdd-digits) |
 * | HF audiofolder | `loadAudioFolder(dir)` | `metadata.csv` with `file_name` + transcription |
 * | Common Voice | `loadCommonVoice(dir)` | `validated.tsv` (`path`, `sentence`) + `clips/` |
 * | NAME.wav + NAME.txt pairs | `loadTxtPairs(dir)` | pocketsphinx-testdata |
 * | JSON Lines manifest | `loadJsonl(file)` | `{"audio": ..., "text": ...}` per line |
 *
 * Each renames the audio column to `audio` and the transcript column to `text`, resolves audio
 * paths against the manifest's folder, excludes bad rows into `dataset.report` and decodes nothing.
 */
import * as fs from 'fs';
import * as path from 'path';
import { AUDIO_COLUMNS, TEXT_COLUMNS, checkAudioFile, inferNumberColumns, pickColumn, textProblem, toRow } from './columns';
import { AudioDataset } from './dataset';
import { DelimitedOptions, ManifestItem, decodeText, readDelimited, readHeader, readJsonl } from './manifest';
import { DataReport } from './report';
import { IterableAudioDataset, streamDataset } from './stream';
import { Row, RowOrigin } from './types';
import { regularFile } from '../io/node';
import type { HubDatasetOptions } from '../hub/dataset';
import { isRepoId } from '../hub/cache';

export interface ManifestOptions extends DelimitedOptions {
  /** Column holding the audio path (default: first of audio, audios, file_name, path, ...). */
  audioColumn?: string;
  /** Column holding the transcript (default: first of text, transcription, sentence, ...). */
  textColumn?: string;
  /** Folder relative audio paths are resolved against (default: the manifest's folder). */
  baseDir?: string;
  /** Decode rate for the dataset's audio (default 16000, Whisper's rate). */
  samplingRate?: number;
}

/**
 * Collects manifest items into a dataset: good rows kept, every problem in the report. A row whose
 * audio file an earlier row already uses is a duplicate (it would train twice, or on two different
 * transcripts): reported, naming the earlier row, and left out.
 */
async function collect(items: AsyncIterable<ManifestItem>, spec: (first: Record<string, unknown>) => {
  audioColumn: string; textColumn: string; baseDir: string;
}, samplingRate = 16000): Promise<AudioDataset> {
  const report = new DataReport();
  const rows: Row[] = [];
  const origins: RowOrigin[] = [];
  const byAudio = new Map<string, { row: number; text: string }>();
  let columns: ReturnType<typeof spec> | undefined;
  for await (const item of items) {
    if (item.kind === 'problem') {
      report.add(item.origin, item.field, item.reason);
      continue;
    }
    columns ??= spec(item.fields);
    const row = toRow(item.fields, item.origin, columns, report);
    if (!row) continue;
    const first = typeof row.audio === 'string' ? byAudio.get(row.audio) : undefined;
    if (first) {
      report.kept -= 1;
      report.add(item.origin, 'audio', first.text === row.text ? `duplicate of row ${first.row} (same audio file and transcript)`
        : `same audio file as row ${first.row}, with another transcript`, row.audio as string);
      continue;
    }
    if (typeof row.audio === 'string') byAudio.set(row.audio, { row: item.origin.row, text: row.text });
    rows.push(row);
    origins.push(item.origin);
  }
  inferNumberColumns(rows);
  return new AudioDataset(rows, { origins, report, samplingRate });
}

/** A CSV/TSV manifest such as fsdd-digits' `dataset.csv` (`audios,transcription`). */
export async function loadCsvDataset(csv: string, options: ManifestOptions = {}): Promise<AudioDataset> {
  const file = path.resolve(csv);
  const header = await readHeader(file, options);
  const audioColumn = pickColumn(file, header, options.audioColumn, AUDIO_COLUMNS, 'audio');
  const textColumn = pickColumn(file, header, options.textColumn, TEXT_COLUMNS, 'text');
  const baseDir = options.baseDir ?? path.dirname(file);
  return collect(readDelimited(file, options), () => ({ audioColumn, textColumn, baseDir }), options.samplingRate);
}

/** A JSON Lines manifest: one `{"audio": "a.wav", "text": "..."}` object per line. */
export async function loadJsonl(manifest: string, options: ManifestOptions = {}): Promise<AudioDataset> {
  const file = path.resolve(manifest);
  const baseDir = options.baseDir ?? path.dirname(file);
  return collect(readJsonl(file, options), (first) => {
    const keys = Object.keys(first);
    return {
      audioColumn: pickColumn(file, keys, options.audioColumn, AUDIO_COLUMNS, 'audio'),
      textColumn: pickColumn(file, keys, options.textColumn, TEXT_COLUMNS, 'text'),
      baseDir,
    };
  }, options.samplingRate);
}

/** Hugging Face audiofolder: `metadata.csv` (or .jsonl) with a `file_name` column beside the audio. */
export async function loadAudioFolder(dir: string, options: Omit<ManifestOptions, 'audioColumn'> = {}): Promise<AudioDataset> {
  const root = path.resolve(dir);
  const csv = path.join(root, 'metadata.csv');
  const jsonl = path.join(root, 'metadata.jsonl');
  const opts = { ...options, audioColumn: 'file_name' };
  if (fs.existsSync(csv)) return loadCsvDataset(csv, opts);
  if (fs.existsSync(jsonl)) return loadJsonl(jsonl, opts);
  throw new Error(`${root}: not an audiofolder (no metadata.csv or metadata.jsonl)`);
}

/** A Common Voice language folder: `validated.tsv` (`path`, `sentence`, ...) + `clips/*.mp3`. */
export async function loadCommonVoice(dir: string, options: ManifestOptions & { tsv?: string } = {}): Promise<AudioDataset> {
  const root = path.resolve(dir);
  return loadCsvDataset(path.join(root, options.tsv ?? 'validated.tsv'), {
    audioColumn: 'path', textColumn: 'sentence', baseDir: path.join(root, 'clips'), ...options,
  });
}

export const AUDIO_EXTENSIONS = ['.wav', '.flac', '.mp3', '.ogg', '.opus', '.m4a', '.webm'];

/**
 * A folder of `NAME.wav` + `NAME.txt` pairs (pocketsphinx test data): one row per audio file.
 * Two audio files of one name (`x.wav` + `x.flac`) share one transcript: the first in
 * AUDIO_EXTENSIONS order is kept, the other reported. Transcripts are UTF-8 unless `encoding` says.
 */
export async function loadTxtPairs(dir: string, options: { samplingRate?: number; encoding?: string } = {}): Promise<AudioDataset> {
  const root = path.resolve(dir);
  const names = fs.readdirSync(root).sort();
  const stems = new Map<string, { audio: string[]; txt?: string }>();
  for (const name of names) {
    const ext = path.extname(name).toLowerCase();
    const stem = name.slice(0, name.length - ext.length);
    const entry = stems.get(stem) ?? { audio: [] };
    if (ext === '.txt') entry.txt = name;
    else if (AUDIO_EXTENSIONS.includes(ext)) entry.audio.push(name);
    else continue;
    stems.set(stem, entry);
  }
  const report = new DataReport();
  const rows: Row[] = [];
  const origins: RowOrigin[] = [];
  let row = 0;
  const extRank = (n: string) => AUDIO_EXTENSIONS.indexOf(path.extname(n).toLowerCase());
  for (const [stem, entry] of stems) {
    row += 1;
    const [first, ...others] = entry.audio.sort((a, b) => extRank(a) - extRank(b));
    const txt = path.join(root, entry.txt ?? `${stem}.txt`);
    const audio = path.join(root, first ?? `${stem}.wav`);
    const origin: RowOrigin = { source: entry.txt ? txt : audio, row, line: 1 };
    for (const other of others) {
      row += 1;
      report.add({ source: path.join(root, other), row, line: 1 }, 'audio',
        `${other} and ${first} share the transcript ${path.basename(txt)}: ${first} is kept, ${other} left out`, path.join(root, other));
    }
    let ok = true;
    if (!first) {
      report.add(origin, 'audio', `no audio file for ${path.basename(txt)} (looked for ${AUDIO_EXTENSIONS.join(', ')})`);
      ok = false;
    } else {
      const bad = checkAudioFile(audio);
      if (bad) {
        report.add(origin, 'audio', bad, audio);
        ok = false;
      }
    }
    let text = '';
    if (!entry.txt) {
      report.add(origin, 'text', `no transcript file ${path.basename(txt)}`, audio);
      ok = false;
    } else {
      let bytes: Uint8Array;
      try {
        regularFile(txt, 'transcript file');
        bytes = fs.readFileSync(txt);
      } catch (e) {
        report.add(origin, 'text', (e as Error).message, first ? audio : undefined);
        continue;
      }
      const decoded = decodeText(bytes, options.encoding);
      text = 'text' in decoded ? decoded.text.trim() : '';
      const bad = 'error' in decoded ? `transcript file is ${decoded.error}` : !text ? 'transcript file is empty' : textProblem(text);
      if (bad) {
        report.add(origin, 'text', bad, first ? audio : undefined);
        ok = false;
      }
    }
    if (!ok) continue;
    report.kept += 1;
    rows.push({ audio, text, id: stem });
    origins.push(origin);
  }
  return new AudioDataset(rows, { origins, report, samplingRate: options.samplingRate });
}

export type Layout = 'csv' | 'jsonl' | 'audiofolder' | 'commonvoice' | 'txtpairs';

/** Which loader fits `p` (a manifest file or a dataset folder); throws when none does. */
export function detectLayout(p: string): Layout {
  const target = path.resolve(p);
  if (!fs.existsSync(target)) throw new Error(`${target}: file not found`);
  if (fs.statSync(target).isFile()) {
    if (/\.jsonl?$/i.test(target)) return 'jsonl';
    if (/\.(csv|tsv)$/i.test(target)) return 'csv';
    throw new Error(`${target}: unknown manifest type (expected .csv, .tsv or .jsonl)`);
  }
  const names = fs.readdirSync(target);
  if (names.includes('validated.tsv') && names.includes('clips')) return 'commonvoice';
  if (names.includes('metadata.csv') || names.includes('metadata.jsonl')) return 'audiofolder';
  const manifests = names.filter((n) => /\.(csv|tsv|jsonl)$/i.test(n));
  if (manifests.length === 1) return /\.jsonl$/i.test(manifests[0]) ? 'jsonl' : 'csv';
  if (names.some((n) => n.toLowerCase().endsWith('.txt')) && names.some((n) => AUDIO_EXTENSIONS.includes(path.extname(n).toLowerCase()))) {
    return 'txtpairs';
  }
  const splits = names.filter((n) => fs.statSync(path.join(target, n)).isDirectory());
  throw new Error(`${target}: cannot tell the dataset layout` +
    (splits.length ? ` (it has folders ${splits.join(', ')}: use loadDatasetDict for one dataset per folder)` : ''));
}

export interface LoadDatasetOptions extends ManifestOptions, Omit<HubDatasetOptions, keyof ManifestOptions> {}

/**
 * HF `load_dataset`: a manifest file or folder of any supported layout (see `detectLayout`), or,
 * when no such local path exists, a Hub dataset id (`owner/name`: its Parquet files, src/hub).
 * `streaming: true` gives an IterableAudioDataset (rows read as iterated).
 */
export async function loadDataset(p: string, options: LoadDatasetOptions & { streaming: true }): Promise<IterableAudioDataset>;
export async function loadDataset(p: string, options?: LoadDatasetOptions & { streaming?: false }): Promise<AudioDataset>;
export async function loadDataset(p: string, options?: LoadDatasetOptions): Promise<AudioDataset | IterableAudioDataset>;
export async function loadDataset(p: string, options: LoadDatasetOptions = {}): Promise<AudioDataset | IterableAudioDataset> {
  if (!fs.existsSync(p) && isRepoId(p)) {
    // Loaded on first use: local datasets never pay for the Hub client and the Parquet reader.
    const { loadHubDataset } = await import('../hub/dataset');
    return loadHubDataset(p, options).catch((e: Error & { statusCode?: number }) => {
      // 'data/train' is a valid Hub id too: a missing local folder must not read as a Hub problem only.
      throw e.statusCode === 404 ? new Error(`${e.message} (and there is no local path ${path.resolve(p)})`) : e;
    });
  }
  if (options.streaming) {
    const target = path.resolve(p);
    if (fs.existsSync(target) && fs.statSync(target).isFile()) return streamDataset(target, options);
    const ds = await loadLocal(p, options);
    return IterableAudioDataset.fromRows(ds.rows, ds.origins, ds.samplingRate);
  }
  return loadLocal(p, options);
}

async function loadLocal(p: string, options: ManifestOptions): Promise<AudioDataset> {
  const target = path.resolve(p);
  const layout = detectLayout(target);
  switch (layout) {
    case 'commonvoice': return loadCommonVoice(target, options);
    case 'audiofolder': return loadAudioFolder(target, options);
    case 'txtpairs': return loadTxtPairs(target, options);
    case 'jsonl':
    case 'csv': {
      const file = fs.statSync(target).isFile() ? target
        : path.join(target, fs.readdirSync(target).find((n) => /\.(csv|tsv|jsonl)$/i.test(n))!);
      return layout === 'jsonl' ? loadJsonl(file, options) : loadCsvDataset(file, options);
    }
  }
}

export type DatasetDict = Record<string, AudioDataset>;

/**
 * One dataset per sub-folder (`librispeech-mini/{train,test}`, `commonvoice-sample/{fr,vi,...}`),
 * like `load_dataset` returning a DatasetDict; `splits` limits which folders are read.
 */
export async function loadDatasetDict(dir: string, options: ManifestOptions & { splits?: string[] } = {}): Promise<DatasetDict> {
  const root = path.resolve(dir);
  const names = options.splits ?? fs.readdirSync(root).filter((n) => fs.statSync(path.join(root, n)).isDirectory()).sort();
  const out: DatasetDict = {};
  for (const name of names) out[name] = await loadLocal(path.join(root, name), options);
  return out;
}
