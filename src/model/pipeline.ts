/**
 * The transcription pipeline: model + tokenizer + feature extractor, loaded once per process
 * (notebook cells and tests share them), and `transcribe` for one recording or many.
 */
import { initBackend } from '../backend';
import { WhisperFeatureExtractor } from '../features/logmel';
import { WhisperTokenizer } from '../tokenizer/whisper';
import { resolveModel } from './hub';
import { AudioSource, transcribeAudio, transcribeClips, TranscribeOptions, TranscriptionResult } from './transcribe';
import { FromPretrainedOptions, WhisperForConditionalGeneration } from './whisper';

export type { TranscribeOptions } from './transcribe';

export interface WhisperPipeline {
  model: WhisperForConditionalGeneration;
  tokenizer: WhisperTokenizer;
  featureExtractor: WhisperFeatureExtractor;
  /** The local folder the checkpoint was read from. */
  dir: string;
}

export interface TranscribeResult extends TranscriptionResult {
  /** Wall-clock seconds spent on this recording (its share of a batch). */
  seconds: number;
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

/**
 * Transcribes 16 kHz mono recordings of any length (see ./transcribe.ts): clips of up to 30 s are
 * decoded `batchSize` at a time exactly like the reference, longer ones window by window.
 */
export async function transcribe(
  pipe: WhisperPipeline,
  audio: Float32Array | AudioSource | (Float32Array | AudioSource)[],
  opts: TranscribeOptions = {},
): Promise<TranscribeResult[]> {
  const all = Array.isArray(audio) ? audio : [audio];
  const out: TranscribeResult[] = new Array(all.length);
  const isShort = (a: Float32Array | AudioSource) => a instanceof Float32Array && a.length <= pipe.featureExtractor.nSamples;
  // (A source of unknown length goes through transcribeAudio, which decodes a short one as a clip.)
  const short = all.map((a, i) => i).filter((i) => isShort(all[i]));
  const bs = opts.batchSize ?? 1;
  for (let i = 0; i < short.length; i += bs) {
    const idx = short.slice(i, i + bs);
    const t0 = performance.now();
    const res = await transcribeClips(pipe, idx.map((k) => all[k] as Float32Array), opts);
    const seconds = (performance.now() - t0) / 1000 / idx.length;
    idx.forEach((k, j) => (out[k] = { ...res[j], seconds }));
  }
  for (let k = 0; k < all.length; k++) {
    if (isShort(all[k])) continue;
    const t0 = performance.now();
    const r = await transcribeAudio(pipe, all[k], opts);
    out[k] = { ...r, seconds: (performance.now() - t0) / 1000 };
  }
  return out;
}
