/**
 * Notebooks 01-02 run headlessly (SMOKE=1: a few rows), every cell twice in the same kernel to
 * prove re-runnability, and their HTML holds the promised outputs.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runNotebook, RunResult } from '../tools/notebook/runner';
import { PROJECT_ROOT } from '../tools/shared';

const nb = (name: string) => path.join(PROJECT_ROOT, 'notebooks', name);

describe('data notebooks 01-02 (SMOKE=1, each cell run twice)', function () {
  this.timeout(600_000);
  let outDir: string;
  before(() => (outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wf-nb-data-'))));
  after(() => fs.rmSync(outDir, { recursive: true, force: true }));
  const run = (name: string): Promise<RunResult> => runNotebook(nb(name), { env: { SMOKE: '1', HF_HUB_OFFLINE: '1' }, outDir, twice: true });

  it('01_load_dataset: tables, an audio player, the bad-row report; identical outputs when re-run', async () => {
    const r = await run('01_load_dataset.ipynb');
    const html = fs.readFileSync(r.html, 'utf8');
    assert.match(html, /<audio controls/);
    assert.match(html, /train: 150 rows, columns audio, text, speaker_id, duration/);
    assert.match(html, /my_data\.csv row 3 \(line 4\)|does_not_exist\.wav/);
    assert.match(html, /audio file not found/);
    assert.match(html, /too many columns: expected 3 \(wav, sentence, speaker\), found 4/);
    assert.match(html, /transcript &#x27;sentence&#x27; is empty|transcript &apos;sentence&apos; is empty|transcript 'sentence' is empty/);
    assert.equal(r.runs.length, 2);
    assert.deepEqual(r.runs[1], r.runs[0], 'the re-run of every cell gives the same outputs');
  });

  it('02_explore_durations: side-by-side plotly histograms and summary tables', async () => {
    const r = await run('02_explore_durations.ipynb');
    const html = fs.readFileSync(r.html, 'utf8');
    assert.match(html, /class="plotly-figure"/);
    assert.match(html, /"matches":"y"/);
    assert.match(html, /librispeech-mini: duration per split/);
    assert.match(html, /<audio controls/);
    assert.match(html, /speakers in train: 7, in test: 6, in both: 0/);
  });
});
