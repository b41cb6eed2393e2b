/** Notebook 07 (transcribe, long-form, live demo). Regenerate: `npx tsx notebooks/build/build.ts`. */
import { Cell, code, md, setupCell } from './notebook';

export const nb07: Cell[] = [
  md(`
# 07 · Use the model: transcribe files, long recordings, and a live microphone demo

The Python tutorials end with a Gradio app: speak into the microphone, read the transcript. This
notebook does the same in TypeScript, in four steps:

1. transcribe a few sample files (listen to each one, compare with the reference);
2. greedy vs **beam search** decoding;
3. **long-form** audio: a recording longer than Whisper's 30 s window, cut at the timestamps the
   model predicts, with silent windows skipped (Whisper invents text on silence);
4. the **adapter notebook 05 trained**, on the held-out speakers notebook 03 set aside: base vs adapter;
5. the **web demo**: a small server with a page that records from your microphone (base, or base +
   the adapter), started and stopped from here;
6. **deploy**: the adapter merged into whisper-tiny and exported as a whisper.cpp model file
   (\`npm run export\`), transcribing the same clips through whisper.cpp beside this project.

| notebook | reads | writes |
| --- | --- | --- |
| 03_preprocess | \`../shared/datasets/fsdd-digits\` | \`out/run/data/train\`, \`out/run/data/test\` |
| 05_train | \`out/run/data/*\` | \`out/run/adapter\`, \`out/run/full-model\` |
| 06_evaluate | \`out/run/data/test\`, \`adapter\`, \`full-model\` | reports in \`out/06_evaluate\` |
| **07_demo** (this one) | \`out/run/data/test\`, \`adapter\` (and \`../shared\` samples) | \`out/run/adapter-ggml-f16.bin\` (the merged adapter for whisper.cpp; a demo server while it runs) |

With \`SMOKE=1\` every step runs on less audio (and reads \`out/run-smoke\`).
`),
  setupCell(['initBackend', 'describeBackend', 'tf', 'loadAudio', 'encodeWav', 'isSilent', 'logMelSpectrogram', 'loadWhisper', 'transcribe', 'transcribeAudio', 'getNormalizer', 'wer', 'PeftModel', 'WhisperForConditionalGeneration', 'loadFromDisk', 'PreparedRow', 'Row', 'DecodedAudio', 'display', 'tableHtml', 'audioPlayerHtml', 'escapeHtml', 'exportModel'], `
const LONG_SECONDS = SMOKE ? 40 : 120;   // length of the long-form example
const BEAMS = SMOKE ? 2 : 5;
// Loaded once per kernel: re-running cells (or starting the demo) reuses it.
const pipe = await loadWhisper(sharedDir('models', 'whisper-tiny'));
const { model, tokenizer } = pipe;
const norm = (s: string) => tokenizer.normalize(s);
console.log(\`whisper-tiny loaded; SMOKE=\${SMOKE}\`);
`, ["import { transcribeAny, createTranscriber } from '../dist/apps/demo/transcriber';", "import { startDemo } from '../dist/apps/demo/server';",
  "import { whisperCpp } from '../dist/tools/shared';"]),
  md(`
## 1. Transcribe sample files

\`transcribeAny\` is what the demo server calls: a clip of up to 30 s goes through \`generate\` (one
window, greedy, no timestamps); a longer one through the long-form path of section 3. The WER
column uses Whisper's English normalizer on both sides (notebook 06 explains why).
`),
  code(`
const libri = sharedDir('datasets', 'librispeech-mini', 'test');
const meta = fs.readFileSync(path.join(libri, 'metadata.csv'), 'utf8').trim().split('\\n').slice(1).map((l) => l.split(','));
const samples = [
  { file: sharedDir('datasets', 'samples', 'jfk.flac'), reference: 'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.' },
  ...meta.slice(1, SMOKE ? 1 : 4).map((c) => ({ file: path.join(libri, c[0]), reference: c[1] })),
];
const rows = [];
for (const s of samples) {
  const audio = await loadAudio(s.file);
  const t0 = performance.now();
  const { text } = await transcribeAny(pipe, audio, { language: 'en' });
  const seconds = (performance.now() - t0) / 1000;
  display(audioPlayerHtml(audio, 16000, path.basename(s.file)));
  rows.push({ file: path.basename(s.file), seconds_audio: +(audio.length / 16000).toFixed(1), seconds_taken: +seconds.toFixed(2),
    transcript: text, WER: +wer(norm(s.reference), norm(text)).toFixed(3) });
}
display(tableHtml(rows, { caption: 'greedy transcripts' }));
console.log(\`\${rows.length} files transcribed\`);
`),
  md(`
### The opt-in fast mode

The encoder always reads a 30 s window: a 5 s clip is padded with 25 s of silence, and the encoder
spends most of its time on that padding. \`trimPadding: true\` (the CLI's \`--fast\`) cuts the
window after the clip plus 3 s of padding, like whisper.cpp's \`audio_ctx\`. It is faster on short
clips but no longer identical to OpenAI's output: on the 100 LibriSpeech test clips the
normalized WER goes from 6.35 % to 6.54 % (BENCHMARKS.md). With less padding the model tends to
repeat its last sentence, because it never "sees" the silence after the speech.
`),
  code(`
const fast = [];
for (const s of samples) {
  const audio = await loadAudio(s.file);
  const timed = async (trimPadding: boolean) => {
    const t0 = performance.now();
    const [r] = await transcribe(pipe, audio, { language: 'en', trimPadding });
    return { text: r.text.trim(), seconds: (performance.now() - t0) / 1000 };
  };
  const exact = await timed(false);
  const quick = await timed(true);
  fast.push({ file: path.basename(s.file), exact_s: +exact.seconds.toFixed(2), fast_s: +quick.seconds.toFixed(2),
    same_text: exact.text === quick.text, fast_transcript: quick.text });
}
display(tableHtml(fast, { caption: 'exact vs fast mode (trimPadding)' }));
console.log(\`fast mode: \${fast.filter((r) => r.same_text).length}/\${fast.length} transcripts unchanged\`);
`),
  md(`
## 2. Greedy vs beam search

Greedy decoding keeps the single most likely token at each step. **Beam search** keeps the
\`numBeams\` most likely *sequences*, and finally picks the one with the best log-probability per
token (OpenAI's \`BeamSearchDecoder\` + \`MaximumLikelihoodRanker\`). It costs about \`numBeams\` times
the decoder work (the encoder runs once). With \`numBeams: 1\` it is exactly greedy.
`),
  code(`
const jfk = await loadAudio(sharedDir('datasets', 'samples', 'jfk.flac'));
// Encode once, decode twice: beam search only repeats the (cheap) decoder.
const enc = tf.tidy(() => model.encode(tf.tensor3d(logMelSpectrogram(jfk, 80), [1, 80, 3000])));
const decoded = [];
for (const numBeams of [1, BEAMS]) {
  const t0 = performance.now();
  const out = await model.generate(null, { language: 'en', numBeams, encoderHiddenStates: enc });
  decoded.push({ numBeams, seconds: +((performance.now() - t0) / 1000).toFixed(2),
    text: tokenizer.decode(out.sequences[0], { skipSpecialTokens: true }).trim() });
}
enc.dispose();
display(tableHtml(decoded, { caption: 'jfk.flac, same encoder output' }));
console.log(\`numBeams=\${BEAMS} \${decoded[1].text === decoded[0].text ? 'agrees with' : 'differs from'} greedy\`);
`),
  md(`
## 3. Long-form: longer than 30 s

Whisper only ever sees 30 s. For a longer recording, OpenAI's \`transcribe()\` decodes one window,
**with timestamp tokens** (\`<|0.00|> text <|4.20|>\`), keeps the complete segments, and starts the
next window at the last complete timestamp, so no word is cut in half at the boundary. Timestamp
rules keep the model's output well formed (pairs, never going back in time).

We build a long recording by concatenating LibriSpeech test clips, add 35 s of silence at the end,
and compare the long-form WER with the WER of the clips transcribed one by one (OpenAI's reference
transcripts of the same clips). The features of every window are sliced from the log-Mel of the
whole recording, as openai's. The silent window is skipped by the energy gate, which openai does
not have and which is off by default (\`vad: {}\` turns it on; \`isSilent\`: no 25 ms frame louder
than -45 dBFS).
`),
  code(`
const picked = [];
let total = 0;
for (const c of meta) {
  if (total >= LONG_SECONDS) break;
  picked.push({ file: c[0], text: c[1] });
  total += Number(c[c.length - 1]);
}
const clips = await Promise.all(picked.map((p) => loadAudio(path.join(libri, p.file))));
const long = new Float32Array(clips.reduce((n, c) => n + c.length, 0) + 35 * 16000);
clips.reduce((o, c) => (long.set(c, o), o + c.length), 0);
console.log(\`\${picked.length} clips, \${(long.length / 16000).toFixed(1)} s in total (the last 35 s silent: \${isSilent(long.subarray(long.length - 35 * 16000))})\`);
display(audioPlayerHtml(long.subarray(0, 30 * 16000), 16000, 'the first 30 s'));

const t0 = performance.now();
const result = await transcribeAudio(pipe, long, {
  language: 'en',
  vad: {},
  onSegment: (s) => console.log(\`[\${s.start.toFixed(2)} -> \${s.end.toFixed(2)}] \${s.text}\`),
});
const longSeconds = (performance.now() - t0) / 1000;
`),
  code(`
const refHyp = new Map(loadReferenceTranscripts().map((j) => [j.path, j.hypothesis]));
const reference = norm(picked.map((p) => p.text).join(' '));
const oneByOne = picked.map((p) => refHyp.get('librispeech-mini/test/' + p.file)).join(' ');
const werLong = 100 * wer(reference, norm(result.text));
const werClips = 100 * wer(reference, norm(oneByOne));
console.log(\`WER long-form \${werLong.toFixed(2)}% vs clip by clip \${werClips.toFixed(2)}%\`);
display(tableHtml([
  { method: 'long-form (30 s windows, timestamps)', WER: +werLong.toFixed(2),
    windows: result.windows, silent_skipped: result.skippedSilent, seconds: +longSeconds.toFixed(1) },
  { method: 'clip by clip (reference transcripts)', WER: +werClips.toFixed(2),
    windows: picked.length, silent_skipped: 0, seconds: null },
], { caption: 'WER % on the same words' }));
display(tableHtml(result.segments.slice(0, 8).map((s) => ({ start: s.start.toFixed(2), end: s.end.toFixed(2), text: s.text })),
  { caption: 'first segments' }));
console.log(\`\${result.segments.length} segments in total\`);
`),
  md(`
## 4. The adapter notebook 05 trained

\`PeftModel.fromPretrained(model, 'out/run/adapter')\` loads the LoRA adapter (PEFT's files) onto a
second copy of whisper-tiny, so \`model\` above stays the base model whatever cell runs next. The
clips are notebook 03's held-out speakers (\`out/run/data/test\`), trimmed and normalized as in
training; the adapter is switched off for the base column (\`withAdapterDisabled\`, PEFT's
\`disable_adapter()\`), so both columns come from one set of weights.
`),
  code(`
const adapterDir = requireArtifact('adapter');
const testClips = loadFromDisk<PreparedRow & Row>(requireArtifact('testData'));
const adaptedModel = await fresh('adaptedModel', () => WhisperForConditionalGeneration.fromPretrained(sharedDir('models', 'whisper-tiny')));
const peft = await fresh('peft', () => PeftModel.fromPretrained(adaptedModel, adapterDir));
const withAdapter = [];
for (const r of testClips.rows.slice(0, SMOKE ? 2 : 8)) {
  const audio = (r.audio as DecodedAudio).array;
  const base = await peft.withAdapterDisabled(() => transcribeAny({ model: adaptedModel, tokenizer: tokenizer, featureExtractor: pipe.featureExtractor }, audio, { language: 'en' }));
  const tuned = await transcribeAny({ model: adaptedModel, tokenizer: tokenizer, featureExtractor: pipe.featureExtractor }, audio, { language: 'en' });
  withAdapter.push({ reference: r.text, player: audioPlayerHtml(audio, 16000), base: base.text, 'base + adapter': tuned.text,
    right: norm(tuned.text) === norm(r.text) ? 'yes' : 'no' });
}
display(tableHtml(withAdapter, { htmlColumns: ['player'], caption: \`held-out speakers, adapter from \${path.relative(process.cwd(), adapterDir)}\` }));
console.log(\`with the adapter \${withAdapter.filter((r) => r.right === 'yes').length}/\${withAdapter.length} clips right; \` +
  \`base \${withAdapter.filter((r) => norm(r.base) === norm(r.reference)).length}/\${withAdapter.length}\`);
`),
  md(`
## 5. The live demo

\`startDemo\` starts a web server on 127.0.0.1 (this machine only) that serves one page: press
**Record**, speak, press **Stop**, and the transcript appears with the time it took; or upload a
file (25 MB at most; a file that is not audio gets a clear error). Started with an adapter, the page
offers "base" vs "base + adapter". From a terminal: \`npm run demo -- --adapter out/run/adapter --port 7860\`.

Here it shares the adapted model loaded above. Open the printed URL in a browser on this machine.
`),
  code(`
// (tslab: write { model: model }, not { model }: a shorthand property loses a variable of another cell.)
const transcriber = await createTranscriber({ loaded: { model: adaptedModel, tokenizer: tokenizer, featureExtractor: pipe.featureExtractor }, peft: peft, model: 'whisper-tiny' });
// fresh(): re-running this cell stops the previous server first.
const demo = await fresh('demo', () => startDemo({ transcriber: transcriber, port: 0 }));
console.log(\`demo running at \${demo.url}\`);
display(\`<p>Demo: <a href="\${escapeHtml(demo.url)}" target="_blank">\${escapeHtml(demo.url)}</a></p>\`);
console.log('open it in a browser on this machine');
`),
  md(`
The page posts the recording (a WAV made in the browser) to \`/api/transcribe?variant=base|adapter\`.
We can do the same from here: a held-out digit clip to both variants, and something that is not audio:
`),
  code(`
const post = async (bytes: Uint8Array, name: string, variant = 'base') => {
  const r = await fetch(new URL(\`api/transcribe?variant=\${variant}\`, demo.url), { method: 'POST', body: bytes, headers: { 'X-File-Name': name } });
  const body = (await r.json()) as { text?: string; error?: string; seconds?: number };
  return { status: r.status, ...body };
};
const digit = encodeWav((testClips.get(0).audio as DecodedAudio).array, 16000);
const digitBase = await post(digit, 'digit.wav', 'base');
const digitTuned = await post(digit, 'digit.wav', 'adapter');
const bad = await post(Buffer.from('hello, I am a text file'), 'notes.txt');
display(tableHtml([
  { upload: \`digit.wav ("\${testClips.get(0).text}")\`, variant: 'base', status: digitBase.status, answer: digitBase.text, seconds: digitBase.seconds?.toFixed(2) },
  { upload: \`digit.wav ("\${testClips.get(0).text}")\`, variant: 'adapter', status: digitTuned.status, answer: digitTuned.text, seconds: digitTuned.seconds?.toFixed(2) },
  { upload: 'notes.txt', variant: 'base', status: bad.status, answer: bad.error, seconds: null },
]));
console.log(\`demo, base + adapter: "\${digitTuned.text}" for "\${testClips.get(0).text}"\`);
console.log(\`notes.txt -> HTTP \${bad.status}: \${bad.error}\`);
`),
  md(`
## 6. Deploy: the adapter in whisper.cpp

\`exportModel\` (the CLI: \`npm run export -- --model ../shared/models/whisper-tiny --adapter out/run/adapter --format ggml --out tuned.bin\`)
merges the adapter into the base weights (PEFT's \`merge_and_unload\`: W + scaling · B A) and writes
one ggml file (F16 matrices) that whisper.cpp, its apps and its bindings load. \`--format safetensors\`
writes a merged Hugging Face folder instead (transformers, transformers.js's converter, this demo).
whisper.cpp runs here through npm \`@napi-rs/whisper\`, greedy, language forced, no timestamps, like
section 4; its transcripts should be ours, word for word (the merged weights are rounded to F16, so a
rare token may differ).
`),
  code(`
const ggml = await exportModel({ model: sharedDir('models', 'whisper-tiny'), adapter: adapterDir, format: 'ggml', out: path.join(runDir(), 'adapter-ggml-f16.bin') });
const cpp = whisperCpp(ggml, { language: 'en' });
const deployed = testClips.rows.slice(0, withAdapter.length).map((r, i) => {
  const text = cpp((r.audio as DecodedAudio).array);
  return { reference: r.text, 'ours (base + adapter)': withAdapter[i]['base + adapter'], 'whisper.cpp (merged ggml)': text,
    same: text.trim() === String(withAdapter[i]['base + adapter']).trim() ? 'yes' : 'no' };
});
display(tableHtml(deployed, { caption: \`\${path.basename(ggml)}: \${(fs.statSync(ggml).size / 2 ** 20).toFixed(1)} MiB\` }));
console.log(\`whisper.cpp with the merged adapter: \${deployed.filter((r) => r.same === 'yes').length}/\${deployed.length} transcripts the same as ours\`);
`),
  md(`
Stop the server when you are done (re-running the cell above starts a new one), and free the
adapted model:
`),
  code(`
await releaseAll();   // closes the demo server, if it still runs, and frees the models
console.log('demo stopped');
`),
];

