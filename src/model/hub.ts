/**
 * Finding a checkpoint: a local folder, else the Hugging Face cache, else a download into that
 * cache. The cache layout is exactly Python huggingface_hub's, so a model downloaded from Python
 * is found here and vice versa:
 *   $HF_HUB_CACHE | $HF_HOME/hub | ~/.cache/huggingface/hub
 *     models--org--name/refs/<revision>            (text: the commit hash)
 *     models--org--name/blobs/<etag>               (file contents)
 *     models--org--name/snapshots/<commit>/<file>  (symlink -> ../../blobs/<etag>)
 * HF_HUB_OFFLINE=1 never touches the network. HF_ENDPOINT changes the server (tests use a local one).
 *
 * The server is not trusted with local paths (huggingface_hub's rules): the commit must be 40 hex
 * characters, the ETag (blob name) a hex hash, every file and shard name a plain relative path, and
 * every folder written to must resolve inside the repo folder, so a hostile endpoint or a symbolic
 * link planted in the cache cannot make us write or read outside it.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkRealpathInside, checkRegularFileOrAbsent, isPlainRelativePath, joinInside, mkdirInside } from './paths';
import { readShardIndex } from './safetensors';
import { CONFIG_NAME, GENERATION_CONFIG_NAME, PROCESSOR_FILES, WEIGHTS_INDEX_NAME, WEIGHTS_NAME } from './files';

export interface DownloadProgress {
  file: string;
  loaded: number;
  total: number;
}

export interface ResolveOptions {
  /** Branch, tag or commit (default 'main'). */
  revision?: string;
  onProgress?: (p: DownloadProgress) => void;
  /** Hub URL; default $HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string;
  /** Override the cache folder (default: as huggingface_hub). */
  cacheDir?: string;
}

/** The optional files are skipped when the repo lacks them. */
const OPTIONAL = [GENERATION_CONFIG_NAME, ...PROCESSOR_FILES];
const WEIGHTS = WEIGHTS_NAME;
const WEIGHTS_INDEX = WEIGHTS_INDEX_NAME;

export function hubCacheDir(): string {
  if (process.env.HF_HUB_CACHE) return process.env.HF_HUB_CACHE;
  if (process.env.HF_HOME) return path.join(process.env.HF_HOME, 'hub');
  const xdg = process.env.XDG_CACHE_HOME;
  return path.join(xdg ?? path.join(os.homedir(), '.cache'), 'huggingface', 'hub');
}

function isOffline(): boolean {
  const v = (process.env.HF_HUB_OFFLINE ?? '').toLowerCase();
  return v === '1' || v === 'true' || v === 'yes' || v === 'on';
}

function repoFolder(cacheDir: string, repoId: string): string {
  return path.join(cacheDir, `models--${repoId.split('/').join('--')}`);
}

const COMMIT = /^[0-9a-f]{40}$/;
/** Blob names: a git blob SHA-1 (small files) or the SHA-256 of an LFS file. */
const ETAG = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

/** huggingface_hub's validate_repo_id: `name` or `org/name`, word characters, '-' and '.', no '--' or '..'. */
function isRepoId(id: string): boolean {
  const parts = id.split('/');
  return parts.length <= 2 && !id.includes('--') && !id.includes('..') && !id.endsWith('.git') &&
    parts.every((p) => p.length <= 96 && /^\w([\w.-]*\w)?$/.test(p));
}

function checkRevision(revision: string): void {
  if (!isPlainRelativePath(revision)) throw new Error(`revision ${JSON.stringify(revision)} is not a valid branch, tag or commit`);
}

/** model.safetensors, or an index whose shards are all there (a download cut between shards is not complete). */
function hasCompleteWeights(dir: string): boolean {
  if (fs.existsSync(path.join(dir, WEIGHTS))) return true;
  const index = path.join(dir, WEIGHTS_INDEX);
  return fs.existsSync(index) && readShardIndex(index, 'repository').shards.every((s) => fs.existsSync(path.join(dir, s)));
}

