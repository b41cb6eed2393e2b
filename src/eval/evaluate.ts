/**
 * The evaluation loop: transcribe a dataset in batches, normalize both sides, score.
 *
 * Every row keeps the raw and the normalized comparison side by side, because the gap between
 * them is the first lesson of ASR evaluation: Whisper writes "Northanger Abby." where LibriSpeech
 * says "NORTHANGER ABBEY", so the raw WER (~98 %) measures casing and punctuation, the
 * normalized one (~6 %) measures recognition.
 */
import type { AudioDataset } from '../data/dataset';
import { getNormalizer, Normalizer, NormalizerName, whisperNormalizerFor } from '../text';
import { Measures, processWords } from './metrics';
import type { BatchTranscriber, ClipOptions } from './transcriber';

/** One clip to score: what `scoreTranscripts` needs (evaluate() builds these from a dataset). */
export interface TranscriptItem {
  id: string;
  reference: string;
  hypothesis: string;
  speaker?: string;
  /** Seconds. */
  duration?: number;
}

export interface EvalRow extends TranscriptItem {
  refNorm: string;
  hypNorm: string;
  /** Normalized comparison (the WER to report). */
  errors: number;
  substitutions: number;
  deletions: number;
  insertions: number;
  hits: number;
  refWords: number;
  /** errors / max(refWords, 1) */
  wer: number;
  /** Raw comparison: split on whitespace, nothing else. */
  rawErrors: number;
  rawRefWords: number;
  rawWer: number;
}

export interface EvalReport {
  /** Label (model name) for tables and charts. */
  name: string;
  language?: string;
  task?: string;
  /** Which normalizer produced refNorm/hypNorm, e.g. "english". */
  normalizer: string;
  /** Corpus measures on normalized text. */
  normalized: Measures;
  /** Corpus measures on raw text. */
  raw: Measures;
  /** Mean of per-clip normalized WERs (for contrast with the corpus WER; not the number to report). */
  meanWer: number;
  /** Wall-clock seconds spent transcribing (0 for stored transcripts). */
  seconds: number;
  rows: EvalRow[];
}

export interface ScoreOptions {
  /** Default: Whisper's convention for `language` (English normalizer for 'en', Basic otherwise). */
  normalizer?: NormalizerName | Normalizer;
  language?: string;
  name?: string;
  /** Path to the checkpoint's normalizer.json for the English normalizer. */
  normalizerJson?: string;
}

function resolveNormalizer(opts: ScoreOptions): { fn: Normalizer; label: string } {
  const n = opts.normalizer;
  if (typeof n === 'function') return { fn: n, label: n.name || 'custom' };
  if (n === undefined) {
    const lang = opts.language ?? 'en';
    const fn = whisperNormalizerFor(lang, { normalizerJson: opts.normalizerJson });
    return { fn, label: lang === 'en' || lang === 'english' ? 'english' : 'basic' };
  }
  return { fn: getNormalizer(n, { normalizerJson: opts.normalizerJson }), label: typeof n === 'string' ? n : JSON.stringify(n) };
}

/** Scores finished transcripts (yours, a stored run, or the reference implementation's). */
export function scoreTranscripts(items: readonly TranscriptItem[], opts: ScoreOptions = {}, seconds = 0): EvalReport {
  const { fn, label } = resolveNormalizer(opts);
  const refNorm = items.map((t) => fn(t.reference));
  const hypNorm = items.map((t) => fn(t.hypothesis));
  const normalized = processWords(refNorm, hypNorm);
  const raw = processWords(items.map((t) => t.reference), items.map((t) => t.hypothesis));
  const rows: EvalRow[] = items.map((t, i) => {
    const p = normalized.pairs[i];
    const r = raw.pairs[i];
    return {
      ...t, refNorm: refNorm[i], hypNorm: hypNorm[i],
      errors: p.errors, substitutions: p.substitutions, deletions: p.deletions, insertions: p.insertions,
      hits: p.hits, refWords: p.refWords, wer: p.wer,
      rawErrors: r.errors, rawRefWords: r.refWords, rawWer: r.wer,
    };
  });
  const { pairs: _n, ...normalizedMeasures } = normalized;
  const { pairs: _r, ...rawMeasures } = raw;
  return {
    name: opts.name ?? 'model', language: opts.language, normalizer: label,
    normalized: normalizedMeasures, raw: rawMeasures,
    meanWer: rows.length ? rows.reduce((a, r) => a + r.wer, 0) / rows.length : 0,
    seconds, rows,
  };
}

