/** select / filter / shuffle / trainTestSplit / removeColumns / map cache on real manifests. */
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AudioDataset, loadAudioFolder, loadCsvDataset, permutation, Row } from '../src/data';
import { PROJECT_ROOT, sharedDir } from '../tools/shared';

const fsddCsv = () => sharedDir('datasets', 'fsdd-digits', 'dataset.csv');

describe('data transforms', () => {
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wf-transforms-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('trainTestSplit(seed 42) is identical across runs and across processes', async () => {
    const ds = await loadCsvDataset(fsddCsv());
    const a = ds.trainTestSplit({ testSize: 0.1, seed: 42 });
    const b = ds.trainTestSplit({ testSize: 0.1, seed: 42 });
    assert.equal(a.test.length, 120); // ceil(0.1 * 1200)
    assert.equal(a.train.length, 1080);
    assert.deepEqual(a.test.column('audio'), b.test.column('audio'));
    // Disjoint and complete.
    const all = new Set([...a.train.column('audio'), ...a.test.column('audio')]);
    assert.equal(all.size, 1200);
    // Another seed gives another split.
    const c = ds.trainTestSplit({ testSize: 0.1, seed: 43 });
    assert.notDeepEqual(c.test.column('audio'), a.test.column('audio'));

    const script = path.join(tmp, 'split.ts');
    fs.writeFileSync(script, `import { loadCsvDataset } from ${JSON.stringify(path.join(PROJECT_ROOT, 'src', 'data'))};
loadCsvDataset(${JSON.stringify(fsddCsv())}).then((ds) => {
  const { train, test } = ds.trainTestSplit({ testSize: 0.1, seed: 42 });
  console.log(JSON.stringify({ train: train.column('audio'), test: test.column('audio') }));
});\n`);
    const out = execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: PROJECT_ROOT, encoding: 'utf8' });
    const other = JSON.parse(out.trim().split('\n').pop()!);
    assert.deepEqual(other.test, a.test.column('audio'));
    assert.deepEqual(other.train, a.train.column('audio'));
  });

  it('permutation is a seeded Fisher-Yates permutation (golden values guard seedrandom upgrades)', () => {
    const p = permutation(10, 42);
    assert.deepEqual(p, [6, 9, 8, 4, 3, 5, 2, 7, 1, 0]);
    assert.deepEqual([...p].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(permutation(10, 42), p);
    assert.notDeepEqual(permutation(10, 7), p);
  });

  it('select, filter, shuffle, removeColumns keep origins and values', async () => {
    const ds = await loadAudioFolder(sharedDir('datasets', 'librispeech-mini', 'train'));
    const sel = ds.select([5, 0, 7]);
    assert.deepEqual(sel.rows, [ds.get(5), ds.get(0), ds.get(7)]);
    assert.equal(sel.origins[0].row, 6);
    assert.equal(sel.origins[0].line, 7);
    assert.throws(() => ds.select([150]), /row index 150 out of range \(dataset has 150 rows\)/);
    const long = ds.filter((r) => (r.duration as number) > 10);
    assert.ok(long.length > 0 && long.length < ds.length);
    assert.ok(long.rows.every((r) => (r.duration as number) > 10));
    const sh = ds.shuffle(42);
    assert.deepEqual(sh.column('audio'), ds.shuffle(42).column('audio'));
    assert.notDeepEqual(sh.column('audio'), ds.column('audio'));
    assert.deepEqual([...sh.column('audio')].sort(), [...ds.column('audio')].sort());
    const slim = ds.removeColumns(['speaker_id', 'duration']);
    assert.deepEqual(slim.columnNames, ['audio', 'text']);
    assert.throws(() => ds.removeColumns('nope'), /removeColumns: no column 'nope'/);
    const df = ds.select([0, 1, 2]).toDataFrame();
    assert.deepEqual(df.shape, [3, 4]);
    assert.deepEqual(df.columns, ['audio', 'text', 'speaker_id', 'duration']);
  });

  it('map caches on disk: same function+params reads the cache, a changed normalizer recomputes', async () => {
    const ds = (await loadAudioFolder(sharedDir('datasets', 'librispeech-mini', 'test'))).select([0, 1, 2, 3]);
    const cacheDir = path.join(tmp, 'cache');
    let calls = 0;
    const normalizers: Record<string, (s: string) => string> = {
      lower: (s) => s.toLowerCase(),
      initials: (s) => s.split(' ').map((w) => w[0]).join(''),
    };
    const run = (name: string) => ds.map((r: Row) => {
      calls++;
      const text = normalizers[name](r.text);
      return { text, codes: Float32Array.from(text, (ch) => ch.charCodeAt(0)) };
    }, { cacheDir, cacheKey: { normalizer: name } });

    const first = await run('lower');
    assert.equal(calls, 4);
    assert.equal(first.cacheInfo?.hit, false);
    assert.equal(first.get(0).text, 'northanger abbey');
    const again = await run('lower');
    assert.equal(calls, 4, 'unchanged normalizer must read the cache');
    assert.equal(again.cacheInfo?.hit, true);
    assert.deepEqual(again.rows, first.rows);
    assert.ok(again.get(0).codes instanceof Float32Array);
    assert.equal(again.get(0).codes[0], 'n'.charCodeAt(0));
    const other = await run('initials');
    assert.equal(calls, 8, 'changed normalizer must re-process');
    assert.equal(other.get(0).text, 'NA');
    // A different function body is a different key too.
    const changed = await ds.map((r: Row) => ({ text: r.text.toLowerCase() + '!' }), { cacheDir, cacheKey: { normalizer: 'lower' } });
    assert.equal(changed.cacheInfo?.hit, false);
    assert.equal(changed.get(0).text, 'northanger abbey!');
    // Different input rows, different key.
    const moreRows = await (ds.select([1, 2]) as AudioDataset<Row>).map((r: Row) => {
      calls++;
      return { text: normalizers.lower(r.text) };
    }, { cacheDir, cacheKey: { normalizer: 'lower' } });
    assert.equal(moreRows.cacheInfo?.hit, false);
    assert.equal(fs.readdirSync(cacheDir).filter((d) => d.startsWith('map-')).length, 4);
  });
});
