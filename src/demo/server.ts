/**
 * The live demo (the Gradio microphone app of the Python tutorials, without Python): a plain Node
 * http server on 127.0.0.1 serving one page (page.html) and one endpoint.
 *
 *   GET  /                 the page: record from the microphone or upload a file
 *   GET  /api/info         {model, adapter, maxBytes}: the page hides the model choice without adapter
 *   POST /api/transcribe?variant=base|adapter   body = the audio file bytes
 *        200 {text, segments, seconds, audioSeconds, variant}
 *        400 {error} undecodable / non-audio / empty;  413 {error} too large;  500 {error}
 *
 * The model is loaded once (before the server listens) and requests are transcribed one at a time:
 * TensorFlow.js runs on this one thread anyway, and two concurrent decodes would only interleave.
 *
 *   npm run demo -- [--port 7860] [--host 127.0.0.1] [--model DIR] [--adapter DIR] [--language en]
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { decodeAudio } from '../audio/decode';
import { PROJECT_ROOT } from '../shared';
import { createTranscriber, DemoTranscriber, Variant } from './transcriber';

export const DEFAULT_MAX_BYTES = 25 * 1024 * 1024;

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
  language?: string;
  /** Ready-made transcriber (tests, notebooks that already loaded a model). */
  transcriber?: DemoTranscriber;
}

export interface DemoHandle {
  url: string;
  port: number;
  transcriber: DemoTranscriber;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

function tooLarge(maxBytes: number, got?: number): HttpError {
  const mb = (n: number) => (n / 1048576).toFixed(1);
  return new HttpError(413, `The upload is too large${got ? ` (${mb(got)} MB)` : ''}: the limit is ${mb(maxBytes)} MB. ` +
    'Send a shorter recording or a compressed file (mp3, ogg, flac).');
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

function fileName(req: http.IncomingMessage): string {
  const raw = req.headers['x-file-name'];
  try {
    return raw ? decodeURIComponent(String(raw)) : 'upload';
  } catch {
    return 'upload';
  }
}

/** page.html beside this file; from a tsc build in dist/ (which copies no .html), the one in src/. */
function pageFile(): string {
  const here = path.join(__dirname, 'page.html');
  return fs.existsSync(here) ? here : path.join(PROJECT_ROOT, 'src', 'demo', 'page.html');
}

/** Starts the demo; resolves once the model is loaded and the server listens. */
export async function startDemo(opts: DemoOptions = {}): Promise<DemoHandle> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const transcriber = opts.transcriber ?? await createTranscriber({ model: opts.model, adapter: opts.adapter, language: opts.language });
  const page = fs.readFileSync(pageFile(), 'utf8');
  let queue: Promise<unknown> = Promise.resolve();

  async function transcribe(req: http.IncomingMessage, url: URL) {
    const variant = (url.searchParams.get('variant') ?? 'base') as Variant;
    if (variant !== 'base' && variant !== 'adapter') throw new HttpError(400, `variant must be 'base' or 'adapter', got '${variant}'`);
    if (variant === 'adapter' && !transcriber.adapterName) throw new HttpError(400, 'This demo was started without --adapter.');
    const bytes = await readBody(req, maxBytes);
    const name = fileName(req);
    if (bytes.length === 0) throw new HttpError(400, `${name}: the upload is empty`);
    let audio: Float32Array;
    try {
      audio = await decodeAudio(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), name);
    } catch (e) {
      throw new HttpError(400, (e as Error).message);
    }
    if (audio.length === 0) throw new HttpError(400, `${name}: the file holds no audio samples`);
    // One request at a time on the model; later ones wait their turn.
    const run = queue.then(async () => {
      const t0 = performance.now();
      const out = await transcriber.transcribe(audio, variant);
      return { ...out, variant, seconds: (performance.now() - t0) / 1000, audioSeconds: audio.length / 16000 };
    });
    queue = run.catch(() => undefined);
    return run;
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const handle = async () => {
      if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/index.html')) {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(page);
      } else if (req.method === 'GET' && url.pathname === '/api/info') {
        sendJson(res, 200, { model: transcriber.modelName, adapter: transcriber.adapterName ?? null, maxBytes });
      } else if (url.pathname === '/api/transcribe') {
        if (req.method !== 'POST') throw new HttpError(405, 'POST the audio file to /api/transcribe');
        sendJson(res, 200, await transcribe(req, url));
      } else {
        throw new HttpError(404, `${url.pathname}: not found`);
      }
    };
    handle().catch((e) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) console.error('demo: transcription failed:', e);
      if (!res.headersSent) {
        // Close the connection after an early 413 so the client stops sending the rest.
        if (status === 413) res.setHeader('Connection', 'close');
        sendJson(res, status, { error: (e as Error).message });
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/`,
    port: addr.port,
    transcriber,
    close: () => new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((e) => (e ? reject(e) : resolve()));
    }),
  };
}

/** `--name value` / `--name=value` from argv. */
function flag(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return argv[i + 1];
    if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3);
  }
  return undefined;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const portText = flag(argv, 'port') ?? process.env.PORT ?? '7860';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${portText} is not a port number (0-65535)`);
  console.log('loading the model...');
  const demo = await startDemo({
    port, host: flag(argv, 'host'), model: flag(argv, 'model'), adapter: flag(argv, 'adapter'), language: flag(argv, 'language'),
  });
  console.log(`Whisper demo (${demo.transcriber.modelName}${demo.transcriber.adapterName ? ` + ${demo.transcriber.adapterName}` : ''}) at ${demo.url}`);
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
