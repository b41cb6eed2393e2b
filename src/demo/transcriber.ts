/**
 * What the demo server calls to turn 16 kHz audio into text: the model loaded once, optionally a
 * LoRA adapter that can be switched on ("base + adapter") or off ("base") per request.
 *
 * Clips up to 30 s go through `generate` (one window, no timestamps, exactly what evaluation uses);
 * longer ones through `transcribeLongform` (30 s windows cut at timestamps). Silent input returns
 * no text instead of Whisper's hallucinated "Thank you." (energy gate, src/audio/vad.ts).
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { isSilent } from '../audio/vad';
import { logMelSpectrogram } from '../features/logmel';
import { PeftModel } from '../lora';
import { generateBeams } from '../model/beam';
import { Segment, transcribeLongform, TextDecoder, WINDOW_SAMPLES } from '../model/longform';
import { WhisperForConditionalGeneration } from '../model/whisper';
import { loadWhisper } from '../model/pipeline';
import { sharedDir } from '../shared';

export type Variant = 'base' | 'adapter';

export interface DemoTranscriber {
  modelName: string;
  /** Name of the adapter folder when one was loaded. */
  adapterName?: string;
  transcribe(audio: Float32Array, variant: Variant): Promise<{ text: string; segments: Segment[] }>;
}

export interface TranscriberOptions {
  /** Model folder or Hub id; default the shared whisper-tiny. */
  model?: string;
  /**
   * An already loaded model + tokenizer (a notebook's): then `model` only names it. With `peft`,
   * the PeftModel that already carries the adapter on that model (instead of loading `adapter`).
   */
  loaded?: { model: WhisperForConditionalGeneration; tokenizer: TextDecoder; peft?: PeftModel };
  adapter?: string;
  language?: string;
  /** Beam width for every request (default 1 = greedy, fastest on CPU). */
  numBeams?: number;
  /** Tokens per 30 s window (default 224, openai's limit); a bound on the time a request can take. */
  maxNewTokens?: number;
}

/** Transcribes one clip of any length with `model` as it currently is (adapter on or off). */
export async function transcribeAny(
  model: WhisperForConditionalGeneration, tokenizer: TextDecoder, audio: Float32Array,
  opts: { language?: string; numBeams?: number; maxNewTokens?: number } = {},
): Promise<{ text: string; segments: Segment[] }> {
  if (isSilent(audio)) return { text: '', segments: [] };
  const language = opts.language ?? 'en';
  if (audio.length > WINDOW_SAMPLES) {
    const r = await transcribeLongform(model, tokenizer, audio, { language, numBeams: opts.numBeams, maxNewTokens: opts.maxNewTokens });
    return { text: r.text, segments: r.segments };
  }
  const nMels = model.config.numMelBins;
  const mel = logMelSpectrogram(audio, nMels);
  const features = tf.tensor3d(mel, [1, nMels, mel.length / nMels]);
  try {
    const gen = { language, maxNewTokens: opts.maxNewTokens ?? 224, numBeams: opts.numBeams };
    const out = (opts.numBeams ?? 1) > 1 ? await generateBeams(model, features, gen) : await model.generate(features, gen);
    const text = tokenizer.decode(out.sequences[0], { skipSpecialTokens: true }).trim();
    return { text, segments: text ? [{ start: 0, end: audio.length / 16000, text, tokens: out.sequences[0] }] : [] };
  } finally {
    features.dispose();
  }
}

/** Loads the model (and adapter) once and returns the demo's transcriber. */
export async function createTranscriber(opts: TranscriberOptions = {}): Promise<DemoTranscriber> {
  await initBackend();
  const modelDir = opts.model ?? opts.loaded?.model.dir ?? sharedDir('models', 'whisper-tiny');
  // loadWhisper caches per process: a notebook that loaded the same folder shares the model.
  const { model, tokenizer } = opts.loaded ?? await loadWhisper(modelDir);
  const peft = opts.loaded?.peft ?? (opts.adapter ? PeftModel.fromPretrained(model, path.resolve(opts.adapter)) : undefined);
  const run = (audio: Float32Array) => transcribeAny(model, tokenizer, audio,
    { language: opts.language, numBeams: opts.numBeams, maxNewTokens: opts.maxNewTokens });
  return {
    modelName: path.basename(modelDir),
    adapterName: opts.adapter ? path.basename(path.resolve(opts.adapter)) : peft?.activeAdapter,
    transcribe(audio, variant) {
      if (variant === 'adapter') {
        if (!peft) throw new Error('no adapter loaded (start the demo with --adapter DIR)');
        return run(audio);
      }
      return peft ? peft.withAdapterDisabled(() => run(audio)) : run(audio);
    },
  };
}
