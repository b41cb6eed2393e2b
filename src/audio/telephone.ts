/**
 * Telephone audio from wideband audio (a stand-in for the French telephone article's recorded calls,
 * which are not reachable offline): a phone line
 * carries 8 kHz samples of the 300-3400 Hz voice band (ITU-T G.712), companded to 8 bits with
 * G.711 mu-law. Whisper expects 16 kHz, so the result is resampled back up: the model sees a 16 kHz
 * signal with nothing above 3.4 kHz, as when a call recording is fed to it.
 *
 *   const phone = await telephoneBand(audio16k);          // same length, 16 kHz
 *
 * Steps: resample to 8 kHz (libsamplerate: its anti-alias filter removes everything above 4 kHz),
 * 2nd-order Butterworth high-pass at 300 Hz and low-pass at 3400 Hz (RBJ Audio EQ Cookbook biquads,
 * the filters of sox's `highpass`/`lowpass`), mu-law encode + decode (Sun's g711.c, the codec of
 * sox and ffmpeg), resample back to the input rate.
 */
import { resample } from './resample';

/** One second-order IIR section, b/a normalized by a0 (RBJ Audio EQ Cookbook). */
export class Biquad {
  constructor(readonly b: [number, number, number], readonly a: [number, number], readonly sampleRate: number) {}

  private static make(kind: 'lowpass' | 'highpass', freq: number, sampleRate: number, q: number): Biquad {
    if (!(freq > 0 && freq < sampleRate / 2)) {
      throw new Error(`Biquad.${kind}: frequency must be in (0, ${sampleRate / 2}) Hz at ${sampleRate} Hz, got ${freq}`);
    }
    const w0 = (2 * Math.PI * freq) / sampleRate;
    const cos = Math.cos(w0);
    const alpha = Math.sin(w0) / (2 * q);
    const a0 = 1 + alpha;
    const k = kind === 'lowpass' ? (1 - cos) / 2 : (1 + cos) / 2;
    const b1 = kind === 'lowpass' ? 1 - cos : -(1 + cos);
    return new Biquad([k / a0, b1 / a0, k / a0], [(-2 * cos) / a0, (1 - alpha) / a0], sampleRate);
  }

  /** Q = 1/sqrt(2): the maximally flat (Butterworth) 2nd-order section. */
  static lowpass(freq: number, sampleRate: number, q = Math.SQRT1_2): Biquad {
    return Biquad.make('lowpass', freq, sampleRate, q);
  }

  static highpass(freq: number, sampleRate: number, q = Math.SQRT1_2): Biquad {
    return Biquad.make('highpass', freq, sampleRate, q);
  }

  /** Filters `x` from rest (direct form I, double precision state). */
  process(x: Float32Array): Float32Array {
    const [b0, b1, b2] = this.b;
    const [a1, a2] = this.a;
    const y = new Float32Array(x.length);
    let x1 = 0, x2 = 0, y1 = 0, y2 = 0;
    for (let i = 0; i < x.length; i++) {
      const out = b0 * x[i] + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
      x2 = x1;
      x1 = x[i];
      y2 = y1;
      y1 = out;
      y[i] = out;
    }
    return y;
  }

  /** |H(e^{jw})| at `freq` Hz: the gain a steady sine of that frequency gets. */
  gain(freq: number): number {
    const w = (2 * Math.PI * freq) / this.sampleRate;
    const re = (c: number[]) => c[0] + c[1] * Math.cos(w) + c[2] * Math.cos(2 * w);
    const im = (c: number[]) => -(c[1] * Math.sin(w) + c[2] * Math.sin(2 * w));
    const den = [1, ...this.a];
    return Math.hypot(re(this.b), im(this.b)) / Math.hypot(re(den), im(den));
  }
}

// G.711 mu-law (Sun Microsystems' public-domain g711.c, as in sox and ffmpeg).
const BIAS = 0x84;
const CLIP = 8159;
const SEG_END = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];

/** 16-bit linear PCM sample -> 8-bit mu-law code. */
export function linearToMulaw(pcm16: number): number {
  let v = pcm16 >> 2; // 14-bit magnitude range
  let mask = 0xff;
  if (v < 0) {
    v = -v;
    mask = 0x7f;
  }
  v = Math.min(v, CLIP) + (BIAS >> 2);
  const seg = SEG_END.findIndex((end) => v <= end);
  if (seg < 0) return 0x7f ^ mask;
  return (((seg << 4) | ((v >> (seg + 1)) & 0xf)) ^ mask) & 0xff;
}

/** 8-bit mu-law code -> 16-bit linear PCM sample (-32124 ... 32124). */
export function mulawToLinear(code: number): number {
  const u = ~code & 0xff;
  const t = (((u & 0x0f) << 3) + BIAS) << ((u & 0x70) >> 4);
  return u & 0x80 ? BIAS - t : t - BIAS;
}

/** Float samples through an 8-bit mu-law channel (encode + decode). */
export function mulawCompand(x: Float32Array): Float32Array {
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const pcm = Math.max(-32768, Math.min(32767, Math.round(x[i] * 32768)));
    y[i] = mulawToLinear(linearToMulaw(pcm)) / 32768;
  }
  return y;
}

export interface TelephoneOptions {
  /** Sample rate of the phone line (default 8000). */
  channelRate?: number;
  /** Voice band edges in Hz (default 300 and 3400, ITU-T G.712). */
  lowHz?: number;
  highHz?: number;
  /** 'mulaw' (default): G.711 8-bit companding on the line; 'none': band-limiting only. */
  codec?: 'mulaw' | 'none';
}

/** The filters telephoneBand applies at the channel rate (for plotting the channel's response). */
export function telephoneFilters(opts: TelephoneOptions = {}): Biquad[] {
  const rate = opts.channelRate ?? 8000;
  return [Biquad.highpass(opts.lowHz ?? 300, rate), Biquad.lowpass(opts.highHz ?? 3400, rate)];
}

/**
 * `x` (mono, `sampleRate` Hz) as heard through a telephone line, returned at `sampleRate` with the
 * same number of samples.
 */
export async function telephoneBand(x: Float32Array, sampleRate = 16000, opts: TelephoneOptions = {}): Promise<Float32Array> {
  const rate = opts.channelRate ?? 8000;
  if (opts.codec !== undefined && opts.codec !== 'mulaw' && opts.codec !== 'none') {
    throw new Error(`telephoneBand: codec must be 'mulaw' or 'none', got ${JSON.stringify(opts.codec)}`);
  }
  let line = await resample(x, sampleRate, rate);
  for (const f of telephoneFilters(opts)) line = f.process(line);
  if ((opts.codec ?? 'mulaw') === 'mulaw') line = mulawCompand(line);
  const back = await resample(line, rate, sampleRate);
  if (back.length === x.length) return back;
  const out = new Float32Array(x.length);
  out.set(back.subarray(0, x.length));
  return out;
}
