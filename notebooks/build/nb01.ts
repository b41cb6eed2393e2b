import { Cell, code, md, setupCell } from './notebook';

export const nb01: Cell[] = [
  md(`
# 01 · Load a speech dataset

The first step of every Whisper fine-tuning guide is \`load_dataset\`: get pairs of **audio** and
**transcript** into one table, look at a few rows, and listen to them. This notebook does the same
in TypeScript with \`src/data\`:

1. load *librispeech-mini* (a Hugging Face *audiofolder*: \`metadata.csv\` + FLAC files), with a train and a test split;
2. see that audio is decoded **lazily** and always at **16 kHz**;
3. load the other layouts you will meet (a CSV of paths, Common Voice, \`.wav\`+\`.txt\` pairs, JSONL) and your own CSV;
4. find bad rows (missing, empty or corrupt audio, empty transcripts, broken CSV lines) in a report instead of a crash;
5. make a reproducible train/test split and stream a manifest too big for memory.

Set \`SMOKE=1\` in the environment to run everything on a handful of rows.
`),
  setupCell(['loadDataset', 'loadDatasetDict', 'loadCsvDataset', 'streamDataset', 'formatSeconds', 'display', 'tableHtml', 'audioPlayerHtml'], `
const N = SMOKE ? 8 : 1000;
`, ["import * as os from 'os';"]),
  md(`
## librispeech-mini: an audiofolder with two splits

\`librispeech-mini/{train,test}/metadata.csv\` lists \`file_name,transcription,speaker_id,duration\`.
\`loadDatasetDict\` loads one dataset per folder, like \`load_dataset\` returning a \`DatasetDict\`.
Every loader renames the audio column to \`audio\` and the transcript column to \`text\`, so the
rest of the pipeline never cares which layout the data came in.
`),
  code(`
const librispeech = await loadDatasetDict(sharedDir('datasets', 'librispeech-mini'));
const { train, test } = librispeech;
Object.entries(librispeech).map(([split, ds]) => \`\${split}: \${ds.numRows} rows, columns \${ds.columnNames.join(', ')}\`).join('\\n')
`),
  code(`
display(tableHtml(train.select([0, 1, 2, 3, 4]).toRecords(), { caption: 'train: first 5 rows (audio not decoded yet)' }));
`),
  md(`
## Audio is decoded lazily, at 16 kHz

A row holds only the **path** of its audio. Nothing is decoded until you ask for it
(\`await ds.audio(i)\`, \`await ds.example(i)\` or \`for await (const ex of ds)\`), just like
\`cast_column("audio", Audio(sampling_rate=16000))\`. This keeps loading instant even for
thousands of files.

**Why 16 kHz?** Whisper was trained on 16 kHz audio: its feature extractor turns exactly 16,000
samples per second into 100 log-Mel frames per second. Feed it 48 kHz Common Voice MP3s or 8 kHz
telephone digits without resampling and every word would be three times too slow or twice too fast.
So the decoder resamples everything to \`ds.samplingRate\` (16000 by default).
`),
  code(`
const ex = await train.example(0);
display(audioPlayerHtml(ex.audio.array, ex.audio.samplingRate, ex.text));
\`\${ex.audio.array.length} samples at \${ex.audio.samplingRate} Hz = \${formatSeconds(ex.audio.array.length / ex.audio.samplingRate)} (metadata says \${ex.duration} s)\`
`),
  md(`
## The other layouts

| layout | example in ../shared | loader |
| --- | --- | --- |
| CSV of relative paths | \`fsdd-digits/dataset.csv\` (\`audios,transcription\`, 8 kHz WAV) | \`loadCsvDataset\` |
| Common Voice | \`commonvoice-sample/fr\` (\`validated.tsv\` + \`clips/*.mp3\`, 48 kHz) | \`loadCommonVoice\` |
| \`NAME.wav\` + \`NAME.txt\` | \`pocketsphinx-testdata\` | \`loadTxtPairs\` |
| JSON Lines | one \`{"audio": ..., "text": ...}\` per line | \`loadJsonl\` |

\`loadDataset(pathOrDir)\` recognises the layout by itself.
`),
  code(`
const others = {
  'fsdd-digits': await loadDataset(sharedDir('datasets', 'fsdd-digits')),
  'commonvoice fr': await loadDataset(sharedDir('datasets', 'commonvoice-sample', 'fr')),
  'commonvoice vi': await loadDataset(sharedDir('datasets', 'commonvoice-sample', 'vi')),
  'pocketsphinx': await loadDataset(sharedDir('datasets', 'pocketsphinx-testdata')),
};
display(tableHtml(Object.entries(others).map(([name, ds]) => ({
  dataset: name, rows: ds.numRows, columns: ds.columnNames.join(', '), 'first transcript': ds.get(0).text,
}))));
`),
  code(`
// A 48 kHz MP3 and an 8 kHz WAV both come out at 16 kHz.
const fr = await others['commonvoice fr'].example(0);
const digit = await others['fsdd-digits'].example(0);
display(tableHtml([
  { clip: 'commonvoice fr #1', text: fr.text, player: audioPlayerHtml(fr.audio.array, 16000) },
  { clip: 'fsdd #1', text: digit.text, player: audioPlayerHtml(digit.audio.array, 16000) },
], { htmlColumns: ['player'] }));
`),
  md(`
## Your own data

Point \`loadCsvDataset\` at your CSV; name the columns if they are not one of the usual names
(\`audio\`, \`path\`, \`file_name\`, ... and \`text\`, \`transcription\`, \`sentence\`, ...). Audio paths are
relative to the CSV. The cell below writes a small CSV (in the system temp folder) that reuses the
shared digits, with two deliberately broken rows, to show what happens to bad input.
`),
  code(`
const myDir = path.join(os.tmpdir(), 'whisper-ts-notebook-01');
fs.mkdirSync(myDir, { recursive: true });
const digits = sharedDir('datasets', 'fsdd-digits', 'audios');
fs.writeFileSync(path.join(myDir, 'my_data.csv'), [
  'wav,sentence,speaker',
  \`\${path.join(digits, '3_jackson_0.wav')},three,jackson\`,
  \`\${path.join(digits, '5_nicolas_1.wav')},five,nicolas\`,
  'does_not_exist.wav,six,nobody',                           // missing file
  \`\${path.join(digits, '8_theo_2.wav')},,theo\`,              // empty transcript
  \`\${path.join(digits, '9_yweweler_3.wav')},nine,yweweler,x\`, // one column too many
].join('\\n') + '\\n');
const mine = await loadCsvDataset(path.join(myDir, 'my_data.csv'), { audioColumn: 'wav', textColumn: 'sentence' });
display(tableHtml(mine.toRecords(), { caption: \`my_data.csv: \${mine.numRows} good rows\` }));
display(mine.report.toHtml());
`),
  md(`
## Bad input is reported, never silently dropped

Loading does the **cheap** checks on every row (file exists and is not empty, transcript not empty,
right number of columns) and carries on after a bad row. Decoding every file is the **expensive**
check, so it is a separate pass: \`validateAudio()\` decodes each clip and excludes corrupt,
truncated or undecodable ones. Both end up in \`ds.report\` with the file, row and reason.
`),
  code(`
const checked = await train.select([...Array(Math.min(N, train.numRows)).keys()]).validateAudio();
display(checked.report.toHtml());
checked.report.summary()
`),
  md(`
## A reproducible train / test split

fsdd-digits comes as one table. \`trainTestSplit({testSize, seed})\` shuffles with a seeded
Fisher–Yates permutation, so seed 42 gives the same split in every run and every process: your
evaluation set never leaks into training between sessions.
`),
  code(`
const fsdd = others['fsdd-digits'];
const split = fsdd.trainTestSplit({ testSize: 0.1, seed: 42 });
display(tableHtml([
  { split: 'train', rows: split.train.numRows, 'first 3 files': split.train.column('audio').slice(0, 3).map((p) => path.basename(p as string)).join(', ') },
  { split: 'test', rows: split.test.numRows, 'first 3 files': split.test.column('audio').slice(0, 3).map((p) => path.basename(p as string)).join(', ') },
]));
`),
  md(`
## Streaming a manifest larger than memory

\`streamDataset(manifest)\` reads a CSV/TSV/JSONL manifest line by line and decodes one clip at a
time (\`streaming=True\` in \`datasets\`), with lazy \`filter\`, \`map\`, \`take\` and \`skip\`.
Memory stays flat whatever the number of rows.
`),
  code(`
const stream = await streamDataset(sharedDir('datasets', 'fsdd-digits', 'dataset.csv'));
const streamed = [];
for await (const ex of stream.filter((r) => r.text === 'seven').take(3)) {
  streamed.push({ file: path.basename(ex.audio.path ?? ''), text: ex.text, seconds: ex.audio.array.length / 16000 });
}
display(tableHtml(streamed, { caption: 'first three "seven"s, streamed' }));
`),
];
