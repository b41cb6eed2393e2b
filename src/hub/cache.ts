/**
 * The Hugging Face cache and the one way a file comes from the Hub into it, shared by models
 * (`resolveModel`) and datasets (`loadDataset('owner/name')`). The layout is exactly Python
 * huggingface_hub's, so what Python downloaded is found here and vice versa:
 *   $HF_HUB_CACHE | $HF_HOME/hub | ~/.cache/huggingface/hub
 *     {models,datasets}--org--name/refs/<revision>            (text: the commit hash)
 *     {models,datasets}--org--name/blobs/<etag>               (file contents)
 *     {models,datasets}--org--name/snapshots/<commit>/<file>  (symlink -> ../../blobs/<etag>)
 * HF_HUB_OFFLINE=1 never touches the network; HF_ENDPOINT changes the server; HF_TOKEN is sent.
 *
 * The server is not trusted with local paths (huggingface_hub's rules): the commit must be 40 hex
 * characters, the ETag (blob name) a hex hash, every file name a plain relative path, and every
 * folder written to must resolve inside the repo folder, so a hostile endpoint or a symbolic link
 * planted in the cache cannot make us write or read outside it.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkRegularFileOrAbsent, isPlainRelativePath, joinInside, mkdirInside } from '../model/paths';
import { hubError } from './errors';

export type RepoType = 'model' | 'dataset';

export interface DownloadProgress {
  file: string;
  loaded: number;
  total: number;
}

export function hubCacheDir(): string {
  if (process.env.HF_HUB_CACHE) return process.env.HF_HUB_CACHE;
  if (process.env.HF_HOME) return path.join(process.env.HF_HOME, 'hub');
  const xdg = process.env.XDG_CACHE_HOME;
  return path.join(xdg ?? path.join(os.homedir(), '.cache'), 'huggingface', 'hub');
}

export function isOffline(): boolean {
  const v = (process.env.HF_HUB_OFFLINE ?? '').toLowerCase();
  return v === '1' || v === 'true' || v === 'yes' || v === 'on';
}

/** The Hub's URL: the caller's, else $HF_ENDPOINT, else huggingface.co. */
export function hubEndpoint(endpoint?: string): string {
  return (endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
}

/** The caller's token, else $HF_TOKEN (huggingface_hub's order). */
export function hubToken(token?: string): string | undefined {
  return token || process.env.HF_TOKEN || undefined;
}

export function repoFolder(cacheDir: string, repoId: string, type: RepoType = 'model'): string {
  return path.join(cacheDir, `${type}s--${repoId.split('/').join('--')}`);
}

export const COMMIT = /^[0-9a-f]{40}$/;
/** Blob names: a git blob SHA-1 (small files) or the SHA-256 of an LFS file. */
const ETAG = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

/** huggingface_hub's validate_repo_id: `name` or `org/name`, word characters, '-' and '.', no '--' or '..'. */
export function isRepoId(id: string): boolean {
  const parts = id.split('/');
  return parts.length <= 2 && !id.includes('--') && !id.includes('..') && !id.endsWith('.git') &&
    parts.every((p) => p.length <= 96 && /^\w([\w.-]*\w)?$/.test(p));
}

export function checkRevision(revision: string): void {
  if (!isPlainRelativePath(revision)) throw new Error(`revision ${JSON.stringify(revision)} is not a valid branch, tag or commit`);
}

/** The commit a cached ref names (or `revision` itself when it is a commit); undefined when not cached. */
export function cachedCommit(root: string, revision: string): string | undefined {
  checkRevision(revision);
  const ref = path.join(root, 'refs', revision);
  checkRegularFileOrAbsent(ref);
  if (!fs.existsSync(ref)) return COMMIT.test(revision) ? revision : undefined;
  const commit = fs.readFileSync(ref, 'utf8').trim();
  if (!COMMIT.test(commit)) {
    throw new Error(`${ref} holds ${JSON.stringify(commit.slice(0, 100))}, not a 40-character commit hash: the cache is damaged; remove it and retry`);
  }
  return commit;
}

/** Writes `data` to `file` through a fresh temp file and a rename, so a planted link at `file` is replaced, never followed. */
export function writeReplacing(file: string, data: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, data, { flag: 'wx' });
  fs.renameSync(tmp, file);
}

/** Records `revision` -> `commit` in refs/ (nothing to record when the revision is the commit). */
export function writeRef(root: string, revision: string, commit: string): void {
  if (revision === commit) return;
  const ref = path.join(root, 'refs', revision);
  mkdirInside(root, path.dirname(ref));
  checkRegularFileOrAbsent(ref);
  writeReplacing(ref, commit);
}

