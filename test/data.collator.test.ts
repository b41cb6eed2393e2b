/** DataCollatorSpeechSeq2SeqWithPadding with the real whisper-tiny tokenizer. */
import { strict as assert } from 'assert';
import { initBackend, tf } from '../src/backend';
import { DataCollatorSpeechSeq2SeqWithPadding, labelsFor, IGNORE_INDEX } from '../src/data';
import { sharedDir } from '../tools/shared';
import { WhisperTokenizer } from '../src/tokenizer/whisper';

describe('DataCollatorSpeechSeq2SeqWithPadding', () => {
  let tok: WhisperTokenizer;
  let collator: DataCollatorSpeechSeq2SeqWithPadding;
  const nMels = 80;
  const feats = (seed: number, frames = 3000) => Float32Array.from({ length: nMels * frames }, (_, k) => Math.sin(seed + k * 0.001));

  before(async () => {
    await initBackend();
    tok = await WhisperTokenizer.fromPretrained(sharedDir('models', 'whisper-tiny'));
    collator = new DataCollatorSpeechSeq2SeqWithPadding({ decoderStartTokenId: tok.sot, padTokenId: tok.eot, nMels });
  });

  it('labels are prefix + text + eot; the leading start token is dropped when every row has it', () => {
    const a = labelsFor(' hello world', tok, { language: 'en', task: 'transcribe' });
    const b = labelsFor(' yes', tok, { language: 'en', task: 'transcribe' });
    assert.deepEqual(a.slice(0, 4), [tok.sot, tok.languageToken('en'), tok.transcribe, tok.noTimestamps]);
    assert.equal(a[a.length - 1], tok.eot);
    assert.equal(tok.decode(a, { skipSpecialTokens: true }).trim(), 'hello world');

    const before = tf.memory().numTensors;
    const batch = collator.call([{ inputFeatures: feats(1), labels: a }, { inputFeatures: feats(2), labels: b }]);
    assert.deepEqual(batch.inputFeatures.shape, [2, 80, 3000]);
    assert.equal(batch.labels.dtype, 'int32');
    const T = a.length - 1;
    assert.deepEqual(batch.labels.shape, [2, T]);
    const labels = batch.labels.arraySync();
    assert.deepEqual(labels[0], a.slice(1));
    assert.deepEqual(labels[1], [...b.slice(1), ...Array(T - (b.length - 1)).fill(IGNORE_INDEX)]);
    const dec = batch.decoderInputIds.arraySync();
    // shift_tokens_right: start token, then labels[:-1], with -100 replaced by the pad token.
    assert.deepEqual(dec[0], [tok.sot, ...a.slice(1, -1)]);
    assert.deepEqual(dec[1], [tok.sot, ...b.slice(1), ...Array(T - b.length).fill(tok.eot)]);
    const f = batch.inputFeatures.arraySync();
    assert.ok(Math.abs(f[1][3][7] - Math.sin(2 + (3 * 3000 + 7) * 0.001)) < 1e-6);
    tf.dispose([batch.inputFeatures, batch.labels, batch.decoderInputIds]);
    assert.equal(tf.memory().numTensors, before);
  });

  it('keeps the first column when not every row starts with the decoder start token', () => {
    const a = labelsFor(' one', tok, { language: 'fr' });
    const b = [tok.languageToken('fr'), ...tok.encode(' two'), tok.eot];
    const out = collator.collateArrays([{ inputFeatures: feats(0), labels: a }, { inputFeatures: feats(0), labels: b }]);
    assert.equal(out.labelLength, Math.max(a.length, b.length));
    assert.deepEqual(Array.from(out.labels.subarray(0, a.length)), a);
    assert.equal(out.labels[out.labelLength], b[0]);
  });

  it('pads shorter feature sequences with zeros and rejects a ragged feature row', () => {
    const out = collator.collateArrays([{ inputFeatures: feats(0, 10), labels: [1] }, { inputFeatures: feats(0, 6), labels: [1, 2] }]);
    assert.equal(out.nFrames, 10);
    // row 1, mel 0: 6 values then 4 zeros
    assert.deepEqual(Array.from(out.inputFeatures.subarray(800 + 6, 800 + 10)), [0, 0, 0, 0]);
    assert.equal(out.inputFeatures[800 + 5], Math.fround(Math.sin(5 * 0.001)));
    assert.throws(() => collator.collateArrays([{ inputFeatures: new Float32Array(81), labels: [1] }]), /row 0 inputFeatures has 81 values/);
    assert.throws(() => collator.collateArrays([]), /empty batch/);
  });
});
