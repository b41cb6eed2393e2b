import { strict as assert } from 'assert';

/** The largest |a[i] - b[i]| (the arrays must have the same length). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Equal within `tol`: for results of the same formula through different kernels (wasm runs a
 * Linear of a few rows as one SIMD pass and more rows through XNNPACK, which add in another order).
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = 'values'): void {
  const d = maxAbsDiff(actual, expected);
  assert.ok(d <= tol, `${what}: max |difference| ${d} > ${tol}`);
}
