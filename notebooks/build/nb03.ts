import { Cell, code, md } from './notebook';

export const nb03: Cell[] = [
  md(`
# 03 · Preprocess: from audio + text to model inputs

This is the guides' \`prepare_dataset\`, step by step:

1. **audio**: trim leading/trailing silence, peak-normalize, and augment the *training* split only (seeded);
2. **text**: normalize transcripts, because Whisper's output is cased and punctuated;
3. **features**: 16 kHz audio → 80 × 3000 log-Mel spectrogram (\`inputFeatures\`);
4. **labels**: \`<|startoftranscript|><|en|><|transcribe|><|notimestamps|>\` + text tokens + \`<|endoftext|>\`;
5. **filter** invalid rows, then **batch** with \`DataCollatorSpeechSeq2SeqWithPadding\`.

Processed rows are cached on disk (\`.cache/datasets\`), keyed by a hash of the rows, the function and its
parameters: re-running a cell reads the cache; changing the normalizer recomputes.
`),
  code(`
import * as path from 'path';
import { loadDatasetDict, preprocessAudio, prepareDataset, filterValid, checkData, formatSeconds,
  DataCollatorSpeechSeq2SeqWithPadding } from '../dist/data';
import { PROJECT_ROOT, sharedDir } from '../dist/shared';
import { initBackend, tf } from '../dist/backend';
import { WhisperFeatureExtractor } from '../dist/features/logmel';
import { WhisperTokenizer } from '../dist/tokenizer/whisper';
import { getNormalizer } from '../dist/text';
import { display, tableHtml, audioPlayerHtml, plotlyHtml } from '../dist/viz';

const SMOKE = process.env.SMOKE === '1';
const N_TRAIN = SMOKE ? 4 : 150;
const N_TEST = SMOKE ? 4 : 100;
// (Variables from earlier cells are written \`name: name\` in object literals: tslab does not
// resolve the shorthand \`{ name }\` across cells.)
const cacheDir = path.join(PROJECT_ROOT, '.cache', 'datasets');
`),
  code(`
await initBackend();
const dict = await loadDatasetDict(sharedDir('datasets', 'librispeech-mini'));
const train = dict.train.select([...Array(Math.min(N_TRAIN, dict.train.numRows)).keys()]);
const test = dict.test.select([...Array(Math.min(N_TEST, dict.test.numRows)).keys()]);
\`train \${train.numRows} rows, test \${test.numRows} rows\`
`),
  md(`
## 1. Audio: trim, normalize, augment (train only)

- **Trim** removes silence before and after speech (frames 30 dB below the loudest), so fewer clips
  spill over 30 s and less padding is learnt.
- **Peak-normalize** makes quiet and loud recordings look alike to the model.
- **Augment** (gain and Gaussian noise) makes the model robust to recording conditions. Only the
  training split is augmented: the test split must stay the real data you evaluate on. Each row's
  augmentation is seeded by its file name, so the same seed always gives the same audio.
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
## 2. Text: why normalize

LibriSpeech references are UPPER CASE without punctuation; Whisper writes "Northanger Abbey." Scored
raw, whisper-tiny gets a **98% word error rate** on librispeech-mini, although after normalizing both
sides it is **6.35%** (see \`shared/README.md\`). The model is fine, the comparison is not. The same holds
for training labels: train on one consistent form. The normalizers come from \`src/text\`:
\`english\` (Whisper's EnglishTextNormalizer), \`basic\` (any language), or your own function.
`),
  code(`
const english = getNormalizer('english');
const basic = getNormalizer('basic');
display(tableHtml(train.rows.slice(0, 3).map((r) => ({ raw: r.text, english: english(r.text), basic: basic(r.text) }))));
`),
  md(`
## 3–4. Features and labels

The feature extractor pads or trims every clip to 30 s (480,000 samples) and computes 80 Mel bands
every 10 ms: 80 × 3000 values. The labels start with the prefix tokens that tell Whisper the
language and the task, and end with \`<|endoftext|>\`.
`),
  code(`
const modelDir = sharedDir('models', 'whisper-tiny');
const featureExtractor = WhisperFeatureExtractor.fromPretrained(modelDir);
const tokenizer = await WhisperTokenizer.fromPretrained(modelDir);
const opts = { featureExtractor, tokenizer, language: 'en', task: 'transcribe' as const, normalizer: 'english', cacheDir: cacheDir };
const t0 = Date.now();
const trainPrepared = await prepareDataset(trainAudio, opts);
const testPrepared = await prepareDataset(testAudio, opts);
\`prepared \${trainPrepared.numRows} + \${testPrepared.numRows} rows in \${((Date.now() - t0) / 1000).toFixed(1)} s (cache \${trainPrepared.cacheInfo?.hit ? 'hit' : 'miss'}); columns: \${trainPrepared.columnNames.join(', ')}\`
`),
  code(`
// One example's log-Mel spectrogram (the first 10 s are where the speech is).
const feats = trainPrepared.get(0).inputFeatures;
const frames = 1000;
const z = Array.from({ length: 80 }, (_, m) => Array.from(feats.subarray(m * 3000, m * 3000 + frames)));
display(plotlyHtml([{ type: 'heatmap', z, colorscale: 'Viridis', colorbar: { title: { text: 'log-Mel' } } }],
  { title: { text: 'inputFeatures (80 Mel bands × first 1000 frames = 10 s)' }, height: 320,
    xaxis: { title: { text: 'frame (10 ms)' } }, yaxis: { title: { text: 'Mel band' } } }));
`),
  md(`
## Check the data

Always look at a few prepared rows: listen to the audio, read the transcript, and read the labels
decoded back to text *with* their special tokens; a wrong language token shows up immediately.
`),
  code(`
display(await checkData(trainPrepared, { n: SMOKE ? 2 : 4, seed: 42, tokenizer: tokenizer, source: trainAudio }));
`),
  md(`
## 5. Filter, then batch

The validity filter uses the audio length measured while preparing (\`inputLength\`) and the
label length (the decoder holds at most 448 tokens).
`),
  code(`
const trainReady = await filterValid(trainPrepared, { maxLabelLength: 448 });
display(trainReady.report.toHtml(10));
`),
  md(`
The collator stacks features into \`[batch, 80, 3000]\`, pads labels with **-100** (ignored by the
loss), and drops the leading \`<|startoftranscript|>\` when every row has it, because the model
adds it back when it shifts labels right into \`decoderInputIds\`.
`),
  code(`
const collator = new DataCollatorSpeechSeq2SeqWithPadding({ decoderStartTokenId: tokenizer.sot, padTokenId: tokenizer.eot, nMels: featureExtractor.featureSize });
const batch = collator.call(trainReady.rows.slice(0, 4));
const shapes = { inputFeatures: batch.inputFeatures.shape, labels: batch.labels.shape, decoderInputIds: batch.decoderInputIds.shape };
const firstLabels = (batch.labels.arraySync() as number[][])[0];
tf.dispose([batch.inputFeatures, batch.labels, batch.decoderInputIds]);   // re-runnable: no tensor leak
display(tableHtml([{ ...Object.fromEntries(Object.entries(shapes).map(([k, v]) => [k, JSON.stringify(v)])),
  'labels[0] (end)': firstLabels.slice(-8).join(' '), 'tensors alive': tf.memory().numTensors }]));
`),
];
