import { Cell, code, md, setupCell } from './notebook';

export const nb02: Cell[] = [
  md(`
# 02 · Explore durations

Before training, look at **how long** the clips are. It decides almost everything downstream:

- Whisper reads exactly **30 s** windows. Longer clips are cut (their transcript then no longer
  matches the audio), shorter ones are padded with silence, so a 2 s clip costs as much compute as a 29 s one.
- Very short clips (under about 1 s) often hold a single word or noise, and teach little.
- Train and test splits should look alike. The French telephone-speech article plots each split's
  histogram **side by side on a shared y axis** to check exactly that; we do the same.

Durations are read from the WAV/FLAC headers (no decoding; MP3 has no length header and is decoded).
`),
  setupCell(['loadDataset', 'loadDatasetDict', 'splitDurations', 'durationsBy', 'summaryHtml', 'durationHistogramsHtml', 'describeGroups', 'summaryDataFrame', 'formatSeconds', 'filterValid', 'durations', 'display', 'tableHtml', 'audioPlayerHtml'], `
`),
  md(`
## Per split: summary table

The table is pandas' \`describe()\` (count, mean, standard deviation, min, quartiles, max) in seconds,
plus each split's total length. \`summaryDataFrame\` gives the same numbers as a danfo.js DataFrame.
`),
  code(`
const librispeech = await loadDatasetDict(sharedDir('datasets', 'librispeech-mini'));
const bySplit = await splitDurations(librispeech);
display(summaryHtml(bySplit, 'librispeech-mini: duration per split (s)'));
`),
  code(`
// The same summary as a danfo.js DataFrame, for further pandas-style work.
const frame = summaryDataFrame(describeGroups(bySplit));
frame.round(2).toString()
`),
  md(`
## Per split: histograms on a shared y axis

Same bins (0.5 s) in both plots and one y scale, so bar heights compare directly.
`),
  code(`
display(durationHistogramsHtml(bySplit, 'librispeech-mini: clip duration per split'));
`),
  md(`
## Per speaker

LibriSpeech keeps speakers apart between splits (no speaker of *test* is in *train*): the model is
evaluated on voices it has never heard. Per-speaker totals show whether one voice dominates.
`),
  code(`
display(summaryHtml(await durationsBy(librispeech.train, 'speaker_id'), 'train: duration per speaker (s)'));
`),
  code(`
const trainSpeakers = new Set(librispeech.train.column('speaker_id'));
const shared = [...new Set(librispeech.test.column('speaker_id'))].filter((s) => trainSpeakers.has(s));
\`speakers in train: \${trainSpeakers.size}, in test: \${new Set(librispeech.test.column('speaker_id')).size}, in both: \${shared.length}\`
`),
  md(`
## Listen to the extremes

Numbers hide surprises; the shortest and longest clips are where bad segmentation shows up.
`),
  code(`
const train = librispeech.train;
const order = [...bySplit.train.keys()].sort((a, b) => bySplit.train[a] - bySplit.train[b]);
const picks = SMOKE ? [order[0]] : [order[0], order[1], order[order.length - 1]];
const rows = [];
for (const i of picks) {
  const audio = await train.audio(i);
  rows.push({ duration: formatSeconds(bySplit.train[i]), speaker: train.get(i).speaker_id,
    player: audioPlayerHtml(audio, 16000), transcript: train.get(i).text });
}
display(tableHtml(rows, { htmlColumns: ['player'], caption: 'shortest and longest training clips' }));
`),
  md(`
## Telephone digits: a very different dataset

fsdd-digits holds isolated spoken digits at 8 kHz: all far below one second. The speaker is the
middle part of each file name (\`7_theo_3.wav\`).
`),
  code(`
const fsdd = await loadDataset(sharedDir('datasets', 'fsdd-digits'));
const fsddSecs = await durations(fsdd);
const speakerOf = (r: Record<string, unknown>) => path.basename(String(r.audio)).split('_')[1];
display(summaryHtml(await durationsBy(fsdd, speakerOf), 'fsdd-digits: duration per speaker (s)'));
display(durationHistogramsHtml({ 'fsdd-digits': fsddSecs, 'librispeech train': bySplit.train }, 'digits vs read speech'));
`),
  md(`
## What the validity filter would remove

The guides keep rows whose transcript has more than 5 characters and whose audio lasts between
1 s and 30 s. Every removed row is listed with its reason: nothing disappears silently. All of
fsdd-digits fails it (every digit is shorter than 1 s): for such data, loosen the limits instead
of losing the whole dataset.
`),
  code(`
const validTrain = await filterValid(librispeech.train);
const validFsdd = await filterValid(fsdd.select([...Array(SMOKE ? 20 : fsdd.numRows).keys()]));
display(tableHtml([
  { dataset: 'librispeech train', before: librispeech.train.numRows, kept: validTrain.numRows },
  { dataset: 'fsdd-digits', before: validFsdd.report.kept + validFsdd.report.excluded, kept: validFsdd.numRows },
]));
display(validTrain.report.toHtml(10));
`),
  code(`
// Looser limits for digits: any transcript, clips from 0.2 s.
const digitsOk = await filterValid(fsdd, { minTextLength: 0, minDuration: 0.2 });
\`fsdd-digits with minDuration 0.2 s: \${digitsOk.numRows} of \${fsdd.numRows} kept\`
`),
];
