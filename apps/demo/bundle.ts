/**
 * The library as one script for the demo page's "run in this browser" mode (entry: browser.ts,
 * global `WhisperInPage`), bundled by esbuild when the page first asks for it.
 *
 * Node-only modules are replaced by stubs that throw when used: the loading and transcription
 * path reads files through io/files.ts (fetch) and never reaches them, and a test runs it in
 * Chromium, so any regression shows as "<module>.<name>: not available in a web page".
 */
import * as path from 'path';
import { PROJECT_ROOT } from '../../tools/shared';

/** Imported (for writing files, threads, native TensorFlow) but never called in the page. */
const NODE_ONLY = ['fs', 'path', 'os', 'crypto', 'zlib', 'url', 'child_process', 'worker_threads', 'http', 'https', 'net', 'stream',
  'module', 'util', 'readline', 'events', 'wabt', 'webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@huggingface/hub',
  'audio-decode', '@alexanderolsen/libsamplerate-js', 'danfojs-node', 'csv-parse', 'tslab'];

const stub = (name: string) => `module.exports = new Proxy({}, { get(_, key) {
  if (key === '__esModule' || key === 'default' || typeof key === 'symbol') return undefined;
  return () => { throw new Error(${JSON.stringify(name)} + '.' + String(key) + ': not available in a web page'); };
} });`;

let built: Promise<string> | undefined;

/** The bundle's JavaScript (built once per process). */
export function browserBundle(): Promise<string> {
  built ??= build().catch((e) => {
    built = undefined;
    throw e;
  });
  return built;
}

async function build(): Promise<string> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = require('esbuild');
  } catch {
    throw new Error('the in-browser mode needs esbuild (a devDependency): npm install');
  }
  const pattern = new RegExp(`^(node:)?(${NODE_ONLY.map((n) => n.replace(/[/.-]/g, '\\$&')).join('|')})(/.*)?$`);
  const result = await esbuild.build({
    entryPoints: [path.join(PROJECT_ROOT, 'apps', 'demo', 'browser.ts')],
    bundle: true, write: false, format: 'iife', globalName: 'WhisperInPage', platform: 'browser', target: 'es2020',
    minify: true, legalComments: 'none', logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
    plugins: [{
      name: 'node-only',
      setup(b) {
        b.onResolve({ filter: pattern }, (a) => ({ path: a.path, namespace: 'node-only' }));
        b.onLoad({ filter: /.*/, namespace: 'node-only' }, (a) => ({ contents: stub(a.path), loader: 'js' }));
      },
    }],
  });
  return result.outputFiles[0].text;
}
