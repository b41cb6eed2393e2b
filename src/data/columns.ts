/**
 * Turns manifest fields into dataset rows: renames the audio/text columns to `audio`/`text`,
 * resolves audio paths against the manifest's folder, and runs the cheap load-time checks
 * (audio file exists and is not empty, transcript not empty). Decoding is left for later.
 */
import * as fs from 'fs';
import * as path from 'path';
import { isAudioValue } from './decodeCell';
import { DataReport } from './report';
import { AudioValue, Row, RowOrigin } from './types';
import { regularFile } from '../io/node';

/** Column names tried, in order, when the caller does not name the audio / text column. */
export const AUDIO_COLUMNS = ['audio', 'audios', 'file_name', 'path', 'audio_filepath', 'file', 'filename', 'audio_path'];
export const TEXT_COLUMNS = ['text', 'transcription', 'sentence', 'transcript', 'normalized_text', 'label'];

export interface ColumnSpec {
  audioColumn: string;
  textColumn: string;
  /** Folder that relative audio paths are resolved against (the manifest's folder by default). */
  baseDir: string;
}

/** Finds the column to use: the requested one (must exist) or the first candidate present. */
export function pickColumn(file: string, columns: string[], requested: string | undefined,
  candidates: string[], what: string): string {
  if (requested !== undefined) {
    if (!columns.includes(requested)) {
      throw new Error(`${file}: no ${what} column '${requested}' (columns: ${columns.join(', ')})`);
    }
    return requested;
  }
  const found = candidates.find((c) => columns.includes(c));
  if (!found) {
    throw new Error(`${file}: cannot tell which column holds the ${what} (columns: ${columns.join(', ')}); ` +
      `pass {${what}Column: NAME}`);
  }
  return found;
}

/**
 * Why a transcript must not be trained on, or undefined: U+FFFD means its text was already lost by
 * a lossy decoding somewhere upstream (a Latin-1 file read as UTF-8).
 */
export function textProblem(text: string): string | undefined {
  const at = text.indexOf('\uFFFD');
  if (at < 0) return undefined;
  return `transcript contains U+FFFD, the replacement character (at character ${at + 1}: "${text.slice(Math.max(0, at - 20), at + 20)}"): ` +
    'its text was lost by decoding it with the wrong encoding before; fix the source';
}

/** Checks an audio file cheaply (exists, not empty); returns the reason it is bad or undefined. */
export function checkAudioFile(file: string): string | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return 'audio file not found';
  }
  if (!stat.isFile()) {
    try {
      regularFile(file, 'audio file');
    } catch (e) {
      return (e as Error).message.slice(file.length + 2); // what it is, without the path the report names
    }
  }
  if (stat.size === 0) return 'audio file is empty (0 bytes)';
  return undefined;
}

/**
 * Builds one row from manifest fields, or records every problem with it in `report` and
 * returns undefined. Extra columns are kept under their own names.
 */
export function toRow(fields: Record<string, unknown>, origin: RowOrigin, spec: ColumnSpec,
  report: DataReport): Row | undefined {
  const { [spec.audioColumn]: audioField, [spec.textColumn]: textField, ...extra } = fields;
  let ok = true;
  let audio: AudioValue = '';
  // Bytes or samples (a Hub Parquet row) are checked when decoded; only a path can be checked now.
  if (isAudioValue(audioField) && typeof audioField !== 'string') {
    audio = audioField;
  } else if (typeof audioField === 'string' && audioField.trim()) {
    audio = path.resolve(spec.baseDir, audioField.trim());
    const bad = checkAudioFile(audio);
    if (bad) {
      report.add(origin, 'audio', bad, audio);
      ok = false;
    }
  } else {
    report.add(origin, 'audio', `'${spec.audioColumn}' is empty`);
    ok = false;
  }
  const text = typeof textField === 'string' ? textField.trim() : textField == null ? '' : String(textField);
  const bad = text ? textProblem(text) : `transcript '${spec.textColumn}' is empty`;
  if (bad) {
    report.add(origin, 'text', bad, typeof audio === 'string' ? audio : undefined);
    ok = false;
  }
  if (!ok) return undefined;
  report.kept += 1;
  return { audio, text, ...extra };
}

const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/**
 * Like the Hugging Face CSV builder, columns whose every value is a number become numbers
 * (speaker_id, duration, up_votes); values with leading zeros ("007") keep the column textual.
 */
export function inferNumberColumns(rows: Row[]): void {
  if (!rows.length) return;
  const keys = Object.keys(rows[0]).filter((k) => k !== 'audio' && k !== 'text');
  for (const key of keys) {
    const numeric = rows.every((r) => {
      const v = r[key];
      return typeof v === 'number' || (typeof v === 'string' && NUMBER.test(v) && !/^-?0\d/.test(v));
    });
    if (numeric) rows.forEach((r) => (r[key] = Number(r[key])));
  }
}
