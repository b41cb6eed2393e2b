/**
 * Memory and time of full fine-tuning whisper-tiny (BENCHMARKS.md "Full fine-tuning"): a few
 * optimizer steps on real FSDD clips, then the process's peak RSS (VmHWM) and the wasm heap.
 * One configuration per process, since peak RSS only grows:
 *
 *   MODE=frozen BATCH=8 npx tsx bench/full-finetune.ts          freezeEncoder(): decoder only, cached encoder
 *   MODE=all BATCH=8 MICRO=1 npx tsx bench/full-finetune.ts     every weight: micro-batches of 1, 8 accumulated
 *   MODE=lora BATCH=8 npx tsx bench/full-finetune.ts            LoRA on the decoder (the notebooks' adapter), for comparison
 *
 * STEPS (default 3) optimizer steps; the first includes one-time allocations, the others are timed.
 */
import * as fs from 'fs';
import * as path from 'path';
import { describeBackend, initBackend, tf } from '../src/backend';
import { loadCsvDataset, prepareDataset } from '../src/data';
import { WhisperFeatureExtractor } from '../src/features/logmel';
import { getPeftModel, LoraConfig } from '../src/lora';
import { WhisperForConditionalGeneration } from '../src/model/whisper';
import { PROJECT_ROOT, sharedDir } from '../tools/shared';
import { WhisperTokenizer } from '../src/tokenizer/whisper';
import { Seq2SeqTrainer, seq2SeqTrainingArguments } from '../src/train';

const MODE = process.env.MODE ?? 'frozen';
const BATCH = Number(process.env.BATCH ?? 8);
const MICRO = Number(process.env.MICRO ?? BATCH);
const STEPS = Number(process.env.STEPS ?? 3);

function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main() {
  const backend = await initBackend();
  console.log(describeBackend(backend));
  const dir = sharedDir('models', 'whisper-tiny');
  const fsdd = await loadCsvDataset(sharedDir('datasets', 'fsdd-digits', 'dataset.csv'));
  const data = await prepareDataset(fsdd.select([...Array(BATCH * STEPS).keys()]), {
    featureExtractor: WhisperFeatureExtractor.fromPretrained(dir), tokenizer: await WhisperTokenizer.fromPretrained(dir), language: 'en', normalizer: 'simple',
  });
  const model = await WhisperForConditionalGeneration.fromPretrained(dir);
  if (MODE === 'frozen') model.freezeEncoder();
  const trained = MODE === 'lora'
    ? getPeftModel(model, new LoraConfig({ r: 8, loraAlpha: 16, targetModules: String.raw`model\.decoder\.layers\.\d+\.(self_attn|encoder_attn)\.(q_proj|k_proj|v_proj|out_proj)|model\.decoder\.layers\.\d+\.(fc1|fc2)` }))
    : model;
  const times: number[] = [];
  const trainer = new Seq2SeqTrainer({
    model: trained, trainDataset: data,
    args: seq2SeqTrainingArguments({ outputDir: path.join(PROJECT_ROOT, 'out', 'bench-full-finetune'), perDeviceTrainBatchSize: MICRO,
      gradientAccumulationSteps: BATCH / MICRO, maxSteps: STEPS, saveStrategy: 'no', learningRate: 1e-5, loggingSteps: 1, groupByLength: false }),
    callbacks: [{ onStepEnd: (_a, _s, _c, s) => {
      times.push(s.seconds);
      console.log(`step ${s.step}: ${s.seconds.toFixed(1)} s, loss ${s.loss.toFixed(4)}, peak RSS ${peakRssMiB().toFixed(0)} MiB`);
    } }],
  });
  const t0 = Date.now();
  if (trainer.usesEncoderCache) await trainer.precomputeEncoderOutputs(data);
  const encodeS = (Date.now() - t0) / 1000;
  await trainer.train();
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length ?? 0;
  const trainable = trainer.model instanceof WhisperForConditionalGeneration
    ? [...trainer.model.trainableParameters().values()].reduce((n, v) => n + v.size, 0)
    : (trained as ReturnType<typeof getPeftModel>).getNbTrainableParameters()[0];
  const later = times.slice(1);
  console.log(JSON.stringify({
    mode: MODE, batch: BATCH, micro: MICRO, steps: STEPS, trainable, encoderPassS: +encodeS.toFixed(1),
    secondsPerStep: later.length ? +(later.reduce((a, b) => a + b, 0) / later.length).toFixed(2) : times[0],
    peakRssMiB: Math.round(peakRssMiB()), wasmHeapMiB: Math.round(heap / 2 ** 20), peakTensorMiB: Math.round(trainer.state.peak_tensor_bytes / 2 ** 20),
  }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
