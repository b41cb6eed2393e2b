/**
 * Real FFT of any even size whose half factors into small primes (Whisper: n_fft = 400 = 2 * 200,
 * 200 = 4 * 2 * 5 * 5).
 *
 * Why not fft.js alone: it only does powers of two, and a Bluestein 400-point transform built on
 * its 1024-point FFT measured 50 ms per 3000 frames here, over the whole 30 ms budget of the
 * log-Mel. kissfft-js (sync, asm.js) computes in float32 and took 15 ms. This mixed-radix
 * Stockham FFT works in float64 (the 1e-4 parity with PyTorch needs headroom) and is allocation
 * free after construction.
 */

/** Splits n into radices, 4 first (cheapest butterfly), then 2, 3, 5, then any other prime. */
function factorize(n: number): number[] {
  const out: number[] = [];
  for (const p of [4, 2, 3, 5]) {
    while (n % p === 0) {
      out.push(p);
      n /= p;
    }
  }
  for (let p = 7; n > 1; p += 2) {
    while (n % p === 0) {
      out.push(p);
      n /= p;
    }
  }
  return out;
}

interface Stage {
  radix: number;
  /** Length of the sub-transform this stage splits (n / product of earlier radices). */
  len: number;
  /** Stride between interleaved sub-sequences (product of earlier radices). */
  stride: number;
  /** Twiddles W_len^(j*k) for j < len/radix, k < radix: [re, im] interleaved, index (j*radix+k)*2. */
  twiddle: Float64Array;
}

