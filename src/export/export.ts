/**
 * `exportModel`: a fine-tuned Whisper as files another runtime loads. The LoRA adapter (if any) is
 * merged into the base weights first (PEFT's merge_and_unload), so the result is a plain model:
 *
 * - `ggml`: one whisper.cpp model file (f32, f16 or q8_0 matrices, ./ggml.ts);
 * - `safetensors`: a Hugging Face folder (config, generation_config, model.safetensors, the
 *   tokenizer and preprocessor files of the base) with a model card README.md, which transformers,
 *   transformers.js's conversion script, this project's `loadWhisper` and the demo load.
 */
import * as fs from 'fs';
import * as path from 'path';
import { atomicWriteDir, atomicWriteFile } from '../atomic';
import { PeftModel } from '../lora/peft';
import { resolveModel, ResolveOptions } from '../model/hub';
import { WhisperForConditionalGeneration } from '../model/whisper';
import { ggmlBytes, GgmlType, readVocab } from './ggml';
import { writeModelCard } from '../hub/card';
import { isRepoId } from '../hub/cache';

export type ExportFormat = 'ggml' | 'safetensors';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['ggml', 'safetensors'];

export interface ExportOptions extends ResolveOptions {
  /** The base checkpoint (a folder or a Hub id), or a full fine-tune's `savePretrained` folder. */
  model: string;
  /** A PEFT adapter folder (adapter_config.json + adapter_model.safetensors) merged into `model`. */
  adapter?: string;
  format: ExportFormat;
  /** The ggml file, or the folder of the safetensors format. */
  out: string;
  /** ggml only: how the matrices are stored (default f16, whisper.cpp's usual file). */
  ggmlType?: GgmlType;
}

/** The merged model: the base with the adapter folded in (the caller disposes it). */
export async function mergedModel(model: string, adapter?: string, opts: ResolveOptions = {}): Promise<WhisperForConditionalGeneration> {
  const dir = await resolveModel(model, opts);
  // float32 weights: merging adds B A to them, and every format is written from float32.
  const base = await WhisperForConditionalGeneration.fromPretrained(dir, { weightsDtype: 'float32' });
  if (adapter) PeftModel.fromPretrained(base, adapter).mergeAndUnload();
  return base;
}

/** Writes the export and returns the path written (a file for ggml, a folder for safetensors). */
export async function exportModel(opts: ExportOptions): Promise<string> {
  const model = await mergedModel(opts.model, opts.adapter, opts);
  try {
    if (opts.format === 'ggml') {
      const weights = Object.entries(model.stateDict());
      atomicWriteFile(opts.out, ggmlBytes(model.config, weights, readVocab(model.dir!), opts.ggmlType ?? 'f16'));
    } else if (opts.format === 'safetensors') {
      atomicWriteDir(opts.out, (tmp) => {
        model.writePretrainedFiles(tmp);
        writeModelCard(tmp, {
          modelName: path.basename(path.resolve(opts.out)), tags: ['merged'],
          ...(isRepoId(opts.model) ? { baseModel: opts.model } : {}),
          ...(opts.adapter ? { merged: { adapter: path.basename(path.resolve(opts.adapter)), base: opts.model } } : {}),
        });
      });
    } else {
      throw new Error(`exportModel: format must be one of ${EXPORT_FORMATS.join(', ')}; got '${opts.format}'`);
    }
  } finally {
    model.dispose();
  }
  return opts.out;
}

