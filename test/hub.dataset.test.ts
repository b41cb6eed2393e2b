/**
 * loadDataset('owner/name') against a local Hub (test/helpers/fakeHub.ts): the Parquet files of a
 * dataset repository, or of its refs/convert/parquet branch, loaded whole into the HF cache or
 * streamed by range requests, equal row for row to the same clips loaded from a local folder.
 */
import { strict as assert } from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AudioDataset, IterableAudioDataset, loadDataset, prepareDataset } from '../src/data';
import { WhisperFeatureExtractor } from '../src/features/logmel';
import { WhisperTokenizer } from '../src/tokenizer/whisper';
import { sharedDir } from '../tools/shared';
import { FakeHub, putRepo, startFakeHub, useFakeHub } from './helpers/fakeHub';
import { Clip, clips, parquetOf, writeAudioFolder } from './helpers/hubDataset';

interface Plain { text: string; speaker_id: unknown; samples: number; samplesSha1: string }

/** Rows with their audio decoded (every sample, by hash), for comparing two datasets exactly. */
async function plain(ds: AudioDataset | IterableAudioDataset): Promise<Plain[]> {
  const out: Plain[] = [];
  for await (const ex of ds) {
    const a = ex.audio.array;
    out.push({ text: ex.text, speaker_id: ex.speaker_id, samples: a.length,
      samplesSha1: crypto.createHash('sha1').update(Buffer.from(a.buffer, a.byteOffset, a.byteLength)).digest('hex') });
  }
  return out;
}

