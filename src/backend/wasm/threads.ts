/**
 * Multi-threaded tfjs-backend-wasm under Node.
 *
 * tfjs ships a threaded SIMD build (XNNPACK on a pthreads pool) but switches it off in Node
 * (tensorflow/tfjs#3830). Two things stand in the way, and both are fixed only while the backend
 * starts:
 *  1. Emscripten's pthread workers are started from a `blob:` URL, which Node's Worker rejects.
 *     We write the (Node-aware) worker script to a file and load the module script from its path.
 *  2. The C side uses half the logical cores (it assumes hyper-threading) and never more: on a
 *     2-core machine that is 1 thread. We report twice the cores while it reads them.
 * The pool's workers are unref'd so that they never keep a finished process alive.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

const WORKER_LOAD = 'var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)';

/** Threads wanted: WHISPER_WASM_THREADS, else every logical core (at most 8, tfjs's pool size). */
export function wantedWasmThreads(): number {
  const env = process.env.WHISPER_WASM_THREADS?.trim();
  if (env) {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`WHISPER_WASM_THREADS=${env} must be a positive integer`);
    return Math.min(n, 8);
  }
  return Math.min(os.cpus().length, 8);
}

/** Writes the patched pthread worker script once per tfjs version; returns its path. */
function workerScript(): string {
  const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js'));
  const moduleScript = path.join(dir, 'tfjs-backend-wasm-threaded-simd.js');
  const { wasmWorkerContents } = require(path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js'));
  if (typeof wasmWorkerContents !== 'string' || !wasmWorkerContents.includes(WORKER_LOAD)) {
    throw new Error('the tfjs-backend-wasm worker script has an unknown layout');
  }
  // The exported text is a template literal: its "\n" escapes became newlines; put them back.
  const text = wasmWorkerContents.replace(/\n/g, '\\n').replace(WORKER_LOAD, `importScripts(${JSON.stringify(moduleScript)})`);
  const version = require('@tensorflow/tfjs-backend-wasm/package.json').version;
  const file = path.join(os.tmpdir(), `whisper-tfjs-wasm-${version}-${process.getuid?.() ?? 0}.worker.cjs`);
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  }
  return file;
}

/**
 * Starts the wasm backend with `threads` threads. Returns the thread count in use; throws if the
 * threaded build cannot start (the caller then falls back to the single-threaded build).
 */
export async function setThreadedWasmBackend(threads: number): Promise<number> {
  const wasm = require('@tensorflow/tfjs-backend-wasm');
  const file = workerScript();
  // The module object itself (the `import * as os` namespace is read-only).
  const osModule: { cpus: () => os.CpuInfo[] } = require('os');
  const createObjectURL = URL.createObjectURL;
  const cpus = osModule.cpus;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  try {
    URL.createObjectURL = () => file;
    osModule.cpus = () => {
      const c = cpus();
      return Array.from({ length: 2 * threads }, (_, i) => c[i % c.length]);
    };
    if (!(await tf.setBackend('wasm'))) throw new Error("tf.setBackend('wasm') returned false");
  } finally {
    URL.createObjectURL = createObjectURL;
    osModule.cpus = cpus;
  }
  const pool = (tf.backend() as unknown as { wasm: { PThread?: { runningWorkers: Unref[]; unusedWorkers: Unref[] } } }).wasm.PThread;
  for (const w of [...(pool?.runningWorkers ?? []), ...(pool?.unusedWorkers ?? [])]) w.unref();
  return wasm.getThreadsCount();
}

interface Unref { unref(): void }
