/**
 * The article notebooks 10-14 run headlessly (SMOKE=1), every cell twice in one kernel, and show
 * what they promise: the article's steps, the article-vs-ours table, the same results when re-run.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { runNotebook, RunResult } from '../src/notebook/runner';
import { PROJECT_ROOT } from '../src/shared';

const OUT = path.join(PROJECT_ROOT, 'out', 'test', 'notebooks');

function run(name: string): Promise<RunResult> {
  return runNotebook(path.join(PROJECT_ROOT, 'notebooks', `${name}.ipynb`), { outDir: OUT, env: { SMOKE: '1' }, twice: true });
}

/** The visible text of the executed notebook's outputs (HTML tables flattened to "a | b | c"). */
function outputText(r: RunResult): string {
  const html = fs.readFileSync(r.html, 'utf8');
  return html.replace(/<script[\s\S]*?<\/script>/g, '').replace(/<\/t[dh]>/g, ' | ').replace(/<\/tr>/g, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&#(x?)([0-9a-f]+);/gi, (_m, x: string, n: string) => String.fromCodePoint(parseInt(n, x ? 16 : 10)))
    .replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** A table row's cells by its first cell, e.g. row(text, 'whisper-tiny (base)'). */
function row(text: string, first: string): string[] {
  const line = text.split('\n').find((l) => l.trim().startsWith(`${first} |`));
  assert.ok(line, `no table row starting with "${first}"`);
  return line.split('|').map((c) => c.trim());
}

describe('article notebooks 10-14 (SMOKE=1, each cell run twice)', function () {
  this.timeout(1_200_000);

  it('10_vietnamese: raw vs normalized WER, two adapters, the article table; same results when re-run', async () => {
    const r = await run('10_vietnamese');
    const text = outputText(r);
    assert.match(text, /article 000 vs this notebook/);
    assert.match(text, /0\.89 \(89 %\)/);
    assert.match(text, /2024 \| hai nghìn không trăm hai mươi tư/);
    assert.match(text, /Năm 2024, giá tăng 3,5%! \| năm 2024 giá tăng 3 5 \| năm hai nghìn không trăm hai mươi tư giá tăng ba phẩy năm phần trăm/);
    // The base model's transcripts are OpenAI's reference implementation's.
    const m = /identical to OpenAI's reference implementation: (\d+)\/(\d+) transcripts/.exec(text);
    assert.ok(m && m[1] === m[2], m?.[0]);
    const base = row(text, 'whisper-tiny (base)').slice(1, 4).map(Number);
    assert.ok(base[0] > base[2], `raw WER ${base[0]} should exceed the normalized ${base[2]}`);
    assert.ok(row(text, '+ LoRA on normalized targets').length >= 4);
    for (const name of ['adapter-raw', 'adapter-normalized']) {
      assert.ok(fs.existsSync(path.join(PROJECT_ROOT, 'out', 'run', '10_vietnamese-smoke', name, 'adapter_model.safetensors')), name);
    }
    const [first, second] = r.runs;
    const scores = (cells: string[]) => cells.filter((c) => /corpus WER on the test clips/.test(c));
    assert.deepEqual(scores(second), scores(first), 'the comparison table is the same when every cell runs again');
    for (const cells of r.runs) assert.match(cells.join('\n'), /tensors left: 0 /);
  });

  it('14_french_telephone: telephone audio, 8-bit base, the article LoRA line, forced prompt, VAD, demo with the adapter', async () => {
    const r = await run('14_french_telephone');
    const text = outputText(r);
    assert.match(text, /article 004 vs this notebook/);
    assert.match(text, /whisper-small: trainable params: 884,736 \|\| all params: 242,619,648 \|\| trainable%: 0\.3647/);
    assert.match(text, /trainable params: 147,456 \|\| all params: 37,908,096 \|\| trainable%: 0\.3890/);
    assert.match(text, /in float32 -> [\d.]+ MB in int8/);
    assert.match(text, /labels\[:4\] = <\|startoftranscript\|><\|fr\|><\|transcribe\|><\|notimestamps\|>; .* starts from the same 4 tokens: true/);
    assert.match(text, /"r":8,"lora_alpha":32,"lora_dropout":0\.1,"target_modules":\["q_proj","v_proj"\],"peft_type":"LORA"/);
    assert.match(text, /1 s windows \(S = speech, · = silent\): ·+S+·+/);
    assert.match(text, /5 s of line noise \| .* \| \(skipped: silent, nothing transcribed\)/);
    assert.match(text, /base \| 200 \| /);
    assert.match(text, /adapter \| 200 \| /);
    assert.ok(row(text, 'whisper-tiny 8-bit + LoRA, telephone audio').length >= 4);
    assert.ok(fs.existsSync(path.join(PROJECT_ROOT, 'out', 'run', '14_french_telephone-smoke', 'adapter', 'adapter_model.safetensors')));
    const table = (cells: string[]) => cells.filter((c) => /prompt forced, BasicTextNormalizer on both sides/.test(c));
    assert.deepEqual(table(r.runs[1]), table(r.runs[0]), 'the same WERs when every cell runs again');
    for (const cells of r.runs) assert.match(cells.join('\n'), /tensors left: 0 /);
  });
});
