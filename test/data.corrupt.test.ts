/**
 * Corrupted copies of every layout, made here in a temp dir: each bad row is reported with its
 * file, row and reason, every good row is kept, and loading never stops at the first bad row.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AudioDataset, loadDataset, Problem } from '../src/data';
import { sharedDir } from '../tools/shared';

/** Copies `n` rows of a CSV/TSV manifest and their audio; returns the data lines. */
function copyRows(srcManifest: string, srcAudioDir: string, dst: string, dstAudioDir: string, audioField: number, n: number, delimiter: string): string[] {
  fs.mkdirSync(dstAudioDir, { recursive: true });
  const lines = fs.readFileSync(srcManifest, 'utf8').split(/\r?\n/).filter(Boolean).slice(0, n + 1);
  for (const line of lines.slice(1)) {
    const rel = line.split(delimiter)[audioField];
    fs.mkdirSync(path.dirname(path.join(dstAudioDir, rel)), { recursive: true });
    fs.copyFileSync(path.join(srcAudioDir, rel), path.join(dstAudioDir, rel));
  }
  fs.writeFileSync(dst, lines.join('\n') + '\n');
  return lines;
}

function truncate(file: string, keep = 0.3): void {
  const b = fs.readFileSync(file);
  fs.writeFileSync(file, b.subarray(0, Math.floor(b.length * keep)));
}

/** Rewrites data row `row` (1-based) of a manifest with `edit`. */
function editRow(manifest: string, row: number, edit: (line: string) => string): void {
  const lines = fs.readFileSync(manifest, 'utf8').split('\n');
  lines[row] = edit(lines[row]);
  fs.writeFileSync(manifest, lines.join('\n'));
}

const brief = (p: Problem) => `${path.basename(p.source)}:${p.row}:${p.field}`;

/** Load, then validate: the report must name exactly `expected` (file:row:field) and keep the rest. */
async function check(p: string, total: number, loadBad: string[], decodeBad: string[], reasons: RegExp[]): Promise<AudioDataset> {
  const ds = await loadDataset(p);
  assert.deepEqual(ds.report.problems.map(brief), loadBad);
  assert.equal(ds.length, total - new Set(loadBad.map((s) => s.split(':').slice(0, 2).join(':'))).size);
  const valid = await ds.validateAudio();
  assert.deepEqual(valid.report.problems.map(brief), [...loadBad, ...decodeBad]);
  assert.equal(valid.length, ds.length - decodeBad.length);
  assert.equal(valid.report.kept, valid.length);
  assert.equal(valid.report.excluded, total - valid.length);
  const text = valid.report.toString();
  if (process.env.DATA_TEST_VERBOSE) console.log(text);
  reasons.forEach((r) => assert.match(text, r));
  const html = valid.report.toHtml();
  assert.match(html, /<table/);
  assert.equal((html.match(/<tr>/g) ?? []).length, 1 + valid.report.problems.length);
  for (let i = 0; i < valid.length; i++) assert.ok((await valid.audio(i)).length > 16000 * 0.2);
  return valid;
}

