/** Timestamped training labels (prepareDataset timestampRatio, data/timestamps.ts) and the model's own clip segments. */
import { strict as assert } from 'assert';
import { clipSegments } from '../src/model/clipSegments';
import { isTimestamped, loadAudioFolder, prepareDataset, retimeText, timestampedLabels } from '../src/data';
import { WhisperFeatureExtractor } from '../src/features/logmel';
import { loadWhisper } from '../src/model/pipeline';
import { WhisperTokenizer } from '../src/tokenizer/whisper';
import { sharedDir } from '../tools/shared';

describe('timestamped labels', function () {
  this.timeout(300_000);
  const dir = () => sharedDir('models', 'whisper-tiny');

  it('timestampedLabels: prompt without <|notimestamps|>, <|start|> text <|end|> per segment, times on the 0.02 s grid', async () => {
    const tok = await WhisperTokenizer.fromPretrained(dir());
    const labels = timestampedLabels([{ start: 0, end: 2.41, text: 'hello there' }, { start: 2.41, end: 5.1, text: 'general' }], tok, { language: 'en' });
    assert.equal(tok.decodeWithTimestamps(labels, true),
      '<|startoftranscript|><|en|><|transcribe|><|0.00|> hello there<|2.42|><|2.42|> general<|5.10|><|endoftext|>');
    assert.throws(() => timestampedLabels([{ start: 3, end: 2, text: 'x' }], tok), /segment 0 runs 3..2 s/);
  });

  it('isTimestamped: a seeded share of the examples; retimeText spreads the reference words over the model segments', () => {
    const picks = Array.from({ length: 1000 }, (_, i) => isTimestamped(0.5, 7, i));
    const n = picks.filter(Boolean).length;
    assert.ok(n > 450 && n < 550, `${n} of 1000`);
    assert.deepEqual(Array.from({ length: 1000 }, (_, i) => isTimestamped(0.5, 7, i)), picks, 'same seed, same picks');
    assert.throws(() => isTimestamped(1.5, 0, 0), /timestampRatio must be in \[0, 1\]/);
    assert.deepEqual(retimeText([{ start: 0, end: 1, text: 'a b' }, { start: 1, end: 3, text: 'c d' }], 'W X Y Z'),
      [{ start: 0, end: 1, text: 'W X' }, { start: 1, end: 3, text: 'Y Z' }]);
  });

  it('prepareDataset timestampRatio: rows with segments use them, the others one segment over the clip; ratio 0 gives the old labels', async () => {
    const tok = await WhisperTokenizer.fromPretrained(dir());
    const fe = WhisperFeatureExtractor.fromPretrained(dir());
    const ds = (await loadAudioFolder(sharedDir('datasets', 'librispeech-mini', 'train'))).select([0, 1]);
    const withSegments = ds.addColumn('segments', [[{ start: 0.5, end: 1.5, text: 'A' }, { start: 1.5, end: 2, text: 'B' }], undefined]);
    const all = await prepareDataset(withSegments, { featureExtractor: fe, tokenizer: tok, language: 'en', timestampRatio: 1 });
    assert.equal(tok.decodeWithTimestamps([...all.rows[0].labels]), '<|0.50|> A<|1.50|><|1.50|> B<|2.00|>');
    const end = Math.round((all.rows[1].inputLength as number) / 0.02) * 0.02;
    assert.equal(tok.decodeWithTimestamps([...all.rows[1].labels]), `<|0.00|> ${ds.get(1).text}<|${end.toFixed(2)}|>`);
    const none = await prepareDataset(ds, { featureExtractor: fe, tokenizer: tok, language: 'en' });
    assert.deepEqual([...none.rows[1].labels].slice(0, 4), tok.prefixTokens({ language: 'en' }));
  });

  it('clipSegments: the base model\'s own segment times on a training clip, increasing and inside the clip', async () => {
    const pipe = await loadWhisper(dir());
    const ds = await loadAudioFolder(sharedDir('datasets', 'librispeech-mini', 'train'));
    const audio = await ds.audio(0);
    const segs = await clipSegments(pipe, audio, { language: 'en' });
    assert.ok(segs.length >= 1);
    let last = 0;
    for (const s of segs) {
      assert.ok(s.start >= last && s.end > s.start && s.end <= audio.length / 16000 + 1e-9, JSON.stringify(segs));
      last = s.end;
    }
    assert.ok(segs.map((s) => s.text).join(' ').length > 10);
  });
});
