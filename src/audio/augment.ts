/**
 * Waveform augmentations for training, as audiomentations' AddGaussianNoise, Gain and
 * Normalize, driven by a seeded random generator so a run can be repeated exactly.
 * Each returns a new array when it acts and `x` itself when its coin flip (probability p) says no.
 */
import seedrandom from 'seedrandom';

/** Uniform numbers in [0, 1), e.g. `makeRng(42)`. */
export type Rng = () => number;

export function makeRng(seed: string | number): Rng {
  return seedrandom(String(seed));
}

function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** Standard normal by Box-Muller (two uniforms per draw, keeps the stream simple to replay). */
export function gaussian(rng: Rng): number {
  const u = 1 - rng(); // (0, 1]: log(0) is impossible
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function checkP(p: number, where: string): void {
  if (!(p >= 0 && p <= 1)) throw new Error(`augment.ts: ${where}: p must be in [0, 1], got ${p}`);
}

export interface GaussianNoiseOptions {
  p?: number;
  minAmplitude?: number;
  maxAmplitude?: number;
}

/** x + N(0, a^2) with a ~ U(minAmplitude, maxAmplitude), with probability p (defaults 0.5, 0.001, 0.015). */
export function addGaussianNoise(x: Float32Array, opts: GaussianNoiseOptions, rng: Rng): Float32Array {
  const { p = 0.5, minAmplitude = 0.001, maxAmplitude = 0.015 } = opts;
  checkP(p, 'addGaussianNoise');
  if (!(minAmplitude >= 0 && maxAmplitude >= minAmplitude)) {
    throw new Error(`augment.ts: addGaussianNoise: need 0 <= minAmplitude <= maxAmplitude, got ${minAmplitude}, ${maxAmplitude}`);
  }
  if (rng() >= p) return x;
  const a = uniform(rng, minAmplitude, maxAmplitude);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] + a * gaussian(rng);
  return out;
}

export interface GainOptions {
  p?: number;
  minDb?: number;
  maxDb?: number;
}

/** x * 10^(g/20) with g ~ U(minDb, maxDb) dB, with probability p (defaults 0.5, -12, 12). */
export function gain(x: Float32Array, opts: GainOptions, rng: Rng): Float32Array {
  const { p = 0.5, minDb = -12, maxDb = 12 } = opts;
  checkP(p, 'gain');
  if (!(maxDb >= minDb)) throw new Error(`augment.ts: gain: need minDb <= maxDb, got ${minDb}, ${maxDb}`);
  if (rng() >= p) return x;
  const k = 10 ** (uniform(rng, minDb, maxDb) / 20);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * k;
  return out;
}

/** Scales so the largest |sample| is 1 (silence is returned unchanged, as a copy). */
export function peakNormalize(x: Float32Array): Float32Array {
  let peak = 0;
  for (let i = 0; i < x.length; i++) peak = Math.max(peak, Math.abs(x[i]));
  if (peak === 0) return x.slice();
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] / peak;
  return out;
}
