/**
 * The frozen encoder's output per clip, computed once and reused every epoch and evaluation: in
 * memory (per trainer, by the features array), and optionally on disk so later runs skip the
 * encoder pass:
 *
 *   <cacheDir>/<model fingerprint>/<sha-256 of the clip's input features>.f32
 *
 * The fingerprint hashes every encoder weight, so another checkpoint (even of the same shape, or
 * one with a merged adapter) never reads this one's outputs. The file name hashes the features
 * themselves: two clips never share an entry whatever their ids, an edited clip misses, and the
 * name is safe on every filesystem. Entries are written atomically; an entry of the wrong size
 * (truncated by hand, or a disk error) is an error that names the file.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { atomicWriteFile } from '../atomic';
import type { WeightSlot } from '../model/layers';

/** sha-256 (hex) of the encoder's weights, shapes and names (read asynchronously: webgpu reads no other way). */
async function encoderFingerprint(slots: WeightSlot[]): Promise<string> {
  const h = createHash('sha256');
  for (const s of slots) {
    const q = s.quantized?.();
    h.update(`${s.name}:${q ? `${q.dtype}[${q.shape}]` : `[${s.get().shape}]`}\n`);
    const arrays = q ? (q.dtype === 'int8' ? [q.data, q.scales] : [q.data]) : [(await s.get().data()) as Float32Array];
    for (const a of arrays) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  return h.digest('hex');
}

export class EncoderCache {
  private memory = new WeakMap<Float32Array, Float32Array>();
  private keys = new WeakMap<Float32Array, string>();
  /** `<cacheDir>/<fingerprint>`: where this model's entries are also kept on disk, once useDir() ran. */
  private modelDir?: string;

  /**
   * @param encoderWeights  fingerprinted when a cache folder is first set
   * @param valuesFor       the expected output size (positions x d_model) for a features array
   */
  constructor(private encoderWeights: () => WeightSlot[], private valuesFor: (features: Float32Array) => number) {}

  /** Keeps entries in `cacheDir` too, under this model's encoder fingerprint. */
  async useDir(cacheDir: string): Promise<void> {
    this.modelDir = path.join(cacheDir, (await encoderFingerprint(this.encoderWeights())).slice(0, 32));
  }

  /** The entry file of one clip (sha-256 of its features); useDir() first. */
  file(features: Float32Array): string {
    let key = this.keys.get(features);
    if (!key) {
      key = createHash('sha256').update(new Uint8Array(features.buffer, features.byteOffset, features.byteLength)).digest('hex');
      this.keys.set(features, key);
    }
    return path.join(this.modelDir!, `${key}.f32`);
  }

  get(features: Float32Array): Float32Array | undefined {
    const hit = this.memory.get(features);
    if (hit || !this.modelDir) return hit;
    const file = this.file(features);
    if (!fs.existsSync(file)) return undefined;
    const bytes = fs.readFileSync(file);
    const want = this.valuesFor(features) * 4;
    if (bytes.length !== want) {
      throw new Error(`${file}: encoder cache entry has ${bytes.length} bytes, expected ${want} ` +
        '(truncated or written by something else); delete the file to recompute it');
    }
    const h = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    this.memory.set(features, h);
    return h;
  }

  set(features: Float32Array, hidden: Float32Array): void {
    const want = this.valuesFor(features);
    if (hidden.length !== want) throw new Error(`encoder output has ${hidden.length} values, expected ${want} (positions x d_model)`);
    this.memory.set(features, hidden);
    if (!this.modelDir) return;
    const file = this.file(features);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    atomicWriteFile(file, new Uint8Array(hidden.buffer, hidden.byteOffset, hidden.byteLength));
  }

  /** Forgets the in-memory entries (the disk ones stay). */
  clear(): void {
    this.memory = new WeakMap();
  }
}
