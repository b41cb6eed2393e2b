/**
 * resolveModel against a local server that answers like the Hub's resolve endpoint
 * (`/{repo}/resolve/{rev}/{file}`, Range: bytes=0-0 probe with ETag / X-Linked-Etag / X-Repo-Commit,
 * 404 + X-Error-Code: EntryNotFound for absent files), serving shared/models/whisper-tiny,
 * into a fresh HF_HOME laid out exactly like Python's huggingface_hub cache.
 */
import { strict as assert } from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { WhisperConfig } from '../src/model/config';
import { DownloadProgress, findInCache, hubCacheDir, resolveModel } from '../src/model/hub';
import { loadSafetensorsCheckpoint, saveSafetensors } from '../src/model/safetensors';
import { sharedDir } from '../tools/shared';
import { FakeHub, folderFiles, putRepo, startFakeHub, useFakeHub } from './helpers/fakeHub';

const COMMIT = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

describe('model hub: cache + download', function () {
  let restore: () => void;
  let hub: FakeHub;
  let home: string;

  before(async () => {
    hub = await startFakeHub();
    putRepo(hub, 'model:openai/whisper-tiny', folderFiles(sharedDir('models', 'whisper-tiny')), 'main', { commit: COMMIT });
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-home-'));
    restore = useFakeHub(hub, home);
  });

  after(async () => {
    await hub.close();
    restore();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('downloads into $HF_HOME/hub with the huggingface_hub layout and reports progress', async () => {
    const progress: DownloadProgress[] = [];
    const dir = await resolveModel('openai/whisper-tiny', { onProgress: (p) => progress.push(p) });
    const repo = path.join(home, 'hub', 'models--openai--whisper-tiny');
    assert.equal(hubCacheDir(), path.join(home, 'hub'));
    assert.equal(dir, path.join(repo, 'snapshots', COMMIT));
    assert.equal(fs.readFileSync(path.join(repo, 'refs', 'main'), 'utf8'), COMMIT);
    const link = path.join(dir, 'model.safetensors');
    assert.ok(fs.lstatSync(link).isSymbolicLink());
    assert.match(fs.readlinkSync(link), /^\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);
    assert.equal(fs.statSync(link).size, fs.statSync(sharedDir('models', 'whisper-tiny', 'model.safetensors')).size);
    for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'preprocessor_config.json']) {
      assert.ok(fs.readFileSync(path.join(dir, f)).equals(fs.readFileSync(sharedDir('models', 'whisper-tiny', f))), f);
    }
    const last = progress.filter((p) => p.file === 'model.safetensors').pop()!;
    assert.equal(last.loaded, last.total);
    assert.ok(progress.filter((p) => p.file === 'model.safetensors').length > 2, 'progress while downloading');
    assert.ok(hub.requests.some((r) => r.startsWith('GET /openai/whisper-tiny/resolve/main/model.safetensors')));
    // the absent optional file (no sharded index here) was asked for and skipped
    assert.ok(!fs.existsSync(path.join(dir, 'model.safetensors.index.json')));
    assert.equal((await WhisperConfig.fromPretrained('openai/whisper-tiny')).dModel, 384);
  });

  it('a cached model is found without any request, also with HF_HUB_OFFLINE=1', async () => {
    const n = hub.requests.length;
    process.env.HF_HUB_OFFLINE = '1';
    try {
      const dir = await resolveModel('openai/whisper-tiny');
      assert.ok(fs.existsSync(path.join(dir, 'config.json')));
      assert.equal(hub.requests.length, n);
      await assert.rejects(resolveModel('openai/whisper-base'),
        /'openai\/whisper-base' \(revision main\) is not in the Hugging Face cache .* HF_HUB_OFFLINE is set/);
      assert.equal(hub.requests.length, n, 'offline mode never touches the network');
    } finally {
      delete process.env.HF_HUB_OFFLINE;
    }
  });

  it('an unknown repository fails with the server error', async () => {
    await assert.rejects(resolveModel('openai/does-not-exist'), (e: Error) => /not found|404|Repo/i.test(e.message));
  });
});

