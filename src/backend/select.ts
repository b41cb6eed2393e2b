/**
 * Picks the fastest TensorFlow.js backend that really works on this machine.
 *
 * Order: `tensorflow` (tfjs-node-gpu, then tfjs-node: native libtensorflow, only if the package
 * loads AND registers the backend) -> `webgpu` (Dawn, on a real GPU adapter) -> `wasm` (SIMD,
 * threaded; its matrix products on the oneDNN addon where it is built and loads, native.ts) -> `cpu` (pure JS).
 * `WHISPER_BACKEND=tensorflow|webgpu|native|wasm|cpu` forces one: `native` is wasm with the addon's
 * products, `wasm` is wasm with its own kernels only (the path of a machine without the addon, for
 * tests and benchmarks). If the forced choice cannot start, we throw with the reason instead of
 * silently running far slower on another one (a forced `webgpu` also takes a software adapter, for tests).
 */
import * as tf from '@tensorflow/tfjs';
import { getMatmulPrecision, nativeAddonMissing, startNative } from './native';
import { registerWasmOps } from './wasm/ops';
import { setThreadedWasmBackend, wantedWasmThreads } from './wasm/threads';
import { startWebGpu } from './webgpu';

export type BackendName = 'tensorflow' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';
/** What WHISPER_BACKEND names: a backend, or `native` (the wasm backend with the addon's products). */
export type BackendChoice = Exclude<BackendName, 'webgl'> | 'native';

export interface BackendReport {
  active: BackendName;
  forced: boolean;
  /** What forced it: "WHISPER_BACKEND=native", or a web page's "the page" (?backend=). */
  forcedBy?: string;
  /** Why each faster backend was skipped, e.g. {tensorflow: "@tensorflow/tfjs-node-gpu: not installed"}. */
  skipped: Partial<Record<BackendName, string>>;
  /** wasm only: threads of its XNNPACK pool (WHISPER_WASM_THREADS), and why threads failed if they did. */
  threads?: number;
  threadsError?: string;
  /** webgpu only: the adapter, e.g. "nvidia / hopper / NVIDIA H200". */
  adapter?: string;
  /**
   * wasm only: whether its products run on the oneDNN addon (native.ts), e.g. "native oneDNN
   * 2.6.3 sgemm (2 threads)", or why not, e.g. "native off: addon not built (...)".
   */
  native?: string;
}

let report: BackendReport | undefined;
let wasmThreads: number | undefined;
let wasmThreadsError: string | undefined;
let webgpuAdapter: string | undefined;
let pending: Promise<BackendReport> | undefined;

const ORDER: BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];
/** The choices in the automatic order, as WHISPER_BACKEND names them (native: wasm with the addon, before wasm without it). */
const CHOICES: BackendChoice[] = ['tensorflow', 'webgpu', 'native', 'wasm', 'cpu'];

function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0];
}

/** Tries to register a backend; returns undefined on success or the reason it failed. */
async function tryBackend(name: BackendName, forced: boolean): Promise<string | undefined> {
  if (name === 'tensorflow') {
    const reasons: string[] = [];
    for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      try {
        require(pkg);
      } catch (e) {
        reasons.push(`${pkg}: ${errorText(e)}`);
        continue;
      }
      // danfojs-node's install override maps tfjs-node to plain tfjs, which loads but adds no backend.
      if (tf.findBackendFactory('tensorflow') === null) {
        reasons.push(`${pkg}: loaded but registered no 'tensorflow' backend (not the native build)`);
        continue;
      }
      if (await tf.setBackend('tensorflow')) return undefined;
      reasons.push(`${pkg}: backend failed to initialise`);
    }
    return reasons.join('; ');
  }
  if (name === 'webgpu') {
    const started = await startWebGpu(forced);
    if (!started.ok) return started.reason;
    webgpuAdapter = started.adapter;
    return undefined;
  }
  if (name === 'wasm') {
    try {
      require('@tensorflow/tfjs-backend-wasm');
    } catch (e) {
      return `@tensorflow/tfjs-backend-wasm: ${errorText(e)}`;
    }
    const threads = wantedWasmThreads();
    if (threads > 1) {
      try {
        wasmThreads = await setThreadedWasmBackend(threads);
        return undefined;
      } catch (e) {
        wasmThreadsError = errorText(e);
        tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      }
    }
    wasmThreads = 1;
  }
  try {
    if (await tf.setBackend(name)) return undefined;
    return `tf.setBackend('${name}') returned false`;
  } catch (e) {
    return errorText(e);
  }
}

