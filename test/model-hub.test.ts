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
import { DownloadProgress, hubCacheDir, resolveModel } from '../src/model/hub';
import { sharedDir } from '../src/shared';

const COMMIT = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

function fakeHub(root: string) {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(req.url ?? '');
    if (!m || m[1] !== 'openai/whisper-tiny' || m[2] !== 'main') {
      res.writeHead(404, { 'X-Error-Code': 'RepoNotFound' }).end('not found');
      return;
    }
    const file = path.join(root, decodeURIComponent(m[3]));
    if (!fs.existsSync(file)) {
      res.writeHead(404, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': COMMIT }).end('entry not found');
      return;
    }
    const data = fs.readFileSync(file);
    const isLfs = data.length > 10_000_000;
    const etag = isLfs ? crypto.createHash('sha256').update(data).digest('hex') : crypto.createHash('sha1').update(data).digest('hex');
    const headers: Record<string, string> = { 'X-Repo-Commit': COMMIT, ETag: `"${etag}"`, 'Accept-Ranges': 'bytes' };
    if (isLfs) headers['X-Linked-Etag'] = `"${etag}"`;
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (range) {
      const [a, b] = [Number(range[1]), Math.min(Number(range[2]), data.length - 1)];
      res.writeHead(206, { ...headers, 'Content-Range': `bytes ${a}-${b}/${data.length}`, 'Content-Length': String(b - a + 1) });
      res.end(req.method === 'HEAD' ? undefined : data.subarray(a, b + 1));
    } else {
      res.writeHead(200, { ...headers, 'Content-Length': String(data.length) });
      res.end(req.method === 'HEAD' ? undefined : data);
    }
  });
  return { server, requests };
}

describe('model hub: cache + download', function () {
  const saved = { ...process.env };
  let hub: ReturnType<typeof fakeHub>;
  let home: string;

  before(async () => {
    hub = fakeHub(sharedDir('models', 'whisper-tiny'));
    await new Promise<void>((r) => hub.server.listen(0, '127.0.0.1', () => r()));
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-home-'));
    delete process.env.HF_HUB_CACHE;
    delete process.env.HF_HUB_OFFLINE;
    process.env.HF_HOME = home;
    process.env.HF_ENDPOINT = `http://127.0.0.1:${(hub.server.address() as AddressInfo).port}`;
  });

  after(() => {
    hub.server.close();
    process.env = saved;
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
