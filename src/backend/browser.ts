/**
 * Backend choice in a web page: webgpu (a real GPU adapter) -> webgl (a GPU, not a software
 * renderer) -> wasm (tfjs's single-threaded SIMD build; no cross-origin isolation, no threads)
 * -> cpu. `backend` forces one, software adapters and renderers included (headless tests).
 * Every backend here runs the plain ops of ops.ts.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { BackendReport } from './select';
import { describeAdapter, fixWebGpuBackend } from './webgpu';

export type BrowserBackend = 'webgpu' | 'webgl' | 'wasm' | 'cpu';
const ORDER: BrowserBackend[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

/** The WebGL renderer's name (e.g. "ANGLE (..., SwiftShader driver)"), or undefined without WebGL 2. */
function webglRenderer(): string | undefined {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return undefined;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}

/** Undefined when `name` can run here (and `forced` allows what it found), else why not. */
async function check(name: BrowserBackend, forced: boolean): Promise<{ why?: string; adapter?: string }> {
  if (name === 'webgpu') {
    const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<Parameters<typeof describeAdapter>[0] | null> } }).gpu;
    const adapter = gpu && await gpu.requestAdapter().catch(() => null);
    if (!adapter) return { why: gpu ? 'no WebGPU adapter' : 'this browser has no WebGPU (navigator.gpu)' };
    const { text, fallback } = describeAdapter(adapter);
    return fallback && !forced ? { why: `only a software adapter (${text})` } : { adapter: text };
  }
  if (name === 'webgl') {
    const renderer = webglRenderer();
    if (!renderer) return { why: 'no WebGL 2' };
    return /swiftshader|llvmpipe|software/i.test(renderer) && !forced ? { why: `software renderer (${renderer})` } : { adapter: renderer };
  }
  return {};
}

/** Selects the backend of this page; `wasmPaths` is the URL folder of tfjs-backend-wasm's .wasm files. */
export async function initBrowserBackend(opts: { backend?: BrowserBackend; wasmPaths: string }): Promise<BackendReport> {
  setWasmPaths(opts.wasmPaths);
  const skipped: BackendReport['skipped'] = {};
  for (const name of opts.backend ? [opts.backend] : ORDER) {
    const { why, adapter } = await check(name, Boolean(opts.backend));
    const started = why === undefined && await tf.setBackend(name).catch(() => false);
    if (started) {
      await tf.ready();
      if (name === 'webgpu') {
        tf.env().set('WEBGPU_CPU_FORWARD', false);
        fixWebGpuBackend();
      }
      // The oneDNN addon (native.ts) is a Node addon: a page's wasm runs its own kernels.
      const native = name === 'wasm' ? { native: 'native off: in a web page (the oneDNN addon runs under Node only)' } : {};
      return { active: name, forced: Boolean(opts.backend), forcedBy: 'the page', skipped, ...(adapter ? { adapter } : {}), ...native };
    }
    skipped[name] = why ?? `tf.setBackend('${name}') failed`;
  }
  throw new Error(`No TensorFlow.js backend could start in this page: ${JSON.stringify(skipped)}`);
}
