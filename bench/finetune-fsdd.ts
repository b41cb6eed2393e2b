/**
 * The fine-tuning experiment of EXPERIMENTS.md: whisper-tiny + LoRA on spoken digits (FSDD),
 * trained on 4 speakers, evaluated on the 2 others, with the frozen encoder computed once per clip.
 *
 *   npx tsx bench/finetune-fsdd.ts            # writes out/fsdd-lora/{results.json,log.jsonl,adapter/}
 *
 * Env (defaults in brackets): TRAIN_PER_DIGIT [2] clips per digit per training speaker,
 * EVAL_PER_DIGIT [2] per held-out speaker, EPOCHS [3], LR [1e-3], R [8], BATCH [8], OUT [out/fsdd-lora].
 */
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, describeBackend, tf } from '../src/backend';
import { sharedDir, PROJECT_ROOT } from '../src/shared';
import { WhisperForConditionalGeneration } from '../src/model/whisper';
import { WhisperTokenizer } from '../src/tokenizer/whisper';
import { WhisperFeatureExtractor } from '../src/features/logmel';
import { loadAudio } from '../src/audio/decode';
import { getNormalizer } from '../src/text';
import { wer } from '../src/eval/metrics';
import { getPeftModel, LoraConfig } from '../src/lora';
import { Seq2SeqTrainer, seq2SeqTrainingArguments, Seq2SeqFeature, EvalPrediction } from '../src/train';

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const TRAIN_SPEAKERS = ['george', 'jackson', 'lucas', 'nicolas'];
const EVAL_SPEAKERS = ['theo', 'yweweler'];

async function main() {
  const t0 = Date.now();
  const secs = () => ((Date.now() - t0) / 1000).toFixed(0) + 's';
  const out = path.resolve(PROJECT_ROOT, process.env.OUT ?? 'out/fsdd-lora');
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  console.log(describeBackend(await initBackend()));
  const dir = sharedDir('models', 'whisper-tiny');
  const model = await WhisperForConditionalGeneration.fromPretrained(dir);
  const tok = await WhisperTokenizer.fromPretrained(dir);
  const fe = WhisperFeatureExtractor.fromPretrained(dir);
  const norm = getNormalizer('english');

  // Clips: file name <digit>_<speaker>_<take>.wav; the first takes of each digit per speaker.
  const csvDir = sharedDir('datasets', 'fsdd-digits');
  const rows = fs.readFileSync(path.join(csvDir, 'dataset.csv'), 'utf8').trim().split(/\r?\n/).slice(1).map((l) => {
    const [file, text] = l.split(',').map((x) => x.trim()); // the CSV has CRLF line ends
    const [digit, speaker, take] = path.basename(file, '.wav').split('_');
    return { file: path.join(csvDir, file), text, digit: Number(digit), speaker, take: Number(take) };
  });
  const pick = (speakers: string[], perDigit: number) => rows.filter((r) => speakers.includes(r.speaker) && r.take < perDigit);
  const trainRows = pick(TRAIN_SPEAKERS, env('TRAIN_PER_DIGIT', 2));
  const evalRows = pick(EVAL_SPEAKERS, env('EVAL_PER_DIGIT', 2));
  const prefix = tok.prefixTokens({ language: 'en', task: 'transcribe' });
  const featurize = async (r: (typeof rows)[number]): Promise<Seq2SeqFeature & { text: string }> => ({
    inputFeatures: fe.extract(await loadAudio(r.file)),
    // Whisper writes a leading space before a segment's text; the target follows that convention.
    labels: [...prefix, ...tok.encode(' ' + r.text), tok.eot],
    id: path.basename(r.file),
    text: r.text,
  });
  const train = await Promise.all(trainRows.map(featurize));
  const evalSet = await Promise.all(evalRows.map(featurize));
  console.log(`${secs()} features: ${train.length} train clips (${TRAIN_SPEAKERS}), ${evalSet.length} eval clips (${EVAL_SPEAKERS})`);

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
  const epochs = env('EPOCHS', 3);
  const evalEach = env('EVAL_EACH_EPOCH', 1) === 1;
  const args = seq2SeqTrainingArguments({
    outputDir: out, learningRate: env('LR', 1e-3), warmupSteps: env('WARMUP', 10), lrSchedulerType: 'linear', numTrainEpochs: epochs,
    // EVAL_EACH_EPOCH=0: evaluate only before and after (each evaluation costs minutes on a busy CPU).
    perDeviceTrainBatchSize: env('BATCH', 8), perDeviceEvalBatchSize: 16, evalStrategy: evalEach ? 'epoch' : 'no', saveStrategy: 'epoch',
    saveTotalLimit: 1, loadBestModelAtEnd: evalEach, metricForBestModel: 'wer', greaterIsBetter: false, loggingSteps: 2,
    predictWithGenerate: true, generationMaxLength: 16, seed: 0, maxGradNorm: 1, weightDecay: 0.01,
  });
  const trainer = new Seq2SeqTrainer({
    model: peft, args, trainDataset: train, evalDataset: evalSet, computeMetrics,
    generateOptions: { language: 'en', task: 'transcribe' },
    callbacks: {
      onLog: (e) => console.log(`${secs()} ${JSON.stringify(e)}`),
      onEncode: (d, n) => {
        if (d === n || d % 10 === 0) console.log(`${secs()} encoder ${d}/${n}`);
      },
    },
  });
  // The frozen encoder's outputs are kept on disk too (out/fsdd-encoder-cache), so a re-run skips them.
  const all = [...train, ...evalSet];
  const tEnc = Date.now();
  await trainer.precomputeEncoderOutputs(all, { cacheDir: path.resolve(PROJECT_ROOT, 'out', 'fsdd-encoder-cache') });
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
    command: 'npx tsx bench/finetune-fsdd.ts', env: Object.fromEntries(['TRAIN_PER_DIGIT', 'EVAL_PER_DIGIT', 'EPOCHS', 'LR', 'R', 'BATCH', 'WARMUP', 'EVAL_EACH_EPOCH'].map((k) => [k, process.env[k] ?? 'default'])),
    trainClips: train.length, evalClips: evalSet.length, trainSpeakers: TRAIN_SPEAKERS, evalSpeakers: EVAL_SPEAKERS,
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
  void tf;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
