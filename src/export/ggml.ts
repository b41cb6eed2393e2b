/**
 * Hugging Face Whisper weights -> whisper.cpp ggml file (`exportModel`'s ggml format, and the
 * whisper.cpp anchor of the benchmarks). The layout of whisper.cpp's models/convert-h5-to-ggml.py:
 *
 * - header: magic "ggml", n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
 *   n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype (0 = F32, 1 = F16, 2007 = Q8_0 with quantization version 2), as int32;
 * - mel filters: n_mels, n_fft / 2 + 1, then the float32 filter bank (librosa's Slaney filters,
 *   the same numbers as openai's mel_filters.npz);
 * - vocabulary: the count, then each BPE token as its length and raw bytes (vocab.json without
 *   <|endoftext|>; whisper.cpp adds the special tokens itself);
 * - tensors in openai's names (`decoder.blocks.0.cross_attn.query.weight`): n_dims, name length,
 *   ftype, the dims innermost first, the name, the data. Matrices are F32, F16 or Q8_0 (blocks of
 *   32: float16 scale + 32 int8, as whisper.cpp's quantize tool writes them; the conv weights then
 *   stay F16); 1-D tensors, the conv biases (as [n, 1]) and both positional embeddings are F32.
 *   proj_out is tied to the token embedding and not written.
 */
import * as fs from 'fs';
import * as path from 'path';
import { atomicWriteFile } from '../atomic';
import { toFloat16 } from '../backend/quantized';
import { WhisperConfig } from '../model/config';
import { LoadedTensor, loadSafetensorsCheckpoint } from '../model/safetensors';
import { expectedWeightShapes } from '../model/whisper';
import { melFilterBank } from '../features/melFilters';

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

/**
 * How the matrices are stored: whisper.cpp's F32, F16 and Q8_0 model files. F32 files are what
 * convert-pt-to-ggml.py writes with use_f16=False; the whisper.cpp of npm @napi-rs/whisper 0.0.4
 * loads them but its CPU conv (im2col) asserts F16 kernels (whisper.cpp issue #2557), so f16 is the default.
 */
export type GgmlType = 'f32' | 'f16' | 'q8_0';
export const GGML_TYPES: readonly GgmlType[] = ['f32', 'f16', 'q8_0'];

// ggml's type ids (ggml.h ggml_type) and the file-level ftype (ggml_ftype) of each choice; a
// quantized file's ftype carries GGML_QNT_VERSION (2) * 1000, which whisper.cpp strips off.
const TENSOR_TYPE = { f32: 0, f16: 1, q8_0: 8 } as const;
const FILE_TYPE: Record<GgmlType, number> = { f32: 0, f16: 1, q8_0: 2000 + 7 };
const Q8_BLOCK = 32;

/** ggml's block_q8_0 rows: per 32 values a float16 scale (absmax / 127) and 32 int8 (quantize_row_q8_0_reference). */
export function quantizeQ8_0(values: Float32Array): Buffer {
  if (values.length % Q8_BLOCK) throw new Error(`ggml q8_0: ${values.length} values are not a multiple of ${Q8_BLOCK}`);
  const nBlocks = values.length / Q8_BLOCK;
  const out = Buffer.alloc(nBlocks * (2 + Q8_BLOCK));
  const scales = new Float32Array(nBlocks);
  for (let b = 0; b < nBlocks; b++) {
    let amax = 0;
    for (let i = 0; i < Q8_BLOCK; i++) amax = Math.max(amax, Math.abs(values[b * Q8_BLOCK + i]));
    scales[b] = amax / 127;
  }
  const halves = toFloat16(scales, [1, nBlocks]).data;
  for (let b = 0; b < nBlocks; b++) {
    const o = b * (2 + Q8_BLOCK);
    out.writeUInt16LE(halves[b], o);
    const inv = scales[b] ? 1 / scales[b] : 0;
    for (let i = 0; i < Q8_BLOCK; i++) out.writeInt8(Math.round(values[b * Q8_BLOCK + i] * inv), o + 2 + i);
  }
  return out;
}

/** The tensor type whisper.cpp expects for `name` in a file of type `type` (its model loader: vtype for convs, F32 for 1-D and positions). */
function tensorType(name: string, shape: number[], type: GgmlType): GgmlType {
  if (type === 'f32' || shape.length < 2 || /conv\d\.bias$|positional_embedding$/.test(name)) return 'f32';
  return shape.length > 2 ? 'f16' : type; // conv weights: whisper.cpp quantizes matrices only
}

/**
 * The ggml file of a Whisper model: its config, float32 weights in Hugging Face names (a tied
 * proj_out is skipped), the checkpoint's vocab.json, matrices stored as `type`.
 */
export function ggmlBytes(c: WhisperConfig, weights: Iterable<[string, LoadedTensor]>, vocab: Record<string, number>,
  type: GgmlType = 'f16'): Buffer {
  const chunks: Buffer[] = [];
  const ints = (...xs: number[]) => {
    const b = Buffer.alloc(4 * xs.length);
    xs.forEach((x, i) => b.writeInt32LE(x, 4 * i));
    chunks.push(b);
  };
  const maxLength = Number(c.raw.maxLength ?? c.maxTargetPositions);
  ints(0x67676d6c, c.vocabSize, c.maxSourcePositions, c.dModel, c.encoderAttentionHeads, c.encoderLayers,
    maxLength, c.dModel, c.decoderAttentionHeads, c.decoderLayers, c.numMelBins, FILE_TYPE[type]);
  const nFft = 400;
  const filters = melFilterBank(16000, nFft, c.numMelBins);
  ints(c.numMelBins, nFft / 2 + 1);
  chunks.push(Buffer.from(filters.buffer, filters.byteOffset, filters.byteLength));

  const tokens = Object.entries(vocab).filter(([t]) => t !== '<|endoftext|>').sort((a, b) => a[1] - b[1]);
  const byteOf = bytesToUnicode();
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
    const tt = tensorType(name, shape, type);
    const nameBytes = Buffer.from(name, 'utf8');
    ints(shape.length, nameBytes.length, TENSOR_TYPE[tt], ...[...shape].reverse());
    chunks.push(nameBytes);
    const data = t.data;
    if (tt === 'f32') chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    else if (tt === 'f16') chunks.push(Buffer.from(toFloat16(data, [1, data.length]).data.buffer));
    else chunks.push(quantizeQ8_0(data));
  }
  return Buffer.concat(chunks);
}

/** Writes the ggml file of the Hugging Face checkpoint in `dir` (the benches' whisper.cpp anchor). */
export function convertToGgml(dir: string, out: string, type: GgmlType = 'f16'): void {
  const c = WhisperConfig.fromFile(path.join(dir, 'config.json'));
  const weights = loadSafetensorsCheckpoint(dir, expectedWeightShapes(c), new Set(['proj_out.weight']));
  atomicWriteFile(out, ggmlBytes(c, weights, readVocab(dir), type));
}

/** The checkpoint's vocab.json (whisper.cpp reads the BPE tokens from the ggml file). */
export function readVocab(dir: string): Record<string, number> {
  const file = path.join(dir, 'vocab.json');
  if (!fs.existsSync(file)) throw new Error(`ggml: ${file} is missing; whisper.cpp needs the checkpoint's vocabulary`);
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}
