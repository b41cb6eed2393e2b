/**
 * A worker thread of `GradientWorkers` (dataParallel.ts): its own tfjs-wasm instance on one
 * thread, the same base model and adapter, and the gradients of one micro-batch per job.
 */
import { parentPort } from 'worker_threads';
import { initBackend, tf } from '../backend';
import { WhisperForConditionalGeneration } from '../model/whisper';
import { getPeftModel, LoraConfig, PeftModel } from '../lora';
import type { GradientJob, GradientResult, WorkerInit } from './dataParallel';
import { lossAndGradients } from './step';

let peft: PeftModel | undefined;

parentPort!.on('message', async (msg: { init?: WorkerInit; job?: GradientJob }) => {
  try {
    if (msg.init) {
      await initBackend();
      const model = await WhisperForConditionalGeneration.fromPretrained(msg.init.modelDir, { weightsDtype: msg.init.weightsDtype });
      peft = getPeftModel(model, LoraConfig.fromJSON(msg.init.loraConfig), { adapterName: msg.init.adapterName });
      parentPort!.postMessage({ ready: true });
      return;
    }
    const job = msg.job!;
    for (const [name, v] of peft!.namedTrainableVariables()) tf.tidy(() => v.assign(tf.tensor(job.weights[name], v.shape)));
    peft!.reseedDropout(job.dropoutSeed);
    const { loss, grads } = await lossAndGradients(peft!, job, job.scale);
    const out: GradientResult = { index: job.index, loss, grads: {} };
    for (const [k, g] of grads) out.grads[k] = g.dataSync() as Float32Array;
    tf.dispose([...grads.values()]);
    parentPort!.postMessage(out, Object.values(out.grads).map((a) => a.buffer as ArrayBuffer));
  } catch (e) {
    parentPort!.postMessage({ error: (e as Error).stack ?? String(e) });
  }
});
