/**
 * Issue 26 (hostile inputs, round 3), items 1, 2 and 5: a target_modules regex that would
 * backtrack for ever, adapters with NaN or huge weights, safe merging, a huge `r`.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, tf } from '../src/backend';
import { getPeftModel, LoraConfig, PeftModel } from '../src/lora';
import { readSafetensorsFile } from '../src/model/safetensors';
import { FullMatchPattern } from '../src/lora/pattern';
import { saveSafetensors } from '../src/model/safetensors';
import { PROJECT_ROOT } from '../tools/shared';
import { numTensors, tinyModel } from './lora.helpers';

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'lora-hostile-'));

/** A saved r=4 q/v adapter of the tiny model, with its weights replaced by `edit`. */
function savedAdapter(edit?: (key: string, data: Float32Array) => void, config: Record<string, unknown> = {}): string {
  const m = tinyModel();
  const p = getPeftModel(m, new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'] }));
  for (const v of p.trainableVariables()) v.assign(tf.randomNormal(v.shape, 0, 0.1, 'float32', 1));
  const dir = tmpDir();
  p.saveAdapter(dir);
  p.dispose();
  m.dispose();
  const file = path.join(dir, 'adapter_model.safetensors');
  if (edit) {
    const t = readSafetensorsFile(file);
    for (const [k, v] of t) edit(k, v.data);
    saveSafetensors(file, Object.fromEntries(t), { format: 'pt' });
  }
  const cfgFile = path.join(dir, 'adapter_config.json');
  fs.writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(cfgFile, 'utf8')), ...config }));
  return dir;
}

