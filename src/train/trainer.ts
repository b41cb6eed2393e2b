/**
 * Seq2SeqTrainer: the Hugging Face training loop for Whisper on TensorFlow.js, for LoRA (a
 * PeftModel) and for full fine-tuning (a plain WhisperForConditionalGeneration).
 *
 *   const trainer = new Seq2SeqTrainer({ model, args, trainDataset, evalDataset, dataCollator, computeMetrics, callbacks });
 *   await trainer.train();                      // or train({ resumeFromCheckpoint: true })
 *   trainer.saveModel(dir);                     // the adapter (PEFT layout) or the whole model (HF layout)
 *
 * Datasets are prepareDataset's rows, in memory or streamed. AdamW + warmup schedule + gradient
 * accumulation + global-norm clipping; evaluation (loss and, with predictWithGenerate, metrics on
 * generated text); log.jsonl; atomic checkpoints with rotation; best-model reload; callbacks
 * (early stopping is one); exact resume. When nothing in the encoder is trained, the frozen
 * encoder runs once per clip and its output is reused every epoch (the big CPU win).
 */
import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { getMatmulPrecision, heapLimitBytes, prefetch, setMatmulPrecision } from '../backend';
import { atomicWriteFile, cleanStaleTemporaries, fsyncPath } from '../atomic';
import { DataCollatorSpeechSeq2SeqWithPadding } from '../data/collator';
import type { PeftModel } from '../lora/peft';
import { ModelCardInfo, writeModelCard } from '../hub/card';
import type { PushOptions, PushResult } from '../hub/push';
import type { WhisperForConditionalGeneration } from '../model/whisper';
import { greaterIsBetter, metricKey, Seq2SeqTrainingArguments } from './args';
import { callHook, EarlyStoppingCallback, HookName, StepInfo, TrainerCallback, TrainerControl } from './callbacks';
import {
  checkpointDir, CheckpointError, listCheckpoints, loadCheckpoint, LogEntry, rotateCheckpoints, saveCheckpoint, TrainerState,
} from './checkpoint';
import { chunks, epochSteps, iterateRows, rowsOf, Rows, Seq2SeqDataset } from './data';
import type { PreparedRow } from '../data/types';
import { EncoderCache } from './encoderCache';
import { crossEntropyLoss } from './loss';
import { asTrainable, TrainableModel } from './model';
import { AdamW, clipByGlobalNorm } from './optimizer';
import { GradientJob, GradientWorkers } from './dataParallel';
import { labelledPositions, lossAndGradients, MicroBatch, microBatch } from './step';
import { lrLambda, warmupStepsFor } from './schedule';

export interface EvalPrediction {
  /** Generated token ids per example (prompt and <|endoftext|> excluded). */
  predictions: number[][];
  /** Target ids per example (the labels without <|startoftranscript|> and padding). */
  labelIds: number[][];
}

export interface Seq2SeqTrainerOptions {
  /** A PeftModel (LoRA) or a WhisperForConditionalGeneration (full fine-tuning; freezeEncoder() first to train the decoder only). */
  model: PeftModel | WhisperForConditionalGeneration;
  args: Seq2SeqTrainingArguments;
  /** prepareDataset's rows: an array, an AudioDataset, or a stream (then args.maxSteps is required). */
  trainDataset: Seq2SeqDataset;
  evalDataset?: Seq2SeqDataset;
  /** Pads batches (default: a DataCollatorSpeechSeq2SeqWithPadding from the model's config). */
  dataCollator?: DataCollatorSpeechSeq2SeqWithPadding;
  /** From generated ids to metrics, e.g. {wer: 12.5}; keys get the eval_ prefix. */
  computeMetrics?: (p: EvalPrediction) => Record<string, number> | Promise<Record<string, number>>;
  callbacks?: TrainerCallback[];
  /** Decoding settings for predictWithGenerate. */
  generateOptions?: { language?: string; task?: 'transcribe' | 'translate' };
}

