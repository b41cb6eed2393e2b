import { strict as assert } from 'assert';
import { parse } from 'csv-parse/sync';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadAudioFolder } from '../src/data';
import {
  BatchTranscriber, compareReports, comparisonChartHtml, EvalProgress, evaluate, frequentErrors, groupWerChartHtml,
  loadReport, saveReport, scoreTranscripts, toDataFrame, TranscriptItem, werBySpeaker, werByDuration,
} from '../src/eval';
import { sharedDir, loadReferenceTranscripts } from '../tools/shared';

interface Ref { id: string; path: string; reference: string; hypothesis: string }
const REFS: Ref[] = loadReferenceTranscripts();
const HYP = new Map(REFS.map((r) => [r.id, r.hypothesis]));

/** librispeech-mini test rows (metadata order) with the reference implementation's hypotheses. */
function libriItems(): TranscriptItem[] {
  const meta: Array<Record<string, string>> = parse(
    fs.readFileSync(sharedDir('datasets', 'librispeech-mini', 'test', 'metadata.csv')), { columns: true });
  return meta.map((m) => {
    const id = m.file_name.replace(/\.flac$/, '');
    return { id, reference: m.transcription, hypothesis: HYP.get(id)!, speaker: m.speaker_id, duration: Number(m.duration) };
  });
}

