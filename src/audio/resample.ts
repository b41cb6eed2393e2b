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

type Converter = Awaited<ReturnType<typeof create>>;

/**
 * Each `create()` instantiates a fresh 26 MB module, so converters are pooled per (rates, quality).
 * A stream holds one for itself (the filter has state); returning it resets that state.
 */
const pool = new Map<string, Converter[]>();

function checkRate(rate: number, what: string): void {
  if (!Number.isFinite(rate) || rate < 1 || rate > 192000) {
    throw new Error(`resample.ts: ${what} sample rate must be in 1..192000 Hz, got ${rate}`);
  }
}

/**
 * Streaming sample-rate conversion: `push` chunks of any size, then `end`. The output equals
 * `resample` of the whole signal sample for sample (libsamplerate's state carries across chunks),
 * while only one chunk is in memory at a time.
 */
export class Resampler {
  private inCount = 0;
  private outCount = 0;

  private constructor(private src: Converter | undefined, private readonly key: string,
    readonly from: number, readonly to: number) {}

  static async open(from: number, to: number, quality: ResampleQuality = 'best'): Promise<Resampler> {
    checkRate(from, 'input');
    checkRate(to, 'output');
    if (!Object.prototype.hasOwnProperty.call(CONVERTERS, quality)) {
      throw new Error(`resample.ts: quality must be best, medium or fastest, got ${quality}`);
    }
    const key = `${from}/${to}/${quality}`;
    if (from === to) return new Resampler(undefined, key, from, to);
    let src = pool.get(key)?.pop();
    if (src) src.inputSampleRate = from; // the setter re-creates the filter: a fresh state
    else src = await create(1, from, to, { converterType: CONVERTERS[quality] });
    return new Resampler(src, key, from, to);
  }

  /** Output so far for the next chunk of input (the filter holds back its last few hundred samples until `end`). */
  push(x: Float32Array): Float32Array {
    this.inCount += x.length;
    if (!this.src || x.length === 0) return this.src ? new Float32Array(0) : x;
    const y = this.src.full(x);
    this.outCount += y.length;
    return y;
  }

  /**
   * The rest of the output: the filter is flushed with zeros (what a sinc filter assumes past the
   * end), and the total is round(input * to / from) samples, like ffmpeg's.
   */
  end(): Float32Array {
    const total = Math.round((this.inCount * this.to) / this.from);
    if (!this.src) return new Float32Array(0);
    const tail = this.src.full(new Float32Array(Math.ceil((512 * this.from) / this.to) + 64));
    this.close();
    const out = new Float32Array(Math.max(0, total - this.outCount));
    out.set(tail.subarray(0, out.length));
    this.outCount += out.length;
    return out;
  }

  /** Gives the converter back to the pool (also after an error); the resampler is unusable afterwards. */
  close(): void {
    if (!this.src) return;
    let free = pool.get(this.key);
    if (!free) pool.set(this.key, (free = []));
    free.push(this.src);
    this.src = undefined;
  }
}

/**
 * Mono `x` at `from` Hz -> mono at `to` Hz (a new array; `x` itself when the rates are equal).
 * The output has round(x.length * to / from) samples, like ffmpeg's.
 */
export async function resample(x: Float32Array, from: number, to: number,
  quality: ResampleQuality = 'best'): Promise<Float32Array> {
  const r = await Resampler.open(from, to, quality);
  if (from === to || x.length === 0) {
    r.close();
    return x;
  }
  let head: Float32Array;
  try {
    head = r.push(x);
  } catch (e) {
    r.close();
    throw e;
  }
  const tail = r.end();
  const out = new Float32Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}
