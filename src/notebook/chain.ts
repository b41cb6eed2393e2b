/**
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

const registry = new Map<string, unknown>();

/**
 * Registers `value` as this kernel's `name` and frees what was registered under that name before
 * (dispose() or close()), so a cell that creates a model, a trainer or a server can be re-run
 * without leaking the previous one:
 *
 *   const model = named('model', await WhisperForConditionalGeneration.fromPretrained(dir));
 */
export async function named<T>(name: string, value: T): Promise<T> {
  const old = registry.get(name) as { dispose?: () => unknown; close?: () => unknown } | undefined;
  registry.set(name, value);
  if (old && old !== (value as unknown)) {
    if (typeof old.dispose === 'function') await old.dispose();
    else if (typeof old.close === 'function') await old.close();
  }
  return value;
}
