import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { alignTokens, toChunks } from '../src/eval/align';
import { cer, computeMeasures, perUtterance, processCharacters, processWords, wer } from '../src/eval/metrics';
import { visualizeAlignment } from '../src/eval/visualize';
import { whisperNormalizerFor } from '../src/text';
import { sharedDir, loadReferenceTranscripts } from '../tools/shared';

const counts = (r: string, h: string) => {
  const m = computeMeasures(r, h);
  return [m.hits, m.substitutions, m.deletions, m.insertions];
};

describe('WER/CER on hand-made pairs (H, S, D, I)', () => {
  it('counts hits, substitutions, deletions and insertions', () => {
    assert.deepEqual(counts('the cat sat on the mat', 'the cat sat on the mat'), [6, 0, 0, 0]);
    assert.deepEqual(counts('the cat sat on the mat', 'the cat sat on mat'), [5, 0, 1, 0]);
    assert.deepEqual(counts('a b c d', 'a x c d e'), [3, 1, 0, 1]);
    assert.deepEqual(counts('hello world', 'hello duck'), [1, 1, 0, 0]);
    assert.equal(wer('hello world', 'hello duck'), 0.5); // jiwer README example
    assert.equal(wer('a b c d', 'a x c d e'), 0.5);
  });

  it('empty hypothesis: every reference word is a deletion, WER 1', () => {
    assert.deepEqual(counts('hello world', ''), [0, 0, 2, 0]);
    assert.equal(wer('hello world', '   '), 1);
    assert.equal(cer('abc', ''), 1);
  });

  it('empty reference follows jiwer 4: 0 if the hypothesis is empty too, else WER = inserted words', () => {
    assert.deepEqual(counts('', ''), [0, 0, 0, 0]);
    assert.equal(wer('', ''), 0);
    assert.deepEqual(counts('', 'hello'), [0, 0, 0, 1]);
    assert.equal(wer('', 'hello'), 1);
    assert.equal(wer('', 'a b c'), 3);
    assert.equal(cer('', 'abd'), 3);
    const m = processWords(['hello world', ''], ['hello world', 'done']);
    assert.equal(m.insertions, 1);
    assert.equal(m.wer, 1 / 2);
    assert.equal(m.mer, 1 / 3);
    assert.ok(Math.abs(m.wip - 2 / 3) < 1e-12);
    const same = processWords(['hello world', ''], ['hello world', '']);
    assert.equal(same.wer, 0);
    assert.equal(same.wip, 1);
  });

  it('breaks ties like rapidfuzz/jiwer (affixes first, then deletion > insertion > diagonal from the end)', () => {
    // rapidfuzz docs: Levenshtein.opcodes("qabxcd", "abycdf")
    const chunks = toChunks(alignTokens([...'qabxcd'], [...'abycdf']));
    assert.deepEqual(chunks.map((c) => [c.type, c.refStart, c.refEnd, c.hypStart, c.hypEnd]), [
      ['delete', 0, 1, 0, 0], ['equal', 1, 3, 0, 2], ['substitute', 3, 4, 2, 3], ['equal', 4, 6, 3, 5],
      ['insert', 6, 6, 5, 6],
    ]);
    // Two words for one: the first becomes the substitution, the last the deletion/insertion.
    assert.deepEqual(alignTokens(['a', 'b'], ['c']).map((o) => o.type), ['substitute', 'delete']);
    assert.deepEqual(alignTokens(['a'], ['b', 'c']).map((o) => o.type), ['insert', 'substitute']);
  });

  it('CER counts characters including spaces, code points not UTF-16 units', () => {
    const c = processCharacters('kitten sat', 'sitting sat');
    assert.equal(c.errors, 3);
    assert.equal(c.refWords, 10);
    assert.equal(cer('việt', 'viet'), 1 / 4);
    assert.equal(cer('a😀b', 'ab'), 1 / 3);
  });

  it('corpus WER (total errors / total words) differs from the mean of per-utterance WERs', () => {
    const refs = ['yes', 'the quick brown fox jumps over the lazy dog today'];
    const hyps = ['no', 'the quick brown fox jumps over the lazy dog today'];
    const r = perUtterance(refs, hyps);
    assert.deepEqual(r.utterances.map((u) => u.wer), [1, 0]);
    assert.equal(r.meanWer, 0.5); // a one-word miss weighs as much as ten correct words
    assert.equal(r.corpusWer, 1 / 11); // what jiwer.wer(refs, hyps) and evaluate's "wer" return
    assert.equal(wer(refs, hyps), 1 / 11);
    assert.throws(() => wer(['a'], ['a', 'b']), /1 references but 2 hypotheses/);
  });

  it('prints the alignment like jiwer.visualize_alignment', () => {
    const text = visualizeAlignment(processWords('the quick brown fox jumps', 'the quack fox jumps high'));
    assert.equal(text,
      'sentence 1\n' +
      'REF: the quick brown fox jumps ****\n' +
      'HYP: the quack ***** fox jumps high\n' +
      '         S     D               I\n\n' +
      'number of sentences: 1\nsubstitutions=1 deletions=1 insertions=1 hits=3\n\nwer=60.00%\n');
  });
});

