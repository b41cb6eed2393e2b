/**
 * `generate`, transformers' name for decoding one 30 s window per clip: the decoding task of
 * ./decoding.ts with its defaults (no timestamps, greedy; `numBeams`, `temperature`,
 * `assistantModel` pick the other strategies). Long recordings go through ./transcribe.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { decode, DecodingModel, DecodingOptions, DecodingResult } from './decoding';

export interface GenerateOptions extends DecodingOptions {
  /** Encoder output to reuse instead of running the encoder on inputFeatures. */
  encoderHiddenStates?: tf.Tensor3D;
}

export interface GenerateOutput {
  /** Generated ids per clip, specials (prompt, <|endoftext|>) excluded. */
  sequences: number[][];
  /** Filled by the pipeline, which owns the tokenizer. */
  text?: string[];
  /** Language code per clip (given or detected). */
  languages: string[];
  /** Everything the decoding task measured per clip (log-probabilities, no-speech probability...). */
  results?: DecodingResult[];
}

export async function generate(model: DecodingModel, inputFeatures: tf.Tensor3D | null,
  opts: GenerateOptions = {}): Promise<GenerateOutput> {
  const { encoderHiddenStates, ...options } = opts;
  const results = await decode(model, { features: inputFeatures, encoderHiddenStates }, options);
  return { sequences: results.map((r) => r.tokens), languages: results.map((r) => r.language), results };
}
