/**
 * Helpers that keep notebook cells re-runnable.
 *
 *   const model = await fresh('model', () => WhisperForConditionalGeneration.fromPretrained(dir));
 *
 * A cell that makes something holding memory or a port (a model, an adapter, a trainer, a server)
 * registers it under a name; running the cell again first disposes (or closes) what the previous
 * run made under that name, so re-running never leaks tensors nor fails on "already exists".
 */
import * as fs from 'fs';
import { tf } from '../backend';

type Resource = { dispose(): unknown } | { close(): unknown };

const held = new Map<string, Resource>();

async function release(r: Resource): Promise<void> {
  await ('dispose' in r ? r.dispose() : r.close());
}

/** Disposes the value last made under `name`, then makes and remembers a new one. */
export async function fresh<T extends Resource>(name: string, make: () => T | Promise<T>): Promise<T> {
  const old = held.get(name);
  held.delete(name);
  if (old) await release(old);
  const value = await make();
  held.set(name, value);
  return value;
}

/** Disposes everything made with `fresh`, last made first (a notebook's final cell). */
export async function releaseAll(): Promise<void> {
  for (const name of [...held.keys()].reverse()) {
    const r = held.get(name)!;
    held.delete(name);
    await release(r);
  }
}

/**
 * The process's peak resident memory in bytes (Linux VmHWM: the high-water mark since the
 * process started, so nothing is missed between samples); current RSS elsewhere.
 */
export function peakRssBytes(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.memoryUsage().rss;
}

/**
 * A notebook's last cell: releases everything made with `fresh`, then prints the tensors left
 * (0 when nothing leaked), the peak memory and the `timings` the notebook collected.
 */
export async function finish(timings: Record<string, number> = {}): Promise<void> {
  await releaseAll();
  console.log(`tensors left: ${tf.memory().numTensors} | peak RSS ${(peakRssBytes() / 2 ** 30).toFixed(2)} GiB`);
  const parts = Object.entries(timings).map(([k, v]) => `${k}: ${v.toFixed(1)}`);
  if (parts.length) console.log(parts.join(', '));
}
