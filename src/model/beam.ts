/**
 * Token search for one clip: greedy and beam search, independent of how logits are computed.
 *
 * Beam search follows openai/whisper's `BeamSearchDecoder` + `MaximumLikelihoodRanker`:
 * - each live beam proposes its `numBeams + 1` most likely next tokens; all candidates are sorted by
 *   cumulative log-probability; those ending in <|endoftext|> become finished candidates, the best
 *   `numBeams` others become the next beams (so an early <|endoftext|> cannot starve the search);
 * - the search stops once `numBeams * patience` candidates finished (or at `maxNewTokens`, then
 *   unfinished beams are finished by force, best first);
 * - the winner maximises sumLogprob / penalty, where penalty is the length in tokens
 *   (`lengthPenalty` undefined, openai's default) or ((5 + length) / 6) ** lengthPenalty (Google NMT,
 *   what `--length_penalty` selects in openai and what HF's beam scorer uses with its own formula).
 *
 * The model is reached only through `NextLogits`, so this file works with a decoder cache (the
 * `sources` argument says which previous row each new row extends, for reordering cached keys) or
 * by recomputing the whole decoder input each step. Logits filters (suppress tokens, timestamp
 * rules) mutate the raw logits in place before the log-softmax, as in openai's `LogitFilter`.
 */
import * as tf from '@tensorflow/tfjs';
import { gatherKeyValue } from '../backend';
import { DecoderCache, disposeCache, disposeUnshared } from './decoder';
import { generate, GenerateOptions, GenerateOutput, languageCode, specialTokens } from './generate';
import type { WhisperForConditionalGeneration } from './whisper';

/**
 * Logits of the next token for each row. `rows` are full token sequences (prompt included);
 * `sources[i]` is the index, in the previous call's rows, of the row that `rows[i]` extends by one
 * token (undefined on the first call). Returns one Float32Array of vocabulary size per row.
 */
export type NextLogits = (rows: number[][], sources?: number[]) => Promise<Float32Array[]>;

/** Mutates `logits` (sets -Infinity) for the row `tokens` (prompt included). */
export type LogitsFilter = (logits: Float32Array, tokens: number[]) => void;

export interface SearchOptions {
  /** Tokens that end a sequence (<|endoftext|>). */
  eot: number;
  maxNewTokens: number;
  filters?: LogitsFilter[];
  /** 1 = greedy. */
  numBeams?: number;
  /** undefined: divide by length (openai default); a number: ((5 + len) / 6) ** lengthPenalty. */
  lengthPenalty?: number;
  /** Finished candidates collected before stopping = numBeams * patience (openai, default 1). */
  patience?: number;
}

export interface SearchResult {
  /** Generated tokens after the prompt, without <|endoftext|>. */
  tokens: number[];
  /** Sum of log-probabilities of the generated tokens (including <|endoftext|> when reached). */
  sumLogprob: number;
  /** sumLogprob / number of generated tokens (openai's avg_logprob, used for fallbacks). */
  avgLogprob: number;
  /** The ranking score that chose this candidate (equals sumLogprob for greedy). */
  score: number;
  /** True when <|endoftext|> was produced (false: cut at maxNewTokens). */
  finished: boolean;
}

/** log Z of a logits vector (log-sum-exp), skipping -Infinity entries. */
export function logSumExp(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return max + Math.log(sum);
}