export interface FetchOptions {
  repoType?: RepoType;
  revision: string;
  cacheDir: string;
  endpoint?: string;
  token?: string;
  onProgress?: (p: DownloadProgress) => void;
  /** The size the repository listing gave: a server announcing another size is refused. */
  expectedSize?: number;
}

/**
 * Downloads `file` of `repoId` at `revision` into blobs/ + snapshots/<commit>/ (a blob already
 * there is not downloaded again); returns the snapshot folder, or undefined when the repository
 * has no such file.
 */
export async function fetchToCache(repoId: string, file: string, opts: FetchOptions): Promise<string | undefined> {
  const hub = await import('@huggingface/hub');
  const hubUrl = hubEndpoint(opts.endpoint);
  const accessToken = hubToken(opts.token);
  const repoType = opts.repoType ?? 'model';
  const repo = { type: repoType, name: repoId };
  const { revision } = opts;
  const root = repoFolder(opts.cacheDir, repoId, repoType);
  const where = `${hubUrl}/${repoType === 'model' ? '' : `${repoType}s/`}${repoId}/resolve/${revision}/${file}`;
  const seen: { commit?: string } = {};
  // Wrap fetch to read X-Repo-Commit (huggingface_hub's snapshot name), which the library drops.
  const spy: typeof fetch = async (input, init) => {
    const resp = await fetch(input, init);
    const commit = resp.headers.get('x-repo-commit');
    if (commit) seen.commit = commit;
    return resp;
  };
  // A gated or private repository's 401/403 gets the Hub's message and what to do (set HF_TOKEN).
  const info = await hub.fileDownloadInfo({ repo, path: file, revision, hubUrl, fetch: spy, accessToken })
    .catch((e) => { throw hubError(e, repoId, hubUrl, repoType); });
  if (!info) return undefined;
  const etag = info.etag.replace(/^W\//, '').replace(/"/g, '');
  if (!ETAG.test(etag)) {
    throw new Error(`${where}: the server sent ETag ${JSON.stringify(etag.slice(0, 100))}, not a hex hash (git SHA-1 or SHA-256); refusing to use it as a file name`);
  }
  if (opts.expectedSize !== undefined && info.size !== opts.expectedSize) {
    throw new Error(`${where}: the server announced ${info.size} bytes, its file listing said ${opts.expectedSize}; refusing the download`);
  }
  const commit = seen.commit ?? (COMMIT.test(revision) ? revision : undefined);
  if (!commit) throw new Error(`${where}: the server sent no X-Repo-Commit header`);
  if (!COMMIT.test(commit)) {
    throw new Error(`${where}: the server sent X-Repo-Commit ${JSON.stringify(commit.slice(0, 100))}, not a 40-character commit hash`);
  }
  const snapshot = path.join(root, 'snapshots', commit);
  const blob = path.join(root, 'blobs', etag);
  const link = joinInside(snapshot, file, where, 'file name', 'repository');
  mkdirInside(root, path.dirname(blob));
  mkdirInside(root, path.dirname(link));
  checkRegularFileOrAbsent(blob);
  if (!fs.existsSync(blob)) {
    const data = await hub.downloadFile({ repo, path: file, revision, hubUrl, fetch, accessToken, downloadInfo: info, xet: false });
    if (!data) return undefined;
    await streamToFile(data.stream(), `${blob}.incomplete`, info.size, where, (loaded) => opts.onProgress?.({ file, loaded, total: info.size }));
    fs.renameSync(`${blob}.incomplete`, blob);
  }
  fs.rmSync(link, { force: true });
  fs.symlinkSync(path.relative(path.dirname(link), blob), link);
  writeRef(root, revision, commit);
  return snapshot;
}

/** Writes a download to `tmp`, stopping as soon as it passes the `size` the server announced; removes `tmp` on failure. */
async function streamToFile(stream: ReadableStream<Uint8Array>, tmp: string, size: number, where: string,
  progress: (loaded: number) => void): Promise<void> {
  fs.rmSync(tmp, { force: true });
  const out = fs.createWriteStream(tmp, { flags: 'wx' });
  const reader = stream.getReader();
  let loaded = 0;
  progress(loaded);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      loaded += value.byteLength;
      if (loaded > size) throw new Error(`${where}: the server sent more than the ${size} bytes it announced`);
      if (!out.write(value)) await new Promise<void>((r) => out.once('drain', () => r()));
      progress(loaded);
    }
    await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
    if (loaded !== size) throw new Error(`${where}: got ${loaded} bytes, expected ${size}`);
  } catch (e) {
    out.destroy();
    await reader.cancel().catch(() => undefined);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
