/** Notebook 06 (evaluation). Regenerate: `npx tsx notebooks/build/build.ts`. */
import { Cell, code, md, setupCell } from './notebook';

export const nb06: Cell[] = [
  md(`
# 06 · Evaluate: word error rate, done the way papers do it

Training loss tells us the model fits its targets; **word error rate** tells us whether it
transcribes. WER counts the smallest number of word edits that turn the reference into the
hypothesis:

$$\\mathrm{WER} = \\frac{S + D + I}{N}$$

with $S$ substitutions, $D$ deletions, $I$ insertions and $N$ reference words. It is what the
Whisper paper, the Hugging Face \`evaluate\` library and \`jiwer\` report, so our numbers can be put
next to theirs. In this notebook:

1. WER by hand: the alignment behind S, D and I;
2. corpus WER vs the mean of per-clip WERs (they differ, and only one is "the" WER);
3. the normalization lesson: the same transcripts score **98 %** or **6 %** depending on casing and punctuation;
4. our whisper-tiny on the LibriSpeech test clips, checked against OpenAI's reference implementation;
5. error analysis (confused words, WER by speaker and duration);
6. the models notebook 05 trained (LoRA adapter and full fine-tune) against the base model, on the
   held-out speakers notebook 03 set aside.

| notebook | reads | writes |
| --- | --- | --- |
| 03_preprocess | \`../shared/datasets/fsdd-digits\` | \`out/run/data/train\`, \`out/run/data/test\` |
| 05_train | \`out/run/data/*\` | \`out/run/adapter\`, \`out/run/full-model\` |
| **06_evaluate** (this one) | \`out/run/data/test\`, \`adapter\`, \`full-model\` (and \`../shared\` for sections 1-5) | reports in \`out/06_evaluate\` |
| 07_demo | \`out/run/data/test\`, \`adapter\` | nothing (a demo server while it runs) |

With \`SMOKE=1\` every step runs on a few clips (and reads \`out/run-smoke\`).
`),
  setupCell(['initBackend', 'describeBackend', 'loadAudioFolder', 'getNormalizer', 'processWords', 'perUtterance', 'visualizeAlignment', 'scoreTranscripts', 'evaluate', 'whisperTranscriber', 'withAdapterDisabled', 'saveReport', 'frequentErrors', 'werBySpeaker', 'werByDuration', 'compareReports', 'toDataFrame', 'comparisonChartHtml', 'groupWerChartHtml', 'comparisonTablesHtml', 'EvalReport', 'TranscriptItem', 'WhisperForConditionalGeneration', 'WhisperTokenizer', 'WhisperFeatureExtractor', 'PeftModel', 'loadFromDisk', 'PreparedRow', 'Row', 'display', 'tableHtml'], `
const LIBRI_CLIPS = SMOKE ? 2 : 100;       // librispeech-mini test has 100
const OUT = path.join(PROJECT_ROOT, 'out', '06_evaluate');
// Whisper's English normalizer reads the checkpoint's spelling map (British -> American).
const normalizerJson = path.join(sharedDir('models', 'whisper-tiny'), 'normalizer.json');
console.log(\`SMOKE=\${SMOKE}: \${LIBRI_CLIPS} LibriSpeech clips\`);
`),
  md(`
## 1. S, D and I come from an alignment

The edit distance is computed with dynamic programming (Levenshtein) over **words**. Among the
alignments with the fewest edits we pick the one \`jiwer\` (via \`rapidfuzz\`) picks, so our S/D/I
counts match theirs, not only the total. \`visualizeAlignment\` prints it like
\`jiwer.visualize_alignment\`.
`),
  code(`
const example = processWords('the quick brown fox jumps over the lazy dog', 'the quack fox jumps over a lazy dog today');
console.log(visualizeAlignment(example));
`),
  md(`
## 2. Corpus WER is not the mean of clip WERs

\`jiwer.wer(refs, hyps)\` and \`evaluate.load("wer")\` add up the errors of **all** clips and divide
by **all** reference words. Averaging per-clip WERs instead lets a one-word clip weigh as much as a
fifty-word one: one missed "yes" next to ten perfect words is 50 % on average, but 1 error in 11
words (9.1 %) for the corpus.
`),
  code(`
const small = perUtterance(['yes', 'the quick brown fox jumps over the lazy dog today'],
                           ['no',  'the quick brown fox jumps over the lazy dog today']);
display(tableHtml(small.utterances.map((u) => ({ clip: u.index, 'ref words': u.refWords, errors: u.errors, 'WER %': 100 * u.wer }))));
console.log(\`mean of clip WERs: \${(100 * small.meanWer).toFixed(1)} %   corpus WER: \${(100 * small.corpusWer).toFixed(1)} %\`);
`),
  md(`
## 3. The normalization lesson

\`shared/reference/whisper-tiny/transcripts.jsonl\` holds what OpenAI's own PyTorch code transcribed
with this whisper-tiny. LibriSpeech references are UPPER CASE without punctuation; Whisper writes
"Northanger Abby." Compared raw, almost every word "differs". Normalizing both sides first is
what the Whisper paper does (its \`EnglishTextNormalizer\` for English, \`BasicTextNormalizer\`
otherwise):

| normalizer | what it does |
| --- | --- |
| \`none\` | nothing: split on spaces |
| \`simple\` | the fine-tuning guides': lowercase, drop everything but a-z, 0-9 |
| \`basic\` | Whisper's: lowercase, punctuation and symbols to spaces, drop [brackets] and (parentheses) |
| \`english\` | Whisper's: basic + "won't" → "will not", "twenty five" → "25", "colour" → "color", drop "um"/"uh" |

Only the **reference** side changes between rows of the table below: no model runs here.
`),
  code(`
const stored = loadReferenceTranscripts();
const libriStored: TranscriptItem[] = stored.filter((r) => r.path.startsWith('librispeech'))
  .map((r) => ({ id: r.id, reference: r.reference, hypothesis: r.hypothesis }));
const byNormalizer = (['none', 'simple', 'basic', 'english'] as const).map((n) => {
  const r = scoreTranscripts(libriStored, { normalizer: n, normalizerJson: normalizerJson });
  return { normalizer: n, clips: r.rows.length, 'ref words': r.normalized.refWords, S: r.normalized.substitutions,
    D: r.normalized.deletions, I: r.normalized.insertions, 'WER %': +(100 * r.normalized.wer).toFixed(2) };
});
display(tableHtml(byNormalizer, { caption: 'Reference-implementation transcripts of the 100 LibriSpeech test clips' }));
const english = getNormalizer('english', { normalizerJson: normalizerJson });
const first = libriStored[0];
console.log(\`raw:        \${JSON.stringify(first.reference)}  vs  \${JSON.stringify(first.hypothesis)}\`);
console.log(\`normalized: \${JSON.stringify(english(first.reference))}  vs  \${JSON.stringify(english(first.hypothesis))}\`);
`),
  md(`
Raw: **98 %**, normalized: **6.35 %**, the number in \`shared/README.md\`. The Vietnamese
fine-tuning article (notebook 10) traces a WER of 0.89 to the same mismatch, on the training side:
its labels kept capitals and punctuation because they were not normalized before tokenizing. Always say which
normalizer a WER used, and apply the same one to every model you compare.

## 4. Our whisper-tiny on LibriSpeech

\`evaluate()\` decodes each clip at 16 kHz, transcribes batches of clips with \`transcribe\` (the route the
CLI and the demo take too: greedy, language and task forced, like the reference run, and at most the
reference run's 128 new tokens), applies the normalizer to both sides and keeps raw and normalized
scores for every clip.
`),
  code(`
const modelDir = sharedDir('models', 'whisper-tiny');
const model = await fresh('model', () => WhisperForConditionalGeneration.fromPretrained(modelDir));
const tokenizer = await WhisperTokenizer.fromPretrained(modelDir);
const featureExtractor = WhisperFeatureExtractor.fromPretrained(modelDir);
const transcribe = whisperTranscriber({ model: model, tokenizer: tokenizer, featureExtractor: featureExtractor });
const libri = (await loadAudioFolder(sharedDir('datasets', 'librispeech-mini', 'test')));
const ours = await evaluate(libri, {
  name: 'whisper-tiny', transcribe, language: 'en', task: 'transcribe', normalizer: 'english', normalizerJson: normalizerJson,
  batchSize: 4, limit: LIBRI_CLIPS, maxNewTokens: REFERENCE_MAX_NEW_TOKENS,
  onProgress: (p) => console.log(\`\${p.done}/\${p.total} clips, \${p.elapsedS.toFixed(0)} s, WER so far \${(100 * p.wer).toFixed(2)} %\`),
});
const files = saveReport(ours, path.join(OUT, 'librispeech-whisper-tiny'));
console.log(\`raw WER \${(100 * ours.raw.wer).toFixed(2)} %, normalized WER \${(100 * ours.normalized.wer).toFixed(2)} % \` +
  \`over \${ours.normalized.refWords} words; saved \${path.relative(PROJECT_ROOT, files.csv)} and .json\`);
`),
  md(`
The same clips scored with the reference implementation's hypotheses: the normalized WERs should
agree within a few tenths of a point (our weights are the same; float32 arithmetic in another order
can flip a rare close call between two tokens).
`),
  code(`
const refHyp = new Map(stored.map((r) => [r.id, r.hypothesis]));
const reference = scoreTranscripts(ours.rows.map((r) => ({ ...r, hypothesis: refHyp.get(r.id)! })),
  { name: 'reference implementation', normalizer: 'english', normalizerJson: normalizerJson });
const same = ours.rows.filter((r) => r.hypothesis === refHyp.get(r.id)).length;
const vsRef = compareReports([ours, reference]);
display(tableHtml(vsRef.summary));
console.log(\`identical transcripts: \${same}/\${ours.rows.length}; gap \${(100 * Math.abs(ours.normalized.wer - reference.normalized.wer)).toFixed(2)} points\`);
`),
  code(`
// The per-clip table as a danfo.js DataFrame (pandas-like), worst clips first.
const perClip = toDataFrame(vsRef.perClip).sortValues('wer whisper-tiny', { ascending: false });
perClip.head(5).loc({ columns: ['id', 'reference', 'hyp whisper-tiny', 'wer whisper-tiny'] }).toString()
`),
  md(`
## 5. Error analysis

Which words does the model get wrong, and where? Substitution pairs show systematic confusions
(names, homophones, spelling variants the normalizer does not know); WER by speaker and by clip
duration shows whether errors concentrate on a voice or on short clips (where one error weighs a lot).
`),
  code(`
const errs = frequentErrors(ours.rows, 10);
display(tableHtml(errs.substitutions, { caption: 'Most frequent substitutions (reference word -> hypothesis word)' }));
// void: tslab would also print the HTML string returned by the last expression of a cell.
void display(tableHtml([...errs.deletions.slice(0, 5), ...errs.insertions.slice(0, 5)], { caption: 'Deleted (hyp empty) and inserted (ref empty) words' }));
`),
  code(`
display(groupWerChartHtml(werBySpeaker(ours.rows), 'LibriSpeech test: WER by speaker'));
void display(groupWerChartHtml(werByDuration(ours.rows, [0, 5, 10, 15, 20]), 'LibriSpeech test: WER by clip duration'));
`),
  md(`
## 6. Base vs fine-tuned, on the same clips

Notebook 05 trained two models on the training speakers of notebook 03's split: a LoRA adapter
(\`out/run/adapter\`) and a full fine-tune of the decoder (\`out/run/full-model\`, a complete Hugging
Face checkpoint). We evaluate both and the base model on the **held-out** speakers (\`out/run/data/test\`,
never seen in training), clip by clip, with the same scoring normalizer. One set of base weights
serves two systems: the base run switches the adapter off (PEFT's \`disable_adapter()\`). If 05 has
not run, the next cell stops and says so: an untrained adapter would just reproduce the base model.
`),
  code(`
const testData = loadFromDisk<PreparedRow & Row>(requireArtifact('testData'));
const peft = await fresh('peft', () => PeftModel.fromPretrained(model, requireArtifact('adapter')));
const fullModel = await fresh('fullModel', () => WhisperForConditionalGeneration.fromPretrained(requireArtifact('fullModel')));
const adapted = whisperTranscriber({ model: peft, tokenizer: tokenizer, featureExtractor: featureExtractor });
const systems = {
  base: withAdapterDisabled(peft, adapted),
  'base + LoRA (05)': adapted,
  'full fine-tune (05)': whisperTranscriber({ model: fullModel, tokenizer: tokenizer, featureExtractor: featureExtractor }),
};
const reports: EvalReport[] = [];
for (const [name, t] of Object.entries(systems)) {
  reports.push(await evaluate(testData, { name, transcribe: t, language: 'en', normalizer: 'english', normalizerJson: normalizerJson, batchSize: 4 }));
  saveReport(reports[reports.length - 1], path.join(OUT, \`fsdd-\${name.replace(/[^a-z0-9]+/gi, '-')}\`));
}
const cmp = compareReports(reports);
display(comparisonTablesHtml(cmp, 10));
void display(comparisonChartHtml(cmp, \`FSDD held-out speakers (\${testData.numRows} clips)\`));
console.log(reports.map((r) => \`\${r.name}: WER \${(100 * r.normalized.wer).toFixed(2)} %\`).join('; '));
`),
  md(`
Spoken digits are a narrow domain where fine-tuning pays: one word, no sentence context, 8 kHz
telephone sound. The base model often hears a phrase instead of the digit (look for insertions in
the per-clip table); the English normalizer already forgives "Six." vs "6", so what remains are real
recognition errors, and both fine-tuned models fix most of them. Compare models only on the same
clips with the same normalizer, as here.
`),
  code(`
await releaseAll();
console.log('done');
`),
];
