/**
 * How many sample frames a FLAC or WAV file says it holds, from its header. Decoders return
 * whatever they could read from a truncated file without complaint; comparing with the header is
 * how decodeAudio tells "short clip" from "cut-off download". undefined = not said (MP3, OGG,
 * streamed WAV, FLAC with total 0).
 */

/** Skips an ID3v2 tag (some FLAC writers put one first). */
function skipId3(b: Uint8Array): number {
  if (b.length >= 10 && b[0] === 0x49 && b[1] === 0x44 && b[2] === 0x33) {
    const size = ((b[6] & 0x7f) << 21) | ((b[7] & 0x7f) << 14) | ((b[8] & 0x7f) << 7) | (b[9] & 0x7f);
    return 10 + size + (b[5] & 0x10 ? 10 : 0);
  }
  return 0;
}

function ascii(b: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...b.subarray(at, at + n));
}

/** FLAC STREAMINFO total samples (36 bits after rate, channels and bit depth). */
function flacFrames(b: Uint8Array, o: number): number | undefined {
  // 'fLaC', block header (4 bytes), STREAMINFO: 10 bytes of block/frame sizes, then 64 bits:
  // sample rate (20) | channels-1 (3) | bits-1 (5) | total samples (36)
  if (b.length < o + 26 || (b[o + 4] & 0x7f) !== 0) return undefined;
  const s = o + 18;
  const total = (b[s + 3] & 0x0f) * 2 ** 32 + ((b[s + 4] << 24) | (b[s + 5] << 16) | (b[s + 6] << 8) | b[s + 7]) >>> 0;
  return total > 0 ? total : undefined;
}

/** WAV data chunk size / block align. */
function wavFrames(b: Uint8Array): number | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let blockAlign = 0;
  for (let p = 12; p + 8 <= b.length;) {
    const id = ascii(b, p, 4);
    const size = view.getUint32(p + 4, true);
    if (id === 'fmt ' && p + 22 <= b.length) blockAlign = view.getUint16(p + 20, true);
    if (id === 'data') {
      if (!blockAlign || size === 0 || size === 0xffffffff) return undefined;
      return Math.floor(size / blockAlign);
    }
    p += 8 + size + (size & 1);
  }
  return undefined;
}

export function declaredFrames(bytes: Uint8Array): number | undefined {
  const o = skipId3(bytes);
  if (bytes.length >= o + 4 && ascii(bytes, o, 4) === 'fLaC') return flacFrames(bytes, o);
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WAVE') return wavFrames(bytes);
  return undefined;
}
