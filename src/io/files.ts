/**
 * Where a checkpoint's (or an adapter's) files are read from: a folder (node.ts) or a web server
 * (`httpFiles`). The loaders (config, safetensors, tokenizer, feature extractor, PEFT adapter) read
 * through this interface only, so one loading code runs in Node and in a web page.
 */
export interface Files {
  /** The folder or URL, for messages. */
  readonly where: string;
  /** Where file `name` is, for messages (DIR/name, URL/name). */
  path(name: string): string;
  has(name: string): boolean;
  size(name: string): number;
  /** Bytes [begin, end) of `name` (the whole file by default). */
  bytes(name: string, begin?: number, end?: number): Uint8Array;
}

/** `name` as UTF-8 text; a missing file is named as `what` (e.g. 'config file'). */
function readText(files: Files, name: string, what = 'file'): string {
  if (!files.has(name)) throw new Error(`${files.path(name)}: ${what} not found`);
  return new TextDecoder().decode(files.bytes(name));
}

/** `name` parsed as JSON; an error names the file. */
export function readJson<T = unknown>(files: Files, name: string, what = 'file'): T {
  const text = readText(files, name, what);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${files.path(name)}: not valid JSON (${(e as Error).message})`);
  }
}

/** A folder of files already in memory (what `httpFiles` fetched, or a test's). */
export function memoryFiles(where: string, contents: Map<string, Uint8Array>): Files {
  const get = (name: string) => {
    const b = contents.get(name);
    if (!b) throw new Error(`${where}/${name}: not found`);
    return b;
  };
  return {
    where,
    path: (name) => `${where.replace(/\/$/, '')}/${name}`,
    has: (name) => contents.has(name),
    size: (name) => get(name).byteLength,
    bytes: (name, begin = 0, end) => get(name).subarray(begin, end ?? get(name).byteLength),
  };
}

/**
 * The files `names` under `baseUrl`, fetched now (a file the server answers 404 for is simply
 * absent: optional files such as generation_config.json). Any other failure names the URL.
 */
export async function httpFiles(baseUrl: string, names: string[], fetchImpl: typeof fetch = fetch): Promise<Files> {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const contents = new Map<string, Uint8Array>();
  await Promise.all(names.map(async (name) => {
    const url = new URL(name, base).href;
    let res: Response;
    try {
      res = await fetchImpl(url);
    } catch (e) {
      throw new Error(`${url}: ${(e as Error).message}`);
    }
    if (res.status === 404) return;
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
    contents.set(name, new Uint8Array(await res.arrayBuffer()));
  }));
  return memoryFiles(base.replace(/\/$/, ''), contents);
}
