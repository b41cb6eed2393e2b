/**
 * safetensors reading: 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}}`, then the raw bytes.
 *
 * The whole header is validated (lengths, offsets, dtypes, shapes, optional expected shapes)
 * BEFORE any tensor is allocated, so a broken download fails fast with the file and tensor named
 * and leaves no half-built model behind. Values come back as Float32Array (F16/BF16 upcast), and
 * the model turns them into tf tensors only when everything checked out.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Files, readJson } from '../io/files';
import { asFiles, nodeFiles } from '../io/node';
import { isPlainRelativePath } from './paths';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';
const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };
const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range inside the data section (after the header). */
  begin: number;
  end: number;
  file: string;
}

export interface SafetensorsHeader {
  file: string;
  /** The file's name in its Files (what `files.bytes` takes). */
  name: string;
  /** Byte offset of the data section in the file (8 + header length). */
  dataStart: number;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

export interface LoadedTensor {
  shape: number[];
  data: Float32Array;
}

/** Reads and validates the header of one .safetensors file (reads only the header bytes). */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  return safetensorsHeader(nodeFiles(path.dirname(file)), path.basename(file));
}

/** readSafetensorsHeader for file `name` of `files` (a folder or a web server). */
export function safetensorsHeader(files: Files, name: string): SafetensorsHeader {
  const file = files.path(name);
  if (!files.has(name)) throw new Error(`${file}: safetensors file not found`);
  const size = files.size(name);
  if (size < 8) throw new Error(`${file}: too short for a safetensors file (${size} bytes, need at least 8)`);
  const lenBytes = files.bytes(name, 0, 8);
  const headerLen = Number(new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLen > size - 8) {
    throw new Error(`${file}: header length ${headerLen} goes beyond the end of the file (${size} bytes): truncated or not safetensors`);
  }
  // The safetensors format's own limit: a larger header is not a checkpoint (nor worth reading).
  if (headerLen > MAX_HEADER_BYTES) throw new Error(`${file}: header length ${headerLen} is over the format's limit of ${MAX_HEADER_BYTES} bytes`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder().decode(files.bytes(name, 8, 8 + headerLen)));
  } catch (e) {
    throw new Error(`${file}: header is not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${file}: header must be a JSON object`);
  const dataStart = 8 + headerLen;
  const dataSize = size - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
        throw new Error(`${file}: '__metadata__' must be an object of strings`);
      }
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `${file}: tensor '${name}'`;
    if (!e || typeof e !== 'object') throw new Error(`${where}: entry must be an object`);
    // hasOwnProperty, not `in`: "constructor" or "toString" are in every object.
    if (typeof e.dtype !== 'string' || !Object.prototype.hasOwnProperty.call(DTYPE_BYTES, e.dtype)) {
      throw new Error(`${where}: unsupported dtype ${JSON.stringify(e.dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    }
    const dtype = e.dtype as SafetensorsDtype;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`${where}: shape ${JSON.stringify(e.shape)} must be a list of non-negative integers`);
    }
    const shape = e.shape as number[];
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`${where}: data_offsets ${JSON.stringify(off)} must be [begin, end]`);
    }
    const [begin, end] = off as [number, number];
    if (begin > end || end > dataSize) {
      throw new Error(`${where}: data_offsets [${begin}, ${end}] out of range (data section is ${dataSize} bytes)`);
    }
    const expected = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    if (end - begin !== expected) {
      throw new Error(`${where}: ${end - begin} bytes but shape [${shape}] of ${dtype} needs ${expected}`);
    }
    tensors.set(name, { name, dtype, shape, begin, end, file });
  }
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new Error(`${file}: tensors '${sorted[i - 1].name}' and '${sorted[i].name}' overlap ` +
        `([${sorted[i - 1].begin}, ${sorted[i - 1].end}] and [${sorted[i].begin}, ${sorted[i].end}])`);
    }
  }
  return { file, name, dataStart, tensors, metadata };
}

// IEEE half -> float via a 64K table: decoding 20M values is then one lookup each.
let halfTable: Float32Array | undefined;
function f16Table(): Float32Array {
  if (halfTable) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = s * m * 2 ** -24;
    else if (e === 31) t[h] = m ? NaN : s * Infinity;
    else t[h] = s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return (halfTable = t);
}

/** Decodes raw little-endian bytes of one tensor into float32. */
export function decodeTensorBytes(bytes: Uint8Array, dtype: SafetensorsDtype): Float32Array {
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  // Copy to an aligned buffer so typed-array views are legal whatever the offset in the file.
  const aligned = new Uint8Array(bytes.byteLength);
  aligned.set(bytes);
  if (dtype === 'F32') return new Float32Array(aligned.buffer, 0, n);
  const u16 = new Uint16Array(aligned.buffer, 0, n);
  const out = new Float32Array(n);
  if (dtype === 'F16') {
    const t = f16Table();
    for (let i = 0; i < n; i++) out[i] = t[u16[i]];
  } else {
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u32[i] = u16[i] << 16;
  }
  return out;
}

/** Decodes one tensor and refuses NaN or infinite values: a model or optimizer state holding one gives garbage. */
function decodeFinite(bytes: Uint8Array, info: TensorInfo, name = info.name): Float32Array {
  const data = decodeTensorBytes(bytes, info.dtype);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new Error(`${info.file}: tensor '${name}' holds ${data[i]} at index ${i} (every value must be finite; ` +
        'the file was saved from a run that diverged, or is damaged)');
    }
  }
  return data;
}

/** Throws, naming the file and tensor, when a tensor's shape in the header is not the expected one. */
function checkShape(info: TensorInfo, name: string, shape: number[], expectedBy: string): void {
  if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${info.file}: tensor '${name}' has shape [${info.shape}] but ${expectedBy} expects [${shape}]`);
  }
}

