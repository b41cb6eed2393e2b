/**
 * The live demo (the Gradio microphone app of the Python tutorials, without Python): a plain Node
 * http server on 127.0.0.1 serving one page (page.html) and one endpoint.
 *
 *   GET  /                 the page: record from the microphone or upload a file
 *   GET  /api/info         {model, adapter, maxBytes, maxSeconds, queue, browser}: the page hides the model choice without adapter
 *   GET  /browser/whisper.js, /browser/wasm/*.wasm, /model/*, /adapter/*   the "run in this browser" mode: the
 *                          library bundled for the page (bundle.ts), tfjs's wasm binaries, and the checkpoint's and
 *                          adapter's files (only the names a checkpoint or PEFT adapter has)
 *   POST /api/transcribe?variant=base|adapter   body = the audio file bytes (or multipart/form-data with one file)
 *        200 {text, segments, seconds, audioSeconds, variant}
 *        400 {error} undecodable / non-audio / empty;  413 {error} too large or too long;
 *        503 {error} + Retry-After: the queue is full;  500 {error}
 *
 * The model lives in a worker thread (worker.ts) that decodes and transcribes one upload at a time;
 * this thread only routes requests, so the page and /api/info answer while a long file is being
 * transcribed. At most `maxQueue` uploads wait behind the running one; more are refused (503).
 * Every request gets an answer (unparsable ones too); the limits are in the README's SECURITY section.
 *
 *   npm run demo -- [--port 7860] [--host 127.0.0.1] [--model DIR] [--adapter DIR] [--language en]
 *                   [--max-seconds 600] [--max-queue 4]
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { readShardIndex } from '../../src/model/safetensors';
import { isPlainRelativePath } from '../../src/model/paths';
import { PROJECT_ROOT } from '../../tools/shared';
import { browserBundle } from './bundle';
import { JobQueue, QueueFullError } from './queue';
import { DemoTranscriber, FileJob, JobError, JobResult, transcribeFile, Variant } from './transcriber';
import { TranscriptionWorker } from './worker';
import { CHECKPOINT_FILES, WEIGHTS_INDEX_NAME } from '../../src/model/files';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME } from '../../src/lora/peft';
import { intFlag, parseFlags } from '../args';

export const DEFAULT_MAX_BYTES = 25 * 1024 * 1024;
const WASM_DIR = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.wasm'));
export const DEFAULT_MAX_SECONDS = 600;
export const DEFAULT_MAX_QUEUE = 4;

export interface DemoOptions {
  /** Model folder or Hub id (default: the shared whisper-tiny). Ignored when `transcriber` is given. */
  model?: string;
  /** LoRA adapter folder; offers "base + adapter" on the page. */
  adapter?: string;
  /** 0 (default) = a free port. */
  port?: number;
  /** Default 127.0.0.1: the demo is for this machine; pass '0.0.0.0' knowingly. */
  host?: string;
  /** Largest accepted upload in bytes (default 25 MB, like OpenAI's API). */
  maxBytes?: number;
  /** Longest accepted audio in seconds (default 600). */
  maxSeconds?: number;
  /** Uploads that may wait behind the running one (default 4); more are answered 503 + Retry-After. */
  maxQueue?: number;
  language?: string;
  /**
   * Ready-made transcriber (tests, notebooks that already loaded a model). It runs on this thread,
   * so requests wait while it works; without it the demo loads `model` in a worker thread.
   */
  transcriber?: DemoTranscriber;
}

export interface DemoHandle {
  url: string;
  port: number;
  modelName: string;
  adapterName?: string;
  close(): Promise<void>;
}

/** Where uploads are transcribed: the worker thread, or a transcriber on this thread. */
interface Backend {
  modelName: string;
  adapterName?: string;
  folders?: DemoTranscriber['folders'];
  run(job: FileJob): Promise<JobResult>;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(public status: number, message: string, public headers: Record<string, string> = {}) {
    super(message);
  }
}

