/**
 * When does fine-tuning on <|notimestamps|> labels only break long-form transcription, and does
 * `timestampRatio: 0.5` keep it (issue 24, notebook 08)? One training setting per run, trained
 * twice from the same start, the labels the only difference; then, for base and both:
 *
 * - cheap: on the first WINDOWS 30 s windows of en_long.flac (speaker 1867, never trained on), the
 *   probability of any timestamp token right after <|startoftranscript|><|en|><|transcribe|>, and
 *   a greedy timestamp-mode decode of each window: timestamp tokens emitted, words;
 * - LONG=1: the long-form run on the whole recording (transcribeAudio): WER, segments, times.
 *
 *   MODE=lora TARGETS=qv R=8 LR=1e-3 STEPS=48 npx tsx bench/timestamp-forgetting.ts
 *   MODE=lora TARGETS=all R=32 LR=1e-3 STEPS=48 npx tsx bench/timestamp-forgetting.ts
 *   MODE=decoder LR=1e-4 STEPS=48 LONG=1 npx tsx bench/timestamp-forgetting.ts   full fine-tuning of the decoder
 *
 * N_TRAIN (64) clips of librispeech-mini/train (speaker 1867 left out), batch 8, 4 warmup steps,
 * seed 0, as notebook 08. SAVE=1 keeps the trained adapter (or decoder fine-tune) in out/bench-timestamp-forgetting/. The base model's own segment times of the training clips are cached in
 * out/bench-timestamp-forgetting/segments-N.json. LABELS=notimestamps|timestamps trains one only.
 */
import * as fs from 'fs';
import * as path from 'path';
import { describeBackend, initBackend, tf } from '../src/backend';
import { loadAudio } from '../src/audio';
import { loadAudioFolder, prepareDataset, retimeText, TimedSegment } from '../src/data';
import { wer } from '../src/eval';
import { getPeftModel, LoraConfig } from '../src/lora';
import { clipSegments, decode, DecoderSession, AudioFeatures, loadWhisper, transcribeAudio, WhisperForConditionalGeneration } from '../src/model';
import { Seq2SeqTrainer, seq2SeqTrainingArguments } from '../src/train';
import { sotSequence } from '../src/tokenizer/special';
import { PROJECT_ROOT, sharedDir } from '../tools/shared';

const MODE = process.env.MODE ?? 'lora';
const TARGETS = process.env.TARGETS ?? 'qv';
const R = Number(process.env.R ?? 8);
const LR = Number(process.env.LR ?? 1e-3);
const STEPS = Number(process.env.STEPS ?? 48);
const N_TRAIN = Number(process.env.N_TRAIN ?? 64);
const WINDOWS = Number(process.env.WINDOWS ?? 3);
const LONG = process.env.LONG === '1';
const LABELS = (process.env.LABELS ?? 'notimestamps,timestamps').split(',');
const OUT = path.join(PROJECT_ROOT, 'out', 'bench-timestamp-forgetting');

const TARGET_PATTERNS: Record<string, string> = {
  qv: String.raw`model\.decoder\.layers\.\d+\.(self_attn|encoder_attn)\.(q_proj|v_proj)`,
  all: String.raw`model\.decoder\.layers\.\d+\.((self_attn|encoder_attn)\.(q_proj|k_proj|v_proj|out_proj)|fc1|fc2)`,
};

