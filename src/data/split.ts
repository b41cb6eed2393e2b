/** Seeded permutations: the same seed gives the same order in every process and on every machine. */
import seedrandom from 'seedrandom';

/** Fisher–Yates shuffle of 0..n-1 driven by seedrandom(String(seed)). */
export function permutation(n: number, seed: number | string): number[] {
  const rng = seedrandom(String(seed));
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/**
 * Test-set size as Hugging Face computes it: a fraction in (0, 1) is rounded up
 * (ceil(testSize * n)), an integer >= 1 is a row count.
 */
export function testCount(n: number, testSize: number): number {
  if (!(testSize > 0)) throw new Error(`trainTestSplit: testSize must be > 0, got ${testSize}`);
  const k = testSize < 1 ? Math.ceil(testSize * n) : testSize;
  if (!Number.isInteger(k) || k >= n) {
    throw new Error(`trainTestSplit: testSize=${testSize} leaves no training rows out of ${n}`);
  }
  return k;
}
