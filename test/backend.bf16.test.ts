/**
 * bf16 products (setMatmulPrecision('bfloat16'), Seq2SeqTrainingArguments.bf16, transcribe --bf16):
 * where the native path runs on a CPU with AVX512_BF16 or AMX-BF16, the products round their
 * operands to bfloat16 and accumulate in float32 (equal to float64 sums of the rounded operands to
 * float32 rounding, not to the float32 path), LoRA training keeps its losses and gets its previous
 * precision back; anywhere else asking for bf16 throws, saying why. Each check runs in a process of
 * its own (test/helpers/bf16Run.ts): the precision is process-wide.
 */
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as path from 'path';
import { loadNativeAddon } from '../src/backend/native';

const ROOT = path.join(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

function run(mode: string, env: Record<string, string | undefined> = {}): any {
  const out = execFileSync(TSX, [path.join(ROOT, 'test', 'helpers', 'bf16Run.ts'), mode], {
    cwd: ROOT, env: { ...process.env, WHISPER_BACKEND: undefined, ...env }, encoding: 'utf8', stdio: 'pipe',
  });
  return JSON.parse(out.trim().split('\n').filter((l) => l.startsWith('{')).pop()!);
}

describe('bf16 products (setMatmulPrecision, Seq2SeqTrainingArguments.bf16)', function () {
  this.timeout(10 * 60_000);
  const { addon, error } = loadNativeAddon();
  /** Why bf16 cannot be tested here, or undefined. */
  const unavailable = !addon ? `the native addon is absent (${error})` : addon.info().bf16 === false
    ? `this CPU has no AVX512_BF16/AMX-BF16 (oneDNN ISA ${addon.info().isa})` : !addon.setPrecision ? 'the addon predates bf16 (rebuild it)' : undefined;

  it('products: bf16-rounded operands, float32 sums; not the float32 path; describeBackend says bf16; roughProducts is bf16 inside only', function () {
    if (unavailable) {
      console.log(`    skipped: ${unavailable}`);
      this.skip();
    }
    const r = run('products');
    assert.match(r.describe, /^backend: wasm \(\d+ threads?; products: native oneDNN [^\n]*, bf16\)/);
    assert.doesNotMatch(r.after, /bf16/);
    for (const [name, c] of Object.entries(r.cases) as [string, Record<string, number>][]) {
      // float32 path: float32 rounding of the exact sums (K = 384 or 240 terms).
      assert.ok(c.float32VsExact < 5e-6, `${name}: float32 ${c.float32VsExact}`);
      // bf16: the exact sums of the bf16-rounded operands, to float32 accumulation.
      assert.ok(c.bf16VsRounded < 5e-6, `${name}: bf16 vs sums of rounded operands ${c.bf16VsRounded}`);
      // ... which is bf16 rounding away from the float32 result (8 bits of mantissa: 2^-9 per operand).
      assert.ok(c.bf16VsExact > 3e-4 && c.bf16VsExact < 1e-2, `${name}: bf16 vs exact ${c.bf16VsExact}`);
      assert.ok(c.bf16VsFloat32 > 3e-4, `${name}: bf16 equals the float32 path (${c.bf16VsFloat32}): bf16 did not run`);
      // roughProducts (a draft model's encoder): bf16 inside, float32 after.
      assert.equal(c.roughVsBf16, 0, `${name}: roughProducts`);
      assert.equal(c.afterRoughVsFloat32, 0, `${name}: after roughProducts`);
    }
  });

  it('LoRA training with bf16: true: losses within 1e-2 of float32, bf16 during the run, the previous precision after (also after an error)', function () {
    if (unavailable) {
      console.log(`    skipped: ${unavailable}`);
      this.skip();
    }
    const { float32, bf16, failed } = run('train');
    assert.deepEqual(float32.during, ['float32', 'float32']);
    assert.deepEqual(bf16.during, ['bfloat16', 'bfloat16']);
    for (let i = 0; i < 2; i++) {
      assert.ok(Number.isFinite(bf16.losses[i]), `bf16 loss ${bf16.losses[i]}`);
      const rel = Math.abs(bf16.losses[i] - float32.losses[i]) / float32.losses[i];
      assert.ok(rel < 1e-2, `step ${i + 1}: bf16 ${bf16.losses[i]} vs float32 ${float32.losses[i]}`);
    }
    assert.notEqual(bf16.losses[0], float32.losses[0], 'the same first loss: bf16 did not run');
    assert.equal(bf16.after, 'float32');
    assert.equal(failed.error, 'a callback failed');
    assert.equal(failed.after, 'float32');
  });

  it('asking for bf16 where it cannot run throws with the reason (wasm kernels; a CPU without bf16), in training too; roughProducts runs as it is', function () {
    const wasm = run('refused', { WHISPER_BACKEND: 'wasm' });
    const why = /^Your setup doesn't support bf16 products: WHISPER_BACKEND=wasm runs wasm's own kernels, which are float32 only/;
    assert.match(wasm.set, why);
    assert.match(wasm.train, why);
    assert.equal(wasm.rough, 64, 'roughProducts runs the work as it is');
    assert.equal(wasm.after, 'float32');
    if (!addon) return;
    // oneDNN capped below avx512_core_bf16: the CPU check of the addon, on any CPU.
    const old = run('refused', { ONEDNN_MAX_CPU_ISA: 'AVX512_CORE_VNNI' });
    const cpu = /^Your setup doesn't support bf16 products: this CPU has no bf16 products \(oneDNN runs \w+ here; bf16 needs AVX512_BF16 or AMX-BF16\)/;
    assert.match(old.set, cpu);
    assert.match(old.train, cpu);
    assert.equal(old.after, 'float32');
  });
});
