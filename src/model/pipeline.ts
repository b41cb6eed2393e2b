/**
 * The transcription pipeline: model + tokenizer + feature extractor of a checkpoint, loaded once per
 * process (notebook cells, tests and the CLI share them); `transcribe` (./transcribe.ts) takes it.
 */
import { initBackend } from '../backend';
import { WhisperFeatureExtractor } from '../features/logmel';
import { WhisperTokenizer } from '../tokenizer/whisper';
import { resolveModel } from './hub';
import type { Transcriber } from './transcribe';
import { FromPretrainedOptions, weightsDtypeOf, WhisperForConditionalGeneration } from './whisper';

export interface WhisperPipeline extends Transcriber {
  model: WhisperForConditionalGeneration;
  tokenizer: WhisperTokenizer;
  featureExtractor: WhisperFeatureExtractor;
  /** The local folder the checkpoint was read from. */
  dir: string;
}

const cache = new Map<string, Promise<WhisperPipeline>>();

/** Loads (once per process and folder) the model, tokenizer and feature extractor of a checkpoint. */
export function loadWhisper(idOrDir: string, opts: FromPretrainedOptions = {}): Promise<WhisperPipeline> {
  const dtype = weightsDtypeOf(opts);
  const key = `${idOrDir}@${opts.revision ?? 'main'}:${dtype}`;
  let p = cache.get(key);
  if (!p) {
    p = (async () => {
      await initBackend();
      const dir = await resolveModel(idOrDir, opts);
      const model = await WhisperForConditionalGeneration.fromPretrained(dir, { weightsDtype: dtype });
      const tokenizer = await WhisperTokenizer.fromPretrained(dir);
      const featureExtractor = WhisperFeatureExtractor.fromPretrained(dir);
      return { model, tokenizer, featureExtractor, dir };
    })();
    // A failed load is not cached, so a fixed path can be retried in the same process.
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}

/** Disposes and forgets every cached pipeline (tests use it to check tensor counts). */
export async function unloadWhisper(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  for (const p of all) {
    try {
      (await p).model.dispose();
    } catch {
      // a failed load has nothing to dispose
    }
  }
}
