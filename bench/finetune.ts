/**
 * The fine-tuning experiments of EXPERIMENTS.md: whisper-tiny + LoRA on the decoder, the frozen
 * encoder computed once per clip, WER before and after on held-out clips.
 *
 *   npx tsx bench/finetune.ts fsdd          spoken digits: 4 speakers train, the 2 others evaluate
 *   npx tsx bench/finetune.ts librispeech   librispeech-mini: train split (150) -> test split (100)
 *
 * Writes out/<name>-lora/{results.json, log.jsonl, adapter/}. Env overrides (defaults per dataset
 * below): EPOCHS, LR, WARMUP, R, BATCH, EVAL_EACH_EPOCH (1: evaluate every epoch and keep the best),
 * TRAIN_PER_DIGIT / EVAL_PER_DIGIT (fsdd: takes per digit and speaker), LIMIT_TRAIN / LIMIT_EVAL, OUT.
 */
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, describeBackend } from '../src/backend';
import { sharedDir, PROJECT_ROOT } from '../tools/shared';
import { WhisperForConditionalGeneration } from '../src/model/whisper';
import { WhisperTokenizer } from '../src/tokenizer/whisper';
import { WhisperFeatureExtractor } from '../src/features/logmel';
import { loadAudio } from '../src/audio/decode';
import { AudioDataset, loadAudioFolder, loadCsvDataset, Row } from '../src/data';
import { getNormalizer } from '../src/text';
import { wer } from '../src/eval/metrics';
import { getPeftModel, LoraConfig } from '../src/lora';
import { Seq2SeqTrainer, seq2SeqTrainingArguments, EvalPrediction } from '../src/train';
import type { PreparedRow } from '../src/data';
import { parseFlags } from '../apps/args';

interface Experiment {
  train: readonly Row[];
  eval: readonly Row[];
  describe: string;
  /** Target text from a manifest transcript. */
  target(text: string): string;
  defaults: Record<string, number>;
  generationMaxLength: number;
}

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const limit = (rows: readonly Row[], k: string) => rows.slice(0, env(k, rows.length));

const EXPERIMENTS: Record<string, () => Promise<Experiment>> = {
  /** File names are <digit>_<speaker>_<take>.wav; the first takes of each digit per speaker. */
  async fsdd() {
    const ds = await loadCsvDataset(sharedDir('datasets', 'fsdd-digits', 'dataset.csv'));
    const parts = (r: Row) => path.basename(String(r.audio), '.wav').split('_');
    const pick = (speakers: string[], perDigit: number) =>
      ds.rows.filter((r) => speakers.includes(parts(r)[1]) && Number(parts(r)[2]) < perDigit);
    return {
      train: pick(['george', 'jackson', 'lucas', 'nicolas'], env('TRAIN_PER_DIGIT', 2)),
      eval: pick(['theo', 'yweweler'], env('EVAL_PER_DIGIT', 2)),
      describe: 'train speakers george, jackson, lucas, nicolas; eval speakers theo, yweweler',
      target: (t) => t,
      defaults: { EPOCHS: 1.5, LR: 3e-3, WARMUP: 2, EVAL_EACH_EPOCH: 0, BATCH: 8 },
      generationMaxLength: 16,
    };
  },
  /** Upper-case LibriSpeech transcripts are lower-cased (Whisper's tokens for plain text). */
  async librispeech() {
    const split = (s: string): Promise<AudioDataset> => loadAudioFolder(sharedDir('datasets', 'librispeech-mini', s));
    return {
      train: (await split('train')).rows,
      eval: (await split('test')).rows,
      describe: 'librispeech-mini train split -> test split (different speakers)',
      target: (t) => t.toLowerCase(),
      // Batch 4: transcripts up to ~100 tokens make batch-8 logits and their gradients too big
      // for wasm's 4 GB heap.
      defaults: { EPOCHS: 2, LR: 3e-4, WARMUP: 4, EVAL_EACH_EPOCH: 0, BATCH: 4 },
      generationMaxLength: 128,
    };
  },
};

