/**
 * Transcripts as files, the formats of openai's `whisper/utils.py` writers: txt (one segment per
 * line), vtt and srt subtitles (a cue per segment; its times come from the words when word
 * timestamps were computed), tsv (start and end in integer milliseconds) and json (the whole result:
 * text, language, segments with tokens, log-probabilities and words).
 */
import * as path from 'path';
import type { TranscriptionResult } from '../../src/model/transcribe';

export const OUTPUT_FORMATS = ['txt', 'vtt', 'srt', 'tsv', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * NAME[.ADAPTER].FORMAT, the output file of input `file` in the output folder. Control characters
 * (a newline in the input's name) are replaced by '_': in a file name they break every shell loop
 * and log line that lists it. `sanitized` tells the caller to say so.
 */
export function outputFileName(file: string, variant: string | undefined, format: OutputFormat): { name: string; sanitized: boolean } {
  const raw = path.basename(file, path.extname(file)) + (variant ? `.${variant}` : '') + `.${format}`;
  const name = raw.replace(/\p{Cc}/gu, '_');
  return { name, sanitized: name !== raw };
}

/** openai's format_timestamp: [hh:]mm:ss.mmm (hours always for srt, decimal comma for srt). */
export function formatTimestamp(seconds: number, alwaysIncludeHours = false, decimalMarker = '.'): string {
  if (!(seconds >= 0)) throw new Error(`formatTimestamp: non-negative time expected, got ${seconds}`);
  let ms = Math.round(seconds * 1000);
  const hours = Math.floor(ms / 3_600_000);
  ms -= hours * 3_600_000;
  const minutes = Math.floor(ms / 60_000);
  ms -= minutes * 60_000;
  const secs = Math.floor(ms / 1000);
  ms -= secs * 1000;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${alwaysIncludeHours || hours > 0 ? `${pad(hours)}:` : ''}${pad(minutes)}:${pad(secs)}${decimalMarker}${pad(ms, 3)}`;
}

/** (start, end, text) per cue: a segment's own times, or its first and last word's. */
function cues(result: TranscriptionResult): { start: number; end: number; text: string }[] {
  return result.segments.map((s) => {
    const words = s.words ?? [];
    if (words.length) return { start: words[0].start, end: words[words.length - 1].end, text: words.map((w) => w.word).join('').trim() };
    return { start: s.start, end: s.end, text: s.text.trim().replace(/-->/g, '->') };
  });
}

/** The file content of `result` in `format`. */
export function formatResult(result: TranscriptionResult, format: OutputFormat): string {
  switch (format) {
    case 'txt':
      return result.segments.map((s) => `${s.text.trim()}\n`).join('');
    case 'vtt':
      return 'WEBVTT\n\n' + cues(result).map((c) => `${formatTimestamp(c.start)} --> ${formatTimestamp(c.end)}\n${c.text}\n\n`).join('');
    case 'srt':
      return cues(result).map((c, i) => `${i + 1}\n${formatTimestamp(c.start, true, ',')} --> ${formatTimestamp(c.end, true, ',')}\n${c.text}\n\n`).join('');
    case 'tsv':
      return 'start\tend\ttext\n' + result.segments.map((s) =>
        `${Math.round(1000 * s.start)}\t${Math.round(1000 * s.end)}\t${s.text.trim().replace(/\t/g, ' ')}\n`).join('');
    case 'json':
      return JSON.stringify({ text: result.text, segments: result.segments, language: result.language }) + '\n';
    default:
      throw new Error(`unknown output format '${format as string}' (use ${OUTPUT_FORMATS.join(', ')} or all)`);
  }
}
