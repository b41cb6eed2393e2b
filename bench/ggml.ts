/**
 * Hugging Face Whisper checkpoint -> whisper.cpp ggml file, for the whisper.cpp anchor of the
 * benchmarks (dev only). The layout of whisper.cpp's models/convert-h5-to-ggml.py:
 *
 * - header: magic "ggml", n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
 *   n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype (1 = F16), as int32;
 * - mel filters: n_mels, n_fft / 2 + 1, then the float32 filter bank (librosa's Slaney filters,
 *   the same numbers as openai's mel_filters.npz);
 * - vocabulary: the count, then each BPE token as its length and raw bytes (vocab.json without
 *   <|endoftext|>; whisper.cpp adds the special tokens itself);
 * - tensors in openai's names (`decoder.blocks.0.cross_attn.query.weight`): n_dims, name length,
 *   ftype, the dims innermost first, the name, the data. Matrices are F16; 1-D tensors, the conv
 *   biases (as [n, 1]) and both positional embeddings are F32. proj_out is tied to the token
 *   embedding and not written.
 *
 *   npx tsx bench/ggml.ts HF_DIR OUT.bin
 */
import * as fs from 'fs';
import * as path from 'path';
import { WhisperConfig } from '../src/model/config';
import { loadSafetensorsCheckpoint } from '../src/model/safetensors';
import { expectedWeightShapes } from '../src/model/whisper';
import { melFilterBank } from '../src/features/melFilters';
import { parseFlags } from '../apps/args';

const LAYER_NAMES: Record<string, string> = {
  'self_attn.k_proj': 'attn.key', 'self_attn.q_proj': 'attn.query', 'self_attn.v_proj': 'attn.value',
  'self_attn.out_proj': 'attn.out', self_attn_layer_norm: 'attn_ln', 'encoder_attn.q_proj': 'cross_attn.query',
  'encoder_attn.k_proj': 'cross_attn.key', 'encoder_attn.v_proj': 'cross_attn.value', 'encoder_attn.out_proj': 'cross_attn.out',
  encoder_attn_layer_norm: 'cross_attn_ln', fc1: 'mlp.0', fc2: 'mlp.2', final_layer_norm: 'mlp_ln',
};
const OTHER_NAMES: Record<string, string> = {
  'encoder.layer_norm.bias': 'encoder.ln_post.bias', 'encoder.layer_norm.weight': 'encoder.ln_post.weight',
  'encoder.embed_positions.weight': 'encoder.positional_embedding', 'decoder.layer_norm.bias': 'decoder.ln.bias',
  'decoder.layer_norm.weight': 'decoder.ln.weight', 'decoder.embed_positions.weight': 'decoder.positional_embedding',
  'decoder.embed_tokens.weight': 'decoder.token_embedding.weight',
};

/** HF name -> openai/whisper.cpp name. */
export function ggmlName(hf: string): string {
  const parts = hf.split('.').slice(1); // drop "model"
  if (parts[1] === 'layers') {
    const module = parts.slice(3, -1).join('.');
    const mapped = LAYER_NAMES[module];
    if (!mapped) throw new Error(`ggml: no whisper.cpp name for ${hf}`);
    return [parts[0], 'blocks', parts[2], mapped, parts[parts.length - 1]].join('.');
  }
  const n = parts.join('.');
  return OTHER_NAMES[n] ?? n;
}

/** IEEE half precision bits of a float32 value (round to nearest even). */
export function toHalf(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

function bytesToUnicode(): Map<string, number> {
  const bs: number[] = [];
  for (let i = '!'.charCodeAt(0); i <= '~'.charCodeAt(0); i++) bs.push(i);
  for (let i = '¡'.charCodeAt(0); i <= '¬'.charCodeAt(0); i++) bs.push(i);
  for (let i = '®'.charCodeAt(0); i <= 'ÿ'.charCodeAt(0); i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return new Map(cs.map((c, i) => [String.fromCharCode(c), bs[i]]));
}

/** Writes the ggml file of the checkpoint in `dir`. */
export function convertToGgml(dir: string, out: string): void {
  const c = WhisperConfig.fromFile(path.join(dir, 'config.json'));
  const weights = loadSafetensorsCheckpoint(dir, expectedWeightShapes(c), new Set(['proj_out.weight']));
  const chunks: Buffer[] = [];
  const ints = (...xs: number[]) => {
    const b = Buffer.alloc(4 * xs.length);
    xs.forEach((x, i) => b.writeInt32LE(x, 4 * i));
    chunks.push(b);
  };
  const maxLength = Number(c.raw.maxLength ?? c.maxTargetPositions);
  ints(0x67676d6c, c.vocabSize, c.maxSourcePositions, c.dModel, c.encoderAttentionHeads, c.encoderLayers,
    maxLength, c.dModel, c.decoderAttentionHeads, c.decoderLayers, c.numMelBins, 1);
  const nFft = 400;
  const filters = melFilterBank(16000, nFft, c.numMelBins);
  ints(c.numMelBins, nFft / 2 + 1);
  chunks.push(Buffer.from(filters.buffer, filters.byteOffset, filters.byteLength));

  const vocab: Record<string, number> = JSON.parse(fs.readFileSync(path.join(dir, 'vocab.json'), 'utf8'));
  delete vocab['<|endoftext|>'];
  const byteOf = bytesToUnicode();
  const tokens = Object.entries(vocab).sort((a, b) => a[1] - b[1]);
  ints(tokens.length);
  for (const [text] of tokens) {
    const bytes = Buffer.from([...text].map((ch) => {
      const b = byteOf.get(ch);
      if (b === undefined) throw new Error(`ggml: vocab.json token ${JSON.stringify(text)} is not byte-level BPE`);
      return b;
    }));
    ints(bytes.length);
    chunks.push(bytes);
  }

  for (const [hf, t] of weights) {
    if (hf === 'proj_out.weight') continue;
    const name = ggmlName(hf);
    let shape = [...t.shape];
    if (name === 'encoder.conv1.bias' || name === 'encoder.conv2.bias') shape = [shape[0], 1];
    const f32 = shape.length < 2 || /conv\d\.bias$|positional_embedding$/.test(name);
    const nameBytes = Buffer.from(name, 'utf8');
    ints(shape.length, nameBytes.length, f32 ? 0 : 1, ...[...shape].reverse());
    chunks.push(nameBytes);
    if (f32) chunks.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    else chunks.push(Buffer.from(Uint16Array.from(t.data, toHalf).buffer));
  }
  fs.writeFileSync(out, Buffer.concat(chunks));
}

if (require.main === module) {
  const [dir, out] = parseFlags(process.argv.slice(2), {}).positionals;
  if (!dir || !out) {
    console.error('usage: npx tsx bench/ggml.ts HF_DIR OUT.bin');
    process.exit(1);
  }
  convertToGgml(dir, out);
  console.log(`${out}: ${(fs.statSync(out).size / 2 ** 20).toFixed(1)} MiB`);
}
