/** Notebook 08 (timestamps and language after fine-tuning). Regenerate: `npx tsx notebooks/build/build.ts`. */
import { Cell, code, md, setupCell } from './notebook';

export const nb08: Cell[] = [
  md(`
# 08 · Keep what the base model could do: timestamps and language

Fine-tuning teaches a model what its labels show, and lets it forget what they do not show. Two
things Whisper can do are easy to lose this way:

1. **Timestamps.** The usual recipe (and every article notebook) trains on labels that start with
   \`<|startoftranscript|><|en|><|transcribe|><|notimestamps|>\`: the model is never asked for a
   timestamp. Long-form transcription of a recording longer than 30 s *needs* them: each window is
   decoded with timestamps, and the next window starts at the last complete one. openai trained
   Whisper with about half of the examples timestamped; \`prepareDataset({ timestampRatio: 0.5 })\`
   does the same, with segment times from the data or, as here, from the base model's own
   timestamps on each training clip (\`clipSegments\`).
2. **Language detection.** A decoder fine-tuned on English only shifts the one decoder step that
   detects the language. Force the language and task tokens at inference (\`language: 'en'\`),
   as the article notebooks do, and measure what detection does on other languages.

We fine-tune whisper-tiny's decoder twice on the same English clips (\`librispeech-mini/train\`,
speaker 1867 left out: the long recording below is made of that speaker's clips) with the same
settings; only the labels differ. Then both transcribe a 4-minute recording
(\`../shared/reference/whisper-tiny/longform/en_long.flac\`) beside the base model.

Reads \`../shared\` only; writes \`out/run/08_timestamps/\` (both fine-tuned models). \`SMOKE=1\` runs
everything on a few clips, two steps and the first 45 s of the recording: too little training to
show what is lost; it checks that the notebook runs.
`),
  setupCell(['loadAudio', 'loadAudioFolder', 'loadCommonVoice', 'loadWhisper', 'WhisperForConditionalGeneration', 'prepareDataset', 'clipSegments', 'retimeText',
    'transcribeAudio', 'Seq2SeqTrainer', 'seq2SeqTrainingArguments', 'DecodingTask', 'AudioFeatures',
    'wer', 'tableHtml'], `
const N_TRAIN = SMOKE ? 4 : 64;          // training clips
const STEPS = SMOKE ? 2 : 48;            // optimizer steps per fine-tune
const LONG_SECONDS = SMOKE ? 45 : Infinity;   // how much of the 255.6 s recording
const LANG_CLIPS = SMOKE ? 2 : 10;       // Common Voice clips per language for detection
const RUN_DIR = path.join(PROJECT_ROOT, 'out', 'run', SMOKE ? '08_timestamps-smoke' : '08_timestamps');
const modelDir = sharedDir('models', 'whisper-tiny');
const pipe = await loadWhisper(modelDir);
const { tokenizer, featureExtractor } = pipe;
const norm = (s: string) => tokenizer.normalize(s);
const timestampBegin = pipe.model.specialTokens.timestampBegin;
`),
  md(`
## 1. The data

Training: English LibriSpeech clips of speakers other than 1867. The long recording is speaker 1867's
22 training clips joined (255.6 s); its reference text is their transcripts in the same order.
`),
  code(`
const libri = sharedDir('datasets', 'librispeech-mini', 'train');
const all = await loadAudioFolder(libri);
const train = all.filter((r) => String(r.speaker_id) !== '1867').shuffle(0).select([...Array(N_TRAIN).keys()]);
const longClips = all.filter((r) => String(r.speaker_id) === '1867').rows
  .map((r) => ({ file: path.basename(String(r.audio)), text: String(r.text), seconds: Number(r.duration) }))
  .sort((a, b) => a.file.localeCompare(b.file));
// The reference of the part we transcribe: the clips that end within LONG_SECONDS.
let end = 0;
const inside = longClips.filter((c) => (end += c.seconds) <= LONG_SECONDS + 0.5);
const longAudioAll = await loadAudio(sharedDir('reference', 'whisper-tiny', 'longform', 'en_long.flac'));
const longAudio = longAudioAll.subarray(0, Math.min(longAudioAll.length, Math.round(inside.reduce((s, c) => s + c.seconds, 0) * 16000)));
const longReference = inside.map((c) => c.text).join(' ');
const longSeconds = longAudio.length / 16000;
console.log(\`train: \${train.numRows} clips; long recording: \${longSeconds.toFixed(1)} s, \${inside.length} clips, \${longReference.split(' ').length} reference words\`);
`),
  md(`
## 2. The base model on the long recording

\`transcribeAudio\` is openai's long-form loop. We check what must hold for a usable transcript: the
WER (Whisper's English normalizer on both sides), how many timestamp tokens the model wrote and how
many segments it closed with one (a window without them becomes one 30 s segment), segment times
that never go back and stay inside the audio, and how much of the audio the segments cover.
`),
  code(`
type LongRun = Awaited<ReturnType<typeof transcribeAudio>>;
function longRow(label: string, r: LongRun) {
  const s = r.segments;
  const increasing = s.every((x, i) => x.end >= x.start && (i === 0 || x.start >= s[i - 1].start));
  const inside = s.every((x) => x.start >= 0 && x.end <= longSeconds + 0.5);
  const covered = s.reduce((a, x) => a + Math.max(0, x.end - x.start), 0);
  const timestamps = s.reduce((a, x) => a + x.tokens.filter((t) => t >= timestampBegin).length, 0);
  const closed = s.filter((x) => x.tokens.length > 0 && x.tokens.at(-1)! >= timestampBegin).length;
  return { model: label, 'WER %': +(100 * wer(norm(longReference), norm(r.text))).toFixed(2), segments: s.length,
    'timestamp tokens': timestamps, 'segments closed by a timestamp': closed, windows: r.windows,
    'times increasing': increasing, 'times inside audio': inside,
    'covered s': +covered.toFixed(1), 'last end s': +(s.at(-1)?.end ?? 0).toFixed(1) };
}
const longRuns: Record<string, LongRun> = {};
longRuns.base = await transcribeAudio(pipe, longAudio, { language: 'en' });
const longTable = [longRow('whisper-tiny (base)', longRuns.base)];
display(tableHtml(longTable, { caption: \`long-form, \${longSeconds.toFixed(1)} s\` }));
display(tableHtml(longRuns.base.segments.slice(0, 4).map((s) => ({ start: s.start.toFixed(2), end: s.end.toFixed(2), text: s.text }))));
`),
  md(`
## 3. Labels with and without timestamps

For each training clip the base model decodes one window *with* timestamps (\`clipSegments\`); the
reference words are spread over those segment times (\`retimeText\`) and stored in a \`segments\` column.
\`prepareDataset\` with \`timestampRatio: 0.5\` (seeded) gives half of the rows
\`<|0.00|> text<|4.32|><|4.32|> more<|9.80|>\` after a prompt without \`<|notimestamps|>\`; the others keep
the usual labels. \`timestampRatio: 0\` (the default) is the usual recipe.
`),
  code(`
const segments = [];
for (let i = 0; i < train.numRows; i++) {
  const own = await clipSegments(pipe, await train.audio(i), { language: 'en' });
  segments.push(retimeText(own.length ? own : [{ start: 0, end: Number(train.get(i).duration), text: train.get(i).text }], train.get(i).text));
}
const lower = (s: string) => s.toLowerCase();   // LibriSpeech is upper case; write it as Whisper does
const prep = (timestampRatio: number) => prepareDataset(train.addColumn('segments', segments),
  { featureExtractor: featureExtractor, tokenizer: tokenizer, language: 'en', normalizer: lower, timestampRatio: timestampRatio, seed: 0 });
const plainData = (await prep(0)).rows;
const timedData = (await prep(0.5)).rows;
const nTimed = timedData.filter((r) => !r.labels.includes(tokenizer.noTimestamps)).length;
console.log(\`timestamped labels: \${nTimed} of \${timedData.length}\`);
const shown = timedData.findIndex((r) => !r.labels.includes(tokenizer.noTimestamps));
display(tableHtml([
  { labels: 'notimestamps only', first: tokenizer.decodeWithTimestamps([...plainData[Math.max(0, shown)].labels], true) },
  { labels: 'timestampRatio 0.5', first: tokenizer.decodeWithTimestamps([...timedData[Math.max(0, shown)].labels], true) },
], { caption: 'the same clip, two labels' }));
`),
  md(`
## 4. Two fine-tunes, the same settings

Every weight of the decoder is trained (\`freezeEncoder()\`: the encoder stays as it is, notebook 05),
AdamW at learning rate 1e-4, batch 8, 48 steps, the same seed. LoRA adapters on the decoder's q/v
(r=8, lr 1e-3) or on all its projections (r=16) kept writing timestamps after 48 steps on
\`<|notimestamps|>\` labels (EXPERIMENTS.md); the whole decoder is where we saw those labels take
them away.
`),
  code(`
const tuned: Record<string, WhisperForConditionalGeneration> = {};
for (const [name, data] of [['notimestamps', plainData], ['timestamps', timedData]] as const) {
  const m = await fresh(\`model-\${name}\`, () => WhisperForConditionalGeneration.fromPretrained(modelDir));
  m.freezeEncoder();
  const trainer = await fresh(\`trainer-\${name}\`, () => new Seq2SeqTrainer({ model: m, trainDataset: data,
    args: seq2SeqTrainingArguments({ outputDir: path.join(RUN_DIR, name), learningRate: 1e-4, warmupSteps: SMOKE ? 0 : 4,
      perDeviceTrainBatchSize: SMOKE ? 2 : 8, maxSteps: STEPS, saveStrategy: 'no', loggingSteps: SMOKE ? 1 : 8, seed: 0 }) }));
  await trainer.precomputeEncoderOutputs(data, { cacheDir: path.join(PROJECT_ROOT, 'out', 'encoder-cache', 'librispeech-train') });
  const out = await trainer.train();
  trainer.saveModel(path.join(RUN_DIR, \`model-\${name}\`));
  // Adam's moments of 29.5M weights and the encoder cache go before the next fine-tune: two at once
  // crowd wasm's 4 GB heap. The trained model stays.
  trainer.dispose();
  tuned[name] = m;
  console.log(\`fine-tune '\${name}': \${out.globalStep} steps, training loss \${out.trainingLoss.toFixed(3)}\`);
}
`),
  md(`
## 5. Long-form with each fine-tune

The model trained on \`<|notimestamps|>\` labels only has never been asked for a timestamp; the
long-form loop asks for them in every window. Compare timestamps, segments, times and WER with the
base row.
`),
  code(`
for (const name of ['notimestamps', 'timestamps']) {
  longRuns[name] = await transcribeAudio({ model: tuned[name], tokenizer: tokenizer, featureExtractor: featureExtractor }, longAudio, { language: 'en' });
}
longTable.splice(1, longTable.length, longRow('fine-tuned, <|notimestamps|> labels only', longRuns.notimestamps),
  longRow('fine-tuned, timestampRatio 0.5', longRuns.timestamps));
display(tableHtml(longTable, { caption: \`long-form, \${longSeconds.toFixed(1)} s: base vs the two fine-tunes\` }));
for (const r of longTable) {
  console.log(\`\${r.model}: WER \${r['WER %']} %, \${r.segments} segments, \${r['timestamp tokens']} timestamp tokens, \` +
    \`\${r['segments closed by a timestamp']} closed, times increasing \${r['times increasing']}, inside \${r['times inside audio']}, covered \${r['covered s']} s\`);
}
display(tableHtml(longRuns.notimestamps.segments.slice(0, 4).map((s) => ({ start: s.start.toFixed(2), end: s.end.toFixed(2), text: s.text })),
  { caption: '<|notimestamps|> fine-tune: first segments' }));
`),
  md(`
## 6. Which language does the fine-tuned model speak?

Language detection is one decoder step on \`<|startoftranscript|>\`: the most likely language token.
Both fine-tunes were trained on English with \`<|en|>\` in every label. On \`../shared/datasets/commonvoice-sample\`,
base vs fine-tuned, the clips detected as their true language:
`),
  code(`
const LANGS = ['de', 'es', 'fr', 'it', 'ja', 'vi', 'zh-CN', 'ar', 'br'].slice(0, SMOKE ? 2 : 9);
// The fine-tunes change only the decoder: one encoder pass per clip serves all three.
async function detectedAll(audio: Float32Array): Promise<Record<'base' | 'notimestamps' | 'timestamps', string>> {
  const features = featureExtractor.call([audio]);
  const enc = pipe.model.encode(features);
  const detect = async (m: WhisperForConditionalGeneration) => {
    const feats = new AudioFeatures(m, enc);   // cross-attention keys and values from each decoder's own k/v projections
    try {
      return (await new DecodingTask(m, {}).detectLanguage(feats)).codes[0];
    } finally {
      feats.dispose();
    }
  };
  try {
    return { base: await detect(pipe.model), notimestamps: await detect(tuned.notimestamps), timestamps: await detect(tuned.timestamps) };
  } finally {
    tf.dispose([features, enc]);
  }
}
const langRows = [];
for (const lang of LANGS) {
  const cv = await loadCommonVoice(sharedDir('datasets', 'commonvoice-sample', lang));
  const want = lang.split('-')[0];
  const right = { base: 0, notimestamps: 0, timestamps: 0 };
  const asEnglish = { base: 0, notimestamps: 0, timestamps: 0 };
  for (let i = 0; i < LANG_CLIPS; i++) {
    const codes = await detectedAll(await cv.audio(i));
    for (const k of ['base', 'notimestamps', 'timestamps'] as const) {
      const code = codes[k];
      if (code === want) right[k]++;
      if (code === 'en') asEnglish[k]++;
    }
  }
  langRows.push({ language: lang, clips: LANG_CLIPS, base: right.base, 'fine-tuned (notimestamps)': right.notimestamps,
    'fine-tuned (timestamps)': right.timestamps, 'as English: base / notimestamps / timestamps': \`\${asEnglish.base} / \${asEnglish.notimestamps} / \${asEnglish.timestamps}\` });
}
display(tableHtml(langRows, { caption: 'clips detected as their true language (and as English)' }));
const sum = (k: string) => langRows.reduce((a, r) => a + Number((r as Record<string, unknown>)[k]), 0);
console.log(\`detected right: base \${sum('base')}, fine-tuned notimestamps \${sum('fine-tuned (notimestamps)')}, fine-tuned timestamps \${sum('fine-tuned (timestamps)')} of \${LANGS.length * LANG_CLIPS}\`);
`),
  md(`
## What to take away

- Long-form transcription asks for timestamps in every window; a model fine-tuned on
  \`<|notimestamps|>\` labels only is never asked for one. In the full run (EXPERIMENTS.md: 64 clips,
  48 steps, the whole decoder at lr 1e-4) that fine-tune wrote no timestamp but the forced
  \`<|0.00|>\` of each window: 9 segments of 30 s, none closed by a timestamp, words cut at the window
  edges (WER 7.36 % against the base's 6.81 %, 42 segments). The same training with half the labels
  timestamped (\`timestampRatio: 0.5\`) kept them: 43 segments, all closed by a timestamp, times
  increasing and inside the audio, WER 7.63 % (0.82 points above the base).
- Not every fine-tune loses them: LoRA adapters (q/v r=8, or every decoder projection r=16; 48
  steps at lr 1e-3 on the same labels) kept writing timestamps (EXPERIMENTS.md). The whole decoder,
  whose token embedding is also its output projection, lost them.
- Language detection after fine-tuning on one language is measured, not assumed: in the full run the
  English fine-tunes detected fewer of 90 other-language clips than the base (59 and 65 against 70).
  Whenever the language is known, pass it (\`language: 'en'\`, the CLI's \`--language\`), so the
  prompt is the one the model was trained with and detection cannot go wrong.
- The measured numbers of a full run are in EXPERIMENTS.md.
`),
  code(`
await releaseAll();
console.log('done');
`),
];