export interface TrainOutput {
  globalStep: number;
  /** Mean training loss over every optimizer step of the run (resumed runs included). */
  trainingLoss: number;
  metrics: Record<string, number>;
  /** True when a callback (early stopping) or stop() ended the run before maxSteps. */
  stoppedEarly: boolean;
}

/** Thrown when the loss or gradient norm is NaN/inf; no update was applied for that step. */
export class NonFiniteLossError extends Error {}

export class Seq2SeqTrainer {
  readonly model: PeftModel | WhisperForConditionalGeneration;
  readonly args: Seq2SeqTrainingArguments;
  readonly dataCollator: DataCollatorSpeechSeq2SeqWithPadding;
  readonly callbacks: TrainerCallback[];
  state: TrainerState;
  /** Checkpoints passed over by the last resume (each with the reason), newest first. */
  skippedCheckpoints: string[] = [];
  private trained: TrainableModel;
  private control: TrainerControl = { shouldTrainingStop: false, shouldSave: false, shouldEvaluate: false };
  private encoderCache: EncoderCache;
  private optimizer?: AdamW;
  /** Started by the first step with dataParallelWorkers > 1; stopped when train() returns. */
  private workers?: GradientWorkers;
  private logFile: string;

  constructor(private opts: Seq2SeqTrainerOptions) {
    this.model = opts.model;
    this.args = opts.args;
    this.trained = asTrainable(opts.model);
    const c = this.trained.config;
    this.dataCollator = opts.dataCollator ?? new DataCollatorSpeechSeq2SeqWithPadding({
      decoderStartTokenId: c.decoderStartTokenId, padTokenId: c.padTokenId, nMels: c.numMelBins });
    const rows = rowsOf(opts.trainDataset);
    if (rows && !rows.length) throw new Error('Seq2SeqTrainer: trainDataset is empty');
    if (!rows && !(this.args.maxSteps > 0)) {
      throw new Error('Seq2SeqTrainer: a streamed trainDataset has no length; set maxSteps in Seq2SeqTrainingArguments (as transformers requires)');
    }
    // Measured: whisper-tiny trained through the encoder peaks at 3.1 GB of wasm heap for one
    // 30 s example; with 2 the heap (4 GB at most) runs out and tfjs-wasm hangs in malloc.
    const heap = heapLimitBytes();
    if (heap !== undefined && heap <= 4 * 2 ** 30 && this.trained.trainsEncoder() && this.args.perDeviceTrainBatchSize > 1 &&
        c.maxSourcePositions >= 1500) {
      throw new Error(`Seq2SeqTrainer: per_device_train_batch_size ${this.args.perDeviceTrainBatchSize} while training the encoder ` +
        `does not fit the ${tf.getBackend()} backend's ${heap / 2 ** 30} GB heap (backprop keeps every 30 s example's 1500 x 1500 ` +
        'attention maps; one example needs about 3 GB). Use perDeviceTrainBatchSize: 1 with gradientAccumulationSteps set to ' +
        'the batch you want, or leave the encoder out (LoRA on decoder modules, or model.freezeEncoder() for full fine-tuning).');
    }
    if (this.trained.kind === 'full' && this.args.dataParallelWorkers > 1) {
      throw new Error('Seq2SeqTrainer: dataParallelWorkers > 1 is for LoRA (workers receive the adapter\'s weights every step); use 1 for full fine-tuning');
    }
    this.callbacks = [...(opts.callbacks ?? [])];
    if (this.args.earlyStoppingPatience > 0 && !this.callbacks.some((cb) => cb instanceof EarlyStoppingCallback)) {
      this.callbacks.push(new EarlyStoppingCallback({ earlyStoppingPatience: this.args.earlyStoppingPatience }));
    }
    this.encoderCache = new EncoderCache(() => this.trained.encoderWeights(), (f) => (f.length / c.numMelBins / 2) * c.dModel);
    this.state = this.freshState(0);
    this.logFile = path.join(this.args.outputDir, 'log.jsonl');
  }