async function main() {
  console.log(describeBackend(await initBackend()));
  const setting = MODE === 'decoder' ? `decoder full fine-tuning, lr ${LR}, ${STEPS} steps` : `LoRA ${TARGETS} r=${R}, lr ${LR}, ${STEPS} steps`;
  console.log(`setting: ${setting}, ${N_TRAIN} clips`);
  fs.mkdirSync(OUT, { recursive: true });
  const modelDir = sharedDir('models', 'whisper-tiny');
  const pipe = await loadWhisper(modelDir);
  const { tokenizer, featureExtractor } = pipe;
  const sp = pipe.model.specialTokens;
  const norm = (s: string) => tokenizer.normalize(s);

  const all = await loadAudioFolder(sharedDir('datasets', 'librispeech-mini', 'train'));
  const train = all.filter((r) => String(r.speaker_id) !== '1867').shuffle(0).select([...Array(N_TRAIN).keys()]);
  const longClips = all.filter((r) => String(r.speaker_id) === '1867').rows
    .map((r) => ({ file: path.basename(String(r.audio)), text: String(r.text) }))
    .sort((a, b) => a.file.localeCompare(b.file));
  const longReference = longClips.map((c) => c.text).join(' ');
  const longAudio = await loadAudio(sharedDir('reference', 'whisper-tiny', 'longform', 'en_long.flac'));
  const longSeconds = longAudio.length / 16000;

  const segFile = path.join(OUT, `segments-${N_TRAIN}.json`);
  let segments: TimedSegment[][];
  if (fs.existsSync(segFile)) segments = JSON.parse(fs.readFileSync(segFile, 'utf8'));
  else {
    segments = [];
    for (let i = 0; i < train.numRows; i++) {
      const own = await clipSegments(pipe, await train.audio(i), { language: 'en' });
      const text = String(train.get(i).text);
      segments.push(retimeText(own.length ? own : [{ start: 0, end: Number(train.get(i).duration), text }], text));
    }
    fs.writeFileSync(segFile, JSON.stringify(segments));
  }
  const lower = (s: string) => s.toLowerCase();
  const prep = async (timestampRatio: number) => (await prepareDataset(train.addColumn('segments', segments),
    { featureExtractor, tokenizer, language: 'en', normalizer: lower, timestampRatio, seed: 0 })).rows;

  // The cheap probes: features of the first WINDOWS 30 s windows.
  const windows = [...Array(WINDOWS).keys()].map((w) => longAudio.subarray(w * 480000, (w + 1) * 480000));
  const timestampBegin = sp.timestampBegin;
  type Model = typeof pipe.model;
  async function probe(model: Model) {
    const features = featureExtractor.call(windows);
    const enc = model.encode(features);
    const audio = new AudioFeatures(model, enc);
    try {
      const session = new DecoderSession(audio, windows.map((_, i) => i));
      const prompt = sotSequence(sp, { language: 'en', task: 'transcribe', timestamps: true });
      const logits = await session.logits(windows.map(() => prompt));
      session.dispose();
      const pTs = logits.map(([l]) => {
        let m = -Infinity;
        for (const x of l) m = Math.max(m, x);
        let z = 0;
        let ts = 0;
        for (let i = 0; i < l.length; i++) {
          const e = Math.exp(l[i] - m);
          z += e;
          if (i >= timestampBegin) ts += e;
        }
        return { ts: ts / z, noTs: Math.exp(l[sp.noTimestamps] - m) / z };
      });
      const decoded = await decode(model, { audio }, { language: 'en', withoutTimestamps: false });
      const nTs = decoded.map((d) => d.tokens.filter((t) => t >= timestampBegin).length);
      const words = decoded.map((d) => tokenizer.decode(d.tokens, { skipSpecialTokens: true }).trim().split(/\s+/).filter(Boolean).length);
      return {
        pTimestampFirst: +(pTs.reduce((a, p) => a + p.ts, 0) / pTs.length).toFixed(4),
        pNoTimestampsFirst: +(pTs.reduce((a, p) => a + p.noTs, 0) / pTs.length).toFixed(4),
        timestampTokens: nTs, words,
      };
    } finally {
      audio.dispose();
      tf.dispose([features, enc]);
    }
  }
  async function longRun(model: Model) {
    const r = await transcribeAudio({ model, tokenizer, featureExtractor }, longAudio, { language: 'en' });
    const s = r.segments;
    return {
      werPct: +(100 * wer(norm(longReference), norm(r.text))).toFixed(2), segments: s.length, windows: r.windows,
      withTimes: s.filter((x) => x.end > x.start).length,
      increasing: s.every((x, i) => x.end >= x.start && (i === 0 || x.start >= s[i - 1].start)),
      inside: s.every((x) => x.start >= 0 && x.end <= longSeconds + 0.5),
      coveredS: +s.reduce((a, x) => a + Math.max(0, x.end - x.start), 0).toFixed(1), lastEndS: +(s.at(-1)?.end ?? 0).toFixed(1),
    };
  }

  const results: Record<string, unknown>[] = [];
  const report = (row: Record<string, unknown>) => {
    results.push(row);
    console.log(JSON.stringify(row));
  };
  if (process.env.BASE !== '0') {
    report({ model: 'base', ...(await probe(pipe.model)), ...(LONG ? await longRun(pipe.model) : {}) });
  }

  for (const labels of LABELS) {
    const data = await prep(labels === 'timestamps' ? 0.5 : 0);
    const model = await WhisperForConditionalGeneration.fromPretrained(modelDir);
    let trained: ConstructorParameters<typeof Seq2SeqTrainer>[0]['model'] = model;
    if (MODE === 'decoder') model.freezeEncoder();
    else trained = getPeftModel(model, new LoraConfig({ r: R, loraAlpha: 2 * R, loraDropout: 0.05, targetModules: TARGET_PATTERNS[TARGETS] }), { seed: 0 });
    const t0 = Date.now();
    const trainer = new Seq2SeqTrainer({ model: trained, trainDataset: data,
      args: seq2SeqTrainingArguments({ outputDir: path.join(OUT, labels), learningRate: LR, warmupSteps: 4,
        perDeviceTrainBatchSize: 8, maxSteps: STEPS, saveStrategy: 'no', loggingSteps: 8, seed: 0 }) });
    await trainer.precomputeEncoderOutputs(data, { cacheDir: path.join(PROJECT_ROOT, 'out', 'encoder-cache', 'librispeech-train') });
    const out = await trainer.train();
    const trainS = (Date.now() - t0) / 1000;
    // The trained weights, for other checks (bench/transformers-check.ts takes either).
    if (process.env.SAVE === '1') {
      if (MODE === 'decoder') model.savePretrained(path.join(OUT, `model-${labels}`));
      else trainer.saveModel(path.join(OUT, `adapter-${labels}`));
    }
    report({ model: labels, setting, loss: +out.trainingLoss.toFixed(3), trainS: Math.round(trainS), ...(await probe(model)), ...(LONG ? await longRun(model) : {}) });
    model.dispose();
  }
  fs.appendFileSync(path.join(OUT, 'results.jsonl'), results.map((r) => JSON.stringify({ setting, ...r })).join('\n') + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
