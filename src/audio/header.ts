/**
 * What a WAV or FLAC header says about the file, without decoding it: sample rate, channels and
 * the number of sample frames. Two uses: durations of a whole dataset in milliseconds instead of
 * seconds (src/data/durations.ts), and telling a short clip from a cut-off download (decoders
 * return whatever they could read from a truncated file; decodeAudio compares with the header).
 * undefined = not said: MP3, OGG, a streamed WAV (data size 0 or 0xffffffff), FLAC with total 0.
 */
import * as fs from 'fs';
import { regularFile } from '../io/node';

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

/**
 * What a header says, also when it does not say the length (`frames` undefined): the decode limits
 * check channels and rate before anything is decoded. MP4/M4A give their length in `mdhd`.
 */
export interface AudioFormat {
  format: 'wav' | 'flac' | 'mp4';
  sampleRate?: number;
  channels?: number;
  frames?: number;
}

/** RIFF chunks: 'fmt ' gives channels, rate and block size; 'data' size / block size = frames. */
function parseWav(b: Uint8Array): AudioFormat {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: AudioFormat = { format: 'wav' };
  let blockAlign = 0;
  for (let at = 12; at + 8 <= b.length;) {
    const id = ascii(b, at, 4);
    const size = view.getUint32(at + 4, true);
    if (id === 'fmt ' && at + 24 <= b.length) {
      out.channels = view.getUint16(at + 10, true);
      out.sampleRate = view.getUint32(at + 12, true);
      blockAlign = view.getUint16(at + 20, true);
    } else if (id === 'data') {
      if (out.sampleRate && blockAlign && size !== 0 && size !== 0xffffffff) out.frames = Math.floor(size / blockAlign);
      break;
    }
    at += 8 + size + (size % 2);
  }
  return out;
}

/**
 * 'fLaC', a block header (4 bytes), then STREAMINFO: 10 bytes of block/frame sizes and 64 bits of
 * sample rate (20) | channels - 1 (3) | bits - 1 (5) | total samples (36).
 */
function parseFlac(b: Uint8Array, o: number): AudioFormat | undefined {
  if (b.length < o + 26 || (b[o + 4] & 0x7f) !== 0) return undefined;
  const s = o + 18;
  const sampleRate = (b[s] << 12) | (b[s + 1] << 4) | (b[s + 2] >> 4);
  const channels = ((b[s + 2] >> 1) & 7) + 1;
  const frames = (b[s + 3] & 0x0f) * 2 ** 32 + (((b[s + 4] << 24) | (b[s + 5] << 16) | (b[s + 6] << 8) | b[s + 7]) >>> 0);
  return { format: 'flac', sampleRate, channels, frames: frames || undefined };
}

/** ISO BMFF boxes in [start, end): [type, body start, body end]. */
function* boxes(b: Uint8Array, start: number, end: number): Generator<[string, number, number]> {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let at = start; at + 8 <= end;) {
    let size = view.getUint32(at);
    let body = at + 8;
    if (size === 1 && at + 16 <= end) {
      size = view.getUint32(at + 8) * 2 ** 32 + view.getUint32(at + 12);
      body = at + 16;
    } else if (size === 0) size = end - at;
    if (size < body - at) return;
    yield [ascii(b, at + 4, 4), body, Math.min(end, at + size)];
    at += size;
  }
}

/** MP4/M4A/MOV: the length of the first sound track, from moov/trak/mdia/mdhd (duration / timescale). */
function parseMp4(b: Uint8Array): AudioFormat | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const child = (type: string, s: number, e: number) => {
    for (const box of boxes(b, s, e)) if (box[0] === type) return box;
    return undefined;
  };
  const moov = child('moov', 0, b.length);
  if (!moov) return undefined;
  for (const [type, s, e] of boxes(b, moov[1], moov[2])) {
    const mdia = type === 'trak' ? child('mdia', s, e) : undefined;
    const hdlr = mdia && child('hdlr', mdia[1], mdia[2]);
    const mdhd = mdia && child('mdhd', mdia[1], mdia[2]);
    if (!hdlr || !mdhd || hdlr[1] + 12 > hdlr[2] || ascii(b, hdlr[1] + 8, 4) !== 'soun') continue;
    const v1 = b[mdhd[1]] === 1;
    if (mdhd[1] + (v1 ? 32 : 20) > mdhd[2]) return undefined;
    const timescale = view.getUint32(mdhd[1] + (v1 ? 20 : 12));
    const duration = v1 ? view.getUint32(mdhd[1] + 24) * 2 ** 32 + view.getUint32(mdhd[1] + 28) : view.getUint32(mdhd[1] + 16);
    return timescale ? { format: 'mp4', sampleRate: timescale, frames: duration } : undefined;
  }
  return undefined;
}

/** The format fields of a WAV, FLAC or MP4 header (whatever it declares), undefined for other formats. */
export function parseAudioFormat(b: Uint8Array): AudioFormat | undefined {
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WAVE') return parseWav(b);
  const o = skipId3(b);
  if (b.length >= o + 4 && ascii(b, o, 4) === 'fLaC') return parseFlac(b, o);
  if (b.length >= 12 && ascii(b, 4, 4) === 'ftyp') return parseMp4(b);
  return undefined;
}

export function parseAudioHeader(b: Uint8Array): AudioHeader | undefined {
  const f = parseAudioFormat(b);
  if (!f || f.format === 'mp4' || !f.sampleRate || !f.frames || !f.channels) return undefined;
  return { format: f.format, sampleRate: f.sampleRate, channels: f.channels, frames: f.frames, duration: f.frames / f.sampleRate };
}

/** Header of a file on disk (reads its first 64 KiB only). */
export function readAudioHeader(file: string): AudioHeader | undefined {
  return parseAudioHeader(readHead(file));
}

/** The first 64 KiB of a file: enough for the header of every format above except an MP4 whose moov comes last. */
export function readHead(file: string): Uint8Array {
  regularFile(file, 'audio file');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(65536);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}
