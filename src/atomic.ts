/**
 * Files and folders written so that a crash (SIGKILL, power loss) leaves either the old version or
 * the new one, never half of one: write a temporary copy, fsync it, rename it into place, fsync
 * the parent folder (a rename is only durable once its directory entry is).
 */
import * as fs from 'fs';
import * as path from 'path';

/** fsync of a file or a folder (folders: the directory entries; ignored where the OS refuses). */
export function fsyncPath(p: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(p, 'r');
    fs.fsyncSync(fd);
  } catch (e) {
    // Some filesystems refuse fsync on a directory (EINVAL/EISDIR/EPERM): nothing more can be done there.
    if (!['EINVAL', 'EISDIR', 'EPERM', 'EBADF'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** fsync of every file under `dir`, then of the folders themselves. */
function fsyncTree(dir: string): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) fsyncTree(p);
    else if (e.isFile()) fsyncPath(p);
  }
  fsyncPath(dir);
}

/** Writes `data` to `file` through `file.tmp-<pid>` + fsync + rename. */
export function atomicWriteFile(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, data);
    fsyncPath(tmp);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncPath(path.dirname(file));
}

/**
 * Writes a folder atomically: fill `dir.tmp-<pid>`, fsync it, then swap it into place with renames
 * (the old folder, if any, goes to `dir.old-<pid>` for the moment between the two renames).
 * `cleanStaleTemporaries` removes what a killed process leaves behind.
 */
export function atomicWriteDir(dir: string, fill: (tmp: string) => void): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    fill(tmp);
    fsyncTree(tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const old = `${dir}.old-${process.pid}`;
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  fsyncPath(path.dirname(dir));
  fs.rmSync(old, { recursive: true, force: true });
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Removes `X.tmp-<pid>` entries (files or folders) under `dir` left by processes that are gone; a
 * `X.old-<pid>` whose `X` is missing (killed between the two renames) is renamed back to `X`,
 * otherwise removed. Returns what was removed or restored.
 */
export function cleanStaleTemporaries(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const done: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    const m = /^(.*)\.(tmp|old)-(\d+)$/.exec(name);
    if (!m || processAlive(Number(m[3]))) continue;
    const p = path.join(dir, name);
    const target = path.join(dir, m[1]);
    if (m[2] === 'old' && !fs.existsSync(target)) {
      fs.renameSync(p, target);
      done.push(`restored ${target} from ${name}`);
    } else {
      fs.rmSync(p, { recursive: true, force: true });
      done.push(`removed ${p}`);
    }
  }
  return done;
}
