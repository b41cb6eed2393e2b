import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fused } from '../src/backend/wasm/kernels';
import { initBackend, describeBackend, tf } from '../src/backend';

const TSX = path.join(__dirname, '..', 'node_modules', '.bin', 'tsx');

/** Runs a snippet in a fresh process (backend choice is once per process) with extra env. */
function runWith(env: Record<string, string>, code: string): { ok: boolean; out: string } {
  try {
    const out = execFileSync(TSX, ['-e', code], {
      cwd: path.join(__dirname, '..'), env: { ...process.env, ...env }, encoding: 'utf8', stdio: 'pipe',
    });
    return { ok: true, out };
  } catch (e: any) {
    return { ok: false, out: `${e.stdout}${e.stderr}` };
  }
}

const PRINT = `import {initBackend, describeBackend} from './src/backend';
initBackend().then(r => console.log(JSON.stringify(r) + '\\n' + describeBackend(r)));`;

describe('backend selection', () => {
  it('picks a working backend automatically and says why faster ones were skipped', async () => {
    const r = await initBackend();
    assert.equal(tf.getBackend(), r.active);
    assert.ok(['tensorflow', 'webgpu', 'wasm', 'cpu'].includes(r.active));
    if (r.active !== 'tensorflow') assert.match(r.skipped.tensorflow ?? '', /tfjs-node/);
    if (r.active === 'wasm' || r.active === 'cpu') assert.ok(r.skipped.webgpu, 'says why webgpu was skipped');
    assert.match(describeBackend(r), new RegExp(`backend: ${r.active}`));
    const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()[0]);
    assert.equal(y, 11);
  });

  it('WHISPER_BACKEND=cpu forces the cpu backend', () => {
    const { ok, out } = runWith({ WHISPER_BACKEND: 'cpu' }, PRINT);
    assert.ok(ok, out);
    assert.match(out, /"active":"cpu","forced":true/);
  });

  it('forcing an unavailable backend fails with a clear message naming the fallback', () => {
    const { ok, out } = runWith({ WHISPER_BACKEND: 'tensorflow' }, PRINT);
    if (ok) {
      // Only on machines where native TensorFlow really loads.
      assert.match(out, /"active":"tensorflow"/);
      return;
    }
    assert.match(out, /WHISPER_BACKEND=tensorflow was requested but cannot start/);
    assert.match(out, /tfjs-node/);
    assert.match(out, /Unset WHISPER_BACKEND to fall back automatically/);
  });

  it('rejects an unknown backend name', () => {
    const { ok, out } = runWith({ WHISPER_BACKEND: 'gpu9000' }, PRINT);
    assert.ok(!ok);
    assert.match(out, /WHISPER_BACKEND=gpu9000 is not a backend; use one of tensorflow, webgpu, native, wasm, cpu/);
  });

  it('a software WebGPU adapter (SwiftShader) is skipped automatically, with the reason, and taken when forced', () => {
    const icd = { VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? '/usr/lib/chromium/vk_swiftshader_icd.json' };
    const auto = runWith(icd, PRINT);
    assert.ok(auto.ok, auto.out);
    assert.match(auto.out, /skipped webgpu: only a software adapter \(.*fallback adapter.*\); WHISPER_BACKEND=webgpu uses it anyway/);
    const forced = runWith({ ...icd, WHISPER_BACKEND: 'webgpu' }, PRINT);
    assert.ok(forced.ok, forced.out);
    assert.match(forced.out, /"active":"webgpu","forced":true/);
    assert.match(forced.out, /backend: webgpu on .*fallback adapter/);
  });
});

