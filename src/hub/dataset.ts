/**
 * `loadDataset('owner/name', {split, name, streaming, revision})`: a Hub dataset's Parquet files
 * (its own, else the Hub's `refs/convert/parquet` conversion) as an AudioDataset, downloaded into
 * the HF cache (`datasets--owner--name/snapshots/<commit>/…`), or as an IterableAudioDataset read
 * row group by row group over HTTP range requests. A split whose files are all cached is read
 * without a request (and with HF_HUB_OFFLINE=1).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { AsyncBuffer } from 'hyparquet';
import { AudioDataset } from '../data/dataset';
import { DataReport } from '../data/report';
import { IterableAudioDataset } from '../data/stream';
import { Row, RowOrigin } from '../data/types';
import { checkRealpathInside, joinInside } from '../model/paths';
import { checkRevision, fetchToCache, hubCacheDir, hubEndpoint, hubToken, isOffline, isRepoId, repoFolder } from './cache';
import { CONVERTED, HubAccess, Listing, RepoFile, listing, selectParquet } from './files';
import { ParquetColumns, parquetRows } from './parquet';
import { rangeFile } from './rangeFile';

export interface HubDatasetOptions extends HubAccess, ParquetColumns {
  /** The config (`datasets`' `name`), e.g. a language of Common Voice; default: the only one, or `default`. */
  name?: string;
  /** Only the files under this folder of the repository (`datasets`' data_dir, e.g. 'fr/segment'). */
  dataDir?: string;
  /** Default 'train'. */
  split?: string;
  /** Branch, tag or commit (default 'main'). */
  revision?: string;
  /** Read row groups on demand over HTTP instead of downloading (HF `streaming=True`). */
  streaming?: boolean;
  /** Override the cache folder (default: as huggingface_hub). */
  cacheDir?: string;
  samplingRate?: number;
}

interface Located {
  repoId: string;
  root: string;
  revision: string;
  listing: Listing;
  files: RepoFile[];
}

/** The split's files: the repository's own Parquet files, else the conversion branch's. */
async function locate(repoId: string, opts: HubDatasetOptions): Promise<Located> {
  if (!isRepoId(repoId)) throw new Error(`'${repoId}' is neither an existing path nor a Hugging Face dataset id (owner/name)`);
  const split = opts.split ?? 'train';
  const root = repoFolder(opts.cacheDir ?? hubCacheDir(), repoId, 'dataset');
  const revision = opts.revision ?? 'main';
  checkRevision(revision);
  const own = await listing(repoId, root, revision, opts);
  const dataDir = opts.dataDir?.replace(/^\/+|\/+$/g, '');
  const files = dataDir ? own.files.filter((f) => f.path.startsWith(`${dataDir}/`)) : own.files;
  if (dataDir && !files.length) throw new Error(`${repoId}: no files under data_dir '${dataDir}'`);
  const mine = selectParquet(repoId, files, split, opts.name, false);
  if (mine.files.length) return { repoId, root, revision, listing: own, files: mine.files };
  // No Parquet in the repository (audio folders, scripts): the Hub's conversion of it.
  const converted = await listing(repoId, root, CONVERTED, opts);
  return { repoId, root, revision: CONVERTED, listing: converted, files: selectParquet(repoId, converted.files, split, opts.name, true).files };
}

/** The snapshot path of `file`, checked to stay in the cache. */
function snapshotPath(at: Located, file: string): string {
  return joinInside(path.join(at.root, 'snapshots', at.listing.commit), file, `${at.repoId} file listing`, 'file name', 'repository');
}

function isCached(at: Located, file: string): boolean {
  const p = snapshotPath(at, file);
  if (!fs.existsSync(p)) return false;
  checkRealpathInside(at.root, p);
  return true;
}

/** Downloads the split's files that are not in the snapshot yet. */
async function download(at: Located, opts: HubDatasetOptions): Promise<void> {
  const missing = at.files.filter((f) => !isCached(at, f.path)); // a hostile name is refused here, before any request
  if (missing.length && isOffline()) throw new Error(`${at.repoId}: ${missing[0].path} is not in the cache and HF_HUB_OFFLINE is set`);
  for (const f of missing) {
    await fetchToCache(at.repoId, f.path, {
      repoType: 'dataset', revision: at.listing.commit, cacheDir: path.dirname(at.root), endpoint: opts.endpoint, token: opts.token, expectedSize: f.size,
    });
  }
}

/** A cached file read piece by piece like a remote one (hyparquet's node-only asyncBufferFromFile, typed for commonjs). */
function localFile(file: string): AsyncBuffer {
  const byteLength = fs.statSync(file).size;
  return {
    byteLength,
    async slice(start: number, end = byteLength) {
      const fd = await fs.promises.open(file, 'r');
      try {
        const buf = new Uint8Array(end - start);
        await fd.read(buf, 0, buf.length, start);
        return buf.buffer;
      } finally {
        await fd.close();
      }
    },
  };
}

async function openFile(at: Located, f: RepoFile, opts: HubDatasetOptions): Promise<AsyncBuffer> {
  if (isCached(at, f.path)) return localFile(snapshotPath(at, f.path));
  const url = `${hubEndpoint(opts.endpoint)}/datasets/${at.repoId}/resolve/${at.listing.commit}/${f.path.split('/').map(encodeURIComponent).join('/')}`;
  snapshotPath(at, f.path);
  return rangeFile(url, f.size, `${at.repoId}/${f.path}`, hubToken(opts.token));
}

/** Rows of every file of the split, in order, into `report`. */
async function* rowsOf(at: Located, opts: HubDatasetOptions, report: DataReport): AsyncGenerator<{ row: Row; origin: RowOrigin }> {
  for (const f of at.files) yield* parquetRows(await openFile(at, f, opts), `${at.repoId}/${f.path}`, opts, report);
}

export async function loadHubDataset(repoId: string, opts: HubDatasetOptions & { streaming: true }): Promise<IterableAudioDataset>;
export async function loadHubDataset(repoId: string, opts?: HubDatasetOptions & { streaming?: false }): Promise<AudioDataset>;
export async function loadHubDataset(repoId: string, opts?: HubDatasetOptions): Promise<AudioDataset | IterableAudioDataset>;
export async function loadHubDataset(repoId: string, opts: HubDatasetOptions = {}): Promise<AudioDataset | IterableAudioDataset> {
  const at = await locate(repoId, opts);
  if (opts.streaming) {
    const report = new DataReport();
    return new IterableAudioDataset<Row>(async function* () {
      // Each pass re-reads the files, so the report describes the latest pass only.
      report.problems.length = 0;
      report.kept = 0;
      yield* rowsOf(at, opts, report);
    }, report, opts.samplingRate);
  }
  await download(at, opts);
  const report = new DataReport();
  const rows: Row[] = [];
  const origins: RowOrigin[] = [];
  for await (const { row, origin } of rowsOf(at, opts, report)) {
    rows.push(row);
    origins.push(origin);
  }
  return new AudioDataset(rows, { origins, report, samplingRate: opts.samplingRate });
}
