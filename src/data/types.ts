/** Row shapes shared by the dataset classes, loaders and transforms. */

/**
 * An audio cell: a file path (absolute, resolved from the manifest), the file's raw bytes, or
 * samples already decoded (what the audio preprocessing step stores).
 */
export type AudioValue = string | Uint8Array | DecodedAudio;

/** One dataset row: `audio` and `text` plus any extra manifest columns (speaker_id, duration, ...). */
export interface Row {
  audio: AudioValue;
  text: string;
  [column: string]: unknown;
}

/** Decoded audio as Hugging Face `datasets` exposes it: `example.audio.array`. */
export interface DecodedAudio {
  path?: string;
  array: Float32Array;
  samplingRate: number;
}

/** A row whose audio was decoded (what iteration and `map(fn, {withAudio: true})` hand out). */
// Key remapping instead of Omit: Omit over Row's index signature would also drop `text`.
export type Example<R extends object = Row> = { [K in keyof R as K extends 'audio' ? never : K]: R[K] } & { audio: DecodedAudio };

/** Where a row came from, so every later error can name the manifest file and row. */
export interface RowOrigin {
  /** The manifest (CSV/TSV/JSONL/metadata.csv) or, for folder layouts, the transcript file. */
  source: string;
  /** 1-based data row (the header line is not counted). */
  row: number;
  /** 1-based physical line in `source` (what an editor shows). */
  line: number;
}

/** Short label for messages: "dataset.csv row 12 (line 13)". */
export function originLabel(o: RowOrigin | undefined): string {
  if (!o) return '(unknown row)';
  return o.row === o.line ? `${o.source} row ${o.row}` : `${o.source} row ${o.row} (line ${o.line})`;
}

/**
 * One example ready for Whisper: what prepareDataset makes, the collator batches and Seq2SeqTrainer
 * trains and evaluates on (a transformers row with input_features and labels).
 */
export interface PreparedRow {
  /** Log-Mel features [nMels * nFrames] row-major (nMels rows of nFrames): HF input_features. */
  inputFeatures: Float32Array;
  /**
   * Token ids as the Whisper tokenizer makes them: <|startoftranscript|><|lang|><|task|>
   * <|notimestamps|> text <|endoftext|>. The collator drops the leading start token (HF's rule).
   */
  labels: readonly number[] | Int32Array;
  /** Audio seconds (prepareDataset sets it; the validity filter reads it). */
  inputLength?: number;
  /** Any id, for logs. */
  id?: string;
}
