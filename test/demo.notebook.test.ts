/** notebooks/07_demo.ipynb runs headlessly (SMOKE=1) and shows what it promises. */
import { strict as assert } from 'assert';
import * as path from 'path';
import { runNotebook, RunResult } from '../src/notebook/runner';
import { PROJECT_ROOT } from '../src/shared';

const OUT = path.join(PROJECT_ROOT, 'out', 'test', 'notebooks');

describe('07_demo notebook (SMOKE=1)', () => {
  let result: RunResult;
  before(async function () {
    // About 1.5 min on an idle 2-core machine; allow for a machine shared with other jobs.
    this.timeout(1_800_000);
    result = await runNotebook(path.join(PROJECT_ROOT, 'notebooks', '07_demo.ipynb'), { outDir: OUT, env: { SMOKE: '1' } });
  });

  it('transcribes the samples, compares beams, runs long-form, and starts/stops the demo', () => {
    const cells = result.runs[0];
    const all = cells.join('\n');
    assert.match(all, /ask not what your country can do for you/i);
    assert.match(all, /audio controls/); // the players
    assert.match(all, /numBeams/);
    assert.match(all, /\[0\.00 -> [\d.]+\] /); // long-form segments stream out as they are found
    assert.match(all, /long-form \(30 s windows, timestamps\)/);
    assert.match(all, /demo running at http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(all, /notes\.txt: cannot decode audio/);
    assert.match(all, /notes\.txt -> HTTP 400/);
    assert.match(cells[cells.length - 1], /demo stopped/);
  });

  it('compares the exact and the fast mode (trimPadding) on the samples', () => {
    const all = result.runs[0].join('\n');
    assert.match(all, /exact vs fast mode \(trimPadding\)/);
    const m = /fast mode: (\d+)\/(\d+) transcripts unchanged/.exec(all);
    assert.ok(m, 'the fast-mode summary line is missing');
    // Not every transcript stays the same (43/100 LibriSpeech transcripts do, BENCHMARKS.md), but jfk does.
    assert.ok(Number(m[2]) >= 2 && Number(m[1]) >= 1, m[0]);
  });

  it('long-form WER is in line with clip by clip', () => {
    const m = /WER long-form ([\d.]+)% vs clip by clip ([\d.]+)%/.exec(result.runs[0].join('\n'));
    assert.ok(m, 'the WER line is missing');
    // SMOKE uses 40 s (about 100 words: one word is 1 point), so the bound is looser here than the
    // 2 points that test/longform.test.ts checks on the 2-minute file.
    assert.ok(Number(m[1]) < 15 && Math.abs(Number(m[1]) - Number(m[2])) <= 5, m[0]);
  });
});
