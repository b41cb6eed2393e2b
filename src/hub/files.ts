/**
 * Which Parquet files of a Hub dataset make one split: the repository's own `*.parquet` files
 * (split named in the path, as `datasets` matches its data_files patterns), else the Hub's
 * conversion branch `refs/convert/parquet` (`<config>/<split>/NNNN.parquet`).
 * The listing of a revision is kept beside the snapshot (`listings/<commit>.json`) so a later run
 * knows which files make the split, and that they are all in the snapshot, without asking the Hub.
 */
import * as fs from 'fs';
import * as path from 'path';
import { COMMIT, cachedCommit, hubEndpoint, hubToken, isOffline, writeRef } from './cache';
import { hubError } from './errors';
import { checkRealpathInside, mkdirInside } from '../model/paths';

export interface RepoFile {
  path: string;
  size: number;
}

export interface Listing {
  commit: string;
  files: RepoFile[];
}

export interface HubAccess {
  endpoint?: string;
  token?: string;
}

export const CONVERTED = 'refs/convert/parquet';
const SPLITS = ['train', 'validation', 'valid', 'dev', 'test', 'eval', 'other', 'invalidated'];

/** The revision's commit and every file in it, from the Hub (dataset info, then the tree API at that commit). */
export async function listOnline(repoId: string, revision: string, access: HubAccess): Promise<Listing> {
  const hub = await import('@huggingface/hub');
  const hubUrl = hubEndpoint(access.endpoint);
  const accessToken = hubToken(access.token);
  try {
    const info = await hub.datasetInfo({ name: repoId, revision, hubUrl, accessToken, additionalFields: ['sha'] }) as { sha?: unknown };
    const commit = String(info.sha);
    if (!COMMIT.test(commit)) throw new Error(`the server sent commit ${JSON.stringify(commit.slice(0, 100))} for revision ${revision}, not a 40-character hash`);
    const files: RepoFile[] = [];
    for await (const f of hub.listFiles({ repo: { type: 'dataset', name: repoId }, revision: commit, recursive: true, hubUrl, accessToken })) {
      if (f.type === 'file') files.push({ path: f.path, size: f.lfs?.size ?? f.size });
    }
    return { commit, files };
  } catch (e) {
    throw hubError(e, repoId, hubUrl);
  }
}

/** The cached listing of `revision`, or undefined (never asks the Hub). */
export function listCached(root: string, revision: string): Listing | undefined {
  const commit = cachedCommit(root, revision);
  if (!commit) return undefined;
  const file = path.join(root, 'listings', `${commit}.json`);
  if (fs.existsSync(file)) {
    checkRealpathInside(root, file);
    return { commit, files: JSON.parse(fs.readFileSync(file, 'utf8')) as RepoFile[] };
  }
  // A snapshot another tool (Python) downloaded: what is in it is what we have.
  const snap = path.join(root, 'snapshots', commit);
  if (!isOffline() || !fs.existsSync(snap)) return undefined;
  const files = (fs.readdirSync(snap, { recursive: true }) as string[]).map((p) => p.split(path.sep).join('/'))
    .filter((p) => fs.statSync(path.join(snap, p)).isFile()).map((p) => ({ path: p, size: fs.statSync(path.join(snap, p)).size }));
  return { commit, files };
}

/** Remembers `listing` for `revision`: refs/<revision> and listings/<commit>.json. */
export function saveListing(root: string, revision: string, listing: Listing): void {
  mkdirInside(root, path.join(root, 'listings'));
  fs.writeFileSync(path.join(root, 'listings', `${listing.commit}.json`), JSON.stringify(listing.files));
  writeRef(root, revision, listing.commit);
}

/** The listing of `revision`: cached, else from the Hub (refused offline). */
export async function listing(repoId: string, root: string, revision: string, access: HubAccess): Promise<Listing> {
  const cached = listCached(root, revision);
  if (cached) return cached;
  if (isOffline()) {
    throw new Error(`dataset '${repoId}' (revision ${revision}) is not in the Hugging Face cache ${path.dirname(root)} and ` +
      'HF_HUB_OFFLINE is set: download it first (unset HF_HUB_OFFLINE) or pass a local folder');
  }
  // Kept at once (a few KB): a later run, offline too, knows the revision's files without asking.
  const online = await listOnline(repoId, revision, access);
  saveListing(root, revision, online);
  return online;
}

/** True when a path segment (folder or file stem) names `split`: `train/…`, `train-0000-of-0001.parquet`, `data/my_train.parquet`. */
function namesSplit(file: string, split: string): boolean {
  const re = new RegExp(`^(.*[-._ ])?${split.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([-._ 0-9].*)?$`);
  return file.split('/').some((seg) => re.test(seg.replace(/\.parquet$/, '')));
}

export interface Selection {
  files: RepoFile[];
  /** The config the files belong to (`default` when the repository has one). */
  config: string;
}

/**
 * The Parquet files of `split` (and config `name`) among `files`, or why there are none. With
 * `converted`, paths are `<config>/<split>/NNNN.parquet` (the Hub's conversion).
 */
export function selectParquet(repoId: string, files: RepoFile[], split: string, name: string | undefined, converted: boolean): Selection {
  const parquet = files.filter((f) => f.path.endsWith('.parquet')).sort((a, b) => a.path.localeCompare(b.path));
  if (converted) {
    const configs = [...new Set(parquet.map((f) => f.path.split('/')[0]))].sort();
    const config = name ?? (configs.length === 1 ? configs[0] : configs.includes('default') ? 'default' : undefined);
    if (!config) throw new Error(`${repoId}: the dataset has several configs (${configs.join(', ')}): pick one with {name: '…'}`);
    if (!configs.includes(config)) throw new Error(`${repoId}: no config '${config}' (configs: ${configs.join(', ') || 'none'})`);
    const inConfig = parquet.filter((f) => f.path.startsWith(`${config}/`));
    const chosen = inConfig.filter((f) => f.path.split('/')[1] === split);
    if (!chosen.length) {
      const splits = [...new Set(inConfig.map((f) => f.path.split('/')[1]))].sort();
      throw new Error(`${repoId}: config '${config}' has no split '${split}' (splits: ${splits.join(', ')})`);
    }
    return { files: chosen, config };
  }
  const inConfig = name && name !== 'default' ? parquet.filter((f) => f.path.startsWith(`${name}/`)) : parquet;
  if (!inConfig.length) return { files: [], config: name ?? 'default' };
  // As `datasets`: when no file names any split, everything is the train split.
  const named = inConfig.some((f) => SPLITS.some((s) => namesSplit(f.path, s)));
  const chosen = named ? inConfig.filter((f) => namesSplit(f.path, split)) : split === 'train' ? inConfig : [];
  if (!chosen.length) {
    const splits = SPLITS.filter((s) => inConfig.some((f) => namesSplit(f.path, s)));
    throw new Error(`${repoId}: no Parquet files for split '${split}' (splits found: ${splits.join(', ') || 'train'})`);
  }
  return { files: chosen, config: name ?? 'default' };
}