/** Indices of the k largest values, best first (linear scan; k is tiny, the vocabulary is not). */
export function topK(values: Float32Array, k: number): number[] {
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

/** openai's MaximumLikelihoodRanker score for one candidate. */
export function rankScore(sumLogprob: number, length: number, lengthPenalty?: number): number {
  const penalty = lengthPenalty === undefined ? length : ((5 + length) / 6) ** lengthPenalty;
  return sumLogprob / Math.max(penalty, 1e-9);
}

function applyFilters(logits: Float32Array, row: number[], filters: LogitsFilter[] | undefined): void {
  for (const f of filters ?? []) f(logits, row);
}

function result(tokens: number[], sumLogprob: number, finished: boolean, lengthPenalty?: number,
  greedy = false): SearchResult {
  return {
    tokens,
    sumLogprob,
    avgLogprob: sumLogprob / Math.max(1, tokens.length + (finished ? 1 : 0)),
    score: greedy ? sumLogprob : rankScore(sumLogprob, tokens.length, lengthPenalty),
    finished,
  };
}

/** Greedy decoding: the most likely token at each step (after filters). */
export async function greedySearch(next: NextLogits, prompt: number[], opts: SearchOptions): Promise<SearchResult> {
  const row = [...prompt];
  let sum = 0;
  for (let step = 0; step < opts.maxNewTokens; step++) {
    const [logits] = await next([row], step === 0 ? undefined : [0]);
    applyFilters(logits, row, opts.filters);
    const [best] = topK(logits, 1);
    sum += logits[best] - logSumExp(logits);
    if (best === opts.eot) return result(row.slice(prompt.length), sum, true, undefined, true);
    row.push(best);
  }
  return result(row.slice(prompt.length), sum, false, undefined, true);
}

interface Candidate {
  row: number[];
  sumLogprob: number;
  source: number;
}

/** Beam search (numBeams >= 1; numBeams = 1 gives exactly the greedy tokens). */
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
  if (numBeams === 1) {
    // Greedy equivalence: the single survivor, scored like greedySearch.
    const p = pool[0];
    return result(p.tokens, p.sum, p.done, undefined, true);
  }
  const ranked = pool.map((p) => result(p.tokens, p.sum, p.done, opts.lengthPenalty));
  ranked.sort((a, b) => b.score - a.score);
  return ranked[0];
}

/** Dispatches to greedy (numBeams 1 or unset) or beam search. */
export function search(next: NextLogits, prompt: number[], opts: SearchOptions): Promise<SearchResult> {
  return opts.numBeams !== undefined && opts.numBeams !== 1 ? beamSearch(next, prompt, opts) : greedySearch(next, prompt, opts);
}

/** openai's SuppressTokens: these ids can never be produced. */
export function suppressTokens(ids: number[]): LogitsFilter {
  return (logits) => {
    for (const id of ids) if (id < logits.length) logits[id] = -Infinity;
  };
}

/** openai's SuppressBlank: at the first generated position, forbid `ids` (space, <|endoftext|>). */
export function suppressAtBegin(ids: number[], sampleBegin: number): LogitsFilter {
  return (logits, tokens) => {
    if (tokens.length !== sampleBegin) return;
    for (const id of ids) if (id < logits.length) logits[id] = -Infinity;
  };
}

/** What the cached stepper needs from the model (WhisperForConditionalGeneration fits). */
export interface StepModel {
  decoder: {
    initCache(encoderHiddenStates: tf.Tensor3D): DecoderCache;
    step(inputIds: tf.Tensor2D, cache: DecoderCache): tf.Tensor3D;
  };
  logits(hidden: tf.Tensor3D): tf.Tensor3D;
}

/**
 * A NextLogits over the model's decoder cache for ONE clip (`encoderHiddenStates` [1, S, d]).
 * The first call runs the whole prompt; later calls feed only the last token of each row, after
 * reordering the cached self-attention keys by `sources` (beams are re-ranked every step). The
 * cross-attention keys are identical for every row of a clip, so they are only re-tiled when the
 * number of rows changes (1 -> numBeams after the first step). Call `dispose()` when done.
 */
