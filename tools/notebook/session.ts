/**
 * What a notebook session needs besides the library: the run folder the notebooks hand results on
 * through, and one registry that keeps cells re-runnable (`fresh`).
 *
 * The tutorial as one chain: notebooks 03, 05, 06 and 07 hand their results to each other through
 * one run folder, `out/run/` (`out/run-smoke/` with SMOKE=1, or `$WHISPER_RUN_DIR`):
 *
 *   03_preprocess  writes data/train, data/test        (prepared rows: features, labels, audio, text)
 *   05_train       reads data/*; writes adapter/       (LoRA, PEFT layout) and full-model/ (HF layout)
 *   06_evaluate    reads data/test, adapter/, full-model/
 *   07_demo        reads data/test, adapter/
 *
 * A notebook that lacks its input stops with a message naming the notebook that writes it; none
 * substitutes an untrained model.
 */
import * as fs from 'fs';
import * as path from 'path';
import { tf } from '../../src/backend';
import { PROJECT_ROOT } from '../shared';

/** Each artefact of the chain: its path under the run folder and the notebook that writes it. */
export const ARTIFACTS = {
  trainData: { path: 'data/train', writer: '03_preprocess', check: 'rows.json' },
  testData: { path: 'data/test', writer: '03_preprocess', check: 'rows.json' },
  adapter: { path: 'adapter', writer: '05_train', check: 'adapter_config.json' },
  fullModel: { path: 'full-model', writer: '05_train', check: 'model.safetensors' },
} as const;

export type ArtifactName = keyof typeof ARTIFACTS;

/** The run folder (created), or a path inside it. */
export function runDir(...parts: string[]): string {
  const root = process.env.WHISPER_RUN_DIR
    ? path.resolve(process.env.WHISPER_RUN_DIR)
    : path.join(PROJECT_ROOT, 'out', process.env.SMOKE === '1' ? 'run-smoke' : 'run');
  fs.mkdirSync(root, { recursive: true });
  return path.join(root, ...parts);
}

/** Where an artefact goes (for the notebook that writes it). */
export function artifactPath(name: ArtifactName): string {
  return runDir(ARTIFACTS[name].path);
}

/** Where an artefact is, or an error saying which notebook makes it. */
export function requireArtifact(name: ArtifactName): string {
  const a = ARTIFACTS[name];
  const p = runDir(a.path);
  if (!fs.existsSync(path.join(p, a.check))) {
    throw new Error(`${p} not found: it is written by notebooks/${a.writer}.ipynb; run that notebook first ` +
      `(with the same SMOKE setting${process.env.SMOKE === '1' ? ', SMOKE=1' : ''})`);
  }
  return p;
}

/**
 * A cell that makes something holding memory or a port (a model, an adapter, a trainer, a server)
 * makes it through `fresh(name, make)`: running the cell again first disposes (or closes) what the
 * previous run made under that name, so re-running never leaks tensors nor fails on "already exists".
 *
 *   const model = await fresh('model', () => WhisperForConditionalGeneration.fromPretrained(dir));
 */
type Resource = { dispose(): unknown } | { close(): unknown };

const held = new Map<string, Resource>();

async function release(r: Resource): Promise<void> {
  await ('dispose' in r ? r.dispose() : r.close());
}

/** Disposes the value last made under `name`, then makes and remembers a new one. */
export async function fresh<T extends Resource>(name: string, make: () => T | Promise<T>): Promise<T> {
  const old = held.get(name);
  held.delete(name);
  if (old) await release(old);
  const value = await make();
  held.set(name, value);
  return value;
}

/** Disposes everything made with `fresh`, last made first (a notebook's final cell). */
export async function releaseAll(): Promise<void> {
  for (const name of [...held.keys()].reverse()) {
    const r = held.get(name)!;
    held.delete(name);
    await release(r);
  }
}

/**
 * The process's peak resident memory in bytes (Linux VmHWM: the high-water mark since the
 * process started, so nothing is missed between samples); current RSS elsewhere.
 */
export function peakRssBytes(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.memoryUsage().rss;
}

/**
 * A notebook's last cell: releases everything made with `fresh`, then prints the tensors left
 * (0 when nothing leaked), the peak memory and the `timings` the notebook collected.
 */
export async function finish(timings: Record<string, number> = {}): Promise<void> {
  await releaseAll();
  console.log(`tensors left: ${tf.memory().numTensors} | peak RSS ${(peakRssBytes() / 2 ** 30).toFixed(2)} GiB`);
  const parts = Object.entries(timings).map(([k, v]) => `${k}: ${v.toFixed(1)}`);
  if (parts.length) console.log(parts.join(', '));
}

/** The article notebooks' Hub cells (the article's load_dataset with an offline fallback, push_to_hub when HF_TOKEN is set). */
export { hubOrLocal, pushIfToken } from './hub';
