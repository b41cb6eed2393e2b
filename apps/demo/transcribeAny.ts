/**
 * One clip of any length to text, as the demo does it on the server and in the page (browser.ts):
 * silence gives no text (an energy gate, not Whisper's hallucinated "Thank you."), the rest goes
 * through the library's one route, `transcribe` (the language is detected when none is given). No
 * Node module is imported on this path.
 */
import { isSilent } from '../../src/audio/vad';
import { Segment, transcribe, Transcriber, TranscribeOptions } from '../../src/model/transcribe';

/** Transcribes one clip of any length with `t.model` as it currently is (adapter on or off). */
export async function transcribeAny(t: Transcriber, audio: Float32Array,
  opts: Pick<TranscribeOptions, 'language' | 'numBeams' | 'maxNewTokens'> = {}): Promise<{ text: string; segments: Segment[] }> {
  if (isSilent(audio)) return { text: '', segments: [] };
  const [r] = await transcribe(t, audio, opts);
  return { text: r.text.trim(), segments: r.segments };
}
