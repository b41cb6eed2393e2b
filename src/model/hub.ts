/**
 * Finding a checkpoint: a local folder, else the Hugging Face cache, else a download into that
 * cache. The cache layout is exactly Python huggingface_hub's, so a model downloaded from Python
 * is found here and vice versa:
 *   $HF_HUB_CACHE | $HF_HOME/hub | ~/.cache/huggingface/hub
 *     models--org--name/refs/<revision>            (text: the commit hash)
 *     models--org--name/blobs/<etag>               (file contents)
 *     models--org--name/snapshots/<commit>/<file>  (symlink -> ../../blobs/<etag>)
 * HF_HUB_OFFLINE=1 never touches the network. HF_ENDPOINT changes the server (tests use a local one).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

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

/** Files a Whisper checkpoint needs; the optional ones are skipped when the repo lacks them. */
const REQUIRED = ['config.json'];
const OPTIONAL = ['generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json',
  'vocab.json', 'merges.txt', 'added_tokens.json', 'special_tokens_map.json', 'normalizer.json'];
const WEIGHTS = 'model.safetensors';
const WEIGHTS_INDEX = 'model.safetensors.index.json';

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

function hasWeights(dir: string): boolean {
  return fs.existsSync(path.join(dir, WEIGHTS)) || fs.existsSync(path.join(dir, WEIGHTS_INDEX));
}

/** The snapshot folder of a cached repo at `revision` (a ref name or a commit), if complete. */
export function findInCache(repoId: string, revision = 'main', cacheDir = hubCacheDir()): string | undefined {
  const root = repoFolder(cacheDir, repoId);
  let commit = revision;
  const ref = path.join(root, 'refs', revision);
  if (fs.existsSync(ref) && fs.statSync(ref).isFile()) commit = fs.readFileSync(ref, 'utf8').trim();
  const snap = path.join(root, 'snapshots', commit);
  if (fs.existsSync(path.join(snap, 'config.json')) && hasWeights(snap)) return snap;
  return undefined;
}

/**
 * Returns a local folder holding config.json and the weights of `idOrDir`: the folder itself,
 * the cached snapshot, or a fresh download into the cache.
 */
export async function resolveModel(idOrDir: string, opts: ResolveOptions = {}): Promise<string> {
  if (fs.existsSync(idOrDir) && fs.statSync(idOrDir).isDirectory()) {
    const dir = path.resolve(idOrDir);
    if (!fs.existsSync(path.join(dir, 'config.json'))) throw new Error(`${dir}: not a model folder (config.json is missing)`);
    if (!hasWeights(dir)) throw new Error(`${dir}: no ${WEIGHTS} or ${WEIGHTS_INDEX} in the model folder`);
    return dir;
  }
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(idOrDir)) {
    throw new Error(`'${idOrDir}' is neither an existing folder nor a Hugging Face model id (org/name)`);
  }
  const revision = opts.revision ?? 'main';
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

async function downloadModel(repoId: string, revision: string, cacheDir: string, opts: ResolveOptions): Promise<string> {
  const hub = await import('@huggingface/hub');
  const hubUrl = (opts.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  const accessToken = process.env.HF_TOKEN || undefined;
  const root = repoFolder(cacheDir, repoId);
  let snapshot: string | undefined;

  /** Downloads one file into blobs/ + snapshots/; returns false when the repo has no such file. */
  const fetchOne = async (file: string): Promise<boolean> => {
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
    const commit = seen.commit ?? (/^[0-9a-f]{40}$/.test(revision) ? revision : undefined);
    if (!commit) throw new Error(`${hubUrl}/${repoId}/resolve/${revision}/${file}: the server sent no X-Repo-Commit header`);
    snapshot = path.join(root, 'snapshots', commit);
    const blob = path.join(root, 'blobs', etag);
    const link = path.join(snapshot, file);
    fs.mkdirSync(path.dirname(blob), { recursive: true });
    fs.mkdirSync(path.dirname(link), { recursive: true });
    if (!fs.existsSync(blob)) {
      const data = await hub.downloadFile({ repo: repoId, path: file, revision, hubUrl, fetch, accessToken, downloadInfo: info, xet: false });
      if (!data) return false;
      const tmp = `${blob}.incomplete`;
      const out = fs.createWriteStream(tmp);
      const reader = data.stream().getReader();
      let loaded = 0;
      opts.onProgress?.({ file, loaded, total: info.size });
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        loaded += value.byteLength;
        if (!out.write(value)) await new Promise<void>((r) => out.once('drain', () => r()));
        opts.onProgress?.({ file, loaded, total: info.size });
      }
      await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
      if (loaded !== info.size) {
        fs.rmSync(tmp, { force: true });
        throw new Error(`${hubUrl}/${repoId}/resolve/${revision}/${file}: got ${loaded} bytes, expected ${info.size}`);
      }
      fs.renameSync(tmp, blob);
    }
    fs.rmSync(link, { force: true });
    fs.symlinkSync(path.relative(path.dirname(link), blob), link);
    if (!/^[0-9a-f]{40}$/.test(revision) || revision !== commit) {
      fs.mkdirSync(path.join(root, 'refs'), { recursive: true });
      fs.writeFileSync(path.join(root, 'refs', revision), commit);
    }
    return true;
  };

  for (const f of REQUIRED) {
    if (!(await fetchOne(f))) throw new Error(`${repoId}@${revision}: the repository has no ${f}`);
  }
  for (const f of OPTIONAL) await fetchOne(f);
  if (!(await fetchOne(WEIGHTS))) {
    if (!(await fetchOne(WEIGHTS_INDEX))) {
      throw new Error(`${repoId}@${revision}: no ${WEIGHTS} or ${WEIGHTS_INDEX} (only safetensors checkpoints are supported)`);
    }
    const index = JSON.parse(fs.readFileSync(path.join(snapshot!, WEIGHTS_INDEX), 'utf8')) as { weight_map: Record<string, string> };
    for (const shard of new Set(Object.values(index.weight_map))) {
      if (!(await fetchOne(shard))) throw new Error(`${repoId}@${revision}: shard ${shard} listed in ${WEIGHTS_INDEX} is missing`);
    }
  }
  return snapshot!;
}