  private freshState(maxSteps: number): TrainerState {
    return {
      global_step: 0, epoch: 0, step_in_epoch: 0, epoch_index: 0, max_steps: maxSteps, best_metric: null,
      best_model_checkpoint: null, patience_counter: 0, log_history: [], train_loss_sum: 0,
      rng_state: { seed: this.args.seed, scheme: 'shuffle=seedrandom(shuffle|seed|epoch), dropout=seedrandom(dropout|seed|step|micro)' },
      peak_tensor_bytes: 0, train_time_s: 0,
    };
  }

  /** HF add_callback. */
  addCallback(cb: TrainerCallback): void {
    this.callbacks.push(cb);
  }

  /** HF remove_callback. */
  removeCallback(cb: TrainerCallback): void {
    const i = this.callbacks.indexOf(cb);
    if (i >= 0) this.callbacks.splice(i, 1);
  }

  private hook<K extends HookName>(name: K, info?: Parameters<NonNullable<TrainerCallback[K]>>[3]): Promise<void> {
    return callHook(this.callbacks, name, this.args, this.state, this.control, info);
  }

  /** Asks the loop to stop after the current optimizer step (HF control.should_training_stop). */
  stop(): void {
    this.control.shouldTrainingStop = true;
  }

  /** True when encoder outputs are computed once and reused (nothing in the encoder is trained). */
  get usesEncoderCache(): boolean {
    return this.args.cacheEncoderOutputs && !this.trained.trainsEncoder();
  }

  /**
   * Runs the frozen encoder on every clip not yet cached (call it to time the pass separately).
   * With `cacheDir`, outputs are also kept on disk (see encoderCache.ts: keyed by the model's
   * encoder weights and the clip's features) and read back by later runs and later lookups.
   */
  async precomputeEncoderOutputs(data: Seq2SeqDataset, opts: { cacheDir?: string } = {}): Promise<void> {
    if (opts.cacheDir) await this.encoderCache.useDir(opts.cacheDir);
    const todo: PreparedRow[] = [];
    for await (const f of iterateRows(data)) if (!this.encoderCache.get(f.inputFeatures)) todo.push(f);
    // Small chunks: on single-threaded wasm a bigger batch is no faster per clip, and the
    // [B, heads, 1500, 1500] attention scores of a big one cost gigabytes.
    const bs = Math.min(2, this.args.perDeviceEvalBatchSize);
    for (let s = 0; s < todo.length; s += bs) {
      await this.encodeRows(todo.slice(s, s + bs));
      await this.hook('onEncode', { done: Math.min(s + bs, todo.length), total: todo.length });
    }
  }

  /** Runs the encoder on `rows` and caches each output. */
  private async encodeRows(rows: PreparedRow[]): Promise<void> {
    const b = this.dataCollator.collateArrays(rows);
    const feats = tf.tensor3d(b.inputFeatures, [b.batchSize, b.nMels, b.nFrames]);
    const enc = this.trained.encode(feats, false);
    feats.dispose();
    const data = (await enc.data()) as Float32Array;
    enc.dispose();
    const per = data.length / rows.length;
    rows.forEach((f, i) => this.encoderCache.set(f.inputFeatures, data.slice(i * per, (i + 1) * per)));
  }

  /** The cached encoder output of one example ([S * d] float32), if computed. */
  getEncoderOutput(f: PreparedRow): Float32Array | undefined {
    return this.encoderCache.get(f.inputFeatures);
  }

  /** Supplies an encoder output computed elsewhere. */
  setEncoderOutput(f: PreparedRow, hidden: Float32Array): void {
    this.encoderCache.set(f.inputFeatures, hidden);
  }

