import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as path from 'path';
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
    assert.ok(['tensorflow', 'wasm', 'cpu'].includes(r.active));
    if (r.active !== 'tensorflow') assert.match(r.skipped.tensorflow ?? '', /tfjs-node/);
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
    assert.match(out, /WHISPER_BACKEND=gpu9000 is not a backend; use one of tensorflow, wasm, cpu/);
  });
});
