/** Seeded permutations: the same seed gives the same order in every process and on every machine. */
import seedrandom from 'seedrandom';

/** Fisher–Yates shuffle of `items` in place, drawn from `rng`: every seeded shuffle of the library is this one. */
export function shuffleInPlace<T>(items: T[], rng: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** 0..n-1 shuffled by seedrandom(String(seed)). */
export function permutation(n: number, seed: number | string): number[] {
  return shuffleInPlace(Array.from({ length: n }, (_, i) => i), seedrandom(String(seed)));
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
