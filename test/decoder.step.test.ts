/**
 * The generation step's own paths (src/backend/wasm: attention in one SIMD call, Linears of a few
 * rows in one pass, the self-attention cache grown in place) against the plain formulas and
 * against teacher forcing, on a tiny random Whisper: the same logits whichever way the tokens come,
 * also after beams are reordered and a draft is cut back.
 */
import { strict as assert } from 'assert';
import { affine, attention, initBackend, keyValue, tf } from '../src/backend';
import { plainOps } from '../src/backend/ops';
import { WhisperDecoder } from '../src/model/decoder';
import { AudioFeatures, DecoderSession } from '../src/model/inference';
import { Linear } from '../src/model/layers';
import { tinyModel } from './lora.helpers';

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('generation step (cache, attention and Linears of a few rows)', () => {
  before(async () => {
    await initBackend();
  });

  it('affine = (x W^T + b) * scale + residual', () => {
    const w = tf.randomNormal([24, 16], 0, 1, 'float32', 1) as tf.Tensor2D;
    const lin = new Linear('l', w, tf.randomNormal([24], 0, 1, 'float32', 2) as tf.Tensor1D);
    const x = tf.randomNormal([3, 16], 0, 1, 'float32', 3) as tf.Tensor2D;
    const res = tf.randomNormal([3, 24], 0, 1, 'float32', 4) as tf.Tensor2D;
    const got = affine(x, lin, lin.bias, { scale: 0.125, residual: res });
    const want = tf.add(res, tf.mul(tf.add(tf.matMul(x, w, false, true), lin.bias!), 0.125));
    assert.ok(maxDiff(got.dataSync(), want.dataSync()) < 1e-5);
    tf.dispose([lin.weight, lin.bias!, x, res, got, want]);
    lin.dispose();
  });

  it('attention of a few queries (one SIMD call per row) = the plain formula, causal or not', () => {
    // [1, 1500, 96]: big enough for the native path to share the heads between threads.
    for (const [t, s, causal, d] of [[1, 1500, false, 24], [1, 1500, false, 96], [3, 40, true, 24], [16, 16, true, 24]] as const) {
      const q = tf.randomNormal([2, t, d], 0, 1, 'float32', t) as tf.Tensor3D;
      const k = tf.randomNormal([2, s, d], 0, 1, 'float32', s) as tf.Tensor3D;
      const v = tf.randomNormal([2, s, d], 0, 1, 'float32', s + 1) as tf.Tensor3D;
      const mask = causal ? WhisperDecoder.causalMask(t, s - t) : undefined;
      const got = attention(q, keyValue(k, v, 3), 3, mask);
      const want = plainOps.attention(q, plainOps.keyValue(k, v, 3), 3, mask);
      assert.ok(maxDiff(got.dataSync(), want.dataSync()) < 1e-5, `${t} queries, ${s} keys, width ${d}`);
      tf.dispose([q, k, v, got, want, ...(mask ? [mask] : [])]);
    }
  });

  it('step by step = teacher forcing, with beams reordered and a draft cut back', async () => {
    const model = tinyModel('step');
    const c = model.config;
    const enc = tf.randomNormal([2, c.maxSourcePositions, c.dModel], 0, 1, 'float32', 7) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    const audio = new AudioFeatures(model, enc);
    const rows = [[1, 5, 6], [1, 7, 8]];
    const teacher = async (r: number[][], clips: number[]) => {
      const ids = tf.tensor2d(r, [r.length, r[0].length], 'int32');
      const e = tf.gather(enc, clips);
      const l = model.forward(null, ids, { encoderHiddenStates: e as tf.Tensor3D });
      const data = await l.data();
      tf.dispose([ids, e, l]);
      const v = c.vocabSize;
      return r.map((row, i) => data.slice((i * row.length + row.length - 1) * v, (i * row.length + row.length) * v));
    };
    const session = new DecoderSession(audio, [0, 1]);
    await session.logits(rows);
    // Grow one token at a time (written in place into the cache's room).
    for (let t = 0; t < 9; t++) {
      rows.forEach((r, i) => r.push(10 + ((t + i) % 20)));
      const [a, b] = await session.logits(rows);
      const want = await teacher(rows, [0, 1]);
      assert.ok(maxDiff(a[0], want[0]) < 1e-4 && maxDiff(b[0], want[1]) < 1e-4, `step ${t}`);
    }
    // Beam search: both rows continue row 1 (a shared cache row, copied before it is written).
    const beams = [[...rows[1], 3], [...rows[1], 4]];
    const [x, y] = await session.logits(beams, { sources: [1, 1] });
    const want = await teacher(beams, [1, 1]);
    assert.ok(maxDiff(x[0], want[0]) < 1e-4 && maxDiff(y[0], want[1]) < 1e-4, 'after reordering');
    // Speculative decoding: three positions at once, then the last two forgotten and replaced.
    const long = beams.map((r) => [...r, 11, 12, 13]);
    const three = await session.logits(long, { positions: [long[0].length - 3, long[0].length - 2, long[0].length - 1] });
    const wantLast = await teacher(long, [1, 1]);
    assert.ok(maxDiff(three[0][2], wantLast[0]) < 1e-4, 'three positions at once');
    session.truncate(long[0].length - 2);
    const redo = long.map((r) => [...r.slice(0, -2), 14, 15]);
    const after = await session.logits(redo);
    const wantRedo = await teacher(redo, [1, 1]);
    assert.ok(maxDiff(after[0][0], wantRedo[0]) < 1e-4 && maxDiff(after[1][0], wantRedo[1]) < 1e-4, 'after cutting back');
    session.dispose();
    audio.dispose();
    assert.equal(tf.memory().numTensors, before, 'the session leaked tensors');
    enc.dispose();
    model.dispose();
  });
});
