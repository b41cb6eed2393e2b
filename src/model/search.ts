/**
 * Token search, independent of how logits are computed (openai's `TokenDecoder`s):
 *
 * - `sampleRows`: greedy (temperature 0, `GreedyDecoder`) or sampling at a temperature, for
 *   several rows at once (a batch of clips, or best-of-n samples of one clip); a finished row
 *   leaves the batch (openai keeps feeding it <|endoftext|>: the same tokens, at the cost of steps
 *   for rows that are done).
 * - `beamSearch`, openai's `BeamSearchDecoder`: each live beam proposes its `numBeams + 1` most
 *   likely next tokens; all candidates are sorted by cumulative log-probability; those ending in
 *   <|endoftext|> become finished candidates, the best `numBeams` others the next beams (so an
 *   early <|endoftext|> cannot starve the search); it stops once `numBeams * patience` candidates
 *   finished (or at `maxNewTokens`, then unfinished beams are finished by force, best first).
 * - `rankScore`, openai's `MaximumLikelihoodRanker`: sumLogprob / penalty, where penalty is the
 *   length in tokens (`lengthPenalty` undefined, openai's default) or ((5 + length) / 6) ** alpha
 *   (Google NMT, openai's `--length_penalty`).
 *
 * The model is reached only through `NextLogits` (`sources` says which previous row each new row
 * extends, so a decoder cache can follow beams being re-ranked). Logits filters (suppress tokens,
 * timestamp rules) mutate the raw logits in place before the log-softmax, as openai's `LogitFilter`.
 */
import { expSum } from '../backend';

/**
 * Logits of the next token for each row. `rows` are full token sequences (prompt included);
 * `sources[i]` is the index, in the previous call's rows, of the row that `rows[i]` extends
 * (undefined on the first call). Returns one Float32Array of vocabulary size per row.
 */
export type NextLogits = (rows: number[][], sources?: number[]) => Promise<Float32Array[]>;

/** Mutates `logits` (sets -Infinity) for the row `tokens` (prompt included). */
export type LogitsFilter = (logits: Float32Array, tokens: number[]) => void;

export interface SearchOptions {
  /** The token that ends a sequence (<|endoftext|>). */
  eot: number;
  maxNewTokens: number;
  filters?: LogitsFilter[];
  /** 1 = greedy. */
  numBeams?: number;
  /** undefined: divide by length (openai default); a number: ((5 + len) / 6) ** lengthPenalty. */
  lengthPenalty?: number;
  /** Finished candidates collected before stopping = numBeams * patience (openai, default 1). */
  patience?: number;
  /** 0 (default) = argmax; above 0, tokens are drawn from softmax(logits / temperature) with `random`. */
  temperature?: number;
  /** Uniform numbers in [0, 1) for sampling (a seeded generator, so results can be reproduced). */
  random?: () => number;
}

export interface SearchResult {
  /** Generated tokens after the prompt, without <|endoftext|>. */
  tokens: number[];
  /** Sum of log-probabilities of the generated tokens (including <|endoftext|> when reached). */
  sumLogprob: number;
  /** sumLogprob / (tokens + 1): openai's avg_logprob, used for fallbacks. */
  avgLogprob: number;
  /** What the ranker compares (see rankScore). */
  score: number;
  /** Ended with <|endoftext|> (false: stopped at maxNewTokens). */
  finished: boolean;
}

/** log Z of a logits vector (log-sum-exp), skipping -Infinity entries. */
export function logSumExp(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  return logSumExpAt(logits, max);
}

/** logSumExp for a caller that has the largest value already. */
function logSumExpAt(logits: Float32Array, max: number): number {
  if (max === -Infinity) return -Infinity;
  // The backend may run the same loop faster (the same value).
  let sum = expSum(logits, max, EXP_STEPS);
  if (sum === undefined) {
    sum = 0;
    for (let i = 0; i < logits.length; i++) sum += expNonPositive(logits[i] - max);
  }
  return max + Math.log(sum);
}

