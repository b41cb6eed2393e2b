/**
 * What a WAV or FLAC header says about the file, without decoding it: sample rate, channels and
 * the number of sample frames. Two uses: durations of a whole dataset in milliseconds instead of
 * seconds (src/data/durations.ts), and telling a short clip from a cut-off download (decoders
 * return whatever they could read from a truncated file; decodeAudio compares with the header).
 * undefined = not said: MP3, OGG, a streamed WAV (data size 0 or 0xffffffff), FLAC with total 0.
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

/** Skips an ID3v2 tag (some FLAC writers put one first). */
function skipId3(b: Uint8Array): number {
  if (b.length >= 10 && b[0] === 0x49 && b[1] === 0x44 && b[2] === 0x33) {
    const size = ((b[6] & 0x7f) << 21) | ((b[7] & 0x7f) << 14) | ((b[8] & 0x7f) << 7) | (b[9] & 0x7f);
    return 10 + size + (b[5] & 0x10 ? 10 : 0);
  }
  return 0;
}

/** RIFF chunks: 'fmt ' gives channels, rate and block size; 'data' size / block size = frames. */
function parseWav(b: Uint8Array): AudioHeader | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let sampleRate = 0;
  let channels = 0;
  let blockAlign = 0;
  for (let at = 12; at + 8 <= b.length;) {
    const id = ascii(b, at, 4);
    const size = view.getUint32(at + 4, true);
    if (id === 'fmt ' && at + 24 <= b.length) {
      channels = view.getUint16(at + 10, true);
      sampleRate = view.getUint32(at + 12, true);
      blockAlign = view.getUint16(at + 20, true);
    } else if (id === 'data') {
      if (!sampleRate || !blockAlign || size === 0 || size === 0xffffffff) return undefined;
      const frames = Math.floor(size / blockAlign);
      return { format: 'wav', sampleRate, channels, frames, duration: frames / sampleRate };
    }
    at += 8 + size + (size % 2);
  }
  return undefined;
}

/**
 * 'fLaC', a block header (4 bytes), then STREAMINFO: 10 bytes of block/frame sizes and 64 bits of
 * sample rate (20) | channels - 1 (3) | bits - 1 (5) | total samples (36).
 */
function parseFlac(b: Uint8Array, o: number): AudioHeader | undefined {
  if (b.length < o + 26 || (b[o + 4] & 0x7f) !== 0) return undefined;
  const s = o + 18;
  const sampleRate = (b[s] << 12) | (b[s + 1] << 4) | (b[s + 2] >> 4);
  const channels = ((b[s + 2] >> 1) & 7) + 1;
  const frames = (b[s + 3] & 0x0f) * 2 ** 32 + (((b[s + 4] << 24) | (b[s + 5] << 16) | (b[s + 6] << 8) | b[s + 7]) >>> 0);
  if (!sampleRate || !frames) return undefined;
  return { format: 'flac', sampleRate, channels, frames, duration: frames / sampleRate };
}

export function parseAudioHeader(b: Uint8Array): AudioHeader | undefined {
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WAVE') return parseWav(b);
  const o = skipId3(b);
  if (b.length >= o + 4 && ascii(b, o, 4) === 'fLaC') return parseFlac(b, o);
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
