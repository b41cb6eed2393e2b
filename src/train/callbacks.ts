/**
 * Trainer callbacks, as transformers' TrainerCallback: objects whose hooks the training loop calls
 * at fixed points, with the arguments, the live TrainerState and a TrainerControl whose flags a
 * hook may set (stop training, save or evaluate now). Every hook is optional and may be async.
 *
 *   const printLr: TrainerCallback = {
 *     onStepEnd: (args, state, control, step) => console.log(state.global_step, step.learningRate),
 *   };
 *   new Seq2SeqTrainer({ ..., callbacks: [printLr, new EarlyStoppingCallback({ earlyStoppingPatience: 3 })] });
 *
 * Order per optimizer step: onStepBegin -> (update) -> onStepEnd -> onLog (every loggingSteps) ->
 * onEvaluate (when evaluating) -> onSave (when a checkpoint was written); around the run
 * onTrainBegin / onEpochBegin / onEpochEnd / onTrainEnd.
 */
import type { Seq2SeqTrainingArguments } from './args';
import { greaterIsBetter, metricKey } from './args';
import type { LogEntry, TrainerState } from './checkpoint';

/** Flags a callback sets to change what the loop does next (HF TrainerControl). */
export interface TrainerControl {
  /** Stop after this step (early stopping, trainer.stop()). */
  shouldTrainingStop: boolean;
  /** Write a checkpoint at the end of this step, whatever saveStrategy says. */
  shouldSave: boolean;
  /** Evaluate at the end of this step, whatever evalStrategy says. */
  shouldEvaluate: boolean;
}

/** What onStepEnd receives about the optimizer step just taken. */
export interface StepInfo {
  step: number;
  maxSteps: number;
  epoch: number;
  /** Mean loss over the step's labelled tokens. */
  loss: number;
  /** The learning rate this step used. */
  learningRate: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Wall seconds of this optimizer step. */
  seconds: number;
  examples: number;
}

type Hook<T = void> = (args: Seq2SeqTrainingArguments, state: TrainerState, control: TrainerControl, info: T) => void | Promise<void>;

export interface TrainerCallback {
  onTrainBegin?: Hook;
  onEpochBegin?: Hook;
  onEpochEnd?: Hook;
  onStepBegin?: Hook;
  onStepEnd?: Hook<StepInfo>;
  /** A line written to log.jsonl (training loss, eval metrics, the final summary). */
  onLog?: Hook<LogEntry>;
  /** Metrics of an evaluation (eval_loss, eval_wer, ...), before the trainer updates best_metric. */
  onEvaluate?: Hook<Record<string, number>>;
  /** A checkpoint folder was written. */
  onSave?: Hook<{ checkpoint: string }>;
  onTrainEnd?: Hook;
  /** Progress of the one-time encoder pass (clips done, clips to do). Not an HF hook. */
  onEncode?: Hook<{ done: number; total: number }>;
}

export type HookName = keyof TrainerCallback;

/** Calls one hook on every callback, in order (HF CallbackHandler). */
export async function callHook<K extends HookName>(callbacks: readonly TrainerCallback[], hook: K,
  args: Seq2SeqTrainingArguments, state: TrainerState, control: TrainerControl, info?: Parameters<NonNullable<TrainerCallback[K]>>[3]): Promise<void> {
  for (const cb of callbacks) {
    const fn = cb[hook] as Hook<unknown> | undefined;
    if (fn) await fn.call(cb, args, state, control, info);
  }
}

export interface EarlyStoppingOptions {
  /** Evaluations without improvement before stopping (HF early_stopping_patience, default 1). */
  earlyStoppingPatience?: number;
  /** How much better than the best a metric must be to count as an improvement (default 0). */
  earlyStoppingThreshold?: number;
}

/**
 * HF EarlyStoppingCallback: stops training when `metricForBestModel` has not improved for
 * `earlyStoppingPatience` evaluations in a row. Its counter lives in TrainerState
 * (patience_counter), so a resumed run continues counting where it stopped.
 */
export class EarlyStoppingCallback implements TrainerCallback {
  readonly patience: number;
  readonly threshold: number;

  constructor(opts: EarlyStoppingOptions = {}) {
    this.patience = opts.earlyStoppingPatience ?? 1;
    this.threshold = opts.earlyStoppingThreshold ?? 0;
    if (!Number.isInteger(this.patience) || this.patience < 1) throw new Error(`EarlyStoppingCallback: earlyStoppingPatience must be a positive integer, got ${this.patience}`);
  }

  onTrainBegin(args: Seq2SeqTrainingArguments): void {
    if (args.evalStrategy === 'no') throw new Error("EarlyStoppingCallback needs evaluations: set evalStrategy to 'steps' or 'epoch'");
  }

  onEvaluate(args: Seq2SeqTrainingArguments, state: TrainerState, control: TrainerControl, metrics: Record<string, number>): void {
    const key = metricKey(args);
    const value = metrics[key];
    if (value === undefined) throw new Error(`EarlyStoppingCallback: evaluation returned no '${key}' (have ${Object.keys(metrics).join(', ')}); set metricForBestModel`);
    const best = state.best_metric;
    const better = best === null || ((greaterIsBetter(args) ? value > best : value < best) && Math.abs(value - best) > this.threshold);
    state.patience_counter = better ? 0 : state.patience_counter + 1;
    if (state.patience_counter >= this.patience) control.shouldTrainingStop = true;
  }
}