/** Complex FFT of size n (forward, e^{-2 pi i k n / N}, unscaled) by Stockham autosort, DIF. */
export class ComplexFFT {
  readonly n: number;
  private readonly stages: Stage[];
  private readonly bufRe: Float64Array;
  private readonly bufIm: Float64Array;
  /** Roots of unity for the generic butterfly: cos/sin(2 pi k / radix). */
  private readonly rootCache = new Map<number, Float64Array>();

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`fft.ts: FFT size must be a positive integer, got ${n}`);
    this.n = n;
    this.bufRe = new Float64Array(n);
    this.bufIm = new Float64Array(n);
    this.stages = [];
    let len = n;
    let stride = 1;
    for (const radix of factorize(n)) {
      const m = len / radix;
      const twiddle = new Float64Array(m * radix * 2);
      for (let j = 0; j < m; j++) {
        for (let k = 0; k < radix; k++) {
          const a = (-2 * Math.PI * j * k) / len;
          twiddle[(j * radix + k) * 2] = Math.cos(a);
          twiddle[(j * radix + k) * 2 + 1] = Math.sin(a);
        }
      }
      this.stages.push({ radix, len, stride, twiddle });
      if (radix > 5 && !this.rootCache.has(radix)) {
        const roots = new Float64Array(radix * 2);
        for (let k = 0; k < radix; k++) {
          roots[2 * k] = Math.cos((-2 * Math.PI * k) / radix);
          roots[2 * k + 1] = Math.sin((-2 * Math.PI * k) / radix);
        }
        this.rootCache.set(radix, roots);
      }
      len = m;
      stride *= radix;
    }
  }

  /** In-place forward transform of (re, im). */
  transform(re: Float64Array, im: Float64Array): void {
    let xr = re;
    let xi = im;
    let yr = this.bufRe;
    let yi = this.bufIm;
    for (const st of this.stages) {
      this.stage(st, xr, xi, yr, yi);
      const tr = xr, ti = xi; // ping-pong without allocating
      xr = yr;
      xi = yi;
      yr = tr;
      yi = ti;
    }
    if (xr !== re) {
      re.set(xr);
      im.set(xi);
    }
  }

  /**
   * One radix-p DIF step: for sub-sequence offset q < s and j < m = len/p, reads the p points
   * x[q + s(j + t m)], takes their p-point DFT, twiddles output k by W_len^(jk) and writes it to
   * y[q + s(p j + k)]. Output ends in natural order after the last stage.
   */
  private stage(st: Stage, xr: Float64Array, xi: Float64Array, yr: Float64Array, yi: Float64Array): void {
    const { radix: p, len, stride: s, twiddle: tw } = st;
    const m = len / p;
    const sm = s * m;
    if (p === 4) {
      for (let j = 0; j < m; j++) {
        const t = j * 8;
        const w1r = tw[t + 2], w1i = tw[t + 3], w2r = tw[t + 4], w2i = tw[t + 5], w3r = tw[t + 6], w3i = tw[t + 7];
        for (let q = 0; q < s; q++) {
          const i0 = q + s * j;
          const i1 = i0 + sm, i2 = i1 + sm, i3 = i2 + sm;
          const a0r = xr[i0], a0i = xi[i0], a1r = xr[i1], a1i = xi[i1];
          const a2r = xr[i2], a2i = xi[i2], a3r = xr[i3], a3i = xi[i3];
          const s02r = a0r + a2r, s02i = a0i + a2i, d02r = a0r - a2r, d02i = a0i - a2i;
          const s13r = a1r + a3r, s13i = a1i + a3i, d13r = a1r - a3r, d13i = a1i - a3i;
          // X1 = d02 - i d13, X3 = d02 + i d13 (forward sign)
          const b1r = d02r + d13i, b1i = d02i - d13r;
          const b2r = s02r - s13r, b2i = s02i - s13i;
          const b3r = d02r - d13i, b3i = d02i + d13r;
          const o = q + s * 4 * j;
          yr[o] = s02r + s13r;
          yi[o] = s02i + s13i;
          yr[o + s] = b1r * w1r - b1i * w1i;
          yi[o + s] = b1r * w1i + b1i * w1r;
          yr[o + 2 * s] = b2r * w2r - b2i * w2i;
          yi[o + 2 * s] = b2r * w2i + b2i * w2r;
          yr[o + 3 * s] = b3r * w3r - b3i * w3i;
          yi[o + 3 * s] = b3r * w3i + b3i * w3r;
        }
      }
    } else if (p === 2) {
      for (let j = 0; j < m; j++) {
        const wr = tw[j * 4 + 2], wi = tw[j * 4 + 3];
        for (let q = 0; q < s; q++) {
          const i0 = q + s * j, i1 = i0 + sm;
          const dr = xr[i0] - xr[i1], di = xi[i0] - xi[i1];
          const o = q + s * 2 * j;
          yr[o] = xr[i0] + xr[i1];
          yi[o] = xi[i0] + xi[i1];
          yr[o + s] = dr * wr - di * wi;
          yi[o + s] = dr * wi + di * wr;
        }
      }
    } else if (p === 5) {
      const c1 = Math.cos((2 * Math.PI) / 5), c2 = Math.cos((4 * Math.PI) / 5);
      const s1 = Math.sin((2 * Math.PI) / 5), s2 = Math.sin((4 * Math.PI) / 5);
      for (let j = 0; j < m; j++) {
        const t = j * 10;
        for (let q = 0; q < s; q++) {
          const i0 = q + s * j;
          const i1 = i0 + sm, i2 = i1 + sm, i3 = i2 + sm, i4 = i3 + sm;
          const a0r = xr[i0], a0i = xi[i0];
          const s14r = xr[i1] + xr[i4], s14i = xi[i1] + xi[i4], d14r = xr[i1] - xr[i4], d14i = xi[i1] - xi[i4];
          const s23r = xr[i2] + xr[i3], s23i = xi[i2] + xi[i3], d23r = xr[i2] - xr[i3], d23i = xi[i2] - xi[i3];
          const e1r = a0r + c1 * s14r + c2 * s23r, e1i = a0i + c1 * s14i + c2 * s23i;
          const e2r = a0r + c2 * s14r + c1 * s23r, e2i = a0i + c2 * s14i + c1 * s23i;
          // forward: X_k = e_k - i * (sin terms); multiply by -i: (x, y) -> (y, -x)
          const f1r = s1 * d14r + s2 * d23r, f1i = s1 * d14i + s2 * d23i;
          const f2r = s2 * d14r - s1 * d23r, f2i = s2 * d14i - s1 * d23i;
          const o = q + s * 5 * j;
          yr[o] = a0r + s14r + s23r;
          yi[o] = a0i + s14i + s23i;
          if (j === 0) {
            // W^0 = 1: the whole last stage, and the first butterfly of the others
            yr[o + s] = e1r + f1i;
            yi[o + s] = e1i - f1r;
            yr[o + 2 * s] = e2r + f2i;
            yi[o + 2 * s] = e2i - f2r;
            yr[o + 3 * s] = e2r - f2i;
            yi[o + 3 * s] = e2i + f2r;
            yr[o + 4 * s] = e1r - f1i;
            yi[o + 4 * s] = e1i + f1r;
            continue;
          }
          let br = e1r + f1i, bi = e1i - f1r;
          yr[o + s] = br * tw[t + 2] - bi * tw[t + 3];
          yi[o + s] = br * tw[t + 3] + bi * tw[t + 2];
          br = e2r + f2i; bi = e2i - f2r;
          yr[o + 2 * s] = br * tw[t + 4] - bi * tw[t + 5];
          yi[o + 2 * s] = br * tw[t + 5] + bi * tw[t + 4];
          br = e2r - f2i; bi = e2i + f2r;
          yr[o + 3 * s] = br * tw[t + 6] - bi * tw[t + 7];
          yi[o + 3 * s] = br * tw[t + 7] + bi * tw[t + 6];
          br = e1r - f1i; bi = e1i + f1r;
          yr[o + 4 * s] = br * tw[t + 8] - bi * tw[t + 9];
          yi[o + 4 * s] = br * tw[t + 9] + bi * tw[t + 8];
        }
      }
    } else {
      this.genericStage(p, m, s, tw, xr, xi, yr, yi);
    }
  }

  /** Any radix (3, 7, 11, ...): direct p-point DFT; only hit for unusual sizes. */
  private genericStage(p: number, m: number, s: number, tw: Float64Array,
    xr: Float64Array, xi: Float64Array, yr: Float64Array, yi: Float64Array): void {
    let roots = this.rootCache.get(p);
    if (!roots) {
      roots = new Float64Array(p * 2);
      for (let k = 0; k < p; k++) {
        roots[2 * k] = Math.cos((-2 * Math.PI * k) / p);
        roots[2 * k + 1] = Math.sin((-2 * Math.PI * k) / p);
      }
      this.rootCache.set(p, roots);
    }
    const sm = s * m;
    for (let j = 0; j < m; j++) {
      for (let q = 0; q < s; q++) {
        const i0 = q + s * j;
        const o = q + s * p * j;
        for (let k = 0; k < p; k++) {
          let accR = 0, accI = 0;
          for (let t = 0; t < p; t++) {
            const r = ((t * k) % p) * 2;
            const ar = xr[i0 + t * sm], ai = xi[i0 + t * sm];
            accR += ar * roots[r] - ai * roots[r + 1];
            accI += ar * roots[r + 1] + ai * roots[r];
          }
          const w = (j * p + k) * 2;
          yr[o + k * s] = accR * tw[w] - accI * tw[w + 1];
          yi[o + k * s] = accR * tw[w + 1] + accI * tw[w];
        }
      }
    }
  }
}

