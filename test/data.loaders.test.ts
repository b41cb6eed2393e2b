/** Every dataset in ../shared/datasets loads with the right row count and first transcript. */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { detectLayout, loadAudioFolder, loadCommonVoice, loadCsvDataset, loadDataset, loadDatasetDict, loadJsonl, loadTxtPairs } from '../src/data';
import { sharedDir } from '../tools/shared';

const CV_LANGS = ['ar', 'br', 'de', 'en', 'es', 'fr', 'it', 'ja', 'vi', 'zh-CN'];

describe('data loaders on ../shared/datasets', () => {
  it('librispeech-mini audiofolder: 150 train / 100 test, columns renamed, numbers inferred', async () => {
    const dict = await loadDatasetDict(sharedDir('datasets', 'librispeech-mini'));
    assert.deepEqual(Object.keys(dict), ['test', 'train']);
    assert.equal(dict.train.length, 150);
    assert.equal(dict.test.length, 100);
    const first = dict.train.get(0);
    assert.equal(first.text, 'CHAPTER TWELVE THE STRANGE BARGAIN RONICKY DREW HIS GUN AND WAITED GOOD SAID THE MAN OF ' +
      'THE SNEER GO AHEAD IT WAS DOWN IN THE CELLAR THAT WE FOUND THE FIRST TRACKS');
    assert.equal(first.audio, sharedDir('datasets', 'librispeech-mini', 'train', '1867-154075-0000.flac'));
    assert.equal(first.speaker_id, 1867);
    assert.equal(first.duration, 14.695);
    assert.equal(dict.test.get(0).text, 'NORTHANGER ABBEY');
    assert.deepEqual(dict.train.columnNames, ['audio', 'text', 'speaker_id', 'duration']);
    assert.equal(dict.train.report.problems.length, 0);
    assert.equal(dict.train.report.kept, 150);
    assert.equal(detectLayout(sharedDir('datasets', 'librispeech-mini', 'train')), 'audiofolder');
    const direct = await loadAudioFolder(sharedDir('datasets', 'librispeech-mini', 'test'));
    assert.deepEqual(direct.rows, dict.test.rows);
  });

  it('Common Voice: 100 rows per language, first sentence as in validated.tsv', async () => {
    for (const lang of CV_LANGS) {
      const dir = sharedDir('datasets', 'commonvoice-sample', lang);
      assert.equal(detectLayout(dir), 'commonvoice');
      const ds = await loadDataset(dir);
      assert.equal(ds.length, 100, lang);
      assert.equal(ds.report.problems.length, 0, lang);
      // Independent check: naive tab split of the first data line (it has no quoting).
      const lines = fs.readFileSync(path.join(dir, 'validated.tsv'), 'utf8').split(/\r?\n/);
      const header = lines[0].split('\t');
      const fields = lines[1].split('\t');
      assert.equal(ds.get(0).text, fields[header.indexOf('sentence')].trim(), lang);
      assert.equal(ds.get(0).audio, path.join(dir, 'clips', fields[header.indexOf('path')]), lang);
      assert.ok(fs.existsSync(ds.get(0).audio as string));
    }
    const fr = await loadCommonVoice(sharedDir('datasets', 'commonvoice-sample', 'fr'));
    assert.equal(fr.get(0).text, 'Or il faut respecter le principe d\u2019autonomie fonctionnelle et institutionnelle des assembl\u00e9es.');
    assert.equal(fr.get(0).gender, 'male');
    const en = await loadCommonVoice(sharedDir('datasets', 'commonvoice-sample', 'en'));
    // Quoted TSV fields with doubled quotes are unquoted, as pandas reads them.
    assert.ok(en.rows.some((r) => r.text === 'These feasts were of two kinds, "public" and "private".'));
  });

  it('fsdd-digits CSV: 1200 rows, paths relative to the CSV', async () => {
    const csv = sharedDir('datasets', 'fsdd-digits', 'dataset.csv');
    const ds = await loadCsvDataset(csv, { audioColumn: 'audios', textColumn: 'transcription' });
    assert.equal(ds.length, 1200);
    assert.equal(ds.get(0).text, 'zero');
    assert.equal(ds.get(0).audio, sharedDir('datasets', 'fsdd-digits', 'audios', '0_george_0.wav'));
    assert.deepEqual(ds.columnNames, ['audio', 'text']);
    const auto = await loadDataset(sharedDir('datasets', 'fsdd-digits'));
    assert.equal(auto.length, 1200);
    assert.equal(new Set(auto.column('text')).size, 10);
  });

  it('pocketsphinx-testdata txt pairs: 11 rows', async () => {
    const dir = sharedDir('datasets', 'pocketsphinx-testdata');
    assert.equal(detectLayout(dir), 'txtpairs');
    const ds = await loadTxtPairs(dir);
    assert.equal(ds.length, 11);
    assert.equal(ds.get(0).text, 'ten of clubs');
    assert.equal(ds.get(0).id, '001');
    assert.equal(ds.rows.find((r) => r.id === 'goforward')?.text, 'go forward ten meters');
  });

  it('JSONL manifest with paths relative to the manifest', async () => {
    const tmp = fs.mkdtempSync(path.join(require('os').tmpdir(), 'wf-jsonl-'));
    try {
      const clips = sharedDir('datasets', 'pocketsphinx-testdata');
      const lines = ['001', '002', 'goforward'].map((n) => JSON.stringify({
        audio_filepath: path.relative(tmp, path.join(clips, `${n}.wav`)),
        text: fs.readFileSync(path.join(clips, `${n}.txt`), 'utf8').trim(), speaker: 'cmu',
      }));
      const manifest = path.join(tmp, 'train.jsonl');
      fs.writeFileSync(manifest, lines.join('\n') + '\n');
      const ds = await loadJsonl(manifest);
      assert.equal(ds.length, 3);
      assert.equal(ds.get(1).text, 'four queen of clubs');
      assert.equal(ds.get(2).audio, path.join(clips, 'goforward.wav'));
      assert.equal(ds.get(0).speaker, 'cmu');
      assert.equal((await loadDataset(manifest)).length, 3);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('names the file when a layout cannot be recognised or a column is missing', async () => {
    const root = sharedDir('datasets', 'librispeech-mini');
    assert.throws(() => detectLayout(root), /librispeech-mini: cannot tell the dataset layout.*loadDatasetDict/);
    await assert.rejects(loadCsvDataset(sharedDir('datasets', 'fsdd-digits', 'dataset.csv'), { textColumn: 'sentence' }),
      /dataset\.csv: no text column 'sentence' \(columns: audios, transcription\)/);
  });
});
