/**
 * The article notebooks' Hub cells: the article's `load_dataset(...)` run for real when the Hub
 * answers, else the shared local copy with one printed line (the test suite runs offline, with
 * HF_HUB_OFFLINE=1); and the closing `push_to_hub`, which updates the saved folder's card and
 * uploads only when HF_TOKEN is set.
 */
import { AudioDataset, IterableAudioDataset, LoadDatasetOptions, loadDataset } from '../../src/data';
import { hubEndpoint, isOffline } from '../../src/hub/cache';
import { ModelCardInfo, updateModelCard } from '../../src/hub/card';
import { PushResult, pushToHub } from '../../src/hub/push';

/** Why the Hub cannot be used now, or undefined when it answers within `timeoutMs`. */
async function hubUnreachable(timeoutMs: number): Promise<string | undefined> {
  if (isOffline()) return 'HF_HUB_OFFLINE is set';
  try {
    await fetch(`${hubEndpoint()}/api/whoami-v2`, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) });
    return undefined;
  } catch (e) {
    const err = e as Error & { cause?: Error };
    return err.cause?.message ?? err.message;
  }
}

/**
 * `loadDataset(repoId, opts)` when the Hub answers, else `loadDataset(local, {streaming})`, saying
 * so in one line. A failure after the Hub answered (gated, no such split) falls back too, with the reason.
 */
export async function hubOrLocal(repoId: string, opts: LoadDatasetOptions & { streaming: true }, local: string, timeoutMs?: number): Promise<IterableAudioDataset>;
export async function hubOrLocal(repoId: string, opts: LoadDatasetOptions, local: string, timeoutMs?: number): Promise<AudioDataset | IterableAudioDataset>;
export async function hubOrLocal(repoId: string, opts: LoadDatasetOptions, local: string, timeoutMs = 3000): Promise<AudioDataset | IterableAudioDataset> {
  let why = await hubUnreachable(timeoutMs);
  if (!why) {
    try {
      const ds = await loadDataset(repoId, opts);
      console.log(`${repoId} (${opts.split ?? 'train'}) from ${hubEndpoint()}${opts.streaming ? ', streamed' : ''}`);
      return ds;
    } catch (e) {
      why = (e as Error).message.split('\n')[0];
    }
  }
  console.log(`${repoId}: Hub not used (${why}); using the shared local copy ${local}`);
  return opts.streaming ? loadDataset(local, { streaming: true }) : loadDataset(local);
}

/**
 * The notebook's `push_to_hub`: adds `card` (language, datasets) to the card of the saved
 * folder, then uploads it to `repoId` when HF_TOKEN is set; otherwise says how.
 */
export async function pushIfToken(folder: string, repoId: string, card: ModelCardInfo = {}): Promise<PushResult | undefined> {
  const file = updateModelCard(folder, card);
  if (!process.env.HF_TOKEN) {
    console.log(`model card written to ${file}; set HF_TOKEN (a write token) to upload ${folder} to ${repoId}`);
    return undefined;
  }
  const out = await pushToHub(folder, repoId, {});
  console.log(`pushed ${out.files.length} files to ${out.repoUrl} (commit ${out.commit.slice(0, 8)})`);
  return out;
}