/** e^(-j/16) for j = 0 .. 16 * 746 (below that e^x is 0 in float64). */
const EXP_STEPS = Float64Array.from({ length: 16 * 746 + 1 }, (_, j) => Math.exp(-j / 16));

/**
 * e^x for x <= 0 (-Infinity included), within 4e-16 of Math.exp: a table step e^(-j/16) times a
 * degree-8 Taylor polynomial on the rest (|r| < 1/16). A greedy step sums the exp of every
 * vocabulary entry, and Math.exp is a call out of optimized code.
 */
function expNonPositive(x: number): number {
  const j = Math.floor(-16 * x);
  if (!(j < EXP_STEPS.length)) return 0;
  const r = x + j / 16;
  return EXP_STEPS[j] * (1 + r * (1 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r * (1 / 5040 + r / 40320))))))));
}

/** Indices of the k largest values, best first (linear scan; k is tiny, the vocabulary is not). */
export function topK(values: Float32Array, k: number): number[] {
  if (k === 1) return argmax(values); // a draft's step without a confidence threshold: one comparison per value
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === -Infinity) continue;
    if (idx.length < k) {
      idx.push(i);
      idx.sort((a, b) => values[b] - values[a]);
    } else if (v > values[idx[k - 1]]) {
      idx[k - 1] = i;
      idx.sort((a, b) => values[b] - values[a]);
    }
  }
  return idx;
}

/** Greedy's choice: the largest logit's token and its log-probability (one pass for the maximum, not two). */
export function greedyPick(logits: Float32Array): { token: number; logprob: number } {
  const [token] = argmax(logits);
  const max = token === undefined ? -Infinity : logits[token];
  return { token, logprob: max - logSumExpAt(logits, max) };
}

/** [index of the largest value] (the first of equals), or [] when every value is -Infinity. */
function argmax(values: Float32Array): number[] {
  let best = -1;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > max) {
      max = values[i];
      best = i;
    }
  }
  return best < 0 ? [] : [best];
}

/** openai's MaximumLikelihoodRanker score for one candidate. */
export function rankScore(sumLogprob: number, length: number, lengthPenalty?: number): number {
  const penalty = lengthPenalty === undefined ? length : ((5 + length) / 6) ** lengthPenalty;
  return sumLogprob / Math.max(penalty, 1e-9);
}

export function applyFilters(logits: Float32Array, row: number[], filters: LogitsFilter[] | undefined): void {
  for (const f of filters ?? []) f(logits, row);
}

function result(tokens: number[], sumLogprob: number, finished: boolean, lengthPenalty?: number): SearchResult {
  return {
    tokens, sumLogprob, finished,
    avgLogprob: sumLogprob / (tokens.length + 1),
    score: rankScore(sumLogprob, tokens.length, lengthPenalty),
  };
}

/** A draw from softmax(logits / temperature) (openai's Categorical(logits=logits / T).sample()). */
function sample(logits: Float32Array, temperature: number, random: () => number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  const p = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp((logits[i] - max) / temperature);
  let u = random() * sum;
  let last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue;
    last = i;
    if ((u -= p[i]) < 0) return i;
  }
  return last;
}

/**
 * Greedy decoding or sampling of every prompt (equal lengths) at once: one `next` call per step
 * for all rows. Returns one result per row.
 */
