/** The files of a local folder, read synchronously at any offset (../io/files.ts `Files`). */
import * as fs from 'fs';
import * as path from 'path';
import type { Files } from './files';

export function nodeFiles(dir: string): Files {
  const file = (name: string) => path.join(dir, name);
  return {
    where: dir,
    path: file,
    has: (name) => fs.existsSync(file(name)),
    size: (name) => fs.statSync(file(name)).size,
    bytes: (name, begin = 0, end) => {
      const fd = fs.openSync(file(name), 'r');
      try {
        const stop = end ?? fs.fstatSync(fd).size;
        const buf = Buffer.alloc(Math.max(0, stop - begin));
        const got = fs.readSync(fd, buf, 0, buf.length, begin);
        if (got !== buf.length) throw new Error(`${file(name)}: short read (${got} of ${buf.length} bytes at ${begin})`);
        return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      } finally {
        fs.closeSync(fd);
      }
    },
  };
}

/** A folder path as Files; Files as they are. */
export function asFiles(dirOrFiles: string | Files): Files {
  return typeof dirOrFiles === 'string' ? nodeFiles(dirOrFiles) : dirOrFiles;
}