/** The snapshot folder of a cached repo at `revision` (a ref name or a commit), if complete. */
export function findInCache(repoId: string, revision = 'main', cacheDir = hubCacheDir()): string | undefined {
  checkRevision(revision);
  const root = repoFolder(cacheDir, repoId);
  let commit = revision;
  const ref = path.join(root, 'refs', revision);
  checkRegularFileOrAbsent(ref);
  if (fs.existsSync(ref)) {
    commit = fs.readFileSync(ref, 'utf8').trim();
    if (!COMMIT.test(commit)) {
      throw new Error(`${ref} holds ${JSON.stringify(commit.slice(0, 100))}, not a 40-character commit hash: the cache is damaged; remove it and retry`);
    }
  }
  if (!COMMIT.test(commit)) return undefined;
  const snap = path.join(root, 'snapshots', commit);
  if (!fs.existsSync(path.join(snap, CONFIG_NAME)) || !hasCompleteWeights(snap)) return undefined;
  // The snapshot's files are links into ../../blobs: all of them must resolve inside the repo folder.
  checkRealpathInside(root, snap);
  for (const f of fs.readdirSync(snap)) checkRealpathInside(root, path.join(snap, f));
  return snap;
}

/**
 * Returns a local folder holding config.json and the weights of `idOrDir`: the folder itself,
 * the cached snapshot, or a fresh download into the cache.
 */
export async function resolveModel(idOrDir: string, opts: ResolveOptions = {}): Promise<string> {
  if (fs.existsSync(idOrDir) && fs.statSync(idOrDir).isDirectory()) {
    const dir = path.resolve(idOrDir);
    if (!fs.existsSync(path.join(dir, CONFIG_NAME))) throw new Error(`${dir}: not a model folder (config.json is missing)`);
    if (!fs.existsSync(path.join(dir, WEIGHTS)) && !fs.existsSync(path.join(dir, WEIGHTS_INDEX))) {
      throw new Error(`${dir}: no ${WEIGHTS} or ${WEIGHTS_INDEX} in the model folder`);
    }
    return dir;
  }
  if (!isRepoId(idOrDir)) {
    throw new Error(`'${idOrDir}' is neither an existing folder nor a Hugging Face model id (org/name)`);
  }
  const revision = opts.revision ?? 'main';
  checkRevision(revision);
  const cacheDir = opts.cacheDir ?? hubCacheDir();
  const cached = findInCache(idOrDir, revision, cacheDir);
  if (cached) return cached;
  if (isOffline()) {
    throw new Error(`'${idOrDir}' (revision ${revision}) is not in the Hugging Face cache ${cacheDir} and ` +
      `HF_HUB_OFFLINE is set: download it first (unset HF_HUB_OFFLINE) or pass a local folder`);
  }
  return downloadModel(idOrDir, revision, cacheDir, opts);
}

interface FetchedInfo {
  etag: string;
  commit?: string;
}

/** Writes `data` to `file` through a fresh temp file and a rename, so a planted link at `file` is replaced, never followed. */
function writeReplacing(file: string, data: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, data, { flag: 'wx' });
  fs.renameSync(tmp, file);
}

