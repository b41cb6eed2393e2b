/**
 * The CLI's segments against openai transcribe()'s (shared/reference/whisper-tiny/longform): used
 * by test/longform.parity.test.ts and bench/longform-parity.ts.
 */
import * as fs from 'fs';
import { sharedDir } from '../../tools/shared';

/** A reference file and the --language it was transcribed with (undefined: detected). */
export interface LongformCase {
  audio: string;
  reference: string;
  language?: string;
}

export const LONGFORM_CASES: LongformCase[] = [
  { audio: 'en_long.flac', reference: 'en_long.en.openai.json', language: 'en' },
  { audio: 'en_silence.flac', reference: 'en_silence.en.openai.json', language: 'en' },
  { audio: 'fr_long.flac', reference: 'fr_long.fr.openai.json', language: 'fr' },
  { audio: 'fr_long.flac', reference: 'fr_long.auto.openai.json' },
];

export const longformPath = (name: string) => sharedDir('reference', 'whisper-tiny', 'longform', name);

interface RefSegment {
  seek: number; start: number; end: number; tokens: number[]; avg_logprob: number; no_speech_prob: number;
}
export interface OurSegment {
  seek: number; start: number; end: number; tokens: number[]; avgLogprob: number; noSpeechProb: number;
}

/** Times are sums of multiples of 10 ms and 20 ms in float64: equal up to rounding. */
const TIME_TOLERANCE = 1e-6;
/** float32 encoder/decoder on another backend: log-probabilities agree to a few thousandths. */
export const PROB_TOLERANCE = 0.01;

export interface ParityReport {
  language: string;
  /** Segments equal in seek, start, end and tokens (in order, up to the first difference). */
  equal: number;
  total: number;
  ours: number;
  /** What differs first ("" when all are equal), naming the file and field. */
  firstDifference: string;
  /** Largest |avg_logprob| and |no_speech_prob| difference over the equal segments. */
  maxLogprobDiff: number;
  maxNoSpeechDiff: number;
}

export function compareWithReference(c: LongformCase, result: { language: string; segments: OurSegment[] }): ParityReport {
  const ref = JSON.parse(fs.readFileSync(longformPath(c.reference), 'utf8')) as { language: string; segments: RefSegment[] };
  const report: ParityReport = {
    language: result.language, equal: 0, total: ref.segments.length, ours: result.segments.length, firstDifference: '',
    maxLogprobDiff: 0, maxNoSpeechDiff: 0,
  };
  if (result.language !== ref.language) report.firstDifference = `${c.reference}: language ${result.language}, reference ${ref.language}`;
  for (let i = 0; i < Math.max(ref.segments.length, result.segments.length) && !report.firstDifference; i++) {
    const r = ref.segments[i];
    const o = result.segments[i];
    const where = `${c.reference}: segment ${i}`;
    if (!r || !o) report.firstDifference = `${where}: ${r ? 'missing in ours' : 'extra in ours'}`;
    else if (o.seek !== r.seek) report.firstDifference = `${where}: seek ${o.seek}, reference ${r.seek}`;
    else if (o.tokens.join() !== r.tokens.join()) report.firstDifference = `${where} (seek ${r.seek}): tokens [${o.tokens}], reference [${r.tokens}]`;
    else if (Math.abs(o.start - r.start) > TIME_TOLERANCE || Math.abs(o.end - r.end) > TIME_TOLERANCE) {
      report.firstDifference = `${where}: start/end ${o.start}/${o.end}, reference ${r.start}/${r.end}`;
    } else {
      report.equal++;
      report.maxLogprobDiff = Math.max(report.maxLogprobDiff, Math.abs(o.avgLogprob - r.avg_logprob));
      report.maxNoSpeechDiff = Math.max(report.maxNoSpeechDiff, Math.abs(o.noSpeechProb - r.no_speech_prob));
    }
  }
  return report;
}

/** The CLI's arguments for a case: JSON on stdout. */
export function cliArgs(c: LongformCase): string[] {
  return [longformPath(c.audio), '--output-format', 'json', ...(c.language ? ['--language', c.language] : [])];
}