describe('evaluate(): batched loop over an AudioDataset', () => {
  it('transcribes in batches, reports progress, keeps ids, speakers, durations and both WERs', async () => {
    const ds = await loadAudioFolder(sharedDir('datasets', 'librispeech-mini', 'test'));
    const items = libriItems();
    const seen: number[] = [];
    let next = 0;
    // Replays the reference implementation's output, so the loop is tested on real text without a model;
    // it also checks that each clip's audio (16 kHz) matches the duration in metadata.csv.
    const replay: BatchTranscriber = async (audios, opts) => {
      assert.equal(opts.language, 'en');
      seen.push(audios.length);
      return audios.map((a) => {
        const it = items[next++];
        assert.ok(Math.abs(a.length / 16000 - it.duration!) < 0.05, `${it.id}: ${a.length / 16000} s vs ${it.duration} s`);
        return it.hypothesis;
      });
    };
    const progress: EvalProgress[] = [];
    const report = await evaluate(ds, {
      transcribe: replay, language: 'en', batchSize: 4, limit: 10, onProgress: (p) => progress.push(p), normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json'),
    });
    assert.deepEqual(seen, [4, 4, 2]);
    assert.deepEqual(progress.map((p) => p.done), [4, 8, 10]);
    assert.equal(progress[2].total, 10);
    assert.equal(progress[2].etaS, 0);
    assert.equal(report.normalizer, 'english');
    assert.deepEqual(report.rows.map((r) => r.id), items.slice(0, 10).map((i) => i.id));
    assert.deepEqual(report.rows.map((r) => r.speaker), items.slice(0, 10).map((i) => i.speaker));
    assert.equal(report.rows[0].refNorm, 'northanger abbey');
    assert.equal(report.rows[0].hypNorm, 'northanger abby');
    assert.deepEqual([report.rows[0].wer, report.rows[0].rawWer], [0.5, 1]);
    assert.ok(Math.abs(progress[2].wer - report.normalized.wer) < 1e-12);
    assert.ok(report.raw.wer > 0.9 && report.normalized.wer < 0.15, `raw ${report.raw.wer}, normalized ${report.normalized.wer}`);
  });

  it('refuses a dataset that is not decoded at 16 kHz, and a transcriber that drops clips', async () => {
    const ds = await loadAudioFolder(sharedDir('datasets', 'librispeech-mini', 'test'));
    await assert.rejects(evaluate(ds.castColumn('audio', { samplingRate: 8000 }), { transcribe: async (a) => a.map(() => ''), normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json') }),
      /needs 16 kHz audio but the dataset decodes at 8000 Hz/);
    await assert.rejects(evaluate(ds, { transcribe: async () => ['x'], batchSize: 2, limit: 2, normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json') }),
      /returned 1 texts for 2 clips/);
  });
});

describe('scoring, saving and error analysis on the 100 reference transcripts', () => {
  const report = scoreTranscripts(libriItems(), { name: 'whisper-tiny (reference)', language: 'en', normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json') });

  it('reproduces the README: normalized 6.35 % over 3606 words, 3544 raw errors', () => {
    assert.equal((100 * report.normalized.wer).toFixed(2), '6.35');
    assert.equal(report.normalized.refWords, 3606);
    assert.equal(report.raw.errors, 3544);
    assert.notEqual(report.meanWer, report.normalized.wer); // mean of clip WERs is another number
  });

  it('counts every substitution, deletion and insertion once in frequentErrors', () => {
    const all = frequentErrors(report.rows, Infinity);
    const sum = (xs: { count: number }[]) => xs.reduce((a, x) => a + x.count, 0);
    assert.equal(sum(all.substitutions), report.normalized.substitutions);
    assert.equal(sum(all.deletions), report.normalized.deletions);
    assert.equal(sum(all.insertions), report.normalized.insertions);
    const top = frequentErrors(report.rows, 5).substitutions;
    assert.equal(top.length, 5);
    assert.ok(top[0].count >= top[4].count);
    assert.ok(all.substitutions.some((s) => s.ref === 'abbey' && s.hyp === 'abby'));
  });

  it('WER by speaker and by duration bucket add up to the corpus WER', () => {
    for (const groups of [werBySpeaker(report.rows), werByDuration(report.rows)]) {
      assert.equal(groups.reduce((a, g) => a + g.clips, 0), 100);
      assert.equal(groups.reduce((a, g) => a + g.errors, 0), report.normalized.errors);
      assert.equal(groups.reduce((a, g) => a + g.refWords, 0), 3606);
    }
    const buckets = werByDuration(report.rows, [0, 5, 10, 20]);
    assert.deepEqual(buckets.map((b) => b.group).filter((g) => !['0-5 s', '5-10 s', '10-20 s', '20+ s'].includes(g)), []);
    assert.match(groupWerChartHtml(werBySpeaker(report.rows), 'WER by speaker'), /"type":"bar"/);
  });

  it('saves CSV + JSON that read back identically (quotes and commas survive)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-'));
    const quoted = scoreTranscripts([{ id: 'q', reference: 'say "hi", then\nleave', hypothesis: 'say hi then leave' }], { normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json') });
    const files = saveReport({ ...report, rows: [...report.rows, ...quoted.rows] }, path.join(dir, 'run'));
    const csv: Record<string, string>[] = parse(fs.readFileSync(files.csv), { columns: true });
    assert.equal(csv.length, 101);
    assert.equal(csv[0].id, '19-198-0000');
    assert.equal(csv[0].reference_normalized, 'northanger abbey');
    assert.deepEqual([csv[0].errors, csv[0].substitutions, csv[0].wer], ['1', '1', '0.5']);
    assert.equal(csv[100].reference, 'say "hi", then\nleave');
    const back = loadReport(files.json);
    assert.equal(back.normalized.wer, report.normalized.wer);
    assert.deepEqual(back.rows[5], report.rows[5]);
    assert.throws(() => loadReport(files.csv), /cannot read .*run\.csv/);
    fs.rmSync(dir, { recursive: true });
  });

  it('compareReports puts two models on the same clips side by side (table, DataFrame, chart)', () => {
    const perfect = scoreTranscripts(libriItems().map((i) => ({ ...i, hypothesis: i.reference })), { name: 'oracle', normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json') });
    const c = compareReports([report, perfect]);
    assert.deepEqual(c.summary.map((s) => s['WER %']), [6.35, 0]);
    assert.deepEqual(c.summary.map((s) => s['raw WER %']), [98.99, 0]);
    assert.deepEqual(Object.keys(c.perClip[0]),
      ['id', 'reference', 'hyp whisper-tiny (reference)', 'wer whisper-tiny (reference)', 'hyp oracle', 'wer oracle']);
    assert.deepEqual(toDataFrame(c.perClip).shape, [100, 6]);
    assert.match(comparisonChartHtml(c), /normalized WER %/);
    const fewer = scoreTranscripts(libriItems().slice(1), { name: 'short', normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json') });
    assert.throws(() => compareReports([report, fewer]), /'short' was scored on other clips/);
  });
});
