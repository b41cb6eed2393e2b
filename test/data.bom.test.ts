/**
 * Issue 26 item 3: a UTF-8 byte order mark (Excel's "CSV UTF-8") at the start of a manifest or
 * transcript. Every text loader reads the file exactly as its twin without the mark, with CRLF or
 * LF line endings.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadCsvDataset, loadJsonl, loadTxtPairs } from '../src/data/loaders';
import type { AudioDataset } from '../src/data/dataset';
import { sharedDir } from '../tools/shared';

const BOM = '\ufeff';
const FSDD = () => sharedDir('datasets', 'fsdd-digits');
const WAVS = ['0_george_0.wav', '1_jackson_0.wav', '2_theo_0.wav'];

/** What a loader produced, with the folder replaced so twins in two folders compare equal. */
const summary = (ds: AudioDataset, dir: string) => JSON.stringify({ rows: ds.rows, origins: ds.origins, report: ds.report.summary() })
  .split(dir).join('DIR');

/** Two folders holding the same audio; `write(dir, bom)` writes the text files into each. */
async function twins(write: (dir: string, bom: string) => void, load: (dir: string) => Promise<AudioDataset>) {
  const out: string[] = [];
  for (const bom of ['', BOM]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bom-'));
    for (const w of WAVS) fs.copyFileSync(path.join(FSDD(), 'audios', w), path.join(dir, w));
    write(dir, bom);
    const ds = await load(dir);
    assert.equal(ds.length, WAVS.length, `${bom ? 'with' : 'without'} BOM: ${JSON.stringify(ds.report)}`);
    out.push(summary(ds, dir));
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(out[1], out[0]);
}

describe('UTF-8 byte order mark in text files (issue 26 item 3)', () => {
  for (const eol of ['\r\n', '\n']) {
    it(`CSV (metadata.csv, ${eol === '\n' ? 'LF' : 'CRLF'}) and TSV load equal to their twins without the mark`, async () => {
      const rows = WAVS.map((w, i) => [w, ['zero', 'one', 'two'][i]]);
      for (const [name, sep] of [['metadata.csv', ','], ['metadata.tsv', '\t']]) {
        await twins((dir, bom) => fs.writeFileSync(path.join(dir, name), bom + [['file_name', 'transcription'], ...rows].map((r) => r.join(sep)).join(eol) + eol),
          (dir) => loadCsvDataset(path.join(dir, name), { audioColumn: 'file_name', textColumn: 'transcription' }));
      }
      // The quoted header of a BOM file too.
      await twins((dir, bom) => fs.writeFileSync(path.join(dir, 'q.csv'), bom + ['"file_name","transcription"', ...rows.map((r) => r.join(','))].join(eol) + eol),
        (dir) => loadCsvDataset(path.join(dir, 'q.csv'), { audioColumn: 'file_name', textColumn: 'transcription' }));
    });
  }

  it('txt pairs and JSON lines load equal to their twins without the mark', async () => {
    await twins((dir, bom) => WAVS.forEach((w, i) => fs.writeFileSync(path.join(dir, w.replace('.wav', '.txt')), `${bom}digit ${i}\r\n`)),
      (dir) => loadTxtPairs(dir));
    await twins((dir, bom) => fs.writeFileSync(path.join(dir, 'train.jsonl'), bom + WAVS.map((w, i) => JSON.stringify({ audio: w, text: `digit ${i}` })).join('\r\n') + '\r\n'),
      (dir) => loadJsonl(path.join(dir, 'train.jsonl')));
  });
});
