/**
 * Full fine-tuning: Seq2SeqTrainer on a plain WhisperForConditionalGeneration (every weight, or
 * the decoder after freezeEncoder()), saved in Hugging Face layout and loaded back.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, tf } from '../src/backend';
import { getPeftModel, LoraConfig } from '../src/lora';
import { readSafetensorsHeader } from '../src/model/safetensors';
import { expectedWeightShapes, WhisperForConditionalGeneration } from '../src/model/whisper';
import { loadWhisper, unloadWhisper } from '../src/model/pipeline';
import { PROJECT_ROOT, sharedDir } from '../tools/shared';
import { listCheckpoints, Seq2SeqTrainer, seq2SeqTrainingArguments, Seq2SeqTrainingArguments } from '../src/train';
import { assertClose } from './helpers/close';
import { tinyDataset, tinyModel } from './lora.helpers';

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'train-full-'));

function fullTrainer(model: WhisperForConditionalGeneration, args: Partial<Seq2SeqTrainingArguments> = {}) {
  return new Seq2SeqTrainer({
    model,
    args: seq2SeqTrainingArguments({ outputDir: tmpDir(), learningRate: 1e-2, perDeviceTrainBatchSize: 4, saveStrategy: 'no', loggingSteps: 1, seed: 3, ...args }),
    trainDataset: tinyDataset(12),
    evalDataset: tinyDataset(6, 'eval'),
  });
}

function logits(model: WhisperForConditionalGeneration): Float32Array {
  const feats = tf.tensor3d(tinyDataset(1, 'probe')[0].inputFeatures, [1, 8, 20]);
  const ids = tf.tensor2d([[1, 10, 11, 12]], undefined, 'int32');
  const y = model.forward(feats, ids);
  const out = y.dataSync() as Float32Array;
  tf.dispose([feats, ids, y]);
  return out;
}

describe('full fine-tuning', () => {
  before(async () => {
    await initBackend();
  });

  it('every weight kind gets the gradient of central finite differences (conv, embeddings + tied projection, linear, layer norm)', () => {
    const model = tinyModel();
    const vars = model.trainableParameters();
    assert.ok(!vars.has('model.encoder.embed_positions.weight'), 'the encoder positions stay frozen (as in HF)');
    assert.ok(!vars.has('proj_out.weight'), 'proj_out is tied to embed_tokens: one variable');
    const ex = tinyDataset(2);
    const feats = tf.tensor3d(Float32Array.from([...ex[0].inputFeatures, ...ex[1].inputFeatures]), [2, 8, 20]);
    const ids = tf.tensor2d([[1, 10, 11, 3], [1, 12, 12, 12]], undefined, 'int32');
    const loss = () => tf.tidy(() => tf.sum(tf.sin(model.forward(feats, ids, { training: true }))) as tf.Scalar);
    const names = ['model.encoder.conv1.weight', 'model.encoder.conv2.weight', 'model.encoder.conv2.bias', 'model.decoder.embed_tokens.weight',
      'model.decoder.embed_positions.weight', 'model.encoder.layers.0.fc1.weight', 'model.decoder.layers.0.encoder_attn.k_proj.weight',
      'model.decoder.layers.0.self_attn_layer_norm.weight', 'model.decoder.layer_norm.bias'];
    const { grads } = tf.variableGrads(loss, names.map((n) => vars.get(n)!));
    for (const n of names) {
      const v = vars.get(n)!;
      const g = grads[v.name].dataSync();
      const base = v.dataSync().slice();
      // For the embedding, rows of tokens in ids (gathered) and of others (only the tied projection).
      const probes = n.endsWith('embed_tokens.weight') ? [10 * 16 + 3, 12 * 16 + 5, 30 * 16 + 1] : [0, 5, v.size - 1];
      for (const i of probes) {
        const at = (d: number) => {
          const b = base.slice();
          b[i] += d;
          tf.tidy(() => v.assign(tf.tensor(b, v.shape)));
          const l = loss();
          const val = l.dataSync()[0];
          l.dispose();
          return val;
        };
        const eps = 1e-2;
        const num = (at(eps) - at(-eps)) / (2 * eps);
        tf.tidy(() => v.assign(tf.tensor(base, v.shape)));
        assert.ok(Math.abs(num - g[i]) < 3e-3 + 3e-2 * Math.abs(g[i]), `${n}[${i}]: analytic ${g[i]} vs numeric ${num}`);
      }
    }
    tf.dispose([feats, ids, ...Object.values(grads)]);
    model.dispose();
  });

  it('a trained convolution (unfolded product) gives the outputs of tf.conv1d', () => {
    const model = tinyModel();
    const x = tf.randomNormal([2, 8, 20], 0, 1, 'float32', 5) as tf.Tensor3D;
    const before = model.encode(x);
    model.trainableParameters();
    const after = tf.tidy(() => model.encoder.apply(x, true));
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(before, after))).dataSync()[0]);
    assert.ok(diff < 1e-5, `max difference ${diff}`);
    tf.dispose([x, before, after]);
    model.dispose();
  });

  it('trains every weight, saves HF layout, reloads with the same logits; freezeEncoder keeps the encoder and caches it', async () => {
    const model = tinyModel();
    const initial = model.stateDict();
    const trainer = fullTrainer(model, { maxSteps: 4, learningRate: 3e-2, lrSchedulerType: 'constant' });
    const before = await trainer.evaluate();
    await trainer.train();
    const after = await trainer.evaluate();
    assert.ok(after.eval_loss < before.eval_loss, `eval loss ${before.eval_loss} -> ${after.eval_loss}`);
    assert.ok(!trainer.usesEncoderCache, 'the encoder is trained: no cache');
    const trained = model.stateDict();
    const moved = (n: string) => trained[n].data.some((x, i) => x !== initial[n].data[i]);
    assert.ok(moved('model.encoder.conv1.weight') && moved('model.decoder.embed_tokens.weight') && moved('model.encoder.layers.0.fc2.bias'));
    assert.ok(!moved('model.encoder.embed_positions.weight'));

    const dir = path.join(tmpDir(), 'full-model');
    trainer.saveModel(dir);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['README.md', 'config.json', 'generation_config.json', 'model.safetensors']);
    const names = [...readSafetensorsHeader(path.join(dir, 'model.safetensors')).tensors.keys()].sort();
    assert.deepEqual(names, [...expectedWeightShapes(model.config).keys()].filter((n) => n !== 'proj_out.weight').sort());
    const reloaded = await WhisperForConditionalGeneration.fromPretrained(dir);
    const reloadedState = reloaded.stateDict();
    for (const n of names) assert.deepEqual(reloadedState[n].data, trained[n].data, `${n} saved and read back bit for bit`);
    // Trained weights and loaded (frozen) ones take different wasm kernels for few rows: same formula.
    assertClose(logits(reloaded), logits(model), 1e-5, 'logits of the reloaded model');
    reloaded.dispose();
    trainer.dispose();
    model.dispose();

    const frozen = tinyModel();
    frozen.freezeEncoder();
    const encBefore = frozen.stateDict()['model.encoder.layers.0.fc1.weight'].data;
    const t2 = fullTrainer(frozen, { maxSteps: 2 });
    assert.ok(t2.usesEncoderCache, 'frozen encoder: outputs computed once and reused');
    assert.ok([...frozen.trainableParameters().keys()].every((k) => k.startsWith('model.decoder.')));
    await t2.train();
    assert.deepEqual(frozen.stateDict()['model.encoder.layers.0.fc1.weight'].data, encBefore);
    assert.throws(() => frozen.freezeEncoder(), /before the model is trained/);
    t2.dispose();
    frozen.dispose();
  });

  it('resumes a full fine-tune exactly (model.safetensors in each checkpoint)', async () => {
    const args = { maxSteps: 4, saveStrategy: 'steps' as const, saveSteps: 2, gradientAccumulationSteps: 2, perDeviceTrainBatchSize: 2, weightDecay: 0.01 };
    const ref = tinyModel();
    const full = fullTrainer(ref, args);
    await full.train();
    const want = ref.stateDict();
    full.dispose();
    ref.dispose();

    const outputDir = tmpDir();
    const m1 = tinyModel();
    const first = fullTrainer(m1, { ...args, outputDir });
    first.addCallback({ onStepEnd: (_a, s, control) => { if (s.global_step === 2) control.shouldTrainingStop = true; } });
    await first.train();
    first.dispose();
    m1.dispose();
    assert.ok(fs.existsSync(path.join(outputDir, 'checkpoint-2', 'model.safetensors')));
    const m2 = tinyModel('another init');
    const second = fullTrainer(m2, { ...args, outputDir });
    await second.train({ resumeFromCheckpoint: true });
    const got = m2.stateDict();
    for (const [k, t] of Object.entries(want)) assert.deepEqual(Array.from(got[k].data), Array.from(t.data), k);
    assert.deepEqual(listCheckpoints(outputDir).map((c) => c.step), [2, 4]);
    second.dispose();
    m2.dispose();
  });

  it('keeps the best full checkpoint (by eval metric) and reloads it at the end', async () => {
    const model = tinyModel();
    // The tiny vocabulary has no Whisper special tokens: generation is stubbed, the metric is fake.
    model.generate = async (f, o) => ({ sequences: new Array((o?.encoderHiddenStates ?? f)!.shape[0]).fill([10]), languages: [] });
    let calls = 0;
    let atBest: Record<string, { data: Float32Array }> = {};
    const trainer = new Seq2SeqTrainer({
      model, trainDataset: tinyDataset(8), evalDataset: tinyDataset(3, 'e'), computeMetrics: () => ({ wer: ++calls === 2 ? 1 : 10 + calls }),
      args: seq2SeqTrainingArguments({ outputDir: tmpDir(), maxSteps: 4, learningRate: 1e-2, perDeviceTrainBatchSize: 4, evalStrategy: 'steps',
        evalSteps: 1, predictWithGenerate: true, metricForBestModel: 'wer', loadBestModelAtEnd: true, saveStrategy: 'no', saveTotalLimit: 1 }),
      callbacks: [{ onEvaluate: (_a, s) => { if (s.global_step === 2) atBest = model.stateDict(); } }],
    });
    await trainer.train();
    assert.deepEqual(listCheckpoints(trainer.args.outputDir).map((c) => c.step), [2]);
    const now = model.stateDict();
    for (const k of ['model.decoder.embed_tokens.weight', 'model.encoder.conv1.weight', 'model.decoder.layers.0.fc1.bias']) {
      assert.deepEqual(Array.from(now[k].data), Array.from(atBest[k].data), k);
    }
    trainer.dispose();
    model.dispose();
  });

  it('real whisper-tiny: saved tensor names and shapes equal the shared checkpoint; loadWhisper and the CLI read a merged LoRA save', async function () {
    this.timeout(300_000);
    const shared = sharedDir('models', 'whisper-tiny');
    const model = await WhisperForConditionalGeneration.fromPretrained(shared);
    const peft = getPeftModel(model, new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'] }), { seed: 1 });
    tf.tidy(() => {
      for (const [k, v] of peft.namedTrainableVariables()) if (k.includes('lora_B')) v.assign(tf.randomNormal(v.shape, 0, 0.02, 'float32', 7));
    });
    const merged = peft.mergeAndUnload() as WhisperForConditionalGeneration;
    const dir = path.join(tmpDir(), 'merged');
    merged.savePretrained(dir);
    for (const f of ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'preprocessor_config.json', 'normalizer.json']) {
      assert.ok(fs.existsSync(path.join(dir, f)), `${f} saved`);
    }
    const ours = readSafetensorsHeader(path.join(dir, 'model.safetensors'));
    const theirs = readSafetensorsHeader(path.join(shared, 'model.safetensors'));
    assert.deepEqual([...ours.tensors.keys()].sort(), [...theirs.tensors.keys()].sort());
    for (const [k, t] of theirs.tensors) assert.deepEqual(ours.tensors.get(k)!.shape, t.shape, k);
    assert.ok([...ours.tensors.values()].every((t) => t.dtype === 'F32'));

    const pipe = await loadWhisper(dir);
    const feats = tf.randomNormal([1, 80, 3000], 0, 1, 'float32', 2) as tf.Tensor3D;
    const ids = tf.tensor2d([[50258, 50259, 50359, 50363]], undefined, 'int32');
    const a = merged.forward(feats, ids);
    const b = pipe.model.forward(feats, ids);
    assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()), 'same logits after save -> loadWhisper');
    tf.dispose([feats, ids, a, b]);
    merged.dispose();
    await unloadWhisper();

    const cli = spawnSync(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'apps', 'cli', 'transcribe.ts'),
      sharedDir('datasets', 'samples', 'jfk.flac'), '--model', dir, '--language', 'en'], { encoding: 'utf8', env: { ...process.env, WHISPER_WASM_THREADS: '1' } });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /ask not what your country can do for you/i);
  });
});
