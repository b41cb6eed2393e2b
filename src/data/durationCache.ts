/**
 * Per-process cache of audio durations, keyed by path + size + mtime so an edited file is
 * measured again. Filled by header reads, decodes and `validateAudio()`.
 */
import * as fs from 'fs';

const cache = new Map<string, number>();

function key(file: string): string | undefined {
  try {
    const s = fs.statSync(file);
    return `${file}\u0000${s.size}\u0000${s.mtimeMs}`;
  } catch {
    return undefined;
  }
}

export function rememberDuration(value: unknown, seconds: number): void {
  const k = typeof value === 'string' ? key(value) : undefined;
  if (k) cache.set(k, seconds);
}

export function cachedDuration(value: unknown): number | undefined {
  const k = typeof value === 'string' ? key(value) : undefined;
  return k ? cache.get(k) : undefined;
}
