/** The files of a local folder, read synchronously at any offset (../io/files.ts `Files`). */
import * as fs from 'fs';
import * as path from 'path';
import type { Files } from './files';

/**
 * Stats of `file` (symbolic links followed), refusing anything but a regular file: opening a FIFO
 * that has no writer blocks the process for ever, and a device or socket is no audio or data file.
 * Every audio and data file is opened after this check. `what` names the file in messages.
 */
export function regularFile(file: string, what = 'file'): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${file}: file not found`);
    throw new Error(`${file}: cannot read: ${(e as Error).message}`);
  }
  if (st.isFile()) return st;
  const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO (named pipe)' : st.isSocket() ? 'a socket'
    : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'a special file';
  throw new Error(`${file}: is ${kind}, not ${/^[aeiou]/.test(what) ? 'an' : 'a'} ${what === 'file' ? 'regular file' : what}`);
}

export function nodeFiles(dir: string): Files {
  const file = (name: string) => path.join(dir, name);
  return {
    where: dir,
    path: file,
    has: (name) => fs.existsSync(file(name)),
    size: (name) => fs.statSync(file(name)).size,
    bytes: (name, begin = 0, end) => {
      regularFile(file(name));
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
