/**
 * WER of OUR whisper-tiny transcripts on librispeech-mini test (100 clips), raw and normalized,
 * against the reference implementation's transcripts (shared/reference/whisper-tiny).
 *
 *   npx tsx bench/wer-librispeech.ts            all 100 clips (several minutes on 2 CPU cores)
 *   LIMIT=8 npx tsx bench/wer-librispeech.ts    first 8 clips
 *   BATCH=4 ...                                 clips per generate() call (default 8)
 *   PART=0/2 ... ; PART=1/2 ... ; MERGE=1 ...   split the 100 clips over 2 processes, then score
 *                                               the saved parts together (no transcription)
 *   CLIPS=34-49 ...                             only clips 34..49 (saved as a part for MERGE)
 *   INT8=1 ...                                  int8 base (loadIn8bit): prints the weight memory
 *                                               saved; results go to wer-librispeech-int8.*
 *   TRIM=1 ...                                  the opt-in fast mode (trimPadding: the encoder sees
 *                                               the clip, not 30 s); results to wer-librispeech-trim.*
 *   npx tsx bench/wer-librispeech.ts --bf16     float32 and bf16 products (setMatmulPrecision) on
 *                                               the same clips, interleaved by batch in one process
 *                                               (float32, bf16, bf16, float32 ...): both WERs, the
 *                                               transcripts that differ, time per clip and the median
 *                                               of the per-batch time ratios; results to wer-librispeech-{float32,bf16}.*
 *
 * Writes out/bench/wer-librispeech.{csv,json} and prints a table. Exits 1 when, on the full set,
 * our normalized WER is not within 0.2 points of the reference hypotheses' normalized WER.
 */
import { WhisperFeatureExtractor } from '../src/features/logmel';
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, describeBackend, setMatmulPrecision, tf } from '../src/backend';
import { parseFlags } from '../apps/args';
import { median } from './median';
import { loadAudioFolder } from '../src/data';
import { evaluate, EvalReport, loadReport, saveReport, scoreTranscripts, whisperTranscriber, TranscriptItem } from '../src/eval';
import { WhisperForConditionalGeneration } from '../src/model/whisper';
import { PROJECT_ROOT, sharedDir, loadReferenceTranscripts, REFERENCE_MAX_NEW_TOKENS } from '../tools/shared';
import { WhisperTokenizer } from '../src/tokenizer/whisper';

