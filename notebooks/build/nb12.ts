/** Notebook 12 (article 002, the complete Hugging Face guide). Regenerate: `npx tsx notebooks/build/build.ts`. */
import { Cell, code, md, setupCell, pushCell } from './notebook';

export const nb12: Cell[] = [
  md(`
# 12 · The complete guide: full fine-tuning with every trick of the recipe

**The article** is a complete Hugging Face recipe for fine-tuning Whisper on your own data: a CSV
of audio paths and transcripts, cast to 16 kHz, a seeded split, a validity filter, text
normalization, audio augmentation, trimming and peak normalization, the data collator, and
\`Seq2SeqTrainer\` with warmup, a cosine schedule, weight decay, early stopping and the best model
chosen by WER. It fine-tunes \`openai/whisper-small.en\` with no adapter and nothing frozen. It
reports no measured result: its \`eval_wer\` values 32.5, 18.2 and 12.7 are an example of what the
logs "look something like", not a run.

We run the same recipe, step by step, on the shared spoken-digits CSV. Where a setting differs,
the table says so, and the cell where it happens says why:

| step | article | here |
| --- | --- | --- |
| data | your CSV \`audios,transcription\` | \`fsdd-digits/dataset.csv\` (same columns, 8 kHz WAV) |
| cast | \`cast_column("audio", Audio(sampling_rate=16000))\` | \`castColumn('audio', { samplingRate: 16000 })\` |
| split | \`train_test_split(test_size=0.1, seed=42)\` | \`trainTestSplit({ testSize: 0.2, seed: 42 })\`: 50 test clips instead of 25 (section 2) |
| \`is_valid\` | text > 5 characters, 1 s < duration < 30 s | the same, then limits that fit digits (why below) |
| text | lowercase, \`[^a-z0-9\\s]\` removed | \`getNormalizer('simple')\` |
| augmentation | Gaussian noise p=0.2, amplitude 0.0005-0.003; gain ±2 dB p=0.2 | the same (\`preprocessAudio\`) |
| audio | trim \`top_db=30\`, peak normalization | the same |
| model | \`whisper-small.en\`, every weight trained, gradient checkpointing | multilingual whisper-tiny with the English prompt, every decoder weight trained, the encoder frozen (\`freezeEncoder()\`) so it runs once per clip on a CPU |
| training | batch 4 × 16 accumulation, lr 1e-5, 5 epochs, fp16, warmup_ratio 0.05, cosine, weight decay 0.01, early stopping patience 3, best model by WER, generation max length 128 | batch 8, lr 3.75e-5, 8 epochs, float32; the rest the same (section 8) |

Reads \`../shared\`; writes \`out/run/12_complete_guide/\` (checkpoints and the best model in Hugging Face layout).
\`SMOKE=1\` runs it on a handful of clips.
`),
  setupCell(['initBackend', 'describeBackend', 'tf', 'WhisperForConditionalGeneration', 'WhisperTokenizer', 'WhisperFeatureExtractor', 'loadCsvDataset', 'preprocessAudio', 'prepareDataset', 'filterValid', 'durations', 'describeValues', 'formatSeconds', 'DataCollatorSpeechSeq2SeqWithPadding', 'getNormalizer', 'wer', 'formatTrainableParameters', 'countParameters', 'Seq2SeqTrainer', 'seq2SeqTrainingArguments', 'TrainingMonitor', 'EarlyStoppingCallback', 'TrainerCallback', 'display', 'tableHtml', 'audioPlayerHtml', 'plotlyHtml'], `
const N_CLIPS = SMOKE ? 8 : 250;       // of the CSV's 1200 rows (a seeded sample, for CPU time)
const EPOCHS = SMOKE ? 2 : 8;
const RUN_DIR = path.join(PROJECT_ROOT, 'out', 'run', SMOKE ? '12_complete_guide-smoke' : '12_complete_guide');
const modelDir = sharedDir('models', 'whisper-tiny');
const cacheDir = path.join(PROJECT_ROOT, '.cache', 'datasets');
const timings: Record<string, number> = {};
`),
  md(`
## 1. Load the CSV and cast the audio to 16 kHz

\`\`\`python
df = pd.read_csv("final_generated_dataset.csv")
df = df.rename(columns={"path": "audio", "transcription": "text"})
dataset = Dataset.from_pandas(df)
dataset = dataset.cast_column("audio", Audio(sampling_rate=16000))
\`\`\`

\`loadCsvDataset\` reads the same file (audio paths relative to the CSV) and names the columns
\`audio\` and \`text\` whatever they were called. (The guide's rename maps a \`path\` column, while
its CSV's audio column is \`audios\`: with that CSV, rename \`audios\` instead.) Nothing is decoded yet; \`castColumn\` sets the rate
every clip is resampled to when decoded (the digits are recorded at 8 kHz).
`),
  code(`
const csv = await loadCsvDataset(sharedDir('datasets', 'fsdd-digits', 'dataset.csv'));
const dataset = csv.castColumn('audio', { samplingRate: 16000 }).shuffle(42).select([...Array(N_CLIPS).keys()]);
console.log(\`\${csv.numRows} rows in dataset.csv (columns audios,transcription -> \${csv.columnNames.join(', ')}); using a seeded sample of \${dataset.numRows}\`);
const ex = await dataset.example(0);
display(tableHtml([{ file: path.basename(String(dataset.get(0).audio)), text: ex.text, 'decoded at': \`\${ex.audio.samplingRate} Hz\`,
  samples: ex.audio.array.length, player: audioPlayerHtml(ex.audio.array, 16000) }], { htmlColumns: ['player'] }));
`),
  md(`
## 2. Split with seed 42

The guide holds out 10 % (\`test_size=0.1\`). **We hold out 20 %**: of our 250 clips, 10 % would be
25 test clips, where one wrong digit moves the WER by 4 points; 50 clips halve that.
`),
  code(`
const { train: trainSplit, test: testSplit } = dataset.trainTestSplit({ testSize: 0.2, seed: 42 });
console.log(\`train \${trainSplit.numRows} rows, test \${testSplit.numRows} rows (the same rows in every run: seeded shuffle)\`);
`),
  md(`
## 3. The \`is_valid\` filter, and why digits need looser limits

The guide keeps a row when its transcript has **more than 5 characters** and its audio lasts
**between 1 and 30 seconds**: good limits for sentences (Whisper sees at most 30 s; very short
clips are often noise). Applied to spoken digits, it would remove every row:
`),
  code(`
const secs = await durations(trainSplit);
const d = describeValues(secs);
console.log(\`training clips last \${d.min.toFixed(2)}-\${d.max.toFixed(2)} s (median \${d['50%'].toFixed(2)} s); the longest transcript has \${Math.max(...trainSplit.rows.map((r) => r.text.length))} characters\`);
const strict = await filterValid(trainSplit);
const reasons = (ds: typeof strict) => {
  const byField: Record<string, number> = {};
  for (const p of ds.report.problems) byField[p.field] = (byField[p.field] ?? 0) + 1;
  return byField;
};
display(tableHtml([{ filter: 'the guide: text > 5 chars, 1 s < duration < 30 s', kept: strict.numRows, removed: trainSplit.numRows - strict.numRows,
  'removed for text': reasons(strict).text ?? 0, 'removed for duration': reasons(strict).duration ?? 0 }]));
`),
  md(`
"zero", "one" ... "nine" have 3 to 5 letters and the clips last a third of a second, so both
limits remove everything: the filter encodes assumptions about sentences. For isolated words the
sensible limits are *any* non-empty transcript and clips longer than 0.2 s (the few shorter ones
are cut-off recordings). Every removed row stays listed in the report.
`),
  code(`
const valid = { minTextLength: 0, minDuration: 0.2, maxDuration: 30 };
const trainValid = await filterValid(trainSplit, valid);
const testValid = await filterValid(testSplit, valid);
display(tableHtml([
  { split: 'train', before: trainSplit.numRows, kept: trainValid.numRows, removed: trainSplit.numRows - trainValid.numRows },
  { split: 'test', before: testSplit.numRows, kept: testValid.numRows, removed: testSplit.numRows - testValid.numRows },
], { caption: 'digits: any transcript, 0.2 s < duration < 30 s' }));
display(trainValid.report.toHtml(5));
`),
  md(`
## 4. Text: lowercase and \`[^a-z0-9\\s]\` removed

The guide's normalization of the training targets (\`re.sub(r"[^a-z0-9\\s]", "", text.lower())\`). Our
digit transcripts are already in that form; the cell shows what it does to other text.
`),
  code(`
const simple = getNormalizer('simple');
display(tableHtml(['Seven.', "It's 2 o'clock!", 'Café, au lait', trainValid.rows[0].text].map((s) => ({ text: s, normalized: simple(s) }))));
`),
  md(`
## 5. Audio: trim, peak-normalize, augment the training split

\`preprocessAudio\` trims leading and trailing silence (\`librosa.effects.trim(top_db=30)\`), scales each
clip to a peak of 1 and, on the **training split only**, applies the guide's augmentation: Gaussian
noise with probability 0.2 (amplitude 0.0005-0.003) and a gain of ±2 dB with probability 0.2. Each
row's augmentation is seeded by its file name, so a re-run makes the same audio (and reads it
from the cache).
`),
  code(`
const augment = { noise: { p: 0.2, minAmplitude: 0.0005, maxAmplitude: 0.003 }, gain: { p: 0.2, minDb: -2, maxDb: 2 } };
let t0 = Date.now();
const trainAudio = await preprocessAudio(trainValid, { trim: { topDb: 30 }, normalize: true, augment: augment, seed: 42, cacheDir: cacheDir });
const testAudio = await preprocessAudio(testValid, { trim: { topDb: 30 }, normalize: true, cacheDir: cacheDir });
timings['audio (s)'] = (Date.now() - t0) / 1000;
const raw0 = await trainValid.audio(0);
const pre0 = await trainAudio.audio(0);
display(tableHtml([
  { version: 'decoded', length: formatSeconds(raw0.length / 16000), player: audioPlayerHtml(raw0, 16000) },
  { version: 'trimmed, peak 1, augmented (p=0.2 each)', length: formatSeconds(pre0.length / 16000), player: audioPlayerHtml(pre0, 16000) },
], { htmlColumns: ['player'], caption: trainValid.rows[0].text }));
`),
  md(`
## 6. Features, labels and the collator

\`prepareDataset\` computes the 80 × 3000 log-Mel features and the labels (prompt, normalized
text, \`<|endoftext|>\`); \`DataCollatorSpeechSeq2SeqWithPadding\` stacks features and pads labels
with -100, which the loss ignores.

The guide loads a \`WhisperFeatureExtractor\`, a \`WhisperTokenizer\` and a \`WhisperProcessor\`, "a
convenience wrapper that combines both". This library has no processor class: the feature
extractor and the tokenizer are passed together (\`prepOpts\` below plays the processor's part),
and \`saveModel\` writes both sets of files, as \`processor.save_pretrained\` does.
`),
  code(`
const tokenizer = await WhisperTokenizer.fromPretrained(modelDir);
const featureExtractor = WhisperFeatureExtractor.fromPretrained(modelDir);
t0 = Date.now();
const prepOpts = { featureExtractor: featureExtractor, tokenizer: tokenizer, language: 'en', task: 'transcribe' as const, normalizer: 'simple', cacheDir: cacheDir };
const trainDataset = await prepareDataset(trainAudio, prepOpts);
const evalDataset = await prepareDataset(testAudio, prepOpts);
timings['features (s)'] = (Date.now() - t0) / 1000;
const dataCollator = new DataCollatorSpeechSeq2SeqWithPadding({ decoderStartTokenId: tokenizer.sot, padTokenId: tokenizer.eot, nMels: featureExtractor.featureSize });
const batch = dataCollator.call(trainDataset.rows.slice(0, 4));
console.log(\`a batch of 4: inputFeatures [\${batch.inputFeatures.shape}], labels [\${batch.labels.shape}]; labels[0] = \${(batch.labels.arraySync() as number[][])[0].join(' ')}\`);
tf.dispose([batch.inputFeatures, batch.labels, batch.decoderInputIds]);
`),
  md(`
## 7. The model: every weight trained, the encoder frozen

The guide fine-tunes all of \`whisper-small.en\` (English only). **We depart from
it twice here.** The model is the multilingual whisper-tiny, the one on this machine, told to
write English by its prompt. And training the encoder means running it forward and backward on
every 30 s window in every step; on two CPU cores that is several seconds per clip. We train every weight of the **decoder** (\`freezeEncoder()\`, as transformers' \`model.freeze_encoder()\`):
still full fine-tuning, no adapter, and the frozen encoder's output is computed once per clip and
reused every epoch. \`fresh\` reloads the pretrained weights when the cell runs again.

The guide's four other model lines, and what they are here:

- \`forced_decoder_ids = None\`: transformers would otherwise force the checkpoint's default prompt
  tokens. Our \`generate\` reads no forced ids from the config: the prompt is built from the
  \`language\` and \`task\` options only (here \`en\`, \`transcribe\`, as the labels start).
- \`suppress_tokens = []\`: clears the list of tokens generation may never write. It does not touch
  training (the loss sees every token); this notebook **keeps** Whisper's default list when
  evaluating (\`generate({ suppressTokens: [] })\` would clear it), as OpenAI's decoder does.
- \`use_cache = False\`: training here never uses the key/value cache; only \`generate\` does.
- \`gradient_checkpointing_enable()\`: saves GPU memory by recomputing activations in the backward
  pass. This library has none; with the encoder frozen, a decoder step on whisper-tiny fits in
  memory without it.
`),
  code(`
const model = await fresh('model', () => WhisperForConditionalGeneration.fromPretrained(modelDir));
model.freezeEncoder();
const trainable = [...model.trainableParameters().values()].reduce((n, v) => n + v.size, 0);
console.log(formatTrainableParameters(trainable, countParameters(model.config)));
console.log(\`generation config: \${model.config.suppressTokens.length} suppress_tokens (kept), no forced_decoder_ids (the prompt comes from language/task)\`);
`),
  md(`
## 8. Metric and training arguments

\`compute_metrics\` decodes the generated ids and the labels and scores them with the normalizer
the labels were made with (the guide's), in percent. Then the guide's arguments:

| argument | value | why |
| --- | --- | --- |
| \`warmupRatio\` | 0.05 | the first 5 % of the steps ramp the learning rate up from 0 |
| \`lrSchedulerType\` | \`cosine\` | then it follows half a cosine down to 0 |
| \`weightDecay\` | 0.01 | AdamW's decoupled decay |
| \`evalStrategy\`, \`saveStrategy\` | \`epoch\` | evaluate (loss + generated WER) and checkpoint every epoch |
| \`loadBestModelAtEnd\`, \`metricForBestModel\` | true, \`wer\` | the checkpoint with the lowest WER is reloaded at the end |
| \`EarlyStoppingCallback\` | patience 3 | stop after 3 evaluations without a better WER |
| \`generationMaxLength\` | 128 | tokens generated per clip when evaluating |
| \`learningRate\` | 3.75e-5 | **not the guide's 1e-5**, which is for whisper-small.en: 3.75e-5 is whisper-tiny's rate in Hugging Face's Whisper fine-tuning event (smaller models take larger rates) |
| batch | 8, no accumulation | **not the guide's 4 × 16**: an effective batch of 64 would make 3 optimizer steps per epoch on our 200 clips |
| epochs | 8 | the guide's 5; early stopping ends the run anyway |
| \`fp16\` | no | the guide's fp16 is a GPU setting; the wasm backend computes in float32 |
`),
  code(`
function computeMetrics(p: { predictions: number[][]; labelIds: number[][] }) {
  const preds = p.predictions.map((ids) => simple(tokenizer.decode(ids, { skipSpecialTokens: true })));
  const refs = p.labelIds.map((ids) => simple(tokenizer.decode(ids.filter((t) => t >= 0), { skipSpecialTokens: true })));
  return { wer: 100 * wer(refs, preds) };
}
const args = seq2SeqTrainingArguments({
  outputDir: path.join(RUN_DIR, 'trainer'), learningRate: 3.75e-5, warmupRatio: 0.05, lrSchedulerType: 'cosine', weightDecay: 0.01,
  perDeviceTrainBatchSize: 8, perDeviceEvalBatchSize: 8, numTrainEpochs: EPOCHS,
  evalStrategy: 'epoch', saveStrategy: 'epoch', saveTotalLimit: 2, loadBestModelAtEnd: true, metricForBestModel: 'wer', greaterIsBetter: false,
  predictWithGenerate: true, generationMaxLength: 128, loggingSteps: SMOKE ? 1 : 5, seed: 42,
});
`),
  md(`
## 9. Train

Besides the live chart, a small custom callback records the learning rate of every step, to see
the warmup and the cosine. The trainer evaluates the untouched model first (the "before").
Evaluation forces the language and task tokens (\`language: 'en'\`), as the article does: after fine-tuning on one language the model's own language detection can drift (notebook 08 measures it).
`),
  code(`
fs.rmSync(args.outputDir, { recursive: true, force: true });   // a re-run starts without old checkpoints
model.loadWeights(modelDir);                                      // ... and from the pretrained weights
const learningRates: number[] = [];
const recordLr: TrainerCallback = { onStepEnd: (_a, _s, _c, step) => { learningRates.push(step.learningRate); } };
const monitor = new TrainingMonitor({ metric: 'wer' });
const trainer = await fresh('trainer', () => new Seq2SeqTrainer({
  model: model, args: args, trainDataset: trainDataset, evalDataset: evalDataset, dataCollator: dataCollator,
  computeMetrics: computeMetrics, generateOptions: { language: 'en', task: 'transcribe' },
  callbacks: [monitor, recordLr, new EarlyStoppingCallback({ earlyStoppingPatience: 3 })],
}));
t0 = Date.now();
await trainer.precomputeEncoderOutputs([...trainDataset.rows, ...evalDataset.rows], { cacheDir: path.join(PROJECT_ROOT, 'out', 'encoder-cache', 'fsdd-guide') });
timings['encoder pass (s)'] = (Date.now() - t0) / 1000;
const before = await trainer.evaluate();
t0 = Date.now();
const result = await trainer.train();
timings['training (s)'] = (Date.now() - t0) / 1000;
const evals = trainer.state.log_history.filter((e) => e.eval_wer !== undefined);   // the evaluations during training
const after = await trainer.evaluate();
console.log(\`\${result.globalStep} steps in \${timings['training (s)'].toFixed(0)} s\${result.stoppedEarly ? ' (stopped early: no better WER for 3 evaluations)' : ''}; best checkpoint \${path.basename(trainer.state.best_model_checkpoint ?? '-')}\`);
`),
  code(`
display(tableHtml([
  { model: 'whisper-tiny (before)', 'eval loss': before.eval_loss, 'eval WER %': before.eval_wer },
  ...evals.map((e) => ({ model: \`epoch \${e.epoch}\`, 'eval loss': e.eval_loss, 'eval WER %': e.eval_wer })),
  { model: 'best model (reloaded)', 'eval loss': after.eval_loss, 'eval WER %': after.eval_wer },
], { caption: \`\${evalDataset.numRows} test clips, WER after the guide's normalization\` }));
display(plotlyHtml([{ type: 'scatter', mode: 'lines+markers', x: learningRates.map((_, i) => i + 1), y: learningRates, name: 'learning rate' }],
  { title: { text: 'learning rate per step: 5 % warmup, then cosine' }, height: 280, xaxis: { title: { text: 'step' } }, yaxis: { title: { text: 'lr' } } }));
`),
  md(`
## 10. Save the best model, load it back

\`trainer.saveModel(dir)\` writes a complete Hugging Face checkpoint (\`config.json\`,
\`generation_config.json\`, \`model.safetensors\` with HF tensor names, tokenizer and preprocessor
files): \`WhisperForConditionalGeneration.from_pretrained(dir)\` in Python, \`loadWhisper(dir)\` or
\`npm run transcribe -- --model dir\` here.
`),
  code(`
const bestDir = path.join(RUN_DIR, 'model');
trainer.saveModel(bestDir);
console.log(fs.readdirSync(bestDir).sort().map((f) => \`\${f}: \${fs.statSync(path.join(bestDir, f)).size.toLocaleString('en-US')} bytes\`).join('\\n'));
const reloaded = await fresh('reloaded', () => WhisperForConditionalGeneration.fromPretrained(bestDir));
const probe = evalDataset.rows.slice(0, 4);
const feats = tf.tensor3d(Float32Array.from(probe.flatMap((r) => Array.from(r.inputFeatures))), [probe.length, 80, 3000]);
const out = await reloaded.generate(feats, { language: 'en', maxNewTokens: 16 });
feats.dispose();
display(tableHtml(probe.map((r, i) => ({ reference: tokenizer.decode(r.labels, { skipSpecialTokens: true }), 'reloaded model': tokenizer.decode(out.sequences[i], { skipSpecialTokens: true }) }))));
`),
  code(`
await finish(timings);   // frees what the notebook made, prints tensors left, peak memory, timings
`),
  md(`
## 11. The article's numbers beside ours
`),
  code(`
display(tableHtml([
  { quantity: 'eval WER', 'the article': 'not measured: an example log shows 32.5, 18.2, 12.7 at epochs 1-3 ("look something like")', 'this notebook': \`\${before.eval_wer.toFixed(1)} before → \${after.eval_wer.toFixed(1)} best model (measured)\` },
  { quantity: 'model', 'the article': 'whisper-small.en, every weight trained, gradient checkpointing', 'this notebook': 'whisper-tiny (multilingual, English prompt), every decoder weight trained (encoder frozen)' },
  { quantity: 'data', 'the article': 'your own CSV (audios,transcription)', 'this notebook': \`spoken digits: \${trainDataset.numRows} training / \${evalDataset.numRows} test clips\` },
  { quantity: 'test split', 'the article': 'test_size=0.1, seed=42', 'this notebook': 'testSize 0.2, seed 42' },
  { quantity: 'learning rate', 'the article': '1e-5', 'this notebook': '3.75e-5' },
  { quantity: 'batch', 'the article': '4 x 16 accumulation', 'this notebook': '8, no accumulation' },
  { quantity: 'epochs', 'the article': '5', 'this notebook': \`at most \${EPOCHS}; \${result.globalStep} steps\${result.stoppedEarly ? ', stopped early' : ''}\` },
  { quantity: 'precision', 'the article': 'fp16', 'this notebook': 'float32' },
  { quantity: 'schedule', 'the article': 'warmup_ratio 0.05, cosine, weight decay 0.01, early stopping patience 3, best by WER', 'this notebook': 'the same' },
  { quantity: 'generation config', 'the article': 'forced_decoder_ids None, suppress_tokens []', 'this notebook': 'prompt from language/task, default suppress_tokens kept' },
  { quantity: 'hardware', 'the article': 'a GPU (CPU "painfully slow")', 'this notebook': '2 CPU cores (wasm)' },
], { caption: 'article 002 vs this notebook' }));
`),
  md(`
**What can be compared.** The recipe is the same step for step; the numbers are not comparable,
because the guide has none: its 32.5 / 18.2 / 12.7 illustrate what a log might look like, on data
it does not describe. Ours are measured: single spoken digits at 8 kHz, where whisper-tiny hears
many as something else ("you", "Thank you."), so the base WER is high and one wrong word is a
100 % error on its clip. The task is narrow and the decoder learns it fast. Note that the best
checkpoint is chosen on the same test clips the guide evaluates on (its \`eval_dataset\`): for an
honest final number, keep a third split that neither training nor model selection saw.
`),
  pushCell('bestDir', 'your-username/whisper-tiny-finetuned', { language: ['en'] }),
];
