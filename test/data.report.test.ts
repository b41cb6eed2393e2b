/**
 * Nothing silently changed or lost (issue 15): text that is not valid in the manifest's encoding,
 * replacement characters, duplicate rows, a header naming a column twice and two audio files
 * sharing one transcript are all reported with the file and row, and never reach training.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadDataset, Problem } from '../src/data';
import { sharedDir } from '../tools/shared';

const latin1 = (s: string) => Buffer.from(s, 'latin1');
const brief = (p: Problem) => `${path.basename(p.source)}:${p.row}:${p.field}`;

describe('data reports: bad text and duplicates are reported, never trained on', () => {
  let tmp: string;
  let wav: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wf-report-'));
    wav = sharedDir('datasets', 'pocketsphinx-testdata', '001.wav');
    for (const n of ['a', 'b', 'c', 'd']) fs.copyFileSync(wav, path.join(tmp, `${n}.wav`));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a Latin-1 row of a UTF-8 CSV is reported with its row and column; with {encoding} the file reads right', async () => {
    const csv = path.join(tmp, 'dataset.csv');
    fs.writeFileSync(csv, Buffer.concat([Buffer.from('audio,transcription\na.wav,un café noir\n'),
      latin1('b.wav,un caf\u00e9 cr\u00e8me\n'), Buffer.from('c.wav,déjà vu\n')]));
    const ds = await loadDataset(csv);
    assert.deepEqual(ds.report.problems.map(brief), ['dataset.csv:2:transcription']);
    assert.match(ds.report.problems[0].reason, /'transcription' is not valid utf-8 \(byte 0xe9 at offset 6\): save the file as UTF-8, or pass \{encoding/);
    assert.deepEqual(ds.rows.map((r) => r.text), ['un café noir', 'déjà vu']);
    assert.equal(ds.report.excluded, 1);
    // The whole file in Windows-1252, declared: every row reads right.
    fs.writeFileSync(csv, latin1('audio,transcription\na.wav,un caf\u00e9 noir\nb.wav,d\u00e9j\u00e0 vu\n'));
    const declared = await loadDataset(csv, { encoding: 'windows-1252' });
    assert.deepEqual(declared.rows.map((r) => r.text), ['un café noir', 'déjà vu']);
    assert.equal(declared.report.problems.length, 0);
  });

  it('JSONL lines and .txt transcripts that are not UTF-8, and U+FFFD already in the text, are reported', async () => {
    const jsonl = path.join(tmp, 'train.jsonl');
    fs.writeFileSync(jsonl, Buffer.concat([Buffer.from('{"audio": "a.wav", "text": "ok"}\n'),
      latin1('{"audio": "b.wav", "text": "caf\u00e9"}\n'), Buffer.from('{"audio": "c.wav", "text": "caf\uFFFD"}\n')]));
    const j = await loadDataset(jsonl);
    assert.deepEqual(j.report.problems.map(brief), ['train.jsonl:2:json', 'train.jsonl:3:text']);
    assert.match(j.report.problems[0].reason, /line is not valid utf-8 \(byte 0xe9 at offset 31\)/);
    assert.match(j.report.problems[1].reason, /transcript contains U\+FFFD, the replacement character \(at character 4: "caf\uFFFD"\)/);
    assert.deepEqual(j.rows.map((r) => r.text), ['ok']);

    const pairs = path.join(tmp, 'pairs');
    fs.mkdirSync(pairs);
    for (const n of ['x', 'y', 'z']) fs.copyFileSync(wav, path.join(pairs, `${n}.wav`));
    fs.writeFileSync(path.join(pairs, 'x.txt'), 'hello there\n');
    fs.writeFileSync(path.join(pairs, 'y.txt'), latin1('na\u00efve\n'));
    fs.writeFileSync(path.join(pairs, 'z.txt'), 'na\uFFFDve\n');
    const p = await loadDataset(pairs);
    assert.deepEqual(p.report.problems.map(brief), ['y.txt:2:text', 'z.txt:3:text']);
    assert.match(p.report.problems[0].reason, /transcript file is not valid utf-8 \(byte 0xef at offset 2\)/);
    assert.match(p.report.problems[1].reason, /U\+FFFD/);
    assert.deepEqual(p.rows.map((r) => r.text), ['hello there']);
    assert.ok(![...j.rows, ...p.rows].some((r) => r.text.includes('\uFFFD')));
  });

  it('duplicate rows are reported naming the earlier row; a column named twice is an error', async () => {
    const csv = path.join(tmp, 'dataset.csv');
    fs.writeFileSync(csv, 'audio,transcription\na.wav,one\nb.wav,two\na.wav,one\nc.wav,three\n./b.wav,deux\n');
    const ds = await loadDataset(csv);
    assert.deepEqual(ds.report.problems.map((q) => `${brief(q)} ${q.reason}`), [
      'dataset.csv:3:audio duplicate of row 1 (same audio file and transcript)',
      'dataset.csv:5:audio same audio file as row 2, with another transcript',
    ]);
    assert.deepEqual(ds.rows.map((r) => r.text), ['one', 'two', 'three']);
    assert.equal(ds.report.kept, 3);
    assert.equal(ds.report.excluded, 2);

    fs.writeFileSync(csv, 'audio,transcription,transcription\na.wav,one,uno\n');
    await assert.rejects(loadDataset(csv), /dataset\.csv: the header names column 'transcription' twice \(columns 2 and 3\); rename one/);
  });

  it('x.wav and x.flac sharing x.txt: one is kept, the other reported', async () => {
    const pairs = path.join(tmp, 'pairs');
    fs.mkdirSync(pairs);
    fs.copyFileSync(wav, path.join(pairs, 'x.wav'));
    fs.copyFileSync(sharedDir('datasets', 'samples', 'jfk.flac'), path.join(pairs, 'x.flac'));
    fs.copyFileSync(wav, path.join(pairs, 'y.wav'));
    fs.writeFileSync(path.join(pairs, 'x.txt'), 'ex\n');
    fs.writeFileSync(path.join(pairs, 'y.txt'), 'why\n');
    const ds = await loadDataset(pairs);
    assert.deepEqual(ds.report.problems.map((q) => `${brief(q)} ${q.reason}`),
      ['x.flac:2:audio x.flac and x.wav share the transcript x.txt: x.wav is kept, x.flac left out']);
    assert.deepEqual(ds.rows.map((r) => [path.basename(r.audio as string), r.text]), [['x.wav', 'ex'], ['y.wav', 'why']]);
    assert.equal(ds.report.excluded, 1);
  });
});
