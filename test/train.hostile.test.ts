/**
 * Issue 26 item 4 (and item 2 for checkpoints): a checkpoint whose optimizer state belongs to another
 * model size, or whose tensors are not finite, is skipped on resume with the file and tensor named,
 * and training resumes from the newest checkpoint that validates.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend } from '../src/backend';
import { getPeftModel, LoraConfig, PeftModel, readSafetensorsFile } from '../src/lora';
import { saveSafetensors } from '../src/model/safetensors';
import { CheckpointError, Seq2SeqTrainer, seq2SeqTrainingArguments, Seq2SeqTrainingArguments } from '../src/train';
import { tinyDataset, tinyModel } from './lora.helpers';

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'train-hostile-'));

function setup(args: Partial<Seq2SeqTrainingArguments>) {
  const model = tinyModel();
  const peft = getPeftModel(model, new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'] }), { seed: 1 });
  const trainer = new Seq2SeqTrainer({
    model: peft, trainDataset: tinyDataset(12),
    args: seq2SeqTrainingArguments({ outputDir: tmpDir(), learningRate: 1e-2, perDeviceTrainBatchSize: 2, loggingSteps: 1, seed: 3, ...args }),
  });
  const done = () => {
    trainer.dispose();
    peft.dispose();
    model.dispose();
  };
  return { peft, trainer, done };
}

const weights = (p: PeftModel) => p.trainableVariables().map((v) => Array.from(v.dataSync()));

/** Rewrites one safetensors file of a checkpoint through `edit` (metadata kept). */
function rewrite(file: string, edit: (key: string, t: { shape: number[]; data: Float32Array }) => { shape: number[]; data: Float32Array }, metadata: Record<string, string>) {
  const t = readSafetensorsFile(file);
  saveSafetensors(file, Object.fromEntries([...t].map(([k, v]) => [k, edit(k, v)])), metadata);
}

describe('resume from hostile checkpoints (issue 26 item 4)', () => {
  before(async () => {
    await initBackend();
  });

  const args = { maxSteps: 6, saveStrategy: 'steps' as const, saveSteps: 2 };

  it('an optimizer state of another model size, or NaN in the adapter, is skipped naming file and tensor', async () => {
    const full = setup(args);
    await full.trainer.train();
    const want = weights(full.peft);
    full.done();

    const outputDir = tmpDir();
    const first = setup({ ...args, outputDir });
    await first.trainer.train();
    first.done();
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
