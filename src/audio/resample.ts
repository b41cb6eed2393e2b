/**
 * Sample-rate conversion with libsamplerate (Erik de Castro Lopo's SRC, compiled to JS/WASM by
 * @alexanderolsen/libsamplerate-js), band-limited sinc interpolation.
 *
 * Async because the library's `create()` is: `await resample(x, 48000, 16000)`.
 * OpenAI's reference loads audio with ffmpeg, whose resampler (swr) uses a different sinc filter:
 * the two agree to about 1e-4 RMS on speech, not bit for bit (numbers in test/audio.test.ts).
 */
import { create, ConverterType } from '@alexanderolsen/libsamplerate-js';

export type ResampleQuality = 'best' | 'medium' | 'fastest';

const CONVERTERS = {
  best: ConverterType.SRC_SINC_BEST_QUALITY,
  medium: ConverterType.SRC_SINC_MEDIUM_QUALITY,
  fastest: ConverterType.SRC_SINC_FASTEST,
};

/** The library converts at most this many samples per call in one piece, longer input goes in chunks. */
const ONE_PIECE = 1_000_000;

type Converter = Awaited<ReturnType<typeof create>>;

/**
 * Each `create()` instantiates a fresh 26 MB module; converters are kept per (rates, quality).
 * The one-piece (`simple`) path keeps no state between calls, so reuse is safe.
 */
const cache = new Map<string, Promise<Converter>>();

function checkRate(rate: number, what: string): void {
  if (!Number.isFinite(rate) || rate < 1 || rate > 192000) {
    throw new Error(`resample.ts: ${what} sample rate must be in 1..192000 Hz, got ${rate}`);
  }
}

/**
 * Mono `x` at `from` Hz -> mono at `to` Hz (a new array; `x` itself when the rates are equal).
 * The output has round(x.length * to / from) samples, like ffmpeg's.
 */
export async function resample(x: Float32Array, from: number, to: number,
  quality: ResampleQuality = 'best'): Promise<Float32Array> {
  checkRate(from, 'input');
  checkRate(to, 'output');
  if (!CONVERTERS.hasOwnProperty(quality)) throw new Error(`resample.ts: quality must be best, medium or fastest, got ${quality}`);
  if (from === to || x.length === 0) return x;
  const outLength = Math.round((x.length * to) / from);
  // Zeros past the end (what the sinc filter assumes there anyway) make sure the converter has
  // emitted every output sample up to outLength: its simple API can stop one short.
  const tail = Math.ceil((512 * from) / to) + 64;
  const padded = new Float32Array(x.length + tail);
  padded.set(x);
  const long = Math.max(padded.length, Math.ceil((padded.length * to) / from)) > ONE_PIECE;
  let out: Float32Array;
  if (long) {
    // The chunked path streams through the converter's state: use a private converter.
    const src = await create(1, from, to, { converterType: CONVERTERS[quality] });
    try {
      out = src.full(padded);
    } finally {
      src.destroy();
    }
  } else {
    const key = `${from}/${to}/${quality}`;
    let pending = cache.get(key);
    if (!pending) {
      pending = create(1, from, to, { converterType: CONVERTERS[quality] });
      cache.set(key, pending);
    }
    out = (await pending).simple(padded);
  }
  if (out.length >= outLength) return out.slice(0, outLength);
  const full = new Float32Array(outLength);
  full.set(out);
  return full;
}
