/**
 * Where the read-only shared material (models, datasets, reference numbers) lives: for the tests,
 * benches, notebooks and the main job. The library in src/ never reads it; what a model needs comes
 * from its checkpoint folder.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The folder holding package.json, from the sources (tsx) or from dist/ alike, whatever the caller's cwd. */
export const PROJECT_ROOT = (() => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();

/** `$WHISPER_SHARED`, else `../shared` beside the project. Throws a clear message when missing. */
export function sharedDir(...parts: string[]): string {
  const root = process.env.WHISPER_SHARED
    ? path.resolve(process.env.WHISPER_SHARED)
    : path.resolve(PROJECT_ROOT, '..', 'shared');
  if (!fs.existsSync(path.join(root, 'README.md'))) {
    throw new Error(`Shared data not found at ${root}. Put the shared folder (models, datasets, ` +
      `reference) beside the project as ../shared, or set WHISPER_SHARED=/path/to/shared.`);
  }
  const p = path.join(root, ...parts);
  if (parts.length && !fs.existsSync(p)) throw new Error(`Missing shared file: ${p}`);
  return p;
}

/** One clip of reference/whisper-tiny/transcripts.jsonl: OpenAI's greedy whisper-tiny output. */
export interface ReferenceTranscript {
  id: string;
  /** Relative to shared/datasets. */
  path: string;
  lang: string;
  /** The dataset's transcript. */
  reference: string;
  hypothesis: string;
  /** <|startoftranscript|><|lang|><|transcribe|><|notimestamps|> */
  prompt: number[];
  /** Generated ids, specials excluded. */
  tokens: number[];
  seconds: number;
}

/**
 * The reference transcripts were decoded with at most 128 new tokens (shared/README.md); openai's
 * own default is 224. Parity checks pass this, so the 3 clips where the reference stopped in a
 * repetition loop compare equal too.
 */
export const REFERENCE_MAX_NEW_TOKENS = 128;

/** Every line of reference/whisper-tiny/transcripts.jsonl (401 clips), in file order. */
export function loadReferenceTranscripts(): ReferenceTranscript[] {
  return fs.readFileSync(sharedDir('reference', 'whisper-tiny', 'transcripts.jsonl'), 'utf8')
    .split('\n').filter(Boolean).map((l) => JSON.parse(l) as ReferenceTranscript);
}

/** whisper.cpp beside this project (tests, benches, notebook 07): see ./whisperCpp.ts. */
export { whisperCpp } from './whisperCpp';
