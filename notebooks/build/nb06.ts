/** Notebook 06 (evaluation). Regenerate: `npx tsx notebooks/build/build.ts`. */
import { Cell, code, md } from './notebook';

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
5. base vs fine-tuned (LoRA) on the same clips, and error analysis (confused words, WER by speaker and duration).

With \`SMOKE=1\` every step runs on a few clips.
`),
  code(`
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, describeBackend } from '../dist/backend';
import { loadReferenceTranscripts, sharedDir, PROJECT_ROOT } from '../dist/shared';
import { loadAudioFolder, loadCsvDataset } from '../dist/data';
import { getNormalizer } from '../dist/text';
import { processWords, perUtterance, visualizeAlignment, scoreTranscripts, evaluate, whisperTranscriber,
  withAdapterDisabled, saveReport, frequentErrors, werBySpeaker, werByDuration, compareReports, toDataFrame,
  comparisonChartHtml, groupWerChartHtml, comparisonTablesHtml, EvalReport, TranscriptItem } from '../dist/eval';
import { WhisperForConditionalGeneration } from '../dist/model/whisper';
import { WhisperTokenizer } from '../dist/tokenizer/whisper';
import { PeftModel, getPeftModel, LoraConfig } from '../dist/lora';
import { display, tableHtml } from '../dist/viz';

const SMOKE = process.env.SMOKE === '1';
const LIBRI_CLIPS = SMOKE ? 8 : 100;       // librispeech-mini test has 100
const FSDD_PER_DIGIT = SMOKE ? 1 : 2;      // clips per digit per held-out speaker
const FSDD_MAX = SMOKE ? 4 : Infinity;
const OUT = path.join(PROJECT_ROOT, 'out', '06_evaluate');
console.log(describeBackend(await initBackend()));
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
  const r = scoreTranscripts(libriStored, { normalizer: n });
  return { normalizer: n, clips: r.rows.length, 'ref words': r.normalized.refWords, S: r.normalized.substitutions,
    D: r.normalized.deletions, I: r.normalized.insertions, 'WER %': +(100 * r.normalized.wer).toFixed(2) };
});
display(tableHtml(byNormalizer, { caption: 'Reference-implementation transcripts of the 100 LibriSpeech test clips' }));
const english = getNormalizer('english');
const first = libriStored[0];
console.log(\`raw:        \${JSON.stringify(first.reference)}  vs  \${JSON.stringify(first.hypothesis)}\`);
console.log(\`normalized: \${JSON.stringify(english(first.reference))}  vs  \${JSON.stringify(english(first.hypothesis))}\`);
`),
  md(`
Raw: **98 %**, normalized: **6.35 %**, the number in \`shared/README.md\`. The Vietnamese
fine-tuning article reports WER 0.89 before normalizing for the same reason. Always say which
normalizer a WER used, and apply the same one to every model you compare.

## 4. Our whisper-tiny on LibriSpeech

\`evaluate()\` decodes each clip at 16 kHz, transcribes batches of clips with one \`generate\` call
(greedy, language and task forced, like the reference run), applies the normalizer to both sides and
keeps raw and normalized scores for every clip.
`),
  code(`
const modelDir = sharedDir('models', 'whisper-tiny');
const model = await WhisperForConditionalGeneration.fromPretrained(modelDir);
const tokenizer = await WhisperTokenizer.fromPretrained(modelDir);
const transcribe = whisperTranscriber(model, tokenizer);
const libri = (await loadAudioFolder(sharedDir('datasets', 'librispeech-mini', 'test')));
const ours = await evaluate(libri, {
  name: 'whisper-tiny', transcribe, language: 'en', task: 'transcribe', normalizer: 'english',
  batchSize: 4, limit: LIBRI_CLIPS,
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
  { name: 'reference implementation', normalizer: 'english' });
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

The LoRA experiment (\`bench/finetune.ts fsdd\`) fine-tunes whisper-tiny on spoken digits from four
FSDD speakers and saves the adapter to \`out/fsdd-lora/adapter\`. We evaluate base and base+adapter on
the two **held-out** speakers (theo, yweweler). One set of weights serves both: the base run simply
switches the adapter off (PEFT's \`disable_adapter()\`). If no trained adapter is found (e.g. a fresh
checkout), a freshly initialised one is used; LoRA starts with $B = 0$, so it then transcribes exactly
like the base model, which is a useful sanity check in itself.
`),
  code(`
const adapterDir = process.env.ADAPTER_DIR ?? path.join(PROJECT_ROOT, 'out', 'fsdd-lora', 'adapter');
const trained = fs.existsSync(path.join(adapterDir, 'adapter_config.json'));
const peft = trained ? PeftModel.fromPretrained(model, adapterDir)
  : getPeftModel(model, new LoraConfig({ r: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'] }));
console.log(trained ? \`adapter: \${path.relative(PROJECT_ROOT, adapterDir)}\` : 'no trained adapter found: using an untrained one (B = 0)');

const fsddAll = await loadCsvDataset(sharedDir('datasets', 'fsdd-digits', 'dataset.csv'));
const stem = (i: number) => path.basename(String(fsddAll.get(i).audio), '.wav').split('_'); // digit_speaker_take
const held = [...Array(fsddAll.length).keys()].filter((i) => ['theo', 'yweweler'].includes(stem(i)[1]) && Number(stem(i)[2]) < FSDD_PER_DIGIT)
  .slice(0, FSDD_MAX);
const fsdd = fsddAll.select(held).addColumn('speaker', held.map((i) => stem(i)[1]));
const adapted = whisperTranscriber(peft, tokenizer);
const models = { base: withAdapterDisabled(peft, adapted), [trained ? 'base + LoRA' : 'base + untrained LoRA']: adapted };
const reports: EvalReport[] = [];
for (const [name, t] of Object.entries(models)) {
  reports.push(await evaluate(fsdd, { name, transcribe: t, language: 'en', normalizer: 'english', batchSize: 4 }));
  saveReport(reports[reports.length - 1], path.join(OUT, \`fsdd-\${name.replace(/[^a-z]+/gi, '-')}\`));
}
const cmp = compareReports(reports);
display(comparisonTablesHtml(cmp, 10));
void display(comparisonChartHtml(cmp, \`FSDD held-out speakers (\${fsdd.length} clips)\`));
`),
  md(`
Spoken digits are a narrow domain where fine-tuning pays: one word, no sentence context, 8 kHz
telephone sound. The base model sometimes hears a phrase instead of the digit (look for
insertions in the per-clip table); the English normalizer already forgives "Six." vs "6", so what
remains are real recognition errors. An adapter trained on the other four speakers should fix most
of them. Compare models only on the same clips with the same normalizer, as here.
`),
  code(`
peft.deleteAdapter(peft.activeAdapter);
model.dispose();
console.log('done');
`),
];

