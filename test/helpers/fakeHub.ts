/**
 * A Hugging Face Hub on 127.0.0.1 that answers what the real clients (@huggingface/hub, our
 * loaders) call, closely enough for them to work unchanged:
 *   GET|HEAD /{repo}/resolve/{rev}/{file}, /datasets/{repo}/resolve/…   ETag, X-Repo-Commit, Range
 *   GET /api/datasets/{repo}/revision/{rev}                             dataset info (sha)
 *   GET /api/datasets/{repo}/tree/{rev}?recursive=true                  the file listing
 *   POST /api/repos/create, /api/{type}s/{repo}/preupload/{rev},
 *        /{repo}.git/info/lfs/objects/batch (+ PUT /lfs/{oid}),
 *        /api/{type}s/{repo}/commit/{rev}                                a push (createRepo + uploadFiles)
 * Repositories live in memory (`hub.repos`); a gated one answers 401 like the Hub without a token.
 * `hub.intercept` lets a test answer a request itself (hostile servers).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';

export interface FakeRepo {
  /** Revision name (main, refs/convert/parquet, …) -> commit hash. */
  refs: Record<string, string>;
  /** Commit -> files. */
  commits: Record<string, Map<string, Buffer>>;
  gated?: boolean;
  private?: boolean;
}

export interface FakeHub {
  server: http.Server;
  url: string;
  requests: string[];
  /** 'model:owner/name' or 'dataset:owner/name'. */
  repos: Map<string, FakeRepo>;
  /** The token a gated repository accepts. */
  token: string;
  intercept?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  close(): Promise<void>;
}

const sha1 = (b: Buffer) => crypto.createHash('sha1').update(b).digest('hex');
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
/** Large and binary files are LFS on the Hub (ETag = SHA-256 of the content). */
const isLfs = (file: string, data: Buffer) => data.length > 10_000_000 || /\.(parquet|safetensors)$/.test(file);

export function commitHash(seed: string): string {
  return sha1(Buffer.from(seed));
}

/** Adds (or replaces) revision `rev` of a repository with `files`; returns its commit hash. */
export function putRepo(hub: FakeHub, key: string, files: Map<string, Buffer>, rev = 'main', opts: { gated?: boolean; commit?: string } = {}): string {
  const repo = hub.repos.get(key) ?? { refs: {}, commits: {} };
  const commit = opts.commit ?? commitHash(`${key}@${rev}@${[...files.keys()].join(',')}@${Date.now()}@${Math.random()}`);
  repo.refs[rev] = commit;
  repo.commits[commit] = files;
  if (opts.gated !== undefined) repo.gated = opts.gated;
  hub.repos.set(key, repo);
  return commit;
}

/** Every file under `dir`, as a repository's files. */
export function folderFiles(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, rel);
    if (fs.statSync(p).isFile()) out.set(rel.split(path.sep).join('/'), fs.readFileSync(p));
  }
  return out;
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
}