describe('hub datasets: loadDataset(owner/name)', function () {
  this.timeout(120_000);
  let restore: () => void;
  let hub: FakeHub;
  let sandbox: string;
  let home: string;
  let list: Clip[];
  let local: Plain[];
  let commit: string;

  before(async () => {
    hub = await startFakeHub();
    sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-dataset-'));
    home = path.join(sandbox, 'home');
    list = clips(4);
    local = await plain(await loadDataset(writeAudioFolder(path.join(sandbox, 'local'), list)));
    const parquet = await parquetOf(list);
    commit = putRepo(hub, 'dataset:test-org/libri-mini', new Map([
      ['README.md', Buffer.from('---\nlicense: cc-by-4.0\n---\n')],
      ['data/train-00000-of-00001.parquet', parquet],
      ['data/test-00000-of-00001.parquet', await parquetOf(list.slice(0, 1))],
    ]));
    // An audiofolder repository: no Parquet of its own, the Hub's conversion on refs/convert/parquet.
    putRepo(hub, 'dataset:test-org/converted', new Map([['README.md', Buffer.from('x')], ['train/metadata.csv', Buffer.from('file_name,text\n')]]));
    putRepo(hub, 'dataset:test-org/converted', new Map([['default/train/0000.parquet', parquet], ['default/validation/0000.parquet', parquet]]), 'refs/convert/parquet');
    putRepo(hub, 'dataset:test-org/two-configs', new Map([['README.md', Buffer.from('x')]]));
    putRepo(hub, 'dataset:test-org/two-configs', new Map([['fr/train/0000.parquet', parquet], ['br/train/0000.parquet', parquet]]), 'refs/convert/parquet');
    putRepo(hub, 'dataset:test-org/talkbank', new Map([
      ['fr/segment/train-00000-of-00001.parquet', await parquetOf(list.slice(0, 3))],
      ['fr/switch/train-00000-of-00001.parquet', await parquetOf(list.slice(0, 2))],
      ['en/segment/train-00000-of-00001.parquet', parquet],
    ]));
    const bad = list.map((c, i) => (i === 1 ? { ...c, transcription: '' } : c));
    putRepo(hub, 'dataset:test-org/bad-rows', new Map([['data/train-00000-of-00001.parquet', await parquetOf(bad, 2, [2])]]));
    putRepo(hub, 'dataset:test-org/gated', new Map([['data/train-00000-of-00001.parquet', parquet]]), 'main', { gated: true });
    restore = useFakeHub(hub, home);
  });

  after(async () => {
    await hub.close();
    restore();
    fs.rmSync(sandbox, { recursive: true, force: true });
  });

  it('loads the repository\'s Parquet split into the HF cache, equal to the local folder row for row', async () => {
    const ds = await loadDataset('test-org/libri-mini', { split: 'train' });
    assert.ok(ds instanceof AudioDataset);
    assert.equal(ds.length, 4);
    assert.equal(ds.report.excluded, 0);
    assert.deepEqual(await plain(ds), local);
    assert.equal(ds.origins[3].source, 'test-org/libri-mini/data/train-00000-of-00001.parquet');
    assert.equal(ds.origins[3].row, 4);
    const repo = path.join(home, 'hub', 'datasets--test-org--libri-mini');
    assert.equal(fs.readFileSync(path.join(repo, 'refs', 'main'), 'utf8'), commit);
    const link = path.join(repo, 'snapshots', commit, 'data', 'train-00000-of-00001.parquet');
    assert.match(fs.readlinkSync(link), /^\.\.\/\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);
    assert.ok(!fs.existsSync(path.join(repo, 'snapshots', commit, 'data', 'test-00000-of-00001.parquet')), 'only the split asked for');
    assert.equal((await loadDataset('test-org/libri-mini', { split: 'test' })).length, 1);
  });

  it('a second run makes no request, also with HF_HUB_OFFLINE=1', async () => {
    const n = hub.requests.length;
    assert.equal((await loadDataset('test-org/libri-mini', { split: 'train' })).length, 4);
    process.env.HF_HUB_OFFLINE = '1';
    try {
      assert.deepEqual(await plain(await loadDataset('test-org/libri-mini', { split: 'train' })), local);
      assert.deepEqual(await plain(await loadDataset('test-org/libri-mini', { split: 'train', streaming: true })), local);
      await assert.rejects(loadDataset('test-org/not-cached'), /'test-org\/not-cached' \(revision main\) is not in the Hugging Face cache .* HF_HUB_OFFLINE is set/);
    } finally {
      delete process.env.HF_HUB_OFFLINE;
    }
    assert.equal(hub.requests.length, n, hub.requests.slice(n).join('\n'));
  });

  it('streaming reads row groups by range requests, downloads nothing, and feeds prepareDataset', async () => {
    const cacheDir = path.join(sandbox, 'stream-cache');
    const n = hub.requests.length;
    const ds = await loadDataset('test-org/libri-mini', { split: 'train', streaming: true, cacheDir });
    assert.ok(ds instanceof IterableAudioDataset);
    assert.deepEqual(await plain(ds), local);
    const reads = hub.requests.slice(n).filter((r) => r.includes('/resolve/'));
    assert.ok(reads.length >= 3, reads.join('\n'));
    assert.ok(reads.every((r) => /^GET \S+ bytes=\d+-\d+$/.test(r)), `every file read is a range request:\n${reads.join('\n')}`);
    assert.ok(!fs.existsSync(path.join(cacheDir, 'datasets--test-org--libri-mini', 'blobs')), 'nothing downloaded');
    const fe = WhisperFeatureExtractor.fromPretrained(sharedDir('models', 'whisper-tiny'));
    const tok = await WhisperTokenizer.fromPretrained(sharedDir('models', 'whisper-tiny'));
    const prepared = [];
    for await (const row of prepareDataset(ds.take(2), { featureExtractor: fe, tokenizer: tok, language: 'en' }).rows()) prepared.push(row);
    assert.equal(prepared.length, 2);
    assert.equal(prepared[0].inputFeatures.length, 80 * 3000);
    const decoded = tok.decode(Array.from(prepared[0].labels), { skipSpecialTokens: true });
    assert.equal(decoded.trim().toLowerCase(), list[0].transcription.toLowerCase(), decoded);
  });

  it('a repository without Parquet files is read from refs/convert/parquet (<config>/<split>/NNNN.parquet)', async () => {
    const ds = await loadDataset('test-org/converted', { split: 'validation' });
    assert.deepEqual(await plain(ds), local);
    const repo = path.join(home, 'hub', 'datasets--test-org--converted');
    assert.ok(fs.existsSync(path.join(repo, 'refs', 'refs', 'convert', 'parquet')));
    await assert.rejects(loadDataset('test-org/converted', { split: 'dev' }), /config 'default' has no split 'dev' \(splits: train, validation\)/);
    await assert.rejects(loadDataset('test-org/no-such-dataset'), /test-org\/no-such-dataset: Repository not found.* No such repository on .*\(and there is no local path .*test-org\/no-such-dataset\)/);
    await assert.rejects(loadDataset('test-org/two-configs'), /several configs \(br, fr\): pick one with \{name: '…'\}/);
    assert.equal((await loadDataset('test-org/two-configs', { name: 'br', streaming: true }) as IterableAudioDataset).samplingRate, 16000);
    const n = hub.requests.length;
    process.env.HF_HUB_OFFLINE = '1';
    try {
      assert.deepEqual(await plain(await loadDataset('test-org/converted', { split: 'validation' })), local, 'offline from the cached conversion');
    } finally {
      delete process.env.HF_HUB_OFFLINE;
    }
    assert.equal(hub.requests.length, n);
  });

  it('bad rows are reported with file, row and field, like the local loaders', async () => {
    for (const streaming of [false, true]) {
      const ds = await loadDataset('test-org/bad-rows', { streaming });
      const rows = await plain(ds);
      assert.deepEqual(rows, [local[0], local[3]]);
      const source = 'test-org/bad-rows/data/train-00000-of-00001.parquet';
      assert.deepEqual(ds.report.problems.map((p) => [p.source, p.row, p.field]), [[source, 2, 'text'], [source, 3, 'audio']]);
      assert.match(ds.report.problems[0].reason, /transcript 'transcription' is empty/);
      assert.match(ds.report.problems[1].reason, /no audio bytes in the cell \(path "[^"]+\.flac" only/);
      assert.equal(ds.report.kept, 2);
    }
  });

  it('dataDir reads only the files under that folder (datasets\' data_dir)', async () => {
    assert.equal((await loadDataset('test-org/talkbank', { dataDir: 'fr/segment', split: 'train' })).length, 3);
    assert.equal((await loadDataset('test-org/talkbank', { dataDir: 'fr/switch/' })).length, 2);
    await assert.rejects(loadDataset('test-org/talkbank', { dataDir: 'de' }), /no files under data_dir 'de'/);
  });

  it('a gated repository without a token gets the Hub\'s message and what to do', async () => {
    await assert.rejects(loadDataset('test-org/gated'), (e: Error) =>
      /test-org\/gated: Access to dataset test-org\/gated is restricted/.test(e.message) && /gated or private/.test(e.message) && /set HF_TOKEN/.test(e.message));
    process.env.HF_TOKEN = hub.token;
    try {
      assert.equal((await loadDataset('test-org/gated')).length, 4);
      assert.equal((await plain(await loadDataset('test-org/gated', { streaming: true, cacheDir: path.join(sandbox, 'gated-stream') }))).length, 4);
    } finally {
      delete process.env.HF_TOKEN;
    }
  });

  it('a local path still loads as before, and streams when asked', async () => {
    const dir = path.join(sandbox, 'local');
    assert.deepEqual(await plain(await loadDataset(dir, { streaming: true })), local);
  });
});

/**
 * Hostile answers: a file listing with `..`, a declared size that is not the file's, a truncated
 * Parquet footer. Each fails with a message naming the file, and nothing lands outside the cache.
 */
describe('hub datasets: hostile answers', function () {
  this.timeout(60_000);
  let restore: () => void;
  let hub: FakeHub;
  let sandbox: string;
  let outer: string;
  let parquet: Buffer;

  before(async () => {
    hub = await startFakeHub();
    parquet = await parquetOf(clips(2));
    restore = useFakeHub(hub);
  });

  beforeEach(() => {
    sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-hostile-data-'));
    outer = path.join(sandbox, 'outer');
    fs.mkdirSync(path.join(outer, 'home'), { recursive: true });
    process.env.HF_HOME = path.join(outer, 'home');
    hub.intercept = undefined;
  });

  const contained = () => {
    assert.deepEqual(fs.readdirSync(outer), ['home'], 'files appeared outside $HF_HOME');
    assert.deepEqual(fs.readdirSync(sandbox), ['outer'], 'files appeared outside $HF_HOME');
    const hubDir = path.join(outer, 'home', 'hub');
    if (fs.existsSync(hubDir)) assert.ok(fs.readdirSync(hubDir).every((n) => n.startsWith('datasets--evil--')), fs.readdirSync(hubDir).join(','));
  };

  afterEach(() => fs.rmSync(sandbox, { recursive: true, force: true }));

  after(async () => {
    await hub.close();
    restore();
  });

  it('a listed file path with ".." is refused before it is fetched', async () => {
    for (const name of ['../../../../pwned/train.parquet', 'data/../../../../../pwned-train.parquet']) {
      putRepo(hub, 'dataset:evil/dots', new Map([[name, parquet]]));
      const n = hub.requests.length;
      await assert.rejects(loadDataset('evil/dots'), /file name ".*pwned.*" is not a plain relative path inside the repository/);
      await assert.rejects(loadDataset('evil/dots', { streaming: true }).then((ds) => plain(ds)), /file name ".*pwned.*" is not a plain relative path/);
      assert.ok(!hub.requests.slice(n).some((r) => r.includes('/resolve/')), 'no file request');
    }
    contained();
  });

  it('a size that is not the listed one (huge Content-Length / Content-Range) is refused', async () => {
    putRepo(hub, 'dataset:evil/huge', new Map([['train.parquet', parquet]]));
    const huge = String(2 ** 50);
    hub.intercept = (req, res) => {
      if (!req.url?.includes('/resolve/')) return false;
      res.writeHead(206, { 'X-Repo-Commit': hub.repos.get('dataset:evil/huge')!.refs.main, ETag: `"${'a'.repeat(64)}"`,
        'Content-Range': `bytes 0-0/${huge}`, 'Content-Length': huge });
      res.end(parquet.subarray(0, 1));
      return true;
    };
    await assert.rejects(loadDataset('evil/huge'), new RegExp(`train\\.parquet: the server announced ${huge} bytes, its file listing said ${parquet.length}`));
    await assert.rejects(loadDataset('evil/huge', { streaming: true }).then((ds) => plain(ds)),
      new RegExp(`evil/huge/train\\.parquet: asked for \\d+ bytes \\(bytes=\\d+-\\d+\\), the server announced Content-Length ${huge}`));
    contained();
  });

  it('a truncated Parquet footer is named, downloaded or streamed', async () => {
    const cut = parquet.subarray(0, parquet.length - 6);
    putRepo(hub, 'dataset:evil/cut', new Map([['train.parquet', cut]]));
    await assert.rejects(loadDataset('evil/cut'), /evil\/cut\/train\.parquet: not a readable Parquet file/);
    await assert.rejects(loadDataset('evil/cut', { streaming: true }).then((ds) => plain(ds)), /evil\/cut\/train\.parquet: not a readable Parquet file/);
    contained();
  });
});
