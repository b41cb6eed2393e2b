/**
 * `pushToHub(folder, repoId)`: uploads a saved adapter (PEFT layout) or model (HF layout) folder
 * as one commit through @huggingface/hub (createRepo, then uploadFiles: preupload, LFS for the
 * weights, commit), with a model card. transformers' `push_to_hub`; the trainer and PeftModel call it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { hubEndpoint, hubToken, isRepoId } from './cache';
import { MODEL_CARD_NAME, ModelCardInfo, updateModelCard, writeModelCard } from './card';
import { hubError } from './errors';

export interface PushOptions {
  /** A write token; default $HF_TOKEN. */
  token?: string;
  private?: boolean;
  commitMessage?: string;
  /** Hub URL; default $HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string;
  /** Card fields (language, datasets, …) added to the folder's card (updateModelCard); a folder without a card gets one. */
  card?: ModelCardInfo;
}

export interface PushResult {
  repoUrl: string;
  commit: string;
  commitUrl: string;
  files: string[];
}

/** What transformers leaves out of a push of an output folder: checkpoints, hidden and temporary files. */
function uploadable(rel: string): boolean {
  return !rel.split('/').some((s) => s.startsWith('.') || s.startsWith('_') || /^checkpoint-\d+$/.test(s) || s.includes('.tmp-'));
}

/** Files of `folder` to upload, relative with `/`, sorted. */
export function folderUploads(folder: string): string[] {
  return (fs.readdirSync(folder, { recursive: true }) as string[]).map((p) => p.split(path.sep).join('/'))
    .filter((p) => uploadable(p) && fs.statSync(path.join(folder, p)).isFile()).sort();
}

export async function pushToHub(folder: string, repoId: string, opts: PushOptions = {}): Promise<PushResult> {
  const dir = path.resolve(folder);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`pushToHub: ${dir} is not a folder (save the model or adapter there first)`);
  if (!fs.existsSync(path.join(dir, 'adapter_config.json')) && !fs.existsSync(path.join(dir, 'config.json'))) {
    throw new Error(`pushToHub: ${dir} holds neither adapter_config.json (an adapter) nor config.json (a model)`);
  }
  if (!isRepoId(repoId) || !repoId.includes('/')) throw new Error(`pushToHub: '${repoId}' is not a Hub repo id of the form owner/name`);
  const accessToken = hubToken(opts.token);
  if (!accessToken) throw new Error('pushToHub: no token: set HF_TOKEN to a write token (https://huggingface.co/settings/tokens) or pass {token}');
  if (!fs.existsSync(path.join(dir, MODEL_CARD_NAME))) writeModelCard(dir, { modelName: repoId, ...opts.card });
  else if (opts.card) updateModelCard(dir, opts.card);
  const hub = await import('@huggingface/hub');
  const hubUrl = hubEndpoint(opts.endpoint);
  const repo = { type: 'model' as const, name: repoId };
  try {
    await hub.createRepo({ repo, accessToken, hubUrl, private: opts.private });
  } catch (e) {
    // huggingface_hub's create_repo(exist_ok=True): an existing repository is pushed to.
    if ((e as { statusCode?: number }).statusCode !== 409) throw hubError(e, repoId, hubUrl, 'model');
  }
  const files = folderUploads(dir);
  try {
    const out = await hub.uploadFiles({
      repo, accessToken, hubUrl, useXet: false,
      commitTitle: opts.commitMessage ?? `Upload ${fs.existsSync(path.join(dir, 'adapter_config.json')) ? 'adapter' : 'model'} with whisper-finetune-ts`,
      // Blobs backed by the files: a large checkpoint is hashed and sent without being read into memory whole.
      files: await Promise.all(files.map(async (p) => ({ path: p, content: await fs.openAsBlob(path.join(dir, p)) }))),
    });
    return { repoUrl: `${hubUrl}/${repoId}`, commit: out?.commit.oid ?? '', commitUrl: out?.commit.url ?? '', files };
  } catch (e) {
    throw hubError(e, repoId, hubUrl, 'model');
  }
}