async function body(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startFakeHub(): Promise<FakeHub> {
  const hub = { requests: [] as string[], repos: new Map<string, FakeRepo>(), token: 'hf_test_token' } as FakeHub;
  const lfs = new Map<string, Buffer>();

  const resolveRev = (repo: FakeRepo, rev: string) => repo.refs[rev] ?? (repo.commits[rev] ? rev : undefined);
  /** The repository, or an answer already sent (404, or 401 for a gated one without the token). */
  const access = (req: http.IncomingMessage, res: http.ServerResponse, key: string): FakeRepo | undefined => {
    const repo = hub.repos.get(key);
    if (!repo) {
      json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
      return undefined;
    }
    if ((repo.gated || repo.private) && req.headers.authorization !== `Bearer ${hub.token}`) {
      const [type, id] = key.split(':');
      json(res, 401, { error: `Access to ${type} ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.` },
        { 'X-Error-Code': 'GatedRepo' });
      return undefined;
    }
    return repo;
  };

  const resolve = (req: http.IncomingMessage, res: http.ServerResponse, key: string, rev: string, file: string) => {
    const repo = access(req, res, key);
    if (!repo) return;
    const commit = resolveRev(repo, rev);
    const data = commit ? repo.commits[commit].get(file) : undefined;
    if (!commit || !data) {
      json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': commit ? 'EntryNotFound' : 'RevisionNotFound', ...(commit ? { 'X-Repo-Commit': commit } : {}) });
      return;
    }
    const big = isLfs(file, data);
    const etag = big ? sha256(data) : sha1(data);
    const headers: Record<string, string> = { 'X-Repo-Commit': commit, ETag: `"${etag}"`, 'Accept-Ranges': 'bytes' };
    if (big) headers['X-Linked-Etag'] = `"${etag}"`;
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (range) {
      const [a, b] = [Number(range[1]), Math.min(Number(range[2]), data.length - 1)];
      if (a >= data.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${data.length}` }).end();
        return;
      }
      res.writeHead(206, { ...headers, 'Content-Range': `bytes ${a}-${b}/${data.length}`, 'Content-Length': String(b - a + 1) });
      res.end(req.method === 'HEAD' ? undefined : data.subarray(a, b + 1));
    } else {
      res.writeHead(200, { ...headers, 'Content-Length': String(data.length) });
      res.end(req.method === 'HEAD' ? undefined : data);
    }
  };

  /** The tree API: files with size/oid (+ lfs), and the folders they sit in. */
  const tree = (files: Map<string, Buffer>) => {
    const dirs = new Set<string>();
    const out: unknown[] = [];
    for (const [p, data] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
      const parts = p.split('/');
      for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
      const big = isLfs(p, data);
      out.push({ type: 'file', oid: sha1(data), size: data.length, path: p,
        ...(big ? { lfs: { oid: sha256(data), size: data.length, pointerSize: 134 } } : {}) });
    }
    return [...[...dirs].map((d) => ({ type: 'directory', oid: sha1(Buffer.from(d)), size: 0, path: d })), ...out];
  };

  const server = http.createServer((req, res) => {
    hub.requests.push(`${req.method} ${req.url}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    if (hub.intercept?.(req, res)) return;
    const url = new URL(req.url ?? '/', 'http://x');
    const p = url.pathname;
    let m: RegExpExecArray | null;
    void (async () => {
      if ((m = /^\/(datasets\/)?([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(p))) {
        return resolve(req, res, `${m[1] ? 'dataset' : 'model'}:${m[2]}`, decodeURIComponent(m[3]), decodeURIComponent(m[4]));
      }
      if ((m = /^\/api\/datasets\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(p))) {
        const repo = access(req, res, `dataset:${m[1]}`);
        if (!repo) return;
        const commit = resolveRev(repo, decodeURIComponent(m[2]));
        if (!commit) return json(res, 404, { error: `Invalid rev id: ${decodeURIComponent(m[2])}` }, { 'X-Error-Code': 'RevisionNotFound' });
        return json(res, 200, { _id: 'x', id: m[1], sha: commit, private: false, gated: repo.gated ? 'auto' : false, downloads: 0, likes: 0, lastModified: new Date().toISOString() });
      }
      if ((m = /^\/api\/datasets\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(p))) {
        const repo = access(req, res, `dataset:${m[1]}`);
        if (!repo) return;
        const commit = resolveRev(repo, decodeURIComponent(m[2]));
        if (!commit) return json(res, 404, { error: 'Revision not found' }, { 'X-Error-Code': 'RevisionNotFound' });
        return json(res, 200, tree(repo.commits[commit]));
      }
      const authorized = req.headers.authorization === `Bearer ${hub.token}`;
      if (req.method === 'POST' && p === '/api/repos/create') {
        if (!authorized) return json(res, 401, { error: 'Invalid credentials in Authorization header' });
        const b = JSON.parse((await body(req)).toString());
        const key = `${b.type ?? 'model'}:${b.organization}/${b.name}`;
        if (hub.repos.has(key)) return json(res, 409, { error: 'You already created this model repo', url: `${hub.url}/${b.organization}/${b.name}` });
        hub.repos.set(key, { refs: {}, commits: {}, private: b.visibility === 'private' });
        return json(res, 200, { url: `${hub.url}/${b.organization}/${b.name}`, id: key });
      }
      if ((m = /^\/api\/(model|dataset)s\/([^/]+\/[^/]+)\/preupload\/([^/]+)$/.exec(p)) && req.method === 'POST') {
        if (!authorized) return json(res, 401, { error: 'Invalid credentials in Authorization header' });
        const b = JSON.parse((await body(req)).toString()) as { files: { path: string; size: number }[] };
        return json(res, 200, { files: b.files.map((f) => ({ path: f.path, uploadMode: /\.(safetensors|bin|parquet)$/.test(f.path) ? 'lfs' : 'regular', shouldIgnore: false })) });
      }
      if ((m = /^\/(datasets\/)?([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/.exec(p)) && req.method === 'POST') {
        if (!authorized) return json(res, 401, { error: 'Invalid credentials in Authorization header' });
        const b = JSON.parse((await body(req)).toString()) as { objects: { oid: string; size: number }[] };
        return json(res, 200, { transfer: 'basic', objects: b.objects.map((o) => ({ oid: o.oid, size: o.size,
          actions: { upload: { href: `${hub.url}/lfs/${o.oid}` } } })) }, { 'Content-Type': 'application/vnd.git-lfs+json' });
      }
      if ((m = /^\/lfs\/([0-9a-f]{64})$/.exec(p)) && req.method === 'PUT') {
        const data = await body(req);
        if (sha256(data) !== m[1]) return json(res, 400, { error: 'sha256 mismatch' });
        lfs.set(m[1], data);
        return res.writeHead(200, { ETag: '"x"' }).end();
      }
      if ((m = /^\/api\/(model|dataset)s\/([^/]+\/[^/]+)\/commit\/([^/]+)$/.exec(p)) && req.method === 'POST') {
        if (!authorized) return json(res, 401, { error: 'Invalid credentials in Authorization header' });
        const key = `${m[1]}:${m[2]}`;
        const repo = hub.repos.get(key);
        if (!repo) return json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
        const rev = decodeURIComponent(m[3]);
        const parent = repo.refs[rev];
        const files = new Map(parent ? repo.commits[parent] : []);
        let summary = '';
        for (const line of (await body(req)).toString().split('\n').filter(Boolean)) {
          const { key: k, value } = JSON.parse(line);
          if (k === 'header') summary = value.summary;
          else if (k === 'file') files.set(value.path, Buffer.from(value.content, value.encoding));
          else if (k === 'lfsFile') {
            const data = lfs.get(value.oid);
            if (!data) return json(res, 400, { error: `LFS object ${value.oid} was not uploaded` });
            files.set(value.path, data);
          } else if (k === 'deletedFile') files.delete(value.path);
        }
        const commit = commitHash(`${key}@${summary}@${Date.now()}@${Math.random()}`);
        repo.refs[rev] = commit;
        repo.commits[commit] = files;
        (repo as FakeRepo & { lastSummary?: string }).lastSummary = summary;
        return json(res, 200, { commitOid: commit, commitUrl: `${hub.url}/${m[2]}/commit/${commit}` });
      }
      json(res, 404, { error: `no route ${req.method} ${p}` });
    })().catch((e) => {
      if (!res.headersSent) json(res, 500, { error: String(e) });
      else res.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  hub.server = server;
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub.close = () => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  return hub;
}

/**
 * Points the Hub clients at `hub` with a clean environment (no cache override, online, no token;
 * HF_HOME = `home` when given). Returns what puts the environment back.
 */
export function useFakeHub(hub: FakeHub, home?: string): () => void {
  const saved = { ...process.env };
  delete process.env.HF_HUB_CACHE;
  delete process.env.HF_HUB_OFFLINE;
  delete process.env.HF_TOKEN;
  process.env.HF_ENDPOINT = hub.url;
  if (home) process.env.HF_HOME = home;
  return () => {
    process.env = saved;
  };
}
