/**
 * The native products (src/backend/native.ts, the oneDNN addon of native/): on by default where
 * the addon loads; where it is not built (or does not load) the report says why, wasm's own
 * kernels run, and WHISPER_BACKEND=native fails with that reason; WHISPER_BACKEND=wasm keeps
 * wasm's kernels beside a built addon. Where it is built, its products and gradients equal wasm's
 * within float32 rounding on the model's shapes, and whisper-tiny keeps the reference tokens.
 * Each check runs in a process of its own (test/helpers/nativeRun.ts): the kernel swap is once
 * per process and must not reach other tests.
 */
import { strict as assert } from 'assert';
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeBackend, initBackend } from '../src/backend';
import { nativeAddonMissing } from '../src/backend/native';

const ROOT = path.join(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

function run(env: Record<string, string | undefined>, args: string[]): { ok: boolean; out: string } {
  try {
    const out = execFileSync(TSX, [path.join(ROOT, 'test', 'helpers', 'nativeRun.ts'), ...args], {
      cwd: ROOT, env: { ...process.env, WHISPER_BACKEND: undefined, ...env }, encoding: 'utf8', stdio: 'pipe',
    });
    return { ok: true, out };
  } catch (e: any) {
    return { ok: false, out: `${e.stdout}${e.stderr}` };
  }
}

/** The JSON line a helper printed last. */
const lastJson = (out: string) => JSON.parse(out.trim().split('\n').filter((l) => l.startsWith('{')).pop()!);

describe('native oneDNN products (WHISPER_BACKEND=native|wasm)', function () {
  this.timeout(20 * 60_000);
  const missing = nativeAddonMissing();

  it('describeBackend says whether the native products run, and why not', async function () {
    const r = await initBackend();
    if (r.active !== 'wasm') {
      assert.equal(r.native, undefined);
      this.skip();
    }
    const text = describeBackend(r);
    if (process.env.WHISPER_BACKEND === 'wasm') assert.match(text, /\(forced by WHISPER_BACKEND=wasm\)\n\s+native off: WHISPER_BACKEND=wasm runs wasm's own kernels/);
    else if (missing) assert.match(text, /\n\s+native off: addon not built .*build-native\.sh/);
    else assert.match(text, /^backend: wasm \(\d+ threads?; products: native oneDNN \d+\.\d+\.\d+ sgemm \(\d+ threads?\)( \+ [a-z -]+)?\)/);
  });

  it('without the addon (or with one that does not load) wasm runs with the reason, WHISPER_BACKEND=native fails with it; WHISPER_NATIVE is refused', function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'native-test-'));
    try {
      const absent = { WHISPER_NATIVE_ADDON: path.join(dir, 'absent.node') };
      const auto = run(absent, ['describe']);
      assert.ok(auto.ok, auto.out);
      assert.match(lastJson(auto.out).describe, /^backend: wasm \(\d+ threads?\)\n\s+native off: addon not built \(.*absent\.node missing; bash scripts\/build-native\.sh needs g\+\+ and libdnnl-dev\)/);
      const forced = run({ ...absent, WHISPER_BACKEND: 'native' }, ['describe']);
      assert.ok(!forced.ok);
      assert.match(forced.out, /WHISPER_BACKEND=native was requested but cannot start: the native products cannot start: addon not built/);
      // A file that is no shared library (a half-written build, a library of another machine).
      fs.writeFileSync(path.join(dir, 'broken.node'), 'not an ELF file');
      const broken = { WHISPER_NATIVE_ADDON: path.join(dir, 'broken.node') };
      const autoBroken = run(broken, ['describe']);
      assert.ok(autoBroken.ok, autoBroken.out);
      assert.match(lastJson(autoBroken.out).describe, /\n\s+native off: addon did not load: .*broken\.node/);
      const forcedBroken = run({ ...broken, WHISPER_BACKEND: 'native' }, ['describe']);
      assert.ok(!forcedBroken.ok);
      assert.match(forcedBroken.out, /WHISPER_BACKEND=native was requested but cannot start: the native products cannot start: addon did not load/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const wasm = run({ WHISPER_BACKEND: 'wasm' }, ['describe']);
    assert.ok(wasm.ok, wasm.out);
    assert.match(lastJson(wasm.out).describe, /^backend: wasm \(\d+ threads?\) \(forced by WHISPER_BACKEND=wasm\)\n\s+native off: WHISPER_BACKEND=wasm runs wasm's own kernels; /);
    const cpu = run({ WHISPER_BACKEND: 'cpu' }, ['describe']);
    assert.ok(cpu.ok, cpu.out);
    assert.doesNotMatch(lastJson(cpu.out).describe, /native/);
    const old = run({ WHISPER_NATIVE: '1' }, ['describe']);
    assert.ok(!old.ok);
    assert.match(old.out, /WHISPER_NATIVE is no longer read: .*WHISPER_BACKEND=native requires them, WHISPER_BACKEND=wasm runs wasm's own kernels/);
    if (missing) {
      console.log(`      ${missing}: WHISPER_BACKEND=native must explain it`);
      const { ok, out } = run({ WHISPER_BACKEND: 'native' }, ['describe']);
      assert.ok(!ok);
      assert.match(out, /WHISPER_BACKEND=native was requested but cannot start: the native products cannot start: addon not built/);
    }
  });

  it('products and gradients equal wasm\'s within float32 rounding on the model\'s shapes', function () {
    if (missing) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
    const { ok, out } = run({ WHISPER_BACKEND: 'wasm' }, ['products']);
    assert.ok(ok, out);
    const r = lastJson(out);
    assert.match(r.native, /native oneDNN/);
    // Sums of up to 1536 products in another order: a few units of float32 rounding (2^-23 ~ 1.2e-7)
    // relative to the largest value; a wrong layout or offset would be off by order 1.
    // 'exact:' cases (GELU) compute the same float operations in the same order: the same bits.
    for (const [name, d] of Object.entries(r.diffs as Record<string, number>)) assert.ok(name.startsWith('exact:') ? d === 0 : d < 1e-5, `${name}: ${d}`);
    // A generation step's Linears and attention run the wasm kernels' sums in the same order: equal
    // bits, also a whole decoder step in one addon call (native/step.cc).
    const step = Object.entries(r.diffs as Record<string, number>).filter(([name]) => name.startsWith('step '));
    assert.equal(step.length, 22);
    for (const [name, d] of step) assert.equal(d, 0, name);
    assert.ok(Object.keys(r.diffs).length >= 36);
    assert.equal(r.leaked, r.afterWasm, 'the native path leaves no tensors behind');
    assert.deepEqual(r.refused, ['whisper_dnnl.decoderStep: the plan is shorter than its header',
      'whisper_dnnl.decoderStep: an operand reaches outside the heap']);
    assert.equal(r.lseSame, true, "the decoding loop's log-sum-exp is the same float64 value in the addon");
    // roughProducts (a speculative draft's steps): int8 weights with a scale per row, within 5 % of
    // the largest logit on random inputs (3 % measured; a draft's acceptance stays as with float16)
    // and not the float path; the float path's bits unchanged after it.
    if (r.rough.int8) assert.ok(r.rough.maxRel > 0 && r.rough.maxRel < 0.05, JSON.stringify(r.rough));
    else assert.equal(r.rough.maxRel, 0, 'without AVX-512 roughProducts runs the float path');
    assert.equal(r.rough.afterSame, true);
  });

  it('signals during oneDNN\'s products leave the heap intact (oneDNN 2.6 runs its GEMM kernels with rsp in the heap)', async function () {
    if (missing) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
    // Without the addon's held signals, this child aborted within a second ("corrupted size vs.
    // prev_size"): a profiler's SIGPROF or a child process's SIGCHLD does the same to a user's run.
    // Node itself (tsx's wrapper process would take the signals).
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test', 'helpers', 'nativeRun.ts'), 'signals', '3'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let storm: NodeJS.Timeout | undefined;
    child.stderr.on('data', (b) => (out += b));
    child.stdout.on('data', (b) => {
      out += b;
      if (!storm && out.includes('ready')) storm = setInterval(() => { for (let i = 0; i < 50; i++) child.kill('SIGUSR2'); }, 1);
      if (out.includes('"same"')) clearInterval(storm);
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearInterval(storm);
    assert.equal(code, 0, out);
    const r = lastJson(out);
    assert.ok(r.signals > 1000 && r.calls > 10, out);
    assert.equal(r.same, true, 'every call gave the first call\'s result');
  });

  it('whisper-tiny keeps the reference tokens on 4 clips with WHISPER_BACKEND=native', function () {
    if (missing) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
    const { ok, out } = run({ WHISPER_BACKEND: 'native' }, ['transcribe', '4']);
    assert.ok(ok, out);
    const r = lastJson(out);
    assert.match(r.describe, /native oneDNN.*\(forced by WHISPER_BACKEND=native\)/);
    assert.equal(r.clips, 4);
    assert.deepEqual(r.mismatches, []);
  });

  it('LoRA training losses of the first steps equal the wasm path\'s to 5 digits', function () {
    if (missing) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
    const { ok, out } = run({ WHISPER_BACKEND: 'wasm' }, ['train']);
    assert.ok(ok, out);
    const { losses } = lastJson(out) as { losses: { wasm: number[]; native: number[] } };
    assert.equal(losses.wasm.length, 3);
    assert.equal(losses.native.length, 3);
    // Step 1 is the base model's loss (LoRA's B starts at zero); steps 2-3 follow the updates.
    losses.wasm.forEach((l, i) => assert.ok(Math.abs(l - losses.native[i]) < 5e-6 * Math.max(1, l), `step ${i + 1}: wasm ${l}, native ${losses.native[i]}`));
    // The same in 2 data-parallel worker threads, each calling the addon at the same time.
    const w = run({ WHISPER_BACKEND: 'native' }, ['train-workers']);
    assert.ok(w.ok, w.out);
    const workers = lastJson(w.out).losses as number[];
    assert.equal(workers.length, 3);
    losses.wasm.forEach((l, i) => assert.ok(Math.abs(l - workers[i]) < 5e-6 * Math.max(1, l), `step ${i + 1} in workers: wasm ${l}, native ${workers[i]}`));
  });
});