describe('hostile adapters (issue 26)', () => {
  before(async () => {
    await initBackend();
  });

  it('item 1: target_modules "(.+)+Q" does not hang (a fresh process answers within 60 s)', function () {
    const dir = savedAdapter(undefined, { target_modules: '(.+)+Q' });
    const script = `
      const { initBackend } = require('./src/backend');
      const { PeftModel } = require('./src/lora');
      const { tinyModel } = require('./test/lora.helpers');
      initBackend().then(() => {
        try { PeftModel.fromPretrained(tinyModel(), ${JSON.stringify(dir)}); console.log('loaded'); }
        catch (e) { console.log('ERROR ' + e.message); }
      });`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, null, `killed after 60 s (${r.signal}): the regex backtracks`);
    assert.match(r.stdout, /ERROR .*adapter_config\.json: target_modules "\(\.\+\)\+Q" match no Linear/);
  });

  it('item 1: regex target_modules keep Python re.fullmatch semantics, in linear time', () => {
    // Expected values from Python 3.11: re.fullmatch(p, name) is not None.
    const names = ['model.decoder.layers.0.self_attn.q_proj', 'model.encoder.layers.10.fc2', 'q_proj', 'aaa', 'ababc', ''];
    const cases: [string, boolean[]][] = [
      [String.raw`.*decoder.*\.(q_proj|v_proj)`, [true, false, false, false, false, false]],
      [String.raw`^model\.(encoder|decoder)\.layers\.\d+\.self_attn\.(q|k|v)_proj$`, [true, false, false, false, false, false]],
      [String.raw`.*layers\.\d{1,2}\.fc[12]`, [false, true, false, false, false, false]],
      [String.raw`.*[^e]ncoder.*`, [false, false, false, false, false, false]],
      ['(?:model\\.)?decoder.*|q_proj', [true, false, true, false, false, false]],
      ['(?P<x>.*)q_proj', [true, false, true, false, false, false]],
      ['a{0,2}', [false, false, false, false, false, true]],
      ['(a|b)*?c', [false, false, false, false, true, false]],
      ['.{3}', [false, false, false, true, false, false]],
      ['(.+)+Q', [false, false, false, false, false, false]],
    ];
    for (const [p, want] of cases) assert.deepEqual(names.map((n) => new FullMatchPattern(p).fullMatch(n)), want, p);
    // Exponential for a backtracking matcher: 2^60 paths.
    const t0 = Date.now();
    assert.equal(new FullMatchPattern('(a*)*(.+)+b').fullMatch('a'.repeat(60)), false);
    assert.ok(Date.now() - t0 < 1000, `${Date.now() - t0} ms`);
    // Syntax the matcher does not have is refused with file and field, not guessed.
    for (const [p, why] of [['(?=q)q_proj', /lookaround/], [String.raw`(q)\1`, /backreferences/], ['a{1,100000}', /states/], ['*q', /nothing to repeat/]] as const) {
      assert.throws(() => LoraConfig.fromJSON({ r: 4, target_modules: p }, 'x/adapter_config.json'),
        (e: Error) => /^x\/adapter_config\.json: field 'target_modules'/.test(e.message) && why.test(e.message), p);
    }
    // Lists keep PEFT's exact-or-".suffix" rule.
    const list = new LoraConfig({ targetModules: ['q_proj'] });
    assert.ok(list.matches('model.decoder.layers.0.self_attn.q_proj') && !list.matches('model.decoder.layers.0.self_attn.xq_proj'));
  });

  it('item 2: NaN or 1e30 adapter weights are refused, naming the file and tensor; nothing is allocated', () => {
    const nanB = savedAdapter((k, d) => { if (k.includes('lora_B')) d.fill(NaN); });
    const huge = savedAdapter((_k, d) => d.fill(1e30));
    const m = tinyModel();
    const before = numTensors();
    assert.throws(() => PeftModel.fromPretrained(m, nanB),
      (e: Error) => e.message.includes(path.join(nanB, 'adapter_model.safetensors')) && /tensor 'base_model\.model\..*lora_B\.weight' holds NaN/.test(e.message));
    assert.throws(() => PeftModel.fromPretrained(m, huge),
      (e: Error) => e.message.includes(path.join(huge, 'adapter_model.safetensors')) && /lora_A\.weight' and '.*lora_B\.weight': the update scaling \* B A reaches/.test(e.message));
    assert.equal(numTensors(), before, 'no adapter left behind');
    // An ordinary trained adapter still loads.
    const ok = PeftModel.fromPretrained(m, savedAdapter());
    ok.dispose();
    m.dispose();
  });

  it('item 2: merge refuses non-finite results and float16 or int8 bases (all or nothing)', () => {
    const m = tinyModel();
    const p = getPeftModel(m, new LoraConfig({ r: 4, targetModules: ['q_proj', 'v_proj'] }));
    const vars = p.trainableVariables();
    const before = m.linears().map((l) => Array.from(l.weight.dataSync()));
    for (const v of vars) v.assign(tf.fill(v.shape, 1e30));
    assert.throws(() => p.merge(), /merging adapter 'default' gives non-finite weights .*nothing was merged/);
    assert.deepEqual(m.linears().map((l) => Array.from(l.weight.dataSync())), before, 'no weight changed');
    assert.equal([...p.loraLayers.values()].filter((l) => l.merged.size).length, 0);
    p.dispose();
    m.dispose();
    const half = tinyModel();
    half.quantize('float16');
    const q = getPeftModel(half, new LoraConfig({ r: 4, targetModules: ['q_proj'] }));
    assert.throws(() => q.merge(), /into a float16 base weight; merging needs float32 base weights: load the base model with weightsDtype 'float32'/);
    q.dispose();
    half.dispose();
  });

  it('item 5: r = 1e9 or 1e5 is refused from adapter_config.json before anything is allocated', () => {
    const dirs = [1e9, 100_000, 17, 8].map((r) => savedAdapter(undefined, { r }));
    const m = tinyModel();
    const before = numTensors();
    for (const [i, r] of [1e9, 100_000, 17].entries()) {
      const dir = dirs[i];
      assert.throws(() => PeftModel.fromPretrained(m, dir),
        (e: Error) => e.message.startsWith(path.join(dir, 'adapter_config.json')) && e.message.includes(`field 'r' is ${r}, more than 16`), String(r));
    }
    for (const r of [0, 2.5, -1]) assert.throws(() => LoraConfig.fromJSON({ r, target_modules: ['q_proj'] }, 'adapter_config.json'), /field 'r' must be a positive integer/);
    assert.throws(() => getPeftModel(m, new LoraConfig({ r: 1e9 })), /LoraConfig: field 'r' is 1000000000, more than 16/);
    // r in the config does not fit the header's shapes: refused from the header, naming the tensor.
    assert.throws(() => PeftModel.fromPretrained(m, dirs[3]), /adapter_model\.safetensors: tensor '.*lora_A\.weight' has shape \[4,16\] but .*adapter_config\.json expects \[8,16\]/);
    assert.equal(numTensors(), before);
    m.dispose();
  });
});