export async function sampleRows(next: NextLogits, prompts: number[][], opts: SearchOptions): Promise<SearchResult[]> {
  const temperature = opts.temperature ?? 0;
  if (temperature > 0 && !opts.random) throw new Error('sampleRows: sampling at a temperature needs opts.random');
  const rows = prompts.map((p) => [...p]);
  const sums = new Array<number>(rows.length).fill(0);
  const done = new Array<boolean>(rows.length).fill(false);
  let live = rows.map((_, i) => i); // the rows of the last `next` call
  let sources: number[] | undefined;
  for (let step = 0; step < opts.maxNewTokens && live.length > 0; step++) {
    const all = await next(live.map((i) => rows[i]), sources);
    live.forEach((i, j) => {
      const logits = all[j];
      const row = rows[i];
      applyFilters(logits, row, opts.filters);
      let token: number;
      if (temperature > 0) {
        token = sample(logits, temperature, opts.random!);
        sums[i] += logits[token] - logSumExp(logits);
      } else {
        const pick = greedyPick(logits);
        token = pick.token;
        sums[i] += pick.logprob;
      }
      row.push(token);
      if (token === opts.eot) done[i] = true;
    });
    sources = live.flatMap((i, j) => (done[i] ? [] : [j]));
    live = live.filter((i) => !done[i]);
  }
  return rows.map((row, i) => {
    const generated = row.slice(prompts[i].length);
    const end = generated.indexOf(opts.eot);
    return result(end < 0 ? generated : generated.slice(0, end), sums[i], end >= 0, opts.lengthPenalty);
  });
}

/** Greedy decoding of one prompt: the most likely token at each step (after filters). */
export async function greedySearch(next: NextLogits, prompt: number[], opts: SearchOptions): Promise<SearchResult> {
  return (await sampleRows(next, [prompt], { ...opts, temperature: 0 }))[0];
}

interface Candidate {
  row: number[];
  sumLogprob: number;
  source: number;
}

/** Beam search of one prompt (numBeams >= 1; numBeams = 1 gives exactly the greedy tokens). */
export async function beamSearch(next: NextLogits, prompt: number[], opts: SearchOptions): Promise<SearchResult> {
  const numBeams = opts.numBeams ?? 1;
  if (!Number.isInteger(numBeams) || numBeams < 1) throw new Error(`numBeams must be a positive integer, got ${numBeams}`);
  const maxCandidates = Math.max(1, Math.round(numBeams * (opts.patience ?? 1)));
  let beams: Candidate[] = [{ row: [...prompt], sumLogprob: 0, source: 0 }];
  const finished: Candidate[] = [];
  let sources: number[] | undefined;

  for (let step = 0; step < opts.maxNewTokens && finished.length < maxCandidates; step++) {
    const all = await next(beams.map((b) => b.row), sources);
    const candidates: Candidate[] = [];
    beams.forEach((beam, j) => {
      const logits = all[j];
      applyFilters(logits, beam.row, opts.filters);
      const logZ = logSumExp(logits);
      for (const t of topK(logits, numBeams + 1)) {
        candidates.push({ row: [...beam.row, t], sumLogprob: beam.sumLogprob + logits[t] - logZ, source: j });
      }
    });
    candidates.sort((a, b) => b.sumLogprob - a.sumLogprob);
    const nextBeams: Candidate[] = [];
    const newlyFinished: Candidate[] = [];
    for (const c of candidates) {
      if (c.row[c.row.length - 1] === opts.eot) newlyFinished.push(c);
      else nextBeams.push(c);
      if (nextBeams.length === numBeams) break;
    }
    for (const c of newlyFinished) if (finished.length < maxCandidates) finished.push(c);
    if (nextBeams.length === 0) break; // every candidate ended (only possible with filters)
    beams = nextBeams;
    sources = nextBeams.map((b) => b.source);
  }

  // Not enough finished: close the best live beams (openai's finalize()).
  const pool = finished.map((c) => ({ tokens: c.row.slice(prompt.length, -1), sum: c.sumLogprob, done: true }));
  if (pool.length < numBeams) {
    for (const b of [...beams].sort((a, c) => c.sumLogprob - a.sumLogprob)) {
      pool.push({ tokens: b.row.slice(prompt.length), sum: b.sumLogprob, done: false });
      if (pool.length >= numBeams) break;
    }
  }
  return best(pool.map((p) => result(p.tokens, p.sum, p.done, opts.lengthPenalty)));
}

/** The ranker's choice among candidates (the first of equals, like numpy's argmax). */
export function best(candidates: SearchResult[]): SearchResult {
  return candidates.reduce((a, b) => (b.score > a.score ? b : a));
}
