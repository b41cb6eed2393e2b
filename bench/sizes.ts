/**
 * Which Whisper sizes run on which backend, and how the weights are kept (FromPretrainedOptions
 * .weightsDtype): random-weight checkpoints of the real shapes (small, medium, large-v3 with its 128
 * mel bins and 51866-token vocabulary), generated into out/sizes/ (never committed), each case
 * loaded in its own process: load time, memory (wasm heap, tensors, bytes outside the backend),
 * encoder time for one window, decoder tokens/s.
 *
 *   npx tsx bench/sizes.ts                                  every size x float32/float16/int8 on wasm
 *   npx tsx bench/sizes.ts --sizes small --dtypes int8 --backends wasm,webgpu --frames 1000 --tokens 8
 *   npx tsx bench/sizes.ts --run DIR DTYPE                  one case in this process (what the above spawns)
 *
 * Results: out/sizes/results.json and a Markdown table on stdout (for BENCHMARKS.md).
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { describeBackend, initBackend, tf, toFloat16, WeightDtype } from '../src/backend';
import { AudioFeatures, DecoderSession } from '../src/model/inference';
import { WhisperForConditionalGeneration } from '../src/model/whisper';
import { ensureCheckpoint } from './random-checkpoint';
import { PROJECT_ROOT, sharedDir } from '../tools/shared';
import { parseFlags } from '../apps/args';

const OUT = path.join(PROJECT_ROOT, 'out', 'sizes');

const text = { type: 'string' } as const;
// --run DIR DTYPE: one case in a child process (spawnCase).
const { values: flags, positionals } = parseFlags(process.argv.slice(2),
  { frames: text, tokens: text, run: text, sizes: text, dtypes: text, backends: text, timeout: text });
function arg(name: keyof typeof flags, fallback: string): string {
  return flags[name] ?? fallback;
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

/** One case, in this process: prints one JSON line. */
async function runCase(dir: string, dtype: WeightDtype): Promise<void> {
  const report = await initBackend();
  const frames = Number(arg('frames', '3000'));
  const tokens = Number(arg('tokens', '8'));
  let t = Date.now();
  const model = await WhisperForConditionalGeneration.fromPretrained(dir, { weightsDtype: dtype });
  const loadS = (Date.now() - t) / 1000;
  const heap = () => {
    const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm;
    return wasm ? wasm.HEAPU8.buffer.byteLength : undefined;
  };
  const bytesOutside = model.linears().reduce((s, l) => s + (l.quantized ? l.quantized.data.byteLength + (l.quantized.dtype === 'int8' ? l.quantized.scales.byteLength : 0) : 0), 0);
  const afterLoad = { tensorMiB: mib(tf.memory().numBytes), heapMiB: heap() && mib(heap()!), bytesOutsideMiB: mib(bytesOutside) };
  const c = model.config;
  const feats = tf.randomNormal([1, c.numMelBins, frames], 0, 1, 'float32', 1) as tf.Tensor3D;
  t = Date.now();
  const enc = model.encode(feats);
  await enc.data();
  const encodeS = (Date.now() - t) / 1000;
  const audio = new AudioFeatures(model, enc);
  const session = new DecoderSession(audio, [0]);
  let row = [c.decoderStartTokenId];
  let firstS = 0;
  t = Date.now();
  for (let i = 0; i < tokens; i++) {
    const [[logits]] = await session.logits([row]);
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
    row = [...row, best];
    if (i === 0) {
      firstS = (Date.now() - t) / 1000;
      t = Date.now();
    }
  }
  const tokensPerS = (tokens - 1) / ((Date.now() - t) / 1000);
  const peakHeap = heap();
  session.dispose();
  audio.dispose();
  tf.dispose([feats, enc]);
  model.dispose();
  console.log(JSON.stringify({
    backend: describeBackend(report).split('\n')[0], dtype, frames, loadS, ...afterLoad, encodeS, firstTokenS: firstS, tokensPerS,
    peakHeapMiB: peakHeap && mib(peakHeap), rssMiB: mib(process.memoryUsage().rss),
  }));
}

/** Runs one case in a child process (its own heap); the result, or why it failed. */
function spawnCase(dir: string, dtype: string, backend: string, timeoutS: number): Promise<Record<string, unknown>> {
  const args = [path.join(PROJECT_ROOT, 'bench', 'sizes.ts'), '--run', dir, dtype, '--frames', arg('frames', '3000'), '--tokens', arg('tokens', '8')];
  const env = { ...process.env, WHISPER_BACKEND: backend };
  return new Promise((resolve) => {
    const t0 = Date.now();
    execFile(path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), args, { env, timeout: timeoutS * 1000, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
        if (line) return resolve(JSON.parse(line));
        const why = err?.killed ? `no result after ${timeoutS} s (killed)` : (stderr.trim().split('\n').filter((l) => /error|abort|memory|OOM/i.test(l))[0] ?? stderr.trim().split('\n').pop() ?? String(err));
        resolve({ error: why.slice(0, 200), seconds: (Date.now() - t0) / 1000 });
      });
  });
}

async function main(): Promise<void> {
  if (flags.run) return runCase(flags.run, positionals[0] as WeightDtype);
  const sizes = arg('sizes', 'small,medium,large-v3').split(',');
  const dtypes = arg('dtypes', 'float32,float16,int8').split(',');
  const backends = arg('backends', 'wasm').split(',');
  const timeoutS = Number(arg('timeout', '1800'));
  const resultsFile = path.join(OUT, 'results.json');
  const results: Record<string, unknown>[] = fs.existsSync(resultsFile) ? JSON.parse(fs.readFileSync(resultsFile, 'utf8')) : [];
  for (const size of sizes) {
    const dir = ensureCheckpoint(size);
    for (const backend of backends) {
      for (const dtype of dtypes) {
        process.stderr.write(`${size} ${dtype} on ${backend} ...\n`);
        const r = { size, requested: backend, dtype, frames: Number(arg('frames', '3000')), date: new Date().toISOString(), ...(await spawnCase(dir, dtype, backend, timeoutS)) };
        process.stderr.write(`  ${JSON.stringify(r)}\n`);
        results.push(r);
        fs.writeFileSync(resultsFile, JSON.stringify(results, null, 2));
      }
    }
  }
  console.log('| size | backend | weights | runs? | load s | wasm heap after load / peak MiB | bytes outside MiB | encoder s (frames) | decoder tok/s |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results as Record<string, any>[]) {
    if (r.error) console.log(`| ${r.size} | ${r.requested} | ${r.dtype} | no: ${r.error} | | | | | |`);
    else console.log(`| ${r.size} | ${r.requested} | ${r.dtype} | yes | ${r.loadS.toFixed(1)} | ${r.heapMiB ?? '-'} / ${r.peakHeapMiB ?? '-'} | ${r.bytesOutsideMiB} | ${r.encodeS.toFixed(1)} (${r.frames}) | ${r.tokensPerS.toFixed(2)} |`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