/** Sent with every answer: no content sniffing, no framing by other sites, no referrer leaks. */
const SAFE_HEADERS = { 'X-Content-Type-Options': 'nosniff', 'X-Frame-Options': 'DENY', 'Referrer-Policy': 'no-referrer' };

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { ...SAFE_HEADERS, ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

function tooLarge(maxBytes: number, got?: number): HttpError {
  const mb = (n: number) => (n / 1048576).toFixed(1);
  return new HttpError(413, `The upload is too large${got ? ` (${mb(got)} MB)` : ''}: the limit is ${mb(maxBytes)} MB. ` +
    'Send a shorter recording or a compressed file (mp3, ogg, flac).', { Connection: 'close' });
}

/** Reads the body, refusing (413) as soon as it exceeds maxBytes. */
function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(tooLarge(maxBytes, declared));
  return new Promise((resolve, reject) => {
    let parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      const wasOver = size > maxBytes;
      size += c.length;
      if (size <= maxBytes) {
        parts.push(c);
      } else if (!wasOver) {
        // Without a Content-Length we only learn it here. Not destroying the socket, so the 413
        // still reaches the client; the rest is discarded ('Connection: close' ends the upload).
        parts = [];
        reject(tooLarge(maxBytes));
      }
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/** The name the page sends in X-File-Name (URI-encoded), for messages only. */
function fileName(req: http.IncomingMessage): string {
  const raw = req.headers['x-file-name'];
  try {
    return raw ? decodeURIComponent(String(raw)).slice(0, 200) : 'upload';
  } catch {
    return 'upload';
  }
}

/**
 * The uploaded file: the body itself, or the first part with a filename of a multipart/form-data
 * body (`curl -F file=@clip.wav`).
 */
function uploadedFile(req: http.IncomingMessage, body: Buffer): { bytes: Buffer; name: string } {
  const m = /^multipart\/form-data\s*;.*\bboundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))\s*(;|$)/i.exec(req.headers['content-type'] ?? '');
  if (!m) return { bytes: body, name: fileName(req) };
  const delimiter = Buffer.from(`\r\n--${m[1] ?? m[2]}`);
  // Prepending CRLF lets the first delimiter match like the others.
  const all = Buffer.concat([Buffer.from('\r\n'), body]);
  for (let at = all.indexOf(delimiter); at >= 0;) {
    const next = all.indexOf(delimiter, at + delimiter.length);
    if (next < 0) break;
    const part = all.subarray(at + delimiter.length + 2, next); // skip the CRLF after the delimiter
    const headEnd = part.indexOf('\r\n\r\n');
    const head = headEnd >= 0 ? part.subarray(0, headEnd).toString('latin1') : '';
    const name = /content-disposition:[^\r\n]*;\s*filename="([^"\r\n]*)"/i.exec(head);
    if (name) return { bytes: part.subarray(headEnd + 4), name: name[1].slice(0, 200) || 'upload' };
    at = next;
  }
  throw new HttpError(400, 'multipart/form-data upload without a complete file part ' +
    '(send the file as a field with a filename, e.g. curl -F file=@clip.wav, or the bare bytes as the body)');
}

/**
 * The request target as a URL. Only origin-form ("/path?query") is served; it is joined to a fixed
 * origin, so "//x" stays a path (new URL("//x", base) would read it as a host and throw).
 */
