/**
 * Audio durations in seconds, read from the WAV/FLAC header when possible (no decoding) and by
 * decoding otherwise (MP3); results are cached per file for the process.
 */
import { readAudioHeader, parseAudioHeader } from '../audio/header';
import { AudioDataset } from './dataset';
import { decodeCell } from './decodeCell';
import { cachedDuration, rememberDuration } from './durationCache';

/** Duration of one audio cell (path or bytes). */
export async function audioDuration(value: unknown, samplingRate = 16000): Promise<number> {
  const cached = cachedDuration(value);
  if (cached !== undefined) return cached;
  const header = typeof value === 'string' ? readAudioHeader(value) : value instanceof Uint8Array ? parseAudioHeader(value) : undefined;
  const seconds = header ? header.duration : (await decodeCell(value, samplingRate)).array.length / samplingRate;
  rememberDuration(value, seconds);
  return seconds;
}

/** Every row's audio duration in seconds, in row order. Errors name the row. */
export async function durations<R extends object>(ds: AudioDataset<R>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < ds.length; i++) {
    const value = (ds.rows[i] as Record<string, unknown>).audio;
    try {
      out.push(await audioDuration(value, ds.samplingRate));
    } catch (e) {
      const o = ds.origins[i];
      throw new Error(`${o.source} row ${o.row}: cannot measure duration: ${(e as Error).message}`);
    }
  }
  return out;
}

