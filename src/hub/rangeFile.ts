/**
 * A remote file read piece by piece with HTTP range requests (hyparquet's AsyncBuffer), so a
 * streamed Hub dataset fetches a Parquet footer and the row groups it reads, never the whole file.
 * Stricter than hyparquet's asyncBufferFromUrl: every answer must be exactly the bytes asked for,
 * so a server that announces or sends more is stopped before it fills memory.
 */
import type { AsyncBuffer } from 'hyparquet';

export function rangeFile(url: string, byteLength: number, label: string, token?: string): AsyncBuffer {
  return {
    byteLength,
    async slice(start: number, end = byteLength): Promise<ArrayBuffer> {
      if (!(start >= 0 && start <= end && end <= byteLength)) {
        throw new Error(`${label}: bytes ${start}-${end} are outside the file's ${byteLength} bytes (a damaged Parquet footer?)`);
      }
      const want = end - start;
      if (want === 0) return new ArrayBuffer(0);
      const range = `bytes=${start}-${end - 1}`;
      const resp = await fetch(url, { headers: { Range: range, ...(token ? { Authorization: `Bearer ${token}` } : {}) } });
      const whole = resp.status === 200 && start === 0 && end === byteLength;
      if (resp.status !== 206 && !whole) {
        await resp.body?.cancel();
        throw new Error(`${label}: range request ${range} answered HTTP ${resp.status}` +
          (resp.status === 401 || resp.status === 403 ? ': the repository is gated or private; set HF_TOKEN' : ''));
      }
      const declared = resp.headers.get('content-length');
      if (declared !== null && Number(declared) !== want) {
        await resp.body?.cancel();
        throw new Error(`${label}: asked for ${want} bytes (${range}), the server announced Content-Length ${declared}`);
      }
      const out = new Uint8Array(want);
      let got = 0;
      const reader = resp.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (got + value.byteLength > want) {
          await reader.cancel();
          throw new Error(`${label}: asked for ${want} bytes (${range}), the server sent more`);
        }
        out.set(value, got);
        got += value.byteLength;
      }
      if (got !== want) throw new Error(`${label}: asked for ${want} bytes (${range}), got ${got}`);
      return out.buffer;
    },
  };
}
