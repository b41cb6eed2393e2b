/**
 * Training labels that keep Whisper's timestamps: `<|0.00|> text<|2.40|><|2.40|> more<|5.10|>`
 * after a prompt without <|notimestamps|>. A model fine-tuned on <|notimestamps|> labels only
 * forgets to emit timestamps, and long-form transcription (which seeks by them) breaks; openai
 * trained with about half of the examples timestamped (Whisper paper, section 2.3), which
 * `prepareDataset({ timestampRatio: 0.5 })` copies.
 */
import seedrandom from 'seedrandom';

/** One timed piece of a transcript, in seconds from the start of the clip. */
export interface TimedSegment {
  start: number;
  end: number;
  text: string;
}

/** What timestamped labels need from the tokenizer (src/tokenizer/whisper.ts WhisperTokenizer). */
export interface TimestampTokenizer {
  readonly eot: number;
  encode(text: string): number[];
  prefixTokens(options: { language?: string; task?: 'transcribe' | 'translate'; timestamps?: boolean }): number[];
  timestampToken(seconds: number): number;
}

/** prefix (timestamps on) + per segment <|start|> text <|end|> + <|endoftext|>. */
export function timestampedLabels(segments: TimedSegment[], tokenizer: TimestampTokenizer,
  options: { language?: string; task?: 'transcribe' | 'translate' } = {}): number[] {
  const out = tokenizer.prefixTokens({ ...options, timestamps: true });
  let last = 0;
  segments.forEach((s, i) => {
    if (!(s.start >= last - 1e-9 && s.end >= s.start)) {
      throw new Error(`timestampedLabels: segment ${i} runs ${s.start}..${s.end} s; segments must be in order, start <= end`);
    }
    out.push(tokenizer.timestampToken(s.start), ...tokenizer.encode(' ' + s.text.trim()), tokenizer.timestampToken(s.end));
    last = s.end;
  });
  out.push(tokenizer.eot);
  return out;
}

/** Whether example `key` is timestamped: a seeded draw, the same for the same seed and key in every run and epoch. */
export function isTimestamped(ratio: number, seed: number | string, key: string | number): boolean {
  if (!(ratio >= 0 && ratio <= 1)) throw new Error(`prepareDataset: timestampRatio must be in [0, 1], got ${ratio}`);
  return seedrandom(`timestamps|${seed}|${key}`)() < ratio;
}

/**
 * The transcript `text` laid over segment times from elsewhere (the base model's own timestamps on
 * the clip, whose words may differ from the reference): each segment gets the share of the
 * reference's words that its own text has of all the words.
 */
export function retimeText(timed: TimedSegment[], text: string): TimedSegment[] {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const counts = timed.map((s) => Math.max(1, s.text.trim().split(/\s+/).filter(Boolean).length));
  const total = counts.reduce((a, b) => a + b, 0);
  const out: TimedSegment[] = [];
  let used = 0;
  let seen = 0;
  timed.forEach((s, i) => {
    seen += counts[i];
    const upTo = i === timed.length - 1 ? words.length : Math.round((seen / total) * words.length);
    const part = words.slice(used, upTo);
    used = Math.max(used, upTo);
    if (part.length) out.push({ start: s.start, end: s.end, text: part.join(' ') });
  });
  return out;
}
