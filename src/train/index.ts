export { Seq2SeqTrainer, NonFiniteLossError } from './trainer';
export type { EvalPrediction, Seq2SeqTrainerOptions, TrainOutput } from './trainer';
export { EarlyStoppingCallback } from './callbacks';
export type { TrainerCallback, TrainerControl, StepInfo, EarlyStoppingOptions } from './callbacks';
export { seq2SeqTrainingArguments, DEFAULT_ARGS, metricKey, greaterIsBetter } from './args';
export type { Seq2SeqTrainingArguments, SchedulerType, IntervalStrategy } from './args';
export { AdamW, clipByGlobalNorm } from './optimizer';
export { lrLambda, warmupStepsFor } from './schedule';
export { crossEntropyLoss, IGNORE_INDEX } from './loss';
export { epochBatches } from './data';
export type { Seq2SeqDataset } from './data';
export { asTrainable } from './model';
export type { TrainableModel } from './model';
export { EncoderCache } from './encoderCache';
export {
  checkpointDir, listCheckpoints, saveCheckpoint, loadCheckpoint, readTrainerState, rotateCheckpoints, CheckpointError,
} from './checkpoint';
export type { TrainerState, LogEntry } from './checkpoint';
export { TrainingMonitor } from './monitor';
export type { MonitorOptions } from './monitor';
