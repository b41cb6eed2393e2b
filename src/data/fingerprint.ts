/**
 * Content hashes for the `map` cache: the same rows + the same function source + the same
 * parameters give the same key in any process, so an unchanged step reads its cache and a
 * changed one (another normalizer, another function body) is recomputed.
 */
import { createHash, Hash } from 'crypto';

function update(h: Hash, v: unknown): void {
  if (v === null || v === undefined) {
    h.update(v === null ? 'n' : 'u');
  } else if (ArrayBuffer.isView(v)) {
    h.update(`T${v.constructor.name}:${v.byteLength}:`);
    h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  } else if (Array.isArray(v)) {
    h.update(`A${v.length}[`);
    v.forEach((x) => update(h, x));
    h.update(']');
  } else if (typeof v === 'object') {
    const keys = Object.keys(v as object).sort();
    h.update(`O${keys.length}{`);
    for (const k of keys) {
      h.update(JSON.stringify(k));
      update(h, (v as Record<string, unknown>)[k]);
    }
    h.update('}');
  } else if (typeof v === 'function') {
    h.update(`F${v.toString()}`);
  } else {
    h.update(`${typeof v}:${String(v)};`);
  }
}

/** sha256 hex of any mix of plain values, arrays, typed arrays and functions (by source text). */
export function fingerprint(...values: unknown[]): string {
  const h = createHash('sha256');
  values.forEach((v) => update(h, v));
  return h.digest('hex');
}
