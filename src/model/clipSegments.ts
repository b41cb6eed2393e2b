/**
 * A clip's segment times as the model itself puts them: one 30 s window decoded with timestamps
 * (greedy), split at timestamp pairs like the long-form loop does. Timestamped training labels
 * (data/timestamps.ts) take their times from here when the dataset has none.
 */
import { tf } from '../backend';
import { TimedSegment } from '../data/timestamps';
import { decode } from './decoding';
import { FRAMES_PER_SECOND, splitWindow, Transcriber } from './transcribe';

export async function clipSegments(t: Transcriber, audio: Float32Array, opts: { language?: string } = {}): Promise<TimedSegment[]> {
  if (audio.length > t.featureExtractor.nSamples) throw new Error(`clipSegments: the clip is longer than 30 s (${audio.length} samples)`);
  const features = t.featureExtractor.call([audio]);
  try {
    const [r] = await decode(t.model, { features }, { language: opts.language, withoutTimestamps: false });
    const timestampBegin = t.model.specialTokens.timestampBegin;
    const frames = Math.round((audio.length / t.featureExtractor.samplingRate) * FRAMES_PER_SECOND);
    const seconds = audio.length / t.featureExtractor.samplingRate;
    return splitWindow(r.tokens, timestampBegin, frames).segments
      .map((s) => ({ start: Math.min(s.start, seconds), end: Math.min(s.end, seconds), text: t.tokenizer.decode(s.tokens, { skipSpecialTokens: true }).trim() }))
      .filter((s) => s.text);
  } finally {
    tf.dispose(features);
  }
}
