/**
 * Hostile audio made in memory for the resource tests: headers that declare absurd values and
 * silence packed as densely as the format allows.
 */

/** A 16-bit PCM WAV whose header declares `channels`, `rate` and `dataBytes` of samples (all zeros). */
export function wavDeclaring(channels: number, rate: number, dataBytes: number): Buffer {
  const buf = Buffer.alloc(44 + dataBytes);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + dataBytes, 4);
  buf.write('WAVEfmt ', 8, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(channels, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE((rate * channels * 2) >>> 0, 28);
  buf.writeUInt16LE((channels * 2) & 0xffff, 32); // block align (wraps for absurd channel counts)
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(dataBytes, 40);
  return buf;
}

function crc8(b: number[]): number {
  let c = 0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
  }
  return c;
}

function crc16(b: number[]): number {
  let c = 0;
  for (const x of b) {
    c ^= x << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x8005) & 0xffff : (c << 1) & 0xffff;
  }
  return c;
}

/** FLAC's UTF-8-like frame number coding. */
function utf8Number(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x800) return [0xc0 | (n >> 6), 0x80 | (n & 0x3f)];
  if (n < 0x10000) return [0xe0 | (n >> 12), 0x80 | ((n >> 6) & 0x3f), 0x80 | (n & 0x3f)];
  return [0xf0 | (n >> 18), 0x80 | ((n >> 12) & 0x3f), 0x80 | ((n >> 6) & 0x3f), 0x80 | (n & 0x3f)];
}

/**
 * `seconds` of mono 16-bit silence at `rate` as a valid FLAC stream of 65535-sample frames with
 * CONSTANT subframes: about 17 bytes per 4 s at 16 kHz (3 hours fit in 45 KB). With
 * `declareLength: false` STREAMINFO says "length unknown" (0), as a streamed encoder writes it.
 */
export function silentFlac(seconds: number, rate = 16000, declareLength = true): Buffer {
  // The frame header names the rate itself (decoders fed bare frames never see STREAMINFO).
  const rateCode = ({ 8000: 4, 16000: 5, 44100: 9, 48000: 10 } as Record<number, number>)[rate];
  if (rateCode === undefined) throw new Error(`silentFlac: rate ${rate} not supported`);
  const total = Math.round(seconds * rate);
  const BLOCK = 65535;
  const out: number[] = [0x66, 0x4c, 0x61, 0x43, 0x80, 0, 0, 34]; // 'fLaC', last block, STREAMINFO, 34 bytes
  const declared = declareLength ? total : 0;
  out.push(BLOCK >> 8, BLOCK & 0xff, BLOCK >> 8, BLOCK & 0xff, 0, 0, 0, 0, 0, 0);
  // rate (20 bits) | channels-1 (3) | bits-1 (5) | total samples (36)
  const bits = BigInt(rate) << 44n | 0n << 41n | 15n << 36n | BigInt(declared);
  for (let k = 7; k >= 0; k--) out.push(Number((bits >> BigInt(8 * k)) & 0xffn));
  for (let k = 0; k < 16; k++) out.push(0); // MD5 unknown
  const frames: number[] = [];
  for (let i = 0, n = 0; i < total; i += BLOCK, n++) {
    const size = Math.min(BLOCK, total - i);
    const header = [0xff, 0xf8, 0x70 | rateCode, 0x08, ...utf8Number(n), (size - 1) >> 8, (size - 1) & 0xff];
    header.push(crc8(header));
    const frame = [...header, 0x00, 0x00, 0x00]; // CONSTANT subframe, value 0
    const c = crc16(frame);
    frames.push(...frame, c >> 8, c & 0xff);
  }
  return Buffer.from([...out, ...frames]);
}
