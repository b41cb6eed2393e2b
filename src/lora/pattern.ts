/**
 * A regex `target_modules` (PEFT: `re.fullmatch(target_modules, module_name)`) matched in time
 * linear in the name.
 *
 * Why not `new RegExp(pattern)`: JS regexes backtrack, and the pattern comes from a file anyone can
 * hand us (adapter_config.json). "(.+)+Q" against a 40-character module name takes 2^40 steps: the
 * CLI sat at 100 % CPU for good. A length or "nested quantifier" bound would still let some
 * exponential pattern through and refuse harmless ones, so the pattern is compiled to a Thompson NFA
 * and simulated as a set of states (Pike VM without captures): at most (name length) x (states)
 * steps, whatever the pattern. Counted repetitions expand to copies, so the state count is capped.
 *
 * The subset is what PEFT configs use (Python `re` syntax): literals, `.`, classes `[a-z_]`,
 * `\d \w \s` (and negations), groups `( )`, `(?: )`, `(?P<name> )`, `|`, `* + ? {n} {n,} {,m} {n,m}`
 * (lazy forms too: for a full match they accept the same names), `^ $ \A \Z`. Anything else
 * (backreferences, lookaround, `\b`, inline flags) is refused with a message, never guessed.
 */

type Test = (c: string) => boolean;
type Node =
  | { t: 'char'; test: Test }
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; items: Node[] }
  | { t: 'rep'; node: Node; min: number; max: number }
  | { t: 'bol' }
  | { t: 'eol' };

type State =
  | { k: 'char'; test: Test; next: number }
  | { k: 'split'; a: number; b: number }
  | { k: 'bol' | 'eol'; next: number }
  | { k: 'match' };

/** Bounds the work per name: (name length) x MAX_STATES steps at most. */
export const MAX_STATES = 10_000;

const DIGIT: Test = (c) => c >= '0' && c <= '9';
const WORD: Test = (c) => /^[\p{L}\p{N}_]$/u.test(c);
const SPACE: Test = (c) => /^\s$/u.test(c);
const not = (f: Test): Test => (c) => !f(c);
const CLASS_ESCAPES: Record<string, Test> = { d: DIGIT, D: not(DIGIT), w: WORD, W: not(WORD), s: SPACE, S: not(SPACE) };
const CONTROL_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v', a: '\x07' };

class PatternError extends Error {}

class Parser {
  private i = 0;
  private readonly s: string[];
  constructor(pattern: string) {
    this.s = [...pattern];
  }

  parse(): Node {
    const n = this.alt();
    if (this.i < this.s.length) this.fail(`unbalanced parenthesis ')'`);
    return n;
  }

  private fail(why: string): never {
    throw new PatternError(`${why} at position ${this.i}`);
  }

  private alt(): Node {
    const items = [this.seq()];
    while (this.s[this.i] === '|') {
      this.i++;
      items.push(this.seq());
    }
    return items.length === 1 ? items[0] : { t: 'alt', items };
  }

  private seq(): Node {
    const items: Node[] = [];
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      const node = this.atom();
      const q = this.quantifier();
      if (!q) {
        items.push(node);
        continue;
      }
      if (node.t === 'bol' || node.t === 'eol') this.fail('nothing to repeat');
      if (this.quantifier()) this.fail('multiple repeat');
      items.push({ t: 'rep', node, ...q });
    }
    return items.length === 1 ? items[0] : { t: 'seq', items };
  }

  /** `* + ? {..}` (with an optional lazy `?`) at the cursor, or null. */
  private quantifier(): { min: number; max: number } | null {
    const c = this.s[this.i];
    let q: { min: number; max: number } | null = null;
    if (c === '*') q = { min: 0, max: Infinity };
    else if (c === '+') q = { min: 1, max: Infinity };
    else if (c === '?') q = { min: 0, max: 1 };
    if (q) this.i++;
    else if (c === '{') {
      // Python reads "{" that does not form a valid quantifier as a literal.
      const m = /^\{(\d*)(,(\d*))?\}/.exec(this.s.slice(this.i, this.i + 24).join(''));
      if (!m || (m[1] === '' && m[2] === undefined)) return null;
      const min = m[1] === '' ? 0 : Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (max < min) this.fail('min repeat greater than max repeat');
      this.i += m[0].length;
      q = { min, max };
    }
    if (!q) return null;
    if (this.s[this.i] === '?') this.i++; // lazy: the same full matches
    else if (this.s[this.i] === '+') this.fail('possessive quantifiers are not supported');
    return q;
  }

  private atom(): Node {
    const c = this.s[this.i++];
    switch (c) {
      case '(': {
        if (this.s[this.i] === '?') {
          const rest = this.s.slice(this.i, this.i + 3).join('');
          if (rest.startsWith('?:')) this.i += 2;
          else if (rest === '?P<') {
            const close = this.s.indexOf('>', this.i);
            if (close < 0) this.fail('unterminated group name');
            this.i = close + 1;
          } else this.fail(`'(${rest}...' (lookaround, inline flags or backreferences) is not supported`);
        }
        const inner = this.alt();
        if (this.s[this.i] !== ')') this.fail('missing ), unterminated subpattern');
        this.i++;
        return inner;
      }
      case '[':
        return { t: 'char', test: this.charClass() };
      case '.':
        return { t: 'char', test: (x) => x !== '\n' };
      case '^':
        return { t: 'bol' };
      case '$':
        return { t: 'eol' };
      case '\\': {
        const e = this.escape(false);
        if (!('lit' in e)) return e;
        const l = e.lit;
        return { t: 'char', test: (x) => x === l };
      }
      case '*': case '+': case '?':
        this.i--;
        this.fail('nothing to repeat');
      // falls through (fail never returns)
      default:
        return { t: 'char', test: (x) => x === c };
    }
  }

  /** After a backslash: a class (\\d ...), an anchor (\\A \\Z, outside classes) or one literal character. */
  private escape(inClass: boolean): Node | { lit: string } {
    const c = this.s[this.i++];
    if (c === undefined) this.fail('bad escape (end of pattern)');
    if (CLASS_ESCAPES[c]) return { t: 'char', test: CLASS_ESCAPES[c] };
    if (!inClass && c === 'A') return { t: 'bol' };
    if (!inClass && c === 'Z') return { t: 'eol' };
    if (CONTROL_ESCAPES[c]) return { lit: CONTROL_ESCAPES[c] };
    if (/[0-9A-Za-z]/.test(c)) this.fail(`escape '\\${c}' (backreferences, \\b and the like) is not supported`);
    return { lit: c };
  }

  /** One member of a [...] set: a literal character or a class escape. */
  private classItem(): { lit: string } | { test: Test } {
    const c = this.s[this.i++];
    if (c !== '\\') return { lit: c };
    const e = this.escape(true);
    return 'lit' in e ? e : { test: (e as { test: Test }).test };
  }

  private charClass(): Test {
    const negate = this.s[this.i] === '^';
    if (negate) this.i++;
    const tests: Test[] = [];
    for (let first = true; ; first = false) {
      if (this.i >= this.s.length) this.fail('unterminated character set');
      if (this.s[this.i] === ']' && !first) break;
      const lo = this.classItem();
      if (this.s[this.i] === '-' && this.i + 1 < this.s.length && this.s[this.i + 1] !== ']') {
        this.i++;
        const hi = this.classItem();
        if (!('lit' in lo) || !('lit' in hi) || lo.lit > hi.lit) this.fail('bad character range');
        const [from, to] = [lo.lit, (hi as { lit: string }).lit];
        tests.push((x) => x >= from && x <= to);
      } else if ('lit' in lo) {
        const l = lo.lit;
        tests.push((x) => x === l);
      } else tests.push(lo.test);
    }
    this.i++; // ]
    const any: Test = (x) => tests.some((t) => t(x));
    return negate ? not(any) : any;
  }
}

