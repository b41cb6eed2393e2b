/**
 * Loading errors: config fields, safetensors headers, shapes, languages. Every broken checkpoint
 * must be rejected before one tensor is allocated, with the file and tensor named.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, tf } from '../src/backend';
import { WhisperConfig } from '../src/model/config';
import { languageCode, readSpecialTokens, specialTokensFromConfig } from '../src/tokenizer/special';
import { decodeTensorBytes, loadSafetensorsCheckpoint, readSafetensorsHeader, saveSafetensors } from '../src/model/safetensors';
import { expectedWeightShapes, WhisperForConditionalGeneration } from '../src/model/whisper';
import { sharedDir } from '../tools/shared';

const TINY = () => sharedDir('models', 'whisper-tiny');

/** A model folder with the real config.json and the given safetensors bytes. */
function folderWith(weights: Buffer | null): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-load-'));
  fs.copyFileSync(path.join(TINY(), 'config.json'), path.join(dir, 'config.json'));
  if (weights) fs.writeFileSync(path.join(dir, 'model.safetensors'), weights);
  return dir;
}

function safetensorsBytes(header: Record<string, unknown>, dataBytes: number, headerLenOverride?: number): Buffer {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerLenOverride ?? h.length));
  return Buffer.concat([len, h, Buffer.alloc(dataBytes)]);
}

async function rejectsWithoutTensors(dir: string, pattern: RegExp): Promise<void> {
  const before = tf.memory().numTensors;
  await assert.rejects(WhisperForConditionalGeneration.fromPretrained(dir), pattern);
  assert.equal(tf.memory().numTensors, before, 'no tensor may be allocated for a broken checkpoint');
}

