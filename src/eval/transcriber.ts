/**
 * What the evaluation loop needs from a model: "these clips -> these texts". Keeping it a plain
 * function lets the same loop score Whisper, Whisper + LoRA adapter, or stored transcripts.
 */
import { transcribe, Transcriber, TranscribeOptions } from '../model/transcribe';

/** The options evaluation passes per batch: the part of `transcribe`'s options that applies to clips decoded as the reference was. */
export type ClipOptions = Pick<TranscribeOptions, 'language' | 'task' | 'maxNewTokens' | 'trimPadding'>;

/** Batch of 16 kHz mono clips (each <= 30 s) -> one text per clip, in order. */
export type BatchTranscriber = (audios: Float32Array[], opts: ClipOptions) => Promise<string[]>;

/**
 * Whisper transcription of a batch through `transcribe` (the CLI's and the demo's route too): the
 * checkpoint's feature extractor, one decoding of the whole batch, texts without special tokens and
 * trimmed (Whisper puts a space before the first word). Clips longer than 30 s are cut at 30 s, as
 * in OpenAI's reference transcripts.
 */
export function whisperTranscriber(t: Transcriber): BatchTranscriber {
  return async (audios, opts) => {
    if (audios.length === 0) return [];
    const clips = audios.map((a) => a.subarray(0, t.featureExtractor.nSamples));
    const results = await transcribe(t, clips, { ...opts, batchSize: clips.length });
    return results.map((r) => r.text.trim());
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