/**
 * Forward FFT of a real signal of even length n, returning bins 0..n/2 (like numpy.fft.rfft).
 * Packs even/odd samples into one complex FFT of n/2 points and untangles the halves.
 */
export class RealFFT {
  readonly n: number;
  readonly nBins: number;
  private readonly half: ComplexFFT;
  private readonly zr: Float64Array;
  private readonly zi: Float64Array;
  private readonly wr: Float64Array;
  private readonly wi: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 2 || n % 2 !== 0) {
      throw new Error(`fft.ts: real FFT size must be an even integer >= 2, got ${n}`);
    }
    this.n = n;
    this.nBins = n / 2 + 1;
    const h = n / 2;
    this.half = new ComplexFFT(h);
    this.zr = new Float64Array(h);
    this.zi = new Float64Array(h);
    this.wr = new Float64Array(h + 1);
    this.wi = new Float64Array(h + 1);
    this.re = new Float64Array(h + 1);
    this.im = new Float64Array(h + 1);
    for (let k = 0; k <= h; k++) {
      this.wr[k] = Math.cos((-2 * Math.PI * k) / n);
      this.wi[k] = Math.sin((-2 * Math.PI * k) / n);
    }
  }

  /**
   * Bins 0..n/2 of x = signal[offset .. offset+n] * window (window optional) into outRe/outIm.
   * Windowing while packing saves a pass over every STFT frame.
   */
  forward(signal: ArrayLike<number>, outRe: Float64Array, outIm: Float64Array, offset = 0, window?: Float64Array): void {
    this.transformPacked(signal, offset, window);
    const h = this.n / 2;
    const { zr, zi, wr, wi } = this;
    // E[k] = (Z[k] + conj Z[h-k]) / 2, O[k] = (Z[k] - conj Z[h-k]) / (2i), X[k] = E[k] + W^k O[k].
    for (let k = 0; k <= h; k++) {
      const a = k === h ? 0 : k;
      const b = k === 0 ? 0 : h - k;
      const ar = zr[a], ai = zi[a], br = zr[b], bi = -zi[b];
      const er = 0.5 * (ar + br), ei = 0.5 * (ai + bi);
      const or = 0.5 * (ai - bi), oi = -0.5 * (ar - br);
      outRe[k] = er + or * wr[k] - oi * wi[k];
      outIm[k] = ei + or * wi[k] + oi * wr[k];
    }
  }

  /** |X[k]|^2 for k = 0..n/2: one STFT frame's power (arguments as in forward). */
  power(signal: ArrayLike<number>, out: Float64Array, offset = 0, window?: Float64Array): void {
    this.forward(signal, this.re, this.im, offset, window);
    for (let k = 0; k < this.nBins; k++) out[k] = this.re[k] * this.re[k] + this.im[k] * this.im[k];
  }

  /** z[i] = x[2i] + i x[2i+1] with x = signal[offset ..] * window (when given), then the half-size complex FFT in place. */
  private transformPacked(signal: ArrayLike<number>, offset = 0, window?: Float64Array): void {
    const h = this.n / 2;
    const { zr, zi } = this;
    if (window) {
      for (let i = 0, j = offset; i < h; i++, j += 2) {
        zr[i] = signal[j] * window[2 * i];
        zi[i] = signal[j + 1] * window[2 * i + 1];
      }
    } else {
      for (let i = 0, j = offset; i < h; i++, j += 2) {
        zr[i] = signal[j];
        zi[i] = signal[j + 1];
      }
    }
    this.half.transform(zr, zi);
  }
}
