/**
 * exportModel / npm run export: the ggml file whisper.cpp (npm @napi-rs/whisper) runs, with the
 * same text as this project's `transcribe`, for the base and for a merged fine-tuned adapter; the
 * merged safetensors folder reloads with the logits of base + adapter.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadAudio } from '../src/audio/decode';
import { initBackend, tf } from '../src/backend';
import { dequantize } from '../src/backend/quantized';
import { exportModel } from '../src/export/export';
import { ggmlBytes, quantizeQ8_0 } from '../src/export/ggml';
import { WhisperFeatureExtractor } from '../src/features/logmel';
import { PeftModel } from '../src/lora/peft';
import { CHECKPOINT_FILES, WEIGHTS_INDEX_NAME } from '../src/model/files';
import { transcribe } from '../src/model/transcribe';
import { WhisperForConditionalGeneration } from '../src/model/whisper';
import { WhisperTokenizer } from '../src/tokenizer/whisper';
import { sharedDir } from '../tools/shared';
import { whisperCpp } from '../tools/whisperCpp';
import { runExport } from '../apps/cli/export';
import { trainQuickAdapter, JFK_UPPER } from './helpers/quickAdapter';
import { tinyModel } from './lora.helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'export-'));
const base = () => sharedDir('models', 'whisper-tiny');

/** jfk and the first three librispeech-mini test clips. */
async function clips(): Promise<Float32Array[]> {
  const split = sharedDir('datasets', 'librispeech-mini', 'test');
  const files = fs.readFileSync(path.join(split, 'metadata.csv'), 'utf8').trim().split('\n').slice(1, 4).map((l) => path.join(split, l.split(',')[0]));
  return Promise.all([sharedDir('datasets', 'samples', 'jfk.flac'), ...files].map((f) => loadAudio(f)));
}

/** This project's text for each clip: the model (with its LoRA branches, if any) through `transcribe`. */
async function ours(model: WhisperForConditionalGeneration, audios: Float32Array[]): Promise<string[]> {
  const pipe = { model, tokenizer: await WhisperTokenizer.fromPretrained(base()), featureExtractor: WhisperFeatureExtractor.fromPretrained(base()), dir: base() };
  const out: string[] = [];
  for (const a of audios) out.push((await transcribe(pipe, a, { language: 'en' }))[0].text.trim());
  return out;
}

