/**
 * The tutorial chain, as a learner runs it (SMOKE=1): 03 prepares the data, 04 teaches LoRA, 05
 * trains an adapter and a full fine-tune on 03's data, 06 evaluates them against the base model,
 * 07 transcribes and serves with 05's adapter. Every cell runs twice in a row (re-runnable cells),
 * in a run folder of its own; a notebook whose input is missing says which notebook makes it.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { requireArtifact } from '../tools/notebook/session';
import { NotebookError, runNotebook, RunResult } from '../tools/notebook/runner';
import { PROJECT_ROOT } from '../tools/shared';

const nb = (name: string) => path.join(PROJECT_ROOT, 'notebooks', `${name}.ipynb`);

describe('notebook chain 03 -> 05 -> 06 -> 07 (SMOKE=1, every cell run twice)', function () {
  this.timeout(1_800_000);
  let runDir: string;
  let outDir: string;
  const results: Record<string, RunResult> = {};
  const run = async (name: string) => (results[name] = await runNotebook(nb(name), { env: { SMOKE: '1', HF_HUB_OFFLINE: '1', WHISPER_RUN_DIR: runDir }, outDir, twice: true }));
  const text = (name: string, r = 0) => results[name].runs[r].join('\n');
  const html = (name: string) => fs.readFileSync(results[name].html, 'utf8');
  // The same line in the first execution of every cell and in its re-run.
  const sameOnRerun = (name: string, re: RegExp) => {
    const a = re.exec(text(name, 0))?.[0];
    assert.ok(a, `${name}: ${re} not found`);
    assert.equal(re.exec(text(name, 1))?.[0], a, `${name}: the re-run of the cell printed another line`);
    return a;
  };

  before(() => {
    runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wf-chain-run-'));
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wf-chain-out-'));
  });
  after(() => {
    fs.rmSync(runDir, { recursive: true, force: true });
    fs.rmSync(outDir, { recursive: true, force: true });
    for (const [name, r] of Object.entries(results)) console.log(`      ${name}: ${r.seconds.toFixed(0)} s (cells ${r.cellSeconds.map((s) => s.reduce((a, b) => a + b, 0).toFixed(0)).join(' + ')} s)`);
  });

  it('05 run before 03 stops at its first data cell, naming the notebook that makes the data', async () => {
    await assert.rejects(run('05_train'), (e: unknown) => {
      assert.ok(e instanceof NotebookError, String(e));
      assert.match(e.error, /data\/train not found: it is written by notebooks\/03_preprocess\.ipynb; run that notebook first/);
      return true;
    });
    const saved = process.env.WHISPER_RUN_DIR;
    process.env.WHISPER_RUN_DIR = runDir;
    try {
      assert.throws(() => requireArtifact('adapter'), /adapter not found: it is written by notebooks\/05_train\.ipynb/);
    } finally {
      if (saved === undefined) delete process.env.WHISPER_RUN_DIR;
      else process.env.WHISPER_RUN_DIR = saved;
    }
  });

  it('03_preprocess: audio players, both normalizers on the same rows, heatmap, collated batch, data saved for 05', async () => {
    await run('03_preprocess');
    const page = html('03_preprocess');
    assert.match(page, /<audio controls/);
    assert.match(page, /"type":"heatmap"/);
    assert.match(page, /training: simple<\/th>[\s\S]*scoring: english \(WER only\)/);
    assert.match(page, /the first tracks<\/td><td[^>]*>[^<]*the 1st tracks/, 'training keeps words, scoring makes digits');
    assert.match(page, /&lt;\|startoftranscript\|&gt;&lt;\|en\|&gt;&lt;\|transcribe\|&gt;&lt;\|notimestamps\|&gt;/);
    assert.match(page, /\[4,80,3000\]/);
    assert.match(page, / -100/, 'label padding shown');
    assert.ok(results['03_preprocess'].runs[1].some((out) => /cache hit/.test(out)), 'the re-run reads the map cache');
    sameOnRerun('03_preprocess', /wrote \d+ training rows to .*/);
    assert.ok(fs.existsSync(path.join(runDir, 'data', 'train', 'rows.json')) && fs.existsSync(path.join(runDir, 'data', 'test', 'arrays.bin')));
  });

  it('04_lora: PEFT parameter line, adapter files, exact round trip, merge, no leak (cells re-runnable)', async () => {
    await run('04_lora');
    const out = text('04_lora');
    assert.match(out, /trainable params: 884,736 \|\| all params: 242,619,648 \|\| trainable%: 0\.3647/);
    assert.match(out, /all parameters of whisper-tiny: 37,760,640/);
    assert.match(out, /"peft_type": "LORA"/);
    assert.match(out, /max difference after save -> load: 0\b/);
    assert.match(text('04_lora', 1), /decoder-only\s+active/);
    assert.match(out, /tensors left: 0 /);
    assert.match(text('04_lora', 1), /tensors left: 0 /);
    assert.match(html('04_lora'), /base_model\.model\.model\.encoder\.layers\.0\.self_attn\.q_proj\.lora_A\.weight/);
  });

  it('05_train: LoRA and full fine-tuning on 03\'s data, live chart, lr curve, both saved; a re-run gives the same results', async () => {
    await run('05_train');
    const out = text('05_train');
    assert.match(out, /training normalizer 'simple'/);
    assert.match(out, /trainable params: 319,488 \|\| all params: 38,080,128 \|\| trainable%: 0\.8390/);
    const lora = sameOnRerun('05_train', /LoRA: WER [\d.]+ % -> [\d.]+ %/);
    const [, before, after] = /WER ([\d.]+) % -> ([\d.]+) %/.exec(lora)!.map(Number);
    assert.ok(after < before, lora);
    const full = sameOnRerun('05_train', /WER [\d.]+ % \(the base model, evaluated above\) -> [\d.]+ %/);
    assert.ok(Number(/-> ([\d.]+) %/.exec(full)![1]) < before, full);
    assert.match(out, /adapter_model\.safetensors: [\d,]+ bytes/);
    assert.match(out, /model\.safetensors: 151,061,616 bytes/);
    assert.match(out, /tensors left: 0/);
    // The monitor's display was overwritten in place: one output holding the final state.
    const nbJson = JSON.parse(fs.readFileSync(results['05_train'].ipynb, 'utf8'));
    const cell = nbJson.cells.find((c: { source: string[] }) => c.source.join('').includes('new TrainingMonitor'));
    const htmls = cell.outputs.filter((o: { data?: Record<string, unknown> }) => o.data?.['text/html']);
    assert.equal(htmls.length, 1, 'one live display, updated in place');
    assert.match([htmls[0].data['text/html']].flat().join(''), /step 4\/4/);
    assert.match(html('05_train'), /learning rate per step \(cosine, warmupRatio 0\.1\)/);
    for (const f of ['adapter/adapter_model.safetensors', 'full-model/model.safetensors', 'full-model/tokenizer.json', 'full-model/config.json']) {
      assert.ok(fs.existsSync(path.join(runDir, f)), f);
    }
  });

  it('06_evaluate: the WER lessons, then base vs 05\'s adapter and full fine-tune on the held-out speakers (WER differs)', async () => {
    await run('06_evaluate');
    const out = text('06_evaluate');
    assert.match(out, /REF: the quick brown fox jumps over the lazy dog \*+/);
    assert.match(out, /mean of clip WERs: 50\.0 %\s+corpus WER: 9\.1 %/);
    const table = /Reference-implementation transcripts[\s\S]*?<\/table>/.exec(html('06_evaluate'))?.[0] ?? '';
    assert.match(table, /none<\/td>[\s\S]*?98\.990<\/td>/);
    assert.match(table, /english<\/td>[\s\S]*?6\.350<\/td>/);
    const m = /identical transcripts: (\d+)\/2; gap ([\d.]+) points/.exec(out);
    assert.ok(m && Number(m[1]) >= 1, out);
    assert.match(html('06_evaluate'), /Most frequent substitutions/);
    const line = sameOnRerun('06_evaluate', /base: WER [\d.]+ %; base \+ LoRA \(05\): WER [\d.]+ %; full fine-tune \(05\): WER [\d.]+ %/);
    const [base, lora, full] = [...line.matchAll(/WER ([\d.]+) %/g)].map((x) => Number(x[1]));
    assert.notEqual(lora, base, `the adapter 05 trained changes the WER (${line})`);
    assert.ok(lora < base && full < base, line);
    assert.match(html('06_evaluate'), /FSDD held-out speakers \(4 clips\)/);
  });

  it('07_demo: transcribes, long-form, then 05\'s adapter on held-out clips, in the demo server and exported to whisper.cpp', async () => {
    await run('07_demo');
    const all = text('07_demo');
    assert.match(all, /ask not what your country can do for you/i);
    assert.match(all, /audio controls/);
    assert.match(all, /\[0\.00 -> [\d.]+\] /);
    const m = /WER long-form ([\d.]+)% vs clip by clip ([\d.]+)%/.exec(all);
    assert.ok(m && Number(m[1]) < 15 && Math.abs(Number(m[1]) - Number(m[2])) <= 5, m?.[0]);
    const adapter = sameOnRerun('07_demo', /with the adapter (\d+)\/(\d+) clips right; base (\d+)\/\d+/);
    const [, right, base] = /(\d+)\/\d+ clips right; base (\d+)/.exec(adapter)!.map(Number);
    assert.ok(right >= 1 && right >= base, adapter);
    assert.match(all, /demo running at http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(all, /demo, base \+ adapter: "[^"]+" for "\w+"/);
    assert.match(all, /notes\.txt: cannot decode audio/);
    const cpp = /whisper\.cpp with the merged adapter: (\d+)\/(\d+) transcripts the same as ours/.exec(all);
    assert.ok(cpp && cpp[1] === cpp[2], cpp?.[0] ?? 'no whisper.cpp line');
    const cells = results['07_demo'].runs[1];
    assert.match(cells[cells.length - 1], /demo stopped/);
  });
});
