/**
 * The tfjs `webgpu` backend in Node, through Dawn's Node bindings (npm `webgpu`).
 *
 * tfjs-backend-webgpu registers itself only where `navigator.gpu` exists when it is imported, so
 * Dawn's `gpu` object is put there first (Node has no WebGPU of its own). An adapter is only
 * taken when it is a real GPU, unless `allowFallback` (WHISPER_BACKEND=webgpu): a fallback adapter
 * is a software rasterizer (SwiftShader's Vulkan driver, `VK_ICD_FILENAMES=
 * /usr/lib/chromium/vk_swiftshader_icd.json`), right but far too slow for real work: for tests.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

/** What `startWebGpu` found: the adapter in words, or why there is none to use. */
export type WebGpuStart = { ok: true; adapter: string } | { ok: false; reason: string };

interface Adapter {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

interface Gpu {
  requestAdapter(options?: object): Promise<Adapter | null>;
}

// `webgpu` is an ES module: a real import(), which TypeScript's CommonJS output would turn into require().
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<any>;

/** "NVIDIA / ampere / NVIDIA A100" and whether it is a software (fallback) adapter. */
export function describeAdapter(adapter: Adapter): { text: string; fallback: boolean } {
  const info = adapter.info ?? {};
  const fallback = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter);
  const text = [info.vendor, info.architecture, info.description || info.device].filter((s) => s).join(' / ') || 'unnamed adapter';
  return { text: `${text}${fallback ? ' (fallback adapter: software, for tests)' : ''}`, fallback };
}

/** Makes `gpu` the global `navigator.gpu` (Node 21+ has a navigator of its own; Node 20 none). */
function setNavigatorGpu(gpu: Gpu | undefined): void {
  const nav = (globalThis as { navigator?: object }).navigator ?? {};
  Object.defineProperty(globalThis, 'navigator', { value: { ...nav, gpu }, configurable: true, writable: true });
}

/**
 * On Linux Dawn reaches GPUs through Vulkan drivers, which announce themselves by a JSON file in
 * an icd.d folder (or VK_ICD_FILENAMES): without one there is nothing to find, and asking Dawn
 * anyway prints Vulkan warnings. Elsewhere (Metal, D3D12) Dawn is asked.
 */
function vulkanDriverMissing(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  const env = process.env;
  if (env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES || env.VK_ADD_DRIVER_FILES) return undefined;
  const data = (env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':');
  const dirs = ['/etc', ...data, path.join(os.homedir(), '.local/share')].map((d) => path.join(d, 'vulkan', 'icd.d'));
  const found = dirs.some((d) => fs.existsSync(d) && fs.readdirSync(d).some((f) => f.endsWith('.json')));
  return found ? undefined : `no Vulkan driver (no ICD file in ${dirs.join(', ')}; a GPU driver with Vulkan support installs one)`;
}

/** Starts tfjs's webgpu backend on Dawn's adapter; never throws. */
export async function startWebGpu(allowFallback: boolean): Promise<WebGpuStart> {
  const missing = vulkanDriverMissing();
  if (missing) return { ok: false, reason: missing };
  let gpu: Gpu;
  try {
    const dawn = await importModule('webgpu');
    Object.assign(globalThis, dawn.globals);
    gpu = dawn.create([]);
  } catch (e) {
    return { ok: false, reason: `npm webgpu (Dawn) did not load: ${(e as Error).message.split('\n')[0]}` };
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!adapter) {
    return { ok: false, reason: 'no WebGPU adapter (Dawn found no Vulkan GPU: needs a GPU driver and libvulkan1)' };
  }
  const { text, fallback } = describeAdapter(adapter);
  if (fallback && !allowFallback) {
    return { ok: false, reason: `only a software adapter (${text}); WHISPER_BACKEND=webgpu uses it anyway` };
  }
  setNavigatorGpu(gpu);
  // Dawn keeps Node alive while `navigator.gpu` is reachable.
  process.once('beforeExit', () => setNavigatorGpu(undefined));
  try {
    require('@tensorflow/tfjs-backend-webgpu');
    // Otherwise tensors under 1000 values run on the CPU, and their inputs come back from the GPU.
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    if (!(await tf.setBackend('webgpu'))) return { ok: false, reason: "tf.setBackend('webgpu') returned false" };
  } catch (e) {
    return { ok: false, reason: `tfjs-backend-webgpu: ${(e as Error).message.split('\n')[0]}` };
  }
  fixWebGpuBackend();
  failOnDeviceErrors((tf.backend() as unknown as { device: GpuDevice }).device);
  explainSyncReads(tf.backend() as unknown as { readSync(dataId: object): unknown });
  return { ok: true, adapter: text };
}

/** What the webgpu backend needs once it is active, in Node and in web pages (addNInChunks). */
export function fixWebGpuBackend(): void {
  const device = (tf.backend() as unknown as { device: GpuDevice }).device;
  addNInChunks(device.limits.maxStorageBuffersPerShaderStage - 1);
}

/**
 * tfjs-webgpu reads a tensor synchronously (dataSync, arraySync) through a browser's
 * OffscreenCanvas, which Node lacks; its error would say only "OffscreenCanvas is not defined".
 */
function explainSyncReads(backend: { readSync(dataId: object): unknown }): void {
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (dataId) => {
    try {
      return readSync(dataId);
    } catch (e) {
      if (!(e instanceof ReferenceError)) throw e;
      throw new Error('webgpu in Node reads tensors only asynchronously: use await tensor.data(), or await ' +
        'prefetch([...tensors]) (src/backend) before code that calls dataSync()');
    }
  };
}

interface GpuDevice {
  limits: { maxStorageBuffersPerShaderStage: number };
  addEventListener(type: 'uncapturederror', listener: (e: { error: { message: string } }) => void): void;
}

/**
 * A GPU validation error never reaches the JavaScript that caused it: the read it waits for
 * never finishes, and Node, with nothing left to do, would exit with status 0. So the first one
 * is printed and the process ends with status 1.
 */
function failOnDeviceErrors(device: GpuDevice): void {
  device.addEventListener('uncapturederror', (e) => {
    if (process.exitCode) return;
    console.error(`WebGPU error: ${e.error.message}`);
    process.exitCode = 1;
  });
}

/**
 * tfjs-webgpu's AddN binds every input as a storage buffer, and a shader may bind only
 * maxStorageBuffersPerShaderStage of them (8 by default): summing more (e.g. the squared norms
 * of 64 LoRA gradients) fails. Here larger sums go in chunks of at most `max` inputs.
 */
function addNInChunks(max: number): void {
  const addN = tf.getKernel('AddN', 'webgpu')!.kernelFunc;
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({ kernelName: 'AddN', backendName: 'webgpu', kernelFunc: (args) => {
    let parts = args.inputs as unknown as tf.TensorInfo[];
    const partial: tf.TensorInfo[] = [];
    while (parts.length > max) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < parts.length; i += max) {
        const chunk = parts.slice(i, i + max);
        next.push(chunk.length === 1 ? chunk[0] : addN({ ...args, inputs: chunk as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo);
      }
      partial.push(...next.filter((t) => !parts.includes(t)));
      parts = next;
    }
    const sum = addN({ ...args, inputs: parts as unknown as tf.NamedTensorInfoMap });
    for (const t of partial) (args.backend as tf.KernelBackend).disposeData(t.dataId);
    return sum;
  } });
}