export function cachedStepper(model: StepModel, encoderHiddenStates: tf.Tensor3D): { next: NextLogits; dispose(): void } {
  if (encoderHiddenStates.shape[0] !== 1) {
    throw new Error(`cachedStepper: encoder states must be for one clip [1, S, d], got [${encoderHiddenStates.shape}]`);
  }
  const cache = model.decoder.initCache(encoderHiddenStates);
  const cross1 = cache.cross; // batch-1 keys: the only owner of the cross-attention tensors
  let crossRows = 1;
  let prevLen = -1;

  const setCrossRows = (n: number) => {
    if (n === crossRows) return;
    // Every row attends to the same clip: its batch-1 keys repeated (by reference where the
    // backend keeps rows apart).
    const previous = cache.cross;
    cache.cross = n === 1 ? cross1 : tf.tidy(() => cross1.map((kv) => gatherKeyValue(kv, new Array<number>(n).fill(0))));
    previous.forEach((kv, i) => disposeUnshared(kv, cross1[i]));
    crossRows = n;
  };

  const next: NextLogits = async (rows, sources) => {
    const len = rows[0].length;
    if (rows.some((r) => r.length !== len)) throw new Error('cachedStepper: rows must have equal lengths');
    let ids: number[][];
    if (prevLen < 0) {
      ids = rows;
    } else {
      if (len !== prevLen + 1 || !sources || sources.length !== rows.length) {
        throw new Error(`cachedStepper: each call must extend the previous rows by one token (had ${prevLen}, got ${len})`);
      }
      // Reorder (and possibly grow) the self-attention cache: row i continues previous row sources[i].
      // Tensors no row uses any more are disposed.
      cache.self = cache.self.map((kv) => {
        if (!kv) return kv;
        const out = tf.tidy(() => gatherKeyValue(kv, sources));
        disposeUnshared(kv, out);
        return out;
      });
      ids = rows.map((r) => [r[len - 1]]);
    }
    setCrossRows(rows.length);
    prevLen = len;
    const input = tf.tensor2d(ids, [ids.length, ids[0].length], 'int32');
    const hidden = model.decoder.step(input, cache);
    input.dispose();
    const logits = tf.tidy(() => {
      const t = hidden.shape[1];
      return model.logits(tf.slice(hidden, [0, t - 1, 0], [-1, 1, -1]) as tf.Tensor3D);
    });
    hidden.dispose();
    const data = (await logits.data()) as Float32Array;
    logits.dispose();
    const v = data.length / rows.length;
    return rows.map((_, i) => data.slice(i * v, (i + 1) * v));
  };

  return {
    next,
    dispose() {
      setCrossRows(1);
      disposeCache(cache);
    },
  };
}

/** What `generateBeams` adds to generate's options. */
export interface BeamGenerateOptions extends GenerateOptions {
  lengthPenalty?: number;
  patience?: number;
}

/**
 * `generate` with beam search: same prompt, suppress rules and output as ./generate.ts (greedy),
 * searched with `numBeams` beams per clip (clips one after the other; beams of a clip share one
 * batched decoder call per step). numBeams = 1 returns exactly generate's greedy tokens.
 */
export async function generateBeams(
  model: WhisperForConditionalGeneration, inputFeatures: tf.Tensor3D | null, opts: BeamGenerateOptions = {},
): Promise<GenerateOutput> {
  const c = model.config;
  const sp = specialTokens(c);
  const task = opts.task ?? 'transcribe';
  const enc = opts.encoderHiddenStates ?? model.encode(inputFeatures as tf.Tensor3D);
  try {
    // Language: given, or detected by generate itself (one step on the same encoder output).
    const languages = opts.language !== undefined || !sp.multilingual
      ? new Array(enc.shape[0]).fill(sp.multilingual ? languageCode(opts.language!, sp) : 'en')
      : (await generate(model, null, { encoderHiddenStates: enc, maxNewTokens: 1 })).languages;
    const sequences: number[][] = [];
    for (let i = 0; i < enc.shape[0]; i++) {
      const prev = opts.promptIds?.length ? (opts.promptIds[0] === sp.sotPrev ? opts.promptIds : [sp.sotPrev, ...opts.promptIds]) : [];
      const prompt = sp.multilingual
        ? [...prev, sp.sot, sp.languages.get(languages[i])!, task === 'translate' ? sp.translate : sp.transcribe, sp.noTimestamps]
        : [...prev, sp.sot, sp.noTimestamps];
      const one = tf.slice(enc, [i, 0, 0], [1, -1, -1]);
      const stepper = cachedStepper(model, one);
      try {
        const r = await search(stepper.next, prompt, {
          eot: sp.eot,
          maxNewTokens: Math.min(opts.maxNewTokens ?? 128, c.maxTargetPositions - prompt.length),
          numBeams: opts.numBeams, lengthPenalty: opts.lengthPenalty, patience: opts.patience,
          filters: [suppressTokens(c.suppressTokens), suppressAtBegin(c.beginSuppressTokens, prompt.length)],
        });
        sequences.push(r.tokens);
      } finally {
        stepper.dispose();
        one.dispose();
      }
    }
    return { sequences, languages };
  } finally {
    if (!opts.encoderHiddenStates) enc.dispose();
  }
}