function forcedBackend(): BackendChoice | undefined {
  // The opt-in switch of the native path's first step: refused rather than ignored, since
  // WHISPER_NATIVE=0 meant wasm's own kernels, which now need WHISPER_BACKEND=wasm.
  if (process.env.WHISPER_NATIVE !== undefined) {
    throw new Error(`WHISPER_NATIVE is no longer read: the native products run by default where the addon is built; ` +
      `WHISPER_BACKEND=native requires them, WHISPER_BACKEND=wasm runs wasm's own kernels. Unset WHISPER_NATIVE.`);
  }
  const v = process.env.WHISPER_BACKEND?.trim().toLowerCase();
  if (!v) return undefined;
  if (!CHOICES.includes(v as BackendChoice)) {
    throw new Error(`WHISPER_BACKEND=${v} is not a backend; use one of ${CHOICES.join(', ')}`);
  }
  return v as BackendChoice;
}

async function select(): Promise<BackendReport> {
  // tfjs prints a "use tfjs-node for speed" hint on import; we report backends ourselves.
  // PROD (not IS_TEST) silences it: IS_TEST also turns on per-kernel leak checks that wrongly fail
  // gradients of fused matMul (customGrad) on wasm, i.e. every training step.
  tf.env().set('PROD', true);
  const forced = forcedBackend();
  const skipped: BackendReport['skipped'] = {};
  if (forced) {
    const backend = forced === 'native' ? 'wasm' : forced;
    const why = await tryBackend(backend, true);
    if (why !== undefined) throw cannotStart(forced, why);
    await tf.ready();
    return await selected({ active: backend, forced: true, forcedBy: `WHISPER_BACKEND=${forced}`, skipped }, forced);
  }
  for (const name of ORDER) {
    const why = await tryBackend(name, false);
    if (why === undefined) {
      await tf.ready();
      return await selected({ active: name, forced: false, skipped });
    }
    skipped[name] = why;
  }
  throw new Error(`No TensorFlow.js backend could start: ${JSON.stringify(skipped)}`);
}

function cannotStart(forced: BackendChoice, why: string): Error {
  return new Error(`WHISPER_BACKEND=${forced} was requested but cannot start: ${why}. ` +
    `Unset WHISPER_BACKEND to fall back automatically (order: ${CHOICES.join(' -> ')}).`);
}

/**
 * The native products under wasm (native.ts): on by default where the addon loads (its reason in
 * the report where not), required by WHISPER_BACKEND=native (failing with the reason, as any
 * forced backend), left off by WHISPER_BACKEND=wasm; returns the line for the report.
 */
function nativePath(threads: number, forced?: BackendChoice): string {
  if (forced === 'wasm') {
    return `native off: WHISPER_BACKEND=wasm runs wasm's own kernels; ${nativeAddonMissing() ?? 'the addon is built: unset WHISPER_BACKEND (or =native) to use it'}`;
  }
  try {
    return startNative(threads);
  } catch (e) {
    if (forced === 'native') throw cannotStart(forced, `the native products cannot start: ${errorText(e)}`);
    return `native off: ${errorText(e)}`;
  }
}

/** Finishes a selection: the adapter of webgpu; on wasm, its kernels and ops (wasm/ops.ts), the thread count and the native products. */
async function selected(r: BackendReport, forced?: BackendChoice): Promise<BackendReport> {
  if (r.active === 'webgpu') return { ...r, adapter: webgpuAdapter };
  if (r.active !== 'wasm') return r;
  await registerWasmOps();
  const native = nativePath(wasmThreads ?? 1, forced);
  return { ...r, threads: wasmThreads, ...(wasmThreadsError ? { threadsError: wasmThreadsError } : {}), native };
}

/** Selects the backend once per process (safe to call from every notebook cell). */
export async function initBackend(): Promise<BackendReport> {
  if (report) return report;
  pending ??= select().then((r) => (report = r)).finally(() => (pending = undefined));
  return pending;
}

/** One line for humans: "backend: wasm (skipped tensorflow: ...)". */
export function describeBackend(r: BackendReport): string {
  const skipped = Object.entries(r.skipped).map(([k, v]) => `${k}: ${v}`);
  // The native products on the first line when they run (the line benches and notebooks print), why not on a line of their own.
  const native = r.native && !r.native.startsWith('native off')
    ? `; products: ${r.native}${getMatmulPrecision() === 'bfloat16' ? ', bf16' : ''}` : '';
  const threads = r.threads ? ` (${r.threads} thread${r.threads > 1 ? 's' : ''}${r.threadsError ? `; threads failed: ${r.threadsError}` : ''}${native})` : '';
  const adapter = r.adapter ? ` on ${r.adapter}` : '';
  return `backend: ${r.active}${threads}${adapter}${r.forced ? ` (forced by ${r.forcedBy ?? 'WHISPER_BACKEND'})` : ''}` +
    (r.native?.startsWith('native off') ? `\n  ${r.native}` : '') + (skipped.length ? `\n  skipped ${skipped.join('\n  skipped ')}` : '');
}

