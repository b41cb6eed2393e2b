/**
 * The test command (`npm test`): runs every `test/**\/*.test.ts` with mocha and ends with the plain
 * line `N passed, N failed` that CI reads.
 *
 *   npm test                 all tests
 *   npm test -- backend lora only files whose path contains one of these words
 *   TEST_GREP=parity npm test  only tests whose title matches
 */
import Mocha from 'mocha';
import * as fs from 'fs';
import * as path from 'path';

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
  runner.on('end', () => {
    if (files.length === 0 || passed + failed === 0) failed++; // a run that checks nothing is a failure
    console.log(`\n${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  });
}

main().catch((e) => {
  console.error(e);
  console.log('\n0 passed, 1 failed');
  process.exit(1);
});
