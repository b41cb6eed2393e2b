/**
 * What the demo server calls to turn 16 kHz audio into text: the model loaded once, optionally a
 * LoRA adapter that can be switched on ("base + adapter") or off ("base") per request.
 *
 * Audio of any length goes through `transcribeAudio` (model/transcribe.ts): up to 30 s one window
 * exactly as evaluation decodes it, longer ones in 30 s windows cut at timestamps. Silent input
 * returns no text instead of Whisper's hallucinated "Thank you." (energy gate, src/audio/vad.ts).
 */
import * as path from 'path';
import { initBackend } from '../../src/backend';
import { decodeAudio } from '../../src/audio/decode';
import { AudioLimitError } from '../../src/audio/limits';
import { PeftModel } from '../../src/lora';
import { Segment, Transcriber } from '../../src/model/transcribe';
import { WhisperForConditionalGeneration } from '../../src/model/whisper';
import { loadWhisper } from '../../src/model/pipeline';
import { sharedDir } from '../../tools/shared';
import { transcribeAny } from './transcribeAny';

export { transcribeAny };

export type Variant = 'base' | 'adapter';

export interface DemoTranscriber {
  modelName: string;
  /** Name of the adapter folder when one was loaded. */
  adapterName?: string;
  /** Folders the page's in-browser mode loads over HTTP (the adapter's only when it came from one). */
  folders?: { model: string; adapter?: string };
  transcribe(audio: Float32Array, variant: Variant): Promise<{ text: string; segments: Segment[] }>;
}

/** One upload: the file's bytes, its name (for messages) and the model variant asked for. */
export interface FileJob {
  bytes: Uint8Array;
  name: string;
  variant: Variant;
}

export interface JobResult {
  text: string;
  segments: Segment[];
  variant: Variant;
  /** Transcription time (decoding the file included). */
  seconds: number;
  audioSeconds: number;
}

/** A failed job with the HTTP status it deserves: 400 bad input, 413 over a limit, 500 our fault. */
export class JobError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/**
 * What one demo request does, wherever it runs (the server's worker thread, or in-process with a
 * ready transcriber): decode the upload within the limits, then transcribe it.
 */
export async function transcribeFile(transcriber: DemoTranscriber, job: FileJob, maxSeconds: number): Promise<JobResult> {
  if (job.variant === 'adapter' && !transcriber.adapterName) throw new JobError(400, 'This demo was started without --adapter.');
  const t0 = performance.now();
  let audio: Float32Array;
  try {
    audio = await decodeAudio(job.bytes, job.name, 16000, 'best', { maxSeconds });
  } catch (e) {
    throw new JobError(e instanceof AudioLimitError ? 413 : 400, (e as Error).message);
  }
  if (audio.length === 0) throw new JobError(400, `${job.name}: the file holds no audio samples`);
  const out = await transcriber.transcribe(audio, job.variant);
  return { ...out, variant: job.variant, seconds: (performance.now() - t0) / 1000, audioSeconds: audio.length / 16000 };
}

export interface TranscriberOptions {
  /** Model folder or Hub id; default the shared whisper-tiny. */
  model?: string;
  /** An already loaded model, tokenizer and feature extractor (a notebook's pipeline): then `model` only names it. */
  loaded?: Transcriber & { model: WhisperForConditionalGeneration };
  adapter?: string;
  /** An adapter already attached to `loaded.model` (a notebook's trained one), instead of `adapter`. */
  peft?: PeftModel;
  language?: string;
  /** Beam width for every request (default 1 = greedy, fastest on CPU). */
  numBeams?: number;
  /** Tokens per 30 s window (default 224, openai's limit); a bound on the time a request can take. */
  maxNewTokens?: number;
}


/** Loads the model (and adapter) once and returns the demo's transcriber. */
export async function createTranscriber(opts: TranscriberOptions = {}): Promise<DemoTranscriber> {
  await initBackend();
  const modelDir = opts.model ?? opts.loaded?.model.dir ?? sharedDir('models', 'whisper-tiny');
  // loadWhisper caches per process: a notebook that loaded the same folder shares the model.
  const loaded = opts.loaded ?? await loadWhisper(modelDir);
  const { model } = loaded;
  const adapterDir = opts.adapter ? path.resolve(opts.adapter) : undefined;
  const peft = opts.peft ?? (adapterDir ? PeftModel.fromPretrained(model, adapterDir) : undefined);
  // An adapter loaded here goes into a model others may hold (loadWhisper's cache, a notebook's
  // pipeline): it is on only while this demo transcribes an 'adapter' request.
  const ownAdapter = peft && !opts.peft ? peft.activeAdapter : undefined;
  if (ownAdapter) peft!.disableAdapterLayers();
  const run = (audio: Float32Array) => transcribeAny(loaded, audio,
    { language: opts.language, numBeams: opts.numBeams, maxNewTokens: opts.maxNewTokens });
  return {
    modelName: path.basename(modelDir),
    adapterName: adapterDir ? path.basename(adapterDir) : opts.peft?.activeAdapter,
    folders: model.dir ? { model: model.dir, adapter: opts.peft ? undefined : adapterDir } : undefined,
    transcribe(audio, variant) {
      if (variant === 'adapter') {
        if (!peft) throw new Error('no adapter loaded (start the demo with --adapter DIR)');
        return ownAdapter ? peft.withAdapter(ownAdapter, () => run(audio)) : run(audio);
      }
      return peft ? peft.withAdapterDisabled(() => run(audio)) : run(audio);
    },
  };
}
