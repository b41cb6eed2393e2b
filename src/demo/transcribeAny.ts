/**
 * One clip of any length to text, as the demo does it on the server and in the page (browser.ts):
 * silence gives no text (an energy gate, not Whisper's hallucinated "Thank you."), the rest goes
 * through `transcribeAudio` (one 30 s window exactly as evaluation decodes it, longer audio in
 * windows cut at timestamps). No Node module is imported on this path.
 */
import { isSilent } from '../audio/vad';
import { WhisperFeatureExtractor } from '../features/logmel';
import { Segment, transcribeAudio, Transcriber } from '../model/transcribe';
import type { WhisperForConditionalGeneration } from '../model/whisper';

/** Transcribes one clip of any length with `model` as it currently is (adapter on or off). */
export async function transcribeAny(
  model: WhisperForConditionalGeneration, tokenizer: Transcriber['tokenizer'], audio: Float32Array,
  opts: { language?: string; numBeams?: number; maxNewTokens?: number } = {},
): Promise<{ text: string; segments: Segment[] }> {
  if (isSilent(audio)) return { text: '', segments: [] };
  const featureExtractor = new WhisperFeatureExtractor({ feature_size: model.config.numMelBins });
  const r = await transcribeAudio({ model, tokenizer, featureExtractor }, audio,
    { language: opts.language ?? 'en', numBeams: opts.numBeams, maxNewTokens: opts.maxNewTokens });
  return { text: r.text.trim(), segments: r.segments };
}