describe('model loading', function () {
  before(async () => {
    await initBackend();
  });

  it('reads config.json + generation_config.json of whisper-tiny', () => {
    const c = WhisperConfig.fromFile(path.join(TINY(), 'config.json'));
    assert.equal(c.dModel, 384);
    assert.equal(c.encoderLayers, 4);
    assert.equal(c.decoderAttentionHeads, 6);
    assert.equal(c.numMelBins, 80);
    assert.equal(c.vocabSize, 51865);
    assert.equal(c.maxSourcePositions, 1500);
    assert.deepEqual(c.beginSuppressTokens, [220, 50257]);
    assert.equal(c.suppressTokens.length, 88);
    assert.equal(c.langToId['<|fr|>'], 50265);
    // By text from tokenizer.json, and by transformers' rule from generation_config.json: the same ids.
    const byText = readSpecialTokens(TINY(), c);
    assert.deepEqual(specialTokensFromConfig(c), byText);
    const sp = byText;
    assert.deepEqual([sp.sot, sp.eot, sp.transcribe, sp.translate, sp.noTimestamps, sp.sotPrev, sp.sotLm, sp.noSpeech, sp.timestampBegin],
      [50258, 50257, 50359, 50358, 50363, 50361, 50360, 50362, 50364]);
    assert.equal(sp.languages.length, 99);
  });

  it('config validation names the field; large-v3 sizes are accepted', () => {
    const base = JSON.parse(fs.readFileSync(path.join(TINY(), 'config.json'), 'utf8'));
    assert.throws(() => WhisperConfig.fromJSON({ ...base, d_model: -1 }, 'x/config.json'), /x\/config\.json: field 'd_model'/);
    assert.throws(() => WhisperConfig.fromJSON({ ...base, encoder_attention_heads: 5 }, 'c.json'), /'encoder_attention_heads'/);
    assert.throws(() => WhisperConfig.fromJSON({ ...base, eos_token_id: 99999 }, 'c.json'), /'eos_token_id'/);
    const v3 = WhisperConfig.fromJSON({ ...base, d_model: 1280, encoder_layers: 32, decoder_layers: 32,
      encoder_attention_heads: 20, decoder_attention_heads: 20, encoder_ffn_dim: 5120, decoder_ffn_dim: 5120,
      num_mel_bins: 128, vocab_size: 51866 });
    assert.deepEqual(expectedWeightShapes(v3).get('model.encoder.conv1.weight'), [1280, 128, 3]);
    const sp = specialTokensFromConfig(WhisperConfig.fromJSON({ ...base, vocab_size: 51866, decoder_start_token_id: 50258 }));
    assert.equal(sp.languages.find((l) => l.code === 'yue')?.id, 50358);
    assert.equal(sp.transcribe, 50360);
  });

  it('hostile sizes in config.json fail at once with the field named (encoder_layers: 1e9)', async () => {
    const base = JSON.parse(fs.readFileSync(path.join(TINY(), 'config.json'), 'utf8'));
    assert.throws(() => WhisperConfig.fromJSON({ ...base, encoder_layers: 1e9 }, 'c.json'),
      /c\.json: field 'encoder_layers' must be a whole number in 1\.\.128, got 1000000000/);
    assert.throws(() => WhisperConfig.fromJSON({ ...base, vocab_size: 2 ** 40 }, 'c.json'), /field 'vocab_size' must be a whole number in 1\.\.1000000/);
    assert.throws(() => WhisperConfig.fromJSON({ ...base, d_model: 8192, encoder_attention_heads: 64, decoder_attention_heads: 64,
      encoder_layers: 128, decoder_layers: 128, encoder_ffn_dim: 65536, decoder_ffn_dim: 65536 }, 'c.json'),
    /c\.json: fields 'd_model', '\*_layers' and '\*_ffn_dim' describe a model of \d+\.\d billion parameters, more than the 10 billion/);
    const dir = folderWith(null);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...base, encoder_layers: 1e9 }));
    fs.copyFileSync(path.join(TINY(), 'model.safetensors'), path.join(dir, 'model.safetensors'));
    const t0 = performance.now();
    await rejectsWithoutTensors(dir, /config\.json: field 'encoder_layers'/);
    assert.ok(performance.now() - t0 < 5000, `took ${performance.now() - t0} ms`);
  });

  it('broken generation_config.json, dtype "constructor", oversized headers name the file and field', async () => {
    const dir = folderWith(null);
    fs.copyFileSync(path.join(TINY(), 'model.safetensors'), path.join(dir, 'model.safetensors'));
    fs.writeFileSync(path.join(dir, 'generation_config.json'), '{"suppress_tokens": [1, 2,');
    assert.throws(() => WhisperConfig.fromFile(path.join(dir, 'config.json')), /generation_config\.json: not valid JSON/);
    fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ lang_to_id: { '<|en|>': 'x' } }));
    assert.throws(() => WhisperConfig.fromFile(path.join(dir, 'config.json')),
      /generation_config\.json: field 'lang_to_id' must map token texts to token ids below 51865/);
    fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ suppress_tokens: [1, 1e12] }));
    assert.throws(() => WhisperConfig.fromFile(path.join(dir, 'config.json')), /generation_config\.json: field 'suppress_tokens' must be a list of token ids below 51865/);
    for (const dtype of ['constructor', 'toString', '__proto__']) {
      await rejectsWithoutTensors(folderWith(safetensorsBytes({ a: { dtype, shape: [2], data_offsets: [0, 8] } }, 8)),
        new RegExp(`model\\.safetensors: tensor 'a': unsupported dtype "${dtype}" \\(supported: F32, F16, BF16\\)`));
    }
    await rejectsWithoutTensors(folderWith(safetensorsBytes({ __metadata__: 7 }, 0)), /model\.safetensors: '__metadata__' must be an object of strings/);
    // A 160 MB file (sparse: nothing is written) whose first 8 bytes declare a 150 MB header.
    const sparse = folderWith(Buffer.from(new BigUint64Array([150_000_000n]).buffer));
    fs.truncateSync(path.join(sparse, 'model.safetensors'), 160_000_000);
    await rejectsWithoutTensors(sparse, /model\.safetensors: header length 150000000 is over the format's limit/);
  });

  it('F16 / BF16 / F32 decoding', () => {
    const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7bff]).buffer);
    assert.deepEqual(Array.from(decodeTensorBytes(f16, 'F16')), [1, -2, 2 ** -24, 65504]);
    const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc0a0]).buffer);
    assert.deepEqual(Array.from(decodeTensorBytes(bf16, 'BF16')), [1, -5]);
    const f32 = new Uint8Array(new Float32Array([0.25, -3.5]).buffer);
    assert.deepEqual(Array.from(decodeTensorBytes(f32, 'F32')), [0.25, -3.5]);
  });

  it('the real header validates: 167 tensors, tied proj_out absent', () => {
    const h = readSafetensorsHeader(path.join(TINY(), 'model.safetensors'));
    assert.equal(h.tensors.size, 167);
    assert.equal(h.tensors.get('model.decoder.embed_tokens.weight')!.dtype, 'F16');
    assert.equal(h.tensors.has('proj_out.weight'), false);
  });

  it('missing model folder / weights file is named', async () => {
    await rejectsWithoutTensors('/nonexistent/whisper-dir', /neither an existing folder nor a Hugging Face model id/);
    await rejectsWithoutTensors(folderWith(null), /no model\.safetensors or model\.safetensors\.index\.json/);
  });

  it('header length beyond the file is rejected before allocating', async () => {
    const dir = folderWith(safetensorsBytes({}, 0, 1 << 30));
    await rejectsWithoutTensors(dir, /model\.safetensors: header length 1073741824 goes beyond the end of the file/);
  });

  it('a truncated real checkpoint (first 1 MB) names the first tensor out of range', async () => {
    const real = fs.openSync(path.join(TINY(), 'model.safetensors'), 'r');
    const buf = Buffer.alloc(1 << 20);
    fs.readSync(real, buf, 0, buf.length, 0);
    fs.closeSync(real);
    await rejectsWithoutTensors(folderWith(buf), /model\.safetensors: tensor '[^']+': data_offsets \[\d+, \d+\] out of range/);
  });

  it('offsets out of range, overlapping, size mismatch, unknown dtype', async () => {
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8, /tensor 'a': data_offsets \[0, 16\] out of range \(data section is 8 bytes\)/],
      [{ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12, /tensors 'a' and 'b' overlap/],
      [{ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8, /tensor 'a': 8 bytes but shape \[3\] of F32 needs 12/],
      [{ a: { dtype: 'I8', shape: [8], data_offsets: [0, 8] } }, 8, /tensor 'a': unsupported dtype "I8"/],
    ];
    for (const [header, n, re] of cases) await rejectsWithoutTensors(folderWith(safetensorsBytes(header, n)), re);
  });

  it('a tensor shaped unlike the config, and a missing tensor, are named', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-shape-'));
    fs.copyFileSync(path.join(TINY(), 'config.json'), path.join(dir, 'config.json'));
    saveSafetensors(path.join(dir, 'model.safetensors'), {
      'model.encoder.conv1.weight': { shape: [384, 128, 3], data: new Float32Array(384 * 128 * 3) },
    });
    await rejectsWithoutTensors(dir, /tensor 'model\.encoder\.conv1\.weight' has shape \[384,128,3\] but the config expects \[384,80,3\]/);
    saveSafetensors(path.join(dir, 'model.safetensors'), {
      'model.encoder.conv1.weight': { shape: [384, 80, 3], data: new Float32Array(384 * 80 * 3) },
    });
    await rejectsWithoutTensors(dir, /tensor 'model\.encoder\.conv1\.bias' is missing \(expected shape \[384\]\)/);
  });

  it('sharded checkpoints load through model.safetensors.index.json', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-shards-'));
    saveSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), { a: { shape: [2], data: new Float32Array([1, 2]) } });
    saveSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), { b: { shape: [1, 2], data: new Float32Array([3, 4]) } });
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({
      weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' },
    }));
    const w = loadSafetensorsCheckpoint(dir, new Map([['a', [2]], ['b', [1, 2]]]));
    assert.deepEqual(Array.from(w.get('b')!.data), [3, 4]);
    fs.rmSync(path.join(dir, 'model-00002-of-00002.safetensors'));
    assert.throws(() => loadSafetensorsCheckpoint(dir), /shard .*model-00002-of-00002\.safetensors is missing/);
  });

  it('an unknown language names the valid codes', () => {
    const sp = specialTokensFromConfig(WhisperConfig.fromFile(path.join(TINY(), 'config.json')));
    assert.equal(languageCode('French', sp), 'fr');
    assert.equal(languageCode('castilian', sp), 'es');
    assert.equal(languageCode('<|vi|>', sp), 'vi');
    assert.throws(() => languageCode('klingon', sp), /Unknown language 'klingon'\. Valid codes: en, .*\bfr\b.*\bbr\b/);
  });
});
