/**
 * The streamed data path: IterableAudioDataset.shuffle (HF's seeded buffer), prepareDataset on a
 * stream, and Seq2SeqTrainer reading a stream (epochs reshuffled, exact resume, bounded buffer).
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend } from '../src/backend';
import { IterableAudioDataset, loadCsvDataset, prepareDataset, streamDataset } from '../src/data';
import { WhisperFeatureExtractor } from '../src/features/logmel';
import { getPeftModel, LoraConfig, PeftModel } from '../src/lora';
import { sharedDir } from '../tools/shared';
import { WhisperTokenizer } from '../src/tokenizer/whisper';
import { Seq2SeqTrainer, seq2SeqTrainingArguments, Seq2SeqTrainingArguments } from '../src/train';
import type { PreparedRow } from '../src/data';
import { tinyDataset, tinyModel } from './lora.helpers';

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'train-stream-'));

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('streamed training data', () => {
  before(async () => {
    await initBackend();
  });

  it('shuffle: a seeded buffer (same seed, same order; a new order each epoch), every row once, at most bufferSize held', async () => {
    const n = 100;
    let produced = 0;
    let consumed = 0;
    let maxAhead = 0;
    const source = IterableAudioDataset.fromRows(Array.from({ length: n }, (_, i) => ({ i })))
      .map((r) => (produced++, r));
    const order = async (ds: IterableAudioDataset<{ i: number }>, epoch: number) => {
      ds.setEpoch(epoch);
      const out: number[] = [];
      for await (const r of ds.rows()) {
        consumed++;
        maxAhead = Math.max(maxAhead, produced - consumed);
        out.push(r.i);
      }
      return out;
    };
    const a = source.shuffle({ seed: 7, bufferSize: 10 });
    const e0 = await order(a, 0);
    assert.deepEqual([...e0].sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i), 'every row exactly once');
    assert.notDeepEqual(e0, Array.from({ length: n }, (_, i) => i), 'shuffled');
    assert.deepEqual(await order(source.shuffle({ seed: 7, bufferSize: 10 }), 0), e0, 'same seed and epoch, same order');
    assert.notDeepEqual(await order(a, 1), e0, 'another epoch, another order');
    assert.notDeepEqual(await order(source.shuffle({ seed: 8, bufferSize: 10 }), 0), e0, 'another seed, another order');
    assert.ok(maxAhead <= 10, `read ${maxAhead} rows ahead of the consumer with a buffer of 10`);
    assert.ok(e0.indexOf(99) >= 89, 'a buffer of 10 cannot emit the last row before it has read it');
  });

  it('prepareDataset on a stream gives the rows prepareDataset gives in memory', async function () {
    this.timeout(120_000);
    const dir = sharedDir('models', 'whisper-tiny');
    const opts = { featureExtractor: WhisperFeatureExtractor.fromPretrained(dir), tokenizer: await WhisperTokenizer.fromPretrained(dir),
      language: 'en', normalizer: 'simple' };
    const csv = sharedDir('datasets', 'fsdd-digits', 'dataset.csv');
    const streamed = await collect(prepareDataset((await streamDataset(csv)).take(2), opts).rows());
    const inMemory = await prepareDataset((await loadCsvDataset(csv)).select([0, 1]), opts);
    assert.equal(streamed.length, 2);
    streamed.forEach((r, i) => {
      assert.deepEqual(r.labels, inMemory.rows[i].labels);
      assert.deepEqual(r.inputFeatures, inMemory.rows[i].inputFeatures);
    });
  });

  function setup(train: IterableAudioDataset<PreparedRow>, args: Partial<Seq2SeqTrainingArguments>) {
    const model = tinyModel();
    const peft = getPeftModel(model, new LoraConfig({ r: 4, loraAlpha: 8, loraDropout: 0.1, targetModules: ['q_proj', 'v_proj'] }), { seed: 1 });
    const trainer = new Seq2SeqTrainer({
      model: peft, trainDataset: train,
      args: seq2SeqTrainingArguments({ outputDir: tmpDir(), learningRate: 1e-2, perDeviceTrainBatchSize: 2, saveStrategy: 'no', loggingSteps: 1, seed: 3, ...args }),
    });
    return { peft, trainer, done: () => { trainer.dispose(); peft.dispose(); model.dispose(); } };
  }
  const weights = (p: PeftModel) => p.trainableVariables().map((v) => Array.from(v.dataSync()));

  it('Seq2SeqTrainer trains from a stream: maxSteps required, epochs reshuffled, resume skips what was consumed', async () => {
    const rows = tinyDataset(12);
    const stream = () => IterableAudioDataset.fromRows(rows).shuffle({ seed: 5, bufferSize: 4 });
    assert.throws(() => setup(stream(), {}), /set maxSteps/);

    // 12 rows, batches of 2: 6 steps per epoch; 9 steps cross into the second epoch.
    const args = { maxSteps: 9, saveStrategy: 'steps' as const, saveSteps: 4 };
    let epochOf = 0;
    const ids: string[][] = [[], []];
    const full = setup(stream().map((r) => (ids[epochOf].push(r.id!), r)), args);
    full.trainer.addCallback({ onEpochBegin: (_a, s) => void (epochOf = s.epoch_index) });
    await full.trainer.train();
    assert.equal(full.trainer.state.epoch_index, 1);
    assert.deepEqual([...ids[0]].sort(), rows.map((r) => r.id).sort(), 'epoch 0 saw every row once');
    assert.notDeepEqual(ids[1].slice(0, 6), ids[0].slice(0, 6), 'epoch 1 is shuffled anew (setEpoch)');
    const want = weights(full.peft);
    full.done();

    const outputDir = tmpDir();
    const first = setup(stream(), { ...args, outputDir });
    first.trainer.addCallback({ onStepEnd: (_a, s, c) => { if (s.global_step === 5) c.shouldTrainingStop = true; } });
    await first.trainer.train();
    first.done();
    const second = setup(stream(), { ...args, outputDir });
    await second.trainer.train({ resumeFromCheckpoint: true }); // from checkpoint-4, skipping 4 steps of epoch 0
    assert.deepEqual(weights(second.peft), want, 'the resumed run equals the uninterrupted one');
    second.done();
  });
});
