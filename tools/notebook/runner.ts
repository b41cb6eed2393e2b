/**
 * Runs a notebook headlessly through Jupyter (nbclient) with this project's tslab kernel.
 * Used by the main job (`npm start`) and by the tests.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PROJECT_ROOT } from '../shared';

export const KERNEL_NAME = 'tslab-whisper';
/** Debian's Jupyter lives in the system Python; a pyenv/conda `python3` first on PATH may lack it. */
export const JUPYTER_PYTHON = process.env.JUPYTER_PYTHON ?? findJupyterPython();

function findJupyterPython(): string {
  for (const p of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(p, ['-c', 'import nbclient, nbconvert'], { stdio: 'ignore' }).status === 0) return p;
  }
  return '/usr/bin/python3';
}

/** Environment that makes Jupyter find the project-local kernel spec in `kernel/`. */
export function jupyterEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const jupyterPath = [path.join(PROJECT_ROOT, 'kernel'), process.env.JUPYTER_PATH].filter(Boolean).join(':');
  return { ...process.env, JUPYTER_PATH: jupyterPath, PYDEVD_DISABLE_FILE_VALIDATION: '1', ...extra };
}

export interface RunOptions {
  /** Environment variables for the kernel, e.g. {SMOKE: '1'} for small settings. */
  env?: Record<string, string>;
  /** Where the executed .ipynb and .html go (default out/). */
  outDir?: string;
  /**
   * Execute every cell twice in a row in the same kernel (cell 1, cell 1, cell 2, cell 2, ...), as
   * a learner re-running a cell would: proves each cell can be re-run on its own.
   */
  twice?: boolean;
  /** Seconds one cell may take. */
  cellTimeout?: number;
}

export interface RunResult {
  notebook: string;
  ipynb: string;
  html: string;
  seconds: number;
  /** Text output of each code cell, per execution: runs[0] the first, runs[1] the re-run (with twice). */
  runs: string[][];
  /** Wall seconds of each code cell, per execution (like `runs`). */
  cellSeconds: number[][];
}

export class NotebookError extends Error {
  constructor(readonly notebook: string, readonly cell: number, readonly source: string,
    readonly error: string, readonly traceback: string) {
    super(`${path.basename(notebook)}: cell ${cell} failed: ${error}\n--- cell ${cell} source ---\n${source}\n---`);
  }
}

/** Newest modification time of the .ts files under src/. */
/** The folders compiled into dist/ (tsconfig.build.json). */
const COMPILED = ['src', 'apps', 'tools'];

function newestSource(dir: string): number {
  return fs.readdirSync(dir, { withFileTypes: true }).reduce((t, e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return Math.max(t, newestSource(p));
    return e.name.endsWith('.ts') ? Math.max(t, fs.statSync(p).mtimeMs) : t;
  }, 0);
}

/**
 * Notebooks import the compiled library (`../dist/src`, with `../dist/tools` and `../dist/apps`): tslab compiles each cell
 * with its own TypeScript and cannot import .ts files outside the notebook folder. Rebuilt only
 * when a source is newer than the last build, so parallel runs do not rewrite dist/ under each
 * other; type errors are printed by `npm run typecheck`, emitting goes on regardless.
 */
export function buildLibrary(): void {
  const stamp = path.join(PROJECT_ROOT, 'dist', '.built');
  const newest = Math.max(...COMPILED.map((d) => newestSource(path.join(PROJECT_ROOT, d))));
  if (fs.existsSync(stamp) && fs.statSync(stamp).mtimeMs >= newest) return;
  const tsc = path.join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const started = Date.now();
  for (const d of COMPILED) removeStaleOutputs(path.join(PROJECT_ROOT, 'dist', d), path.join(PROJECT_ROOT, d));
  spawnSync(process.execPath, [tsc, '-p', path.join(PROJECT_ROOT, 'tsconfig.build.json')], { stdio: 'ignore' });
  if (!fs.existsSync(path.join(PROJECT_ROOT, 'dist', 'src', 'index.js'))) {
    throw new Error(`Building the library failed: run 'npm run build' in ${PROJECT_ROOT} to see why.`);
  }
  fs.writeFileSync(stamp, '');
  fs.utimesSync(stamp, new Date(started), new Date(started));
}

/**
 * Deletes compiled files whose source is gone: tsc never does, and a module that moved (say
 * src/backend.ts -> src/backend/index.ts) would otherwise be shadowed by its old dist/backend.js.
 */
function removeStaleOutputs(dist: string, src: string): void {
  if (!fs.existsSync(dist)) return;
  for (const e of fs.readdirSync(dist, { withFileTypes: true })) {
    const p = path.join(dist, e.name);
    if (e.isDirectory()) {
      removeStaleOutputs(p, path.join(src, e.name));
      continue;
    }
    const stem = e.name.match(/^(.*?)(\.d\.ts|\.js)(\.map)?$/)?.[1];
    if (stem && !fs.existsSync(path.join(src, `${stem}.ts`))) fs.rmSync(p);
  }
}

export async function runNotebook(notebook: string, opts: RunOptions = {}): Promise<RunResult> {
  buildLibrary();
  const outDir = path.resolve(opts.outDir ?? path.join(PROJECT_ROOT, 'out'));
  fs.mkdirSync(outDir, { recursive: true });
  const name = path.basename(notebook, '.ipynb');
  const started = Date.now();
  const args = [path.join(PROJECT_ROOT, 'tools', 'notebook', 'execute.py'), path.resolve(notebook), outDir, KERNEL_NAME,
    String(opts.cellTimeout ?? 1800), String(opts.twice ? 2 : 1)];
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(JUPYTER_PYTHON, args, { env: jupyterEnv(opts.env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const last = stdout.trim().split('\n').pop() ?? '';
  let result: any;
  try {
    result = JSON.parse(last);
  } catch {
    throw new Error(`${name}: the notebook runner failed (exit ${code}). Is Jupyter installed ` +
      `(apt-get install jupyter-nbconvert jupyter-client python3-ipykernel)?\n${stderr.slice(-3000)}`);
  }
  if (!result.ok) throw new NotebookError(notebook, result.cell, result.source, result.error, result.traceback);
  return {
    notebook, seconds: (Date.now() - started) / 1000, runs: result.cells, cellSeconds: result.seconds,
    ipynb: path.join(outDir, `${name}.ipynb`), html: path.join(outDir, `${name}.html`),
  };
}
