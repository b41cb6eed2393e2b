/**
 * What the evaluation loop needs from a model: "these clips -> these texts". Keeping it a plain
 * function lets the same loop score Whisper, Whisper + LoRA adapter, or stored transcripts.
 */
import * as tf from '@tensorflow/tfjs';
import { WhisperFeatureExtractor } from '../features/logmel';
import type { GenerateOptions } from '../model/generate';
import type { TranscribeOptions as ModelTranscribeOptions } from '../model/transcribe';
import { REFERENCE_MAX_NEW_TOKENS } from '../shared';

/**
 * The options evaluation passes per batch: the part of transcribe's options (model/transcribe.ts)
 * that applies to clips of up to 30 s decoded as the reference was.
 */
export type TranscribeOptions = Pick<ModelTranscribeOptions, 'language' | 'task' | 'maxNewTokens' | 'trimPadding'>;

/** Batch of 16 kHz mono clips (each <= 30 s) -> one text per clip, in order. */
export type BatchTranscriber = (audios: Float32Array[], opts: TranscribeOptions) => Promise<string[]>;

/** The two things `whisperTranscriber` uses from a model and a tokenizer (structural types). */
export interface GeneratingModel {
  config: { numMelBins: number };
  generate(inputFeatures: tf.Tensor3D, opts?: GenerateOptions): Promise<{ sequences: number[][] }>;
}
export interface DecodingTokenizer {
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
}

/**
 * Greedy Whisper transcription of a batch: log-Mel of each clip padded/trimmed to 30 s, stacked
 * into [batch, nMels, 3000], one `generate` call, texts decoded without special tokens and
 * trimmed (Whisper puts a space before the first word). Clips longer than 30 s are cut at 30 s,
 * as in OpenAI's reference transcripts.
 */
export function whisperTranscriber(model: GeneratingModel, tokenizer: DecodingTokenizer): BatchTranscriber {
  return async (audios, opts) => {
    if (audios.length === 0) return [];
    const features = new WhisperFeatureExtractor({ feature_size: model.config.numMelBins })
      .call(audios, { trimPadding: opts.trimPadding });
    try {
      const out = await model.generate(features, {
        // The reference transcripts' limit, so WER compares with shared/README.md's table.
        language: opts.language, task: opts.task, maxNewTokens: opts.maxNewTokens ?? REFERENCE_MAX_NEW_TOKENS,
      });
      return out.sequences.map((ids) => tokenizer.decode(ids, { skipSpecialTokens: true }).trim());
    } finally {
      features.dispose();
    }
  };
}

/** What `withAdapterDisabled` needs from a PeftModel. */
export interface AdapterSwitch {
  withAdapterDisabled<T>(fn: () => T | Promise<T>): Promise<T>;
}

/**
 * The base model's transcriber from a PEFT-wrapped one: every batch runs with the adapters off
 * (PEFT's `with model.disable_adapter():`), so base and base+adapter share one set of weights.
 */
export function withAdapterDisabled(peft: AdapterSwitch, transcribe: BatchTranscriber): BatchTranscriber {
  return (audios, opts) => peft.withAdapterDisabled(() => transcribe(audios, opts));
}
