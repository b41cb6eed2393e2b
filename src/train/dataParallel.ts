/**
 * Data-parallel gradients on one machine: N worker threads, each with its own single-threaded
 * tfjs-wasm instance and a copy of the model, compute the micro-batches of an optimizer step side
 * by side. Why: tfjs-wasm runs only its matrix products on its thread pool; transposes, erf and
 * elementwise passes use one core while the other waits. Two 1-thread workers keep both cores busy:
 * a step through the encoder (bench/train.ts A) takes 2.64 s per example instead of 3.04 in
 * back-to-back runs here (2.57-2.71 over four runs).
 * The caller sums the returned gradients in micro-batch order, so an update equals the one-process
 * update (same micro-batches, same dropout seeds).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { PeftModel } from '../lora/peft';
import type { MicroBatch } from './step';
import type { WeightDtype } from '../backend';

export interface WorkerInit {
  modelDir: string;
  weightsDtype: WeightDtype;
  loraConfig: Record<string, unknown>;
  adapterName: string;
}

/** One micro-batch with what the worker needs to reproduce the trainer's computation. */
export interface GradientJob extends MicroBatch {
  index: number;
  /** The loss is divided by this (the step's labelled tokens over this micro-batch's). */
  scale: number;
  dropoutSeed: string;
  /** Current values of the trainable variables, by PEFT key. */
  weights: Record<string, Float32Array>;
}

export interface GradientResult {
  index: number;
  loss: number;
  grads: Record<string, Float32Array>;
}

export class GradientWorkers {
  private constructor(private workers: Worker[]) {}

  /**
   * Starts `n` workers, each loading the base model again from the folder it was loaded from (with
   * the same int8 storage) and adding the active adapter; its weights travel with every job.
   */
  static async start(model: PeftModel, n: number): Promise<GradientWorkers> {
    const base = model.baseModel as { dir?: string };
    const why = !base.dir ? 'a base model loaded with fromPretrained (each worker loads it again from that folder); this one was built in memory'
      : [...model.loraLayers.values()].some((l) => l.merged.size) ? 'no merged adapter (workers load the unmerged base weights); call unmerge() first'
        : '';
    if (why) throw new Error(`Seq2SeqTrainer: dataParallelWorkers > 1 needs ${why}`);
    // Compiled (dist/, notebooks) or run from the sources by tsx, which a worker must load itself.
    const js = path.join(__dirname, 'gradientWorker.js');
    const ts = path.join(__dirname, 'gradientWorker.ts');
    const code = fs.existsSync(js) ? `require(${JSON.stringify(js)})` : `require('tsx/cjs'); require(${JSON.stringify(ts)})`;
    const init: WorkerInit = { modelDir: base.dir!, weightsDtype: model.baseModel.linears().find((l) => l.quantized)?.quantized?.dtype ?? 'float32', loraConfig: model.peftConfig[model.activeAdapter].toJSON(), adapterName: model.activeAdapter };
    const workers = Array.from({ length: n }, () => new Worker(code, { eval: true, env: { ...process.env, WHISPER_WASM_THREADS: '1' } }));
    const pool = new GradientWorkers(workers);
    try {
      await Promise.all(workers.map((w) => pool.request(w, { init })));
    } catch (e) {
      await pool.dispose();
      throw e;
    }
    return pool;
  }

  /** Gradients of every job, in job order; each worker takes the next job as soon as it is free. */
  async run(jobs: GradientJob[]): Promise<GradientResult[]> {
    const results: GradientResult[] = new Array(jobs.length);
    let next = 0;
    await Promise.all(this.workers.map(async (w) => {
      while (next < jobs.length) {
        const j = next++;
        results[j] = await this.request(w, { job: jobs[j] }) as GradientResult;
      }
    }));
    return results;
  }

  private request(w: Worker, msg: object): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const done = (r: { error?: string }) => {
        w.off('error', reject);
        if (r.error) reject(new Error(`gradient worker: ${r.error}`));
        else resolve(r);
      };
      w.once('message', done);
      w.once('error', reject);
      w.postMessage(msg);
    });
  }

  async dispose(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
