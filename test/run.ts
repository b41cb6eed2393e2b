/**
 * The test command (`npm test`): runs every `test/**\/*.test.ts` with mocha and ends with the plain
 * line `N passed, N failed` that CI reads.
 *
 * Both CPU paths are tested: the run takes the default path (on a CPU, wasm with its products on
 * the oneDNN addon where it is built, src/backend/native.ts), then runs the model-level files
 * (MODEL_LEVEL) again in a child process with WHISPER_BACKEND=wasm, wasm's own kernels: the path
 * of every machine without the addon. Where the addon is not built, the first run was that path
 * already and the line says why the native one is not tested. WHISPER_BACKEND set for the run
 * (either path, or any backend) tests that one only.
 *
 *   npm test                 all tests
 *   npm test -- backend lora only files whose path contains one of these words
 *   TEST_GREP=parity npm test  only tests whose title matches
 *   WHISPER_BACKEND=wasm npm test -- model   one path only
 */
import Mocha from 'mocha';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** The files that run on both CPU paths: the model's numbers, its gradients, decoding and training (not notebooks, apps or data). */
const MODEL_LEVEL = /[\\/](model[^\\/]*|transcribe|decoder\.step|train|backend\.native)\.test\.ts$/;

function findTests(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'fixtures' ? [] : findTests(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  }).sort();
}

async function main() {
  const filters = process.argv.slice(2);
  const files = findTests(__dirname).filter((f) => !filters.length || filters.some((w) => f.includes(w)));
  const mocha = new Mocha({ reporter: 'spec', timeout: 600_000, grep: process.env.TEST_GREP });
  files.forEach((f) => mocha.addFile(f));
  await mocha.loadFilesAsync();
  let passed = 0;
  let failed = 0;
  const runner = mocha.run();
  runner.on('pass', () => passed++);
  runner.on('fail', () => failed++);
  runner.on('end', async () => {
    if (files.length === 0 || passed + failed === 0) failed++; // a run that checks nothing is a failure
    const counts = process.env.TEST_COUNTS_FILE;
    if (counts) {
      // The second path's child (below): its counts go to the parent, which prints the last line.
      fs.writeFileSync(counts, JSON.stringify({ passed, failed }));
      console.log(`\n(${process.env.WHISPER_BACKEND} path: ${passed} passed, ${failed} failed)`);
      process.exit(failed ? 1 : 0);
    }
    const second = await otherPath(files.filter((f) => MODEL_LEVEL.test(f)));
    console.log(`\n${passed + second.passed} passed, ${failed + second.failed} failed`);
    process.exit(failed + second.failed ? 1 : 0);
  });
}

/**
 * The model-level files again on wasm's own kernels, when this run took the native products;
 * nothing (with the reason) otherwise.
 */
async function otherPath(files: string[]): Promise<{ passed: number; failed: number }> {
  const none = { passed: 0, failed: 0 };
  if (!files.length || process.env.WHISPER_BACKEND) return none;
  const { initBackend } = await import('../src/backend');
  const report = await initBackend(); // what the tests above ran on (selected once per process)
  if (report.active !== 'wasm') {
    console.log(`\nThe model tests ran on ${report.active}; the CPU paths are tested where wasm is the backend (or with WHISPER_BACKEND=native / =wasm).`);
    return none;
  }
  if (report.native?.startsWith('native off')) {
    console.log(`\nThe model tests ran on wasm's own kernels; the native path is not tested here (${report.native}).`);
    return none;
  }
  console.log(`\nThe model tests again with WHISPER_BACKEND=wasm (wasm's own kernels; the run above used ${report.native}):`);
  const countsFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-test-')), 'counts.json');
  const tsx = path.join(__dirname, '..', 'node_modules', '.bin', 'tsx');
  spawnSync(tsx, [__filename, ...files], { stdio: 'inherit', env: { ...process.env, WHISPER_BACKEND: 'wasm', TEST_COUNTS_FILE: countsFile } });
  try {
    return JSON.parse(fs.readFileSync(countsFile, 'utf8'));
  } catch {
    console.log('the wasm run ended without its counts (crashed): counted as 1 failure');
    return { passed: 0, failed: 1 };
  } finally {
    fs.rmSync(path.dirname(countsFile), { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  console.log('\n0 passed, 1 failed');
  process.exit(1);
});