export interface EvalProgress {
  done: number;
  total: number;
  elapsedS: number;
  /** Estimated seconds left at the current pace. */
  etaS: number;
  /** Normalized corpus WER of the clips done so far. */
  wer: number;
}

export interface EvaluateOptions extends ScoreOptions, ClipOptions {
  transcribe: BatchTranscriber;
  /** Clips per `generate` call (default 8). */
  batchSize?: number;
  /** Only the first N rows (e.g. 8 in a smoke run). */
  limit?: number;
  onProgress?: (p: EvalProgress) => void;
  /** Column with the reference text (default 'text'). */
  textColumn?: string;
  /** Column used as clip id; default: the audio file name without extension, else the row index. */
  idColumn?: string;
  /** Default 'speaker_id', 'speaker' or 'client_id', whichever the rows have. */
  speakerColumn?: string;
  /** Column with seconds; default 'duration', else computed from the decoded audio. */
  durationColumn?: string;
}

const baseName = (p: string) => p.replace(/\\/g, '/').split('/').pop()!.replace(/\.[^.]+$/, '');

/** Transcribes `dataset` batch by batch with `opts.transcribe` and scores it. */
export async function evaluate(dataset: AudioDataset<any>, opts: EvaluateOptions): Promise<EvalReport> {
  const total = Math.min(dataset.length, opts.limit ?? Infinity);
  const batchSize = opts.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`evaluate: batchSize must be a positive integer, got ${batchSize}`);
  if (dataset.samplingRate !== 16000) {
    throw new Error(`evaluate: Whisper needs 16 kHz audio but the dataset decodes at ${dataset.samplingRate} Hz; ` +
      `use dataset.castColumn('audio', {samplingRate: 16000})`);
  }
  const textColumn = opts.textColumn ?? 'text';
  const first = total > 0 ? (dataset.get(0) as Record<string, unknown>) : {};
  if (total > 0 && typeof first[textColumn] !== 'string') {
    throw new Error(`evaluate: row 0 has no text column '${textColumn}' (columns: ${Object.keys(first).join(', ')})`);
  }
  const speakerColumn = opts.speakerColumn ?? ['speaker_id', 'speaker', 'client_id'].find((c) => c in first);
  const { fn } = resolveNormalizer(opts);

  const items: TranscriptItem[] = [];
  const started = Date.now();
  let errors = 0;
  let words = 0;
  for (let start = 0; start < total; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, total - start) }, (_, k) => start + k);
    const audios = await Promise.all(idx.map((i) => dataset.audio(i)));
    const texts = await opts.transcribe(audios, { language: opts.language, task: opts.task, maxNewTokens: opts.maxNewTokens });
    if (texts.length !== idx.length) throw new Error(`evaluate: the transcriber returned ${texts.length} texts for ${idx.length} clips`);
    idx.forEach((i, k) => {
      const row = dataset.get(i) as Record<string, unknown>;
      const audioPath = typeof row.audio === 'string' ? row.audio : undefined;
      const id = opts.idColumn ? String(row[opts.idColumn]) : audioPath ? baseName(audioPath) : String(i);
      const durationCell = Number(row[opts.durationColumn ?? 'duration']);
      const item: TranscriptItem = {
        id, reference: String(row[textColumn]), hypothesis: texts[k],
        duration: Number.isFinite(durationCell) && durationCell > 0 ? durationCell : audios[k].length / dataset.samplingRate,
      };
      if (speakerColumn && row[speakerColumn] !== undefined) item.speaker = String(row[speakerColumn]);
      items.push(item);
      const m = processWords(fn(item.reference), fn(item.hypothesis));
      errors += m.errors;
      words += m.refWords;
    });
    const elapsedS = (Date.now() - started) / 1000;
    opts.onProgress?.({
      done: items.length, total, elapsedS, etaS: (elapsedS / items.length) * (total - items.length),
      wer: errors / Math.max(words, 1),
    });
  }
  return scoreTranscripts(items, opts, (Date.now() - started) / 1000);
}