  /** Cached encoder states [B, S, d] of `rows` (computed now if missing), or null when not caching. */
  private async encoderRows(rows: PreparedRow[]): Promise<Rows | null> {
    if (!this.usesEncoderCache) return null;
    const missing = rows.filter((f) => !this.encoderCache.get(f.inputFeatures));
    if (missing.length) await this.encodeRows(missing);
    const outs = rows.map((f) => this.encoderCache.get(f.inputFeatures)!);
    const per = outs[0].length;
    if (outs.some((o) => o.length !== per)) throw new Error('Seq2SeqTrainer: examples of one batch have features of different lengths');
    const values = new Float32Array(per * outs.length);
    outs.forEach((r, k) => values.set(r, k * per));
    const d = this.trained.config.dModel;
    return { values, shape: [outs.length, per / d, d] };
  }

  private get totalSteps(): { total: number; perEpoch?: number } {
    const rows = rowsOf(this.opts.trainDataset);
    if (!rows) return { total: this.args.maxSteps };
    const batches = Math.ceil(rows.length / this.args.perDeviceTrainBatchSize);
    const perEpoch = Math.ceil(batches / this.args.gradientAccumulationSteps);
    const total = this.args.maxSteps > 0 ? this.args.maxSteps : Math.ceil(this.args.numTrainEpochs * perEpoch);
    return { total, perEpoch };
  }

  private async log(entry: LogEntry): Promise<void> {
    this.state.log_history.push(entry);
    fs.mkdirSync(this.args.outputDir, { recursive: true });
    fs.appendFileSync(this.logFile, JSON.stringify(entry) + '\n');
    fsyncPath(this.logFile);
    await this.hook('onLog', entry);
  }

  /**
   * One optimizer step over `group` (gradientAccumulationSteps micro-batches): returns the mean
   * loss over all of the step's labelled tokens. Throws NonFiniteLossError before touching the
   * weights when loss or gradients blow up.
   */
  private async optimizerStep(group: PreparedRow[][], lr: number): Promise<{ loss: number; gradNorm: number }> {
    let acc: Map<string, tf.Tensor> | undefined;
    let lossSum = 0;
    try {
      // Summed in micro-batch order: the same sums whether they were computed here or in workers.
      for await (const { loss, grads } of this.microBatchGradients(group)) {
        lossSum += loss;
        if (!acc) {
          acc = grads;
          continue;
        }
        for (const [k, g] of grads) {
          const sum = tf.add(acc.get(k)!, g);
          acc.get(k)!.dispose();
          g.dispose();
          acc.set(k, sum);
        }
      }
      if (!Number.isFinite(lossSum)) throw new NonFiniteLossError(`loss is ${lossSum}`);
      const clipped = await clipByGlobalNorm(acc!, this.args.maxGradNorm);
      acc = clipped.grads;
      if (!Number.isFinite(clipped.norm)) throw new NonFiniteLossError(`gradient norm is ${clipped.norm}`);
      this.optimizer!.apply(acc, lr);
      return { loss: lossSum, gradNorm: clipped.norm };
    } finally {
      if (acc) for (const g of acc.values()) g.dispose();
    }
  }

