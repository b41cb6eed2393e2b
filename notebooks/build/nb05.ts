/** Notebook 05. Regenerate: `npx tsx notebooks/build/build.ts`. */
import { Cell, code, md } from './notebook';

export const nb05: Cell[] = [
  md(`
# 05 · Train: LoRA fine-tuning with \`Seq2SeqTrainer\`

We teach whisper-tiny to write spoken digits the way our references do. The base model hears
"seven" fine but writes \`7.\` or \`Seven.\`; after the English normalizer (which maps number words to
digits) it still scores about 65% WER on these clips, mostly because of single-word clips it
mishears on 8 kHz telephone audio. We fine-tune a LoRA adapter on **4 speakers** and measure
**WER on the 2 other speakers**, so the score says whether it learned the task, not the voices.

The loop is the Hugging Face one (\`Seq2SeqTrainer\` + \`Seq2SeqTrainingArguments\`, same field names
in camelCase): AdamW, a warmup + linear decay schedule, gradient clipping, evaluation with
generation, checkpoints, the best model reloaded at the end.

**The CPU trick.** The adapter sits in the decoder only, so the encoder (the expensive 30 s
transformer) is frozen: \`Seq2SeqTrainer\` runs it **once per clip** and reuses its output every
epoch and at every evaluation (\`cacheEncoderOutputs\`, on by default; here also kept on disk).

Set \`SMOKE=1\` to run the whole notebook in a minute with a handful of clips.
`),
  code(`
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, describeBackend, tf } from '../dist/backend';
import { sharedDir, PROJECT_ROOT } from '../dist/shared';
import { WhisperForConditionalGeneration } from '../dist/model/whisper';
import { WhisperTokenizer } from '../dist/tokenizer/whisper';
import { WhisperFeatureExtractor } from '../dist/features/logmel';
import { loadAudio } from '../dist/audio/decode';
import { loadCsvDataset, Row } from '../dist/data';
import { getNormalizer } from '../dist/text';
import { wer } from '../dist/eval/metrics';
import { LoraConfig, getPeftModel } from '../dist/lora';
import { Seq2SeqTrainer, seq2SeqTrainingArguments, TrainingMonitor } from '../dist/train';
import { display, tableHtml } from '../dist/viz';

const SMOKE = process.env.SMOKE === '1';
console.log(describeBackend(await initBackend()), SMOKE ? '(SMOKE: tiny settings)' : '');
const modelDir = sharedDir('models', 'whisper-tiny');
const tokenizer = await WhisperTokenizer.fromPretrained(modelDir);
const featureExtractor = WhisperFeatureExtractor.fromPretrained(modelDir);
`),
  md(`
## 1. Data: train on 4 speakers, evaluate on 2 others

Free Spoken Digit Dataset files are named \`<digit>_<speaker>_<take>.wav\`. Each example becomes
\`inputFeatures\` (80x3000 log-Mel, 30 s padded) and \`labels\`: the prompt tokens
\`<|startoftranscript|><|en|><|transcribe|><|notimestamps|>\`, the text (with the leading space
Whisper writes before a segment) and \`<|endoftext|>\`.
`),
  code(`
const TRAIN_SPEAKERS = SMOKE ? ['george', 'jackson'] : ['george', 'jackson', 'lucas', 'nicolas'];
const EVAL_SPEAKERS = SMOKE ? ['theo'] : ['theo', 'yweweler'];
const PER_DIGIT = SMOKE ? 1 : 2;               // takes per digit per speaker
const DIGITS = SMOKE ? [0, 1] : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

const fsdd = await loadCsvDataset(sharedDir('datasets', 'fsdd-digits', 'dataset.csv'));
const clipInfo = (r: Row) => {
  const [digit, speaker, take] = path.basename(String(r.audio), '.wav').split('_');
  return { digit: Number(digit), speaker: speaker, take: Number(take) };
};
const pick = (speakers: string[]) => fsdd.rows.filter((r) => {
  const c = clipInfo(r);
  return speakers.includes(c.speaker) && c.take < PER_DIGIT && DIGITS.includes(c.digit);
});
const prefix = tokenizer.prefixTokens({ language: 'en', task: 'transcribe' });
async function toExample(r: Row) {
  return {
    id: path.basename(String(r.audio)), text: r.text,
    inputFeatures: featureExtractor.extract(await loadAudio(String(r.audio))),
    labels: [...prefix, ...tokenizer.encode(' ' + r.text), tokenizer.eot],
  };
}
const trainDataset = await Promise.all(pick(TRAIN_SPEAKERS).map(toExample));
const evalDataset = await Promise.all(pick(EVAL_SPEAKERS).map(toExample));
console.log(\`\${trainDataset.length} training clips, \${evalDataset.length} evaluation clips\`);
display(tableHtml(trainDataset.slice(0, 4).map((e) => ({ id: e.id, text: e.text, labels: e.labels.join(' '),
  decoded: tokenizer.decode(e.labels) })), { caption: 'training examples' }));
`),
  md(`
## 2. Model and adapter

LoRA $r=8$, $\\alpha=16$ on every projection of the decoder: self-attention, cross-attention
(\`encoder_attn\`) and the MLP (\`fc1\`, \`fc2\`), chosen with a regular expression. Nothing in the encoder
is adapted, which is what lets the trainer cache the encoder's output.
`),
  code(`
const model = await WhisperForConditionalGeneration.fromPretrained(modelDir);
const loraConfig = new LoraConfig({
  r: 8, loraAlpha: 16, loraDropout: 0.05, baseModelNameOrPath: 'openai/whisper-tiny',
  targetModules: String.raw\`model\\.decoder\\.layers\\.\\d+\\.(self_attn|encoder_attn)\\.(q_proj|k_proj|v_proj|out_proj)|model\\.decoder\\.layers\\.\\d+\\.(fc1|fc2)\`,
});
const peft = getPeftModel(model, loraConfig, { seed: 0 });
peft.printTrainableParameters();
`),
  md(`
## 3. Training arguments

| field | value here | meaning |
| --- | --- | --- |
| \`learningRate\` | 1e-3 | peak LR; LoRA tolerates ~10x the full fine-tuning LR (its update starts at 0) |
| \`warmupSteps\` / \`warmupRatio\` | 10 | LR rises linearly from 0 for the first steps, avoiding early large updates of Adam |
| \`lrSchedulerType\` | \`linear\` | then decays linearly to 0 at the last step (\`constant\`, \`cosine\` also available) |
| \`perDeviceTrainBatchSize\` | 8 | clips per forward/backward pass |
| \`gradientAccumulationSteps\` | 1 | micro-batches summed before one optimizer step (effective batch = 8 x this) |
| \`maxGradNorm\` | 1 | clip the global gradient norm, as \`clip_grad_norm_\` |
| \`weightDecay\` | 0.01 | AdamW's decoupled decay (\`p -= lr * wd * p\`) |
| \`numTrainEpochs\` / \`maxSteps\` | 3 / - | passes over the data; \`maxSteps\` > 0 overrides |
| \`evalStrategy\`, \`evalSteps\` | \`epoch\` | when to evaluate: eval loss + WER from generated text |
| \`predictWithGenerate\`, \`generationMaxLength\` | true, 16 | evaluate on \`generate()\` output (greedy), at most 16 new tokens |
| \`saveStrategy\`, \`saveTotalLimit\` | \`epoch\`, 1 | \`checkpoint-<step>/\` with adapter, optimizer state, \`trainer_state.json\` |
| \`loadBestModelAtEnd\`, \`metricForBestModel\`, \`greaterIsBetter\` | true, \`wer\`, false | reload the checkpoint with the lowest WER |
| \`loggingSteps\` | 5 | a line in \`outputDir/log.jsonl\` every 5 steps |
| \`seed\` | 0 | shuffling and dropout; the same seed gives the same run, and a resumed run continues it exactly |
`),
  code(`
const outputDir = path.join(PROJECT_ROOT, 'out', 'notebooks', SMOKE ? '05-train-smoke' : '05-train');
fs.rmSync(outputDir, { recursive: true, force: true });
const trainingArgs = seq2SeqTrainingArguments({
  outputDir: outputDir, learningRate: 1e-3, warmupSteps: SMOKE ? 0 : 10, lrSchedulerType: 'linear', weightDecay: 0.01, maxGradNorm: 1,
  perDeviceTrainBatchSize: SMOKE ? 2 : 8, perDeviceEvalBatchSize: 16, gradientAccumulationSteps: 1,
  // SMOKE: 2 steps, no evaluation inside the loop (the cell below evaluates before and after).
  numTrainEpochs: 3, maxSteps: SMOKE ? 2 : -1, evalStrategy: SMOKE ? 'no' : 'epoch',
  saveStrategy: SMOKE ? 'steps' : 'epoch', saveSteps: SMOKE ? 2 : 500, saveTotalLimit: 1,
  loadBestModelAtEnd: !SMOKE, metricForBestModel: 'wer', greaterIsBetter: false,
  predictWithGenerate: true, generationMaxLength: 16, loggingSteps: SMOKE ? 1 : 5, seed: 0,
});
`),
  md(`
## 4. The metric: normalized WER

\`computeMetrics\` gets the generated ids; we decode them, apply Whisper's English normalizer to both
sides (\`Seven.\` and \`7\` both become \`7\`) and compute corpus WER in percent.
`),
  code(`
const normalize = getNormalizer('english');
let lastHypotheses: string[] = [];
function computeMetrics(p: { predictions: number[][] }) {
  lastHypotheses = p.predictions.map((ids) => tokenizer.decode(ids, { skipSpecialTokens: true }));
  return { wer: 100 * wer(evalDataset.map((e) => normalize(e.text)), lastHypotheses.map(normalize)) };
}
`),
  md(`
## 5. Train, watching it live

\`TrainingMonitor\` draws a progress bar and a chart of training loss, eval loss and WER into **one**
output (\`tslab.newDisplay()\`), redrawn in place as the trainer calls its \`onStepEnd\`, \`onLog\` and
\`onEvaluate\`. First the frozen encoder runs once over every clip (kept in \`out/fsdd-encoder-cache\`,
so a re-run skips it); then we evaluate the untouched model (B = 0, so it *is* the base model) and
train.
`),
  code(`
const monitor = new TrainingMonitor({ metric: 'wer' });
const trainer = new Seq2SeqTrainer({
  // Explicit \`key: value\`: tslab does not resolve shorthand properties that name variables of other cells.
  model: peft, args: trainingArgs, trainDataset: trainDataset, evalDataset: evalDataset, computeMetrics: computeMetrics,
  generateOptions: { language: 'en', task: 'transcribe' },
  callbacks: [monitor],
});
const t0 = Date.now();
await trainer.precomputeEncoderOutputs([...trainDataset, ...evalDataset], { cacheDir: path.join(PROJECT_ROOT, 'out', 'fsdd-encoder-cache') });
console.log(\`encoder pass: \${((Date.now() - t0) / 1000).toFixed(0)} s\`);
const before = await trainer.evaluate();
const baseHypotheses = lastHypotheses;
const t1 = Date.now();
const result = await trainer.train();
console.log(\`trained \${result.globalStep} steps in \${((Date.now() - t1) / 1000).toFixed(0)} s\`);
`),
  code(`
const after = await trainer.evaluate();
display(tableHtml([
  { model: 'whisper-tiny (base)', 'eval loss': before.eval_loss, 'WER %': before.eval_wer },
  { model: 'whisper-tiny + LoRA', 'eval loss': after.eval_loss, 'WER %': after.eval_wer },
], { caption: \`held-out speakers \${EVAL_SPEAKERS.join(', ')}: \${evalDataset.length} clips\` }));
display(tableHtml(evalDataset.slice(0, 10).map((e, i) => ({ id: e.id, reference: e.text, base: baseHypotheses[i], 'with LoRA': lastHypotheses[i] })),
  { caption: 'first clips' }));
`),
  md(`
## 6. Save the adapter

\`saveModel()\` writes the adapter in PEFT's layout (a few hundred KB, against 150 MB for the model).
The checkpoints beside it hold the optimizer state too: \`trainer.train({ resumeFromCheckpoint: true })\`
continues an interrupted run from the latest one, at the same step, with the same data order.
`),
  code(`
const adapterDir = path.join(outputDir, 'adapter');
trainer.saveModel(adapterDir);
for (const f of fs.readdirSync(adapterDir)) console.log(\`\${f}: \${fs.statSync(path.join(adapterDir, f)).size.toLocaleString('en-US')} bytes\`);
console.log('checkpoints:', fs.readdirSync(outputDir).filter((f) => f.startsWith('checkpoint-')).join(', '));
console.log('log.jsonl, last line:', fs.readFileSync(path.join(outputDir, 'log.jsonl'), 'utf8').trim().split('\\n').pop());
`),
  code(`
trainer.dispose();
peft.dispose();
model.dispose();
console.log('tensors left:', tf.memory().numTensors);
`),
];
