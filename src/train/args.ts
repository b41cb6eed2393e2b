/**
 * Seq2SeqTrainingArguments: the Hugging Face fields, camelCased, with HF's defaults unless noted.
 */
export type IntervalStrategy = 'no' | 'steps' | 'epoch';
export type SchedulerType = 'constant' | 'constant_with_warmup' | 'linear' | 'cosine';

export interface Seq2SeqTrainingArguments {
  /** Checkpoints (checkpoint-<step>/), log.jsonl and the final adapter go here. */
  outputDir: string;
  learningRate: number;
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  lrSchedulerType: SchedulerType;
  /** Linear warmup length in optimizer steps; wins over warmupRatio when > 0. */
  warmupSteps: number;
  /** Warmup as a fraction of all optimizer steps. */
  warmupRatio: number;
  perDeviceTrainBatchSize: number;
  perDeviceEvalBatchSize: number;
  gradientAccumulationSteps: number;
  /** Global-norm gradient clipping; 0 disables it. */
  maxGradNorm: number;
  numTrainEpochs: number;
  /** When > 0, the number of optimizer steps (overrides numTrainEpochs). */
  maxSteps: number;
  evalStrategy: IntervalStrategy;
  evalSteps: number;
  loggingSteps: number;
  saveStrategy: IntervalStrategy;
  saveSteps: number;
  /** Keep at most this many checkpoints (the best one is never deleted); 0 = keep all. */
  saveTotalLimit: number;
  loadBestModelAtEnd: boolean;
  /** 'loss' or a key returned by computeMetrics, e.g. 'wer' (looked up as eval_wer). */
  metricForBestModel: string;
  /** Default: false for metrics named *loss, wer, cer; true otherwise (HF: false only for loss). */
  greaterIsBetter?: boolean;
  /** Stop when the best metric has not improved for this many evaluations; 0 = never. */
  earlyStoppingPatience: number;
  predictWithGenerate: boolean;
  /** New tokens generated per clip during evaluation (after the 4 prompt tokens). */
  generationMaxLength: number;
  /** Seeds shuffling (per epoch) and LoRA dropout (per step), so runs and resumes are reproducible. */
  seed: number;
  /** Sort each window of ~50 batches by label length so padding stays small (HF group_by_length). */
  groupByLength: boolean;
  /**
   * Run the frozen encoder once per clip and reuse its output, when no encoder Linear is adapted.
   * Not an HF field: the encoder is most of a step's work, and a frozen one computes the same
   * output every epoch.
   */
  cacheEncoderOutputs: boolean;
  /**
   * Worker threads that compute an optimizer step's micro-batches side by side, each with its own
   * single-threaded wasm backend (see dataParallel.ts); 1 = in this thread. Not an HF field (HF
   * spreads data-parallel training over processes with torchrun). Worth it on wasm when the
   * encoder is trained through (BENCHMARKS.md).
   */
  dataParallelWorkers: number;
  /**
   * bf16 matrix products for the training run (HF `bf16`): the big products' operands rounded to
   * bfloat16, float32 accumulation, weights and optimizer (backend setMatmulPrecision); the
   * previous precision comes back when train() returns or throws. Needs the native oneDNN path
   * on a CPU with AVX512_BF16 or AMX-BF16: train() throws elsewhere.
   */
  bf16: boolean;
}

export const DEFAULT_ARGS: Omit<Seq2SeqTrainingArguments, 'outputDir'> = {
  learningRate: 5e-5,
  weightDecay: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  lrSchedulerType: 'linear',
  warmupSteps: 0,
  warmupRatio: 0,
  perDeviceTrainBatchSize: 8,
  perDeviceEvalBatchSize: 8,
  gradientAccumulationSteps: 1,
  maxGradNorm: 1,
  numTrainEpochs: 3,
  maxSteps: -1,
  evalStrategy: 'no',
  evalSteps: 500,
  loggingSteps: 500,
  saveStrategy: 'steps',
  saveSteps: 500,
  saveTotalLimit: 0,
  loadBestModelAtEnd: false,
  metricForBestModel: 'loss',
  earlyStoppingPatience: 0,
  predictWithGenerate: false,
  generationMaxLength: 225,
  seed: 42,
  groupByLength: true,
  cacheEncoderOutputs: true,
  dataParallelWorkers: 1,
  bf16: false,
};

/** Fills HF defaults and checks every field, naming the wrong one. */
export function seq2SeqTrainingArguments(init: Partial<Seq2SeqTrainingArguments> & { outputDir: string }): Seq2SeqTrainingArguments {
  const a: Seq2SeqTrainingArguments = { ...DEFAULT_ARGS, ...Object.fromEntries(Object.entries(init).filter(([, v]) => v !== undefined)) } as Seq2SeqTrainingArguments;
  const bad = (k: string, why: string) => new Error(`Seq2SeqTrainingArguments: field '${k}' ${why}, got ${JSON.stringify((a as unknown as Record<string, unknown>)[k])}`);
  for (const k of ['perDeviceTrainBatchSize', 'perDeviceEvalBatchSize', 'gradientAccumulationSteps', 'dataParallelWorkers'] as const) {
    if (!Number.isInteger(a[k]) || a[k] < 1) throw bad(k, 'must be a positive integer');
  }
  for (const k of ['learningRate', 'weightDecay', 'maxGradNorm', 'warmupSteps', 'warmupRatio', 'adamEpsilon'] as const) {
    if (!(typeof a[k] === 'number' && a[k] >= 0 && Number.isFinite(a[k]))) throw bad(k, 'must be a finite number >= 0');
  }
  if (a.warmupRatio > 1) throw bad('warmupRatio', 'must be in [0, 1]');
  if (!['constant', 'constant_with_warmup', 'linear', 'cosine'].includes(a.lrSchedulerType)) throw bad('lrSchedulerType', "must be 'constant', 'constant_with_warmup', 'linear' or 'cosine'");
  for (const k of ['evalStrategy', 'saveStrategy'] as const) if (!['no', 'steps', 'epoch'].includes(a[k])) throw bad(k, "must be 'no', 'steps' or 'epoch'");
  if (a.maxSteps <= 0 && !(a.numTrainEpochs > 0)) throw bad('numTrainEpochs', 'must be > 0 when maxSteps is not set');
  for (const k of ['evalSteps', 'loggingSteps', 'saveSteps'] as const) if (!Number.isInteger(a[k]) || a[k] < 1) throw bad(k, 'must be a positive integer');
  if (a.loadBestModelAtEnd && a.evalStrategy === 'no') throw bad('evalStrategy', "must not be 'no' when loadBestModelAtEnd is true");
  if (!a.outputDir) throw bad('outputDir', 'must be a folder path');
  return a;
}

/** The key of the metric compared for "best": 'wer' -> 'eval_wer', 'loss' -> 'eval_loss'. */
export function metricKey(a: Seq2SeqTrainingArguments): string {
  return a.metricForBestModel.startsWith('eval_') ? a.metricForBestModel : `eval_${a.metricForBestModel}`;
}

export function greaterIsBetter(a: Seq2SeqTrainingArguments): boolean {
  if (a.greaterIsBetter !== undefined) return a.greaterIsBetter;
  return !/(loss|wer|cer)$/.test(a.metricForBestModel);
}