async function downloadModel(repoId: string, revision: string, cacheDir: string, opts: ResolveOptions): Promise<string> {
  const hub = await import('@huggingface/hub');
  const hubUrl = (opts.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  const accessToken = process.env.HF_TOKEN || undefined;
  const root = repoFolder(cacheDir, repoId);
  let snapshot: string | undefined;

  /** Downloads one file into blobs/ + snapshots/; returns false when the repo has no such file. */
  const fetchOne = async (file: string): Promise<boolean> => {
    const where = `${hubUrl}/${repoId}/resolve/${revision}/${file}`;
    const seen: FetchedInfo = { etag: '' };
    // Wrap fetch to read X-Repo-Commit (huggingface_hub's snapshot name), which the library drops.
    const spy: typeof fetch = async (input, init) => {
      const resp = await fetch(input, init);
      const commit = resp.headers.get('x-repo-commit');
      if (commit) seen.commit = commit;
      return resp;
    };
    const info = await hub.fileDownloadInfo({ repo: repoId, path: file, revision, hubUrl, fetch: spy, accessToken });
    if (!info) return false;
    const etag = info.etag.replace(/^W\//, '').replace(/"/g, '');
    if (!ETAG.test(etag)) {
      throw new Error(`${where}: the server sent ETag ${JSON.stringify(etag.slice(0, 100))}, not a hex hash (git SHA-1 or SHA-256); refusing to use it as a file name`);
    }
    const commit = seen.commit ?? (COMMIT.test(revision) ? revision : undefined);
    if (!commit) throw new Error(`${where}: the server sent no X-Repo-Commit header`);
    if (!COMMIT.test(commit)) {
      throw new Error(`${where}: the server sent X-Repo-Commit ${JSON.stringify(commit.slice(0, 100))}, not a 40-character commit hash`);
    }
    snapshot = path.join(root, 'snapshots', commit);
    const blob = path.join(root, 'blobs', etag);
    const link = joinInside(snapshot, file, where, 'file name', 'repository');
    mkdirInside(root, path.dirname(blob));
    mkdirInside(root, path.dirname(link));
    checkRegularFileOrAbsent(blob);
    if (!fs.existsSync(blob)) {
      const data = await hub.downloadFile({ repo: repoId, path: file, revision, hubUrl, fetch, accessToken, downloadInfo: info, xet: false });
      if (!data) return false;
      const tmp = `${blob}.incomplete`;
      fs.rmSync(tmp, { force: true });
      const out = fs.createWriteStream(tmp, { flags: 'wx' });
      const reader = data.stream().getReader();
      let loaded = 0;
      opts.onProgress?.({ file, loaded, total: info.size });
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          loaded += value.byteLength;
          if (loaded > info.size) throw new Error(`${where}: the server sent more than the ${info.size} bytes it announced`);
          if (!out.write(value)) await new Promise<void>((r) => out.once('drain', () => r()));
          opts.onProgress?.({ file, loaded, total: info.size });
        }
        await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
        if (loaded !== info.size) throw new Error(`${where}: got ${loaded} bytes, expected ${info.size}`);
      } catch (e) {
        out.destroy();
        await reader.cancel().catch(() => undefined);
        fs.rmSync(tmp, { force: true });
        throw e;
      }
      fs.renameSync(tmp, blob);
    }
    fs.rmSync(link, { force: true });
    fs.symlinkSync(path.relative(path.dirname(link), blob), link);
    if (!COMMIT.test(revision) || revision !== commit) {
      const ref = path.join(root, 'refs', revision);
      mkdirInside(root, path.dirname(ref));
      checkRegularFileOrAbsent(ref);
      writeReplacing(ref, commit);
    }
    return true;
  };

  for (const f of [CONFIG_NAME]) {
    if (!(await fetchOne(f))) throw new Error(`${repoId}@${revision}: the repository has no ${f}`);
  }
  for (const f of OPTIONAL) await fetchOne(f);
  if (!(await fetchOne(WEIGHTS))) {
    if (!(await fetchOne(WEIGHTS_INDEX))) {
      throw new Error(`${repoId}@${revision}: no ${WEIGHTS} or ${WEIGHTS_INDEX} (only safetensors checkpoints are supported)`);
    }
    const indexFile = path.join(snapshot!, WEIGHTS_INDEX);
    for (const shard of readShardIndex(indexFile, 'repository').shards) {
      if (!(await fetchOne(shard))) throw new Error(`${repoId}@${revision}: shard ${shard} listed in ${WEIGHTS_INDEX} is missing`);
    }
  }
  return snapshot!;
}
