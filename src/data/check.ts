/**
 * `checkData`: the guides' "always listen to a few examples" step. Shows `n` seeded-random rows
 * with an audio player, the transcript and, for prepared rows, the labels decoded back to text
 * (with special tokens, so a wrong language or task token is visible at a glance).
 */
import { audioPlayerHtml } from '../viz/audio';
import { tableHtml } from '../viz/table';
import { AudioDataset } from './dataset';
import { TokenizerLike } from './prepare';
import { permutation } from './split';
import { isAudioValue, decodeCell } from './decodeCell';

export interface CheckOptions {
  n?: number;
  seed?: number | string;
  /** Decodes a `labels` column back to text. */
  tokenizer?: Pick<TokenizerLike, 'decode'>;
  /** Original dataset to take audio/text from when `ds` is prepared (same row order). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  source?: AudioDataset<any>;
}

export async function checkData<R extends object>(ds: AudioDataset<R>, options: CheckOptions = {}): Promise<string> {
  const n = Math.min(options.n ?? 5, ds.length);
  const picks = permutation(ds.length, options.seed ?? 0).slice(0, n).sort((a, b) => a - b);
  const rows: Record<string, unknown>[] = [];
  for (const i of picks) {
    const row = ds.rows[i] as Record<string, unknown>;
    const src = (options.source?.rows[i] ?? row) as Record<string, unknown>;
    const out: Record<string, unknown> = { row: i, origin: `${ds.origins[i].source.split('/').slice(-2).join('/')} #${ds.origins[i].row}` };
    if (isAudioValue(src.audio)) {
      const audio = await decodeCell(src.audio, ds.samplingRate, ds.origins[i]);
      out.audio = audioPlayerHtml(audio.array, audio.samplingRate, `${(audio.array.length / audio.samplingRate).toFixed(2)} s`);
    }
    if (typeof src.text === 'string') out.text = src.text;
    const labels = row.labels as ArrayLike<number> | undefined;
    if (labels && options.tokenizer) {
      const ids = Array.from(labels).filter((t) => t >= 0);
      out.labels = options.tokenizer.decode(ids, { skipSpecialTokens: false });
    }
    rows.push(out);
  }
  return tableHtml(rows, { htmlColumns: ['audio'], caption: `${n} random rows (seed ${options.seed ?? 0}) of ${ds.length}` });
}
