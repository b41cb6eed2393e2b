/**
 * A small real dataset twice: as a local audiofolder (FLAC files + metadata.csv, from
 * ../shared/datasets/librispeech-mini/test) and as the Parquet file `datasets` would push to the
 * Hub for it (audio as the `{bytes, path}` struct, transcription, speaker_id), written with
 * hyparquet-writer.
 */
import * as fs from 'fs';
import * as path from 'path';
import { sharedDir } from '../../tools/shared';

export interface Clip {
  file: string;
  transcription: string;
  speakerId: number;
}

export function clips(n: number): Clip[] {
  const lines = fs.readFileSync(sharedDir('datasets', 'librispeech-mini', 'test', 'metadata.csv'), 'utf8').trim().split('\n').slice(1, n + 1);
  return lines.map((l) => {
    const [file, transcription, speaker] = l.split(',');
    return { file, transcription, speakerId: Number(speaker) };
  });
}

/** The clips as an audiofolder in `dir` (copies: the test's own folder, never the repo). */
export function writeAudioFolder(dir: string, list: Clip[]): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const c of list) fs.copyFileSync(sharedDir('datasets', 'librispeech-mini', 'test', c.file), path.join(dir, c.file));
  fs.writeFileSync(path.join(dir, 'metadata.csv'), ['file_name,transcription,speaker_id', ...list.map((c) => `${c.file},${c.transcription},${c.speakerId}`)].join('\n') + '\n');
  return dir;
}

/** The clips as one Parquet file in the Hub's Audio layout, `rowGroupSize` rows per row group; rows `noBytes` keep only their path. */
export async function parquetOf(list: Clip[], rowGroupSize = 2, noBytes: number[] = []): Promise<Buffer> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const bytes = (c: Clip, i: number) => (noBytes.includes(i) ? null : new Uint8Array(fs.readFileSync(sharedDir('datasets', 'librispeech-mini', 'test', c.file))));
  const buf = parquetWriteBuffer({
    columnData: [
      { name: 'audio', data: list.map((c, i) => ({ bytes: bytes(c, i), path: c.file })) },
      { name: 'transcription', data: list.map((c) => c.transcription) },
      { name: 'speaker_id', data: list.map((c) => BigInt(c.speakerId)) },
    ],
    schema: [
      { name: 'schema', num_children: 3 },
      { name: 'audio', repetition_type: 'OPTIONAL', num_children: 2 },
      { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
      { name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'transcription', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'speaker_id', type: 'INT64', repetition_type: 'OPTIONAL' },
    ],
    rowGroupSize,
  });
  return Buffer.from(buf);
}