interface Row { id: string; path: string; lang: string; reference: string; hypothesis: string }
const ROWS: Row[] = loadReferenceTranscripts();
const groupOf = (r: Row) => (r.path.startsWith('librispeech') ? 'librispeech-mini test'
  : r.path.startsWith('fsdd') ? 'fsdd-digits' : r.path.startsWith('samples') ? 'jfk' : `commonvoice ${r.lang}`);
const GROUPS = new Map<string, Row[]>();
for (const r of ROWS) GROUPS.set(groupOf(r), [...(GROUPS.get(groupOf(r)) ?? []), r]);

/** shared/README.md "Reference WER" table: n, ref words (normalized), WER norm %, WER raw %. */
const TABLE: Record<string, [number, number, number, number]> = {
  'librispeech-mini test': [100, 3606, 6.35, 98.28],
  'fsdd-digits': [100, 100, 76.0, 114.0],
  'commonvoice en': [50, 495, 21.21, 29.09],
  'commonvoice fr': [50, 435, 49.2, 49.66],
  'commonvoice vi': [50, 389, 82.26, 87.4],
  'commonvoice br': [50, 296, 121.96, 115.54],
  jfk: [1, 22, 0.0, 4.55],
};

describe('reference WER table of shared/README.md (normalizers + WER together)', () => {
  for (const [group, [n, refWords, normPct, rawPct]] of Object.entries(TABLE)) {
    it(`${group}: normalized ${normPct} %, raw errors ${rawPct} % of ${refWords} words`, () => {
      const rows = GROUPS.get(group)!;
      assert.equal(rows.length, n);
      const norm = whisperNormalizerFor(rows[0].lang, { normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json') });
      const normed = processWords(rows.map((r) => norm(r.reference)), rows.map((r) => norm(r.hypothesis)));
      assert.equal(normed.refWords, refWords);
      assert.ok(Math.abs(100 * normed.wer - normPct) < 0.01, `normalized WER ${100 * normed.wer} vs ${normPct}`);
      // The README's raw column divides the RAW error count by the NORMALIZED word count (its
      // "ref words" column): e.g. librispeech 3544 raw errors / 3606 = 98.28 %. Over the raw
      // reference words (3580) the raw WER is 98.99 %.
      const raw = processWords(rows.map((r) => r.reference), rows.map((r) => r.hypothesis));
      assert.ok(Math.abs((100 * raw.errors) / refWords - rawPct) < 0.01, `raw errors ${raw.errors} / ${refWords} vs ${rawPct}`);
    });
  }

  it('librispeech raw WER over raw reference words is 98.99 % (3544 / 3580)', () => {
    const rows = GROUPS.get('librispeech-mini test')!;
    const raw = processWords(rows.map((r) => r.reference), rows.map((r) => r.hypothesis));
    assert.deepEqual([raw.errors, raw.refWords], [3544, 3580]);
    assert.equal((100 * raw.wer).toFixed(2), '98.99');
  });
});

/** sclite (Debian `sctk`) per-utterance "Scores: (#C #S #D #I)" lines, if installed. */
function sclite(refs: string[], hyps: string[]): number[][] | undefined {
  const bin = ['/usr/bin/sclite', '/usr/lib/sctk/bin/sclite'].find((p) => fs.existsSync(p));
  if (!bin) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sclite-'));
  // Empty lines make sclite skip the utterance, so an empty side is written as nothing before the id.
  const trn = (xs: string[]) => xs.map((x, i) => `${x.trim()} (spk-${String(i).padStart(4, '0')})`).join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'ref.trn'), trn(refs));
  fs.writeFileSync(path.join(dir, 'hyp.trn'), trn(hyps));
  const out = execFileSync(bin, ['-r', path.join(dir, 'ref.trn'), 'trn', '-h', path.join(dir, 'hyp.trn'), 'trn',
    '-i', 'spu_id', '-o', 'pra', 'stdout'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  fs.rmSync(dir, { recursive: true });
  return [...out.matchAll(/Scores: \(#C #S #D #I\) (\d+) (\d+) (\d+) (\d+)/g)].map((m) => m.slice(1).map(Number));
}

describe('cross-check with NIST sclite', () => {
  it('normalized librispeech + commonvoice en: same per-utterance error counts as sclite', function () {
    const rows = [...GROUPS.get('librispeech-mini test')!, ...GROUPS.get('commonvoice en')!];
    const norm = whisperNormalizerFor('en', { normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json') });
    const refs = rows.map((r) => norm(r.reference));
    const hyps = rows.map((r) => norm(r.hypothesis));
    const sc = sclite(refs, hyps);
    if (!sc) {
      console.log('    (skipped: sclite not installed; `apt-get install -y sctk` enables this check)');
      this.skip();
    }
    const ours = processWords(refs, hyps).pairs;
    assert.equal(sc!.length, ours.length);
    ours.forEach((p, i) => {
      const [c, s, d, ins] = sc![i];
      assert.equal(p.hits + p.substitutions + p.deletions, c + s + d, `utterance ${i}: reference length`);
      assert.equal(p.errors, s + d + ins, `utterance ${i}: ${refs[i]} | ${hyps[i]}`);
    });
  });
});
