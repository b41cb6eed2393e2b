/**
 * whisper-finetune-ts: Whisper fine-tuning in TypeScript, one module per pipeline stage, under the
 * names users of transformers, PEFT and datasets know.
 *
 *   import { WhisperForConditionalGeneration, WhisperTokenizer, LoraConfig, getPeftModel,
 *     Seq2SeqTrainer, loadDataset, transcribeAudio, wer } from 'whisper-finetune-ts';
 *
 * Stage by stage: audio (decode, resample) -> data (datasets, preparation, the collator) ->
 * features (log-Mel) and tokenizer -> model (Whisper, decoding, transcription) -> lora (PEFT
 * adapters) -> train (Seq2SeqTrainer) -> eval (WER) -> viz (notebook displays); hub: datasets in
 * from the Hugging Face Hub, adapters and models out (pushToHub, model cards). backend/ is the
 * one place that knows which TensorFlow.js backend runs.
 */
export * from './backend';
export * from './audio';
export * from './data';
export * from './features';
export * from './tokenizer';
export * from './text';
export * from './model';
export * from './lora';
export * from './export';
export * from './train';
export * from './eval';
export * from './hub';
export * from './viz';