async function main() {
  const t0 = Date.now();
  const secs = () => ((Date.now() - t0) / 1000).toFixed(0) + 's';
  const name = parseFlags(process.argv.slice(2), {}).positionals[0] ?? '';
  if (!EXPERIMENTS[name]) throw new Error(`usage: npx tsx bench/finetune.ts ${Object.keys(EXPERIMENTS).join('|')}`);
  const exp = await EXPERIMENTS[name]();
  const setting = (k: string) => env(k, exp.defaults[k]);
  const out = path.resolve(PROJECT_ROOT, process.env.OUT ?? `out/${name}-lora`);
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  console.log(describeBackend(await initBackend()));
  const dir = sharedDir('models', 'whisper-tiny');
  const model = await WhisperForConditionalGeneration.fromPretrained(dir);
  const tok = await WhisperTokenizer.fromPretrained(dir);
  const fe = WhisperFeatureExtractor.fromPretrained(dir);
  const norm = getNormalizer('english', { normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json') });

  const prefix = tok.prefixTokens({ language: 'en', task: 'transcribe' });
  const featurize = async (r: Row): Promise<PreparedRow & { text: string }> => ({
    inputFeatures: fe.extract(await loadAudio(String(r.audio))),
    // Whisper writes a leading space before a segment's text; the target follows that convention.
    labels: [...prefix, ...tok.encode(' ' + exp.target(r.text)), tok.eot],
    id: path.basename(String(r.audio)),
    text: r.text,
  });
  const train: (PreparedRow & { text: string })[] = [];
  for (const r of limit(exp.train, 'LIMIT_TRAIN')) train.push(await featurize(r));
  const evalSet: (PreparedRow & { text: string })[] = [];
  for (const r of limit(exp.eval, 'LIMIT_EVAL')) evalSet.push(await featurize(r));
  console.log(`${secs()} features: ${train.length} train clips, ${evalSet.length} eval clips (${exp.describe})`);

  const lora = new LoraConfig({
    r: env('R', 8), loraAlpha: 2 * env('R', 8), loraDropout: 0.05,
    // Decoder only (self- and cross-attention, MLP): the encoder stays frozen, so it runs once per clip.
    targetModules: String.raw`model\.decoder\.layers\.\d+\.(self_attn|encoder_attn)\.(q_proj|k_proj|v_proj|out_proj)|model\.decoder\.layers\.\d+\.(fc1|fc2)`,
    baseModelNameOrPath: 'openai/whisper-tiny',
  });
  const peft = getPeftModel(model, lora, { seed: 0 });
  const paramsLine = peft.trainableParametersLine();
  console.log(paramsLine);

  const hypsOf = (p: EvalPrediction) => p.predictions.map((ids) => tok.decode(ids, { skipSpecialTokens: true }));
  let lastHyps: string[] = [];
  const computeMetrics = (p: EvalPrediction) => {
    lastHyps = hypsOf(p);
    return { wer: 100 * wer(evalSet.map((e) => norm(e.text)), lastHyps.map(norm)) };
  };
  const epochs = setting('EPOCHS');
  const evalEach = setting('EVAL_EACH_EPOCH') === 1;
  const args = seq2SeqTrainingArguments({
    outputDir: out, learningRate: setting('LR'), warmupSteps: setting('WARMUP'), lrSchedulerType: 'linear', numTrainEpochs: epochs,
    // EVAL_EACH_EPOCH=0: evaluate only before and after (each evaluation costs minutes on a busy CPU).
    perDeviceTrainBatchSize: setting('BATCH'), perDeviceEvalBatchSize: 8, evalStrategy: evalEach ? 'epoch' : 'no', saveStrategy: 'epoch',
    saveTotalLimit: 1, loadBestModelAtEnd: evalEach, metricForBestModel: 'wer', greaterIsBetter: false, loggingSteps: 2,
    predictWithGenerate: true, generationMaxLength: exp.generationMaxLength, seed: 0, maxGradNorm: 1, weightDecay: 0.01,
  });
  const trainer = new Seq2SeqTrainer({
    model: peft, args, trainDataset: train, evalDataset: evalSet, computeMetrics,
    generateOptions: { language: 'en', task: 'transcribe' },
    callbacks: [{
      onLog: (_a, _s, _c, e) => console.log(`${secs()} ${JSON.stringify(e)}`),
      onEncode: (_a, _s, _c, { done, total }) => {
        if (done === total || done % 10 === 0) console.log(`${secs()} encoder ${done}/${total}`);
      },
    }],
  });
  // The frozen encoder's outputs are kept on disk too (out/<name>-encoder-cache), so a re-run skips them.
  const all = [...train, ...evalSet];
  const tEnc = Date.now();
  await trainer.precomputeEncoderOutputs(all, { cacheDir: path.resolve(PROJECT_ROOT, 'out', `${name}-encoder-cache`) });
  const encodeS = (Date.now() - tEnc) / 1000;

  // B = 0, so before training the adapted model is exactly the base model.
  const base = await trainer.evaluate();
  const baseHyps = lastHyps;
  const tTrain = Date.now();
  const res = await trainer.train();
  const trainS = (Date.now() - tTrain) / 1000;
  const final = await trainer.evaluate();
  peft.saveAdapter(path.join(out, 'adapter'));
  const result = {
    command: `npx tsx bench/finetune.ts ${name}`, backend: describeBackend(await initBackend()).split('\n')[0],
    settings: Object.fromEntries(['EPOCHS', 'LR', 'WARMUP', 'EVAL_EACH_EPOCH', 'R', 'BATCH'].map((k) => [k, env(k, exp.defaults[k] ?? 8)])),
    trainClips: train.length, evalClips: evalSet.length, split: exp.describe,
    lora: lora.toJSON(), trainableParameters: paramsLine, steps: res.globalStep,
    baseWer: base.eval_wer, finalWer: final.eval_wer, relativeReduction: 1 - final.eval_wer / base.eval_wer,
    baseEvalLoss: base.eval_loss, finalEvalLoss: final.eval_loss,
    encoderPassSeconds: encodeS, trainSeconds: trainS, trainSecondsPerExample: trainS / (res.globalStep * args.perDeviceTrainBatchSize),
    totalSeconds: (Date.now() - t0) / 1000, peakTensorBytes: trainer.state.peak_tensor_bytes, rssBytes: process.memoryUsage().rss,
    examples: evalSet.slice(0, 12).map((e, i) => ({ id: e.id, ref: e.text, base: baseHyps[i], tuned: lastHyps[i] })),
  };
  fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result, null, 2));
  trainer.dispose();
  peft.dispose();
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