/** A compiled pattern: `fullMatch(name)` is Python's `re.fullmatch(pattern, name) is not None`. */
export class FullMatchPattern {
  private readonly states: State[] = [];
  private readonly start: number;

  /** Throws an Error naming what is not supported or malformed (the caller adds file and field). */
  constructor(readonly source: string) {
    let ast: Node;
    try {
      ast = new Parser(source).parse();
    } catch (e) {
      if (e instanceof PatternError) throw new Error(e.message);
      throw e;
    }
    this.start = this.compile(ast, this.add({ k: 'match' }));
  }

  private add(s: State): number {
    if (this.states.length >= MAX_STATES) {
      throw new Error(`pattern needs more than ${MAX_STATES} matcher states (a counted repetition such as {500} is too large)`);
    }
    this.states.push(s);
    return this.states.length - 1;
  }

  /** Compiles `n` so that it continues at state `next`; returns its first state (built back to front). */
  private compile(n: Node, next: number): number {
    switch (n.t) {
      case 'char':
        return this.add({ k: 'char', test: n.test, next });
      case 'bol':
      case 'eol':
        return this.add({ k: n.t, next });
      case 'seq':
        return n.items.reduceRight((acc, item) => this.compile(item, acc), next);
      case 'alt': {
        const starts = n.items.map((item) => this.compile(item, next));
        return starts.reduceRight((b, a) => this.add({ k: 'split', a, b }));
      }
      case 'rep': {
        let at = next;
        if (n.max === Infinity) {
          const loop = this.add({ k: 'split', a: -1, b: next });
          (this.states[loop] as { a: number }).a = this.compile(n.node, loop);
          at = loop;
        } else {
          // x{0,2} = (x(x)?)?: each optional copy may stop and go to `next`.
          for (let k = n.min; k < n.max; k++) at = this.add({ k: 'split', a: this.compile(n.node, at), b: next });
        }
        for (let k = 0; k < n.min; k++) at = this.compile(n.node, at);
        return at;
      }
    }
  }

  fullMatch(name: string): boolean {
    const chars = [...name];
    const seen = new Int32Array(this.states.length).fill(-1);
    // The states reachable from `id` without reading a character (an explicit stack: a long chain
    // of splits would overflow the call stack).
    const addState = (list: number[], id: number, pos: number) => {
      const stack = [id];
      while (stack.length) {
        const at = stack.pop()!;
        if (seen[at] === pos) continue;
        seen[at] = pos;
        const s = this.states[at];
        if (s.k === 'split') stack.push(s.b, s.a);
        else if (s.k === 'bol') {
          if (pos === 0) stack.push(s.next);
        } else if (s.k === 'eol') {
          if (pos === chars.length) stack.push(s.next);
        } else list.push(at);
      }
    };
    let current: number[] = [];
    addState(current, this.start, 0);
    for (let pos = 0; pos < chars.length && current.length; pos++) {
      const next: number[] = [];
      for (const id of current) {
        const s = this.states[id];
        if (s.k === 'char' && s.test(chars[pos])) addState(next, s.next, pos + 1);
      }
      current = next;
    }
    return current.some((id) => this.states[id].k === 'match');
  }
}
