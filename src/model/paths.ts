/**
 * File names that come from outside (a Hub server's headers, a checkpoint's
 * `model.safetensors.index.json`) are joined into local paths only through these checks, so that
 * a hostile server or a crafted checkpoint can neither write nor read outside its folder.
 * The rules are huggingface_hub's: relative names with `/` separators, no `..`, and the joined
 * path checked to stay inside the folder.
 */
import * as fs from 'fs';
import * as path from 'path';

/** `name` is a relative path made of plain segments: no '', '.', '..', backslash, NUL or leading '/'. */
export function isPlainRelativePath(name: unknown): name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 1024) return false;
  // No path module here (this check also runs in a web page): a leading '/' makes an empty segment.
  if (name.includes('\\') || name.includes('\0') || /^[A-Za-z]:/.test(name)) return false;
  return name.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

/** True when `p` is `dir` or lies under it (lexically: symbolic links are not resolved). */
function isInside(dir: string, p: string): boolean {
  const rel = path.relative(path.resolve(dir), path.resolve(p));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * `dir/name` for a name read from `source` (e.g. an index file); throws naming both when the name
 * is not a plain relative path or would leave `dir`.
 */
export function joinInside(dir: string, name: unknown, source: string, what: string, where: string): string {
  const p = isPlainRelativePath(name) ? path.join(dir, name) : undefined;
  if (!p || !isInside(dir, p)) {
    throw new Error(`${source}: ${what} ${JSON.stringify(name)} is not a plain relative path inside the ${where}`);
  }
  return p;
}

/**
 * Throws unless `p`, with every symbolic link resolved, is inside `root` (also resolved): a link
 * planted in a cache must not lead reads or writes out of it.
 */
export function checkRealpathInside(root: string, p: string): void {
  const real = fs.realpathSync(p);
  if (!isInside(fs.realpathSync(root), real)) {
    throw new Error(`${p}: leads outside the cache folder ${root} (to ${real}); remove it and retry`);
  }
}

/** Throws when `p` exists and is not a regular file (a symbolic link, a folder, a device). */
export function checkRegularFileOrAbsent(p: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return;
  }
  if (!st.isFile()) {
    const kind = st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'a folder' : 'a special file';
    throw new Error(`${p}: expected a regular file in the cache, found ${kind}; remove it and retry`);
  }
}

/** `mkdir -p dir` one level at a time, each level checked to resolve inside `root` before going on. */
export function mkdirInside(root: string, dir: string): void {
  fs.mkdirSync(root, { recursive: true });
  let cur = root;
  for (const seg of path.relative(root, dir).split(path.sep).filter(Boolean)) {
    cur = path.join(cur, seg);
    if (!fs.existsSync(cur)) fs.mkdirSync(cur);
    checkRealpathInside(root, cur);
  }
}
