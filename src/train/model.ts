/**
 * What Seq2SeqTrainer trains: a PeftModel (LoRA: the adapter's A and B matrices) or a plain
 * WhisperForConditionalGeneration (full fine-tuning: every weight, or the decoder's after
 * `freezeEncoder()`). Both are seen through one small interface, so the loop, checkpoints,
 * resume and best-model logic are the same for both.
 */
import * as tf from '@tensorflow/tfjs';
import type { WhisperConfig } from '../model/config';
import type { GenerateOptions, GenerateOutput } from '../model/generate';
import type { WeightSlot } from '../model/layers';
import { WhisperForConditionalGeneration } from '../model/whisper';
import type { ForwardOptions } from '../model/whisper';
import { PeftModel } from '../lora/peft';

export interface TrainableModel {
  readonly config: WhisperConfig;
  /** 'lora' or 'full'. */
  readonly kind: 'lora' | 'full';
  encode(inputFeatures: tf.Tensor3D, training?: boolean): tf.Tensor3D;
  forward(inputFeatures: tf.Tensor3D | null, decoderInputIds: tf.Tensor2D, opts?: ForwardOptions): tf.Tensor3D;
  generate(inputFeatures: tf.Tensor3D, opts?: GenerateOptions): Promise<GenerateOutput>;
  /** True when training changes what the encoder computes (then its outputs cannot be cached). */
  trainsEncoder(): boolean;
  /** What the optimizer updates, by a stable name (PEFT keys, or HF weight names). */
  namedTrainableVariables(): Map<string, tf.Variable>;
  /** Restarts the dropout stream (LoRA dropout; Whisper's own dropout is 0 and not implemented). */
  reseedDropout(seed: string): void;
  /** The trained weights into a checkpoint folder (adapter files, or a whole HF checkpoint). */
  writeCheckpointFiles(dir: string): void;
  /** Puts the trained weights of a checkpoint folder back in place. */
  loadCheckpointFiles(dir: string): void;
  /** trainer.save_model(dir): the adapter (PEFT layout) or the whole model (HF layout). */
  save(dir: string): void;
  /** The encoder's weights, for keying its cached outputs. */
  encoderWeights(): WeightSlot[];
}

/** What both kinds share: the model's own config, encoder, forward pass and generation. */
abstract class Trainable {
  constructor(protected readonly inner: PeftModel | WhisperForConditionalGeneration) {}
  get config(): WhisperConfig {
    return this.inner.config;
  }
  encode(f: tf.Tensor3D, training?: boolean): tf.Tensor3D {
    return this.inner.encode(f, training);
  }
  forward(f: tf.Tensor3D | null, ids: tf.Tensor2D, opts?: ForwardOptions): tf.Tensor3D {
    return this.inner.forward(f, ids, opts);
  }
  generate(f: tf.Tensor3D, opts?: GenerateOptions): Promise<GenerateOutput> {
    return this.inner.generate(f, opts);
  }
}

class LoraTrainable extends Trainable implements TrainableModel {
  readonly kind = 'lora';
  constructor(readonly peft: PeftModel) {
    super(peft);
  }
  trainsEncoder() {
    return this.peft.adaptsEncoder();
  }
  namedTrainableVariables() {
    return this.peft.namedTrainableVariables();
  }
  reseedDropout(seed: string) {
    this.peft.reseedDropout(seed);
  }
  writeCheckpointFiles(dir: string) {
    this.peft.writeAdapterFiles(dir);
  }
  loadCheckpointFiles(dir: string) {
    this.peft.loadAdapter(dir, this.peft.activeAdapter);
  }
  save(dir: string) {
    this.peft.saveAdapter(dir);
  }
  encoderWeights() {
    const base = this.peft.baseModel as Partial<WhisperForConditionalGeneration>;
    if (!base.weightSlots) throw new Error('encoder-output cache on disk: the base model has no weightSlots() to fingerprint');
    return encoderSlots(base.weightSlots());
  }
}

class FullTrainable extends Trainable implements TrainableModel {
  readonly kind = 'full';
  private vars: Map<string, tf.Variable>;
  constructor(readonly model: WhisperForConditionalGeneration) {
    super(model);
    this.vars = model.trainableParameters();
  }
  trainsEncoder() {
    return [...this.vars.keys()].some((k) => k.startsWith('model.encoder.'));
  }
  namedTrainableVariables() {
    return this.vars;
  }
  reseedDropout() {
    // config.dropout is 0 in every released Whisper checkpoint; nothing draws random numbers.
  }
  writeCheckpointFiles(dir: string) {
    this.model.writePretrainedFiles(dir);
  }
  loadCheckpointFiles(dir: string) {
    this.model.loadWeights(dir);
  }
  save(dir: string) {
    this.model.savePretrained(dir);
  }
  encoderWeights() {
    return encoderSlots(this.model.weightSlots());
  }
}

function encoderSlots(slots: WeightSlot[]): WeightSlot[] {
  return slots.filter((s) => s.name.startsWith('model.encoder.'));
}

/** The trainer's view of a PeftModel or a plain WhisperForConditionalGeneration. */
export function asTrainable(model: PeftModel | WhisperForConditionalGeneration): TrainableModel {
  if (model instanceof PeftModel) return new LoraTrainable(model);
  if (model instanceof WhisperForConditionalGeneration) return new FullTrainable(model);
  throw new Error('Seq2SeqTrainer: model must be a PeftModel (LoRA) or a WhisperForConditionalGeneration (full fine-tuning)');
}
