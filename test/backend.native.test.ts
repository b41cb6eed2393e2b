/**
 * The native products (src/backend/native.ts, the oneDNN addon of native/): where the addon is
 * not built, the report says why and WHISPER_NATIVE=1 fails with that reason; where it is, its
 * products and gradients equal wasm's within float32 rounding on the model's shapes, and
 * whisper-tiny keeps the reference tokens. Each check runs in a process of its own
 * (test/helpers/nativeRun.ts): the kernel swap is once per process and must not reach other tests.
 */
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as path from 'path';
import { describeBackend, initBackend } from '../src/backend';
import { nativeAddonMissing } from '../src/backend/native';

const ROOT = path.join(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

function run(env: Record<string, string | undefined>, args: string[]): { ok: boolean; out: string } {
  try {
    const out = execFileSync(TSX, [path.join(ROOT, 'test', 'helpers', 'nativeRun.ts'), ...args], {
      cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', stdio: 'pipe',
    });
    return { ok: true, out };
  } catch (e: any) {
    return { ok: false, out: `${e.stdout}${e.stderr}` };
  }
}

/** The JSON line a helper printed last. */
const lastJson = (out: string) => JSON.parse(out.trim().split('\n').filter((l) => l.startsWith('{')).pop()!);

describe('native oneDNN products (WHISPER_NATIVE)', function () {
  this.timeout(20 * 60_000);
  const missing = nativeAddonMissing();

  it('describeBackend says whether the native products run, and why not', async function () {
    const r = await initBackend();
    if (r.active !== 'wasm') {
      if (process.env.WHISPER_NATIVE === '1') assert.match(r.native ?? '', /under the wasm backend only/);
      else assert.equal(r.native, undefined);
      this.skip();
    }
    if (process.env.WHISPER_NATIVE === '1') assert.match(describeBackend(r), /native oneDNN \d+\.\d+\.\d+ sgemm \(\d+ threads?\)/);
    else if (missing) assert.match(describeBackend(r), /native off: .*addon not built .*build-native\.sh/);
    else assert.match(describeBackend(r), /native off: WHISPER_NATIVE (unset|=0).*the addon is built/);
  });

  it('WHISPER_NATIVE=1 without the addon fails with the reason; any other value than 0/1 is refused; on another backend it is said', function () {
    const cpu = run({ WHISPER_NATIVE: '1', WHISPER_BACKEND: 'cpu' }, ['describe']);
    assert.ok(cpu.ok, cpu.out);
    assert.match(lastJson(cpu.out).describe, /backend: cpu.*\n\s+native off: the native products run under the wasm backend only, not cpu/);
    const bad = run({ WHISPER_NATIVE: 'yes', WHISPER_BACKEND: 'wasm' }, ['products']);
    assert.ok(!bad.ok);
    assert.match(bad.out, /WHISPER_NATIVE=yes must be 1/);
    if (!missing) return;
    console.log(`      ${missing}: checking only that WHISPER_NATIVE=1 explains it`);
    const { ok, out } = run({ WHISPER_NATIVE: '1', WHISPER_BACKEND: 'wasm' }, ['transcribe', '1']);
    assert.ok(!ok);
    assert.match(out, /WHISPER_NATIVE=1 was requested but the native products cannot start: addon not built/);
  });

  it('products and gradients equal wasm\'s within float32 rounding on the model\'s shapes', function () {
    if (missing) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
    const { ok, out } = run({ WHISPER_NATIVE: '0', WHISPER_BACKEND: 'wasm' }, ['products']);
    assert.ok(ok, out);
    const r = lastJson(out);
    assert.match(r.native, /native oneDNN/);
    // Sums of up to 1536 products in another order: a few units of float32 rounding (2^-23 ~ 1.2e-7)
    // relative to the largest value; a wrong layout or offset would be off by order 1.
    // 'exact:' cases (GELU) compute the same float operations in the same order: the same bits.
    for (const [name, d] of Object.entries(r.diffs as Record<string, number>)) assert.ok(name.startsWith('exact:') ? d === 0 : d < 1e-5, `${name}: ${d}`);
    assert.ok(Object.keys(r.diffs).length >= 26);
    assert.equal(r.leaked, r.afterWasm, 'the native path leaves no tensors behind');
  });

  it('whisper-tiny keeps the reference tokens on 4 clips with WHISPER_NATIVE=1', function () {
    if (missing) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
    const { ok, out } = run({ WHISPER_NATIVE: '1', WHISPER_BACKEND: 'wasm' }, ['transcribe', '4']);
    assert.ok(ok, out);
    const r = lastJson(out);
    assert.match(r.describe, /native oneDNN/);
    assert.equal(r.clips, 4);
    assert.deepEqual(r.mismatches, []);
  });

  it('LoRA training losses of the first steps equal the wasm path\'s to 5 digits', function () {
    if (missing) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
    const { ok, out } = run({ WHISPER_NATIVE: '0', WHISPER_BACKEND: 'wasm' }, ['train']);
    assert.ok(ok, out);
    const { losses } = lastJson(out) as { losses: { wasm: number[]; native: number[] } };
    assert.equal(losses.wasm.length, 3);
    assert.equal(losses.native.length, 3);
    // Step 1 is the base model's loss (LoRA's B starts at zero); steps 2-3 follow the updates.
    losses.wasm.forEach((l, i) => assert.ok(Math.abs(l - losses.native[i]) < 5e-6 * Math.max(1, l), `step ${i + 1}: wasm ${l}, native ${losses.native[i]}`));
    // The same in 2 data-parallel worker threads, each calling the addon at the same time.
    const w = run({ WHISPER_NATIVE: '1', WHISPER_BACKEND: 'wasm' }, ['train-workers']);
    assert.ok(w.ok, w.out);
    const workers = lastJson(w.out).losses as number[];
    assert.equal(workers.length, 3);
    losses.wasm.forEach((l, i) => assert.ok(Math.abs(l - workers[i]) < 5e-6 * Math.max(1, l), `step ${i + 1} in workers: wasm ${l}, native ${workers[i]}`));
  });
});