/**
 * Every tensor of one parsed .safetensors file as float32, after checking the expected names and
 * shapes against the header (nothing is allocated for a file that does not fit) and that every
 * value is finite. Pass the header you already parsed (its metadata, its keys): it is not parsed twice.
 */
export function readTensors(files: Files, header: SafetensorsHeader, expected?: Map<string, number[]>,
  expectedBy = 'the model'): Map<string, LoadedTensor> {
  if (expected) {
    for (const [key, shape] of expected) {
      const info = header.tensors.get(key);
      if (!info) throw new Error(`${header.file}: tensor '${key}' is missing (expected shape [${shape}])`);
      checkShape(info, key, shape, expectedBy);
    }
  }
  const out = new Map<string, LoadedTensor>();
  for (const [key, info] of header.tensors) {
    const bytes = files.bytes(header.name, header.dataStart + info.begin, header.dataStart + info.end);
    out.set(key, { shape: info.shape, data: decodeFinite(bytes, info) });
  }
  return out;
}

/** Reads every tensor of one .safetensors file (a path, or file `name` of Files; see readTensors). */
export function readSafetensorsFile(source: string | Files, expected?: Map<string, number[]>, name?: string): Map<string, LoadedTensor> {
  const files = typeof source === 'string' ? nodeFiles(path.dirname(source)) : source;
  name ??= typeof source === 'string' ? path.basename(source) : 'adapter_model.safetensors';
  return readTensors(files, safetensorsHeader(files, name), expected);
}

/**
 * The `weight_map` of a `model.safetensors.index.json` and its distinct shard names, each checked to
 * be a plain relative path (no `..`, not absolute) so a crafted index cannot point outside `where`.
 */
export function readShardIndex(indexFile: string, where: string): { weightMap: Record<string, string>; shards: string[] } {
  return shardIndex(nodeFiles(path.dirname(indexFile)), path.basename(indexFile), where);
}

