/**
 * Finding a checkpoint: a local folder, else the Hugging Face cache, else a download into that
 * cache (`src/hub/cache.ts`: Python huggingface_hub's layout, HF_HUB_OFFLINE, HF_ENDPOINT, and the
 * rules that keep a hostile server's names inside the cache).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DownloadProgress, cachedCommit, checkRevision, fetchToCache, hubCacheDir, isOffline, isRepoId, repoFolder } from '../hub/cache';
import { checkRealpathInside } from './paths';
import { readShardIndex } from './safetensors';
import { CONFIG_NAME, GENERATION_CONFIG_NAME, PROCESSOR_FILES, WEIGHTS_INDEX_NAME, WEIGHTS_NAME } from './files';

export { DownloadProgress, hubCacheDir };

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

/** model.safetensors, or an index whose shards are all there (a download cut between shards is not complete). */
function hasCompleteWeights(dir: string): boolean {
  if (fs.existsSync(path.join(dir, WEIGHTS_NAME))) return true;
  const index = path.join(dir, WEIGHTS_INDEX_NAME);
  return fs.existsSync(index) && readShardIndex(index, 'repository').shards.every((s) => fs.existsSync(path.join(dir, s)));
}

/** The snapshot folder of a cached repo at `revision` (a ref name or a commit), if complete. */
export function findInCache(repoId: string, revision = 'main', cacheDir = hubCacheDir()): string | undefined {
  const root = repoFolder(cacheDir, repoId);
  const commit = cachedCommit(root, revision);
  if (!commit) return undefined;
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
    if (!fs.existsSync(path.join(dir, WEIGHTS_NAME)) && !fs.existsSync(path.join(dir, WEIGHTS_INDEX_NAME))) {
      throw new Error(`${dir}: no ${WEIGHTS_NAME} or ${WEIGHTS_INDEX_NAME} in the model folder`);
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

async function downloadModel(repoId: string, revision: string, cacheDir: string, opts: ResolveOptions): Promise<string> {
  let snapshot: string | undefined;
  /** Downloads one file into blobs/ + snapshots/; returns false when the repo has no such file. */
  const fetchOne = async (file: string): Promise<boolean> => {
    const snap = await fetchToCache(repoId, file, { revision, cacheDir, endpoint: opts.endpoint, onProgress: opts.onProgress });
    snapshot = snap ?? snapshot;
    return snap !== undefined;
  };
  if (!(await fetchOne(CONFIG_NAME))) throw new Error(`${repoId}@${revision}: the repository has no ${CONFIG_NAME}`);
  for (const f of OPTIONAL) await fetchOne(f);
  if (!(await fetchOne(WEIGHTS_NAME))) {
    if (!(await fetchOne(WEIGHTS_INDEX_NAME))) {
      throw new Error(`${repoId}@${revision}: no ${WEIGHTS_NAME} or ${WEIGHTS_INDEX_NAME} (only safetensors checkpoints are supported)`);
    }
    const indexFile = path.join(snapshot!, WEIGHTS_INDEX_NAME);
    for (const shard of readShardIndex(indexFile, 'repository').shards) {
      if (!(await fetchOne(shard))) throw new Error(`${repoId}@${revision}: shard ${shard} listed in ${WEIGHTS_INDEX_NAME} is missing`);
    }
  }
  return snapshot!;
}
