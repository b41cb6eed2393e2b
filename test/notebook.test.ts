import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { runNotebook, NotebookError, RunResult } from '../tools/notebook/runner';
import { PROJECT_ROOT } from '../tools/shared';
import { launchChromium } from './helpers/browser';

const OUT = path.join(PROJECT_ROOT, 'out', 'test', 'notebooks');

describe('notebook runner', () => {
  it('reports the failing cell with its index, source and error', async () => {
    await assert.rejects(runNotebook(path.join(__dirname, 'fixtures', 'failing.ipynb'), { outDir: OUT }), (e: unknown) => {
      assert.ok(e instanceof NotebookError, String(e));
      assert.equal(e.cell, 2);
      assert.match(e.source, /deliberate failure in cell 2/);
      assert.match(e.error, /deliberate failure in cell 2/);
      assert.match(e.message, /failing\.ipynb: cell 2 failed/);
      return true;
    });
  });

  it('reports a TypeScript type error (the cell never runs) as a failure of that cell', async () => {
    await assert.rejects(runNotebook(path.join(__dirname, 'fixtures', 'type-error.ipynb'), { outDir: OUT }), (e: unknown) => {
      assert.ok(e instanceof NotebookError, String(e));
      assert.equal(e.cell, 1);
      assert.match(e.error, /not assignable to type 'number'/);
      return true;
    });
  });
});

describe('00_setup notebook', () => {
  let result: RunResult;
  before(async () => {
    result = await runNotebook(path.join(PROJECT_ROOT, 'notebooks', '00_setup.ipynb'), { outDir: OUT, twice: true });
  });

  it('runs twice in one kernel with the same outputs and no tensor growth', () => {
    const [first, second] = result.runs;
    assert.equal(first.length, second.length);
    assert.match(first[0], /backend: (tensorflow|wasm|cpu)/);
    assert.equal(second[0], first[0]);
    assert.match(first[1], /y = \[ 1\.5, 1\.5 \]/);
    // The tensor cell prints tf.memory().numTensors: the same after the second run means no leak.
    const count = (s: string) => Number(/tensors alive: (\d+)/.exec(s)?.[1]);
    assert.equal(count(second[1]), count(first[1]));
    assert.equal(second[2], first[2]); // the table
    assert.match(second[3], /plotly-figure/);
  });

  it('writes the executed .ipynb and .html', () => {
    const nb = JSON.parse(fs.readFileSync(result.ipynb, 'utf8'));
    const outputs = nb.cells.filter((c: any) => c.cell_type === 'code').map((c: any) => c.outputs.length);
    assert.ok(outputs.every((n: number) => n > 0), `every code cell has output: ${outputs}`);
    assert.match(fs.readFileSync(result.html, 'utf8'), /Whisper model sizes/);
  });

  it('shows a rendered plotly chart in headless Chromium', async function () {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto('file://' + result.html);
      await page.waitForSelector('.plotly-figure svg.main-svg', { timeout: 30_000 });
      const bars = await page.$$eval('.plotly-figure .bars path', (els) => els.length);
      assert.ok(bars >= 5, `expected 5 bars drawn in the chart, found ${bars}`);
      await page.screenshot({ path: path.join(OUT, '00_setup.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