  /**
   * Loss and gradients of each micro-batch of a step, in order: computed here, or with
   * dataParallelWorkers > 1 in worker threads side by side. Dropout masks depend only on (seed,
   * step, micro-batch), so a resumed run, and a worker, draw the same ones.
   */
  private async *microBatchGradients(group: PreparedRow[][]): AsyncGenerator<{ loss: number; grads: Map<string, tf.Tensor> }> {
    const dropoutSeed = (m: number) => `${this.args.seed}|${this.state.global_step}|${m}`;
    const batches: MicroBatch[] = [];
    for (const rows of group) batches.push(microBatch(rows, this.dataCollator, await this.encoderRows(rows)));
    // Each micro-batch's mean loss counts by its share of the step's labelled tokens, so that
    // accumulating micro-batches gives the loss and gradients of the whole batch at once (as
    // transformers >= 4.46 does with num_items_in_batch), however the batch is split.
    const total = batches.reduce((n, mb) => n + mb.positions.length, 0);
    const scale = (m: number) => total / Math.max(1, batches[m].positions.length);
    if (this.args.dataParallelWorkers === 1) {
      for (let m = 0; m < batches.length; m++) {
        this.trained.reseedDropout(dropoutSeed(m));
        yield await lossAndGradients(this.trained, batches[m], scale(m));
      }
      return;
    }
    this.workers ??= await GradientWorkers.start(this.model as PeftModel, this.args.dataParallelWorkers);
    const vars = this.trained.namedTrainableVariables();
    const weights = Object.fromEntries([...vars].map(([k, v]) => [k, v.dataSync() as Float32Array]));
    const jobs: GradientJob[] = batches.map((mb, m) => ({ ...mb, index: m, scale: scale(m), dropoutSeed: dropoutSeed(m), weights }));
    for (const r of await this.workers.run(jobs)) {
      yield { loss: r.loss, grads: new Map([...vars].map(([k, v]) => [k, tf.tensor(r.grads[k], v.shape)])) };
    }
  }

  async train(opts: { resumeFromCheckpoint?: boolean | string } = {}): Promise<TrainOutput> {
    const precision = getMatmulPrecision();
    if (this.args.bf16) setMatmulPrecision('bfloat16'); // throws where bf16 products cannot run
    try {
      return await this.trainLoop(opts);
    } finally {
      await this.workers?.dispose(); // their wasm heaps (~3 GB each through the encoder) go too
      this.workers = undefined;
      if (this.args.bf16) setMatmulPrecision(precision);
    }
  }

  /**
   * Restores the newest checkpoint that loads (or `dir`), skipping broken ones: each skipped
   * folder is reported (console and skippedCheckpoints) with the file and what is wrong.
   */
  private resume(from: true | string): TrainerState {
    const dirs = from === true ? listCheckpoints(this.args.outputDir).reverse().map((c) => c.dir) : [from];
    if (!dirs.length) throw new Error(`resumeFromCheckpoint: no checkpoint-<step> folder in ${this.args.outputDir}`);
    this.skippedCheckpoints = [];
    for (const dir of dirs) {
      try {
        return loadCheckpoint(dir, this.trained, this.optimizer!);
      } catch (e) {
        if (!(e instanceof CheckpointError) || from !== true) throw e;
        this.skippedCheckpoints.push(e.message);
        console.warn(`Seq2SeqTrainer: skipping ${dir}, resuming from an older checkpoint: ${e.message}`);
      }
    }
    throw new CheckpointError(`resumeFromCheckpoint: no checkpoint in ${this.args.outputDir} loads:\n  ${this.skippedCheckpoints.join('\n  ')}`);
  }

