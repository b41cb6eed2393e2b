/**
 * Checkpoints: `outputDir/checkpoint-<step>/` holding the trained weights (the adapter's PEFT
 * files, or a whole HF checkpoint for full fine-tuning), the optimizer state
 * (optimizer.safetensors) and trainer_state.json. Each is written to `checkpoint-<step>.tmp-<pid>`,
 * fsynced and renamed into place, so a crash or a NaN never leaves a half-written "latest"
 * checkpoint; what a killed process leaves behind is cleaned at the next start, and a checkpoint
 * that does not load is skipped (with the reason) in favour of the previous one.
 */
import * as fs from 'fs';
import * as path from 'path';
import { atomicWriteDir } from '../atomic';
import { nodeFiles } from '../io/node';
import { readTensors, safetensorsHeader, saveSafetensors } from '../model/safetensors';
import type { AdamW } from './optimizer';
import type { TrainableModel } from './model';

export const TRAINER_STATE_NAME = 'trainer_state.json';
export const OPTIMIZER_NAME = 'optimizer.safetensors';

export interface LogEntry {
  step: number;
  epoch: number;
  [key: string]: number;
}

/** What HF keeps in trainer_state.json (snake_case on disk, as HF writes it). */
export interface TrainerState {
  global_step: number;
  /** Fractional epoch, e.g. 1.5. */
  epoch: number;
  /** Optimizer steps done inside the current epoch (to skip its first batches on resume). */
  step_in_epoch: number;
  epoch_index: number;
  max_steps: number;
  best_metric: number | null;
  best_model_checkpoint: string | null;
  /** Evaluations without improvement so far (EarlyStoppingCallback). */
  patience_counter: number;
  log_history: LogEntry[];
  /** Sum of every optimizer step's loss so far: the run's train_loss survives a resume. */
  train_loss_sum: number;
  /** Shuffling and dropout seeds are derived from (seed, epoch) and (seed, step): nothing else to save. */
  rng_state: { seed: number; scheme: string };
  peak_tensor_bytes: number;
  train_time_s: number;
}

/** A checkpoint folder that cannot be resumed from; the message names the file and what is wrong. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export function checkpointDir(outputDir: string, step: number): string {
  return path.join(outputDir, `checkpoint-${step}`);
}

/** `checkpoint-<step>` folders in outputDir (intact or not), oldest step first. */
export function listCheckpoints(outputDir: string): { step: number; dir: string }[] {
  if (!fs.existsSync(outputDir)) return [];
  return fs.readdirSync(outputDir)
    .map((n) => /^checkpoint-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), dir: path.join(outputDir, m[0]) }))
    .filter((c) => fs.statSync(c.dir).isDirectory())
    .sort((a, b) => a.step - b.step);
}

/** Parses and checks `dir/trainer_state.json`, naming the file in every error. */
export function readTrainerState(dir: string): TrainerState {
  const file = path.join(dir, TRAINER_STATE_NAME);
  if (!fs.existsSync(file)) throw new CheckpointError(`${file}: missing (not a checkpoint, or its write was interrupted)`);
  const text = fs.readFileSync(file, 'utf8');
  if (!text.trim()) throw new CheckpointError(`${file}: empty (its write was interrupted)`);
  let state: TrainerState;
  try {
    state = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  for (const k of ['global_step', 'epoch_index', 'step_in_epoch'] as const) {
    if (!Number.isInteger(state?.[k]) || state[k] < 0) throw new CheckpointError(`${file}: field '${k}' must be an integer >= 0, got ${JSON.stringify(state?.[k])}`);
  }
  if (!Array.isArray(state.log_history)) throw new CheckpointError(`${file}: field 'log_history' must be a list`);
  const m = /checkpoint-(\d+)$/.exec(path.basename(dir));
  if (m && Number(m[1]) !== state.global_step) throw new CheckpointError(`${file}: global_step ${state.global_step} does not match the folder name`);
  return state;
}

export function saveCheckpoint(dir: string, model: TrainableModel, opt: AdamW, state: TrainerState, args: unknown): void {
  atomicWriteDir(dir, (tmp) => {
    model.writeCheckpointFiles(tmp);
    const s = opt.stateDict();
    saveSafetensors(path.join(tmp, OPTIMIZER_NAME), s.tensors, { format: 'pt', step: String(s.step) });
    fs.writeFileSync(path.join(tmp, TRAINER_STATE_NAME), JSON.stringify(state, null, 2) + '\n');
    fs.writeFileSync(path.join(tmp, 'training_args.json'), JSON.stringify(args, null, 2) + '\n');
  });
}

/**
 * Loads the trained weights and the optimizer state into place and returns the trainer state.
 * Everything that can be checked without changing the model is checked first; any failure is a
 * CheckpointError naming the file.
 */
export function loadCheckpoint(dir: string, model: TrainableModel, opt: AdamW): TrainerState {
  try {
    const state = readTrainerState(dir);
    const optFile = path.join(dir, OPTIMIZER_NAME);
    if (!fs.existsSync(optFile)) throw new Error(`${optFile}: missing`);
    const files = nodeFiles(dir);
    const header = safetensorsHeader(files, OPTIMIZER_NAME);
    const step = Number(header.metadata.step);
    if (!Number.isInteger(step)) throw new Error(`${optFile}: metadata 'step' is missing`);
    // Every moment must have its parameter's shape (a state saved for another model size failed
    // only at the first step, naming no file) and be finite; checked before the model changes.
    const optimizerState = readTensors(files, header, opt.stateShapes(), 'this model');
    model.loadCheckpointFiles(dir);
    opt.loadStateDict(step, optimizerState, optFile);
    state.train_loss_sum ??= meanLoggedLoss(state.log_history) * state.global_step;
    return state;
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`${dir}: ${(e as Error).message}`);
  }
}

/** Mean of the logged training losses (checkpoints written before train_loss_sum existed). */
function meanLoggedLoss(history: LogEntry[]): number {
  const losses = history.filter((e) => typeof e.loss === 'number').map((e) => e.loss);
  return losses.length ? losses.reduce((a, b) => a + b, 0) / losses.length : 0;
}

/**
 * Deletes the oldest checkpoints beyond `limit`, never the best one (HF _rotate_checkpoints: the
 * best is treated as the newest; with limit 1 and a best that is not the last, two are kept).
 */
export function rotateCheckpoints(outputDir: string, limit: number, best: string | null): void {
  if (!(limit > 0)) return;
  const all = listCheckpoints(outputDir).map((c) => c.dir);
  const bi = best ? all.findIndex((d) => path.resolve(d) === path.resolve(best)) : -1;
  let keep = limit;
  if (bi >= 0) {
    if (keep === 1 && bi !== all.length - 1) keep = 2;
    all.push(...all.splice(bi, 1));
  }
  for (const d of all.slice(0, Math.max(0, all.length - keep))) fs.rmSync(d, { recursive: true, force: true });
}