describe('export', function () {
  this.timeout(900_000);
  before(() => initBackend());
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('q8_0 blocks: float16 absmax/127 scale + 32 int8, within half a step of the values', () => {
    const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * (i < 32 ? 1 : 0.01));
    const b = quantizeQ8_0(x);
    assert.equal(b.length, 2 * 34);
    for (let blk = 0; blk < 2; blk++) {
      const scale = dequantize({ dtype: 'float16', data: new Uint16Array([b.readUInt16LE(blk * 34)]), shape: [1, 1] })[0];
      for (let i = 0; i < 32; i++) assert.ok(Math.abs(b.readInt8(blk * 34 + 2 + i) * scale - x[blk * 32 + i]) <= scale * 0.51, `block ${blk} value ${i}`);
    }
    assert.throws(() => quantizeQ8_0(new Float32Array(33)), /not a multiple of 32/);
  });

  it('ggml header: magic, hyper-parameters, the ftype of each type; every tensor in openai names', () => {
    const m = tinyModel();
    const vocab = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [String.fromCharCode(97 + (i % 26)) + i, i]));
    for (const [type, ftype] of [['f32', 0], ['f16', 1], ['q8_0', 2007]] as const) {
      const b = ggmlBytes(m.config, Object.entries(m.stateDict()), vocab, type);
      assert.equal(b.readUInt32LE(0), 0x67676d6c);
      assert.equal(b.readInt32LE(4), 40, 'n_vocab');
      assert.equal(b.readInt32LE(44), ftype, `${type} ftype`);
      assert.ok(b.includes(Buffer.from('decoder.blocks.0.cross_attn.query.weight')));
    }
    m.dispose();
  });

  it('whisper-tiny f16 and q8_0: whisper.cpp transcribes jfk and librispeech clips with the text of transcribe; f32 loads', async () => {
    const audios = await clips();
    const f16 = path.join(tmp, 'base-f16.bin');
    await runExport(['--model', base(), '--format', 'ggml', '--out', f16], () => undefined);
    const model = await WhisperForConditionalGeneration.fromPretrained(base());
    const expected = await ours(model, audios);
    model.dispose();
    const cpp = whisperCpp(f16);
    assert.deepEqual(audios.map(cpp), expected);
    const q8 = await exportModel({ model: base(), format: 'ggml', ggmlType: 'q8_0', out: path.join(tmp, 'base-q8.bin') });
    assert.ok(fs.statSync(q8).size < 0.6 * fs.statSync(f16).size, 'q8_0 is about half of f16');
    assert.equal(whisperCpp(q8)(audios[0]), expected[0], 'q8_0: jfk');
    // The prebuilt whisper.cpp asserts F16 conv kernels when it runs an F32 file (whisper.cpp#2557): loading is what can be checked.
    const f32 = await exportModel({ model: base(), format: 'ggml', ggmlType: 'f32', out: path.join(tmp, 'base-f32.bin') });
    const { Whisper } = require('@napi-rs/whisper') as typeof import('@napi-rs/whisper');
    assert.equal(new Whisper(fs.readFileSync(f32)).modelFtype, 0);
  });

  describe('a trained adapter', () => {
    let adapter: string;
    before(async () => {
      adapter = await trainQuickAdapter(path.join(tmp, 'adapter'));
    });

    it('merged into a ggml file: whisper.cpp gives the text of this project running the adapter, which differs from the base', async () => {
      const audios = await clips();
      const model = await WhisperForConditionalGeneration.fromPretrained(base());
      const baseText = await ours(model, audios);
      PeftModel.fromPretrained(model, adapter);
      const expected = await ours(model, audios);
      model.dispose();
      assert.equal(expected[0], JFK_UPPER, 'the adapter learned its upper-case transcript');
      assert.notDeepEqual(expected, baseText);
      const file = await exportModel({ model: base(), adapter, format: 'ggml', out: path.join(tmp, 'tuned.bin') });
      assert.deepEqual(audios.map(whisperCpp(file)), expected);
    });

    it('--format safetensors: a merged HF folder with a model card that reloads with the logits of base + adapter', async () => {
      const out = path.join(tmp, 'merged');
      await runExport(['--model', base(), '--adapter', adapter, '--format', 'safetensors', '--out', out], () => undefined);
      for (const f of CHECKPOINT_FILES.filter((f) => f !== WEIGHTS_INDEX_NAME && fs.existsSync(path.join(base(), f)))) {
        assert.ok(fs.existsSync(path.join(out, f)), `${f} written`);
      }
      const card = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
      assert.match(card, /^---\n[^]*library_name: transformers\n[^]*---\n/);
      assert.match(card, /Adapter: `.*adapter` merged into `.*whisper-tiny`/);
      const withAdapter = await WhisperForConditionalGeneration.fromPretrained(base());
      PeftModel.fromPretrained(withAdapter, adapter);
      const merged = await WhisperForConditionalGeneration.fromPretrained(out);
      const feats = tf.tensor3d(WhisperFeatureExtractor.fromPretrained(base()).extract(await loadAudio(sharedDir('datasets', 'samples', 'jfk.flac'))), [1, 80, 3000]);
      const ids = tf.tensor2d([[50258, 50259, 50359, 50363, 400, 370]], undefined, 'int32');
      const a = withAdapter.forward(feats, ids);
      const b = merged.forward(feats, ids);
      const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
      const scale = tf.max(tf.abs(a)).dataSync()[0];
      assert.ok(diff < 1e-4 * scale, `max |logit difference| ${diff} (logits up to ${scale})`);
      tf.dispose([feats, ids, a, b]);
      withAdapter.dispose();
      merged.dispose();
    });
  });
});

