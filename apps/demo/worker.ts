/**
 * The demo's transcription worker: a worker thread that holds the model (workerMain.ts) and takes
 * one file at a time. Decoding and transcribing a long upload then never blocks the server's
 * thread, so the page and /api/info answer at once while it runs.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { DemoTranscriber, FileJob, JobError, JobResult, TranscriberOptions } from './transcriber';

export interface WorkerInit extends Omit<TranscriberOptions, 'loaded'> {
  /** Longest audio accepted per upload, in seconds. */
  maxSeconds: number;
}

export interface WorkerRequest {
  id: number;
  job: FileJob;
}

export type WorkerReply =
  | { ready: Ready }
  | { fatal: string }
  | { id: number; result: JobResult }
  | { id: number; error: { status: number; message: string } };

/** What the worker says once its model is loaded. */
type Ready = Pick<DemoTranscriber, 'modelName' | 'adapterName' | 'folders'>;

export class TranscriptionWorker {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: JobResult) => void; reject: (e: Error) => void }>();
  private closed = false;
  /** The thread taking jobs; a new one (loading the model again) after the last one died. */
  private current: Promise<Worker>;

  readonly modelName: string;
  readonly adapterName?: string;
  readonly folders?: Ready['folders'];

  private constructor(worker: Worker, ready: Ready, private readonly init: WorkerInit) {
    ({ modelName: this.modelName, adapterName: this.adapterName, folders: this.folders } = ready);
    this.watch(worker);
    this.current = Promise.resolve(worker);
  }

  /** Starts the thread and resolves once its model is loaded (rejects with the loading error). */
  static async start(init: WorkerInit): Promise<TranscriptionWorker> {
    const { worker, ready } = await spawn(init);
    return new TranscriptionWorker(worker, ready, init);
  }

  /** Decodes and transcribes `job` in the worker; rejects with a JobError (status 400/413/500). */
  async run(job: FileJob): Promise<JobResult> {
    if (this.closed) throw new JobError(503, 'the demo is shutting down');
    let worker: Worker;
    try {
      worker = await this.current;
    } catch (e) {
      this.current = this.respawn(); // try again for the next job
      throw new JobError(500, `the transcription worker cannot start: ${(e as Error).message}`);
    }
    const id = this.nextId++;
    return new Promise<JobResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, job } satisfies WorkerRequest);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await (await this.current.catch(() => undefined))?.terminate();
  }

  private respawn(): Promise<Worker> {
    const next = spawn(this.init).then(({ worker }) => {
      this.watch(worker);
      return worker;
    });
    next.catch((e) => console.error(`demo: cannot restart the transcription worker: ${(e as Error).message}`));
    return next;
  }

  /** Routes replies; if the thread dies (a crash, out of memory), fails its jobs and starts a new one. */
  private watch(worker: Worker): void {
    worker.on('message', (m: WorkerReply) => {
      if (!('id' in m)) return;
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if ('result' in m) p?.resolve(m.result);
      else p?.reject(new JobError(m.error.status, m.error.message));
    });
    let gone = false;
    const died = (why: string) => {
      if (gone) return;
      gone = true;
      for (const p of this.pending.values()) p.reject(new JobError(500, `the transcription worker stopped: ${why}`));
      this.pending.clear();
      if (!this.closed) this.current = this.respawn();
    };
    worker.once('error', (e) => died(e.message));
    worker.once('exit', (code) => died(`exit code ${code}`));
  }
}

/** A new worker thread running workerMain (compiled, or from the sources through tsx). */
async function spawn(init: WorkerInit): Promise<{ worker: Worker; ready: Ready }> {
  const js = path.join(__dirname, 'workerMain.js');
  const ts = path.join(__dirname, 'workerMain.ts');
  const code = fs.existsSync(js) ? `require(${JSON.stringify(js)})` : `require('tsx/cjs'); require(${JSON.stringify(ts)})`;
  const worker = new Worker(code, { eval: true, workerData: init });
  let onMessage: (m: WorkerReply) => void = () => undefined;
  let onError: (e: Error) => void = () => undefined;
  let onExit: (code: number) => void = () => undefined;
  try {
    const ready = await new Promise<Ready>((resolve, reject) => {
      onMessage = (m) => {
        if ('ready' in m) resolve(m.ready);
        else if ('fatal' in m) reject(new Error(m.fatal));
      };
      onError = reject;
      onExit = (code) => reject(new Error(`the transcription worker exited (code ${code}) while loading the model`));
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
    return { worker, ready };
  } catch (e) {
    await worker.terminate();
    throw e;
  } finally {
    // Only our own listeners: removeAllListeners would also drop the Worker's internal ones that
    // keep its message port delivering.
    worker.off('message', onMessage).off('error', onError).off('exit', onExit);
  }
}
