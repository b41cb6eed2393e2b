/**
 * Issue 15, items 8 and 10: the encoder-output cache (keyed by model and by clip, atomic, a bad
 * entry names its file) and checkpoints (a broken latest one falls back to the previous, stale
 * temporary folders are cleaned, the log does not repeat steps, files are fsynced, resuming a
 * finished run reports its real train_loss); issue 26 item 4 (a checkpoint whose tensors do not fit
 * the model, or are not finite, is skipped naming the file and tensor).
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, tf } from '../src/backend';
import { getPeftModel, LoraConfig, PeftModel } from '../src/lora';
import { readSafetensorsFile } from '../src/model/safetensors';
import { saveSafetensors } from '../src/model/safetensors';
import { CheckpointError, listCheckpoints, Seq2SeqTrainer, seq2SeqTrainingArguments, Seq2SeqTrainingArguments } from '../src/train';
import type { PreparedRow } from '../src/data';
import { assertClose, maxAbsDiff } from './helpers/close';
import { tinyDataset, tinyModel } from './lora.helpers';

// The module object itself (the import above is a read-only view of it): tests replace functions on it.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const fsModule = require('fs') as Record<string, unknown>;
const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'train-robust-'));

function setup(args: Partial<Seq2SeqTrainingArguments>, modelSeed = 'tiny', data = tinyDataset(12)) {
  const model = tinyModel(modelSeed);
  const peft = getPeftModel(model, new LoraConfig({ r: 4, loraAlpha: 8, loraDropout: 0.1, targetModules: ['q_proj', 'v_proj'] }), { seed: 1 });
  const trainer = new Seq2SeqTrainer({
    model: peft, trainDataset: data,
    args: seq2SeqTrainingArguments({ outputDir: args.outputDir ?? tmpDir(), learningRate: 1e-2, perDeviceTrainBatchSize: 2, saveStrategy: 'no', loggingSteps: 1, seed: 3, ...args }),
  });
  const done = () => {
    trainer.dispose();
    peft.dispose();
    model.dispose();
  };
  return { model, peft, trainer, done };
}

const weights = (p: PeftModel) => p.trainableVariables().map((v) => Array.from(v.dataSync()));
const readLog = (dir: string) => fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

/** The encoder output of one example computed directly. */
function encodeDirect(model: ReturnType<typeof tinyModel>, f: PreparedRow): Float32Array {
  const x = tf.tensor3d(f.inputFeatures, [1, 8, 20]);
  const y = model.encode(x);
  const out = y.dataSync() as Float32Array;
  tf.dispose([x, y]);
  return out;
}

/** Rewrites one safetensors file of a checkpoint through `edit` (metadata kept). */
function rewrite(file: string, edit: (key: string, t: { shape: number[]; data: Float32Array }) => { shape: number[]; data: Float32Array }, metadata: Record<string, string>) {
  const t = readSafetensorsFile(file);
  saveSafetensors(file, Object.fromEntries([...t].map(([k, v]) => [k, edit(k, v)])), metadata);
}

