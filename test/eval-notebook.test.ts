import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { runNotebook, RunResult } from '../src/notebook/runner';
import { PROJECT_ROOT } from '../src/shared';

const OUT = path.join(PROJECT_ROOT, 'out', 'test', 'notebooks');

describe('06_evaluate notebook (SMOKE=1: 8 LibriSpeech clips, 4 FSDD clips)', () => {
  let result: RunResult;
  before(async function () {
    this.timeout(1_800_000); // about 2-3 min alone; much longer when the 2 cores are shared
    result = await runNotebook(path.join(PROJECT_ROOT, 'notebooks', '06_evaluate.ipynb'), { outDir: OUT, env: { SMOKE: '1' } });
  });

  it('teaches S/D/I, corpus vs mean WER and the normalization lesson with the README numbers', () => {
    const out = result.runs[0].join('\n');
    assert.match(out, /REF: the quick brown fox jumps over the lazy dog \*+/);
    assert.match(out, /mean of clip WERs: 50\.0 %\s+corpus WER: 9\.1 %/);
    // normalizers table on the stored reference transcripts (an HTML output, checked in the
    // exported page since cell texts keep only the start of long HTML): raw 98.99, english 6.35
    const table = /Reference-implementation transcripts[\s\S]*?<\/table>/.exec(fs.readFileSync(result.html, 'utf8'))?.[0] ?? '';
    assert.match(table, /none<\/td>[\s\S]*?98\.990<\/td>/);
    assert.match(table, /english<\/td>[\s\S]*?6\.350<\/td>/);
    assert.match(out, /normalized: "northanger abbey"  vs  "northanger abby"/);
  });

  it('evaluates our model on 8 clips, compares with the reference hypotheses, saves CSV/JSON', () => {
    const out = result.runs[0].join('\n');
    assert.match(out, /8\/8 clips/);
    const m = /identical transcripts: (\d+)\/8; gap ([\d.]+) points/.exec(out);
    assert.ok(m, out);
    assert.ok(Number(m[1]) >= 7, `identical transcripts ${m[1]}/8`);
    assert.ok(Number(m[2]) <= 2, `gap ${m[2]}`);
    assert.ok(fs.existsSync(path.join(PROJECT_ROOT, 'out', '06_evaluate', 'librispeech-whisper-tiny.csv')));
  });

  it('renders error-analysis tables, charts and the base vs adapter comparison', () => {
    const html = fs.readFileSync(result.html, 'utf8');
    assert.match(html, /Most frequent substitutions/);
    assert.match(html, /WER by speaker/);
    assert.match(html, /WER by clip duration/);
    assert.match(html, /FSDD held-out speakers \(4 clips\)/);
    assert.match(html, /hyp base/);
  });
});