describe('native TensorFlow install path (package.json)', () => {
  it('a user can add @tensorflow/tfjs-node: danfojs-node\'s override no longer claims the name (npm resolves the real package)', function () {
    this.timeout(120_000);
    const root = path.join(__dirname, '..');
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    assert.equal(pkg.overrides['@tensorflow/tfjs-node'], undefined, 'no project-wide override of @tensorflow/tfjs-node');
    assert.equal(pkg.overrides['danfojs-node']['@tensorflow/tfjs-node'], 'npm:@tensorflow/tfjs@4.22.0', 'danfojs-node keeps plain tfjs (installs offline)');
    // What `npm install @tensorflow/tfjs-node@4.22.0` resolves to, without downloading anything
    // (a project-wide override made npm refuse it: EOVERRIDE).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'native-tf-'));
    try {
      for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(root, f), path.join(dir, f));
      execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '@tensorflow/tfjs-node@4.22.0'],
        { cwd: dir, stdio: 'pipe', encoding: 'utf8' });
      const lock = JSON.parse(fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8'));
      const top = lock.packages['node_modules/@tensorflow/tfjs-node'];
      assert.equal(top.name, undefined, 'not an alias');
      assert.equal(top.version, '4.22.0');
      assert.equal(top.hasInstallScript, true, 'the native package (it downloads libtensorflow when installed)');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('wasm kernel fixes (src/backend/wasm/kernels.ts)', () => {
  /** The elements of x (shape `shape`, row-major) in the box begin..begin+size, in order. */
  function box(x: ArrayLike<number>, shape: number[], begin: number[], size: number[]): number[] {
    const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const out: number[] = [];
    const walk = (axis: number, offset: number) => {
      if (axis === shape.length) return void out.push(x[offset]);
      for (let i = 0; i < size[axis]; i++) walk(axis + 1, offset + (begin[axis] + i) * strides[axis]);
    };
    walk(0, 0);
    return out;
  }

  it('slice, split and concat copy exactly the right elements, for every layout and dtype', async () => {
    await initBackend();
    const shape = [3, 5, 4, 6];
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, (_, i) => (i * 7919) % 1000);
    const before = tf.memory().numTensors;
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const data = dtype === 'bool' ? values.map((v) => v % 3 === 0 ? 1 : 0) : values;
      const x = tf.tensor(data, shape, dtype);
      for (const [begin, size] of [
        [[1, 0, 0, 0], [1, 5, 4, 6]], // one row: a single run
        [[0, 1, 0, 0], [3, 2, 4, 6]], // inner whole axes
        [[0, 0, 0, 2], [3, 5, 4, 3]], // columns: one run per row
        [[2, 4, 3, 5], [1, 1, 1, 1]], // one element
        [[0, 2, 1, 0], [3, 0, 2, 6]], // empty
      ]) {
        const s = tf.slice(x, begin, size);
        assert.deepEqual(s.shape, size);
        assert.deepEqual(Array.from(s.dataSync()), box(data, shape, begin, size), `${dtype} slice ${begin} ${size}`);
        s.dispose();
      }
      for (const axis of [0, 1, 3]) {
        const parts = tf.split(x, axis === 1 ? [2, 3] : shape[axis] === 3 ? 3 : [1, 5], axis);
        let start = 0;
        for (const p of parts) {
          const begin = shape.map((_, i) => (i === axis ? start : 0));
          assert.deepEqual(Array.from(p.dataSync()), box(data, shape, begin, p.shape), `${dtype} split axis ${axis}`);
          start += p.shape[axis];
        }
        // Concatenating the pieces back gives x again.
        const joined = tf.concat(parts, axis);
        assert.deepEqual(Array.from(joined.dataSync()), data, `${dtype} concat axis ${axis}`);
        tf.dispose([...parts, joined]);
      }
      x.dispose();
    }
    assert.equal(tf.memory().numTensors, before);
  });

  it('transpose (wasm SIMD kernel) moves every element to the right place, edges included, bit for bit', async () => {
    await initBackend();
    assert.equal(tf.getBackend(), 'wasm');
    const before = tf.memory().numTensors;
    // 4 x 4 blocks, 32 x 32 tiles, and the one-value edges (sizes not multiples of 4 or 32).
    for (const [shape, perm] of [
      [[1500, 1500], [1, 0]], [[37, 70], [1, 0]], [[1, 9], [1, 0]], [[2, 3, 66, 5], [0, 1, 3, 2]], [[3, 5, 7], [1, 0, 2]],
    ] as [number[], number[]][]) {
      const n = shape.reduce((a, b) => a * b, 1);
      // Float bit patterns including NaN payloads, -0 and subnormals must come through unchanged.
      const bits = Int32Array.from({ length: n }, (_, i) => (i * 2654435761) | 0);
      for (const dtype of ['float32', 'int32', 'bool'] as const) {
        const data = dtype === 'bool' ? Uint8Array.from(bits, (b) => b & 1) : dtype === 'int32' ? bits : new Float32Array(bits.buffer);
        const x = tf.tensor(data, shape, dtype);
        const y = tf.transpose(x, perm);
        const outShape = perm.map((p) => shape[p]);
        assert.deepEqual(y.shape, outShape);
        const got = y.dataSync();
        const gotBits = dtype === 'float32' ? new Int32Array(got.buffer, got.byteOffset, got.length) : got;
        const srcBits = dtype === 'float32' ? bits : data;
        const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
        const outStrides = outShape.map((_, i) => outShape.slice(i + 1).reduce((a, b) => a * b, 1));
        for (let o = 0; o < n; o++) {
          let src = 0;
          outShape.forEach((_, k) => (src += (Math.floor(o / outStrides[k]) % outShape[k]) * strides[perm[k]]));
          if (gotBits[o] !== srcBits[src]) assert.fail(`${dtype} ${JSON.stringify(shape)} perm ${perm}: element ${o} is ${gotBits[o]}, want ${srcBits[src]}`);
        }
        tf.dispose([x, y]);
      }
    }
    assert.equal(tf.memory().numTensors, before);
  });

  it('fused kernels: softmax backward bit-identical to p * (dp - r), sizes not multiples of 4', async () => {
    await initBackend();
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      for (const [rows, cols] of [[1500, 1500], [7, 13], [3, 5], [1, 4]]) {
        const p = tf.softmax(tf.randomNormal([rows, cols], 0, 3, 'float32', 11));
        const dp = tf.randomNormal([rows, cols], 0, 1, 'float32', 12);
        const r = tf.randomNormal([rows, 1], 0, 1, 'float32', 13);
        const [got] = fused('WhisperSoftmaxGrad', { p, dp, r })!;
        assert.deepEqual(Array.from(got.dataSync()), Array.from(tf.mul(p, tf.sub(dp, r)).dataSync()), `softmax grad ${rows}x${cols}`);
      }
      // Fewer than 4 values per row: the caller computes with tfjs operations instead.
      assert.equal(fused('WhisperSoftmaxGrad', { p: tf.ones([5, 3]), dp: tf.ones([5, 3]), r: tf.ones([5, 1]) }), undefined);
      assert.equal(fused('WhisperGelu', { x: tf.ones([3]) }), undefined);
    });
    assert.equal(tf.memory().numTensors, before);
  });
});