  private async trainLoop(opts: { resumeFromCheckpoint?: boolean | string }): Promise<TrainOutput> {
    const a = this.args;
    const { total, perEpoch } = this.totalSteps;
    const warmup = warmupStepsFor(total, a.warmupSteps, a.warmupRatio);
    fs.mkdirSync(a.outputDir, { recursive: true });
    for (const line of cleanStaleTemporaries(a.outputDir)) console.warn(`Seq2SeqTrainer: ${line} (left by a killed run)`);
    this.optimizer?.dispose();
    this.optimizer = new AdamW(this.trained.namedTrainableVariables(), {
      beta1: a.adamBeta1, beta2: a.adamBeta2, eps: a.adamEpsilon, weightDecay: a.weightDecay,
    });
    this.state = this.freshState(total);
    this.control = { shouldTrainingStop: false, shouldSave: false, shouldEvaluate: false };
    if (opts.resumeFromCheckpoint) {
      this.state = this.resume(opts.resumeFromCheckpoint);
      this.state.max_steps = total;
      // The log restarts from the checkpoint's history: steps after it will be run (and logged) again.
      atomicWriteFile(this.logFile, this.state.log_history.map((e) => JSON.stringify(e) + '\n').join(''));
    } else {
      fs.rmSync(this.logFile, { force: true });
    }
    const startStep = this.state.global_step;
    const t0 = Date.now();
    const baseTime = this.state.train_time_s;
    let lossSinceLog = 0;
    let stepsSinceLog = 0;
    let lastMetrics: Record<string, number> = {};
    const st = () => this.state;
    await this.hook('onTrainBegin');

    while (st().global_step < total && !this.control.shouldTrainingStop) {
      await this.hook('onEpochBegin');
      let ranInEpoch = 0;
      for await (const { microBatches, last } of epochSteps(this.opts.trainDataset, {
        batchSize: a.perDeviceTrainBatchSize, accumulation: a.gradientAccumulationSteps, seed: a.seed,
        epoch: st().epoch_index, groupByLength: a.groupByLength, skip: st().step_in_epoch,
      })) {
        if (st().global_step >= total || this.control.shouldTrainingStop) break;
        ranInEpoch++;
        await this.hook('onStepBegin');
        const lr = a.learningRate * lrLambda(a.lrSchedulerType, st().global_step, warmup, total);
        const ts = Date.now();
        let res: { loss: number; gradNorm: number };
        try {
          res = await this.optimizerStep(microBatches, lr);
        } catch (e) {
          if (!(e instanceof NonFiniteLossError)) throw e;
          const good = listCheckpoints(a.outputDir).pop()?.dir;
          throw new NonFiniteLossError(`Seq2SeqTrainer: ${e.message} at step ${st().global_step + 1} ` +
            `(epoch ${st().epoch.toFixed(2)}); training stopped and this update was NOT applied. ` +
            `Last good checkpoint: ${good ?? 'none saved yet'} (resume with train({resumeFromCheckpoint: true})). ` +
            `Try a lower learningRate (now ${a.learningRate}) or maxGradNorm > 0.`);
        }
        const s = st();
        s.global_step++;
        s.step_in_epoch++;
        if (last) {
          s.epoch_index++;
          s.step_in_epoch = 0;
        }
        s.epoch = s.epoch_index + (perEpoch ? s.step_in_epoch / perEpoch : 0);
        s.peak_tensor_bytes = Math.max(s.peak_tensor_bytes, tf.memory().numBytes);
        s.train_time_s = baseTime + (Date.now() - t0) / 1000;
        s.train_loss_sum += res.loss;
        lossSinceLog += res.loss;
        stepsSinceLog++;
        const examples = microBatches.reduce((n, b) => n + b.length, 0);
        await this.hook('onStepEnd', { step: s.global_step, maxSteps: total, epoch: s.epoch, loss: res.loss,
          learningRate: lr, gradNorm: res.gradNorm, seconds: (Date.now() - ts) / 1000, examples } satisfies StepInfo);
        if (s.global_step % a.loggingSteps === 0 || s.global_step === total) {
          await this.log({ step: s.global_step, epoch: round(s.epoch), loss: lossSinceLog / stepsSinceLog, learning_rate: lr, grad_norm: res.gradNorm });
          lossSinceLog = 0;
          stepsSinceLog = 0;
        }
        const doEval = this.control.shouldEvaluate || (!!this.opts.evalDataset &&
          ((a.evalStrategy === 'steps' && s.global_step % a.evalSteps === 0) || (a.evalStrategy === 'epoch' && last)));
        let improved = false;
        if (doEval) {
          lastMetrics = await this.evaluate();
          improved = this.updateBest(lastMetrics);
        }
        const doSave = this.control.shouldSave || (a.saveStrategy === 'steps' && s.global_step % a.saveSteps === 0) ||
          (a.saveStrategy === 'epoch' && last) || (a.loadBestModelAtEnd && improved);
        this.control.shouldEvaluate = this.control.shouldSave = false;
        if (doSave) {
          const dir = checkpointDir(a.outputDir, s.global_step);
          await prefetch([...this.trained.namedTrainableVariables().values(), ...this.optimizer.stateTensors()]);
          saveCheckpoint(dir, this.trained, this.optimizer, s, a);
          rotateCheckpoints(a.outputDir, a.saveTotalLimit, s.best_model_checkpoint);
          await this.hook('onSave', { checkpoint: dir });
        }
        if (last) await this.hook('onEpochEnd');
      }
      if (!ranInEpoch && st().global_step < total && !this.control.shouldTrainingStop) {
        throw new Error('Seq2SeqTrainer: trainDataset yielded no examples in an epoch (an empty stream?)');
      }
    }
    if (a.loadBestModelAtEnd && st().best_model_checkpoint && fs.existsSync(st().best_model_checkpoint!)) {
      this.trained.loadCheckpointFiles(st().best_model_checkpoint!);
    }
    await prefetch([...this.trained.namedTrainableVariables().values()]); // so that saveModel() can read them
    const ran = st().global_step - startStep;
    const stoppedEarly = st().global_step < total;
    const summary: LogEntry = { step: st().global_step, epoch: round(st().epoch), train_runtime: st().train_time_s,
      train_loss: st().global_step ? st().train_loss_sum / st().global_step : 0,
      train_samples_per_second: ran ? (ran * a.perDeviceTrainBatchSize * a.gradientAccumulationSteps) / ((Date.now() - t0) / 1000) : 0,
      ...(stoppedEarly ? { stopped_early: 1 } : {}) };
    await this.log(summary);
    await this.hook('onTrainEnd');
    return { globalStep: st().global_step, trainingLoss: summary.train_loss, metrics: lastMetrics, stoppedEarly };
  }

