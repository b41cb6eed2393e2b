/**
 * Picks the fastest TensorFlow.js backend that really works on this machine.
 *
 * Order: `tensorflow` (tfjs-node-gpu, then tfjs-node: native libtensorflow, only if the package
 * loads AND registers the backend) -> `webgpu` (Dawn, on a real GPU adapter) -> `wasm` (SIMD,
 * threaded) -> `cpu` (pure JS).
 * `WHISPER_BACKEND=tensorflow|webgpu|wasm|cpu` forces one: if the forced backend cannot start, we
 * throw with the reason instead of silently running far slower on another one (a forced `webgpu`
 * also takes a software adapter, for tests).
 */
import * as tf from '@tensorflow/tfjs';
import { nativeAddonMissing, nativeWanted, startNative } from './native';
import { registerWasmOps } from './wasm/ops';
import { setThreadedWasmBackend, wantedWasmThreads } from './wasm/threads';
import { startWebGpu } from './webgpu';

export type BackendName = 'tensorflow' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';

export interface BackendReport {
  active: BackendName;
  forced: boolean;
  /** What forced it, when not WHISPER_BACKEND (a web page's ?backend=). */
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
   * 2.6.3 sgemm (2 threads)", or why not, e.g. "native off: WHISPER_NATIVE unset (the addon is built)".
   */
  native?: string;
}

let report: BackendReport | undefined;
let wasmThreads: number | undefined;
let wasmThreadsError: string | undefined;
let webgpuAdapter: string | undefined;
let pending: Promise<BackendReport> | undefined;

const ORDER: BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

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

function forcedBackend(): BackendName | undefined {
  const v = process.env.WHISPER_BACKEND?.trim().toLowerCase();
  if (!v) return undefined;
  if (!ORDER.includes(v as BackendName)) {
    throw new Error(`WHISPER_BACKEND=${v} is not a backend; use one of ${ORDER.join(', ')}`);
  }
  return v as BackendName;
}

async function select(): Promise<BackendReport> {
  // tfjs prints a "use tfjs-node for speed" hint on import; we report backends ourselves.
  // PROD (not IS_TEST) silences it: IS_TEST also turns on per-kernel leak checks that wrongly fail
  // gradients of fused matMul (customGrad) on wasm, i.e. every training step.
  tf.env().set('PROD', true);
  const forced = forcedBackend();
  const skipped: BackendReport['skipped'] = {};
  if (forced) {
    const why = await tryBackend(forced, true);
    if (why !== undefined) {
      throw new Error(`WHISPER_BACKEND=${forced} was requested but cannot start: ${why}. ` +
        `Unset WHISPER_BACKEND to fall back automatically (order: ${ORDER.join(' -> ')}).`);
    }
    await tf.ready();
    return await selected({ active: forced, forced: true, skipped });
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

/**
 * The native products under wasm (native.ts): on with WHISPER_NATIVE=1 (failing with the reason
 * when the addon cannot load, as a forced backend does), off otherwise; returns the line for the report.
 */
function nativePath(threads: number): string {
  const wanted = nativeWanted();
  if (wanted) {
    try {
      return startNative(threads);
    } catch (e) {
      throw new Error(`WHISPER_NATIVE=1 was requested but the native products cannot start: ${errorText(e)}. Unset WHISPER_NATIVE to run wasm's own kernels.`);
    }
  }
  const error = nativeAddonMissing();
  const why = wanted === false ? 'WHISPER_NATIVE=0' : 'WHISPER_NATIVE unset (opt-in while it is proven)';
  return `native off: ${why}; ${error ?? 'the addon is built: WHISPER_NATIVE=1 uses it'}`;
}

/** Finishes a selection: the adapter of webgpu; on wasm, its kernels and ops (wasm/ops.ts), the thread count and the native products. */
async function selected(r: BackendReport): Promise<BackendReport> {
  // WHISPER_NATIVE=1 on another backend: said, not an error (the products are that backend's own).
  const elsewhere = nativeWanted() ? { native: `native off: the native products run under the wasm backend only, not ${r.active}` } : {};
  if (r.active === 'webgpu') return { ...r, adapter: webgpuAdapter, ...elsewhere };
  if (r.active !== 'wasm') return { ...r, ...elsewhere };
  await registerWasmOps();
  const native = nativePath(wasmThreads ?? 1);
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
  const native = r.native && !r.native.startsWith('native off') ? `; products: ${r.native}` : '';
  const threads = r.threads ? ` (${r.threads} thread${r.threads > 1 ? 's' : ''}${r.threadsError ? `; threads failed: ${r.threadsError}` : ''}${native})` : '';
  const adapter = r.adapter ? ` on ${r.adapter}` : '';
  return `backend: ${r.active}${threads}${adapter}${r.forced ? ` (forced by ${r.forcedBy ?? 'WHISPER_BACKEND'})` : ''}` +
    (r.native?.startsWith('native off') ? `\n  ${r.native}` : '') + (skipped.length ? `\n  skipped ${skipped.join('\n  skipped ')}` : '');
}

