/**
 * Checkpoints: `outputDir/checkpoint-<step>/` holding the adapter (PEFT files), the optimizer
 * state (optimizer.safetensors) and trainer_state.json. Each is written to a temporary folder and
 * renamed into place, so a crash or a NaN never leaves a half-written "latest" checkpoint.
 */
import * as fs from 'fs';
import * as path from 'path';
import { saveSafetensors, readSafetensorsHeader } from '../model/safetensors';
import { atomicWriteDir, readSafetensorsFile } from '../lora/peft';
import type { PeftModel } from '../lora/peft';
import type { AdamW } from './optimizer';

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
  /** Evaluations without improvement so far (early stopping). */
  patience_counter: number;
  log_history: LogEntry[];
  /** Shuffling and dropout seeds are derived from (seed, epoch) and (seed, step): nothing else to save. */
  rng_state: { seed: number; scheme: string };
  peak_tensor_bytes: number;
  train_time_s: number;
}

export function checkpointDir(outputDir: string, step: number): string {
  return path.join(outputDir, `checkpoint-${step}`);
}

/** Checkpoint folders in outputDir, oldest step first. */
export function listCheckpoints(outputDir: string): { step: number; dir: string }[] {
  if (!fs.existsSync(outputDir)) return [];
  return fs.readdirSync(outputDir)
    .map((n) => /^checkpoint-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), dir: path.join(outputDir, m[0]) }))
    .filter((c) => fs.existsSync(path.join(c.dir, TRAINER_STATE_NAME)))
    .sort((a, b) => a.step - b.step);
}

export function latestCheckpoint(outputDir: string): string | undefined {
  const all = listCheckpoints(outputDir);
  return all.length ? all[all.length - 1].dir : undefined;
}

export function saveCheckpoint(dir: string, model: PeftModel, opt: AdamW, state: TrainerState, args: unknown): void {
  atomicWriteDir(dir, (tmp) => {
    model.writeAdapterFiles(tmp);
    const s = opt.stateDict();
    saveSafetensors(path.join(tmp, OPTIMIZER_NAME), s.tensors, { format: 'pt', step: String(s.step) });
    fs.writeFileSync(path.join(tmp, TRAINER_STATE_NAME), JSON.stringify(state, null, 2) + '\n');
    fs.writeFileSync(path.join(tmp, 'training_args.json'), JSON.stringify(args, null, 2) + '\n');
  });
}

/** Loads adapter weights + optimizer state into place and returns the trainer state. */
export function loadCheckpoint(dir: string, model: PeftModel, opt: AdamW): TrainerState {
  const stateFile = path.join(dir, TRAINER_STATE_NAME);
  if (!fs.existsSync(stateFile)) throw new Error(`${dir}: not a checkpoint (no ${TRAINER_STATE_NAME})`);
  const state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as TrainerState;
  model.loadAdapter(dir, model.activeAdapter);
  const optFile = path.join(dir, OPTIMIZER_NAME);
  const step = Number(readSafetensorsHeader(optFile).metadata.step);
  if (!Number.isInteger(step)) throw new Error(`${optFile}: metadata 'step' is missing`);
  opt.loadStateDict(step, readSafetensorsFile(optFile), optFile);
  return state;
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