  /** After an evaluation inside train(): records a new best metric (and where its checkpoint will be). */
  private updateBest(metrics: Record<string, number>): boolean {
    const a = this.args;
    const key = metricKey(a);
    const m = metrics[key];
    if (m === undefined) throw new Error(`metricForBestModel '${a.metricForBestModel}': evaluation returned no '${key}' (have ${Object.keys(metrics).join(', ')})`);
    const best = this.state.best_metric;
    if (best !== null && !(greaterIsBetter(a) ? m > best : m < best)) return false;
    this.state.best_metric = m;
    this.state.best_model_checkpoint = checkpointDir(a.outputDir, this.state.global_step);
    return true;
  }

  /** Eval loss (teacher forcing) and, with predictWithGenerate + computeMetrics, metrics on generated text. */
  async evaluate(dataset = this.opts.evalDataset): Promise<Record<string, number>> {
    if (!dataset) throw new Error('evaluate: no evalDataset');
    const t0 = Date.now();
    let lossTok = 0;
    let nTok = 0;
    for await (const rows of chunks(iterateRows(dataset), this.args.perDeviceEvalBatchSize)) {
      const mb = microBatch(rows, this.dataCollator, await this.encoderRows(rows));
      const input = tf.tensor3d(mb.input, mb.inputShape);
      const ids = tf.tensor2d(mb.ids, mb.idsShape, 'int32');
      const labels = tf.tensor2d(mb.labels, [1, mb.labels.length], 'int32');
      const loss = tf.tidy(() => crossEntropyLoss(this.trained.forward(mb.inputIsEncoderStates ? null : input, ids,
        { encoderHiddenStates: mb.inputIsEncoderStates ? input : undefined, positions: mb.positions }), labels));
      lossTok += (await loss.data())[0] * mb.positions.length;
      nTok += mb.positions.length;
      tf.dispose([input, ids, labels, loss]);
    }
    if (!nTok) throw new Error('evaluate: the evalDataset is empty');
    const metrics: Record<string, number> = { eval_loss: lossTok / nTok };
    if (this.args.predictWithGenerate && this.opts.computeMetrics) {
      const p = await this.predict(dataset);
      for (const [k, v] of Object.entries(await this.opts.computeMetrics(p))) metrics[`eval_${k}`] = v;
    }
    metrics.eval_runtime = (Date.now() - t0) / 1000;
    await this.log({ step: this.state.global_step, epoch: round(this.state.epoch), ...metrics });
    await this.hook('onEvaluate', metrics);
    return metrics;
  }

