/**
 * The webgpu backend (tfjs-backend-webgpu on Dawn, src/backend/webgpu.ts) against wasm, each in
 * its own process (test/helpers/backendRun.ts). Without a GPU the adapter is SwiftShader's
 * software Vulkan driver, which ships with Debian's Chromium: right, but about 0.1 GFLOP/s, so
 * these checks are small (a few minutes in all on 2 idle cores).
 */
import { strict as assert } from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { maxAbsDiff } from './helpers/close';

const ROOT = path.join(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Runs backendRun.ts `job` with WHISPER_BACKEND=`backend`; its JSON result. */
function backendRun(backend: 'wasm' | 'webgpu', job: string): Promise<any> {
  const env = { ...process.env, WHISPER_BACKEND: backend, WHISPER_WASM_THREADS: '1',
    VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? SWIFTSHADER_ICD };
  return new Promise((resolve, reject) => {
    execFile(TSX, [path.join(ROOT, 'test', 'helpers', 'backendRun.ts'), job], { cwd: ROOT, env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      if (err || !line.startsWith('{')) return reject(new Error(`${backend} ${job} failed (${err?.message ?? 'no result'}):\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
      resolve(JSON.parse(line));
    });
  });
}

describe('webgpu backend against wasm (SwiftShader when there is no GPU)', function () {
  this.timeout(30 * 60_000);

  before(function () {
    if (!process.env.VK_ICD_FILENAMES && !fs.existsSync(SWIFTSHADER_ICD)) {
      throw new Error(`No Vulkan driver for the webgpu tests: ${SWIFTSHADER_ICD} is missing ` +
        '(apt-get install chromium libvulkan1, or run bash scripts/setup.sh --test)');
    }
  });

  it('a small random Whisper: logits, one LoRA step\'s gradients, and two trainer steps (checkpoints, eval, saved adapter) within 1e-4 of wasm', async () => {
    const wasm = await backendRun('wasm', 'small');
    const gpu = await backendRun('webgpu', 'small');
    assert.match(gpu.backend, /^backend: webgpu/);
    const logits = maxAbsDiff(gpu.logits, wasm.logits);
    const grads = Object.keys(wasm.grads).map((k) => maxAbsDiff(gpu.grads[k], wasm.grads[k]));
    const adapter = Object.keys(wasm.trainer.adapter).map((k) => maxAbsDiff(gpu.trainer.adapter[k], wasm.trainer.adapter[k]));
    console.log(`      ${gpu.backend.split('\n')[0]}\n      max |webgpu - wasm|: logits ${logits.toExponential(2)}, ` +
      `gradients ${Math.max(...grads).toExponential(2)}, adapter after 2 steps ${Math.max(...adapter).toExponential(2)}`);
    assert.equal(Object.keys(gpu.grads).length, 64);
    assert.deepEqual(Object.keys(gpu.grads).sort(), Object.keys(wasm.grads).sort());
    assert.ok(logits <= 1e-4, `logits differ by ${logits}`);
    assert.ok(Math.abs(gpu.loss - wasm.loss) <= 1e-4, `loss ${gpu.loss} vs ${wasm.loss}`);
    assert.ok(Math.max(...grads) <= 1e-4, `gradients differ by ${Math.max(...grads)}`);
    assert.ok(grads.length === 64 && Object.values(wasm.grads).every((g) => (g as number[]).some((x) => x !== 0)), 'every gradient is non-zero');
    // The trainer: the same losses, a checkpoint per step, evaluation, and the saved adapter.
    assert.equal(gpu.trainer.losses.length, 2);
    gpu.trainer.losses.forEach((l: number, i: number) => assert.ok(Math.abs(l - wasm.trainer.losses[i]) <= 1e-4, `trainer loss ${i}`));
    assert.ok(Math.abs(gpu.trainer.eval.eval_loss - wasm.trainer.eval.eval_loss) <= 1e-4);
    assert.deepEqual(gpu.trainer.checkpoints, ['checkpoint-1', 'checkpoint-2']);
    assert.ok(Math.max(...adapter) <= 1e-4, `saved adapters differ by ${Math.max(...adapter)}`);
  });

  it('whisper-tiny transcribes jfk in fast mode with the same text as wasm', async () => {
    const wasm = await backendRun('wasm', 'jfk');
    const gpu = await backendRun('webgpu', 'jfk');
    console.log(`      webgpu (${gpu.seconds.toFixed(0)} s): ${gpu.text}`);
    assert.equal(gpu.text, wasm.text);
    assert.deepEqual(gpu.tokens, wasm.tokens);
    assert.equal(wasm.text.trim(), 'And so my fellow Americans ask not what your country can do for you, ask what you can do for your country.');
  });
});
