/**
 * Inside the demo's worker thread (worker.ts starts it): loads the model once, then decodes and
 * transcribes one uploaded file per message, so the server's own thread only routes requests.
 */
import { parentPort, workerData } from 'worker_threads';
import { createTranscriber, DemoTranscriber, JobError, transcribeFile } from './transcriber';
import type { WorkerInit, WorkerReply, WorkerRequest } from './worker';

async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  const post = (m: WorkerReply) => parentPort!.postMessage(m);
  let transcriber: DemoTranscriber;
  try {
    transcriber = await createTranscriber(init);
  } catch (e) {
    post({ fatal: (e as Error).message });
    return;
  }
  post({ ready: { modelName: transcriber.modelName, adapterName: transcriber.adapterName, folders: transcriber.folders } });
  parentPort!.on('message', async ({ id, job }: WorkerRequest) => {
    try {
      post({ id, result: await transcribeFile(transcriber, job, init.maxSeconds) });
    } catch (e) {
      const status = e instanceof JobError ? e.status : 500;
      if (status === 500) console.error('demo: transcription failed:', e);
      post({ id, error: { status, message: (e as Error)?.message ?? String(e) } });
    }
  });
}

void main();
