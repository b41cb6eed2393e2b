/**
 * The command-line parser of the CLI, the demo and the benches: Node's `util.parseArgs`, with errors
 * a user can act on (the flag named, the usage shown) and value checks that name the flag.
 */
import { parseArgs } from 'util';

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

/** A command line that cannot be run; the message names the flag and ends with the usage. */
export class UsageError extends Error {}

/**
 * `argv` parsed against `spec` (strict: an unknown flag is an error). openai's CLI takes
 * `--logprob-threshold -1`, which util.parseArgs calls ambiguous, so a negative number after a
 * flag that takes a value is joined to it (`--logprob-threshold=-1`).
 */
/** What `parseFlags` returns: each flag's value (a string, strings for `multiple`, a boolean) when given, and the other words. */
export interface Parsed<S extends FlagSpec> {
  values: { [K in keyof S]?: S[K]['type'] extends 'boolean' ? boolean : S[K]['multiple'] extends true ? string[] : string };
  positionals: string[];
}

export function parseFlags<S extends FlagSpec>(argv: string[], spec: S, usage = ''): Parsed<S> {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : undefined;
    if (name && spec[name]?.type === 'string' && /^-\d/.test(argv[i + 1] ?? '')) args.push(`${argv[i]}=${argv[++i]}`);
    else args.push(argv[i]);
  }
  try {
    return parseArgs({ args, options: spec, allowPositionals: true, strict: true }) as Parsed<S>;
  } catch (e) {
    const message = (e as Error).message.replace(/^Unknown option '([^']*)'.*$/s, 'unknown option $1');
    throw new UsageError(usage ? `${message}\n${usage}` : message);
  }
}

/** A number that passes `check`, or undefined when the flag was not given. */
export function numberFlag(flag: string, value: string | undefined, check: (x: number) => boolean = Number.isFinite,
  what = 'a number'): number | undefined {
  if (value === undefined) return undefined;
  const x = Number(value);
  if (value.trim() === '' || !check(x)) throw new UsageError(`--${flag} must be ${what}, got '${value}'`);
  return x;
}

export function positiveIntFlag(flag: string, value: string | undefined): number | undefined {
  return numberFlag(flag, value, (x) => Number.isInteger(x) && x >= 1, 'a positive integer');
}

/** An integer in [min, max], else `fallback` when the flag was not given. */
export function intFlag(flag: string, value: string | undefined, fallback: number, min: number, max: number): number {
  return numberFlag(flag, value, (x) => Number.isInteger(x) && x >= min && x <= max, `an integer from ${min} to ${max}`) ?? fallback;
}

/** One of `choices`, or undefined when the flag was not given. */
export function choiceFlag<T extends string>(flag: string, value: string | undefined, choices: readonly T[]): T | undefined {
  if (value === undefined || (choices as readonly string[]).includes(value)) return value as T | undefined;
  throw new UsageError(`--${flag} must be one of ${choices.join(', ')}; got '${value}'`);
}