describe('corrupted datasets: exact bad rows reported, good rows kept', () => {
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wf-corrupt-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('audiofolder (librispeech FLAC): truncated, missing, empty text, too many columns, empty file', async () => {
    const src = sharedDir('datasets', 'librispeech-mini', 'test');
    const dir = path.join(tmp, 'audiofolder');
    const manifest = path.join(dir, 'metadata.csv');
    const lines = copyRows(path.join(src, 'metadata.csv'), src, manifest, dir, 0, 8, ',');
    const file = (row: number) => path.join(dir, lines[row].split(',')[0]);
    truncate(file(2));
    fs.rmSync(file(3));
    editRow(manifest, 4, (l) => l.replace(/^([^,]*),[^,]*,/, '$1,,'));
    editRow(manifest, 5, (l) => `${l},extra`);
    fs.writeFileSync(file(6), '');
    await check(dir, 8, ['metadata.csv:3:audio', 'metadata.csv:4:text', 'metadata.csv:5:columns', 'metadata.csv:6:audio'],
      ['metadata.csv:2:audio'], [
        /metadata\.csv row 3 \(line 4\) \S+\.flac \[audio\]: audio file not found/,
        /row 4 \(line 5\) .*\[text\]: transcript 'transcription' is empty/,
        /row 5 \(line 6\) \[columns\]: too many columns: expected 4 \(file_name, transcription, speaker_id, duration\), found 5/,
        /row 6 .*\[audio\]: audio file is empty \(0 bytes\)/,
        /row 2 \(line 3\) \S+\.flac \[audio\]: cannot decode audio: truncated or corrupt: decoded \d+ of the 211440 samples its header declares/,
      ]);
  });

  it('CSV with relative paths (fsdd WAV): truncated, missing, empty text, too few and too many columns', async () => {
    const src = sharedDir('datasets', 'fsdd-digits');
    const dir = path.join(tmp, 'csv');
    const manifest = path.join(dir, 'dataset.csv');
    const lines = copyRows(path.join(src, 'dataset.csv'), src, manifest, dir, 0, 10, ',');
    const file = (row: number) => path.join(dir, lines[row].split(',')[0]);
    truncate(file(1), 0.5);
    fs.rmSync(file(4));
    editRow(manifest, 6, (l) => `${l.split(',')[0]},`);
    editRow(manifest, 7, (l) => l.split(',')[0]);
    editRow(manifest, 9, (l) => `${l},x,y`);
    await check(dir, 10, ['dataset.csv:4:audio', 'dataset.csv:6:text', 'dataset.csv:7:columns', 'dataset.csv:9:columns'],
      ['dataset.csv:1:audio'], [/too few columns: expected 2 \(audios, transcription\), found 1/, /found 4/, /0_george_0\.wav \[audio\]: cannot decode audio: truncated or corrupt: decoded \d+ of the \d+ samples its header declares/]);
  });

  it('Common Voice TSV (MP3): garbage audio, missing clip, empty sentence, too many columns', async () => {
    const src = sharedDir('datasets', 'commonvoice-sample', 'fr');
    const dir = path.join(tmp, 'cv');
    const manifest = path.join(dir, 'validated.tsv');
    const lines = copyRows(path.join(src, 'validated.tsv'), path.join(src, 'clips'), manifest, path.join(dir, 'clips'), 1, 7, '\t');
    const file = (row: number) => path.join(dir, 'clips', lines[row].split('\t')[1]);
    fs.writeFileSync(file(2), Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919) % 251)));
    fs.rmSync(file(5));
    editRow(manifest, 3, (l) => l.split('\t').map((f, k) => (k === 2 ? '' : f)).join('\t'));
    editRow(manifest, 6, (l) => `${l}\textra`);
    await check(dir, 7, ['validated.tsv:3:text', 'validated.tsv:5:audio', 'validated.tsv:6:columns'],
      ['validated.tsv:2:audio'], [/\[text\]: transcript 'sentence' is empty/, /expected 10 .* found 11/,
        /validated\.tsv row 2 \(line 3\) \S+common_voice_fr_\d+\.mp3 \[audio\]: cannot decode audio: /]);
  });

  it('txt pairs (WAV): truncated, wav without txt, txt without wav, empty txt', async () => {
    const src = sharedDir('datasets', 'pocketsphinx-testdata');
    const dir = path.join(tmp, 'pairs');
    fs.mkdirSync(dir);
    for (const n of ['001', '002', '003', '004', '005', 'goforward']) {
      fs.copyFileSync(path.join(src, `${n}.wav`), path.join(dir, `${n}.wav`));
      fs.copyFileSync(path.join(src, `${n}.txt`), path.join(dir, `${n}.txt`));
    }
    truncate(path.join(dir, '001.wav'), 0.4);
    fs.rmSync(path.join(dir, '002.txt'));
    fs.rmSync(path.join(dir, '003.wav'));
    fs.writeFileSync(path.join(dir, '004.txt'), '  \n');
    await check(dir, 6, ['002.wav:2:text', '003.txt:3:audio', '004.txt:4:text'], ['001.txt:1:audio'],
      [/no transcript file 002\.txt/, /no audio file for 003\.txt/, /transcript file is empty/]);
  });

  it('JSONL: truncated FLAC, missing file, empty text, invalid JSON line', async () => {
    const src = sharedDir('datasets', 'librispeech-mini', 'train');
    const dir = path.join(tmp, 'jsonl');
    fs.mkdirSync(dir);
    const meta = fs.readFileSync(path.join(src, 'metadata.csv'), 'utf8').trim().split('\n').slice(1, 7).map((l) => l.split(','));
    meta.forEach(([f]) => fs.copyFileSync(path.join(src, f), path.join(dir, f)));
    truncate(path.join(dir, meta[4][0]), 0.5);
    fs.rmSync(path.join(dir, meta[1][0]));
    const lines = meta.map(([f, t], i) => JSON.stringify({ audio: f, text: i === 2 ? '' : t }));
    lines[3] = lines[3].slice(0, -5);
    fs.writeFileSync(path.join(dir, 'train.jsonl'), lines.join('\n') + '\n');
    await check(path.join(dir, 'train.jsonl'), 6, ['train.jsonl:2:audio', 'train.jsonl:3:text', 'train.jsonl:4:json'],
      ['train.jsonl:5:audio'], [/\[json\]: invalid JSON/, /row 5 .*truncated or corrupt: decoded/]);
  });
});