describe('encoder-output cache on disk (issue 15 item 8)', () => {
  before(async () => {
    await initBackend();
  });

  it('ids that map to the same file name (spk/1, spk_1) keep their own outputs', async () => {
    const cacheDir = tmpDir();
    const [a, b] = tinyDataset(2, 'ids');
    const data = [{ ...a, id: 'spk/1' }, { ...b, id: 'spk_1' }];
    const first = setup({}, 'tiny', data);
    await first.trainer.precomputeEncoderOutputs(data, { cacheDir });
    first.done();
    const second = setup({}, 'tiny', data); // fresh memory: everything comes from disk
    await second.trainer.precomputeEncoderOutputs(data, { cacheDir });
    // Each id reads its own output (the two clips' outputs differ by far more than the tolerance).
    for (const f of data) assertClose(second.trainer.getEncoderOutput(f)!, encodeDirect(second.model, f), 1e-5, f.id);
    assert.ok(maxAbsDiff(second.trainer.getEncoderOutput(data[0])!, second.trainer.getEncoderOutput(data[1])!) > 0.1);
    second.done();
  });

  it('another checkpoint of the same shape does not read this one\'s outputs', async () => {
    const cacheDir = tmpDir();
    const data = tinyDataset(2, 'shape');
    const one = setup({}, 'model one', data);
    await one.trainer.precomputeEncoderOutputs(data, { cacheDir });
    const oneOutput = encodeDirect(one.model, data[0]);
    one.done();
    const two = setup({}, 'model two', data);
    await two.trainer.precomputeEncoderOutputs(data, { cacheDir });
    assertClose(two.trainer.getEncoderOutput(data[0])!, encodeDirect(two.model, data[0]), 1e-5, 'model two\'s output');
    assert.ok(maxAbsDiff(two.trainer.getEncoderOutput(data[0])!, oneOutput) > 0.1, 'not model one\'s');
    assert.equal(fs.readdirSync(cacheDir).length, 2, 'one folder per model fingerprint');
    two.done();
  });

  it('writes entries atomically (a failed write leaves no entry) and a truncated entry names its file', async () => {
    const cacheDir = tmpDir();
    const data = tinyDataset(1, 'atomic');
    const t = setup({}, 'tiny', data);
    const write = fs.writeFileSync;
    // A disk that fills up half way through the first write.
    fsModule.writeFileSync = (file: fs.PathOrFileDescriptor, bytes: Uint8Array) => {
      write(file, bytes.subarray(0, bytes.length >> 1));
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    };
    try {
      await assert.rejects(t.trainer.precomputeEncoderOutputs(data, { cacheDir }), /ENOSPC/);
    } finally {
      fsModule.writeFileSync = write;
    }
    const files = () => fs.readdirSync(cacheDir, { recursive: true }).map(String).filter((f) => f.endsWith('.f32') || f.includes('.tmp-'));
    assert.deepEqual(files(), [], 'nothing half written is left');
    t.done();

    const u = setup({}, 'tiny', data);
    await u.trainer.precomputeEncoderOutputs(data, { cacheDir });
    u.done();
    const [entry] = files();
    const file = path.join(cacheDir, entry);
    fs.truncateSync(file, 100);
    const v = setup({}, 'tiny', data);
    await assert.rejects(v.trainer.precomputeEncoderOutputs(data, { cacheDir }), (e: Error) =>
      e.message.includes(file) && /100 bytes, expected 640/.test(e.message));
    v.done();
  });
});