function requestUrl(target: string | undefined): URL {
  if (target?.startsWith('/')) {
    try {
      return new URL(`http://localhost${target}`);
    } catch {
      // falls through to the 400
    }
  }
  throw new HttpError(400, `bad request target ${JSON.stringify(String(target).slice(0, 100))}`);
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/i;

/**
 * On a loopback address, only this machine's names may be in Host (no DNS rebinding), and a POST
 * from a page of another origin (Origin header) is refused, so no web site can use the demo.
 */
function checkOrigin(req: http.IncomingMessage, loopback: boolean): void {
  const host = req.headers.host ?? '';
  if (loopback && !LOOPBACK.test(host)) throw new HttpError(403, `Host ${JSON.stringify(host.slice(0, 100))} is not this machine`);
  const origin = req.headers.origin;
  if (req.method === 'POST' && origin !== undefined && origin !== `http://${host}`) {
    throw new HttpError(403, `requests from ${JSON.stringify(origin.slice(0, 100))} are not accepted`);
  }
}

/** page.html beside this file; from a tsc build in dist/ (which copies no .html), the one in src/. */
function pageFile(): string {
  const here = path.join(__dirname, 'page.html');
  return fs.existsSync(here) ? here : path.join(PROJECT_ROOT, 'apps', 'demo', 'page.html');
}

/** The in-process backend: `transcriber` works on this thread (tests, notebooks). */
function inProcess(transcriber: DemoTranscriber, maxSeconds: number): Backend {
  return {
    modelName: transcriber.modelName,
    adapterName: transcriber.adapterName,
    folders: transcriber.folders,
    run: (job) => transcribeFile(transcriber, job, maxSeconds),
    close: async () => undefined,
  };
}

type Route = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<void>;

const MODEL_FILES = new Set(CHECKPOINT_FILES);
const ADAPTER_FILES = new Set([ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME]);
const WASM_FILES = new Set(['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']);

/**
 * The file `name` asks for under `folder`, if it is one the page may fetch: a checkpoint's files
 * (and the shards its index lists), an adapter's two files, tfjs's wasm binaries. Nothing else.
 */
function servedFile(folder: string | undefined, name: string, allowed: Set<string>): string | undefined {
  if (!folder) return undefined;
  if (allowed.has(name)) return path.join(folder, name);
  if (allowed !== MODEL_FILES || !isPlainRelativePath(name) || !fs.existsSync(path.join(folder, WEIGHTS_INDEX_NAME))) return undefined;
  return readShardIndex(path.join(folder, WEIGHTS_INDEX_NAME), 'model folder').shards.includes(name) ? path.join(folder, name) : undefined;
}

function sendFile(req: http.IncomingMessage, res: http.ServerResponse, file: string): void {
  const size = fs.statSync(file).size;
  const type = file.endsWith('.json') ? 'application/json' : file.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream';
  res.writeHead(200, { ...SAFE_HEADERS, 'Content-Type': type, 'Content-Length': size, 'Cache-Control': 'no-cache' });
  if (req.method === 'HEAD') res.end();
  else fs.createReadStream(file).pipe(res);
}

/** Starts the demo; resolves once the model is loaded and the server listens. */
export async function startDemo(opts: DemoOptions = {}): Promise<DemoHandle> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxSeconds = opts.maxSeconds ?? DEFAULT_MAX_SECONDS;
  const maxQueue = opts.maxQueue ?? DEFAULT_MAX_QUEUE;
  const page = fs.readFileSync(pageFile(), 'utf8');
  const backend: Backend = opts.transcriber ? inProcess(opts.transcriber, maxSeconds)
    : await TranscriptionWorker.start({ model: opts.model, adapter: opts.adapter, language: opts.language, maxSeconds });
  const queue = new JobQueue((job: FileJob) => backend.run(job), maxQueue);
  const busy = (e: QueueFullError) => new HttpError(503, e.message, { 'Retry-After': String(e.retryAfter), Connection: 'close' });

  const routes: Record<string, Route> = {
    'GET /': async (_req, res) => {
      res.writeHead(200, { ...SAFE_HEADERS, 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(page) });
      res.end(page);
    },
    'GET /api/info': async (_req, res) => sendJson(res, 200, {
      model: backend.modelName, adapter: backend.adapterName ?? null, maxBytes, maxSeconds,
      queue: { jobs: queue.size, maxWaiting: maxQueue },
      browser: backend.folders ? { model: 'model/', adapter: backend.folders.adapter ? 'adapter/' : null, wasm: 'browser/wasm/', language: opts.language ?? null } : null,
    }),
    'GET /browser/whisper.js': async (_req, res) => {
      const js = await browserBundle();
      res.writeHead(200, { ...SAFE_HEADERS, 'Content-Type': 'text/javascript; charset=utf-8', 'Content-Length': Buffer.byteLength(js) });
      res.end(js);
    },
    'POST /api/transcribe': async (req, res, url) => {
      const variant = url.searchParams.get('variant') ?? 'base';
      if (variant !== 'base' && variant !== 'adapter') {
        throw new HttpError(400, `variant must be 'base' or 'adapter', got '${variant.slice(0, 50)}'`);
      }
      if (variant === 'adapter' && !backend.adapterName) throw new HttpError(400, 'This demo was started without --adapter.');
      try {
        queue.checkRoom(); // before reading the body: nothing could take it anyway
        const { bytes, name } = uploadedFile(req, await readBody(req, maxBytes));
        if (bytes.length === 0) throw new HttpError(400, `${name}: the upload is empty`);
        sendJson(res, 200, await queue.submit({ bytes, name, variant: variant as Variant }));
      } catch (e) {
        if (e instanceof QueueFullError) throw busy(e);
        if (e instanceof JobError) throw new HttpError(e.status, e.message);
        throw e;
      }
    },
  };
  routes['GET /index.html'] = routes['GET /'];

  let loopback = true;
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = requestUrl(req.url);
    checkOrigin(req, loopback);
    // HEAD is GET without the body (Node drops the body itself).
    const route = routes[`${req.method === 'HEAD' ? 'GET' : req.method} ${url.pathname}`];
    if (route) return route(req, res, url);
    const served = /^\/(model|adapter|browser\/wasm)\/(.+)$/.exec(url.pathname);
    if (served && (req.method === 'GET' || req.method === 'HEAD')) {
      const name = decodeURIComponent(served[2]);
      const [folder, allowed] = served[1] === 'model' ? [backend.folders?.model, MODEL_FILES]
        : served[1] === 'adapter' ? [backend.folders?.adapter, ADAPTER_FILES] : [WASM_DIR, WASM_FILES];
      const file = servedFile(folder, name, allowed);
      if (file && fs.existsSync(file)) return sendFile(req, res, file);
    }
    const allowed = Object.keys(routes).filter((k) => k.endsWith(` ${url.pathname}`)).map((k) => k.split(' ')[0]);
    if (allowed.length) throw new HttpError(405, `${url.pathname}: use ${allowed.join(' or ')}`, { Allow: allowed.join(', ') });
    throw new HttpError(404, `${url.pathname.slice(0, 200)}: not found`);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (req.socket.destroyed) return; // the client went away mid-request: nobody to answer
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) console.error('demo: request failed:', e);
      if (!res.headersSent) {
        sendJson(res, status, { error: status === 500 ? 'internal error (see the server log)' : (e as Error).message },
          e instanceof HttpError ? e.headers : {});
      }
    });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
    });
  } catch (e) {
    await backend.close();
    throw e;
  }
  const addr = server.address() as AddressInfo;
  loopback = /^(127\.|::1$|::ffff:127\.)/.test(addr.address);
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/`,
    port: addr.port,
    modelName: backend.modelName,
    adapterName: backend.adapterName,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
      await backend.close();
    },
  };
}

const USAGE = 'usage: npm run demo -- [--port 7860] [--host 127.0.0.1] [--model DIR|ID] [--adapter DIR] [--language CODE] ' +
  '[--max-seconds N] [--max-queue N]';

async function main(): Promise<void> {
  const text = { type: 'string' } as const;
  const { values: v } = parseFlags(process.argv.slice(2),
    { port: text, host: text, model: text, adapter: text, language: text, 'max-seconds': text, 'max-queue': text }, USAGE);
  console.log('loading the model...');
  const demo = await startDemo({
    port: intFlag('port', v.port, Number(process.env.PORT ?? 7860), 0, 65535),
    host: v.host, model: v.model, adapter: v.adapter, language: v.language,
    maxSeconds: intFlag('max-seconds', v['max-seconds'], DEFAULT_MAX_SECONDS, 1, 24 * 3600),
    maxQueue: intFlag('max-queue', v['max-queue'], DEFAULT_MAX_QUEUE, 0, 1000),
  });
  console.log(`Whisper demo (${demo.modelName}${demo.adapterName ? ` + ${demo.adapterName}` : ''}) at ${demo.url}`);
  console.log('Ctrl+C to stop.');
  const stop = () => demo.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(`demo: ${(e as Error).message}`);
    process.exit(1);
  });
}
