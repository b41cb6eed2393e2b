/**
 * Random-weight checkpoints of the released Whisper sizes' real shapes, for benchmarks (never
 * committed): out/sizes/<size>/ with config.json (whisper-tiny's, with the size's fields) and a
 * float16 model.safetensors of uniform random weights (layer norms 1). Used by bench/sizes.ts and
 * bench/lora-sizes.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { toFloat16 } from '../src/backend';
import { expectedWeightShapes } from '../src/model/whisper';
import { WhisperConfig } from '../src/model/config';
import { PROJECT_ROOT, sharedDir } from '../tools/shared';

/** The fields in which the released checkpoints differ from whisper-tiny's config.json. */
export const SIZES: Record<string, Record<string, number>> = {
  base: { d_model: 512, encoder_layers: 6, decoder_layers: 6, encoder_attention_heads: 8, decoder_attention_heads: 8, encoder_ffn_dim: 2048, decoder_ffn_dim: 2048 },
  small: { d_model: 768, encoder_layers: 12, decoder_layers: 12, encoder_attention_heads: 12, decoder_attention_heads: 12, encoder_ffn_dim: 3072, decoder_ffn_dim: 3072 },
  medium: { d_model: 1024, encoder_layers: 24, decoder_layers: 24, encoder_attention_heads: 16, decoder_attention_heads: 16, encoder_ffn_dim: 4096, decoder_ffn_dim: 4096 },
  'large-v3': { d_model: 1280, encoder_layers: 32, decoder_layers: 32, encoder_attention_heads: 20, decoder_attention_heads: 20, encoder_ffn_dim: 5120, decoder_ffn_dim: 5120, num_mel_bins: 128, vocab_size: 51866 },
};
const OUT = path.join(PROJECT_ROOT, 'out', 'sizes');

/** out/sizes/<size>/: config.json and a float16 model.safetensors of uniform random weights (layer norms 1). */
export function ensureCheckpoint(size: string): string {
  if (!SIZES[size]) throw new Error(`random checkpoint: size ${size} is not one of ${Object.keys(SIZES).join(', ')}`);
  const dir = path.join(OUT, size);
  const file = path.join(dir, 'model.safetensors');
  const json = { ...JSON.parse(fs.readFileSync(sharedDir('models', 'whisper-tiny', 'config.json'), 'utf8')), ...SIZES[size],
    _name_or_path: `random-${size}`, num_hidden_layers: SIZES[size].encoder_layers };
  const config = WhisperConfig.fromJSON(json, size);
  const shapes = [...expectedWeightShapes(config)].filter(([name]) => name !== 'proj_out.weight');
  if (fs.existsSync(file)) return dir;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(json, null, 2));
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, shape] of shapes) {
    const bytes = 2 * shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: 'F16', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let hs = JSON.stringify(header);
  hs += ' '.repeat((8 - (hs.length % 8)) % 8);
  const fd = fs.openSync(`${file}.tmp`, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hs.length));
  fs.writeSync(fd, len);
  fs.writeSync(fd, hs);
  let seed = 12345;
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    if (/layer_norm\.weight$/.test(name)) values.fill(1);
    else for (let i = 0; i < n; i++) values[i] = ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.1;
    const half = toFloat16(values, [1, n]).data;
    fs.writeSync(fd, new Uint8Array(half.buffer, half.byteOffset, half.byteLength));
  }
  fs.closeSync(fd);
  fs.renameSync(`${file}.tmp`, file);
  return dir;
}
