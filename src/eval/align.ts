/**
 * Minimum-edit (Levenshtein) alignment of two token sequences, with the same tie-breaking as
 * jiwer (which calls rapidfuzz `Levenshtein.opcodes`), so S/D/I counts match jiwer's, not only
 * their sum.
 *
 * Among several minimal alignments the choice is rapidfuzz's: (1) the common prefix and suffix are
 * matched first; (2) on the rest, the full DP matrix D[i][j] (i over reference, j over hypothesis)
 * is walked back from the end and at each cell prefers, in this order:
 *   - a DELETION of ref[i-1]       when D[i][j] == D[i-1][j] + 1
 *   - an INSERTION of hyp[j-1]     when D[i-1][j-1] == D[i][j-1] + 1
 *   - the diagonal (hit or SUBSTITUTION) otherwise.
 * (rapidfuzz reads these from the bit-parallel VP/VN vectors of Hyyrö's algorithm; we read them
 * from the plain matrix: same decisions. rapidfuzz switches to Hirschberg's divide and conquer for
 * very large inputs, which may pick another of the equally minimal alignments; sentences never
 * get there.)
 */

export type OpType = 'equal' | 'substitute' | 'delete' | 'insert';

/** One step of the alignment: `ref`/`hyp` are indices into the sequences (-1 when absent). */
export interface EditOp {
  type: OpType;
  ref: number;
  hyp: number;
}

/** Consecutive ops of one type, jiwer's AlignmentChunk: ref[refStart:refEnd] vs hyp[hypStart:hypEnd]. */
export interface AlignmentChunk {
  type: OpType;
  refStart: number;
  refEnd: number;
  hypStart: number;
  hypEnd: number;
}

export interface AlignmentCounts {
  hits: number;
  substitutions: number;
  deletions: number;
  insertions: number;
}

/** Aligns `ref` to `hyp` token by token (strict equality). O(n*m) time and memory. */
export function alignTokens<T>(ref: readonly T[], hyp: readonly T[]): EditOp[] {
  let pre = 0;
  while (pre < ref.length && pre < hyp.length && ref[pre] === hyp[pre]) pre++;
  let suf = 0;
  while (suf < ref.length - pre && suf < hyp.length - pre &&
    ref[ref.length - 1 - suf] === hyp[hyp.length - 1 - suf]) suf++;

  const a = ref.slice(pre, ref.length - suf);
  const b = hyp.slice(pre, hyp.length - suf);
  const n = a.length;
  const m = b.length;
  const w = m + 1;
  const D = new Uint32Array((n + 1) * w);
  for (let j = 0; j <= m; j++) D[j] = j;
  for (let i = 1; i <= n; i++) {
    D[i * w] = i;
    for (let j = 1; j <= m; j++) {
      const diag = D[(i - 1) * w + j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      D[i * w + j] = Math.min(diag, D[(i - 1) * w + j] + 1, D[i * w + j - 1] + 1);
    }
  }

  const middle: EditOp[] = [];
  let i = n;
  let j = m;
  while (i > 0 && j > 0) {
    if (D[i * w + j] === D[(i - 1) * w + j] + 1) {
      i--;
      middle.push({ type: 'delete', ref: pre + i, hyp: -1 });
    } else if (j > 1 && D[(i - 1) * w + j - 1] === D[i * w + j - 1] + 1) {
      j--;
      middle.push({ type: 'insert', ref: -1, hyp: pre + j });
    } else {
      i--;
      j--;
      middle.push({ type: a[i] === b[j] ? 'equal' : 'substitute', ref: pre + i, hyp: pre + j });
    }
  }
  while (i > 0) middle.push({ type: 'delete', ref: pre + --i, hyp: -1 });
  while (j > 0) middle.push({ type: 'insert', ref: -1, hyp: pre + --j });
  middle.reverse();

  const ops: EditOp[] = [];
  for (let k = 0; k < pre; k++) ops.push({ type: 'equal', ref: k, hyp: k });
  ops.push(...middle);
  for (let k = suf; k > 0; k--) ops.push({ type: 'equal', ref: ref.length - k, hyp: hyp.length - k });
  return ops;
}

export function countOps(ops: readonly EditOp[]): AlignmentCounts {
  const c: AlignmentCounts = { hits: 0, substitutions: 0, deletions: 0, insertions: 0 };
  for (const op of ops) {
    if (op.type === 'equal') c.hits++;
    else if (op.type === 'substitute') c.substitutions++;
    else if (op.type === 'delete') c.deletions++;
    else c.insertions++;
  }
  return c;
}

/** Groups consecutive ops of one type into jiwer-style chunks. */
export function toChunks(ops: readonly EditOp[]): AlignmentChunk[] {
  const chunks: AlignmentChunk[] = [];
  let r = 0;
  let h = 0;
  for (const op of ops) {
    const dr = op.type === 'insert' ? 0 : 1;
    const dh = op.type === 'delete' ? 0 : 1;
    const last = chunks[chunks.length - 1];
    if (last && last.type === op.type) {
      last.refEnd += dr;
      last.hypEnd += dh;
    } else {
      chunks.push({ type: op.type, refStart: r, refEnd: r + dr, hypStart: h, hypEnd: h + dh });
    }
    r += dr;
    h += dh;
  }
  return chunks;
}