  /** Greedy generation over a dataset (cached encoder outputs when available). */
  async predict(dataset: Seq2SeqDataset): Promise<EvalPrediction> {
    const predictions: number[][] = [];
    const labelIds: number[][] = [];
    // One clip at a time: on single-threaded wasm batched greedy decoding is slower per clip
    // (BENCHMARKS.md, "Why the wasm kernels").
    for await (const f of iterateRows(dataset)) {
      const b = this.dataCollator.collateArrays([f]);
      labelIds.push([...labelledPositions(b.labels).labels]);
      const enc = await this.encoderRows([f]);
      const input = enc ? tf.tensor3d(enc.values, enc.shape) : tf.tensor3d(b.inputFeatures, [1, b.nMels, b.nFrames]);
      try {
        const out = await this.trained.generate(enc ? (null as unknown as tf.Tensor3D) : input, { ...this.opts.generateOptions,
          maxNewTokens: this.args.generationMaxLength, encoderHiddenStates: enc ? input : undefined });
        predictions.push(...out.sequences);
      } finally {
        input.dispose();
      }
    }
    return { predictions, labelIds };
  }

  /**
   * trainer.save_model(dir) (default outputDir): the adapter in PEFT layout for a PeftModel, a
   * complete HF checkpoint (config, generation config, model.safetensors, tokenizer and
   * preprocessor files) for full fine-tuning.
   */
  saveModel(dir = this.args.outputDir): void {
    this.trained.save(dir);
    this.createModelCard({}, dir);
  }

  /** Card fields given so far (language, datasets, …): every later card keeps them. */
  private cardInfo: ModelCardInfo = {};

  /**
   * transformers' `create_model_card(language, dataset_tags, …)`: writes README.md into `dir`
   * (default outputDir) with `info`, the training arguments, the log's loss / WER table and the
   * last WER in the model-index. saveModel calls it, so a saved folder always has a card.
   */
  createModelCard(info: ModelCardInfo = {}, dir = this.args.outputDir): string {
    this.cardInfo = { ...this.cardInfo, ...info };
    fs.mkdirSync(dir, { recursive: true });
    const { outputDir: _, ...trainingArgs } = this.args;
    return writeModelCard(dir, { trainingArgs, logHistory: this.state.log_history, ...this.cardInfo });
  }

  /**
   * transformers' `trainer.push_to_hub()`: the model (adapter or full) and its card, saved as
   * saveModel saves them, uploaded to `repoId` as one commit. Saved into a temporary folder:
   * saving into outputDir would replace it, checkpoints included.
   */
  async pushToHub(repoId: string, opts: PushOptions = {}): Promise<PushResult> {
    this.cardInfo = { ...this.cardInfo, modelName: repoId, ...opts.card };
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'push-model-'));
    try {
      const dir = path.join(tmp, repoId.split('/').pop() ?? 'model');
      this.saveModel(dir);
      const { pushToHub } = await import('../hub/push');
      return await pushToHub(dir, repoId, { ...opts, card: undefined });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** Frees the optimizer state and the encoder cache (the model is the caller's). */
  dispose(): void {
    void this.workers?.dispose();
    this.workers = undefined;
    this.optimizer?.dispose();
    this.optimizer = undefined;
    this.encoderCache.clear();
  }
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