describe('checkpoint robustness (issue 15 item 10)', () => {
  before(async () => {
    await initBackend();
  });

  const args = { maxSteps: 6, saveStrategy: 'steps' as const, saveSteps: 2, gradientAccumulationSteps: 2 };

  /** The weights of an uninterrupted run, and the output folder of the same run stopped after step `stopAt`. */
  async function interruptedRun(stopAt: number): Promise<{ want: number[][]; outputDir: string }> {
    const full = setup(args);
    await full.trainer.train();
    const want = weights(full.peft);
    full.done();
    const outputDir = tmpDir();
    const first = setup({ ...args, outputDir });
    first.trainer.addCallback({ onStepEnd: (_a, s, c) => { if (s.global_step === stopAt) c.shouldTrainingStop = true; } });
    await first.trainer.train();
    first.done();
    return { want, outputDir };
  }

  it('an empty trainer_state.json in the latest checkpoint: resumes from the previous one, naming the broken file', async () => {
    const { want, outputDir } = await interruptedRun(4);
    const broken = path.join(outputDir, 'checkpoint-4', 'trainer_state.json');
    fs.writeFileSync(broken, '');
    const second = setup({ ...args, outputDir });
    await second.trainer.train({ resumeFromCheckpoint: true });
    assert.equal(second.trainer.skippedCheckpoints.length, 1);
    assert.match(second.trainer.skippedCheckpoints[0], new RegExp(`${broken.replace(/[.]/g, '\\.')}: empty`));
    assert.deepEqual(weights(second.peft), want, 'resumed from checkpoint-2: the same run');
    second.done();

    // Asked for by name, the broken one is an error that names it.
    const third = setup({ ...args, outputDir });
    fs.writeFileSync(path.join(outputDir, 'checkpoint-6', 'trainer_state.json'), '{"global_step": ');
    await assert.rejects(third.trainer.train({ resumeFromCheckpoint: path.join(outputDir, 'checkpoint-6') }),
      (e: Error) => e instanceof CheckpointError && e.message.includes(path.join(outputDir, 'checkpoint-6', 'trainer_state.json')) && /not valid JSON/.test(e.message));
    third.done();
  });

  it('removes checkpoint-N.tmp-PID folders of dead processes; the log does not repeat steps after a resume', async () => {
    const outputDir = tmpDir();
    const stale = path.join(outputDir, 'checkpoint-8.tmp-999999999');
    fs.mkdirSync(stale, { recursive: true });
    fs.writeFileSync(path.join(stale, 'adapter_model.safetensors'), 'half');
    const first = setup({ ...args, outputDir });
    first.trainer.addCallback({ onStepEnd: (_a, s, c) => { if (s.global_step === 3) c.shouldTrainingStop = true; } });
    await first.trainer.train();
    first.done();
    assert.ok(!fs.existsSync(stale), 'the stale temporary folder is gone');
    assert.deepEqual(readLog(outputDir).filter((e) => e.loss !== undefined).map((e) => e.step), [1, 2, 3]);
    const second = setup({ ...args, outputDir });
    await second.trainer.train({ resumeFromCheckpoint: true }); // from checkpoint-2: step 3 runs again
    const steps = readLog(outputDir).filter((e) => e.loss !== undefined).map((e) => e.step);
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6], 'each step logged once');
    second.done();
  });

  it('fsyncs every checkpoint file and folder before it counts', async () => {
    const synced = new Set<string>();
    const opened = new Map<number, string>();
    const open = fs.openSync;
    const fsync = fs.fsyncSync;
    const f = fsModule;
    f.openSync = (p: string, ...rest: unknown[]) => {
      const fd = (open as (...a: unknown[]) => number)(p, ...rest);
      opened.set(fd, String(p));
      return fd;
    };
    f.fsyncSync = (fd: number) => {
      synced.add(opened.get(fd) ?? '?');
      fsync(fd);
    };
    const outputDir = tmpDir();
    const t = setup({ maxSteps: 1, saveStrategy: 'steps', saveSteps: 1, outputDir });
    try {
      await t.trainer.train();
    } finally {
      f.openSync = open;
      f.fsyncSync = fsync;
    }
    t.done();
    const ckpt = path.join(outputDir, 'checkpoint-1');
    // Synced while still named checkpoint-1.tmp-<pid>, then renamed; then outputDir itself.
    const tmp = `${ckpt}.tmp-${process.pid}`;
    for (const name of fs.readdirSync(ckpt)) assert.ok(synced.has(path.join(tmp, name)), `${name} fsynced`);
    assert.ok(synced.has(tmp) && synced.has(outputDir), 'the folder and its parent fsynced');
  });

  it('resuming a finished run reports its real train_loss, not NaN', async () => {
    const outputDir = tmpDir();
    const first = setup({ ...args, outputDir });
    const out1 = await first.trainer.train();
    first.done();
    const second = setup({ ...args, outputDir });
    const out2 = await second.trainer.train({ resumeFromCheckpoint: true });
    assert.equal(out2.globalStep, 6);
    assert.ok(Number.isFinite(out2.trainingLoss) && out2.trainingLoss > 0, `train_loss ${out2.trainingLoss}`);
    assert.ok(Math.abs(out2.trainingLoss - out1.trainingLoss) < 1e-12, `${out2.trainingLoss} vs ${out1.trainingLoss}`);
    assert.deepEqual(listCheckpoints(outputDir).map((c) => c.step), [2, 4, 6]);
    second.done();
  });

  it('issue 26 item 4: an optimizer state of another model size, or NaN in the adapter, is skipped naming file and tensor', async () => {
    const { want, outputDir } = await interruptedRun(6);
    // checkpoint-6: the optimizer state of a model twice as wide (3,8,128 vs 3,8,256 in the report).
    const opt6 = path.join(outputDir, 'checkpoint-6', 'optimizer.safetensors');
    rewrite(opt6, (_k, t) => ({ shape: [t.shape[0], 2 * t.shape[1]], data: new Float32Array(2 * t.data.length) }), { format: 'pt', step: '6' });
    // checkpoint-4: a NaN in one adapter matrix.
    const ad4 = path.join(outputDir, 'checkpoint-4', 'adapter_model.safetensors');
    rewrite(ad4, (k, t) => (k.includes('decoder') && k.includes('lora_B') ? { ...t, data: t.data.fill(NaN) } : t), { format: 'pt' });

    // Asked for by name, the bad one is an error naming it (no silent fallback).
    const third = setup({ ...args, outputDir });
    await assert.rejects(third.trainer.train({ resumeFromCheckpoint: path.join(outputDir, 'checkpoint-6') }),
      (e: Error) => e instanceof CheckpointError && e.message.includes(opt6));
    third.done();
    const second = setup({ ...args, outputDir });
    await second.trainer.train({ resumeFromCheckpoint: true });
    const skipped = second.trainer.skippedCheckpoints;
    assert.equal(skipped.length, 2, skipped.join('\n'));
    assert.ok(skipped[0].includes(opt6), skipped[0]);
    assert.match(skipped[0], /tensor 'base_model\.model\..*\.exp_avg' has shape \[4,32\] but this model expects \[4,16\]/);
    assert.ok(skipped[1].includes(ad4), skipped[1]);
    assert.match(skipped[1], /tensor 'base_model\.model\.model\.decoder\..*lora_B\.weight' holds NaN/);
    assert.deepEqual(weights(second.peft), want, 'resumed from checkpoint-2: the same run');
    second.done();

  });
});