/**
 * A hostile Hub (or mirror, HF_ENDPOINT) on 127.0.0.1: every header and file name it sends is
 * attacker-chosen. Each case checks that the download fails with the bad value named, and that
 * nothing appeared outside the cache ($HF_HOME sits two folders deep in a sandbox so that an
 * escaping `../../..` lands where the test can see it).
 */
describe('model hub: a hostile server cannot write outside the cache', function () {
  const saved = { ...process.env };
  const config = fs.readFileSync(sharedDir('models', 'whisper-tiny', 'config.json'));
  let sandbox: string;
  let outer: string;
  let home: string;
  let server: http.Server;
  /** What the server sends for each file: body, ETag and X-Repo-Commit (attacker-chosen). */
  let serve: (file: string) => { body: Buffer; etag: string; commit: string } | undefined;
  const sha1 = (b: Buffer) => crypto.createHash('sha1').update(b).digest('hex');

  before(async () => {
    server = http.createServer((req, res) => {
      const m = /^\/[^/]+\/[^/]+\/resolve\/[^/]+\/(.+)$/.exec(req.url ?? '');
      const f = m ? serve(decodeURIComponent(m[1])) : undefined;
      if (!f) {
        res.writeHead(404, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': COMMIT }).end();
        return;
      }
      const headers = { 'X-Repo-Commit': f.commit, ETag: `"${f.etag}"`, 'Accept-Ranges': 'bytes' };
      if (/^bytes=0-0$/.test(req.headers.range ?? '')) {
        res.writeHead(206, { ...headers, 'Content-Range': `bytes 0-0/${f.body.length}`, 'Content-Length': '1' });
        res.end(f.body.subarray(0, 1));
      } else {
        res.writeHead(200, { ...headers, 'Content-Length': String(f.body.length) }).end(f.body);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    delete process.env.HF_HUB_CACHE;
    delete process.env.HF_HUB_OFFLINE;
    process.env.HF_ENDPOINT = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  beforeEach(() => {
    sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-hostile-'));
    outer = path.join(sandbox, 'outer');
    home = path.join(outer, 'home');
    fs.mkdirSync(home, { recursive: true });
    process.env.HF_HOME = home;
  });

  /** Nothing may have appeared beside $HF_HOME or beside its parent. */
  const contained = () => {
    assert.deepEqual(fs.readdirSync(outer), ['home'], 'files appeared outside $HF_HOME');
    assert.deepEqual(fs.readdirSync(sandbox).filter((n) => n !== 'outside'), ['outer'], 'files appeared outside $HF_HOME');
  };

  afterEach(() => fs.rmSync(sandbox, { recursive: true, force: true }));

  after(() => {
    server.close();
    process.env = saved;
  });

  /** A server that answers like the Hub but with `override` applied to every file. */
  const honest = (files: Record<string, Buffer>, override: { etag?: string; commit?: string } = {}) =>
    (file: string) => (files[file] ? { body: files[file], etag: override.etag ?? sha1(files[file]), commit: override.commit ?? COMMIT } : undefined);

  it('an ETag with a path ("../../../../pwned") is refused', async () => {
    serve = honest({ 'config.json': config }, { etag: '../../../../pwned' });
    await assert.rejects(resolveModel('evil/etag'), /config\.json: the server sent ETag "\.\.\/\.\.\/\.\.\/\.\.\/pwned", not a hex hash/);
    contained();
  });

  it('an X-Repo-Commit that is not 40 hex characters is refused', async () => {
    for (const commit of ['../../../../pwned', 'a'.repeat(39) + '/', 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678']) {
      serve = honest({ 'config.json': config }, { commit });
      await assert.rejects(resolveModel('evil/commit'), /config\.json: the server sent X-Repo-Commit ".*", not a 40-character commit hash/);
    }
    contained();
  });

  it('shard names in model.safetensors.index.json must stay inside the snapshot', async () => {
    const shards = ['../../../../pwned.safetensors', '/tmp/pwned.safetensors', 'a/../../b.safetensors', 'a\\..\\b.safetensors', ''];
    for (const [i, shard] of shards.entries()) {
      const index = Buffer.from(JSON.stringify({ weight_map: { 'model.encoder.conv1.weight': shard } }));
      serve = honest({ 'config.json': config, 'model.safetensors.index.json': index, [shard]: Buffer.from('pwned') });
      await assert.rejects(resolveModel(`evil/shards${i}`), (e: Error) =>
        /model\.safetensors\.index\.json: shard name ".*" is not a plain relative path inside the repository/.test(e.message));
    }
    contained();
  });

  it('a symlink planted in the cache is not followed out of it', async () => {
    const outside = path.join(sandbox, 'outside');
    fs.mkdirSync(outside);
    const repo = path.join(home, 'hub', 'models--evil--planted');
    serve = honest({ 'config.json': config });
    // snapshots/<commit> -> a folder outside: the snapshot links would be written there
    fs.mkdirSync(path.join(repo, 'snapshots'), { recursive: true });
    fs.symlinkSync(outside, path.join(repo, 'snapshots', COMMIT));
    await assert.rejects(resolveModel('evil/planted'), /snapshots.*leads outside the cache folder/);
    fs.rmSync(path.join(repo, 'snapshots', COMMIT));
    // blobs/<etag> -> a file outside: it would be served as the model's file
    fs.writeFileSync(path.join(outside, 'secret'), 'secret');
    fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
    fs.symlinkSync(path.join(outside, 'secret'), path.join(repo, 'blobs', sha1(config)));
    await assert.rejects(resolveModel('evil/planted'), /blobs\/[0-9a-f]{40}: expected a regular file in the cache, found a symbolic link/);
    fs.rmSync(path.join(repo, 'blobs', sha1(config)));
    // refs/main -> a file outside: writing the ref would overwrite it
    fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
    fs.symlinkSync(path.join(outside, 'secret'), path.join(repo, 'refs', 'main'));
    await assert.rejects(resolveModel('evil/planted'), /refs\/main: expected a regular file in the cache, found a symbolic link/);
    assert.equal(fs.readFileSync(path.join(outside, 'secret'), 'utf8'), 'secret');
    assert.deepEqual(fs.readdirSync(outside), ['secret']);
    contained();
  });

  it('a ref pointing outside the cache is not trusted', async () => {
    const repo = path.join(home, 'hub', 'models--evil--ref');
    const outside = path.join(sandbox, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'config.json'), config);
    fs.writeFileSync(path.join(outside, 'model.safetensors'), 'x');
    fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'refs', 'main'), path.relative(path.join(repo, 'snapshots'), outside));
    assert.throws(() => findInCache('evil/ref'), /refs\/main holds ".*", not a 40-character commit hash/);
  });

  it('revisions and repo ids with path tricks are refused before any request', async () => {
    serve = () => assert.fail('no request may be made');
    await assert.rejects(resolveModel('evil/rev', { revision: '../../../../pwned' }), /revision "\.\.\/\.\.\/\.\.\/\.\.\/pwned" is not a valid branch, tag or commit/);
    await assert.rejects(resolveModel('evil/..'), /neither an existing folder nor a Hugging Face model id/);
    await assert.rejects(resolveModel('evil--x/y'), /neither an existing folder nor a Hugging Face model id/);
    contained();
  });
});

describe('local checkpoints: shard names stay inside the model folder', () => {
  it('an index naming ../ or absolute shards is refused with the index and the name', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-escape-'));
    const dir = path.join(root, 'model');
    fs.mkdirSync(dir);
    saveSafetensors(path.join(root, 'secret.safetensors'), { a: { shape: [1], data: new Float32Array([1]) } });
    try {
      for (const shard of ['../secret.safetensors', path.join(root, 'secret.safetensors')]) {
        fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: shard } }));
        assert.throws(() => loadSafetensorsCheckpoint(dir),
          /model\.safetensors\.index\.json: shard name ".*secret\.safetensors" is not a plain relative path inside the model folder/);
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
