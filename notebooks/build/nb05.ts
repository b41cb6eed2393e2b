/** Notebook 05. Regenerate: `npx tsx notebooks/build/build.ts`. */
import { Cell, code, md, setupCell, pushCell } from './notebook';

export const nb05: Cell[] = [
  md(`
# 05 · Train: LoRA and full fine-tuning with \`Seq2SeqTrainer\`

We teach whisper-tiny to write spoken digits, on the data notebook 03 prepared: 8 kHz telephone
clips of single digit words, where the base model scores about 65 % WER (it hears "you" or
"Thank you." in a short "zero"). Two ways to fine-tune, with the same trainer, arguments,
checkpoints and collator:

- **LoRA** (notebook 04): the base weights stay frozen, a small adapter learns (0.8 % of the parameters);
- **full fine-tuning**: no adapter, as in the complete guide (and the medical-transcription article,
  which mentions none). They train every weight; here the encoder is frozen with
  \`freezeEncoder()\` and every weight of the decoder is trained. None of the articles freezes the
  encoder: that is this project's choice, to fit a CPU.

| notebook | reads | writes |
| --- | --- | --- |
| 03_preprocess | \`../shared/datasets/fsdd-digits\` | \`out/run/data/train\`, \`out/run/data/test\` |
| **05_train** (this one) | \`out/run/data/*\` | \`out/run/adapter\`, \`out/run/full-model\` |
| 06_evaluate | \`out/run/data/test\`, \`adapter\`, \`full-model\` | reports in \`out/06_evaluate\` |
| 07_demo | \`out/run/data/test\`, \`adapter\` | nothing (a demo server while it runs) |

The loop is the Hugging Face one (\`Seq2SeqTrainer({ model, args, trainDataset, evalDataset,
dataCollator, computeMetrics, callbacks })\`): AdamW, warmup + cosine schedule, gradient clipping,
evaluation with generation, checkpoints, early stopping, the best model reloaded at the end.

**The CPU trick.** Nothing in the encoder is trained, so the encoder (the expensive 30 s transformer)
runs **once per clip**; \`Seq2SeqTrainer\` reuses its output every epoch and at every evaluation, and
keeps it on disk (\`out/run/encoder-cache\`, keyed by the encoder's weights and the clip's features).

Set \`SMOKE=1\` to run the whole notebook in a minute or two with a handful of clips.
`),
  setupCell(['initBackend', 'describeBackend', 'tf', 'WhisperForConditionalGeneration', 'WhisperTokenizer', 'DataCollatorSpeechSeq2SeqWithPadding', 'loadFromDisk', 'PreparedRow', 'Row', 'getNormalizer', 'wer', 'LoraConfig', 'getPeftModel', 'Seq2SeqTrainer', 'seq2SeqTrainingArguments', 'TrainingMonitor', 'EarlyStoppingCallback', 'TrainerCallback', 'display', 'tableHtml', 'plotlyHtml'], `
const modelDir = sharedDir('models', 'whisper-tiny');
const tokenizer = await WhisperTokenizer.fromPretrained(modelDir);
const rel = (p: string) => path.relative(PROJECT_ROOT, p);
`),
  md(`
## 1. The data notebook 03 prepared

\`loadFromDisk\` reads the rows 03 saved: \`inputFeatures\` (80 × 3000 log-Mel) and \`labels\` (prompt
tokens, the text after 03's **training normalizer**, \`<|endoftext|>\`), plus the audio and text.
Without them this cell stops and names the notebook to run first.
`),
  code(`
const trainDataset = loadFromDisk<PreparedRow & Row>(requireArtifact('trainData'));
const evalDataset = loadFromDisk<PreparedRow & Row>(requireArtifact('testData'));
console.log(\`\${trainDataset.numRows} training clips (\${(trainDataset.info.trainSpeakers as string[]).join(', ')}), \` +
  \`\${evalDataset.numRows} test clips (\${(evalDataset.info.testSpeakers as string[]).join(', ')}), training normalizer '\${trainDataset.info.normalizer}'\`);
display(tableHtml(trainDataset.rows.slice(0, 3).map((r) => ({ text: r.text, labels: r.labels.join(' '), decoded: tokenizer.decode(r.labels) })),
  { caption: 'training examples' }));
// The collator of notebook 03: -100 padding, the start token dropped as HF does.
const dataCollator = new DataCollatorSpeechSeq2SeqWithPadding({ decoderStartTokenId: tokenizer.sot, padTokenId: tokenizer.eot, nMels: 80 });
`),
  md(`
## 2. The metric: WER after the scoring normalizer

\`computeMetrics\` gets the generated ids and the label ids (HF's \`EvalPrediction\`); we decode both and
apply Whisper's English normalizer to both sides before computing corpus WER in percent: the
*scoring* normalizer, not the training one (\`Seven.\` and \`7\` both become \`7\`).
`),
  code(`
const scoring = (s: string) => tokenizer.normalize(s);   // Whisper's English normalizer, the checkpoint's spelling map
let lastHypotheses: string[] = [];
function computeMetrics(p: { predictions: number[][]; labelIds: number[][] }) {
  lastHypotheses = p.predictions.map((ids) => tokenizer.decode(ids, { skipSpecialTokens: true }));
  const refs = p.labelIds.map((ids) => scoring(tokenizer.decode(ids, { skipSpecialTokens: true })));
  return { wer: 100 * wer(refs, lastHypotheses.map(scoring)) };
}
`),
  md(`
## 3. LoRA: the arguments

| field | value here | meaning |
| --- | --- | --- |
| \`learningRate\` | 3e-3 | peak LR; LoRA tolerates ~10-100x the full fine-tuning LR (its update starts at 0) |
| \`lrSchedulerType\`, \`warmupRatio\` | \`cosine\`, 0.1 | LR rises linearly for the first 10 % of the steps, then follows half a cosine down to 0 |
| \`perDeviceTrainBatchSize\` | 8 | clips per forward/backward pass |
| \`gradientAccumulationSteps\` | 1 | micro-batches summed before one optimizer step (effective batch = 8 x this) |
| \`maxGradNorm\`, \`weightDecay\` | 1, 0.01 | \`clip_grad_norm_\`; AdamW's decoupled decay (\`p -= lr * wd * p\`) |
| \`numTrainEpochs\` / \`maxSteps\` | 3 / - | passes over the data; \`maxSteps\` > 0 overrides |
| \`evalStrategy\`, \`evalSteps\` | \`steps\`, 3 | evaluate every 3 steps: eval loss + WER of \`generate()\` output (\`predictWithGenerate\`) |
| \`metricForBestModel\`, \`loadBestModelAtEnd\` | \`wer\`, true | a checkpoint whenever WER improves; the best one reloaded at the end |
| \`saveStrategy\`, \`saveTotalLimit\` | \`no\`, 1 | no other checkpoints; at most one kept (\`checkpoint-<step>/\`: adapter, optimizer, \`trainer_state.json\`) |
| \`loggingSteps\`, \`seed\` | 1, 0 | a line in \`log.jsonl\` per step; the same seed gives the same run, and a resumed run continues it exactly |

**Callbacks** are Hugging Face's \`TrainerCallback\`: objects whose hooks the loop calls with
\`(args, state, control, info)\`: \`onTrainBegin\`, \`onEpochBegin\`, \`onStepBegin\`, \`onStepEnd\` (the
step's loss, learning rate, gradient norm), \`onLog\`, \`onEvaluate\` (the metrics), \`onSave\` (the
checkpoint folder), \`onEpochEnd\`, \`onTrainEnd\`. A hook may set \`control.shouldTrainingStop\` (or
\`shouldSave\`, \`shouldEvaluate\`). Three are used here: \`TrainingMonitor\` (the live chart),
\`EarlyStoppingCallback\` (stop when WER has not improved for 3 evaluations), and our own
\`lrTrace\`, which records the learning rate of each step (the Lightning-style hook of the Breton
article).
`),
  code(`
const model = await fresh('model', () => WhisperForConditionalGeneration.fromPretrained(modelDir));
const loraConfig = new LoraConfig({
  r: 8, loraAlpha: 16, loraDropout: 0.05, baseModelNameOrPath: 'openai/whisper-tiny',
  targetModules: String.raw\`model\\.decoder\\.layers\\.\\d+\\.(self_attn|encoder_attn)\\.(q_proj|k_proj|v_proj|out_proj)|model\\.decoder\\.layers\\.\\d+\\.(fc1|fc2)\`,
});
const loraDir = runDir('lora-train');
const loraArgs = seq2SeqTrainingArguments({
  outputDir: loraDir, learningRate: 3e-3, lrSchedulerType: 'cosine', warmupRatio: 0.1, weightDecay: 0.01, maxGradNorm: 1,
  perDeviceTrainBatchSize: SMOKE ? 2 : 8, perDeviceEvalBatchSize: 16, gradientAccumulationSteps: 1,
  numTrainEpochs: 3, maxSteps: SMOKE ? 4 : -1, evalStrategy: 'steps', evalSteps: SMOKE ? 2 : 3,
  predictWithGenerate: true, generationMaxLength: 16, metricForBestModel: 'wer', loadBestModelAtEnd: true,
  saveStrategy: 'no', saveTotalLimit: 1, loggingSteps: 1, seed: 0,
});
`),
  md(`
The datasets here are in memory. \`trainDataset\` may also be a **stream** (the Breton article trains
from one): \`prepareDataset(streamDataset(csv).shuffle({ seed: 0, bufferSize: 500 }), opts)\` prepares rows
lazily while the trainer reads them, with bounded memory; a stream has no length, so set \`maxSteps\`,
and the trainer reshuffles it each epoch (\`setEpoch\`, as Hugging Face's \`IterableDataset\`).

## 4. Train, watching it live

\`TrainingMonitor\` draws a progress bar and a chart of training loss, eval loss and WER into **one**
output (\`tslab.newDisplay()\`), redrawn in place. The cell builds the adapter and the trainer and
trains, so running it again starts again from the untrained adapter: the "before" row is always the
base model (LoRA's B starts at 0, so the fresh adapter *is* the base model).
`),
  code(`
const peft = await fresh('peft', () => getPeftModel(model, loraConfig, { seed: 0 }));
peft.printTrainableParameters();
const learningRates: { step: number; lr: number }[] = [];
const lrTrace: TrainerCallback = {
  onStepEnd: (_args, state, _control, step) => void learningRates.push({ step: state.global_step, lr: step.learningRate }),
};
fs.rmSync(loraDir, { recursive: true, force: true });
const trainer = await fresh('trainer', () => new Seq2SeqTrainer({
  // Explicit \`key: value\`: tslab does not resolve shorthand properties that name variables of other cells.
  model: peft, args: loraArgs, trainDataset: trainDataset, evalDataset: evalDataset, dataCollator: dataCollator,
  computeMetrics: computeMetrics, generateOptions: { language: 'en', task: 'transcribe' },
  callbacks: [new TrainingMonitor({ metric: 'wer' }), new EarlyStoppingCallback({ earlyStoppingPatience: 3 }), lrTrace],
}));
await trainer.precomputeEncoderOutputs(trainDataset, { cacheDir: runDir('encoder-cache') });
await trainer.precomputeEncoderOutputs(evalDataset);
const before = await trainer.evaluate();
const baseHypotheses = lastHypotheses;
const result = await trainer.train();
const after = await trainer.evaluate();
console.log(\`trained \${result.globalStep} steps\${result.stoppedEarly ? ' (stopped early: WER did not improve for 3 evaluations)' : ''}; \` +
  \`best WER \${trainer.state.best_metric?.toFixed(2)} % at \${path.basename(trainer.state.best_model_checkpoint ?? '-')}, reloaded\`);
`),
  code(`
display(tableHtml([
  { model: 'whisper-tiny (base)', 'eval loss': before.eval_loss, 'WER %': before.eval_wer },
  { model: 'whisper-tiny + LoRA', 'eval loss': after.eval_loss, 'WER %': after.eval_wer },
], { caption: \`held-out speakers: \${evalDataset.numRows} clips\` }));
display(tableHtml(evalDataset.rows.slice(0, 8).map((r, i) => ({ reference: r.text, base: baseHypotheses[i], 'with LoRA': lastHypotheses[i] })),
  { caption: 'first test clips' }));
console.log(\`LoRA: WER \${before.eval_wer.toFixed(2)} % -> \${after.eval_wer.toFixed(2)} %\`);
`),
  md(`
The learning rate of every step, as our \`lrTrace\` callback recorded it: the linear warmup, then
the cosine decay (the schedule runs to the planned last step, even when early stopping ends the run
before it).
`),
  code(`
display(plotlyHtml([{ x: learningRates.map((p) => p.step), y: learningRates.map((p) => p.lr), mode: 'lines+markers', name: 'learning rate' }],
  { title: { text: 'learning rate per step (cosine, warmupRatio 0.1)' }, height: 300, xaxis: { title: { text: 'step' } }, yaxis: { title: { text: 'lr' } } }));
`),
  md(`
## 5. Save the adapter

\`saveModel()\` writes the adapter in PEFT's layout (about 1 MB, against 150 MB for the model) to
\`out/run/adapter\`, where notebooks 06 and 07 read it. \`out/run/lora-train\` keeps \`log.jsonl\` and the
best checkpoint: \`trainer.train({ resumeFromCheckpoint: true })\` continues an interrupted run from
the latest intact checkpoint, at the same step, with the same data order.
`),
  code(`
const adapterDir = artifactPath('adapter');
trainer.saveModel(adapterDir);
for (const f of fs.readdirSync(adapterDir)) console.log(\`\${rel(path.join(adapterDir, f))}: \${fs.statSync(path.join(adapterDir, f)).size.toLocaleString('en-US')} bytes\`);
console.log('checkpoints:', fs.readdirSync(loraDir).filter((f) => f.startsWith('checkpoint-')).join(', '));
console.log('log.jsonl, last line:', fs.readFileSync(path.join(loraDir, 'log.jsonl'), 'utf8').trim().split('\\n').pop());
`),
  md(`
## 6. Full fine-tuning

The same trainer on a plain \`WhisperForConditionalGeneration\`: every weight becomes a \`tf.Variable\`
with its own gradient and Adam moments. \`freezeEncoder()\` (transformers' \`model.freeze_encoder()\`)
leaves the encoder as it is. None of the articles does that (the complete guide trains every
weight); it is what keeps this fast on a CPU: the encoder's outputs come from the cache above, and 29.5M decoder weights (the 20M of the
token embedding included, tied to the output projection) are trained. Full fine-tuning wants a much
smaller learning rate than LoRA. Without \`freezeEncoder()\` every weight is trained, through the
encoder: on the wasm backend that means micro-batches of one clip (\`perDeviceTrainBatchSize: 1\`,
\`gradientAccumulationSteps: 8\`; BENCHMARKS.md has the memory and time).

\`saveModel()\` then writes a complete Hugging Face checkpoint (\`config.json\`,
\`generation_config.json\`, \`model.safetensors\` with HF's tensor names, tokenizer and feature-extractor
files) that \`from_pretrained\` in Python, \`loadWhisper(dir)\` here and \`npm run transcribe -- --model
out/run/full-model\` all read.
`),
  code(`
const fullModel = await fresh('fullModel', () => WhisperForConditionalGeneration.fromPretrained(modelDir));
fullModel.freezeEncoder();
const fullTrainer = await fresh('fullTrainer', () => new Seq2SeqTrainer({
  model: fullModel, trainDataset: trainDataset, evalDataset: evalDataset, dataCollator: dataCollator, computeMetrics: computeMetrics,
  generateOptions: { language: 'en', task: 'transcribe' },
  args: seq2SeqTrainingArguments({
    outputDir: runDir('full-train'), learningRate: 1e-4, lrSchedulerType: 'cosine', warmupRatio: 0.1, weightDecay: 0.01,
    perDeviceTrainBatchSize: SMOKE ? 2 : 8, perDeviceEvalBatchSize: 16, numTrainEpochs: 2, maxSteps: SMOKE ? 2 : -1,
    predictWithGenerate: true, generationMaxLength: 16, saveStrategy: 'no', loggingSteps: 1, seed: 0,
  }),
}));
await fullTrainer.precomputeEncoderOutputs(trainDataset, { cacheDir: runDir('encoder-cache') });   // read back from disk
await fullTrainer.precomputeEncoderOutputs(evalDataset);
const t0 = Date.now();
const fullResult = await fullTrainer.train();
const fullAfter = await fullTrainer.evaluate();
console.log(\`full fine-tuning: \${fullResult.globalStep} steps in \${((Date.now() - t0) / 1000).toFixed(0)} s; \` +
  \`WER \${before.eval_wer.toFixed(2)} % (the base model, evaluated above) -> \${fullAfter.eval_wer.toFixed(2)} %\`);
console.log(\`peak memory of this kernel so far: \${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB\`);
const fullDir = artifactPath('fullModel');
fullTrainer.saveModel(fullDir);
console.log(fs.readdirSync(fullDir).map((f) => \`\${f}: \${fs.statSync(path.join(fullDir, f)).size.toLocaleString('en-US')} bytes\`).join('\\n'));
`),
  code(`
display(tableHtml([
  { model: 'whisper-tiny (base)', 'trained parameters': 0, 'WER %': before.eval_wer },
  { model: '+ LoRA adapter', 'trained parameters': peft.getNbTrainableParameters()[0], 'WER %': after.eval_wer },
  { model: 'full fine-tune (decoder)', 'trained parameters': [...fullModel.trainableParameters().values()].reduce((n, v) => n + v.size, 0), 'WER %': fullAfter.eval_wer },
], { caption: \`held-out speakers, \${evalDataset.numRows} clips (notebook 06 evaluates both again, clip by clip)\` }));
`),
  code(`
// Free what this notebook made; the files in out/run stay for notebooks 06 and 07.
await releaseAll();
console.log('tensors left:', tf.memory().numTensors);
`),
  pushCell('adapterDir', 'your-username/whisper-tiny-digits-lora', { language: ['en'] }),
];
