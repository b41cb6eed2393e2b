/** Trainer callbacks: hook order, early stopping (patience on eval WER), the logged cosine schedule. */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend } from '../src/backend';
import { getPeftModel, LoraConfig } from '../src/lora';
import {
  EarlyStoppingCallback, listCheckpoints, Seq2SeqTrainer, seq2SeqTrainingArguments, Seq2SeqTrainingArguments, TrainerCallback,
} from '../src/train';
import { tinyDataset, tinyModel } from './lora.helpers';

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'train-cb-'));

function loraTrainer(args: Partial<Seq2SeqTrainingArguments>, callbacks: TrainerCallback[] = [], computeMetrics?: () => Record<string, number>) {
  const model = tinyModel();
  const peft = getPeftModel(model, new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'] }), { seed: 1 });
  // Generation needs Whisper's special tokens, which the tiny vocabulary lacks: stubbed, the
  // metrics below come from computeMetrics alone.
  peft.generate = async (f, o) => ({ sequences: new Array((o?.encoderHiddenStates ?? f).shape[0]).fill([10]), languages: [] });
  const trainer = new Seq2SeqTrainer({
    model: peft, callbacks, computeMetrics,
    args: seq2SeqTrainingArguments({ outputDir: tmpDir(), learningRate: 1e-2, perDeviceTrainBatchSize: 4, saveStrategy: 'no', loggingSteps: 1, seed: 3, ...args }),
    trainDataset: tinyDataset(8),
    evalDataset: tinyDataset(3, 'eval'),
  });
  const done = () => {
    trainer.dispose();
    peft.dispose();
    model.dispose();
  };
  return { trainer, peft, done };
}

describe('trainer callbacks', () => {
  before(async () => {
    await initBackend();
  });

  it('calls every hook in HF order with args, state and control, and no removed callback', async () => {
    const seen: string[] = [];
    const record: TrainerCallback = {};
    for (const h of ['onTrainBegin', 'onEpochBegin', 'onEpochEnd', 'onStepBegin', 'onStepEnd', 'onLog', 'onEvaluate', 'onSave', 'onTrainEnd'] as const) {
      record[h] = (args, state, control) => {
        assert.ok(args.outputDir && typeof state.global_step === 'number' && typeof control.shouldTrainingStop === 'boolean');
        seen.push(`${h}@${state.global_step}`);
      };
    }
    const { trainer, done } = loraTrainer({ maxSteps: 2, evalStrategy: 'steps', evalSteps: 2, saveStrategy: 'steps', saveSteps: 2 }, [record]);
    // Added and removed again (HF add_callback / remove_callback): never called.
    const removed: TrainerCallback = { onStepEnd: () => assert.fail('a removed callback was called') };
    trainer.addCallback(removed);
    trainer.removeCallback(removed);
    await trainer.train();
    assert.deepEqual(seen, [
      'onTrainBegin@0', 'onEpochBegin@0',
      'onStepBegin@0', 'onStepEnd@1', 'onLog@1',
      'onStepBegin@1', 'onStepEnd@2', 'onLog@2', 'onLog@2', 'onEvaluate@2', 'onSave@2', 'onEpochEnd@2',
      'onLog@2', 'onTrainEnd@2',
    ]);
    done();
  });

  it('early stopping (patience 3 on eval WER) stops a run whose WER stops improving, and the best model is reloaded', async () => {
    // WER improves at the 2nd evaluation, then never again: evaluations 3, 4, 5 count 1, 2, 3.
    const wers = [50, 40, 45, 41, 60, 30, 20, 10, 5, 1];
    let calls = 0;
    const { trainer, peft, done } = loraTrainer({
      maxSteps: 10, evalStrategy: 'steps', evalSteps: 1, predictWithGenerate: true, metricForBestModel: 'wer',
      loadBestModelAtEnd: true, saveTotalLimit: 1,
    }, [new EarlyStoppingCallback({ earlyStoppingPatience: 3 })], () => ({ wer: wers[calls++] }));
    let atBest: number[][] = [];
    trainer.addCallback({ onEvaluate: (_a, s) => { if (s.global_step === 2) atBest = peft.trainableVariables().map((v) => Array.from(v.dataSync())); } });
    const out = await trainer.train();
    assert.equal(out.globalStep, 5, 'stopped after the 3rd evaluation without improvement');
    assert.ok(out.stoppedEarly);
    assert.equal(trainer.state.patience_counter, 3);
    assert.equal(trainer.state.best_metric, 40);
    assert.deepEqual(listCheckpoints(trainer.args.outputDir).map((c) => c.step), [2]);
    assert.deepEqual(peft.trainableVariables().map((v) => Array.from(v.dataSync())), atBest, 'weights of the best evaluation');
    const log = fs.readFileSync(path.join(trainer.args.outputDir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(log[log.length - 1].stopped_early, 1);
    done();

    // Without the callback the same run goes to the end.
    calls = 0;
    const again = loraTrainer({ maxSteps: 10, evalStrategy: 'steps', evalSteps: 1, predictWithGenerate: true, metricForBestModel: 'wer' }, [], () => ({ wer: wers[calls++] }));
    assert.equal((await again.trainer.train()).globalStep, 10);
    again.done();
  });

  it('earlyStoppingPatience in the arguments adds the callback', async () => {
    let calls = 0;
    const { trainer, done } = loraTrainer({ maxSteps: 10, evalStrategy: 'steps', evalSteps: 2, predictWithGenerate: true, metricForBestModel: 'wer',
      earlyStoppingPatience: 2 }, [], () => ({ wer: 10 + calls++ }));
    assert.equal((await trainer.train()).globalStep, 6, 'evaluations at steps 2 (best), 4, 6: stop');
    done();
  });

  it('logs the learning rate of every step on the cosine curve with linear warmup (warmupRatio)', async () => {
    const steps = 10;
    const lr = 1e-2;
    const { trainer, done } = loraTrainer({ maxSteps: steps, lrSchedulerType: 'cosine', warmupRatio: 0.2, learningRate: lr, perDeviceTrainBatchSize: 1 });
    await trainer.train();
    const logged = fs.readFileSync(path.join(trainer.args.outputDir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
      .filter((e) => e.learning_rate !== undefined);
    assert.equal(logged.length, steps);
    // transformers: warmup = ceil(0.2 * 10) = 2 steps from 0, then half a cosine to 0 at step 10.
    const expected = (k: number) => (k < 2 ? lr * (k / 2) : lr * 0.5 * (1 + Math.cos(Math.PI * (k - 2) / (steps - 2))));
    logged.forEach((e, k) => assert.ok(Math.abs(e.learning_rate - expected(k)) < 1e-12, `step ${k + 1}: ${e.learning_rate} vs ${expected(k)}`));
    assert.equal(logged[2].learning_rate, lr, 'the peak right after warmup');
    done();
  });
});
