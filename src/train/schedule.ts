/**
 * Learning-rate multipliers with linear warmup, the formulas of transformers'
 * get_{constant,linear,cosine}_schedule_with_warmup. Step k is 0-based: the k-th optimizer step
 * uses lr * lambda(k) (so with warmup the very first update uses lr 0, as in HF).
 */
import type { SchedulerType } from './args';

export function warmupStepsFor(totalSteps: number, warmupSteps: number, warmupRatio: number): number {
  return warmupSteps > 0 ? warmupSteps : Math.ceil(totalSteps * warmupRatio);
}

export function lrLambda(type: SchedulerType, step: number, warmup: number, total: number): number {
  if (type === 'constant') return warmup > 0 ? lrLambda('constant_with_warmup', step, warmup, total) : 1;
  if (step < warmup) return step / Math.max(1, warmup);
  if (type === 'constant_with_warmup') return 1;
  const progress = (step - warmup) / Math.max(1, total - warmup);
  if (type === 'linear') return Math.max(0, (total - step) / Math.max(1, total - warmup));
  // cosine with num_cycles = 0.5: half a cosine from 1 down to 0.
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 2 * 0.5 * progress)));
}
