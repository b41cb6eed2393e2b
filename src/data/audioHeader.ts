/**
 * Reads duration from WAV and FLAC headers without decoding (1200 digits in milliseconds
 * instead of seconds). Other formats (MP3, OGG) return undefined and are decoded instead.
 */
import * as fs from 'fs';

export interface AudioHeader {
  format: 'wav' | 'flac';
  sampleRate: number;
  channels: number;
  /** Samples per channel the header declares. */
  frames: number;
  duration: number;
}

function ascii(b: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...b.subarray(at, at + n));
}

export function parseAudioHeader(b: Uint8Array): AudioHeader | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WAVE') {
    let at = 12;
    let sampleRate = 0;
    let channels = 0;
    let blockAlign = 0;
    while (at + 8 <= b.length) {
      const id = ascii(b, at, 4);
      const size = view.getUint32(at + 4, true);
      if (id === 'fmt ' && at + 24 <= b.length) {
        channels = view.getUint16(at + 10, true);
        sampleRate = view.getUint32(at + 12, true);
        blockAlign = view.getUint16(at + 20, true);
      } else if (id === 'data') {
        if (!sampleRate || !blockAlign) return undefined;
        const frames = Math.floor(size / blockAlign);
        return { format: 'wav', sampleRate, channels, frames, duration: frames / sampleRate };
      }
      at += 8 + size + (size % 2);
    }
    return undefined;
  }
  if (b.length >= 42 && ascii(b, 0, 4) === 'fLaC' && (b[4] & 0x7f) === 0) {
    const s = 8; // STREAMINFO body
    const sampleRate = (b[s + 10] << 12) | (b[s + 11] << 4) | (b[s + 12] >> 4);
    const channels = ((b[s + 12] >> 1) & 7) + 1;
    const frames = (b[s + 13] & 0x0f) * 2 ** 32 + view.getUint32(s + 14, false);
    if (!sampleRate || !frames) return undefined; // frames 0 means "unknown" in FLAC
    return { format: 'flac', sampleRate, channels, frames, duration: frames / sampleRate };
  }
  return undefined;
}

/** Header of a file on disk (reads its first 64 KiB only). */
export function readAudioHeader(file: string): AudioHeader | undefined {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(65536);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return parseAudioHeader(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
}
