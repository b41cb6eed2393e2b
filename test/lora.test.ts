import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, tf } from '../src/backend';
import { WhisperConfig } from '../src/model/config';
import { readSafetensorsHeader } from '../src/model/safetensors';
import { sharedDir } from '../tools/shared';
import { countParameters, getPeftModel, LoraConfig, PeftModel, trainableParametersLine } from '../src/lora';
import { readSafetensorsFile } from '../src/model/safetensors';
import { numTensors, tinyConfig, tinyModel } from './lora.helpers';

const SMALL = {
  d_model: 768, encoder_layers: 12, decoder_layers: 12, encoder_attention_heads: 12, decoder_attention_heads: 12,
  encoder_ffn_dim: 3072, decoder_ffn_dim: 3072, num_mel_bins: 80, vocab_size: 51865, max_source_positions: 1500,
  max_target_positions: 448,
};

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'lora-test-'));
}

describe('lora', () => {
  before(async () => {
    await initBackend();
  });

  it('prints PEFT\'s exact line for whisper-small r=8 q/v, without building the model', () => {
    const c = WhisperConfig.fromJSON(SMALL);
    assert.equal(countParameters(c), 241_734_912);
    assert.equal(trainableParametersLine(c, new LoraConfig({ r: 8, targetModules: ['q_proj', 'v_proj'] })),
      'trainable params: 884,736 || all params: 242,619,648 || trainable%: 0.3647');
  });

  it('matches module names by PEFT\'s rule (suffix after a dot, or full-match regex)', () => {
    const cfg = new LoraConfig({ targetModules: ['q_proj', 'fc1'] });
    assert.ok(cfg.matches('model.decoder.layers.0.encoder_attn.q_proj'));
    assert.ok(cfg.matches('q_proj'));
    assert.ok(!cfg.matches('model.decoder.layers.0.self_attn.xq_proj'));
    assert.ok(!cfg.matches('model.decoder.layers.0.fc12'));
    const re = new LoraConfig({ targetModules: String.raw`.*decoder.*\.(q_proj|v_proj)` });
    assert.ok(re.matches('model.decoder.layers.3.self_attn.q_proj'));
    assert.ok(!re.matches('model.encoder.layers.3.self_attn.q_proj'));
    assert.ok(!new LoraConfig({ targetModules: 'q_proj' }).matches('model.decoder.layers.0.self_attn.q_proj'), 'regex must match the full name');
  });

  it('adapts encoder self-attn, decoder self-attn and cross-attn projections and fc1/fc2', () => {
    const m = tinyModel();
    const before = numTensors();
    const p = getPeftModel(m, new LoraConfig({ r: 4, targetModules: ['q_proj', 'k_proj', 'v_proj', 'out_proj', 'fc1', 'fc2'] }));
    const names = [...p.loraLayers.keys()];
    assert.equal(names.length, 6 + 10); // encoder: 4 attn + 2 ffn; decoder: 8 attn + 2 ffn
    assert.ok(names.includes('model.decoder.layers.0.encoder_attn.k_proj'));
    assert.ok(names.includes('model.encoder.layers.0.fc2'));
    const [t, all] = p.getNbTrainableParameters();
    assert.equal(all, countParameters(m.config) + t);
    assert.ok(p.adaptsEncoder());
    assert.throws(() => getPeftModel(m, new LoraConfig({ targetModules: ['nope'] }), { adapterName: 'x' }), /match no Linear/);
    p.dispose();
    assert.equal(numTensors(), before, 'dispose frees every adapter tensor');
    assert.equal(m.linears().every((l) => l.adapters.length === 0), true);
    m.dispose();
  });

  it('A is Kaiming-uniform (bound 1/sqrt(in)), B is zero, so a fresh adapter changes nothing', () => {
    const m = tinyModel();
    const feats = tf.randomNormal([1, 8, 20]) as tf.Tensor3D;
    const ids = tf.tensor2d([[1, 5, 6]], undefined, 'int32');
    const base = m.forward(feats, ids);
    const p = getPeftModel(m, new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj', 'fc1'] }));
    const a = p.trainableVariables()[0];
    const bound = 1 / Math.sqrt(a.shape[1]!);
    const av = a.dataSync();
    assert.ok(Math.max(...av.map(Math.abs)) <= bound && Math.max(...av.map(Math.abs)) > bound * 0.8);
    const withLora = p.forward(feats, ids);
    assert.ok(tf.max(tf.abs(tf.sub(withLora, base))).dataSync()[0] === 0);
    assert.equal(p.peftConfig.default.scaling, 2);
    assert.equal(new LoraConfig({ r: 4, loraAlpha: 8, useRslora: true }).scaling, 4);
    tf.dispose([feats, ids, base, withLora]);
    p.dispose();
    m.dispose();
  });

  it('gradients of A and B match central finite differences', () => {
    const m = tinyModel();
    const p = getPeftModel(m, new LoraConfig({ r: 2, loraAlpha: 4, targetModules: ['model.decoder.layers.0.self_attn.q_proj'] }));
    const layer = [...p.loraLayers.values()][0];
    const w = layer.adapters.get('default')!;
    w.loraB.assign(tf.randomNormal(w.loraB.shape, 0, 0.5, 'float32', 3));
    const x = tf.randomNormal([3, 16], 0, 1, 'float32', 4);
    const f = () => tf.tidy(() => tf.sum(tf.sin(layer.linear.apply(x, true))) as tf.Scalar);
    const { grads } = tf.variableGrads(f, [w.loraA, w.loraB]);
    for (const v of [w.loraA, w.loraB]) {
      const g = grads[v.name].dataSync();
      const base = v.dataSync().slice();
      for (const i of [0, 3, 7, v.size - 1]) {
        const eps = 1e-2;
        const at = (d: number) => {
          const b = base.slice();
          b[i] += d;
          const t = tf.tensor2d(b, v.shape as [number, number]);
          v.assign(t);
          t.dispose();
          const l = f();
          const val = l.dataSync()[0];
          l.dispose();
          return val;
        };
        const num = (at(eps) - at(-eps)) / (2 * eps);
        const t = tf.tensor2d(base, v.shape as [number, number]);
        v.assign(t);
        t.dispose();
        assert.ok(Math.abs(num - g[i]) < 2e-3 + 2e-2 * Math.abs(g[i]), `${v.name}[${i}]: analytic ${g[i]} vs numeric ${num}`);
      }
    }
    tf.dispose([x, ...Object.values(grads)]);
    p.dispose();
    m.dispose();
  });

  it('dropout acts on the adapter input in training only', () => {
    const m = tinyModel();
    const p = getPeftModel(m, new LoraConfig({ r: 2, loraDropout: 0.5, targetModules: ['fc1'] }));
    const layer = [...p.loraLayers.values()][0];
    layer.adapters.get('default')!.loraB.assign(tf.ones(layer.adapters.get('default')!.loraB.shape));
    const x = tf.ones([4, 16]);
    const e1 = layer.forward(x, false);
    const e2 = layer.forward(x, false);
    const t1 = layer.forward(x, true);
    assert.deepEqual(Array.from(e1.dataSync()), Array.from(e2.dataSync()));
    assert.notDeepEqual(Array.from(t1.dataSync()), Array.from(e1.dataSync()));
    tf.dispose([x, e1, e2, t1]);
    p.dispose();
    m.dispose();
  });

  it('merge gives the same outputs; unmerge restores the base weights', () => {
    const m = tinyModel();
    const p = getPeftModel(m, new LoraConfig({ r: 4, loraAlpha: 16, targetModules: ['q_proj', 'v_proj', 'fc2'] }));
    for (const l of p.loraLayers.values()) l.adapters.get('default')!.loraB.assign(tf.randomNormal(l.adapters.get('default')!.loraB.shape, 0, 0.3));
    const lin = p.loraLayers.get('model.decoder.layers.0.encoder_attn.v_proj')!.linear;
    const w0 = lin.weight.dataSync().slice();
    const feats = tf.randomNormal([2, 8, 20], 0, 1, 'float32', 1) as tf.Tensor3D;
    const ids = tf.tensor2d([[1, 5, 6], [1, 7, 2]], undefined, 'int32');
    const y = p.forward(feats, ids);
    const n0 = numTensors();
    p.merge();
    assert.equal(numTensors(), n0, 'merge replaces weights without leaking');
    const ym = p.forward(feats, ids);
    assert.ok(tf.max(tf.abs(tf.sub(y, ym))).dataSync()[0] < 1e-4);
    assert.ok(Math.max(...lin.weight.dataSync().map((v, i) => Math.abs(v - w0[i]))) > 1e-3, 'merge changed the weight');
    p.unmerge();
    const w1 = lin.weight.dataSync();
    assert.ok(Math.max(...w1.map((v, i) => Math.abs(v - w0[i]))) < 1e-6);
    const yu = p.forward(feats, ids);
    assert.ok(tf.max(tf.abs(tf.sub(y, yu))).dataSync()[0] < 1e-4);
    // mergeAndUnload: a plain model with the adapter baked in.
    const base = p.mergeAndUnload();
    assert.equal(base.linears().every((l) => l.adapters.length === 0), true);
    const yb = base.forward(feats, ids);
    assert.ok(tf.max(tf.abs(tf.sub(y, yb))).dataSync()[0] < 1e-4);
    tf.dispose([feats, ids, y, ym, yu, yb]);
    m.dispose();
  });

  it('int8 base: per-row absmax quantization, LoRA trains on top, merging is refused', () => {
    const m = tinyModel();
    const lin = m.linears().find((l) => l.name === 'model.decoder.layers.0.self_attn.q_proj')!;
    const w = lin.weight.dataSync().slice();
    const feats = tf.randomNormal([1, 8, 20], 0, 1, 'float32', 1) as tf.Tensor3D;
    const ids = tf.tensor2d([[1, 5, 6]], undefined, 'int32');
    const y = m.forward(feats, ids);
    const n0 = numTensors();
    m.quantize('int8');
    assert.ok(numTensors() < n0, 'float weights (and transposed copies) are freed');
    const q = lin.int8!;
    assert.equal(q.data.length, w.length);
    const [, inF] = q.shape;
    // Every value is within half a step of its row's scale (absmax / 127).
    for (let i = 0; i < w.length; i++) assert.ok(Math.abs(q.data[i] * q.scales[Math.floor(i / inF)] - w[i]) <= q.scales[Math.floor(i / inF)] / 2 + 1e-7);
    const yq = m.forward(feats, ids);
    const err = tf.max(tf.abs(tf.sub(y, yq))).dataSync()[0];
    assert.ok(err > 0 && err < 0.05, `int8 forward is close to float32 (max |diff| ${err})`);
    const p = getPeftModel(m, new LoraConfig({ r: 2, loraAlpha: 4, targetModules: ['q_proj', 'v_proj'] }));
    const bVar = p.loraLayers.get(lin.name)!.adapters.get('default')!.loraB;
    const { grads } = tf.variableGrads(() => tf.sum(p.forward(feats, ids)) as tf.Scalar, [bVar]);
    assert.ok(grads[bVar.name].dataSync().some((g) => g !== 0), 'gradient reaches the adapter over an int8 base');
    assert.throws(() => p.merge(), /cannot merge adapter 'default' into an int8 base weight/);
    tf.dispose([feats, ids, y, yq, ...Object.values(grads)]);
    m.dispose();
  });

  it('saves PEFT files (keys, shapes, F32, metadata, config fields) and loads them back exactly', () => {
    const m = tinyModel();
    const cfg = new LoraConfig({ r: 4, loraAlpha: 8, loraDropout: 0.1, targetModules: ['q_proj', 'v_proj'] });
    const p = getPeftModel(m, cfg, { seed: 7 });
    for (const v of p.trainableVariables()) v.assign(tf.randomNormal(v.shape, 0, 1));
    const dir = tmpDir();
    p.saveAdapter(dir);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    assert.equal(json.peft_type, 'LORA');
    assert.equal(json.task_type, 'SEQ_2_SEQ_LM');
    assert.equal(json.r, 4);
    assert.equal(json.lora_alpha, 8);
    assert.equal(json.lora_dropout, 0.1);
    assert.equal(json.bias, 'none');
    assert.equal(json.fan_in_fan_out, false);
    assert.equal(json.use_rslora, false);
    assert.equal(json.inference_mode, true);
    assert.equal(json.modules_to_save, null);
    assert.deepEqual(json.target_modules, ['q_proj', 'v_proj']);
    const file = path.join(dir, 'adapter_model.safetensors');
    const h = readSafetensorsHeader(file);
    assert.deepEqual(h.metadata, { format: 'pt' });
    const hlen = Number(fs.readFileSync(file).readBigUInt64LE(0));
    assert.equal(hlen % 8, 0, 'header padded to 8 bytes');
    const a = h.tensors.get('base_model.model.model.encoder.layers.0.self_attn.q_proj.lora_A.weight')!;
    assert.deepEqual([a.dtype, a.shape], ['F32', [4, 16]]);
    const b = h.tensors.get('base_model.model.model.decoder.layers.0.encoder_attn.v_proj.lora_B.weight')!;
    assert.deepEqual([b.dtype, b.shape], ['F32', [16, 4]]);
    assert.equal(h.tensors.size, 2 * 2 * 3); // (q, v) x (A, B) x (enc self, dec self, dec cross)

    const m2 = tinyModel();
    const q = PeftModel.fromPretrained(m2, dir);
    assert.equal(q.peftConfig.default.loraDropout, 0.1);
    const saved = readSafetensorsFile(file);
    for (const [k, v] of q.namedTrainableVariables()) {
      assert.deepEqual(Array.from(v.dataSync()), Array.from(saved.get(k)!.data), k);
      assert.deepEqual(Array.from(v.dataSync()), Array.from(p.namedTrainableVariables().get(k)!.dataSync()), k);
    }
    // A file whose keys do not fit the model is refused, naming the key.
    const bad = tmpDir();
    fs.writeFileSync(path.join(bad, 'adapter_config.json'), JSON.stringify({ ...json, target_modules: ['q_proj'] }));
    fs.copyFileSync(file, path.join(bad, 'adapter_model.safetensors'));
    assert.throws(() => q.loadAdapter(bad, 'other'), /unexpected, e\.g\. base_model\.model\..*v_proj/);
    assert.deepEqual(Object.keys(q.peftConfig), ['default']);
    p.dispose();
    q.dispose();
    m.dispose();
    m2.dispose();
  });

  it('swaps named adapters on one base model (setAdapter / loadAdapter(adapterName))', () => {
    const m = tinyModel();
    const p = getPeftModel(m, new LoraConfig({ r: 2, targetModules: ['q_proj', 'v_proj'] }));
    for (const v of p.trainableVariables()) v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', 1));
    const dir = tmpDir();
    p.saveAdapter(dir);
    p.addAdapter('second', new LoraConfig({ r: 3, targetModules: ['fc1'] }));
    for (const v of p.trainableVariables('second')) v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', 2));
    const feats = tf.randomNormal([1, 8, 20], 0, 1, 'float32', 5) as tf.Tensor3D;
    const ids = tf.tensor2d([[1, 5]], undefined, 'int32');
    const yDefault = p.forward(feats, ids);
    p.setAdapter('second');
    assert.equal(p.trainableVariables().length, 2 * 2);
    const ySecond = p.forward(feats, ids);
    assert.ok(tf.max(tf.abs(tf.sub(yDefault, ySecond))).dataSync()[0] > 1e-3);
    p.loadAdapter(dir, 'copy');
    p.setAdapter('copy');
    const yCopy = p.forward(feats, ids);
    assert.ok(tf.max(tf.abs(tf.sub(yDefault, yCopy))).dataSync()[0] === 0);
    const base = m.forward(feats, ids);
    const off = tf.tidy(() => tf.tensor(0)); // placeholder for awaited result
    off.dispose();
    p.deleteAdapter('copy');
    assert.deepEqual(Object.keys(p.peftConfig).sort(), ['default', 'second']);
    tf.dispose([feats, ids, yDefault, ySecond, yCopy, base]);
    p.dispose();
    m.dispose();
  });

  it('real whisper-tiny: the tensors in the model add up to countParameters(config)', async function () {
    this.timeout(120_000);
    const { WhisperForConditionalGeneration } = await import('../src/model/whisper');
    const before = tf.memory();
    const m = await WhisperForConditionalGeneration.fromPretrained(sharedDir('models', 'whisper-tiny'));
    const seen = new Set<number>();
    let n = 0;
    const walk = (o: unknown, depth: number) => {
      if (!o || typeof o !== 'object' || depth > 6) return;
      if (o instanceof tf.Tensor) {
        if (!seen.has(o.id)) {
          seen.add(o.id);
          n += o.size;
        }
        return;
      }
      // Parameters only: skip derived copies such as Linear's cached transposed weight.
      for (const [k, v] of Object.entries(o)) if (!k.startsWith('weightT')) walk(v, depth + 1);
    };
    walk([m.encoder, m.decoder, m.projOut], 0);
    assert.equal(n, countParameters(m.config));
    assert.equal(n, 37_760_640); // openai/whisper-tiny: 37.76M parameters
    const p = getPeftModel(m, new LoraConfig({ r: 8, targetModules: ['q_proj', 'v_proj'] }));
    assert.equal(p.trainableParametersLine(), trainableParametersLine(m.config, p.peftConfig.default));
    p.printTrainableParameters();
    p.dispose();
    m.dispose();
    assert.equal(tf.memory().numTensors, before.numTensors);
  });

  it('tiny config count agrees with the loaded tiny random model', () => {
    const m = tinyModel();
    let n = 0;
    const seen = new Set<number>();
    const walk = (o: unknown, depth: number) => {
      if (!o || typeof o !== 'object' || depth > 6) return;
      if (o instanceof tf.Tensor) {
        if (!seen.has(o.id)) (seen.add(o.id), (n += o.size));
        return;
      }
      // Parameters only: skip derived copies such as Linear's cached transposed weight.
      for (const [k, v] of Object.entries(o)) if (!k.startsWith('weightT')) walk(v, depth + 1);
    };
    walk([m.encoder, m.decoder, m.projOut], 0);
    assert.equal(n, countParameters(tinyConfig()));
    m.dispose();
  });
});
