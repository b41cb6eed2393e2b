/**
 * "The article does X" must be true to the article: every article notebook (10-14) ends with a
 * table "the article | this notebook" whose article column is fixed text (what the article states,
 * "not stated" where it says nothing), and every sentence of the notebook's markdown or of its
 * EXPERIMENTS.md section that attributes a hyper-parameter to the article must quote the value of
 * that table. Fast: reads notebooks/*.ipynb and EXPERIMENTS.md, runs nothing.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { PROJECT_ROOT } from '../tools/shared';
import { WhisperConfig } from '../src/model/config';
import { LoraConfig, modelSummary, trainableParametersLine } from '../src/lora';

const NOTEBOOKS = { '10_vietnamese': '000', '11_medical': '001', '12_complete_guide': '002', '13_breton': '003', '14_french_telephone': '004' } as const;
type Notebook = keyof typeof NOTEBOOKS;

export interface ArticleRow { quantity: string; article: string }

/** A quantity the check knows: which table row it is, how a sentence names it, what its values look like. */
interface Spec { name: string; row: RegExp; key: RegExp; value: RegExp; valueFirst?: boolean }
const SPECS: Spec[] = [
  { name: 'learning rate', row: /^learning rate$/, key: /\b(?:learning[ _]rates?|lr)\b/, value: /\b\d(?:\.\d+)?e-\d+\b/g },
  { name: 'batch', row: /^batch$/, key: /\b(?:batch(?:es)?(?: size)?|per_device_train_batch_size)\b/, value: /\b\d+(?:\s*[x×]\s*\d+)?\b/g },
  { name: 'test split', row: /^test split$/, key: /\b(?:test_size|test split|holds? out)\b/, value: /\b0\.\d+\b|\b\d+ ?%/g },
  { name: 'epochs', row: /^epochs$/, key: /\bepochs?\b/, value: /\b\d+\b/g, valueFirst: true },
  { name: 'model', row: /^(?:base )?model$/, key: /(?=whisper-)/, value: /\bwhisper-(?:tiny|base|small|medium|large)(?:-v\d)?(?:\.en)?(?![\w-])/g },
];

