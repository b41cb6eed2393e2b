/**
 * The complete guide's validity filter (`is_valid`, notebook 12): drop rows Whisper cannot learn
 * from. Defaults follow that guide: text longer than 5 characters and 1 s < duration < 30 s
 * (Whisper sees at most 30 s; longer clips would be cut and their labels no longer match). These
 * are limits for sentences: they drop short segments such as the 0.48 s example of the French
 * telephone article, which filters nothing. Every dropped row goes into the dataset's report with
 * its reason.
 */
import { AudioDataset } from './dataset';
import { durations } from './durations';
import { DataReport } from './report';

export interface ValidityOptions {
  /** Keep text strictly longer than this many characters (default 5). */
  minTextLength?: number;
  /** Keep audio strictly longer than this, seconds (default 1). */
  minDuration?: number;
  /** Keep audio strictly shorter than this, seconds (default 30). */
  maxDuration?: number;
  /** Keep label sequences no longer than this many tokens (Whisper's decoder holds 448); off by default. */
  maxLabelLength?: number;
}

export const DEFAULT_VALIDITY: Required<Omit<ValidityOptions, 'maxLabelLength'>> = {
  minTextLength: 5, minDuration: 1, maxDuration: 30,
};

/** Why a row is invalid, or undefined when it is fine. */
export function invalidReason(row: { text?: unknown; labels?: ArrayLike<number> }, duration: number | undefined,
  options: ValidityOptions = {}): { field: string; reason: string } | undefined {
  const o = { ...DEFAULT_VALIDITY, ...options };
  if (typeof row.text === 'string' && row.text.trim().length <= o.minTextLength) {
    return { field: 'text', reason: `text has ${row.text.trim().length} characters (needs more than ${o.minTextLength})` };
  }
  if (duration !== undefined && !(duration > o.minDuration && duration < o.maxDuration)) {
    return { field: 'duration', reason: `duration ${duration.toFixed(3)} s is outside (${o.minDuration}, ${o.maxDuration}) s` };
  }
  if (o.maxLabelLength !== undefined && row.labels && row.labels.length > o.maxLabelLength) {
    return { field: 'labels', reason: `${row.labels.length} label tokens (at most ${o.maxLabelLength})` };
  }
  return undefined;
}

/**
 * Keeps the valid rows. Duration comes from a `duration` or `inputLength` column when present,
 * otherwise from the audio headers (or decoding).
 */
export async function filterValid<R extends object>(ds: AudioDataset<R>, options: ValidityOptions = {}): Promise<AudioDataset<R>> {
  const cols = ds.columnNames;
  const col = cols.includes('duration') ? 'duration' : cols.includes('inputLength') ? 'inputLength' : undefined;
  const secs = col ? ds.rows.map((r) => Number((r as Record<string, unknown>)[col])) : await durations(ds);
  const dropped = new DataReport();
  const keep: number[] = [];
  ds.rows.forEach((r, i) => {
    const bad = invalidReason(r as { text?: unknown }, secs[i], options);
    if (bad) dropped.add(ds.origins[i], bad.field, bad.reason, typeof (r as { audio?: unknown }).audio === 'string' ? (r as { audio: string }).audio : undefined);
    else keep.push(i);
  });
  return ds.keepRows(keep, dropped);
}