function shardIndex(files: Files, indexName: string, where: string): { weightMap: Record<string, string>; shards: string[] } {
  const indexFile = files.path(indexName);
  const map = readJson<{ weight_map?: unknown } | null>(files, indexName)?.weight_map;
  if (!map || typeof map !== 'object' || Array.isArray(map)) throw new Error(`${indexFile}: missing field 'weight_map'`);
  const shards = [...new Set(Object.values(map))];
  for (const shard of shards) {
    if (!isPlainRelativePath(shard)) throw new Error(`${indexFile}: shard name ${JSON.stringify(shard)} is not a plain relative path inside the ${where}`);
  }
  return { weightMap: map as Record<string, string>, shards: shards as string[] };
}

/** The .safetensors files of a checkpoint: one, or the shards of its index. */
export function checkpointShards(files: Files): { names: string[]; weightMap?: Record<string, string> } {
  if (files.has('model.safetensors')) return { names: ['model.safetensors'] };
  const index = 'model.safetensors.index.json';
  if (files.has(index)) {
    const { weightMap, shards } = shardIndex(files, index, 'model folder');
    for (const f of shards) if (!files.has(f)) throw new Error(`${files.path(index)}: shard ${files.path(f)} is missing`);
    return { names: shards, weightMap };
  }
  throw new Error(`${files.where}: no model.safetensors or model.safetensors.index.json (only safetensors checkpoints are supported)`);
}

/**
 * Reads every tensor of a checkpoint (one file or shards; a folder or Files) after validating all
 * headers and, when given, the expected shapes: missing names, unexpected shapes. Names listed in
 * `optional` may be absent (e.g. a tied `proj_out.weight`). Tensors not in `expected` are ignored.
 */
export function loadSafetensorsCheckpoint(
  dir: string | Files,
  expected?: Map<string, number[]>,
  optional: Set<string> = new Set(),
): Map<string, LoadedTensor> {
  const files = asFiles(dir);
  const { names, weightMap } = checkpointShards(files);
  const all = new Map<string, TensorInfo & { shard: string }>();
  for (const shard of names) {
    const h = safetensorsHeader(files, shard);
    for (const [name, info] of h.tensors) {
      // Some exports drop the `model.` prefix (WhisperModel vs WhisperForConditionalGeneration).
      const key = /^(encoder|decoder)\./.test(name) ? `model.${name}` : name;
      if (all.has(key)) throw new Error(`${h.file}: tensor '${name}' also appears in ${all.get(key)!.file}`);
      all.set(key, { ...info, begin: info.begin + h.dataStart, end: info.end + h.dataStart, shard });
    }
  }
  if (weightMap) {
    for (const [name, shard] of Object.entries(weightMap)) {
      const info = all.get(name);
      if (info && info.shard !== shard) {
        throw new Error(`${files.path('model.safetensors.index.json')}: '${name}' is mapped to ${shard} but found in ${info.file}`);
      }
    }
  }
  const wanted = expected ? [...expected.keys()] : [...all.keys()];
  if (expected) {
    for (const [name, shape] of expected) {
      const info = all.get(name);
      if (!info) {
        if (optional.has(name)) continue;
        throw new Error(`${names.map((n) => files.path(n)).join(', ')}: tensor '${name}' is missing (expected shape [${shape}])`);
      }
      checkShape(info, name, shape, 'the config');
    }
  }
  // Everything checked: now read the bytes.
  const out = new Map<string, LoadedTensor>();
  for (const name of wanted) {
    const info = all.get(name);
    if (info) out.set(name, { shape: info.shape, data: decodeFinite(files.bytes(info.shard, info.begin, info.end), info, name) });
  }
  return out;
}

/** Writes float32 tensors as a .safetensors file (used by tests and by LoRA/merge saving). */
export function saveSafetensors(file: string, tensors: Record<string, LoadedTensor>, metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = t.data.length * 4;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let hs = JSON.stringify(header);
  hs += ' '.repeat((8 - (hs.length % 8)) % 8);
  const hb = Buffer.from(hs, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hb.length));
  const parts: Buffer[] = [len, hb];
  for (const t of Object.values(tensors)) parts.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  fs.writeFileSync(file, Buffer.concat(parts));
}
