/**
 * Layer weights kept as float16 or int8 bytes (FromPretrainedOptions.weightsDtype,
 * src/backend/quantized.ts): exact float16 conversion, the real whisper-tiny (a float16
 * checkpoint) giving the same tokens from float16 bytes, and the memory it saves.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import { dequantize, initBackend, tf, toFloat16 } from '../src/backend';
import { WhisperForConditionalGeneration } from '../src/model/whisper';
import { sharedDir } from '../tools/shared';

function f32(file: string): Float32Array {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

describe('weights kept as float16 / int8 bytes', function () {
  this.timeout(10 * 60_000);

  before(async () => {
    await initBackend();
  });

  it('float16: every half value round-trips exactly; float32 values round to nearest even', () => {
    const halves = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const back = dequantize({ dtype: 'float16', data: halves, shape: [256, 256] });
    const again = toFloat16(back, [256, 256]).data;
    for (let i = 0; i < 65536; i++) {
      const nan = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (nan) assert.ok(Number.isNaN(back[i]) && (again[i] & 0x7c00) === 0x7c00 && (again[i] & 0x3ff) !== 0);
      else assert.equal(again[i], i, `half 0x${i.toString(16)}`);
    }
    // Halfway between two halves goes to the even one; just above it, up; overflow to infinity.
    const cases: [number, number][] = [[1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [1 + 2 ** -11 + 2 ** -20, 0x3c01],
      [65520, 0x7c00], [65519, 0x7bff], [2 ** -25, 0x0000], [2 ** -25 + 2 ** -35, 0x0001], [-0, 0x8000], [3 * 2 ** -25, 0x0002]];
    const got = toFloat16(Float32Array.from(cases.map(([v]) => v)), [1, cases.length]).data;
    cases.forEach(([v, h], i) => assert.equal(got[i], h, `${v} -> 0x${got[i].toString(16)}, want 0x${h.toString(16)}`));
  });

  it('whisper-tiny from float16 bytes: the same weights, encoder output within float32 rounding, the same jfk tokens, less memory', async () => {
    const dir = sharedDir('models', 'whisper-tiny');
    const before = tf.memory();
    const full = await WhisperForConditionalGeneration.fromPretrained(dir);
    const fullBytes = tf.memory().numBytes - before.numBytes;
    const half = await WhisperForConditionalGeneration.fromPretrained(dir, { weightsDtype: 'float16' });
    const halfBytes = tf.memory().numBytes - before.numBytes - fullBytes;
    const layerLinears = half.linears().filter((l) => l.name !== 'proj_out');
    assert.ok(layerLinears.every((l) => l.quantized?.dtype === 'float16' && l.weight.isDisposed));
    const byName = new Map(full.linears().map((l) => [l.name, l]));
    for (const l of layerLinears) {
      assert.deepEqual(dequantize(l.quantized!), byName.get(l.name)!.weight.dataSync(), `${l.name}: the checkpoint's float16 values`);
    }
    const layerBytes = layerLinears.reduce((s, l) => s + l.quantized!.data.byteLength, 0);
    console.log(`      tensor memory: float32 ${(fullBytes / 2 ** 20).toFixed(0)} MiB, float16 layers ${(halfBytes / 2 ** 20).toFixed(0)} MiB ` +
      `(+ ${(layerBytes / 2 ** 20).toFixed(0)} MiB of bytes outside the backend)`);
    assert.ok(halfBytes <= fullBytes - 2 * layerBytes, 'the float32 layer weights (and any transposed copies) are not in backend memory');

    const mel = tf.tensor3d(f32(sharedDir('reference', 'whisper-tiny', 'fixtures', 'jfk.logmel.f32')), [1, 80, 3000]);
    const [a, b] = [full.encode(mel), half.encode(mel)];
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
    // The same weights; on the native path the float32 model's Linears are oneDNN's fused product
    // and the float16 model's a dequantized weight through sgemm: two summation orders, whose
    // float32 rounding grows through 4 layers to a few 1e-4 on values up to 17 (1e-4 on wasm alone).
    assert.ok(diff < 1e-3, `encoder outputs differ by ${diff}`);
    const [ga, gb] = [await full.generate(mel, { language: 'en' }), await half.generate(mel, { language: 'en' })];
    assert.deepEqual(gb.sequences, ga.sequences);
    tf.dispose([mel, a, b]);
    full.dispose();
    half.dispose();
    assert.equal(tf.memory().numTensors, before.numTensors);
  });
});
