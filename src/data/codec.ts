/**
 * On-disk form of processed rows for the `map` cache: JSON for plain values, one binary file
 * for typed arrays (log-Mel features are 240,000 floats per row, far too big for JSON).
 */
import * as fs from 'fs';
import * as path from 'path';

type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array | Int16Array | Uint32Array;
const TYPES: Record<string, new (b: ArrayBuffer, o: number, n: number) => TypedArray> = {
  Float32Array, Float64Array, Int32Array, Uint8Array, Int16Array, Uint32Array,
};

interface ArrayRef { $typed: string; offset: number; length: number }

/** Writes rows under `dir` (rows.json + arrays.bin) atomically: a crash never leaves half a cache. */
export function writeRows(dir: string, rows: readonly object[]): void {
  const chunks: Buffer[] = [];
  let offset = 0;
  const json = JSON.stringify(rows, function replacer(_key, value: unknown) {
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      const name = value.constructor.name;
      if (!TYPES[name]) throw new Error(`map cache: cannot store ${name}`);
      // Keep every array aligned to 8 bytes so it can be viewed in place when read back.
      const pad = (8 - (offset % 8)) % 8;
      if (pad) chunks.push(Buffer.alloc(pad));
      offset += pad;
      const ref: ArrayRef = { $typed: name, offset, length: (value as TypedArray).length };
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      offset += value.byteLength;
      return ref;
    }
    return value;
  });
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  fs.writeFileSync(path.join(tmp, 'arrays.bin'), Buffer.concat(chunks));
  fs.writeFileSync(path.join(tmp, 'rows.json'), json);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
}

export function readRows<R>(dir: string): R[] {
  const bin = fs.readFileSync(path.join(dir, 'arrays.bin'));
  // Copy into a fresh ArrayBuffer once; every array is a view on it (offsets are 8-byte aligned).
  const buffer = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  return JSON.parse(fs.readFileSync(path.join(dir, 'rows.json'), 'utf8'), (_key, value: unknown) => {
    if (value && typeof value === 'object' && '$typed' in value) {
      const ref = value as ArrayRef;
      return new TYPES[ref.$typed](buffer, ref.offset, ref.length);
    }
    return value;
  }) as R[];
}

export function hasRows(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'rows.json')) && fs.existsSync(path.join(dir, 'arrays.bin'));
}