/** Phrases that attribute what follows to the article. */
const ATTRIBUTION = /\b(?:the article|the guide)(?:'s)?\b/gi;
/** Where a clause ends, or turns to this notebook's side: what follows is no longer attributed. */
const CLAUSE_END = /[;:()!?|]|\.(?=\s|$)|\s[-–—]\s|\b(?:we|our|ours|us|here|this notebook|this run)\b/i;

const norm = (s: string) => s.replace(/[*`\\]/g, '').replace(/\s+/g, ' ').trim();
const canon = (v: string) => {
  const c = v.toLowerCase().replace(/\s*[x×]\s*/g, 'x').replace(/\s+/g, '');
  return /^\d+%$/.test(c) ? String(parseInt(c, 10) / 100) : c;   // "10 %" is test_size=0.1
};
const valuesIn = (spec: Spec, text: string) => [...norm(text).matchAll(spec.value)].map((m) => canon(m[0]));
const notStated = (cell: string) => /^not stated\b/i.test(norm(cell));

const words = (s: string) => s.split(/\s+/).filter((w) => /\w/.test(w)).length;

/** The values right after a key: the first within 3 words, then those that follow it within 2 words ("from 5e-6 to 1e-4"). */
function valuesAfter(spec: Spec, text: string): string[] {
  const out: string[] = [];
  let last = 0;
  for (const m of text.matchAll(spec.value)) {
    const at = m.index ?? 0;
    if (words(text.slice(last, at)) > (out.length ? 2 : 3)) break;
    out.push(canon(m[0]));
    last = at + m[0].length;
  }
  return out;
}

/** The clauses of `text` that a phrase like "the article" governs, each from that phrase to the clause's end. */
export function attributedClauses(text: string): string[] {
  const t = norm(text);
  const out: string[] = [];
  for (const m of t.matchAll(ATTRIBUTION)) {
    const rest = t.slice(m.index ?? 0);
    const end = rest.slice(m[0].length).search(CLAUSE_END);
    out.push(end < 0 ? rest : rest.slice(0, m[0].length + end));
  }
  return out;
}

/** Claims in `text` that contradict `table`: "<spec>: <clause>" for each, empty when all agree. */
export function contradictions(text: string, table: ArticleRow[]): string[] {
  const bad: string[] = [];
  for (const clause of attributedClauses(text)) {
    for (const spec of SPECS) {
      const row = table.find((r) => spec.row.test(r.quantity));
      if (!row) continue;
      const key = spec.key.exec(clause);
      if (!key) continue;
      // The values right after the key (or, for counts like "5 epochs", the number just before it).
      let claimed = valuesAfter(spec, clause.slice(key.index + key[0].length));
      if (spec.valueFirst) {
        const before = /(\d+)\s*$/.exec(clause.slice(0, key.index));
        claimed = before ? [before[1]] : [];
      }
      if (!claimed.length) continue;
      if (notStated(row.article)) { bad.push(`${spec.name}: "${clause}" quotes ${claimed.join(', ')}, the table says the article does not state it`); continue; }
      const allowed = new Set(valuesIn(spec, row.article));
      const wrong = claimed.filter((v) => !allowed.has(v));
      if (wrong.length) bad.push(`${spec.name}: "${clause}" quotes ${wrong.join(', ')}; the article table says "${row.article}"`);
    }
  }
  return bad;
}

/** The article column of a markdown table whose header names the article: each row becomes "the article <quantity> <cell>". */
function markdownTableClaims(md: string): string[] {
  const claims: string[] = [];
  let articleCol = -1;
  for (const line of md.split('\n')) {
    if (!line.trim().startsWith('|')) { articleCol = -1; continue; }
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.every((c) => /^-+$/.test(c))) continue;
    const header = cells.findIndex((c) => /^(?:the )?article$/i.test(c));
    if (header >= 0) { articleCol = header; continue; }
    if (articleCol > 0 && cells[articleCol] !== undefined) claims.push(`the article ${cells[0]} ${cells[articleCol]}`);
  }
  return claims;
}

/** Markdown with its tables taken out (their article columns are checked as claims instead). */
function prose(md: string): string {
  return md.split('\n').map((l) => (l.trim().startsWith('|') ? '' : l)).join('\n');
}

function readNotebook(name: Notebook): { markdown: string[]; code: string[] } {
  const nb = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'notebooks', `${name}.ipynb`), 'utf8')) as { cells: { cell_type: string; source: string[] }[] };
  const text = (t: string) => nb.cells.filter((c) => c.cell_type === t).map((c) => c.source.join(''));
  return { markdown: text('markdown'), code: text('code') };
}

/** The notebook's "the article | this notebook" table, from the code cell that displays it. */
export function articleTable(name: Notebook): ArticleRow[] {
  const { code } = readNotebook(name);
  const caption = `article ${NOTEBOOKS[name]} vs this notebook`;
  const at = code.findIndex((c) => c.includes(caption));
  assert.ok(at >= 0, `${name}: no table with the caption "${caption}"`);
  assert.ok(at >= code.length - 2, `${name}: the article table should be at the end (code cell ${at + 1} of ${code.length})`);
  const cell = code[at];
  const lit = String.raw`'((?:[^'\\]|\\.)*)'`;
  const rows = [...cell.matchAll(new RegExp(String.raw`\{ quantity: ${lit}, 'the article': ${lit}, 'this notebook': `, 'g'))]
    .map((m) => ({ quantity: m[1].replace(/\\'/g, "'"), article: m[2].replace(/\\'/g, "'") }));
  const declared = (cell.match(/\{ quantity: /g) ?? []).length;
  assert.equal(rows.length, declared, `${name}: every row must be { quantity: '...', 'the article': '<fixed text>', 'this notebook': ... }`);
  assert.ok(rows.length >= 4, `${name}: only ${rows.length} rows in the article table`);
  return rows;
}

/** EXPERIMENTS.md's section for a notebook ("### 10 · ..." up to the next heading). */
function experimentsSection(name: Notebook): string {
  const md = fs.readFileSync(path.join(PROJECT_ROOT, 'EXPERIMENTS.md'), 'utf8');
  const start = md.indexOf(`### ${name.slice(0, 2)} ·`);
  assert.ok(start >= 0, `EXPERIMENTS.md has no section "### ${name.slice(0, 2)} ·"`);
  const next = md.slice(start + 4).search(/\n#{2,3} /);
  return next < 0 ? md.slice(start) : md.slice(start, start + 4 + next);
}

const whisperSmall = WhisperConfig.fromJSON({ d_model: 768, encoder_layers: 12, decoder_layers: 12, encoder_attention_heads: 12,
  decoder_attention_heads: 12, encoder_ffn_dim: 3072, decoder_ffn_dim: 3072, num_mel_bins: 80, vocab_size: 51865,
  max_source_positions: 1500, max_target_positions: 448 });

describe('article claims: what the notebooks and EXPERIMENTS.md say an article states', () => {
  for (const name of Object.keys(NOTEBOOKS) as Notebook[]) {
    it(`${name}: ends with "the article | this notebook", and every claim about the article quotes it`, () => {
      const table = articleTable(name);
      const { markdown } = readNotebook(name);
      const bad = markdown.flatMap((md) => [...contradictions(prose(md), table), ...markdownTableClaims(md).flatMap((c) => contradictions(c, table))]);
      assert.deepEqual(bad, [], `${name}:\n${bad.join('\n')}`);
    });

    it(`${name}: its EXPERIMENTS.md section agrees with the notebook's article table`, () => {
      const table = articleTable(name);
      const section = experimentsSection(name);
      const bad = [...contradictions(prose(section), table), ...markdownTableClaims(section).flatMap((c) => contradictions(c, table))];
      // A quantity the notebook marks "not stated" must not be given a value in EXPERIMENTS.md's article column.
      for (const claim of markdownTableClaims(section)) {
        const row = table.find((r) => claim.toLowerCase().startsWith(`the article ${r.quantity.toLowerCase()} `));
        if (row && notStated(row.article) && !/not stated/i.test(claim)) bad.push(`"${claim}": the notebook's table says not stated`);
      }
      assert.deepEqual(bad, [], `EXPERIMENTS.md, section ${name}:\n${bad.join('\n')}`);
    });
  }

  it('a sentence quoting a value the article table contradicts is caught', () => {
    const table = articleTable('10_vietnamese');
    assert.deepEqual(contradictions('The article trains with a learning rate of 1e-4, like us.', table), []);
    assert.equal(contradictions('The article trains with a learning rate of 1e-5, like us.', table).length, 1);
    assert.equal(contradictions('The article uses batch 16 x 4 accumulation.', table).length, 0);
    assert.equal(contradictions('The article uses a batch size of 8.', table).length, 1);
    assert.equal(contradictions('the article | batch | 8 |'.replace(/\|/g, ''), table).length, 1);
    assert.equal(contradictions('The guide fine-tunes whisper-small.', articleTable('12_complete_guide')).length, 1, 'whisper-small is not whisper-small.en');
    assert.equal(contradictions("The article's learning rate is 1e-3.", articleTable('13_breton')).length, 1, 'the Breton article states no learning rate');
    assert.deepEqual(contradictions('The article loads its data; we use a learning rate of 3e-3.', table), [], 'after the clause, the value is ours');
  });

  it("14_french_telephone: the article's computed figures (model summary, trainable parameters) match the library", () => {
    const table = articleTable('14_french_telephone');
    const cell = (q: string) => table.find((r) => r.quantity === q)!.article;
    const total = Number(/Total params: ([\d,]+)/.exec(cell('model summary'))![1].replace(/,/g, ''));
    assert.equal(modelSummary(whisperSmall).total, total);
    const lora = new LoraConfig({ r: 8, loraAlpha: 32, loraDropout: 0.1, targetModules: ['q_proj', 'v_proj'] });
    assert.equal(trainableParametersLine(whisperSmall, lora), 'trainable params: 884,736 || all params: 242,619,648 || trainable%: 0.3647');
    assert.ok(cell('trainable parameters').startsWith('884,736 || 242,619,648 || 0.3647'));
  });
});
