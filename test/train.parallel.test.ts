/**
 * dataParallelWorkers: micro-batches computed in worker threads give the same update as in the
 * main thread (whisper-tiny from ../shared, LoRA through the encoder, real 30 s inputs).
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, tf } from '../src/backend';
import { sharedDir } from '../tools/shared';
import { WhisperForConditionalGeneration } from '../src/model/whisper';
import { WhisperTokenizer } from '../src/tokenizer/whisper';
import { WhisperFeatureExtractor } from '../src/features/logmel';
import { loadAudio } from '../src/audio/decode';
import { getPeftModel, LoraConfig } from '../src/lora';
import { Seq2SeqTrainer, seq2SeqTrainingArguments } from '../src/train';
import type { PreparedRow } from '../src/data';

describe('Seq2SeqTrainer dataParallelWorkers', function () {
  this.timeout(600_000);

  it('2 worker threads train to the same adapter as the main thread (same losses, same weights)', async () => {
    await initBackend();
    const dir = sharedDir('models', 'whisper-tiny');
    const tok = await WhisperTokenizer.fromPretrained(dir);
    const fe = WhisperFeatureExtractor.fromPretrained(dir);
    const split = sharedDir('datasets', 'librispeech-mini', 'train');
    const rows = fs.readFileSync(path.join(split, 'metadata.csv'), 'utf8').trim().split('\n').slice(1, 3);
    const data: PreparedRow[] = [];
    for (const row of rows) {
      const [file, text] = row.split(',');
      data.push({ inputFeatures: fe.extract(await loadAudio(path.join(split, file))), labels: [...tok.prefixTokens({ language: 'en' }), ...tok.encode(' ' + text.toLowerCase()), tok.eot] });
    }
    const run = async (workers: number) => {
      const model = await WhisperForConditionalGeneration.fromPretrained(dir);
      const peft = getPeftModel(model, new LoraConfig({ r: 4, loraAlpha: 8, loraDropout: 0.1, targetModules: ['q_proj', 'v_proj'] }));
      const losses: number[] = [];
      const trainer = new Seq2SeqTrainer({
        model: peft, trainDataset: data, callbacks: [{ onStepEnd: (_a, _s, _c, s) => void losses.push(s.loss) }],
        args: seq2SeqTrainingArguments({ outputDir: fs.mkdtempSync(path.join(os.tmpdir(), 'dp-')), perDeviceTrainBatchSize: 1,
          gradientAccumulationSteps: 2, maxSteps: 2, learningRate: 1e-3, saveStrategy: 'no', dataParallelWorkers: workers }),
      });
      await trainer.train();
      const weights = [...peft.namedTrainableVariables().values()].map((v) => Array.from(v.dataSync()));
      trainer.dispose();
      peft.dispose();
      model.dispose();
      return { losses, weights };
    };
    const one = await run(1);
    const two = await run(2);
    assert.equal(one.losses.length, 2);
    assert.deepEqual(two.losses, one.losses);
    assert.ok(one.weights.some((w) => w.some((x) => x !== 0)), 'the adapter moved');
    two.weights.forEach((w, i) => assert.deepEqual(w, one.weights[i]));
  });
});
