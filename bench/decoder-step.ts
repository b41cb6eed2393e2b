/**
 * A greedy decoder step of whisper-tiny (jfk, one token per call on a growing cache) three ways,
 * taking turns in one process (median step of each round, the ratios per round): wasm's kernels,
 * the native ones kernel by kernel (src/backend/native.ts), and the native whole step in one addon
 * call (native/step.cc, the default); then where one step's time goes on each path: per kernel
 * (tf.profile: count and time) and the rest of the step's wall time (tfjs dispatch, JavaScript).
 *
 * Then the native step of a batch of --batch LibriSpeech clips (default 10), every clip a row.
 *
 *   npx tsx bench/decoder-step.ts [--rounds 6] [--steps 30] [--batch 10]
 */
import * as fs from 'fs';
import { loadAudio } from '../src/audio/decode';
import { describeBackend, initBackend, tf } from '../src/backend';
import { nativeActive, setNativeProducts, setWholeDecoderStep, startNative } from '../src/backend/native';
import { AudioFeatures, DecoderSession } from '../src/model/inference';
import { loadWhisper } from '../src/model/pipeline';
import { sharedDir } from '../tools/shared';
import { parseFlags, positiveIntFlag } from '../apps/args';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function main() {
  const text = { type: 'string' } as const;
  const { values: flags } = parseFlags(process.argv.slice(2), { rounds: text, steps: text, batch: text });
  const rounds = positiveIntFlag('rounds', flags.rounds) ?? 6;
  const steps = positiveIntFlag('steps', flags.steps) ?? 30;
  const report = await initBackend();
  if (!nativeActive()) startNative(report.threads ?? 1);
  console.log(describeBackend(report).split('\n')[0]);
  const pipe = await loadWhisper(sharedDir('models', 'whisper-tiny'));
  const features = pipe.featureExtractor.call([await loadAudio(sharedDir('datasets', 'samples', 'jfk.flac'))]);
  const hidden = pipe.model.encode(features);
  const audio = new AudioFeatures(pipe.model, hidden);
  const prompt = [...pipe.tokenizer.prefixTokens({ language: 'en' })];
  /** Median ms of `steps` single-token calls after 10 warm ones, on a fresh session; the session is returned for profiling. */
  const run = async (keep = false) => {
    const session = new DecoderSession(audio, [0]);
    const row = [...prompt];
    await session.logits([row]);
    const ms: number[] = [];
    for (let i = 0; i < 10 + steps; i++) {
      row.push(400 + i);
      const t0 = performance.now();
      await session.logits([row]);
      if (i >= 10) ms.push(performance.now() - t0);
    }
    if (!keep) session.dispose();
    return { ms: median(ms), fastest: Math.min(...ms), session, row };
  };
  const paths = ['wasm', 'kernels', 'whole'] as const;
  type Path = typeof paths[number];
  const use = (path: Path) => {
    setNativeProducts(path !== 'wasm');
    setWholeDecoderStep(path === 'whole');
  };
  const ms: Record<Path, number[]> = { wasm: [], kernels: [], whole: [] };
  const fastest: Record<Path, number> = { wasm: Infinity, kernels: Infinity, whole: Infinity };
  for (let r = -1; r < rounds; r++) {
    for (let i = 0; i < paths.length; i++) {
      const path = paths[(i + Math.max(r, 0)) % paths.length]; // each path goes first in turn
      use(path);
      const got = await run();
      if (r >= 0) ms[path].push(got.ms);
      fastest[path] = Math.min(fastest[path], got.fastest);
    }
  }
  const tps = (x: number) => (1000 / x).toFixed(0);
  const ratios = (a: Path) => ms[a].map((x, i) => x / ms.whole[i]);
  const range = (xs: number[]) => `${median(xs).toFixed(2)}x (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
  console.log(`decoder step, median of ${rounds} rounds: ` + paths.map((p) => `${p} ${median(ms[p]).toFixed(2)} ms (${tps(median(ms[p]))} tokens/s; ` +
    `fastest step ${fastest[p].toFixed(2)} ms, ${tps(fastest[p])} tokens/s)`).join(', '));
  console.log(`per round: wasm / whole ${range(ratios('wasm'))}, kernels / whole ${range(ratios('kernels'))}`);
  for (const path of paths) {
    use(path);
    const { session, row } = await run(true);
    row.push(600);
    const t0 = performance.now();
    const info = await tf.profile(async () => { await session.logits([row]); });
    const wall = performance.now() - t0;
    session.dispose();
    const by = new Map<string, { n: number; ms: number }>();
    for (const k of info.kernels) {
      const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
      const e = by.get(key) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += k.kernelTimeMs as number;
      by.set(key, e);
    }
    const total = info.kernels.reduce((s, k) => s + (k.kernelTimeMs as number), 0);
    console.log(`${path}: one profiled step ${wall.toFixed(2)} ms wall, ${info.kernels.length} kernels, kernel time ${total.toFixed(2)} ms`);
    for (const [k, e] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(process.env.TOP ?? 8))) console.log(`  ${e.ms.toFixed(3).padStart(7)} ms ${String(e.n).padStart(3)}x ${k}`);
  }
  // A batch of clips (transcribe's batchSize, evaluate()): one step gives a token to every clip,
  // each weight read once for all of them; every clip still reads its own cross-attention keys.
  use('whole');
  const batch = positiveIntFlag('batch', flags.batch) ?? 10;
  const files = readMetadataFiles(batch);
  const clips = pipe.featureExtractor.call(await Promise.all(files.map((f) => loadAudio(f))));
  const batchHidden = pipe.model.encode(clips);
  const batchAudio = new AudioFeatures(pipe.model, batchHidden);
  const perRound: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const session = new DecoderSession(batchAudio, files.map((_, i) => i));
    const rows = files.map(() => [...prompt]);
    await session.logits(rows);
    const stepMs: number[] = [];
    for (let i = 0; i < 10 + steps; i++) {
      rows.forEach((row) => row.push(400 + i));
      const t0 = performance.now();
      await session.logits(rows);
      if (i >= 10) stepMs.push(performance.now() - t0);
    }
    session.dispose();
    perRound.push(median(stepMs));
  }
  batchAudio.dispose();
  tf.dispose([clips, batchHidden]);
  const m = median(perRound);
  console.log(`native, a batch of ${batch} clips: step ${m.toFixed(2)} ms for ${batch} tokens (median of ${rounds} rounds, ` +
    `${Math.min(...perRound).toFixed(2)}-${Math.max(...perRound).toFixed(2)}): ${(batch * 1000 / m).toFixed(0)} tokens/s over the batch, ` +
    `${(1000 / m).toFixed(0)} per clip`);
}

/** The first n LibriSpeech test clips' files. */
function readMetadataFiles(n: number): string[] {
  const meta = fs.readFileSync(sharedDir('datasets', 'librispeech-mini', 'test', 'metadata.csv'), 'utf8').split('\n').slice(1).filter(Boolean);
  return meta.slice(0, n).map((l) => sharedDir('datasets', 'librispeech-mini', 'test', l.split(',')[0]));
}
main().catch((e) => { console.error(e); process.exit(1); });
