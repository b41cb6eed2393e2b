/**
 * Speculative decoding (transformers' `assistant_model`, Leviathan et al. 2023, greedy case): a
 * small draft model proposes k tokens one by one; the main model scores the last accepted token
 * and all k proposals in ONE forward pass (k + 1 positions); the proposals are kept up to the
 * first one the main model would not have chosen, and the main model's own token is appended
 * there (or after all k, a free extra token). Every kept token is the main model's argmax for its
 * context, so the output is exactly greedy decoding's; the draft only decides how many main-model
 * passes it takes. Both key/value caches are cut back to the accepted tokens after each round.
 */
import type { DecoderSession } from './inference';
import { applyFilters, greedyPick, SearchOptions, SearchResult, topK } from './search';

export interface SpeculativeOptions extends SearchOptions {
  /** Tokens drafted per round (k). */
  numAssistantTokens: number;
  /** The draft stops a round at a token it gives a probability below this (0: never). */
  confidenceThreshold: number;
  /** Index of <|startoftranscript|> in the prompt: its logits are returned (no-speech probability). */
  sotIndex: number;
}

export interface SpeculativeResult extends SearchResult {
  draft: { proposed: number; accepted: number };
  /** The main model's logits at <|startoftranscript|>. */
  sotLogits: Float32Array;
}

/** Greedy decoding of `prompt` by `main`, with tokens drafted by `draft` (sessions on one clip each). */
export async function speculativeSearch(main: DecoderSession, draft: DecoderSession, prompt: number[],
  opts: SpeculativeOptions): Promise<SpeculativeResult> {
  const tokens = [...prompt];
  const budget = () => opts.maxNewTokens - (tokens.length - prompt.length);
  let sum = 0;
  let proposed = 0;
  let accepted = 0;
  let finished = false;
  let sotLogits: Float32Array | undefined;

  while (!finished && budget() > 0) {
    // 1. The draft proposes up to k tokens (never past the budget; the main model adds one more).
    const guesses: number[] = [];
    const k = Math.min(opts.numAssistantTokens, budget() - 1);
    while (guesses.length < k) {
      const context = [...tokens, ...guesses];
      const [[logits]] = await draft.logits([context]);
      applyFilters(logits, context, opts.filters);
      // The log-probability only where a threshold reads it (a pass over the vocabulary's exps).
      const { token: t, logprob } = opts.confidenceThreshold > 0 ? greedyPick(logits) : { token: topK(logits, 1)[0], logprob: 0 };
      guesses.push(t);
      if (t === opts.eot || Math.exp(logprob) < opts.confidenceThreshold) break;
    }
    proposed += guesses.length;

    // 2. The main model scores every drafted position at once.
    const start = main.length;
    const rows = [[...tokens, ...guesses]];
    const verify = Array.from({ length: guesses.length + 1 }, (_, i) => tokens.length - 1 + i);
    const positions = start === 0 ? [opts.sotIndex, ...verify] : verify;
    const out = (await main.logits(rows, { positions }))[0];
    if (start === 0) sotLogits = out.shift()!;

    // 3. Keep the drafted tokens while they are the main model's choice; then the main model's token.
    for (let i = 0; i <= guesses.length; i++) {
      const context = [...tokens];
      const logits = out[i];
      applyFilters(logits, context, opts.filters);
      const { token: choice, logprob } = greedyPick(logits);
      sum += logprob;
      tokens.push(choice);
      if (choice === opts.eot) finished = true;
      const hit = i < guesses.length && choice === guesses[i];
      if (hit) accepted++;
      if (finished || !hit) break;
    }
    // 4. Forget what the caches hold beyond the kept tokens (the newest one is fed next round).
    main.truncate(tokens.length - 1);
    draft.truncate(Math.min(draft.length, tokens.length - 1));
  }
  if (!sotLogits) throw new Error('speculativeSearch: maxNewTokens must be at least 1');
  const generated = tokens.slice(prompt.length);
  const out = finished ? generated.slice(0, -1) : generated;
  return {
    tokens: out, sumLogprob: sum, avgLogprob: sum / (out.length + 1), score: sum / Math.max(out.length, 1e-9), finished,
    draft: { proposed, accepted }, sotLogits,
  };
}
