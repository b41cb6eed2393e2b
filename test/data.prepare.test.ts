/** Durations, summaries, validity filter, audio pipeline and prepareDataset on real clips. */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  describeValues, durations, filterValid, formatSeconds, loadAudioFolder, loadDataset, prepareDataset,
  preprocessAudio, processClip, summaryDataFrame, describeGroups, readAudioHeader, checkData, AudioDataset, Row,
} from '../src/data';
import { WhisperFeatureExtractor } from '../src/features/logmel';
import { sharedDir } from '../tools/shared';
import { getNormalizer } from '../src/text';
import { WhisperTokenizer } from '../src/tokenizer/whisper';

describe('data exploration and preparation', () => {
  let tmp: string;
  let test: AudioDataset;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wf-prepare-'));
    test = await loadAudioFolder(sharedDir('datasets', 'librispeech-mini', 'test'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('formatSeconds omits zero units', () => {
    assert.equal(formatSeconds(62.5), '1m 2.500s');
    assert.equal(formatSeconds(3.2), '3.200s');
    assert.equal(formatSeconds(3600), '1h');
    assert.equal(formatSeconds(3725.25), '1h 2m 5.250s');
    assert.equal(formatSeconds(120), '2m');
    assert.equal(formatSeconds(0), '0s');
    assert.equal(formatSeconds(59.9996), '1m');
  });

  it('durations from headers match metadata.csv and decoding; summaries match pandas describe', async () => {
    const secs = await durations(test);
    assert.equal(secs.length, 100);
    secs.forEach((s, i) => assert.ok(Math.abs(s - (test.get(i).duration as number)) < 1e-3, `row ${i}: ${s}`));
    assert.ok(Math.abs((await test.audio(3)).length / 16000 - secs[3]) < 1e-3);
    // MP3 has no length header: decoded instead.
    const cv = (await loadDataset(sharedDir('datasets', 'commonvoice-sample', 'br'))).select([0, 1]);
    const cvSecs = await durations(cv);
    assert.ok(Math.abs(cvSecs[1] - (await cv.audio(1)).length / 16000) < 1e-6);
    assert.deepEqual(readAudioHeader(sharedDir('datasets', 'fsdd-digits', 'audios', '0_george_0.wav')),
      { format: 'wav', sampleRate: 8000, channels: 1, frames: 2384, duration: 0.298 });
    const d = describeValues([1, 2, 3, 4, 10]);
    // pandas: pd.Series([1,2,3,4,10]).describe()
    assert.deepEqual(d, { count: 5, mean: 4, std: Math.sqrt(12.5), min: 1, '25%': 2, '50%': 3, '75%': 4, max: 10 });
    const df = summaryDataFrame(describeGroups({ a: [1, 2], b: [3, 5, 7] }));
    assert.deepEqual(df.index, ['a', 'b', 'all']);
    assert.deepEqual(df.columns, ['count', 'mean', 'std', 'min', '25%', '50%', '75%', 'max']);
    const last = df.values[2] as number[];
    [5, 3.6, Math.sqrt(5.8), 1, 2, 3, 5, 7].forEach((v, k) => assert.ok(Math.abs(last[k] - v) < 1e-12, `column ${k}`));
  });

  it('validity filter drops short text and clips outside (1 s, 30 s), each with a reason', async () => {
    const fsdd = (await loadDataset(sharedDir('datasets', 'fsdd-digits'))).select([0, 1, 2]);
    const all = await filterValid(fsdd);
    assert.equal(all.length, 0); // "zero" has 4 chars and every digit is under 1 s
    assert.deepEqual(all.report.problems.map((p) => p.field), ['text', 'text', 'text']);
    const loose = await filterValid(fsdd, { minTextLength: 0, minDuration: 0.3 });
    assert.deepEqual(loose.report.problems.map((p) => p.reason), ['duration 0.298 s is outside (0.3, 30) s']);
    assert.equal(loose.length, 2);
    const libri = await filterValid(test, { maxDuration: 15 });
    const expected = test.rows.filter((r) => (r.duration as number) < 15 && (r.duration as number) > 1 && r.text.length > 5).length;
    assert.equal(libri.length, expected);
    assert.equal(libri.report.excluded, 100 - expected);
    assert.ok(expected < 100 && expected > 50);
  });

  it('audio pipeline: trim + normalize; augmentation reproducible with a seed, per row', async () => {
    const one = test.select([0, 1]);
    const x = await one.audio(0);
    const opts = { augment: { noise: { p: 1 }, gain: { p: 1, minDb: -6, maxDb: -6 } }, seed: 42 };
    const a = processClip(x, opts, 'clip');
    const b = processClip(x, opts, 'clip');
    assert.deepEqual(a, b);
    assert.notDeepEqual(processClip(x, { ...opts, seed: 43 }, 'clip'), a);
    const plain = processClip(x, {});
    assert.ok(plain.length < x.length, 'silence trimmed');
    assert.ok(Math.abs(Math.max(...plain.map(Math.abs)) - 1) < 1e-6, 'peak normalized');
    // gain of -6 dB after normalization: peak near 0.5 plus the noise
    assert.ok(Math.abs(Math.max(...a.map(Math.abs)) - 0.5) < 0.1);
    const d1 = await preprocessAudio(one, { ...opts, cacheDir: tmp });
    const d2 = await preprocessAudio(one.select([1, 0]), { ...opts });
    assert.deepEqual(await d1.audio(0), await d2.audio(1), 'same row, same augmentation, whatever the order');
    const again = await preprocessAudio(one, { ...opts, cacheDir: tmp });
    assert.equal(again.cacheInfo?.hit, true);
    assert.deepEqual(await again.audio(1), await d1.audio(1));
  });

  it('prepareDataset: log-Mel features and labels; cache follows the normalizer', async () => {
    const fe = WhisperFeatureExtractor.fromPretrained(sharedDir('models', 'whisper-tiny'));
    const tok = await WhisperTokenizer.fromPretrained(sharedDir('models', 'whisper-tiny'));
    const ds = test.select([0, 1]);
    const cacheDir = path.join(tmp, 'prep');
    const english = getNormalizer('english', { normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json') });
    const prep = await prepareDataset(ds, { featureExtractor: fe, tokenizer: tok, language: 'en', task: 'transcribe', normalizer: 'english', cacheDir });
    assert.deepEqual(prep.columnNames, ['inputFeatures', 'labels', 'inputLength']);
    assert.equal(prep.get(0).inputFeatures.length, 80 * 3000);
    assert.deepEqual(prep.get(0).inputFeatures, fe.extract(await ds.audio(0)));
    const labels = prep.get(1).labels;
    assert.deepEqual(labels, [...tok.prefixTokens({ language: 'en', task: 'transcribe' }), ...tok.encode(english(ds.get(1).text)), tok.eot]);
    assert.equal(tok.decode(prep.get(0).labels, { skipSpecialTokens: true }), 'northanger abbey');
    assert.equal(prep.cacheInfo?.hit, false);
    const cached = await prepareDataset(ds, { featureExtractor: fe, tokenizer: tok, language: 'en', normalizer: 'english', cacheDir });
    assert.equal(cached.cacheInfo?.hit, true);
    assert.deepEqual(cached.get(1).labels, labels);
    assert.deepEqual(cached.get(0).inputFeatures, prep.get(0).inputFeatures);
    const raw = await prepareDataset(ds, { featureExtractor: fe, tokenizer: tok, language: 'en', normalizer: 'none', cacheDir });
    assert.equal(raw.cacheInfo?.hit, false);
    assert.equal(tok.decode(raw.get(0).labels, { skipSpecialTokens: true }), 'NORTHANGER ABBEY');
    const html = await checkData(prep, { n: 2, seed: 1, tokenizer: tok, source: ds });
    assert.equal((html.match(/<audio controls/g) ?? []).length, 2);
    assert.match(html, /&lt;\|startoftranscript\|&gt;&lt;\|en\|&gt;&lt;\|transcribe\|&gt;&lt;\|notimestamps\|&gt;northanger abbey&lt;\|endoftext\|&gt;/);
    await assert.rejects(prepareDataset(ds.castColumn('audio', { samplingRate: 8000 }) as AudioDataset<Row>, { featureExtractor: fe, tokenizer: tok }),
      /audio is decoded at 8000 Hz but the feature extractor expects 16000 Hz/);
  });
});