async function main() {
  const { values: flags } = parseFlags(process.argv.slice(2), { bf16: { type: 'boolean' } });
  console.log(describeBackend(await initBackend()));
  if (flags.bf16) return compareBf16();
  const limit = process.env.LIMIT ? Number(process.env.LIMIT) : undefined;
  const int8 = process.env.INT8 === '1';
  const trim = process.env.TRIM === '1';
  const name = `wer-librispeech${int8 ? '-int8' : ''}${trim ? '-trim' : ''}`;
  const outDir = path.join(PROJECT_ROOT, 'out', 'bench');
  let ours: EvalReport;
  if (process.env.MERGE) {
    // Score the parts written by PART=k/n or CLIPS=a-b runs as one corpus, in metadata order.
    const names = fs.readdirSync(outDir).filter((f) => /^wer-librispeech\.(part\d+of\d+|clips\d+-\d+)\.json$/.test(f));
    const parts = names.map((f) => loadReport(path.join(outDir, f)));
    const byId = new Map(parts.flatMap((p) => p.rows).map((r) => [r.id, r]));
    const order = (await loadAudioFolder(sharedDir('datasets', 'librispeech-mini', 'test'))).rows
      .map((r) => path.basename(String(r.audio)).replace(/\.flac$/, ''));
    const missing = order.filter((id) => !byId.has(id));
    if (missing.length) throw new Error(`MERGE: ${missing.length} clips missing from ${names.join(', ')}: ${missing.slice(0, 5).join(', ')}...`);
    console.log(`merged ${names.join(', ')}`);
    const rows = order.map((id) => byId.get(id)!);
    ours = scoreTranscripts(rows, { name: 'ours', normalizer: 'english', normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json'), language: 'en' }, parts.reduce((a, p) => a + p.seconds, 0));
  } else {
    const modelDir = sharedDir('models', 'whisper-tiny');
    const bytes0 = tf.memory().numBytes;
    const model = await WhisperForConditionalGeneration.fromPretrained(modelDir, { loadIn8bit: int8 });
    const int8Bytes = model.linears().reduce((a, l) => a + (l.int8 ? l.int8.data.byteLength + l.int8.scales.byteLength : 0), 0);
    console.log(`model weights: ${((tf.memory().numBytes - bytes0) / 2 ** 20).toFixed(1)} MiB of tensors` +
      (int8 ? ` + ${(int8Bytes / 2 ** 20).toFixed(1)} MiB of int8 weights outside tfjs` : ''));
    const tokenizer = await WhisperTokenizer.fromPretrained(modelDir);
    let ds = await loadAudioFolder(sharedDir('datasets', 'librispeech-mini', 'test'));
    const part = /^(\d+)\/(\d+)$/.exec(process.env.PART ?? '');
    const clips = /^(\d+)-(\d+)$/.exec(process.env.CLIPS ?? '');
    let partName: string | undefined;
    if (part) {
      const [k, n] = [Number(part[1]), Number(part[2])];
      const size = Math.ceil(ds.length / n);
      ds = ds.select(Array.from({ length: Math.max(0, Math.min(size, ds.length - k * size)) }, (_, i) => k * size + i));
      partName = `part${k}of${n}`;
    } else if (clips) {
      const [a, b] = [Number(clips[1]), Math.min(Number(clips[2]), ds.length - 1)];
      ds = ds.select(Array.from({ length: b - a + 1 }, (_, i) => a + i));
      partName = `clips${a}-${b}`;
    }
    ours = await evaluate(ds, {
      name: 'ours', language: 'en', task: 'transcribe',
      transcribe: (audios, o) => whisperTranscriber({ model, tokenizer, featureExtractor: WhisperFeatureExtractor.fromPretrained(modelDir) })(audios, { ...o, trimPadding: trim }),
      normalizer: 'english', normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json'), maxNewTokens: REFERENCE_MAX_NEW_TOKENS, batchSize: Number(process.env.BATCH ?? 8), limit,
      onProgress: (p) => console.log(`  ${p.done}/${p.total}  ${p.elapsedS.toFixed(0)} s, eta ${p.etaS.toFixed(0)} s, ` +
        `WER so far ${(100 * p.wer).toFixed(2)} %`),
    });
    model.dispose();
    if (partName) {
      const f = saveReport(ours, path.join(outDir, `${name}.${partName}`));
      console.log(`${partName}: ${ours.rows.length} clips saved to ${f.json}; run MERGE=1 when all parts are done`);
      return;
    }
  }

  // The reference implementation's hypotheses for the same clips, scored the same way.
  const refRows = new Map(loadReferenceTranscripts().map((r) => [r.id as string, r]));
  const items: TranscriptItem[] = ours.rows.map((r) => {
    const ref = refRows.get(r.id);
    if (!ref) throw new Error(`no reference transcript for clip ${r.id}`);
    return { id: r.id, reference: r.reference, hypothesis: ref.hypothesis, speaker: r.speaker, duration: r.duration };
  });
  const reference = scoreTranscripts(items, { name: 'reference implementation', normalizer: 'english', normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json') });
  const same = ours.rows.filter((r, i) => r.hypothesis === items[i].hypothesis).length;

  const prefix = path.join(outDir, name);
  const files = saveReport(ours, prefix);
  const pct = (x: number) => (100 * x).toFixed(2);
  console.log(`\nlibrispeech-mini test, ${ours.rows.length} clips, ${ours.normalized.refWords} normalized reference words`);
  console.log(`                          raw WER %   normalized WER %   S / D / I`);
  for (const r of [ours, reference]) {
    console.log(`  ${r.name.padEnd(24)}${pct(r.raw.wer).padStart(9)}${pct(r.normalized.wer).padStart(19)}   ` +
      `${r.normalized.substitutions} / ${r.normalized.deletions} / ${r.normalized.insertions}`);
  }
  console.log(`  identical hypotheses: ${same}/${ours.rows.length}; transcription ${ours.seconds.toFixed(0)} s ` +
    `(${(ours.seconds / ours.rows.length).toFixed(2)} s/clip)`);
  console.log(`  saved ${files.csv} and ${files.json}`);
  // Only the exact mode must match the reference; int8 and trim report their cost.
  const gap = Math.abs(100 * (ours.normalized.wer - reference.normalized.wer));
  const checked = !limit && !int8 && !trim && ours.rows.length === 100;
  if (checked && gap > 0.2) {
    console.error(`FAIL: normalized WER differs from the reference by ${gap.toFixed(2)} points (> 0.2)`);
    process.exit(1);
  }
  console.log(`  gap to reference: ${gap.toFixed(2)} points${checked ? ' (<= 0.2: OK)' : ' (not checked)'}`);
}

/** float32 against bf16 products on the same clips, batch by batch alternating which runs first. */
async function compareBf16() {
  setMatmulPrecision('bfloat16'); // throws, saying why, where bf16 cannot run
  setMatmulPrecision('float32');
  const modelDir = sharedDir('models', 'whisper-tiny');
  const model = await WhisperForConditionalGeneration.fromPretrained(modelDir);
  const tokenizer = await WhisperTokenizer.fromPretrained(modelDir);
  const transcribe = whisperTranscriber({ model, tokenizer, featureExtractor: WhisperFeatureExtractor.fromPretrained(modelDir) });
  let ds = await loadAudioFolder(sharedDir('datasets', 'librispeech-mini', 'test'));
  const limit = Math.min(ds.length, Number(process.env.LIMIT ?? ds.length));
  const batch = Number(process.env.BATCH ?? 8);
  const precisions = ['float32', 'bfloat16'] as const;
  const rows: Record<string, EvalReport['rows']> = { float32: [], bfloat16: [] };
  const seconds: Record<string, number> = { float32: 0, bfloat16: 0 };
  const ratios: number[] = [];
  const score = { name: 'ours', normalizer: 'english' as const, normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json'), language: 'en' };
  for (let start = 0, i = 0; start < limit; start += batch, i++) {
    const part = ds.select(Array.from({ length: Math.min(batch, limit - start) }, (_, j) => start + j));
    const t: Record<string, number> = {};
    for (const p of i % 2 ? [...precisions].reverse() : precisions) {
      setMatmulPrecision(p);
      const r = await evaluate(part, { ...score, task: 'transcribe', transcribe, maxNewTokens: REFERENCE_MAX_NEW_TOKENS, batchSize: batch });
      rows[p].push(...r.rows);
      seconds[p] += t[p] = r.seconds;
    }
    setMatmulPrecision('float32');
    ratios.push(t.float32 / t.bfloat16);
    const differ = rows.float32.filter((r, j) => r.hypothesis !== rows.bfloat16[j].hypothesis).length;
    console.log(`  ${start + part.length}/${limit}: float32 ${t.float32.toFixed(1)} s, bf16 ${t.bfloat16.toFixed(1)} s (${ratios[i].toFixed(2)}x); transcripts differing so far ${differ}`);
  }
  model.dispose();
  const outDir = path.join(PROJECT_ROOT, 'out', 'bench');
  const reports = precisions.map((p) => scoreTranscripts(rows[p], { ...score, name: p }, seconds[p]));
  reports.forEach((r, k) => saveReport(r, path.join(outDir, `wer-librispeech-${precisions[k]}`)));
  const refs = new Map(loadReferenceTranscripts().map((r) => [r.id as string, r.hypothesis]));
  const pct = (x: number) => (100 * x).toFixed(2);
  console.log(`\nlibrispeech-mini test, ${limit} clips, batches of ${batch}, interleaved`);
  console.log(`             normalized WER %   raw WER %   = reference transcript   s/clip`);
  for (const r of reports) {
    const same = r.rows.filter((x) => x.hypothesis === refs.get(x.id)).length;
    console.log(`  ${r.name.padEnd(10)}${pct(r.normalized.wer).padStart(15)}${pct(r.raw.wer).padStart(12)}${`${same}/${r.rows.length}`.padStart(20)}${(r.seconds / r.rows.length).toFixed(3).padStart(12)}`);
  }
  const differ = rows.float32.filter((r, j) => r.hypothesis !== rows.bfloat16[j].hypothesis);
  console.log(`  transcripts differing float32 vs bf16: ${differ.length}/${limit}; time float32/bf16: median ${median(ratios).toFixed(2)}x ` +
    `(range ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}), total ${(seconds.float32 / seconds.bfloat16).toFixed(2)}x`);
  for (const r of differ.slice(0, 5)) console.log(`    ${r.id}: float32 "${r.hypothesis}" / bf16 "${rows.bfloat16.find((x) => x.id === r.id)!.hypothesis}"`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
