/**
 * The article notebooks 10-14 run headlessly (SMOKE=1), every cell twice in one kernel, and show
 * what they promise: the article's steps, the article-vs-ours table, the same results when re-run.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { runNotebook, RunResult } from '../tools/notebook/runner';
import { PROJECT_ROOT } from '../tools/shared';

const OUT = path.join(PROJECT_ROOT, 'out', 'test', 'notebooks');

function run(name: string): Promise<RunResult> {
  return runNotebook(path.join(PROJECT_ROOT, 'notebooks', `${name}.ipynb`), { outDir: OUT, env: { SMOKE: '1', HF_HUB_OFFLINE: '1' }, twice: true });
}

/** The visible text of the executed notebook's outputs (HTML tables flattened to "a | b | c"). */
function outputText(r: RunResult): string {
  const html = fs.readFileSync(r.html, 'utf8');
  return html.replace(/<script[\s\S]*?<\/script>/g, '').replace(/<\/t[dh]>/g, ' | ').replace(/<\/tr>/g, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&#(x?)([0-9a-f]+);/gi, (_m, x: string, n: string) => String.fromCodePoint(parseInt(n, x ? 16 : 10)))
    .replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Cell outputs of one run that match `pattern`, with the random ids of plotly figures blanked. */
function outputs(cells: string[], pattern: RegExp): string[] {
  return cells.filter((c) => pattern.test(c)).map((c) => c.replace(/plotly-[\w-]+/g, 'plotly'));
}

/** A table row's cells by its first cell, e.g. row(text, 'whisper-tiny (base)'). */
function row(text: string, first: string): string[] {
  const line = text.split('\n').find((l) => l.trim().startsWith(`${first} |`));
  assert.ok(line, `no table row starting with "${first}"`);
  return line.split('|').map((c) => c.trim());
}

/** Both runs of every cell left no tensors, and the outputs matching `pattern` are the same in both. */
function assertRerunsAlike(r: RunResult, pattern?: RegExp, what = 'outputs'): void {
  if (pattern) assert.deepEqual(outputs(r.runs[1], pattern), outputs(r.runs[0], pattern), `${what} when every cell runs again`);
  for (const cells of r.runs) assert.match(cells.join('\n'), /tensors left: 0 /);
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
    // The article's own normalizer, as written: digits deleted, ỳ ỷ ỹ ỵ missing from its letter list.
    assert.match(text, /Tôi có 100 con gà\. \| tôi có 100 con gà \| tôi có một trăm con gà \| tôi có con gà \|/);
    assert.match(text, /\| anh ấy là k sư chị k cũng vậy \|/);
    // The base model's transcripts are OpenAI's reference implementation's.
    const m = /identical to OpenAI's reference implementation: (\d+)\/(\d+) transcripts/.exec(text);
    assert.ok(m && m[1] === m[2], m?.[0]);
    const base = row(text, 'whisper-tiny (base)').slice(1, 4).map(Number);
    assert.ok(base[0] > base[2], `raw WER ${base[0]} should exceed the normalized ${base[2]}`);
    assert.ok(row(text, '+ LoRA on normalized targets').length >= 4);
    for (const name of ['adapter-raw', 'adapter-normalized']) {
      assert.ok(fs.existsSync(path.join(PROJECT_ROOT, 'out', 'run', '10_vietnamese-smoke', name, 'adapter_model.safetensors')), name);
    }
    const scores = /corpus WER on the test clips/;
    assertRerunsAlike(r, scores, 'the comparison table is the same');
  });

  it('11_medical: full fine-tuning of the decoder, S/D/I on real rows, HF checkpoint served by the demo', async () => {
    const r = await run('11_medical');
    const text = outputText(r);
    assert.match(text, /article 001 vs this notebook/);
    assert.match(text, /yashtiwari\/PaulMooney-Medical-ASR-Data/);
    // the article's Hub dataset, offline: the shared copy stands in; the card is written, nothing uploaded
    assert.match(text, /yashtiwari\/PaulMooney-Medical-ASR-Data: Hub not used \(HF_HUB_OFFLINE is set\); using the shared local copy/);
    assert.match(text, /model card written to \S+README\.md; set HF_TOKEN/);
    assert.match(text, /loadCsvDataset\('overview-of-recordings\.csv'/);
    // Evaluation during training, the article's lesson: a table of the evaluations (step 0 = before) and the chart.
    assert.match(text, /evaluations during training \(test clips, English normalizer\)\s*step \| eval loss \| eval WER % \|\s*0 \| /);
    assert.match(text, /trainable params: 29,552,256 \|\| all params: 37,760,640 \|\| trainable%: 78\.2621/);
    for (const f of ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'preprocessor_config.json']) {
      assert.ok(fs.existsSync(path.join(PROJECT_ROOT, 'out', 'run', '11_medical-smoke', 'model', f)), f);
    }
    const base = row(text, 'base');
    const tuned = row(text, 'fine-tuned');
    assert.equal(base.length, tuned.length);
    assert.ok(Number(base[1]) > 0 && base[1] === tuned[1], 'N is the same for both models');
    assert.match(text, /REF: .*\nHYP: /);
    assert.match(text, /\| 200 \| /);
    const sdi = /English normalizer on both sides/;
    assertRerunsAlike(r, sdi, 'the same scores');
  });

  it('12_complete_guide: CSV, is_valid numbers, augmentation, collator, cosine + early stopping, best model saved and reloaded', async () => {
    const r = await run('12_complete_guide');
    const text = outputText(r);
    assert.match(text, /article 002 vs this notebook/);
    assert.match(text, /not measured: an example log shows 32\.5, 18\.2, 12\.7/);
    assert.match(text, /generation config: \d+ suppress_tokens \(kept\), no forced_decoder_ids/);
    assert.match(text, /1200 rows in dataset\.csv \(columns audios,transcription -> audio, text\)/);
    assert.match(text, /the guide: text > 5 chars, 1 s < duration < 30 s \| 0 \| \d+ \| \d+ \|/);
    assert.match(text, /inputFeatures \[4,80,3000\]/);
    assert.match(text, /trainable params: 29,552,256 \|\| all params: 37,760,640/);
    assert.match(text, /best model \(reloaded\) \| /);
    assert.match(text, /model\.safetensors: [\d,]+ bytes/);
    assert.match(text, /learning rate per step: 5 % warmup, then cosine/);
    const evals = /WER after the guide's normalization/;
    assertRerunsAlike(r, evals, 'the same evaluations');
  });

  it('13_breton: wav+txt folder, clean_text, a streamed dataset, Lightning-style hooks, early stopping', async () => {
    const r = await run('13_breton');
    const text = outputText(r);
    assert.match(text, /article 003 vs this notebook/);
    assert.match(text, /121\.96 %/);
    assert.match(r.runs[0].join('\n'), /recordings: 4 pairs \(8 files written, 0 unchanged\)|recordings: 4 pairs \(0 files written, 8 unchanged\)/);
    assert.match(r.runs[1].join('\n'), /recordings: 4 pairs \(0 files written, 8 unchanged\)/);
    assert.match(text, /loadTxtPairs: 4 rows, columns audio, text, id; 0 problems/);
    assert.match(text, /dec'h e pesketes\. \| dec'h e pesketes \| dec h e pesketes/);
    assert.match(text, /<\|startoftranscript\|><\|br\|><\|transcribe\|><\|notimestamps\|>/);
    for (const hook of ['on_train_start', 'training_step 1:', 'on_validation_epoch_end @ step 2', 'ModelCheckpoint: checkpoint-2', 'on_train_end after 2 steps']) {
      assert.ok(text.includes(hook), hook);
    }
    assert.ok(fs.existsSync(path.join(PROJECT_ROOT, 'out', 'run', '13_breton-smoke', 'adapter', 'adapter_model.safetensors')));
    assertRerunsAlike(r);
  });

  it('14_french_telephone: telephone audio, 8-bit base, the article LoRA line, forced prompt, VAD, demo with the adapter', async () => {
    const r = await run('14_french_telephone');
    const text = outputText(r);
    assert.match(text, /article 004 vs this notebook/);
    assert.match(text, /diabolocom\/talkbank_4_stt: Hub not used \(HF_HUB_OFFLINE is set\); using the shared local copy/);
    assert.match(text, /model card written to \S+README\.md; set HF_TOKEN/);
    assert.match(text, /whisper-small: trainable params: 884,736 \|\| all params: 242,619,648 \|\| trainable%: 0\.3647/);
    assert.match(text, /trainable params: 147,456 \|\| all params: 37,908,096 \|\| trainable%: 0\.3890/);
    assert.match(text, /in float32 -> [\d.]+ MB in int8/);
    assert.match(text, /Total params: whisper-small 281,567,232 \(the article's summary: 281,567,232\)/);
    assert.match(text, /validation loss per epoch: epoch \d+: \d+\.\d{3}.* \(the article: 3\.890726, 2\.560604, 1\.943963\)/);
    assert.match(text, /forced_decoder_ids: none in our config .*; suppress_tokens: \d+ ids, kept/);
    assert.match(text, /labels\[:4\] = <\|startoftranscript\|><\|fr\|><\|transcribe\|><\|notimestamps\|>; .* starts from the same 4 tokens: true/);
    assert.match(text, /"r":8,"lora_alpha":32,"lora_dropout":0\.1,"target_modules":\["q_proj","v_proj"\],"peft_type":"LORA"/);
    assert.match(text, /1 s windows \(S = speech, · = silent\): ·+S+·+/);
    assert.match(text, /5 s of line noise \| .* \| \(skipped: silent, nothing transcribed\)/);
    assert.match(text, /\| true \| \d+\/\d+ \| /, 'speculative decoding gives the greedy tokens');
    assert.match(text, /base \| 200 \| /);
    assert.match(text, /adapter \| 200 \| /);
    assert.ok(row(text, 'whisper-tiny 8-bit + LoRA, telephone audio').length >= 4);
    assert.ok(fs.existsSync(path.join(PROJECT_ROOT, 'out', 'run', '14_french_telephone-smoke', 'adapter', 'adapter_model.safetensors')));
    const table = /prompt forced, BasicTextNormalizer on both sides/;
    assertRerunsAlike(r, table, 'the same WERs');
  });
});
