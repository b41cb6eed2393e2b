/** Notebook 03. Regenerate: `npx tsx notebooks/build/build.ts`. */
import { Cell, code, md, setupCell } from './notebook';

export const nb03: Cell[] = [
  md(`
# 03 · Preprocess: from audio + text to model inputs

This is the guides' \`prepare_dataset\`, step by step, on the data the rest of the tutorial trains on:

1. **audio**: trim leading/trailing silence, peak-normalize, and augment the *training* split only (seeded);
2. **text**: choose the **training normalizer** (what the labels look like), which is not the
   **scoring normalizer** (what WER compares);
3. **features**: 16 kHz audio → 80 × 3000 log-Mel spectrogram (\`inputFeatures\`);
4. **labels**: \`<|startoftranscript|><|en|><|transcribe|><|notimestamps|>\` + text tokens + \`<|endoftext|>\`;
5. **filter** invalid rows, **batch** with \`DataCollatorSpeechSeq2SeqWithPadding\` (the collator the trainer uses);
6. **save** the prepared splits into the run folder, where notebook 05 reads them.

| notebook | reads | writes |
| --- | --- | --- |
| **03_preprocess** (this one) | \`../shared/datasets/fsdd-digits\` | \`out/run/data/train\`, \`out/run/data/test\` |
| 05_train | \`out/run/data/*\` | \`out/run/adapter\`, \`out/run/full-model\` |
| 06_evaluate | \`out/run/data/test\`, \`adapter\`, \`full-model\` | reports in \`out/06_evaluate\` |
| 07_demo | \`out/run/data/test\`, \`adapter\` | nothing (a demo server while it runs) |

(\`out/run-smoke/\` instead of \`out/run/\` with \`SMOKE=1\`.) Processed rows are also cached in
\`.cache/datasets\`, keyed by a hash of the rows, the function and its parameters: re-running a cell
reads the cache; changing the normalizer recomputes.
`),
  setupCell(['loadCsvDataset', 'loadAudioFolder', 'preprocessAudio', 'prepareDataset', 'filterValid', 'checkData', 'formatSeconds', 'DataCollatorSpeechSeq2SeqWithPadding', 'labelsFor', 'saveToDisk', 'initBackend', 'tf', 'WhisperFeatureExtractor', 'WhisperTokenizer', 'getNormalizer', 'display', 'tableHtml', 'audioPlayerHtml', 'plotlyHtml'], `
// (Variables from earlier cells are written \`name: name\` in object literals: tslab does not
// resolve the shorthand \`{ name }\` across cells.)
const cacheDir = path.join(PROJECT_ROOT, '.cache', 'datasets');
`),
  md(`
## The tutorial's data: spoken digits, held-out speakers

Notebooks 01-02 explored LibriSpeech, but whisper-tiny already transcribes it at 6 % WER and 150
clips of it only make it worse (EXPERIMENTS.md §2); **spoken digits on 8 kHz telephone audio**
(Free Spoken Digit Dataset) are a task it does badly (65 % WER), so a few minutes of training on a
CPU show a real gain. Files are named \`<digit>_<speaker>_<take>.wav\`. We train on some speakers
and keep **two other speakers** for testing, so the score says whether the model learned the task,
not the voices.
`),
  code(`
const TRAIN_SPEAKERS = SMOKE ? ['george', 'jackson'] : ['george', 'jackson', 'lucas', 'nicolas'];
const TEST_SPEAKERS = SMOKE ? ['theo'] : ['theo', 'yweweler'];
const DIGITS = SMOKE ? [0, 1, 2, 3] : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const TAKES = SMOKE ? 1 : 2;                      // takes per digit per speaker

const fsdd = await loadCsvDataset(sharedDir('datasets', 'fsdd-digits', 'dataset.csv'));
const parts = fsdd.rows.map((r) => path.basename(String(r.audio), '.wav').split('_'));   // digit, speaker, take
const withSpeaker = fsdd.addColumn('speaker', parts.map((p) => p[1]));
const pick = (speakers: string[]) => parts.flatMap((p, i) =>
  speakers.includes(p[1]) && DIGITS.includes(Number(p[0])) && Number(p[2]) < TAKES ? [i] : []);
const train = withSpeaker.select(pick(TRAIN_SPEAKERS));
const test = withSpeaker.select(pick(TEST_SPEAKERS));
display(tableHtml([
  { split: 'train', speakers: TRAIN_SPEAKERS.join(', '), clips: train.numRows },
  { split: 'test (held out)', speakers: TEST_SPEAKERS.join(', '), clips: test.numRows },
]));
`),
  md(`
## 1. Audio: trim, normalize, augment (train only)

- **Trim** removes silence before and after speech (frames 30 dB below the loudest), so fewer clips
  spill over 30 s and less padding is learnt.
- **Peak-normalize** makes quiet and loud recordings look alike to the model.
- **Augment** (gain and Gaussian noise) makes the model robust to recording conditions. Only the
  training split is augmented: the test split must stay the real data you evaluate on. Each row's
  augmentation is seeded by its file name, so the same seed always gives the same audio.

Audio is decoded at 16 kHz (Whisper's rate) whatever the file's rate: these files are 8 kHz.
`),
  code(`
const augment = { gain: { p: 0.5, minDb: -6, maxDb: 6 }, noise: { p: 0.5, minAmplitude: 0.001, maxAmplitude: 0.01 } };
const trainAudio = await preprocessAudio(train, { augment, seed: 42, cacheDir: cacheDir });
const testAudio = await preprocessAudio(test, { cacheDir: cacheDir });   // no augmentation for evaluation
const i = 0;
const before = await train.audio(i);
const after = await trainAudio.audio(i);
display(tableHtml([
  { version: 'original', length: formatSeconds(before.length / 16000), player: audioPlayerHtml(before, 16000) },
  { version: 'trimmed + normalized + augmented', length: formatSeconds(after.length / 16000), player: audioPlayerHtml(after, 16000) },
], { htmlColumns: ['player'], caption: train.get(i).text }));
\`cache: \${trainAudio.cacheInfo?.hit ? 'read from' : 'written to'} \${path.relative(PROJECT_ROOT, trainAudio.cacheInfo?.dir ?? '')}\`
`),
  md(`
## 2. Text: the training normalizer is not the scoring normalizer

Two different jobs:

- The **training normalizer** decides what the model learns to *write*. The articles train on the
  transcripts as they are (\`none\`), or lightly cleaned: lower case and punctuation stripped
  (\`simple\`), or a language's alphabet kept (\`{ language: 'vi' }\`). The labels must stay words a
  person would write.
- The **scoring normalizer** is applied to both the reference and the model's output only when
  computing WER, so that "Seven." and "7" count as the same word: Whisper's \`english\`
  (EnglishTextNormalizer: numbers to digits, British to American spelling, fillers dropped) or
  \`basic\` for other languages. Training on its output would teach the model to write
  "the 1st tracks" and "13000 refugees".

The same rows under each (LibriSpeech from notebook 01, and our digits):
`),
  code(`
const TRAINING_NORMALIZER = 'simple';      // or 'none' (raw), or { language: 'vi' }
const training = getNormalizer(TRAINING_NORMALIZER);
const scoring = getNormalizer('english', { normalizerJson: path.join(sharedDir('models', 'whisper-tiny'), 'normalizer.json') });   // the checkpoint's spelling map
const libri = (await loadAudioFolder(sharedDir('datasets', 'librispeech-mini', 'train'))).select([0, 1, 2]);
const shown = [...libri.rows.map((r) => r.text), 'I have 13,000 refugees and half a million dollars.', ...train.rows.slice(0, 2).map((r) => r.text)];
display(tableHtml(shown.map((t) => ({ raw: t, [\`training: \${TRAINING_NORMALIZER}\`]: training(t), 'scoring: english (WER only)': scoring(t) })),
  { caption: 'The same transcripts, normalized for training and for scoring' }));
`),
  md(`
## 3–4. Features and labels

The feature extractor pads or trims every clip to 30 s (480,000 samples) and computes 80 Mel bins
every 10 ms: 80 × 3000 values. The labels start with the prefix tokens that tell Whisper the
language and the task, then the text **after the training normalizer**, then \`<|endoftext|>\`.
\`keepColumns\` keeps the audio, text and speaker beside them: notebook 06 scores the test split's
text, and 07 plays its audio.
`),
  code(`
const modelDir = sharedDir('models', 'whisper-tiny');
const featureExtractor = WhisperFeatureExtractor.fromPretrained(modelDir);
const tokenizer = await WhisperTokenizer.fromPretrained(modelDir);
const opts = { featureExtractor, tokenizer, language: 'en', task: 'transcribe' as const, normalizer: TRAINING_NORMALIZER,
  keepColumns: true, cacheDir: cacheDir };
const t0 = Date.now();
const trainPrepared = await prepareDataset(trainAudio, opts);
const testPrepared = await prepareDataset(testAudio, opts);
\`prepared \${trainPrepared.numRows} + \${testPrepared.numRows} rows in \${((Date.now() - t0) / 1000).toFixed(1)} s (cache \${trainPrepared.cacheInfo?.hit ? 'hit' : 'miss'}); columns: \${trainPrepared.columnNames.join(', ')}\`
`),
  code(`
// One example's log-Mel spectrogram (the first 2 s are where the digit is).
const feats = trainPrepared.get(0).inputFeatures;
const frames = 200;
const z = Array.from({ length: 80 }, (_, m) => Array.from(feats.subarray(m * 3000, m * 3000 + frames)));
display(plotlyHtml([{ type: 'heatmap', z, colorscale: 'Viridis', colorbar: { title: { text: 'log-Mel' } } }],
  { title: { text: \`inputFeatures of "\${trainPrepared.get(0).text}" (80 Mel bins × first 200 frames = 2 s)\` }, height: 320,
    xaxis: { title: { text: 'frame (10 ms)' } }, yaxis: { title: { text: 'Mel bin' } } }));
`),
  md(`
## Check the data

Always look at a few prepared rows: listen to the audio, read the transcript, and read the labels
decoded back to text *with* their special tokens; a wrong language token shows up immediately.
`),
  code(`
display(await checkData(trainPrepared, { n: 2, seed: 42, tokenizer: tokenizer, source: trainAudio }));
`),
  md(`
## 5. Filter, then batch

The validity filter uses the audio length measured while preparing (\`inputLength\`), the text and
the label length (the decoder holds at most 448 tokens). Its defaults come from the complete guide's
\`is_valid\` (notebook 12: more than 5 characters, 1 to 30 s). They are limits for sentences: they
would also drop the short segments of the French telephone article's data (its example segment
lasts 0.48 s), and a spoken digit is one short word in half a second, so we lower both: the
defaults would drop every row, and say so in the report.
`),
  code(`
const validity = { minTextLength: 2, minDuration: 0.2, maxDuration: 30, maxLabelLength: 448 };
const dropAll = await filterValid(trainPrepared, { maxLabelLength: 448 });
console.log(\`with the defaults: \${dropAll.numRows} of \${trainPrepared.numRows} rows kept; first reason: \${dropAll.report.problems[0]?.reason}\`);
const trainReady = await filterValid(trainPrepared, validity);
const testReady = await filterValid(testPrepared, validity);
console.log(\`with \${JSON.stringify(validity)}: \${trainReady.numRows} of \${trainPrepared.numRows} training rows, \${testReady.numRows} of \${testPrepared.numRows} test rows kept\`);
display(testReady.report.toHtml(10));   // every dropped row, with its file and reason
`),
  md(`
The collator stacks features into \`[batch, 80, 3000]\`, pads labels with **-100** (\`IGNORE_INDEX\`:
the loss skips them), and drops the leading \`<|startoftranscript|>\` when every row has it, because
the model adds it back when it shifts labels right into \`decoderInputIds\`. Notebook 05 hands this
same collator to the trainer (\`dataCollator\`).
`),
  code(`
const collator = new DataCollatorSpeechSeq2SeqWithPadding({ decoderStartTokenId: tokenizer.sot, padTokenId: tokenizer.eot, nMels: featureExtractor.featureSize });
// Three digits and one longer label, to see the padding.
const longer = { inputFeatures: trainReady.get(0).inputFeatures, labels: labelsFor('one two three', tokenizer, { language: 'en' }) };
const batch = collator.call([...trainReady.rows.slice(0, 3), longer]);
const shapes = { inputFeatures: batch.inputFeatures.shape, labels: batch.labels.shape, decoderInputIds: batch.decoderInputIds.shape };
const labelRows = batch.labels.arraySync() as number[][];
const inputRows = batch.decoderInputIds.arraySync() as number[][];
tf.dispose([batch.inputFeatures, batch.labels, batch.decoderInputIds]);   // re-runnable: no tensor leak
display(tableHtml([{ ...Object.fromEntries(Object.entries(shapes).map(([k, v]) => [k, JSON.stringify(v)])), 'tensors alive': tf.memory().numTensors }]));
display(tableHtml(labelRows.map((l, b) => ({ row: b, labels: l.join(' '), decoderInputIds: inputRows[b].join(' ') })), { caption: 'labels padded with -100; decoder inputs = start token + labels shifted right' }));
`),
  md(`
## 6. Save for the next notebooks

\`saveToDisk\` (Hugging Face's \`save_to_disk\`) writes the rows (features as one binary file), where
every row came from, and what they were made with. Notebook 05 reads them back with
\`loadFromDisk\`; re-running this cell replaces them.
`),
  code(`
const info = { normalizer: TRAINING_NORMALIZER, language: 'en', task: 'transcribe', trainSpeakers: TRAIN_SPEAKERS, testSpeakers: TEST_SPEAKERS };
saveToDisk(trainReady, artifactPath('trainData'), info);
saveToDisk(testReady, artifactPath('testData'), info);
console.log(\`wrote \${trainReady.numRows} training rows to \${path.relative(PROJECT_ROOT, artifactPath('trainData'))}\`);
console.log(\`wrote \${testReady.numRows} test rows to \${path.relative(PROJECT_ROOT, artifactPath('testData'))}\`);
`),
];
