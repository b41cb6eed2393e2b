/**
 * pushToHub against a local Hub (test/helpers/fakeHub.ts) through @huggingface/hub's real upload
 * path (createRepo, preupload, LFS batch + PUT, commit): the uploaded files equal the saved
 * folder, and the model card's front matter parses as YAML with the WER the trainer measured.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'yaml';
import { initBackend } from '../src/backend';
import { MODEL_CARD_NAME, modelCard, pushToHub, updateModelCard } from '../src/hub';
import { getPeftModel, LoraConfig } from '../src/lora';
import { Seq2SeqTrainer, seq2SeqTrainingArguments } from '../src/train';
import { FakeHub, folderFiles, startFakeHub, useFakeHub } from './helpers/fakeHub';
import { tinyDataset, tinyModel } from './lora.helpers';

/** The YAML front matter of a README.md. */
function frontMatter(card: string): Record<string, any> {
  const m = /^---\n([\s\S]*?)\n---\n/.exec(card);
  assert.ok(m, 'the card starts with YAML front matter');
  return parse(m[1]);
}

function pushed(hub: FakeHub, repoId: string): Map<string, Buffer> {
  const repo = hub.repos.get(`model:${repoId}`)!;
  return repo.commits[repo.refs.main];
}

describe('hub push: pushToHub and model cards', function () {
  this.timeout(120_000);
  let restore: () => void;
  let hub: FakeHub;
  let tmp: string;

  before(async () => {
    await initBackend();
    hub = await startFakeHub();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-push-'));
    restore = useFakeHub(hub);
  });

  after(async () => {
    await hub.close();
    restore();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('trainer.pushToHub uploads the adapter folder with a card holding the measured WER', async () => {
    const model = tinyModel();
    const peft = getPeftModel(model, new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'] }), { seed: 1 });
    // Generation needs Whisper's special tokens, which the tiny vocabulary lacks: stubbed (as in
    // train.callbacks.test.ts); the WER comes from computeMetrics.
    peft.generate = async (f, o) => ({ sequences: new Array((o?.encoderHiddenStates ?? f).shape[0]).fill([10]), languages: [] });
    const outputDir = path.join(tmp, 'run');
    const wers = [61.5, 42.25];
    let calls = 0;
    const trainer = new Seq2SeqTrainer({
      model: peft,
      args: seq2SeqTrainingArguments({ outputDir, maxSteps: 2, perDeviceTrainBatchSize: 4, evalStrategy: 'steps', evalSteps: 1, loggingSteps: 1,
        predictWithGenerate: true, generationMaxLength: 3, saveStrategy: 'steps', saveSteps: 1, learningRate: 1e-2 }),
      trainDataset: tinyDataset(8), evalDataset: tinyDataset(2, 'eval'),
      computeMetrics: () => ({ wer: wers[calls++] }),
    });
    try {
      await trainer.train();
      trainer.createModelCard({ language: 'vi', datasets: ['mozilla-foundation/common_voice_11_0'], datasetConfig: 'vi', datasetSplit: 'test' });
      await assert.rejects(trainer.pushToHub('me/tiny-lora'), /no token: set HF_TOKEN/);
      const out = await trainer.pushToHub('me/tiny-lora', { token: hub.token, commitMessage: 'first adapter' });
      assert.match(out.commit, /^[0-9a-f]{40}$/);
      assert.ok(fs.readdirSync(outputDir).some((n) => n.startsWith('checkpoint-')), 'the run folder is left as it was');
      const saved = path.join(tmp, 'saved');
      trainer.saveModel(saved);
      const local = folderFiles(saved);
      const remote = pushed(hub, 'me/tiny-lora');
      assert.deepEqual([...remote.keys()].sort(), ['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
      assert.deepEqual([...remote.keys()].sort(), [...local.keys()].sort());
      for (const [name, data] of local) assert.ok(remote.get(name)!.equals(data), `${name} uploaded as saveModel writes it`);
      assert.ok(hub.requests.some((r) => r.startsWith('PUT /lfs/')), 'the weights went through LFS');

      const card = remote.get(MODEL_CARD_NAME)!.toString();
      const meta = frontMatter(card);
      assert.equal(meta.library_name, 'peft');
      assert.deepEqual(meta.language, ['vi']);
      assert.deepEqual(meta.datasets, ['mozilla-foundation/common_voice_11_0']);
      assert.deepEqual(meta.metrics, ['wer']);
      assert.ok(meta.tags.includes('peft') && meta.tags.includes('lora'));
      const result = meta['model-index'][0].results[0];
      assert.equal(meta['model-index'][0].name, 'me/tiny-lora');
      assert.deepEqual(result.metrics, [{ type: 'wer', value: 42.25, name: 'Wer' }]);
      assert.deepEqual(result.dataset, { name: 'mozilla-foundation/common_voice_11_0', type: 'mozilla-foundation/common_voice_11_0', config: 'vi', split: 'test' });
      assert.match(card, /\| Training Loss \| Epoch \| Step \| Validation Loss \| Wer \|/);
      assert.match(card, /\| 2 \| [\d.]+ \| 42\.25 \|/);
      assert.match(card, /- learningRate: 0\.01/);
      // adding the language to the saved card keeps the trainer's table and hyperparameters
      updateModelCard(saved, { language: 'en', tags: ['medical'] });
      const updated = fs.readFileSync(path.join(saved, MODEL_CARD_NAME), 'utf8');
      assert.deepEqual(frontMatter(updated).language, ['en']);
      assert.ok(frontMatter(updated).tags.includes('medical') && frontMatter(updated).tags.includes('peft'));
      assert.equal(frontMatter(updated)['model-index'][0].results[0].metrics[0].value, 42.25);
      assert.match(updated, /\| 2 \| [\d.]+ \| 42\.25 \|/);
      // a second push to the same repository is a new commit on it (createRepo's 409 is fine)
      const again = await trainer.pushToHub('me/tiny-lora', { token: hub.token });
      assert.notEqual(again.commit, out.commit);
    } finally {
      trainer.dispose();
      peft.dispose();
      model.dispose();
    }
  });

  it('saveAdapter writes the card; PeftModel.pushToHub and a full model folder push too', async () => {
    const model = tinyModel();
    const peft = getPeftModel(model, new LoraConfig({ r: 2, loraAlpha: 4, targetModules: ['q_proj'] }), { seed: 2 });
    try {
      const dir = path.join(tmp, 'adapter');
      peft.saveAdapter(dir);
      assert.deepEqual(fs.readdirSync(dir).sort(), ['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
      assert.equal(frontMatter(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).library_name, 'peft');
      await peft.pushToHub('me/adapter-only', { token: hub.token, private: true, card: { language: ['br'] } });
      const remote = pushed(hub, 'me/adapter-only');
      assert.deepEqual([...remote.keys()].sort(), ['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
      assert.ok(remote.get('adapter_model.safetensors')!.equals(fs.readFileSync(path.join(dir, 'adapter_model.safetensors'))));
      assert.deepEqual(frontMatter(remote.get('README.md')!.toString()).language, ['br']);
      assert.ok(hub.repos.get('model:me/adapter-only')!.private);

      const full = path.join(tmp, 'full');
      model.savePretrained(full);
      await pushToHub(full, 'me/full-model', { token: hub.token, card: { baseModel: 'openai/whisper-tiny', metrics: { eval_wer: 12.5 } } });
      const files = pushed(hub, 'me/full-model');
      assert.deepEqual([...files.keys()].sort(), fs.readdirSync(full).sort());
      const meta = frontMatter(files.get('README.md')!.toString());
      assert.equal(meta.library_name, 'transformers');
      assert.equal(meta.base_model, 'openai/whisper-tiny');
      assert.equal(meta['model-index'][0].results[0].metrics[0].value, 12.5);
    } finally {
      peft.dispose();
      model.dispose();
    }
  });

  it('refusals are clear: no folder, no model files, a bad repo id, a bad token', async () => {
    await assert.rejects(pushToHub(path.join(tmp, 'nope'), 'me/x', { token: hub.token }), /nope is not a folder/);
    fs.mkdirSync(path.join(tmp, 'empty'));
    await assert.rejects(pushToHub(path.join(tmp, 'empty'), 'me/x', { token: hub.token }), /neither adapter_config\.json .* nor config\.json/);
    await assert.rejects(pushToHub(path.join(tmp, 'adapter'), '../x', { token: hub.token }), /not a Hub repo id/);
    await assert.rejects(pushToHub(path.join(tmp, 'adapter'), 'me/x', { token: 'hf_wrong' }), /me\/x: Invalid credentials/);
  });

  it('card text with YAML specials is quoted (it parses back to the same values)', () => {
    const tricky = ['vi: "x"', '- [a]', '#x', 'yes', '0.5', 'null'];
    const meta = frontMatter(modelCard({ tags: tricky, datasets: tricky, modelName: 'a: b', metrics: { eval_wer: 0.5 } }));
    assert.deepEqual(meta.datasets, tricky);
    assert.ok(tricky.every((t) => meta.tags.includes(t)));
    assert.equal(meta['model-index'][0].name, 'a: b');
  });
});
