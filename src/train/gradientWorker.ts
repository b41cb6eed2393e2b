/**
 * A worker thread of `GradientWorkers` (dataParallel.ts): its own tfjs-wasm instance on one
 * thread, the same base model and LoRA adapter, and the gradient of one micro-batch per job.
 */
import { parentPort } from 'worker_threads';
import { initBackend, tf } from '../backend';
import { WhisperForConditionalGeneration } from '../model/whisper';
import { getPeftModel, LoraConfig, PeftModel } from '../lora';
import { crossEntropyLoss } from './loss';
import type { GradientJob, GradientResult, WorkerInit } from './dataParallel';

let peft: PeftModel | undefined;

parentPort!.on('message', async (msg: { init?: WorkerInit; job?: GradientJob }) => {
  try {
    if (msg.init) {
      await initBackend();
      const model = await WhisperForConditionalGeneration.fromPretrained(msg.init.modelDir, { loadIn8bit: msg.init.loadIn8bit });
      peft = getPeftModel(model, LoraConfig.fromJSON(msg.init.loraConfig), { adapterName: msg.init.adapterName });
      parentPort!.postMessage({ ready: true });
      return;
    }
    const job = msg.job!;
    const vars = peft!.namedTrainableVariables();
    for (const [name, v] of vars) tf.tidy(() => v.assign(tf.tensor(job.weights[name], v.shape)));
    peft!.reseedDropout(job.dropoutSeed);
    const input = tf.tensor3d(job.input, job.inputShape);
    const ids = tf.tensor2d(job.ids, job.idsShape, 'int32');
    const labels = tf.tensor2d(job.labels, [1, job.labels.length], 'int32');
    const { value, grads } = tf.variableGrads(() => {
      const logits = peft!.forward(job.inputIsEncoderStates ? null : input, ids, {
        encoderHiddenStates: job.inputIsEncoderStates ? input : undefined, training: true, positions: job.positions });
      return tf.div(crossEntropyLoss(logits, labels), job.scale) as tf.Scalar;
    }, [...vars.values()]);
    const byVar = new Map([...vars].map(([k, v]) => [v.name, k]));
    const out: GradientResult = { index: job.index, loss: value.dataSync()[0], grads: {} };
    for (const [n, g] of Object.entries(grads)) out.grads[byVar.get(n)!] = g.dataSync() as Float32Array;
    tf.dispose([value, input, ids, labels, ...Object.values(grads)]);
    parentPort!.postMessage(out, Object.values(out.grads).map((a) => a.buffer as ArrayBuffer));
  } catch (e) {
    parentPort!.postMessage({ error: (e as Error).stack ?? String(e) });
  }
});
