/**
 * The gradients written out by hand for training speed (GELU, LayerNorm, attention's softmax,
 * wasm's matMul gradient) against plain autodiff or plain arithmetic: same forward values, same
 * gradients up to float32 rounding.
 */
import { strict as assert } from 'assert';
import { attention, initBackend, keyValue, tf } from '../src/backend';
import { gelu, LayerNorm } from '../src/model/layers';

/**
 * max |a - b| / max(|b|, floor) over all elements; floor defaults to 1 % of max |b|, so that
 * float32 rounding of elements that cancel to near zero does not count as a relative error.
 */
function maxRelDiff(a: tf.Tensor, b: tf.Tensor, floor?: number): number {
  const x = a.dataSync();
  const y = b.dataSync();
  assert.equal(x.length, y.length);
  const f = floor ?? 0.01 * Math.max(...Array.from(y, Math.abs));
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / Math.max(Math.abs(y[i]), f));
  return worst;
}

/** Gradients of sum(f(...xs) * w) for a fixed random w, so that every output element matters. */
function grads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], w: tf.Tensor): tf.Tensor[] {
  return tf.grads((...args: tf.Tensor[]) => tf.sum(tf.mul(f(...args), w)))(xs);
}

/** Phi(x), the standard normal CDF, in double precision (erfc by its continued fraction in the tails). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  let erfc: number;
  if (z < 3) { // erf's Taylor series
    let term = z;
    let sum = z;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= -z * z / n;
      sum += term / (2 * n + 1);
    }
    erfc = 1 - (2 / Math.sqrt(Math.PI)) * sum;
  } else { // Lentz's continued fraction for erfc
    let f = z;
    for (let k = 60; k >= 1; k--) f = z + (k / 2) / f;
    erfc = Math.exp(-z * z) / (Math.sqrt(Math.PI) * f);
  }
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

const subnormals = (t: tf.Tensor) => Array.from(t.dataSync()).filter((v) => v !== 0 && Math.abs(v) < 1.1754944e-38).length;

describe('written-out gradients (src/backend/ops.ts and its wasm versions)', () => {
  before(async () => {
    await initBackend();
  });

  it('gelu (one SIMD pass on wasm, by PyTorch\'s erf formula): within 2e-7 |x| of x Phi(x) and its derivative within 4e-7 of Phi(x) + x phi(x), the same values with and without a gradient tape, the gradient of the plain formula, and no subnormal gradients', () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const plain = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
      const x = tf.concat([tf.randomNormal([4000], 0, 3, 'float32', 1), tf.linspace(-20, 20, 401), tf.tensor1d([0, -0, 1e-30, 3])]);
      const value = gelu(x).dataSync();
      x.dataSync().forEach((v, i) => {
        const want = v * normalCdf(v);
        assert.ok(Math.abs(value[i] - want) <= 2e-7 * Math.abs(v) + 1e-37, `gelu(${v}) = ${value[i]}, want ${want}`);
      });
      // The derivative Phi(x) + x phi(x), 4405 values (not a multiple of 4: the last SIMD step overlaps).
      const slope = grads((t) => gelu(t), [x], tf.onesLike(x))[0].dataSync();
      x.dataSync().forEach((v, i) => {
        const xPhi = v * Math.exp(-v * v / 2) / Math.sqrt(2 * Math.PI);
        assert.ok(Math.abs(slope[i] - normalCdf(v) - xPhi) <= 4e-7 * (1 + Math.abs(xPhi)), `gelu'(${v}) = ${slope[i]}, want ${normalCdf(v) + xPhi}`);
      });
      const w = tf.randomNormal(x.shape, 0, 1, 'float32', 2);
      let taped: number[] = [];
      const g = tf.grads((t: tf.Tensor) => {
        const y = gelu(t);
        taped = Array.from(y.dataSync());
        return tf.sum(tf.mul(y, w));
      })([x])[0];
      assert.deepEqual(taped, Array.from(value));
      assert.ok(maxRelDiff(g, grads(plain, [x], w)[0]) < 1e-5);
      // Far in the tail with a small incoming gradient, autodiff's gradient is subnormal (slow to
      // multiply); the written-out one is not, and differs by less than 1e-20 there.
      const tail = tf.linspace(-14, -10, 400);
      const dy = tf.fill(tail.shape, 1e-12);
      const tailGrad = grads((t) => gelu(t), [tail], dy)[0];
      const theirs = grads(plain, [tail], dy)[0];
      assert.ok(subnormals(theirs) > 0, 'the test reaches the subnormal range');
      assert.equal(subnormals(tailGrad), 0);
      assert.ok(maxRelDiff(tailGrad, theirs, 1e-20) <= 1);
    });
    assert.equal(tf.memory().numTensors, before);
  });

  it('LayerNorm (one pass per row on wasm): the same values as the tfjs operations over mean/rsqrt, bit for bit, and its input gradient', () => {
    tf.tidy(() => {
      for (const d of [24, 26, 384]) { // 26: the last step of 4 overlaps the previous one
        const ln = new LayerNorm('ln', tf.randomNormal([d], 1, 0.2, 'float32', 3) as tf.Tensor1D, tf.randomNormal([d], 0, 0.2, 'float32', 4) as tf.Tensor1D);
        const plain = (x: tf.Tensor) => {
          const centered = tf.sub(x, tf.mean(x, -1, true));
          const r = tf.rsqrt(tf.add(tf.mean(tf.square(centered), -1, true), ln.eps));
          return tf.add(tf.mul(tf.mul(centered, r), ln.weight), ln.bias);
        };
        const x = tf.randomNormal([2, 7, d], 0.5, 2, 'float32', 5);
        assert.deepEqual(Array.from(ln.apply(x).dataSync()), Array.from(plain(x).dataSync()), `d=${d}`);
        const w = tf.randomNormal(x.shape, 0, 1, 'float32', 6);
        assert.ok(maxRelDiff(grads((t) => ln.apply(t), [x], w)[0], grads(plain, [x], w)[0]) < 1e-4, `d=${d}`);
      }
    });
  });

  // Many queries (the encoder, training): one 2-D product per head on wasm. Few (a decoder step or
  // a checked draft, at most 32 queries per row on wasm): one fused SIMD pass per row there, within
  // float32 rounding.
  for (const [t, heads, batch] of [[40, 4, 1], [40, 4, 3], [12, 4, 2], [1, 4, 2]]) {
    const path = t > 32 ? 'many queries' : 'few queries';
    it(`attention (${path}, batch ${batch}): the same values as softmax(q k^T) v per head, and the q, k, v gradients`, () => {
      tf.tidy(() => {
        const [s, d] = [20, 16];
        const q = tf.randomNormal([batch, t, d], 0, 1, 'float32', 7) as tf.Tensor3D;
        const k = tf.randomNormal([batch, s, d], 0, 1, 'float32', 8) as tf.Tensor3D;
        const v = tf.randomNormal([batch, s, d], 0, 1, 'float32', 9) as tf.Tensor3D;
        const plain = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) => tf.stack([...Array(batch).keys()].map((b) => {
          const row = (x: tf.Tensor, n: number) => tf.reshape(tf.slice(x, [b, 0, 0], [1, n, d]), [n, d]);
          const [qs, ks, vs] = [tf.split(row(qq, t), heads, 1), tf.split(row(kk, s), heads, 1), tf.split(row(vv, s), heads, 1)];
          return tf.concat(qs.map((qh, h) => tf.matMul(tf.softmax(tf.matMul(qh, tf.transpose(ks[h]))), vs[h])), 1);
        }));
        const ours = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) =>
          attention(qq as tf.Tensor3D, keyValue(kk as tf.Tensor3D, vv as tf.Tensor3D, heads), heads);
        if (path === 'many queries' && tf.getBackend() === 'wasm') {
          // One 2-D product per head, as the plain formula: the same bits.
          assert.deepEqual(Array.from(ours(q, k, v).dataSync()), Array.from(plain(q, k, v).dataSync()));
        } else {
          assert.ok(maxRelDiff(ours(q, k, v), plain(q, k, v)) < 1e-5);
        }
        const w = tf.randomNormal([batch, t, d], 0, 1, 'float32', 10);
        const [a, b] = [grads(ours, [q, k, v], w), grads(plain, [q, k, v], w)];
        a.forEach((g, i) => assert.ok(maxRelDiff(g, b[i]) < 1e-4, `gradient ${['q', 'k', 'v'][i]}`));
      });
    });
  }

  it('matMul gradient: dA = dC op(B)^T and dB = op(A)^T dC for every transpose flag, both product orders', () => {
    tf.tidy(() => {
      // [m, k] x [k, n] with a small or large right operand: mm picks the direct or swapped order.
      for (const [m, k, n] of [[3, 5, 40], [40, 5, 3]]) {
        for (const transposeA of [false, true]) {
          for (const transposeB of [false, true]) {
            const a = tf.randomNormal(transposeA ? [k, m] : [m, k], 0, 1, 'float32', 11);
            const b = tf.randomNormal(transposeB ? [n, k] : [k, n], 0, 1, 'float32', 12);
            const dc = tf.randomNormal([m, n], 0, 1, 'float32', 13);
            const [da, db] = grads((x, y) => tf.matMul(x, y, transposeA, transposeB), [a, b], dc);
            // Reference in plain arithmetic: C[i][j] = sum_p A'[i][p] B'[p][j].
            const A = a.arraySync() as number[][];
            const B = b.arraySync() as number[][];
            const D = dc.arraySync() as number[][];
            const aAt = (i: number, p: number) => (transposeA ? A[p][i] : A[i][p]);
            const bAt = (p: number, j: number) => (transposeB ? B[j][p] : B[p][j]);
            const dA = A.map((row, r) => row.map((_, c) => {
              const [i, p] = transposeA ? [c, r] : [r, c];
              return D[i].reduce((sum, dij, j) => sum + dij * bAt(p, j), 0);
            }));
            const dB = B.map((row, r) => row.map((_, c) => {
              const [p, j] = transposeB ? [c, r] : [r, c];
              return D.reduce((sum, drow, i) => sum + drow[j] * aAt(i, p), 0);
            }));
            const label = `${m}x${k}x${n} transposeA=${transposeA} transposeB=${transposeB}`;
            assert.ok(maxRelDiff(da, tf.tensor(dA)) < 1e-5, `dA ${label}`);
            assert.ok(maxRelDiff(db, tf.tensor(dB)) < 1e-5, `dB ${label}`);
          }
        }
      }
    });
  });
});
