/**
 * The transcription pipeline: model + tokenizer + feature extractor, loaded once per process
 * (notebook cells and tests share them), and `transcribe` for one clip or many.
 */
import { initBackend } from '../backend';
import { WhisperFeatureExtractor } from '../features/logmel';
import { WhisperTokenizer } from '../tokenizer/whisper';
import { GenerateOptions, GenerateOutput } from './generate';
import { resolveModel } from './hub';
import { FromPretrainedOptions, WhisperForConditionalGeneration } from './whisper';

export interface WhisperPipeline {
  model: WhisperForConditionalGeneration;
  tokenizer: WhisperTokenizer;
  featureExtractor: WhisperFeatureExtractor;
  /** The local folder the checkpoint was read from. */
  dir: string;
}

export interface TranscribeResult {
  text: string;
  /** Generated ids, specials excluded. */
  tokens: number[];
  /** Wall-clock seconds spent on this clip (its share of the batch). */
  seconds: number;
  language: string;
}

export interface TranscribeOptions extends GenerateOptions {
  /** Clips per generate call (default 1; larger batches share the decoder steps). */
  batchSize?: number;
  /** Opt-in fast mode, not reference-identical: see TRIM_MARGIN_FRAMES in features/logmel.ts. */
  trimPadding?: boolean;
}

const cache = new Map<string, Promise<WhisperPipeline>>();

/** Loads (once per process and folder) the model, tokenizer and feature extractor of a checkpoint. */
export function loadWhisper(idOrDir: string, opts: FromPretrainedOptions = {}): Promise<WhisperPipeline> {
  const dtype = opts.weightsDtype ?? (opts.loadIn8bit ? 'int8' : 'float32');
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

/** Transcribes 16 kHz mono clips (any length; longer than 30 s is trimmed, like the reference). */
export async function transcribe(
  pipe: WhisperPipeline,
  audio: Float32Array | Float32Array[],
  opts: TranscribeOptions = {},
): Promise<TranscribeResult[]> {
  const clips = Array.isArray(audio) ? audio : [audio];
  const bs = Math.max(1, opts.batchSize ?? 1);
  const out: TranscribeResult[] = [];
  for (let i = 0; i < clips.length; i += bs) {
    const batch = clips.slice(i, i + bs);
    const t0 = performance.now();
    const features = pipe.featureExtractor.call(batch, { trimPadding: opts.trimPadding });
    let res: GenerateOutput;
    try {
      res = await pipe.model.generate(features, opts);
    } finally {
      features.dispose();
    }
    const seconds = (performance.now() - t0) / 1000 / batch.length;
    res.sequences.forEach((tokens, j) => out.push({
      text: pipe.tokenizer.decode(tokens, { skipSpecialTokens: true }),
      tokens,
      seconds,
      language: res.languages[j],
    }));
  }
  return out;
}
